/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft-tgt as a process: start it on 127.0.0.1, wait for its ready line,
 * talk to it over TCP, signal it, and check how it ends.  Every wait is a
 * bounded loop that fails when the bound is reached; nothing asserts how
 * fast anything is.
 *
 * argv[1]: the nvmft-tgt binary.
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

/* Bounds: 100 ms steps, so 600 steps is a minute on a loaded machine. */
#define STEP_MS 100
#define READY_STEPS 600
#define EXIT_STEPS 600

static const char *tgt_path;

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

/* A port nobody listens on now (bind to 0, read it, close). */
static unsigned int free_port(int family)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len = sizeof(ss);
	unsigned int port;
	int fd = tcp_socket(family);

	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)&ss,
		 family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) <
	    0) {
		close(fd);
		return 0;
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
				       : ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	return port;
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
	unsigned int port = free_port(AF_INET);
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
	unsigned int port = free_port(AF_INET);
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
	unsigned int port = free_port(AF_INET6);
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
	unsigned int port = free_port(AF_INET), port2 = free_port(AF_INET);
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
	unsigned int port = free_port(AF_INET);
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

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_config_refused),
		cmocka_unit_test(test_event_mode),
		cmocka_unit_test(test_busy_poll_threads),
		cmocka_unit_test(test_port_zero),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_address_in_use),
		cmocka_unit_test(test_file_backend),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s NVMFT_TGT\n", argv[0]);
		return 1;
	}
	tgt_path = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
