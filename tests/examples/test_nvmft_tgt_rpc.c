/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft-tgt's JSON-RPC server as a client meets it: framing, SPDK's
 * envelope errors, limits (huge requests, clients that never read or go
 * away mid-request, many clients at once), the socket's lock rules, and a
 * management operation that answers only when the library finishes it.
 * The methods themselves are test_nvmft_tgt_rpc_methods.c's.
 *
 * argv[1]: the nvmft-tgt binary.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpc_test_util.h"
#include "tcp_host.h"

/* A raw connection, for bytes no well-behaved client would send. */
static int raw_connect(const struct rt_tgt *t)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", t->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void raw_send(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Read until @n newlines arrived (or EOF, or 10 s); returns what came. */
static char *raw_lines(int fd, int n, bool *eof)
{
	static char buf[1 << 16];
	size_t len = 0;
	int lines = 0;

	*eof = false;
	buf[0] = '\0';
	for (int i = 0; i < 100 && lines < n; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t got;

		if (poll(&p, 1, 100) <= 0)
			continue;
		got = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (got <= 0) {
			*eof = true;
			break;
		}
		for (ssize_t k = 0; k < got; k++)
			lines += buf[len + (size_t)k] == '\n';
		len += (size_t)got;
		buf[len] = '\0';
	}
	return buf;
}

/* Nothing more arrives within @ms, and the connection is still open. */
static void raw_quiet(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, ms), 0);
}

/* The server closes @fd within 20 s (EOF, possibly after some bytes). */
static void raw_closed(int fd)
{
	static char b[1 << 16];
	size_t got = 0;
	ssize_t n;

	for (int waited = 0; waited < 20000;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 100) <= 0) {
			waited += 100;
			continue;
		}
		n = recv(fd, b, sizeof(b), 0);
		if (n <= 0)
			return;
		got += (size_t)n;
	}
	fail_msg("the server kept the connection open (%zu bytes came)", got);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct rt_tgt tgt;

static int setup(void **state)
{
	(void)state;
	rt_up(&tgt, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rt_down(&tgt);
	return 0;
}

/* ---- Framing ---------------------------------------------------------------------------- */

static void test_pipelined_in_order(void **state)
{
	int fd = raw_connect(&tgt);
	bool eof;
	char *s;

	(void)state;
	/* SPDK's clients write requests back to back, no delimiter, whitespace allowed. */
	raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"framework_wait_init\"}"
		     "  \n{\"id\":\"two\",\"method\":\"nosuch\"}{\"id\":3,\"method\":"
		     "\"framework_wait_init\",\"params\":null}");
	s = raw_lines(fd, 3, &eof);
	assert_false(eof);
	assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":true}\n"
			       "{\"jsonrpc\":\"2.0\",\"id\":\"two\",\"error\":{\"code\":-32601,"
			       "\"message\":\"Method not found\"}}\n"
			       "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":true}\n");
	close(fd);
}

static void test_split_anywhere(void **state)
{
	const char *req = "{\"id\":7,\"method\":\"rpc_get_methods\",\"params\":"
			  "{\"current\":true,\"include_aliases\":false}}";
	int fd = raw_connect(&tgt);
	json_t *r, *res;
	bool eof;
	char *s;

	(void)state;
	/* One byte per write, with the server polled in between. */
	for (size_t i = 0; req[i] != '\0'; i++) {
		assert_int_equal(send(fd, &req[i], 1, MSG_NOSIGNAL), 1);
		if (i % 16 == 0)
			poll(NULL, 0, 1);
	}
	s = raw_lines(fd, 1, &eof);
	r = json_loads(s, 0, NULL);
	assert_non_null(r);
	res = json_object_get(r, "result");
	assert_true(json_is_array(res));
	/* current: start-up-only methods left out. */
	for (size_t i = 0; i < json_array_size(res); i++)
		assert_string_not_equal(json_string_value(json_array_get(res, i)),
					"framework_start_init");
	json_decref(r);
	close(fd);
}

