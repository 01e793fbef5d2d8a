/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers of the JSON-RPC tests (rpc_test_util.h).  Every wait is bounded
 * and fails the test when the bound is reached.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpc_test_util.h"

#define STEP_MS 100
#define WAIT_STEPS 600

const char *rt_tgt_path;

/* Daemons started and not reaped: a failed test leaves its daemon; exit takes it down. */
static pid_t live[64];

static void forget(pid_t pid)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] == pid)
			live[i] = 0;
}

static void kill_leftovers(void)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		if (live[i] <= 0)
			continue;
		kill(live[i], SIGKILL);
		waitpid(live[i], NULL, 0);
	}
}

static void remember(pid_t pid)
{
	static bool registered;

	if (!registered && atexit(kill_leftovers) == 0)
		registered = true;
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		if (live[i] == 0) {
			live[i] = pid;
			return;
		}
	}
}

void rt_mkdir(struct rt_tgt *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/nvmft-rpc-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->sock, sizeof(t->sock), "%s/rpc.sock", t->dir);
}

void rt_rmdir(struct rt_tgt *t)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
}

static void append(int *fd, char *buf, size_t cap, size_t *len)
{
	char scratch[4096];
	ssize_t n;

	if (*fd < 0)
		return;
	n = read(*fd, scratch, sizeof(scratch));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(*fd);
		*fd = -1;
		return;
	}
	if (n < 0)
		return;
	/* Keep reading past a full buffer so the daemon never blocks on a pipe. */
	if ((size_t)n > cap - 1 - *len)
		n = (ssize_t)(cap - 1 - *len);
	memcpy(buf + *len, scratch, (size_t)n);
	*len += (size_t)n;
	buf[*len] = '\0';
}

/* The daemon's stderr so far: the last part of its file, if it is long. */
static void load_err(struct rt_tgt *t)
{
	int fd = open(t->err_path, O_RDONLY | O_CLOEXEC);
	off_t size;
	ssize_t n;

	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof(t->err) - 1)
		lseek(fd, size - (off_t)sizeof(t->err) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, t->err, sizeof(t->err) - 1);
	t->err_len = n > 0 ? (size_t)n : 0;
	t->err[t->err_len] = '\0';
	close(fd);
}

void rt_drain(struct rt_tgt *t, int ms)
{
	struct pollfd p = { .fd = t->out_fd, .events = POLLIN };

	if (t->out_fd < 0)
		poll(NULL, 0, ms);
	else if (poll(&p, 1, ms) > 0)
		append(&t->out_fd, t->out, sizeof(t->out), &t->out_len);
	load_err(t);
}

static bool reap(struct rt_tgt *t)
{
	if (!t->exited && waitpid(t->pid, &t->status, WNOHANG) == t->pid) {
		t->exited = true;
		forget(t->pid);
	}
	return t->exited;
}

void rt_start(struct rt_tgt *t, const char *const *args)
{
	int out[2], err;
	char *argv[48];
	size_t n = 0;

	t->exited = false;
	t->out_len = t->err_len = 0;
	t->out[0] = t->err[0] = '\0';
	argv[n++] = (char *)rt_tgt_path;
	for (; *args != NULL && n < 47; args++)
		argv[n++] = strcmp(*args, RT_SOCK) == 0 ? t->sock : (char *)*args;
	argv[n] = NULL;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	snprintf(t->err_path, sizeof(t->err_path), "%s/tgt.err", t->dir);
	err = open(t->err_path, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
	assert_true(err >= 0);
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		if (chdir(t->dir) < 0)
			_exit(126);
		execv(rt_tgt_path, argv);
		_exit(127);
	}
	remember(t->pid);
	close(out[1]);
	close(err);
	t->out_fd = out[0];
	fcntl(t->out_fd, F_SETFL, O_NONBLOCK);
}

bool rt_wait_ready(struct rt_tgt *t)
{
	for (int i = 0; i < WAIT_STEPS; i++) {
		if (strchr(t->out, '\n') != NULL)
			return true;
		if (reap(t)) {
			while (t->out_fd >= 0)
				rt_drain(t, STEP_MS);
			load_err(t);
			return strchr(t->out, '\n') != NULL;
		}
		rt_drain(t, STEP_MS);
	}
	fail_msg("no ready line after %d steps; stderr:\n%s", WAIT_STEPS, t->err);
	return false;
}

