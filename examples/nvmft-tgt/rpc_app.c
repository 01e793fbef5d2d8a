/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON-RPC methods about the application rather than one object: method
 * lists, version, start-up, and the configuration as a whole
 * (save_config, load_config, and framework_get_subsystems/_get_config,
 * which SPDK's rpc.py save_config calls).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvmft/version.h>

#include "load.h"
#include "rpc.h"
#include "save_config.h"

/*
 * The SPDK release whose methods, parameters and answers these follow;
 * clients that check spdk_get_version see what to expect.
 */
#define RPC_SPDK_MAJOR 25
#define RPC_SPDK_MINOR 9

struct method_list {
	json_t *names;
	bool current;
};

static void list_method(void *arg, const char *name, unsigned int flags)
{
	struct method_list *l = arg;

	/* "current": what may be called now; the target is always past start-up. */
	if (l->current && (flags & RPC_M_STARTUP))
		return;
	json_array_append_new(l->names, json_string(name));
}

static void rpc_get_methods(struct rpc_ctx *ctx, struct rpc_req *req)
{
	static const struct rpc_param tab[] = {
		{ "current", JSON_TRUE, false },
		{ "include_aliases", JSON_TRUE, false },
	};
	struct method_list l = { .names = json_array() };

	if (!RPC_PARAMS_OK(req, tab)) {
		json_decref(l.names);
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid parameters");
		return;
	}
	/* There are no deprecated aliases: include_aliases changes nothing. */
	l.current = req->params != NULL && json_is_true(json_object_get(req->params, "current"));
	if (l.names != NULL)
		rpc_foreach_method(list_method, &l);
	rpc_reply(ctx, req, l.names);
}

static void rpc_spdk_get_version(struct rpc_ctx *ctx, struct rpc_req *req)
{
	char version[128];

	if (req->params != NULL) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS,
			 "spdk_get_version method requires no parameters");
		return;
	}
	snprintf(version, sizeof(version), "SPDK v%d.%02d compatible: nvmft-tgt %s (libnvmft %s)",
		 RPC_SPDK_MAJOR, RPC_SPDK_MINOR, NVMFT_VERSION_STRING, nvmft_version());
	rpc_reply(ctx, req,
		  json_pack("{s:s, s:{s:i, s:i, s:i, s:s}}", "version", version, "fields", "major",
			    RPC_SPDK_MAJOR, "minor", RPC_SPDK_MINOR, "patch", 0, "suffix",
			    "-nvmft"));
}

/* Requests are served once start-up is over, so it has always finished by now. */
static void rpc_framework_wait_init(struct rpc_ctx *ctx, struct rpc_req *req)
{
	rpc_reply_true(ctx, req);
}

/* Flagged RPC_M_STARTUP: the dispatcher answers as SPDK does after start-up. */
static void rpc_framework_start_init(struct rpc_ctx *ctx, struct rpc_req *req)
{
	rpc_reply_true(ctx, req);
}

static void rpc_framework_get_subsystems(struct rpc_ctx *ctx, struct rpc_req *req)
{
	if (req->params != NULL) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS,
			 "'framework_get_subsystems' requires no arguments");
		return;
	}
	rpc_reply(ctx, req, save_config_sections());
}

static void rpc_framework_get_config(struct rpc_ctx *ctx, struct rpc_req *req)
{
	static const struct rpc_param tab[] = { { "name", JSON_STRING, true } };
	const char *name;
	bool unknown;
	json_t *cfg;

	if (!RPC_PARAMS_OK(req, tab)) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid arguments");
		return;
	}
	name = rpc_str(req, "name");
	cfg = save_config_section(ctx->st, name, &unknown);
	if (unknown) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Subsystem '%s' not found", name);
		return;
	}
	rpc_reply(ctx, req, cfg);
}

static void rpc_save_config(struct rpc_ctx *ctx, struct rpc_req *req)
{
	bool empty = json_is_object(req->params) && json_object_size(req->params) == 0;

	if (req->params != NULL && !empty) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS,
			 "save_config requires no parameters");
		return;
	}
	rpc_reply(ctx, req, save_config(ctx->st));
}

static void load_done(void *arg, int status, const char *msg)
{
	struct rpc_wait *w = arg;

	if (status == 0)
		rpc_reply_true(w->ctx, w->req);
	else
		rpc_fail(w->ctx, w->req, NULL, RPC_ERR_INTERNAL, "%s", msg);
	free(w);
}

static void rpc_load_config(struct rpc_ctx *ctx, struct rpc_req *req)
{
	char err[768];
	struct rpc_wait *w;
	int rc;

	if (!json_is_object(req->params)) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS,
			 "Invalid parameters: load_config takes the configuration object "
			 "{\"subsystems\": [...]} as its parameters");
		return;
	}
	w = rpc_wait_new(ctx, req);
	if (w == NULL)
		return;
	rc = load_start(ctx->st, req->params, load_done, w, err, sizeof(err));
	if (rc < 0) {
		free(w);
		if (rc == -ENOMEM)
			rpc_fail(ctx, req, NULL, RPC_ERR_INTERNAL, "Out of memory");
		else
			rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "%s", err);
	}
}

const struct rpc_method rpc_app_methods[] = {
	{ "rpc_get_methods", rpc_get_methods, 0 },
	{ "spdk_get_version", rpc_spdk_get_version, 0 },
	{ "framework_wait_init", rpc_framework_wait_init, 0 },
	{ "framework_start_init", rpc_framework_start_init, RPC_M_STARTUP },
	{ "framework_get_subsystems", rpc_framework_get_subsystems, 0 },
	{ "framework_get_config", rpc_framework_get_config, 0 },
	{ "save_config", rpc_save_config, 0 },
	{ "load_config", rpc_load_config, RPC_M_CHANGES },
	{ NULL, NULL, 0 },
};