static void test_notifications(void **state)
{
	int fd = raw_connect(&tgt);
	bool eof;
	char *s;

	(void)state;
	/* No result for a notification; an error still goes out, with id null (as SPDK). */
	raw_send(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"framework_wait_init\"}"
		     "{\"jsonrpc\":\"2.0\",\"method\":\"nosuch\",\"id\":null}"
		     "{\"id\":9,\"method\":\"framework_wait_init\"}");
	s = raw_lines(fd, 2, &eof);
	assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,"
			       "\"message\":\"Method not found\"}}\n"
			       "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":true}\n");
	raw_quiet(fd, 200);
	close(fd);
}

static void test_half_close(void **state)
{
	int fd = raw_connect(&tgt);
	bool eof;
	char *s;

	(void)state;
	/* A client that writes, shuts its side and reads still gets every answer. */
	raw_send(fd, "{\"id\":1,\"method\":\"framework_wait_init\"}"
		     "{\"id\":2,\"method\":\"framework_wait_init\"}");
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	s = raw_lines(fd, 3, &eof);
	assert_true(eof);
	assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":true}\n"
			       "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":true}\n");
	close(fd);
}

/* ---- Envelope errors ------------------------------------------------------------------- */

struct bad_req {
	const char *text;
	const char *answer;
};

static void test_invalid_requests(void **state)
{
	static const struct bad_req cases[] = {
		{ "[{\"id\":1,\"method\":\"framework_wait_init\"}]",
		  "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
		  "\"message\":\"Invalid request\"}}\n" },
		{ "42 ", "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
			 "\"message\":\"Invalid request\"}}\n" },
		{ "\"text\"", "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
			      "\"message\":\"Invalid request\"}}\n" },
		{ "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"framework_wait_init\"}",
		  "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
		  "\"message\":\"Invalid request\"}}\n" },
		{ "{\"id\":1,\"method\":5}", "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":"
					     "-32600,\"message\":\"Invalid request\"}}\n" },
		{ "{\"id\":{\"a\":1},\"method\":\"framework_wait_init\"}",
		  "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
		  "\"message\":\"Invalid request\"}}\n" },
		{ "{\"id\":1,\"method\":\"framework_wait_init\",\"extra\":true}",
		  "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
		  "\"message\":\"Invalid request\"}}\n" },
		/* SPDK knows the id by the time it checks params. */
		{ "{\"id\":2,\"method\":\"nvmf_get_subsystems\",\"params\":5}",
		  "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32600,"
		  "\"message\":\"Invalid request\"}}\n" },
		{ "{\"id\":3,\"method\":\"nvmf_get_subsystems\",\"params\":[1]}",
		  "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32602,"
		  "\"message\":\"Invalid parameters\"}}\n" },
		{ "{\"id\":4,\"method\":\"nvmf_get_subsystems\",\"params\":{\"nqn\":\"a\",\"nqn\":\"b\"}}",
		  "{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32602,"
		  "\"message\":\"Invalid parameters\"}}\n" },
		{ "{\"id\":5,\"method\":\"framework_start_init\"}",
		  "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-1,\"message\":\"Method may "
		  "only be called before framework is initialized. Use --wait-for-rpc command "
		  "line parameter and then issue this RPC before the framework_start_init "
		  "RPC.\"}}\n" },
		{ "{\"id\":6,\"method\":\"spdk_get_version\",\"params\":{}}",
		  "{\"jsonrpc\":\"2.0\",\"id\":6,\"error\":{\"code\":-32602,"
		  "\"message\":\"spdk_get_version method requires no parameters\"}}\n" },
	};
	int fd = raw_connect(&tgt);

	(void)state;
	/* None of these closes the connection: it serves the next request. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool eof;

		raw_send(fd, cases[i].text);
		assert_string_equal(raw_lines(fd, 1, &eof), cases[i].answer);
		assert_false(eof);
	}
	close(fd);
}

static void test_parse_error_closes(void **state)
{
	static const char *const garbage[] = { "garbage", "}", "{\"id\":1,,}", "{\"a\":tru}" };

	(void)state;
	/* A byte stream has no point to resume from after bad JSON: answer, then close. */
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		int fd = raw_connect(&tgt);
		bool eof;

		raw_send(fd, garbage[i]);
		assert_string_equal(raw_lines(fd, 2, &eof),
				    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
				    "\"message\":\"Parse error\"}}\n");
		assert_true(eof);
		close(fd);
	}
}