int rt_wait_exit(struct rt_tgt *t)
{
	for (int i = 0; i < WAIT_STEPS && !reap(t); i++)
		rt_drain(t, STEP_MS);
	if (!t->exited) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &t->status, 0);
		forget(t->pid);
		fail_msg("nvmft-tgt did not exit; stderr:\n%s", t->err);
	}
	while (t->out_fd >= 0)
		rt_drain(t, STEP_MS);
	load_err(t);
	if (!WIFEXITED(t->status))
		fail_msg("nvmft-tgt died of signal %d; stderr:\n%s", WTERMSIG(t->status), t->err);
	return WEXITSTATUS(t->status);
}

int rt_stop(struct rt_tgt *t)
{
	if (!t->exited)
		kill(t->pid, SIGTERM);
	return rt_wait_exit(t);
}

void rt_up(struct rt_tgt *t, const char *const *extra)
{
	const char *args[40] = { "-r", RT_SOCK };
	size_t n = 2;

	rt_mkdir(t);
	for (; extra != NULL && *extra != NULL && n < 39; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	rt_start(t, args);
	if (!rt_wait_ready(t))
		fail_msg("nvmft-tgt did not start; stderr:\n%s", t->err);
}

void rt_down(struct rt_tgt *t)
{
	int rc = rt_stop(t);

	/* Sanitizer reports count too: UBSan's do not change the exit status. */
	if (rc != 0 || strstr(t->err, ": error: ") != NULL || strstr(t->err, ": warning: ") != NULL ||
	    strstr(t->err, "runtime error") != NULL || strstr(t->err, "Sanitizer") != NULL)
		fail_msg("nvmft-tgt exited %d; stderr:\n%s", rc, t->err);
	/* The socket and its lock file are gone with it. */
	assert_int_equal(access(t->sock, F_OK), -1);
	rt_rmdir(t);
}

struct rpc_client *rt_client(const struct rt_tgt *t)
{
	struct rpc_client *c = NULL;

	assert_int_equal(rpc_client_connect(t->sock, 30000, &c), 0);
	rpc_client_set_timeout(c, 60000);
	return c;
}

json_t *rt_call(struct rpc_client *c, const char *method, const char *params_json)
{
	json_t *params = NULL, *resp = NULL;
	json_error_t jerr;
	int rc;

	if (params_json != NULL) {
		params = json_loads(params_json, 0, &jerr);
		if (params == NULL)
			fail_msg("bad test JSON for %s: %s: %s", method, params_json, jerr.text);
	}
	rc = rpc_client_call(c, method, params, &resp);
	json_decref(params);
	if (rc != 0)
		fail_msg("%s: no answer: %s", method, strerror(-rc));
	return resp;
}

static void fail_json(const char *what, json_t *j)
{
	char *s = json_dumps(j, JSON_ENCODE_ANY);

	fail_msg("%s: %s", what, s ? s : "?");
}

json_t *rt_ok(struct rpc_client *c, const char *method, const char *params_json)
{
	json_t *resp = rt_call(c, method, params_json);
	json_t *res = json_object_get(resp, "result");

	if (res == NULL)
		fail_json(method, resp);
	json_incref(res);
	json_decref(resp);
	return res;
}

void rt_assert_err(json_t *resp, int code, const char *msg)
{
	json_t *e = json_object_get(resp, "error");

	if (e == NULL || json_integer_value(json_object_get(e, "code")) != code ||
	    (msg != NULL && strcmp(json_string_value(json_object_get(e, "message")), msg) != 0)) {
		char want[300];

		snprintf(want, sizeof(want), "expected error %d \"%s\", got", code,
			 msg ? msg : "*");
		fail_json(want, resp);
	}
	json_decref(resp);
}

void rt_err(struct rpc_client *c, const char *method, const char *params_json, int code,
	    const char *msg)
{
	rt_assert_err(rt_call(c, method, params_json), code, msg);
}

void rt_assert_true(json_t *resp)
{
	if (!json_is_true(json_object_get(resp, "result")))
		fail_json("expected result true", resp);
	json_decref(resp);
}

/* ---- Shapes ------------------------------------------------------------------------------ */

static bool skipped(const char *key, const char *const *skip)
{
	for (; skip != NULL && *skip != NULL; skip++)
		if (strcmp(*skip, key) == 0)
			return true;
	return false;
}

static char *diff_at(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *diff_at(const char *path, const char *fmt, ...)
{
	char *msg = NULL, *out = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (asprintf(&out, "%s: %s", path[0] ? path : "(top)", msg ? msg : "?") < 0)
		out = NULL;
	free(msg);
	return out;
}

static bool same_kind(json_t *a, json_t *b)
{
	if (json_is_boolean(a) && json_is_boolean(b))
		return true;
	if (json_is_integer(a) && json_is_integer(b))
		return true;
	return json_typeof(a) == json_typeof(b);
}

static char *shape(json_t *ours, json_t *spdk, const char *const *skip, const char *path)
{
	char sub[512];
	const char *key;
	json_t *v;
	char *d;

	if (!same_kind(ours, spdk))
		return diff_at(path, "JSON type %d, SPDK has %d", json_typeof(ours),
			       json_typeof(spdk));
	if (json_is_object(spdk)) {
		json_object_foreach(spdk, key, v) {
			json_t *o = json_object_get(ours, key);

			snprintf(sub, sizeof(sub), "%s.%s", path, key);
			if (o == NULL) {
				if (skipped(key, skip))
					continue;
				return diff_at(sub, "missing");
			}
			d = shape(o, v, skip, sub);
			if (d != NULL)
				return d;
		}
		json_object_foreach(ours, key, v) {
			if (json_object_get(spdk, key) == NULL) {
				snprintf(sub, sizeof(sub), "%s.%s", path, key);
				return diff_at(sub, "not in SPDK's answer");
			}
		}
	} else if (json_is_array(spdk) && json_array_size(spdk) > 0) {
		for (size_t i = 0; i < json_array_size(ours); i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			d = shape(json_array_get(ours, i), json_array_get(spdk, 0), skip, sub);
			if (d != NULL)
				return d;
		}
	}
	return NULL;
}

char *rt_shape_diff(json_t *ours, json_t *spdk, const char *const *skip)
{
	return shape(ours, spdk, skip, "");
}

/* ---- Odds and ends ---------------------------------------------------------------------- */

void rt_make_file(const char *path, size_t bytes)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
	close(fd);
}

const char *rt_fmt(const char *fmt, ...)
{
	static char bufs[4][4096];
	static int next;
	char *b = bufs[next++ % 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return b;
}

json_t *rt_get(json_t *j, const char *path)
{
	char key[64];
	const char *dot;

	while (j != NULL && *path != '\0') {
		dot = strchr(path, '.');
		snprintf(key, sizeof(key), "%.*s", dot ? (int)(dot - path) : (int)strlen(path), path);
		if (json_is_array(j))
			j = json_array_get(j, strtoul(key, NULL, 10));
		else
			j = json_object_get(j, key);
		path = dot ? dot + 1 : "";
	}
	return j;
}

long long rt_geti(json_t *j, const char *path)
{
	json_t *v = rt_get(j, path);

	if (!json_is_integer(v))
		fail_msg("no integer at %s", path);
	return json_integer_value(v);
}

const char *rt_gets(json_t *j, const char *path)
{
	json_t *v = rt_get(j, path);

	if (!json_is_string(v))
		fail_msg("no string at %s", path);
	return json_string_value(v);
}

void rt_assert_json_equal(json_t *a, json_t *b, const char *what)
{
	if (!json_equal(a, b)) {
		char *sa = json_dumps(a, JSON_INDENT(1)), *sb = json_dumps(b, JSON_INDENT(1));

		fail_msg("%s differ:\n%s\n---\n%s", what, sa, sb);
	}
}

bool rt_lib_has(enum nvmft_trtype trtype)
{
	struct nvmft_transport_opts o;

	return nvmft_transport_opts_init(trtype, &o, sizeof(o)) == 0;
}
