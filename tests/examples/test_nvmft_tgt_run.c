/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft-tgt as a process: start it on 127.0.0.1, wait for its ready line,
 * talk to it over TCP, signal it, and check how it ends.  Every wait is a
 * bounded loop that fails when the bound is reached; nothing asserts how
 * fast anything is.
 *
 * argv[1]: the nvmft-tgt binary.  argv[2]: spdk_v25.09_save_config.json,
 * the configuration SPDK v25.09 saved, which the daemon must serve as is
 * (only its ports are swapped for free ones).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tcp_host.h"
#include "test_util.h"

/* Bounds: 100 ms steps, so 600 steps is a minute on a loaded machine. */
#define STEP_MS 100
#define READY_STEPS 600
#define EXIT_STEPS 600

static const char *tgt_path;
static const char *v2509_path;

struct tgt {
	pid_t pid;
	int out_fd;
	int err_fd;
	char out[4096];
	size_t out_len;
	char err[65536];
	size_t err_len;
	bool exited;
	int status;
};

static void append(int *fd, char *buf, size_t cap, size_t *len)
{
	char scratch[4096];
	ssize_t n;

	if (*fd < 0)
		return;
	/* Keep reading past a full buffer so the daemon never blocks on a pipe. */
	n = read(*fd, scratch, sizeof(scratch));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(*fd);
		*fd = -1;
		return;
	}
	if (n < 0)
		return;
	if ((size_t)n > cap - 1 - *len)
		n = (ssize_t)(cap - 1 - *len);
	memcpy(buf + *len, scratch, (size_t)n);
	*len += (size_t)n;
	buf[*len] = '\0';
}

/* Wait up to @ms for output, and take what there is. */
static void drain(struct tgt *t, int ms)
{
	struct pollfd p[2] = { { .fd = t->out_fd, .events = POLLIN },
			       { .fd = t->err_fd, .events = POLLIN } };

	if (t->out_fd < 0 && t->err_fd < 0) {
		poll(NULL, 0, ms);
		return;
	}
	if (poll(p, 2, ms) <= 0)
		return;
	if (p[0].revents)
		append(&t->out_fd, t->out, sizeof(t->out), &t->out_len);
	if (p[1].revents)
		append(&t->err_fd, t->err, sizeof(t->err), &t->err_len);
}

static bool reap(struct tgt *t)
{
	if (!t->exited && waitpid(t->pid, &t->status, WNOHANG) == t->pid)
		t->exited = true;
	return t->exited;
}

static void tgt_start(struct tgt *t, const char *const *args)
{
	int out[2], err[2];
	char *argv[32];
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	argv[n++] = (char *)tgt_path;
	while (*args != NULL && n < 31)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		execv(tgt_path, argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	t->out_fd = out[0];
	t->err_fd = err[0];
	fcntl(t->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(t->err_fd, F_SETFL, O_NONBLOCK);
}

/* The first stdout line, or false when the process ended without one. */
static bool tgt_wait_ready(struct tgt *t)
{
	for (int i = 0; i < READY_STEPS; i++) {
		if (strchr(t->out, '\n') != NULL)
			return true;
		if (reap(t)) {
			/* Take what it wrote before exiting. */
			while (t->out_fd >= 0 || t->err_fd >= 0)
				drain(t, STEP_MS);
			return strchr(t->out, '\n') != NULL;
		}
		drain(t, STEP_MS);
	}
	fail_msg("no ready line after %d steps; stderr:\n%s", READY_STEPS, t->err);
	return false;
}

/* Wait for the exit; returns the exit code, or fails the test. */
static int tgt_wait_exit(struct tgt *t)
{
	for (int i = 0; i < EXIT_STEPS && !reap(t); i++)
		drain(t, STEP_MS);
	if (!t->exited) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &t->status, 0);
		fail_msg("nvmft-tgt did not exit after %d steps; stderr:\n%s", EXIT_STEPS, t->err);
	}
	while (t->out_fd >= 0 || t->err_fd >= 0)
		drain(t, STEP_MS);
	if (!WIFEXITED(t->status))
		fail_msg("nvmft-tgt died of signal %d; stderr:\n%s", WTERMSIG(t->status), t->err);
	return WEXITSTATUS(t->status);
}

/* Until the TCP transport is in the library, runtime tests cannot run. */
static void skip_without_tcp(struct tgt *t)
{
	if (strstr(t->err, "transport tcp is not built into this libnvmft") != NULL) {
		tgt_wait_exit(t);
		print_message("skipped: %s", t->err);
		skip();
	}
}