/* ---- Limits ------------------------------------------------------------------------------ */

static void test_huge_request(void **state)
{
	size_t len = (17u << 20);
	char *big = malloc(len);
	struct rpc_client *c;
	size_t off = 0;
	int fd = raw_connect(&tgt);

	(void)state;
	assert_non_null(big);
	/* A valid prefix, then spaces inside the object: over 16 MiB, never complete. */
	memset(big, ' ', len);
	memcpy(big, "{\"id\":1,\"method\":\"load_config\",\"params\":{", 41);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (off < len) {
		ssize_t n = send(fd, big + off, len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (poll(&p, 1, 10000) <= 0)
				break;
			continue;
		}
		break; /* the server closed on us: what it should do */
	}
	free(big);
	fcntl(fd, F_SETFL, 0);
	raw_closed(fd);
	close(fd);
	/* Still serving everyone else. */
	c = rt_client(&tgt);
	json_decref(rt_ok(c, "framework_wait_init", NULL));
	rpc_client_close(c);
}

static void test_never_reading_client(void **state)
{
	const char *req = "{\"id\":1,\"method\":\"rpc_get_methods\"}";
	int fd = raw_connect(&tgt), rcv = 4096;
	struct rpc_client *c;
	size_t sent = 0;

	(void)state;
	/* Pipeline requests and never read: its answers pile up until both sides are full. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 200000; i++) {
		ssize_t n = send(fd, req, strlen(req), MSG_NOSIGNAL);

		if (n < 0)
			break;
		sent += (size_t)n;
	}
	assert_true(sent > 0);
	/* Everyone else is served at once meanwhile. */
	for (int i = 0; i < 20; i++) {
		c = rt_client(&tgt);
		json_decref(rt_ok(c, "framework_wait_init", NULL));
		rpc_client_close(c);
	}
	close(fd);
}

static void test_many_clients(void **state)
{
	struct rpc_client *c[65];
	json_t *r;

	(void)state;
	/* 64 at once, like SPDK; the 65th waits in the backlog until a place frees up. */
	for (int i = 0; i < 65; i++)
		c[i] = rt_client(&tgt);
	for (int i = 0; i < 64; i++) {
		r = rt_ok(c[i], "framework_wait_init", NULL);
		assert_true(json_is_true(r));
		json_decref(r);
	}
	rpc_client_set_timeout(c[64], 500);
	assert_int_equal(rpc_client_send(c[64], "{\"id\":1,\"method\":\"framework_wait_init\"}", 40),
			 0);
	assert_int_equal(rpc_client_recv(c[64], &r), -ETIMEDOUT);
	rpc_client_close(c[0]);
	rpc_client_set_timeout(c[64], 60000);
	assert_int_equal(rpc_client_recv(c[64], &r), 0);
	rt_assert_true(r);
	for (int i = 1; i < 65; i++)
		rpc_client_close(c[i]);
}

static void test_gone_mid_request(void **state)
{
	struct rpc_client *c;
	json_t *r;
	int fd;

	(void)state;
	/* Half a request, then gone. */
	fd = raw_connect(&tgt);
	raw_send(fd, "{\"id\":1,\"method\":\"bdev_malloc_cr");
	close(fd);
	/* A whole change, then gone before the answer: it happens all the same. */
	fd = raw_connect(&tgt);
	raw_send(fd, "{\"id\":1,\"method\":\"bdev_null_create\",\"params\":"
		     "{\"name\":\"gone\",\"num_blocks\":16,\"block_size\":512}}");
	close(fd);
	c = rt_client(&tgt);
	for (int i = 0; i < 100; i++) {
		r = rt_call(c, "bdev_get_bdevs", "{\"name\":\"gone\"}");
		if (json_object_get(r, "result") != NULL)
			break;
		json_decref(r);
		r = NULL;
		poll(NULL, 0, 50);
	}
	assert_non_null(r);
	json_decref(r);
	rt_assert_true(rt_call(c, "bdev_null_delete", "{\"name\":\"gone\"}"));
	rpc_client_close(c);
}

