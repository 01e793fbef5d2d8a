/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers of the JSON-RPC tests: an nvmft-tgt process with its own socket
 * in a fresh temporary directory, calls through the project's own client
 * (examples/nvmft-tgt/rpc_client.c), and checks of answers.  Include after
 * <cmocka.h>: failures are cmocka failures at the caller's line.
 */
#ifndef NVMFT_TEST_RPC_TEST_UTIL_H
#define NVMFT_TEST_RPC_TEST_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <nvmft/transport.h>

#include "rpc_client.h"

/* An nvmft-tgt under test. */
struct rt_tgt {
	pid_t pid;
	int out_fd;
	char out[4096];
	size_t out_len;
	char err[65536];
	size_t err_len;
	bool exited;
	int status;
	char dir[64];	   /* its temporary directory */
	char sock[96];	   /* dir/rpc.sock */
	char err_path[96]; /* dir/tgt.err: a file, so the daemon never blocks on stderr */
};

/* The nvmft-tgt binary; set by main() from argv. */
extern const char *rt_tgt_path;

/* Make a fresh temporary directory for @t (and its socket path). */
void rt_mkdir(struct rt_tgt *t);
/* Remove @t's directory and what is in it. */
void rt_rmdir(struct rt_tgt *t);

/*
 * Start nvmft-tgt with @args (NULL-terminated; "-r <dir>/rpc.sock" is not
 * added: pass RT_SOCK to have it replaced by that path), in @t->dir.
 */
#define RT_SOCK "@SOCK@"
void rt_start(struct rt_tgt *t, const char *const *args);
/* Wait for the ready line; false when the process ended first (its stderr is in @t->err). */
bool rt_wait_ready(struct rt_tgt *t);
/* SIGTERM, then the exit code (fails the test after a minute). */
int rt_stop(struct rt_tgt *t);
/* Wait for the exit; the exit code. */
int rt_wait_exit(struct rt_tgt *t);
/* Read what it printed so far (@t->out, @t->err), waiting up to @ms for stdout. */
void rt_drain(struct rt_tgt *t, int ms);
/* rt_mkdir + rt_start(-r SOCK, extra args) + rt_wait_ready, asserting. */
void rt_up(struct rt_tgt *t, const char *const *extra);
/* rt_stop asserting exit 0 and no "error:" or "warning:" line, then rt_rmdir. */
void rt_down(struct rt_tgt *t);

/* A connected client, asserting. */
struct rpc_client *rt_client(const struct rt_tgt *t);

/* Call @method with @params_json (a JSON text, or NULL); the response (asserting one came). */
json_t *rt_call(struct rpc_client *c, const char *method, const char *params_json);
/* The call succeeds: its result (a new reference). */
json_t *rt_ok(struct rpc_client *c, const char *method, const char *params_json);
/* The call fails with exactly @code and @msg (NULL: any message). */
void rt_err(struct rpc_client *c, const char *method, const char *params_json, int code,
	    const char *msg);
/* As rt_err, on a response in hand (taken). */
void rt_assert_err(json_t *resp, int code, const char *msg);
/* The response is the result true (taken). */
void rt_assert_true(json_t *resp);

/*
 * Compare @ours with SPDK's @spdk by shape: the same JSON types, the same
 * keys in objects except those named in @skip (keys SPDK has and nvmft-tgt
 * does not, as doc/rpc.md lists), array elements against SPDK's first.
 * Returns NULL when they match, else a malloc'ed description of the first
 * difference, with its path.
 */
char *rt_shape_diff(json_t *ours, json_t *spdk, const char *const *skip);

/* printf into one of a few rotating static buffers: JSON parameters built inline. */
const char *rt_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The value at a dotted @path ("a.0.b": object keys and array indexes), or NULL. */
json_t *rt_get(json_t *j, const char *path);
/* The integer / string at @path, failing the test when there is none. */
long long rt_geti(json_t *j, const char *path);
const char *rt_gets(json_t *j, const char *path);
/* @a and @b are equal JSON, else fail showing both. */
void rt_assert_json_equal(json_t *a, json_t *b, const char *what);
/* Whether the library was built with transport @trtype. */
bool rt_lib_has(enum nvmft_trtype trtype);


/* Create a file of @bytes zero bytes at @path. */
void rt_make_file(const char *path, size_t bytes);

#endif /* NVMFT_TEST_RPC_TEST_UTIL_H */