static int tcp_socket(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	return fd;
}

static int tcp_connect(int family, unsigned int port)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	int fd = tcp_socket(family);

	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	}
	if (connect(fd, (struct sockaddr *)&ss,
		    family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) <
	    0) {
		int err = errno;

		close(fd);
		fail_msg("connect to port %u: %s", port, strerror(err));
	}
	return fd;
}

/*
 * Send an NVMe/TCP ICReq and read the ICResp: proof that a poll group
 * thread took the connection and serves it, not only that the kernel
 * accepted it.
 */
static void icreq_exchange(int fd)
{
	uint8_t req[128] = { 0 }, resp[128];
	size_t got = 0;

	req[0] = 0x00; /* PDU type ICReq */
	req[2] = 128;  /* HLEN */
	req[4] = 128;  /* PLEN, little-endian */
	assert_int_equal(write(fd, req, sizeof(req)), (ssize_t)sizeof(req));
	for (int i = 0; i < READY_STEPS && got < sizeof(resp); i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, STEP_MS) <= 0)
			continue;
		n = read(fd, resp + got, sizeof(resp) - got);
		if (n <= 0)
			fail_msg("connection closed after %zu bytes of ICResp", got);
		got += (size_t)n;
	}
	assert_int_equal(got, sizeof(resp));
	assert_int_equal(resp[0], 0x01); /* PDU type ICResp */
	assert_int_equal(resp[2], 128);	 /* HLEN */
	assert_int_equal(resp[4] | resp[5] << 8 | resp[6] << 16 | resp[7] << 24, 128);
}

/* After the daemon is gone, the connection it served reads as closed. */
static void assert_closed(int fd)
{
	char c;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	assert_int_equal(poll(&p, 1, 0), 1);
	n = read(fd, &c, 1);
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	close(fd);
}

static void expect_ready_line(const struct tgt *t, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "%s\n", line);
	assert_string_equal(t->out, want);
}

/* ---- Tests -------------------------------------------------------------- */

static void test_event_mode(void **state)
{
	unsigned int port = tu_free_port(AF_INET);
	char addr[64], line[256];
	const char *args[] = { "-l", addr, "--ns", "ram:16M", NULL };
	struct tgt t;
	int fd;

	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", port);
	tgt_start(&t, args);
	if (!tgt_wait_ready(&t))
		skip_without_tcp(&t);
	snprintf(line, sizeof(line),
		 "nvmft-tgt: ready: listening on tcp 127.0.0.1:%u (subsystem "
		 "nqn.2024-01.io.libnvmft:tgt)",
		 port);
	expect_ready_line(&t, line);
	fd = tcp_connect(AF_INET, port);
	icreq_exchange(fd);
	/* Shut down with the host still connected: the group must drop it. */
	assert_int_equal(kill(t.pid, SIGTERM), 0);
	assert_int_equal(tgt_wait_exit(&t), 0);
	assert_closed(fd);
	assert_non_null(strstr(t.err, "Terminated: shutting down"));
}

static void test_busy_poll_threads(void **state)
{
	unsigned int port = tu_free_port(AF_INET);
	char addr[64];
	const char *args[] = { "-m", "3", "--busy-poll", "-l", addr, "--ns", "null:1G", NULL };
	struct tgt t;
	int fd[4];

	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", port);
	tgt_start(&t, args);
	if (!tgt_wait_ready(&t))
		skip_without_tcp(&t);
	/* Round-robin puts these on all three groups. */
	for (int i = 0; i < 4; i++) {
		fd[i] = tcp_connect(AF_INET, port);
		icreq_exchange(fd[i]);
	}
	assert_int_equal(kill(t.pid, SIGINT), 0);
	assert_int_equal(tgt_wait_exit(&t), 0);
	for (int i = 0; i < 4; i++)
		assert_closed(fd[i]);
}

static void test_port_zero(void **state)
{
	const char *args[] = {
		"-l",	"tcp:127.0.0.1:0", "-n",	   "nqn.2024-01.io.test:zero",
		"--ns", "ram:1M",	   "--allow-host", "nqn.2024-01.io.test:host",
		NULL
	};
	unsigned int port = 0;
	struct tgt t;
	int fd;

	tgt_start(&t, args);
	if (!tgt_wait_ready(&t))
		skip_without_tcp(&t);
	assert_int_equal(sscanf(t.out, "nvmft-tgt: ready: listening on tcp 127.0.0.1:%u", &port),
			 1);
	assert_true(port > 0 && port < 65536);
	assert_non_null(strstr(t.out, "(subsystem nqn.2024-01.io.test:zero)\n"));
	fd = tcp_connect(AF_INET, port);
	close(fd);
	assert_int_equal(kill(t.pid, SIGTERM), 0);
	assert_int_equal(tgt_wait_exit(&t), 0);
}