static void test_stalled_clients(void **state)
{
	int half = raw_connect(&tgt), deaf = raw_connect(&tgt), rcv = 4096;
	const char *req = "{\"id\":1,\"method\":\"rpc_get_methods\"}";
	struct rpc_client *idle = rt_client(&tgt);
	long long t0;
	bool eof;

	(void)state;
	/* Half a request, then silence; and one that pipelines and never reads. */
	raw_send(half, "{\"id\":1,\"method\":\"framework_wait_init\",\"par");
	t0 = now_ms();
	setsockopt(deaf, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	fcntl(deaf, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 200000 && send(deaf, req, strlen(req), MSG_NOSIGNAL) > 0; i++)
		;
	/* Both owe the server bytes: after 10 s without one they are dropped... */
	{
		struct pollfd p = { .fd = half, .events = POLLIN };

		assert_int_equal(poll(&p, 1, 60000), 1);
	}
	assert_true(now_ms() - t0 >= 9900);
	raw_lines(half, 1, &eof);
	assert_true(eof);
	/* Without reading a byte (reading would make it a client that reads again). */
	{
		struct pollfd p = { .fd = deaf, .events = POLLRDHUP };

		assert_int_equal(poll(&p, 1, 30000), 1);
		assert_true(p.revents & (POLLRDHUP | POLLHUP));
	}
	close(half);
	close(deaf);
	/* ...while one that owes nothing stays, however idle. */
	json_decref(rt_ok(idle, "framework_wait_init", NULL));
	rpc_client_close(idle);
}

/* xorshift: the same sequence every run, so a failure replays. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_garbage_storm(void **state)
{
	static const char *const seeds[] = {
		("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nvmf_get_subsystems\",\"params\":"
		 "{\"nqn\":\"nqn.2014-08.org.nvmexpress.discovery\"}}"),
		"{\"id\":\"x\",\"method\":\"bdev_get_bdevs\",\"params\":{\"name\":\"a\",\"timeout\":5}}",
		"{\"id\":2,\"method\":\"rpc_get_methods\",\"params\":{\"current\":false}}",
		"{\"id\":3,\"method\":\"nvmf_get_stats\",\"params\":null}",
		"{\"id\":4.5,\"method\":\"framework_get_config\",\"params\":{\"name\":\"nvmf\"}}",
		"{\"id\":5,\"method\":\"nvmf_subsystem_get_qpairs\",\"params\":{\"nqn\":\"\\u00e9\\n\"}}",
	};
	static char buf[8192];
	uint32_t seed = 2509;
	struct rpc_client *c;

	(void)state;
	/* Mutated, cut, nested, repeated: whatever comes, the daemon answers or closes. */
	for (int i = 0; i < 400; i++) {
		const char *base = seeds[rnd(&seed) % (sizeof(seeds) / sizeof(seeds[0]))];
		size_t len = strlen(base);
		int fd = raw_connect(&tgt);
		char junk[256];

		memcpy(buf, base, len);
		switch (rnd(&seed) % 5) {
		case 0: /* flip bytes */
			for (int k = 0; k < 3; k++)
				buf[rnd(&seed) % len] = (char)(rnd(&seed) & 0xff);
			break;
		case 1: /* cut short */
			len = rnd(&seed) % len;
			break;
		case 2: /* deep nesting */
			len = 2000 + rnd(&seed) % 4000;
			memset(buf, rnd(&seed) & 1 ? '[' : '{', len);
			break;
		case 3: /* two values and a stray byte */
			memcpy(buf + len, base, len);
			len *= 2;
			buf[len++] = (char)(rnd(&seed) & 0xff);
			break;
		default: /* a byte that is not UTF-8 inside a string */
			buf[len / 2] = (char)0xff;
			break;
		}
		if (len > 0)
			send(fd, buf, len, MSG_NOSIGNAL);
		if (rnd(&seed) & 1)
			shutdown(fd, SHUT_WR);
		/* Take what comes, without waiting on answers that will never come. */
		for (int k = 0; k < 3; k++) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (poll(&p, 1, 2) <= 0 || recv(fd, junk, sizeof(junk), MSG_DONTWAIT) <= 0)
				break;
		}
		close(fd);
	}
	c = rt_client(&tgt);
	json_decref(rt_ok(c, "framework_wait_init", NULL));
	rpc_client_close(c);
}

