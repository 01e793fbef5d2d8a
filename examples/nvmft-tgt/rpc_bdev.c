/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPDK's bdev_* JSON-RPC methods for the bdev kinds nvmft-tgt has: malloc
 * (RAM), null and uring (a file or block device).  Like SPDK's bdev
 * modules these answer a parameter that does not decode with -32603
 * "spdk_json_decode_object failed" and a failure with -errno and its text.
 *
 * Deleting a bdev that backs a namespace removes the namespace first, as
 * SPDK's hot-remove does, and answers once it is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "rpc.h"

#define DECODE_FAILED "spdk_json_decode_object failed"

/* Decode a create method's parameters; false (answered) on failure. */
static bool decode_bdev(struct rpc_ctx *ctx, struct rpc_req *req, const char *method,
			struct plan *p)
{
	char err[512];
	int rc = rpc_decode(req, method, p, err, sizeof(err));

	if (rc == 0)
		return true;
	if (rc == -EOPNOTSUPP)
		rpc_fail(ctx, req, NULL, -EOPNOTSUPP, "%s", err);
	else if (rc == -ENOMEM)
		rpc_fail_errno(ctx, req, NULL, -ENOMEM);
	else
		rpc_fail(ctx, req, err, RPC_ERR_INTERNAL, DECODE_FAILED);
	plan_free(p);
	return false;
}

static void create_ram_or_null(struct rpc_ctx *ctx, struct rpc_req *req, const char *method)
{
	const struct plan_bdev *b;
	struct app_bdev *made;
	char err[384], name[32];
	json_t *params = req->params;
	struct plan p;
	int rc;

	/* SPDK names an unnamed malloc bdev MallocN, N counting such bdevs. */
	if (strcmp(method, "bdev_malloc_create") == 0 && json_is_object(params) &&
	    json_object_get(params, "name") == NULL) {
		snprintf(name, sizeof(name), "Malloc%u", ctx->st->malloc_seq);
		params = json_copy(params);
		if (params == NULL || json_object_set_new(params, "name", json_string(name)) < 0) {
			json_decref(params);
			rpc_fail_errno(ctx, req, NULL, -ENOMEM);
			return;
		}
		ctx->st->malloc_seq++;
		/* The request owns its parameters: swap in the named copy. */
		json_object_set_new(req->root, "params", params);
		req->params = params;
	}
	/* SPDK decodes 0 and refuses it as a size; a configuration file refuses it as a value. */
	if (json_is_object(params) && json_is_integer(json_object_get(params, "num_blocks")) &&
	    json_integer_value(json_object_get(params, "num_blocks")) == 0) {
		rpc_fail_errno(ctx, req, "num_blocks is 0", -EINVAL);
		return;
	}
	if (!decode_bdev(ctx, req, method, &p))
		return;
	b = &p.bdevs[0];
	/* SPDK's order: the geometry, then the name. */
	if (b->num_blocks == 0 || !plan_block_size_valid(b->block_size) ||
	    b->num_blocks > UINT64_MAX / b->block_size) {
		rpc_fail_errno(ctx, req,
			       "num_blocks must be positive and block_size a power of two "
			       "from 512 to 65536",
			       -EINVAL);
		goto out;
	}
	rc = bdev_create(ctx->st, b, &made, err, sizeof(err));
	if (rc < 0)
		rpc_fail_errno(ctx, req, err, rc);
	else
		rpc_reply(ctx, req, json_string(made->name));
out:
	plan_free(&p);
}

static void rpc_bdev_malloc_create(struct rpc_ctx *ctx, struct rpc_req *req)
{
	create_ram_or_null(ctx, req, "bdev_malloc_create");
}

static void rpc_bdev_null_create(struct rpc_ctx *ctx, struct rpc_req *req)
{
	create_ram_or_null(ctx, req, "bdev_null_create");
}

static void rpc_bdev_uring_create(struct rpc_ctx *ctx, struct rpc_req *req)
{
	struct app_bdev *made;
	char err[384];
	struct plan p;

	if (!decode_bdev(ctx, req, "bdev_uring_create", &p))
		return;
	if (bdev_create(ctx->st, &p.bdevs[0], &made, err, sizeof(err)) < 0)
		rpc_fail(ctx, req, err, RPC_ERR_INTERNAL, "Unable to create URING bdev.");
	else
		rpc_reply(ctx, req, json_string(made->name));
	plan_free(&p);
}

/* ---- Deleting ------------------------------------------------------------------------ */

struct bdev_del {
	struct rpc_ctx *ctx;
	struct rpc_req *req;
	struct app_bdev *b;
};