static void test_ipv6(void **state)
{
	unsigned int port = tu_free_port(AF_INET6);
	char addr[64], line[256];
	const char *args[] = { "--listen", addr, "--ns", "ram:1M", NULL };
	struct tgt t;
	int fd;

	if (port == 0)
		skip(); /* no IPv6 loopback here */
	snprintf(addr, sizeof(addr), "tcp:[::1]:%u", port);
	tgt_start(&t, args);
	if (!tgt_wait_ready(&t))
		skip_without_tcp(&t);
	snprintf(line, sizeof(line),
		 "nvmft-tgt: ready: listening on tcp [::1]:%u (subsystem "
		 "nqn.2024-01.io.libnvmft:tgt)",
		 port);
	expect_ready_line(&t, line);
	fd = tcp_connect(AF_INET6, port);
	close(fd);
	assert_int_equal(kill(t.pid, SIGTERM), 0);
	assert_int_equal(tgt_wait_exit(&t), 0);
}

/* A temporary file holding @text; its name goes to @path (32 bytes). */
static void write_temp(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/nvmft-tgt-test-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_config_file(void **state)
{
	unsigned int port = tu_free_port(AF_INET), port2 = tu_free_port(AF_INET);
	char json[2048], line[256], extra[64];
	const char *args[] = { "-c", NULL, "-l", extra, "--event", NULL };
	struct tgt t;
	char path[32];
	int fd;

	snprintf(
		json, sizeof(json),
		"{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":["
		"{\"method\":\"bdev_set_options\",\"params\":{\"bdev_io_pool_size\":65535}},"
		"{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"Malloc0\","
		"\"num_blocks\":2048,\"block_size\":512}},"
		"{\"method\":\"bdev_null_create\",\"params\":{\"name\":\"Null0\","
		"\"num_blocks\":2048,\"block_size\":4096}},"
		"{\"method\":\"bdev_wait_for_examine\"}]},"
		"{\"subsystem\":\"nvmf\",\"config\":["
		"{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"TCP\","
		"\"max_io_qpairs_per_ctrlr\":7,\"io_unit_size\":131072}},"
		"{\"method\":\"nvmf_create_subsystem\",\"params\":{\"nqn\":\"nqn.2016-06.io.spdk:c1\","
		"\"allow_any_host\":true,\"serial_number\":\"SPDK001\"}},"
		"{\"method\":\"nvmf_create_subsystem\",\"params\":{\"nqn\":\"nqn.2016-06.io.spdk:c2\","
		"\"allow_any_host\":false}},"
		"{\"method\":\"nvmf_subsystem_add_host\",\"params\":{\"nqn\":\"nqn.2016-06.io.spdk:c2\","
		"\"host\":\"nqn.2024-01.io.test:h\"}},"
		"{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"
		"\"nqn.2016-06.io.spdk:c1\",\"listen_address\":{\"trtype\":\"TCP\",\"adrfam\":"
		"\"IPv4\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%u\"}}},"
		"{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"
		"\"nqn.2016-06.io.spdk:c2\",\"listen_address\":{\"trtype\":\"TCP\",\"adrfam\":"
		"\"IPv4\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%u\"}}},"
		"{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":\"nqn.2016-06.io.spdk:c1\","
		"\"namespace\":{\"nsid\":1,\"bdev_name\":\"Malloc0\"}}},"
		"{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":\"nqn.2016-06.io.spdk:c2\","
		"\"namespace\":{\"nsid\":3,\"bdev_name\":\"Null0\"}}}]}]}",
		port, port);
	write_temp(path, json);
	args[1] = path;
	snprintf(extra, sizeof(extra), "tcp:127.0.0.1:%u", port2);
	tgt_start(&t, args);
	if (!tgt_wait_ready(&t)) {
		unlink(path);
		skip_without_tcp(&t);
	}
	unlink(path);
	/* One listener shared by both subsystems, plus the flag's for both. */
	snprintf(line, sizeof(line),
		 "nvmft-tgt: ready: listening on tcp 127.0.0.1:%u, tcp 127.0.0.1:%u "
		 "(subsystems nqn.2016-06.io.spdk:c1, nqn.2016-06.io.spdk:c2)",
		 port, port2);
	expect_ready_line(&t, line);
	fd = tcp_connect(AF_INET, port2);
	icreq_exchange(fd);
	assert_int_equal(kill(t.pid, SIGTERM), 0);
	assert_int_equal(tgt_wait_exit(&t), 0);
	assert_closed(fd);
}

static void test_config_refused(void **state)
{
	const char *json = "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":["
			   "{\"method\":\"bdev_set_options\",\"params\":{}},"
			   "{\"method\":\"bdev_lvol_create\",\"params\":{\"lvs_name\":\"l\"}}]}]}";
	char path[32];
	const char *args[] = { "-c", path, "-l", "tcp:127.0.0.1:4420", NULL };
	struct tgt t;

	write_temp(path, json);
	tgt_start(&t, args);
	assert_int_equal(tgt_wait_exit(&t), 2);
	unlink(path);
	assert_string_equal(t.out, "");
	assert_string_equal(t.err, "nvmft-tgt: error: config: unsupported method "
				   "'bdev_lvol_create' (subsystem bdev, entry 2)\n");
}

static void test_usage_errors(void **state)
{
	const char *bad_ns[] = { "-l", "tcp:127.0.0.1:4420", "--ns", "rom:1M", NULL };
	const char *no_listen[] = { "--ns", "ram:1M", NULL };
	struct tgt t;

	tgt_start(&t, bad_ns);
	assert_int_equal(tgt_wait_exit(&t), 2);
	assert_string_equal(
		t.err, "nvmft-tgt: error: --ns rom:1M: unknown kind 'rom' (ram, null or file)\n");
	tgt_start(&t, no_listen);
	assert_int_equal(tgt_wait_exit(&t), 2);
	assert_string_equal(t.out, "");
	assert_non_null(strstr(t.err, "nothing to listen on"));
}

/* Start-up stops when the kernel has no such congestion control, and says which. */
static void test_congestion_refused(void **state)
{
	const char *args[] = { "-l", "tcp:127.0.0.1:0", "--ns", "ram:1M", "--tcp-congestion",
			       "nosuchcc", NULL };
	struct tgt t;

	(void)state;
	tgt_start(&t, args);
	assert_int_equal(tgt_wait_exit(&t), 1);
	assert_string_equal(t.out, "");
	assert_non_null(strstr(t.err, "cannot create transport tcp: congestion control "
				      "'nosuchcc': No such file or directory"));
}

static void test_help_version(void **state)
{
	const char *help[] = { "--help", NULL };
	const char *version[] = { "--version", NULL };
	struct tgt t;

	tgt_start(&t, help);
	assert_int_equal(tgt_wait_exit(&t), 0);
	assert_memory_equal(t.out, "Usage: nvmft-tgt", 16);
	assert_string_equal(t.err, "");
	tgt_start(&t, version);
	assert_int_equal(tgt_wait_exit(&t), 0);
	assert_memory_equal(t.out, "nvmft-tgt ", 10);
	assert_non_null(strstr(t.out, "(libnvmft "));
}

static void test_address_in_use(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	char addr[64];
	const char *args[] = { "-l", addr, "--ns", "ram:1M", NULL };
	struct tgt t;
	int fd = tcp_socket(AF_INET);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", ntohs(sin.sin_port));
	tgt_start(&t, args);
	if (tgt_wait_ready(&t)) {
		kill(t.pid, SIGKILL);
		tgt_wait_exit(&t);
		close(fd);
		fail_msg("ready on a port that is in use: %s", t.out);
	}
	close(fd);
	skip_without_tcp(&t);
	assert_int_equal(tgt_wait_exit(&t), 1);
	assert_string_equal(t.out, "");
	assert_non_null(strstr(t.err, "Address already in use"));
}

static void test_file_backend(void **state)
{
	unsigned int port = tu_free_port(AF_INET);
	char path[32], addr[64], ns[128];
	const char *args[] = { "-l", addr, "--ns", ns, NULL };
	const char *missing[] = { "-l", addr, "--ns", "file:/nonexistent/nvmft-tgt.img", NULL };
	struct tgt t;

	write_temp(path, "");
	assert_int_equal(truncate(path, 1 << 20), 0);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", port);
	snprintf(ns, sizeof(ns), "file:%s,bs=4096", path);
	tgt_start(&t, args);
	if (!tgt_wait_ready(&t)) {
		unlink(path);
		skip_without_tcp(&t);
	}
	assert_int_equal(kill(t.pid, SIGTERM), 0);
	assert_int_equal(tgt_wait_exit(&t), 0);
	unlink(path);

	tgt_start(&t, missing);
	assert_false(tgt_wait_ready(&t));
	assert_int_equal(tgt_wait_exit(&t), 1);
	assert_non_null(strstr(t.err, "--ns file:/nonexistent/nvmft-tgt.img: cannot open "
				      "'/nonexistent/nvmft-tgt.img' for bdev 'file0': No such file "
				      "or directory"));
}

/* The fixture's text with every "44320" / "44321" port replaced; written to @path. */
static void fixture_with_ports(char *path, unsigned int p4, unsigned int p6)
{
	static char in[65536], out[65536];
	size_t n = 0, o = 0;
	FILE *fp = fopen(v2509_path, "r");

	assert_non_null(fp);
	n = fread(in, 1, sizeof(in) - 1, fp);
	fclose(fp);
	assert_true(n > 0 && n < sizeof(in) - 1);
	in[n] = '\0';
	for (const char *p = in; *p != '\0';) {
		if (strncmp(p, "\"44320\"", 7) == 0 || strncmp(p, "\"44321\"", 7) == 0) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\"%u\"",
					      p[5] == '0' ? p4 : p6);
			p += 7;
		} else {
			out[o++] = *p++;
		}
		assert_true(o < sizeof(out) - 16);
	}
	out[o] = '\0';
	write_temp(path, out);
}

/* @field (@len bytes, space-padded as Identify writes it) holds exactly @s. */
static void assert_padded(const char *field, size_t len, const char *s)
{
	size_t n = strlen(s);

	assert_true(n <= len);
	assert_memory_equal(field, s, n);
	for (size_t i = n; i < len; i++)
		assert_int_equal(field[i], ' ');
}

/*
 * A configuration saved by SPDK v25.09 (nvmf_tgt, a realistic setup):
 * the daemon starts on it unchanged and serves what it describes, over
 * IPv4 and IPv6, to the hosts it lists.
 */
static void test_spdk_v2509_config(void **state)
{
	unsigned int p4 = tu_free_port(AF_INET), p6 = tu_free_port(AF_INET6);
	/* A config alone would serve JSON-RPC on SPDK's default socket: not in a test. */
	const char *args[] = { "-c", NULL, "--no-rpc", NULL };
	struct th_cfg cfg = { .timeout_ms = 30000, .subnqn = "nqn.2016-06.io.spdk:cnode1" };
	static uint8_t id[4096], w[16384], r[16384];
	const struct nvme_id_ctrl *ctrl = (const void *)id;
	const struct nvme_id_ns *ns = (const void *)id;
	static const uint8_t nguid5[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
					    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	static const uint8_t eui5[8] = { 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89 };
	char path[32], line[256], port4[16], port6[16];
	struct th *admin, *io, *h2, *nobody;
	uint16_t cntlid;
	uint64_t cap;
	struct tgt t;

	if (p6 == 0)
		skip(); /* the configuration listens on [::1] */
	fixture_with_ports(path, p4, p6);
	args[1] = path;
	tgt_start(&t, args);
	if (!tgt_wait_ready(&t)) {
		unlink(path);
		skip_without_tcp(&t);
	}
	unlink(path);
	snprintf(line, sizeof(line),
		 "nvmft-tgt: ready: listening on tcp 127.0.0.1:%u, tcp [::1]:%u (subsystems "
		 "nqn.2016-06.io.spdk:cnode1, nqn.2016-06.io.spdk:cnode2)",
		 p4, p6);
	expect_ready_line(&t, line);
	snprintf(port4, sizeof(port4), "%u", p4);
	snprintf(port6, sizeof(port6), "%u", p6);

	/* cnode1, any host: the transport's options show in CAP and Identify. */
	assert_int_equal(th_connect("127.0.0.1", port4, &cfg, &admin), 0);
	TH_ASSERT_ST(admin, th_admin_up(admin, 3, &cntlid), 0);
	TH_ASSERT_ST(admin, th_prop_get(admin, NVME_REG_CAP, true, &cap), 0);
	assert_int_equal(NVME_CAP_MQES(cap), 255);          /* max_queue_depth 256 */
	TH_ASSERT_ST(admin, th_identify(admin, NVME_IDENTIFY_CNS_CTRL, 0, id), 0);
	assert_padded(ctrl->sn, sizeof(ctrl->sn), "SPDK00000000000001");
	assert_padded(ctrl->mn, sizeof(ctrl->mn), "SPDK bdev Controller");
	assert_int_equal(ctrl->mdts, 6);                     /* max_io_size 256 KiB */
	assert_int_equal(le32toh(ctrl->ioccsz), (64 + 8192) / 16); /* in_capsule_data_size */
	assert_int_equal(le32toh(ctrl->nn), 32);             /* max_namespaces */
	assert_string_equal(ctrl->subnqn, "nqn.2016-06.io.spdk:cnode1");
	TH_ASSERT_ST(admin, th_identify(admin, NVME_IDENTIFY_CNS_NS, 1, id), 0);
	assert_int_equal(le64toh(ns->nsze), 131072);
	assert_int_equal(ns->nguid[0], 0x6f);
	assert_int_equal(ns->nguid[15], 0x62);
	assert_int_equal(th_connect("127.0.0.1", port4, &cfg, &io), 0);
	assert_int_equal(th_icreq(io, 0, 3, 0), 0);
	TH_ASSERT_ST(io, th_connect_io(io, 1, 255, cntlid), 0);
	/* 8 KiB travel in the capsule; 16 KiB go through R2T. */
	th_fill(w, sizeof(w), 2509);
	TH_ASSERT_ST(io, th_rw(io, true, 1, 64, 16, w, 8192, TH_IO_INCAPSULE), 0);
	TH_ASSERT_ST(io, th_rw(io, true, 1, 80, 32, w, sizeof(w), 0), 0);
	TH_ASSERT_ST(io, th_rw(io, false, 1, 64, 16, r, 8192, 0), 0);
	assert_memory_equal(r, w, 8192);
	TH_ASSERT_ST(io, th_rw(io, false, 1, 80, 32, r, sizeof(r), 0), 0);
	assert_memory_equal(r, w, sizeof(w));

	/* cnode2 over IPv6: only the hosts it lists, its own controller ID range. */
	cfg.subnqn = "nqn.2016-06.io.spdk:cnode2";
	assert_int_equal(th_connect("::1", port6, &cfg, &nobody), 0);
	assert_int_equal(th_icreq(nobody, 0, 0, 0), 0);
	TH_ASSERT_ST(nobody, th_connect_admin(nobody, 31, NULL),
		     NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST));
	cfg.hostnqn = "nqn.2024-01.io.libnvmft:host2";
	assert_int_equal(th_connect("::1", port6, &cfg, &h2), 0);
	TH_ASSERT_ST(h2, th_admin_up(h2, 0, &cntlid), 0);
	assert_true(cntlid >= 1 && cntlid <= 1000);
	TH_ASSERT_ST(h2, th_identify(h2, NVME_IDENTIFY_CNS_CTRL, 0, id), 0);
	assert_padded(ctrl->sn, sizeof(ctrl->sn), "SPDK00000000000002");
	assert_padded(ctrl->mn, sizeof(ctrl->mn), "libnvmft fixture");
	assert_int_equal(le32toh(ctrl->nn), 8);
	TH_ASSERT_ST(h2, th_identify(h2, NVME_IDENTIFY_CNS_NS, 5, id), 0);
	assert_int_equal(le64toh(ns->nsze), 32768);
	assert_int_equal(ns->lbaf[ns->flbas & NVME_NS_FLBAS_LOWER_MASK].ds, 12); /* 4096 */
	assert_memory_equal(ns->nguid, nguid5, sizeof(nguid5));
	assert_memory_equal(ns->eui64, eui5, sizeof(eui5));
	assert_int_equal(th_violations(admin) + th_violations(io) + th_violations(h2), 0);

	assert_int_equal(kill(t.pid, SIGTERM), 0);
	assert_int_equal(tgt_wait_exit(&t), 0);
	/* Every warning or error would be a setting the daemon could not honour. */
	assert_null(strstr(t.err, "warning"));
	assert_null(strstr(t.err, "error"));
	th_free(admin);
	th_free(io);
	th_free(h2);
	th_free(nobody);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_config_refused),
		cmocka_unit_test(test_congestion_refused),
		cmocka_unit_test(test_event_mode),
		cmocka_unit_test(test_busy_poll_threads),
		cmocka_unit_test(test_port_zero),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_address_in_use),
		cmocka_unit_test(test_file_backend),
		cmocka_unit_test(test_spdk_v2509_config),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s NVMFT_TGT SPDK_V25.09_SAVE_CONFIG\n", argv[0]);
		return 1;
	}
	tgt_path = argv[1];
	v2509_path = argv[2];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