/* ---- The socket -------------------------------------------------------------------------- */

static void test_socket_in_use(void **state)
{
	const char *args[] = { "-r", NULL, NULL };
	struct rpc_client *c;
	struct rt_tgt second;

	(void)state;
	/* A second target on a live target's socket refuses to start, and changes nothing. */
	rt_mkdir(&second);
	args[1] = tgt.sock;
	rt_start(&second, args);
	assert_int_equal(rt_wait_exit(&second), 1);
	assert_non_null(strstr(second.err, "is in use by another process"));
	assert_string_equal(second.out, "");
	rt_rmdir(&second);
	c = rt_client(&tgt);
	json_decref(rt_ok(c, "framework_wait_init", NULL));
	rpc_client_close(c);
}

static void test_socket_stale_or_foreign(void **state)
{
	const char *args[] = { "-r", RT_SOCK, NULL };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct rpc_client *c;
	struct rt_tgt t;
	int fd;

	(void)state;
	/* A socket left behind by a dead process is taken over. */
	rt_mkdir(&t);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", t.sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	rt_start(&t, args);
	assert_true(rt_wait_ready(&t));
	c = rt_client(&t);
	json_decref(rt_ok(c, "framework_wait_init", NULL));
	rpc_client_close(c);
	assert_int_equal(rt_stop(&t), 0);
	/* A socket another program listens on (without SPDK's lock) is left alone. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 1), 0);
	rt_start(&t, args);
	assert_int_equal(rt_wait_exit(&t), 1);
	assert_non_null(strstr(t.err, "is in use by a live process"));
	close(fd);
	unlink(t.sock);
	/* Nor is a file that is not a socket deleted. */
	rt_make_file(t.sock, 1);
	rt_start(&t, args);
	assert_int_equal(rt_wait_exit(&t), 1);
	assert_non_null(strstr(t.err, "a file that is not a socket is there"));
	assert_int_equal(access(t.sock, F_OK), 0);
	rt_rmdir(&t);
}

static void test_rpc_off(void **state)
{
	const char *flags[] = { "-l", "tcp:127.0.0.1:0", "--ns", "ram:1M", NULL };
	const char *no_rpc[] = { "--no-rpc", "-l", "tcp:127.0.0.1:0", NULL };
	const char *empty_no_rpc[] = { "--no-rpc", NULL };
	struct rt_tgt t;

	(void)state;
	/* Built by flags without -r: no JSON-RPC server, as before. */
	rt_mkdir(&t);
	rt_start(&t, flags);
	assert_true(rt_wait_ready(&t));
	assert_int_equal(rt_stop(&t), 0);
	assert_null(strstr(t.err, "JSON-RPC"));
	rt_start(&t, no_rpc);
	assert_true(rt_wait_ready(&t));
	assert_int_equal(rt_stop(&t), 0);
	assert_null(strstr(t.err, "JSON-RPC"));
	/* Without JSON-RPC, a target with nothing to listen on is still refused. */
	rt_start(&t, empty_no_rpc);
	assert_int_equal(rt_wait_exit(&t), 2);
	assert_non_null(strstr(t.err, "nothing to listen on"));
	rt_rmdir(&t);
}

/* ---- Waiting for the library ------------------------------------------------------------- */

