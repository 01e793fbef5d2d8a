/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON-RPC methods: the dispatcher (rpc.c) and what the method files
 * (rpc_app.c, rpc_nvmf.c, rpc_bdev.c) share.  doc/rpc.md lists every
 * method with its parameters, answers and errors.
 *
 * Methods that change the target run one at a time, in arrival order
 * across all clients: one that waits for the library (a namespace
 * draining, a subsystem whose hosts disconnect) holds the next until it
 * answers, so no change ever lands in the middle of another, and what a
 * client reads after an answer includes that change.  Methods that only
 * read answer at once.  Management thread.
 */
#ifndef NVMFT_TGT_RPC_H
#define NVMFT_TGT_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "plan.h"
#include "rpc_server.h"
#include "state.h"

/* The only NVMe-oF target here has SPDK's default target name. */
#define RPC_TGT_NAME "nvmf_tgt"

struct rpc_ctx {
	struct app_state *st;
	TAILQ_HEAD(, rpc_req) queue; /* changes waiting for their turn */
	struct rpc_req *busy;	     /* the change in progress */
	bool kicking;
	bool stopped;
};

enum {
	RPC_M_CHANGES = 1u << 0, /* changes the target: one at a time */
	RPC_M_STARTUP = 1u << 1, /* SPDK allows it only before framework_start_init */
};

struct rpc_method {
	const char *name;
	void (*fn)(struct rpc_ctx *ctx, struct rpc_req *req);
	unsigned int flags;
};

/* The method tables; each ends with a { NULL } entry. */
extern const struct rpc_method rpc_app_methods[];
extern const struct rpc_method rpc_nvmf_methods[];
extern const struct rpc_method rpc_bdev_methods[];

/* Dispatcher: serve @srv's requests on @st.  rpc_stop() before the server closes. */
void rpc_init(struct rpc_ctx *ctx, struct app_state *st, struct rpc_server *srv);
/* Drop changes still queued; the one in progress answers into the void. */
void rpc_stop(struct rpc_ctx *ctx);

/* Visit every method name a client may call (tables and accepted tuning methods). */
void rpc_foreach_method(void (*fn)(void *arg, const char *name, unsigned int flags), void *arg);

/* ---- For the method files ------------------------------------------------------- */

/* Answer (takes @result; NULL: out of memory) and let the next change run. */
void rpc_reply(struct rpc_ctx *ctx, struct rpc_req *req, json_t *result);
void rpc_reply_true(struct rpc_ctx *ctx, struct rpc_req *req);
/*
 * Answer with an error.  @why, when not NULL, is logged with the method's
 * name (SPDK logs the cause and sends a fixed text; we do the same).
 */
void rpc_fail(struct rpc_ctx *ctx, struct rpc_req *req, const char *why, int code, const char *fmt,
	      ...) __attribute__((format(printf, 5, 6)));
/* Answer -errno with strerror's text, as SPDK's bdev methods do. */
void rpc_fail_errno(struct rpc_ctx *ctx, struct rpc_req *req, const char *why, int rc);

/* A method's parameters, by kind; .type: JSON_STRING, JSON_INTEGER (>= 0), JSON_TRUE (boolean). */
struct rpc_param {
	const char *name;
	json_type type;
	bool required;
};

/*
 * Check @req's parameters against @tab (strict, as SPDK's decoders):
 * every key known, of its type, the required ones there.  A request
 * without parameters passes when nothing is required.
 */
bool rpc_params_ok(const struct rpc_req *req, const struct rpc_param *tab, size_t n);
#define RPC_PARAMS_OK(req, tab) rpc_params_ok((req), (tab), sizeof(tab) / sizeof((tab)[0]))

/* A string parameter, or NULL. */
const char *rpc_str(const struct rpc_req *req, const char *key);

/*
 * Decode @req's parameters as configuration method @method into a fresh
 * @plan (plan_free() it).  Return as config_parse_method(), with the
 * message in @err.
 */
int rpc_decode(const struct rpc_req *req, const char *method, struct plan *plan, char *err,
	       size_t errlen);

/* false (and answers) when "tgt_name" names another target than ours. */
bool rpc_tgt_ok(struct rpc_ctx *ctx, struct rpc_req *req, const char *msg);

/*
 * A method that waits for the library: the request and its context, for an
 * nvmft_done_fn.  rpc_wait_true() answers true when called, whatever the
 * status (SPDK answers these so); see rpc_nvmf.c and rpc_bdev.c.
 */
struct rpc_wait {
	struct rpc_ctx *ctx;
	struct rpc_req *req;
	uint32_t nsid;
	void *obj;
};
struct rpc_wait *rpc_wait_new(struct rpc_ctx *ctx, struct rpc_req *req);
void rpc_wait_true(void *arg, int status);

#endif /* NVMFT_TGT_RPC_H */
