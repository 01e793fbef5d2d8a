/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON-RPC dispatcher (rpc.h): finds a request's method, runs changes
 * one at a time, and holds the helpers every method file uses.
 *
 * Serialising changes.  A method flagged RPC_M_CHANGES joins a queue;
 * rpc_kick() starts the next one whenever none is in progress.  An answer
 * may come from inside the method (most do) or much later from a library
 * callback; either way rpc_reply()/rpc_fail() end the change and kick the
 * queue.  rpc_kick() never recurses: a change answered from inside another
 * kick only marks the queue free, and the outer loop takes the next.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "rpc.h"

static const struct rpc_method *const rpc_tables[] = {
	rpc_app_methods,
	rpc_nvmf_methods,
	rpc_bdev_methods,
};

/* SPDK tuning a configuration may hold and libnvmft has no use for. */
static void rpc_accept(struct rpc_ctx *ctx, struct rpc_req *req)
{
	rpc_reply_true(ctx, req);
}

static const struct rpc_method rpc_tuning = { NULL, rpc_accept, 0 };

static const struct rpc_method *rpc_find(const char *name)
{
	const char *cfg;
	bool ignored;

	for (size_t t = 0; t < sizeof(rpc_tables) / sizeof(rpc_tables[0]); t++)
		for (const struct rpc_method *m = rpc_tables[t]; m->name != NULL; m++)
			if (strcmp(m->name, name) == 0)
				return m;
	for (size_t i = 0; (cfg = config_method(i, &ignored)) != NULL; i++)
		if (ignored && strcmp(cfg, name) == 0)
			return &rpc_tuning;
	return NULL;
}

void rpc_foreach_method(void (*fn)(void *arg, const char *name, unsigned int flags), void *arg)
{
	const char *cfg;
	bool ignored;

	for (size_t t = 0; t < sizeof(rpc_tables) / sizeof(rpc_tables[0]); t++)
		for (const struct rpc_method *m = rpc_tables[t]; m->name != NULL; m++)
			fn(arg, m->name, m->flags);
	for (size_t i = 0; (cfg = config_method(i, &ignored)) != NULL; i++)
		if (ignored)
			fn(arg, cfg, 0);
}

static void rpc_kick(struct rpc_ctx *ctx)
{
	struct rpc_req *req;

	if (ctx->kicking)
		return;
	ctx->kicking = true;
	while (ctx->busy == NULL && (req = TAILQ_FIRST(&ctx->queue)) != NULL) {
		TAILQ_REMOVE(&ctx->queue, req, link);
		ctx->busy = req;
		rpc_find(req->method)->fn(ctx, req);
	}
	ctx->kicking = false;
}

static void rpc_handle(void *arg, struct rpc_req *req)
{
	struct rpc_ctx *ctx = arg;
	const struct rpc_method *m = rpc_find(req->method);

	if (m == NULL) {
		app_log(ctx->st->log, NVMFT_LOG_INFO, "JSON-RPC: unknown method '%s'", req->method);
		rpc_req_error(req, RPC_ERR_METHOD_NOT_FOUND, "Method not found");
		return;
	}
	if (m->flags & RPC_M_STARTUP) {
		/* There is no start-up phase to call it in: the target is always running. */
		rpc_req_error(req, RPC_ERR_INVALID_STATE,
			      "Method may only be called before framework is initialized. "
			      "Use --wait-for-rpc command line parameter and then issue this RPC "
			      "before the framework_start_init RPC.");
		return;
	}
	if (req->dup_key) {
		rpc_fail(ctx, req, "a key is repeated", RPC_ERR_INVALID_PARAMS,
			 "Invalid parameters");
		return;
	}
	if (!(m->flags & RPC_M_CHANGES)) {
		m->fn(ctx, req);
		return;
	}
	TAILQ_INSERT_TAIL(&ctx->queue, req, link);
	rpc_kick(ctx);
}

void rpc_init(struct rpc_ctx *ctx, struct app_state *st, struct rpc_server *srv)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->st = st;
	TAILQ_INIT(&ctx->queue);
	rpc_server_start(srv, rpc_handle, ctx);
}

void rpc_stop(struct rpc_ctx *ctx)
{
	struct rpc_req *req;

	ctx->stopped = true;
	while ((req = TAILQ_FIRST(&ctx->queue)) != NULL) {
		TAILQ_REMOVE(&ctx->queue, req, link);
		rpc_req_drop(req);
	}
}