static void bdev_del_finish(struct bdev_del *d)
{
	int rc = d->ctx->st->stopping ? 0 : bdev_destroy(d->ctx->st, d->b);

	/* A backend I/O that outlived the drain deadline still holds the backend. */
	if (rc < 0)
		rpc_fail_errno(d->ctx, d->req, "its backend still has I/O outstanding", rc);
	else
		rpc_reply_true(d->ctx, d->req);
	free(d);
}

static void bdev_del_ns_removed(void *arg, int status)
{
	(void)status;
	bdev_del_finish(arg);
}

static void delete_kind(struct rpc_ctx *ctx, struct rpc_req *req, enum plan_bdev_kind kind)
{
	static const struct rpc_param tab[] = { { "name", JSON_STRING, true } };
	struct app_bdev *b;
	struct nvmft_ns *ns;
	struct bdev_del *d;

	if (!RPC_PARAMS_OK(req, tab)) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INTERNAL, DECODE_FAILED);
		return;
	}
	/* Only a bdev of the method's own module, as SPDK's unregister_by_name checks. */
	b = bdev_find(ctx->st, rpc_str(req, "name"));
	if (b == NULL || b->kind != kind || b->fault) {
		rpc_fail_errno(ctx, req, "no such bdev of this kind", -ENODEV);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		rpc_fail_errno(ctx, req, NULL, -ENOMEM);
		return;
	}
	d->ctx = ctx;
	d->req = req;
	d->b = b;
	ns = nvmft_backend_get_ns(b->be);
	if (ns == NULL) {
		bdev_del_finish(d);
		return;
	}
	app_log(ctx->st->log, NVMFT_LOG_NOTICE, "bdev %s deleted: removing namespace %u of %s",
		b->name, nvmft_ns_get_nsid(ns), nvmft_subsystem_get_nqn(nvmft_ns_get_subsystem(ns)));
	nvmft_ns_remove(ns, bdev_del_ns_removed, d);
}

static void rpc_bdev_malloc_delete(struct rpc_ctx *ctx, struct rpc_req *req)
{
	delete_kind(ctx, req, PLAN_BDEV_RAM);
}

static void rpc_bdev_null_delete(struct rpc_ctx *ctx, struct rpc_req *req)
{
	delete_kind(ctx, req, PLAN_BDEV_NULL);
}

static void rpc_bdev_uring_delete(struct rpc_ctx *ctx, struct rpc_req *req)
{
	delete_kind(ctx, req, PLAN_BDEV_FILE);
}

/* ---- Listing ------------------------------------------------------------------------- */

static void rpc_bdev_get_bdevs(struct rpc_ctx *ctx, struct rpc_req *req)
{
	static const struct rpc_param tab[] = {
		{ "name", JSON_STRING, false },
		{ "timeout", JSON_INTEGER, false },
	};
	const char *name = rpc_str(req, "name");
	struct app_bdev *b;
	json_t *a;

	if (!RPC_PARAMS_OK(req, tab)) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INTERNAL, DECODE_FAILED);
		return;
	}
	/*
	 * "timeout" waits for a bdev to appear in SPDK (examine, hot-plug); here
	 * bdevs appear only by RPCs answered once they exist, so it is accepted
	 * and there is nothing to wait for.
	 */
	if (name != NULL) {
		b = bdev_find(ctx->st, name);
		if (b == NULL) {
			rpc_fail_errno(ctx, req, "no such bdev", -ENODEV);
			return;
		}
		rpc_reply(ctx, req, json_pack("[o]", dump_bdev(b)));
		return;
	}
	a = json_array();
	TAILQ_FOREACH(b, &ctx->st->bdevs, link) {
		if (a == NULL)
			break;
		json_array_append_new(a, dump_bdev(b));
	}
	rpc_reply(ctx, req, a);
}

const struct rpc_method rpc_bdev_methods[] = {
	{ "bdev_malloc_create", rpc_bdev_malloc_create, RPC_M_CHANGES },
	{ "bdev_malloc_delete", rpc_bdev_malloc_delete, RPC_M_CHANGES },
	{ "bdev_null_create", rpc_bdev_null_create, RPC_M_CHANGES },
	{ "bdev_null_delete", rpc_bdev_null_delete, RPC_M_CHANGES },
	{ "bdev_uring_create", rpc_bdev_uring_create, RPC_M_CHANGES },
	{ "bdev_uring_delete", rpc_bdev_uring_delete, RPC_M_CHANGES },
	{ "bdev_get_bdevs", rpc_bdev_get_bdevs, 0 },
	{ NULL, NULL, 0 },
};