static void test_answer_when_finished(void **state)
{
	/* Reads hang for 5 s in the backend: removing the namespace must wait for them. */
	const char *extra[] = { "-l", "tcp:127.0.0.1:0", "-n", "nqn.2024-01.io.test:hang",
				"--ns", "fault:ram:1M,hang=read:5000", NULL };
	static const char REMOVE_NS[] = "{\"id\":1,\"method\":\"nvmf_subsystem_remove_ns\","
					"\"params\":{\"nqn\":\"nqn.2024-01.io.test:hang\",\"nsid\":1}}";
	static const char CREATE_BDEV[] = "{\"id\":1,\"method\":\"bdev_null_create\",\"params\":"
					  "{\"name\":\"after\",\"num_blocks\":8,\"block_size\":512}}";
	struct th_cfg cfg = { .timeout_ms = 60000, .subnqn = "nqn.2024-01.io.test:hang" };
	struct nvmft_cmd cmd = th_rw_cmd(false, 1, 0, 8);
	static uint8_t buf[4096];
	struct th_io tio = { .rdata = buf, .rlen = sizeof(buf) };
	struct rpc_client *c, *c2, *c3;
	struct th *admin, *io;
	struct rt_tgt t;
	uint16_t cntlid;
	char port[16];
	json_t *r, *l;
	long long t0;
	int cid;

	(void)state;
	rt_up(&t, extra);
	c = rt_client(&t);
	l = rt_ok(c, "nvmf_subsystem_get_listeners", "{\"nqn\":\"nqn.2024-01.io.test:hang\"}");
	snprintf(port, sizeof(port), "%s",
		 json_string_value(json_object_get(
			 json_object_get(json_array_get(l, 0), "address"), "trsvcid")));
	json_decref(l);
	assert_int_equal(th_connect("127.0.0.1", port, &cfg, &admin), 0);
	TH_ASSERT_ST(admin, th_admin_up(admin, 0, &cntlid), 0);
	assert_int_equal(th_connect("127.0.0.1", port, &cfg, &io), 0);
	assert_int_equal(th_icreq(io, 0, 0, 0), 0);
	TH_ASSERT_ST(io, th_connect_io(io, 1, 31, cntlid), 0);
	cid = th_submit(io, &cmd, &tio);
	assert_true(cid >= 0);
	poll(NULL, 0, 200); /* the read is in the backend, held */
	c2 = rt_client(&t);
	c3 = rt_client(&t);
	t0 = now_ms();
	assert_int_equal(rpc_client_send(c, REMOVE_NS, strlen(REMOVE_NS)), 0);
	/* Another client's change queues behind the removal... */
	assert_int_equal(rpc_client_send(c3, CREATE_BDEV, strlen(CREATE_BDEV)), 0);
	/*
	 * ...while reads are answered at once: the bdev is still claimed (the
	 * removal waits for the held read), the queued bdev is not there yet,
	 * and the removal is not answered.
	 */
	r = rt_ok(c2, "bdev_get_bdevs", "{\"name\":\"fault0\"}");
	assert_true(json_is_true(json_object_get(json_array_get(r, 0), "claimed")));
	json_decref(r);
	rt_err(c2, "bdev_get_bdevs", "{\"name\":\"after\"}", -19, "No such device");
	rpc_client_set_timeout(c, 100);
	assert_int_equal(rpc_client_recv(c, &r), -ETIMEDOUT);
	rpc_client_set_timeout(c, 60000);
	/* Answered when the held read came back and the namespace was gone, not before. */
	assert_int_equal(rpc_client_recv(c, &r), 0);
	assert_true(now_ms() - t0 >= 2000);
	rt_assert_true(r);
	assert_int_equal(rpc_client_recv(c3, &r), 0);
	assert_string_equal(json_string_value(json_object_get(r, "result")), "after");
	json_decref(r);
	r = rt_ok(c2, "nvmf_get_subsystems", "{\"nqn\":\"nqn.2024-01.io.test:hang\"}");
	assert_int_equal(json_array_size(json_object_get(json_array_get(r, 0), "namespaces")), 0);
	json_decref(r);
	assert_int_equal(th_wait(io, cid, NULL), 0);
	th_free(io);
	th_free(admin);
	rpc_client_close(c3);
	rpc_client_close(c2);
	rpc_client_close(c);
	rt_down(&t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined_in_order),
		cmocka_unit_test(test_split_anywhere),
		cmocka_unit_test(test_notifications),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_invalid_requests),
		cmocka_unit_test(test_parse_error_closes),
		cmocka_unit_test(test_huge_request),
		cmocka_unit_test(test_never_reading_client),
		cmocka_unit_test(test_many_clients),
		cmocka_unit_test(test_gone_mid_request),
		cmocka_unit_test(test_stalled_clients),
		cmocka_unit_test(test_garbage_storm),
		cmocka_unit_test(test_socket_in_use),
		cmocka_unit_test(test_socket_stale_or_foreign),
		cmocka_unit_test(test_rpc_off),
		cmocka_unit_test(test_answer_when_finished),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s NVMFT_TGT\n", argv[0]);
		return 2;
	}
	rt_tgt_path = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