/* ---- Answers ------------------------------------------------------------------------- */

/* @req is answered: if it was the change in progress, the next may run. */
static void rpc_done(struct rpc_ctx *ctx, bool was_busy)
{
	if (!was_busy)
		return;
	ctx->busy = NULL;
	if (!ctx->stopped)
		rpc_kick(ctx);
}

void rpc_reply(struct rpc_ctx *ctx, struct rpc_req *req, json_t *result)
{
	bool busy = req == ctx->busy;

	rpc_req_result(req, result);
	rpc_done(ctx, busy);
}

void rpc_reply_true(struct rpc_ctx *ctx, struct rpc_req *req)
{
	rpc_reply(ctx, req, json_true());
}

void rpc_fail(struct rpc_ctx *ctx, struct rpc_req *req, const char *why, int code, const char *fmt,
	      ...)
{
	bool busy = req == ctx->busy;
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	/*
	 * The client's mistake, not the daemon's: a line at info level, not an
	 * alarm, and no flood at the default level from a client that errs in a loop.
	 */
	app_log(ctx->st->log, NVMFT_LOG_INFO, "JSON-RPC %s: %s", req->method,
		why != NULL ? why : (msg != NULL ? msg : "error"));
	rpc_req_error(req, code, "%s", msg != NULL ? msg : "Error");
	free(msg);
	rpc_done(ctx, busy);
}

void rpc_fail_errno(struct rpc_ctx *ctx, struct rpc_req *req, const char *why, int rc)
{
	rpc_fail(ctx, req, why, rc, "%s", strerror(-rc));
}

/* ---- Parameters -------------------------------------------------------------------- */

static bool param_type_ok(json_t *v, json_type type)
{
	switch (type) {
	case JSON_STRING:
		return json_is_string(v);
	case JSON_INTEGER:
		return json_is_integer(v) && json_integer_value(v) >= 0;
	case JSON_TRUE:
	case JSON_FALSE:
		return json_is_boolean(v);
	default:
		return json_typeof(v) == type;
	}
}

bool rpc_params_ok(const struct rpc_req *req, const struct rpc_param *tab, size_t n)
{
	const char *key;
	json_t *v;

	if (req->params == NULL) {
		for (size_t i = 0; i < n; i++)
			if (tab[i].required)
				return false;
		return true;
	}
	if (!json_is_object(req->params))
		return false;
	json_object_foreach(req->params, key, v) {
		size_t i;

		for (i = 0; i < n && strcmp(tab[i].name, key) != 0; i++)
			;
		if (i == n || !param_type_ok(v, tab[i].type))
			return false;
	}
	for (size_t i = 0; i < n; i++)
		if (tab[i].required && json_object_get(req->params, tab[i].name) == NULL)
			return false;
	return true;
}

const char *rpc_str(const struct rpc_req *req, const char *key)
{
	json_t *v = json_is_object(req->params) ? json_object_get(req->params, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int rpc_decode(const struct rpc_req *req, const char *method, struct plan *plan, char *err,
	       size_t errlen)
{
	plan_init(plan);
	return config_parse_method(method, req->params, plan, err, errlen);
}

bool rpc_tgt_ok(struct rpc_ctx *ctx, struct rpc_req *req, const char *msg)
{
	const char *name = rpc_str(req, "tgt_name");

	if (name == NULL || strcmp(name, RPC_TGT_NAME) == 0)
		return true;
	rpc_fail(ctx, req, "nvmft-tgt has one target, \"" RPC_TGT_NAME "\"", RPC_ERR_INTERNAL,
		 "%s", msg);
	return false;
}

/* ---- Waiting for the library ------------------------------------------------------- */

struct rpc_wait *rpc_wait_new(struct rpc_ctx *ctx, struct rpc_req *req)
{
	struct rpc_wait *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INTERNAL, "Out of memory");
		return NULL;
	}
	w->ctx = ctx;
	w->req = req;
	return w;
}

void rpc_wait_true(void *arg, int status)
{
	struct rpc_wait *w = arg;

	if (status < 0)
		app_log(w->ctx->st->log, NVMFT_LOG_WARN, "JSON-RPC %s: finished with %s",
			w->req->method, strerror(-status));
	rpc_reply_true(w->ctx, w->req);
	free(w);
}
