/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPDK's nvmf_* JSON-RPC methods on libnvmft.  Parameters are decoded by
 * config.c, so a method call and a configuration entry accept exactly the
 * same thing; answers and error codes follow SPDK v25.09's (doc/rpc.md).
 * Where SPDK answers a fixed text such as "Invalid parameters", so do we,
 * and the cause goes to the log.  Where SPDK would accept a value that
 * libnvmft cannot honour (ANA reporting, a PTPL file, DH-HMAC-CHAP keys),
 * the error says so instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "dump.h"
#include "rpc.h"

/* Decode with config.c; false (answered) on failure. */
static bool decode(struct rpc_ctx *ctx, struct rpc_req *req, const char *method, struct plan *p,
		   int invalid_code, const char *invalid_msg)
{
	char err[512];
	int rc = rpc_decode(req, method, p, err, sizeof(err));

	if (rc == 0)
		return true;
	if (rc == -EOPNOTSUPP)
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "%s", err);
	else if (rc == -ENOMEM)
		rpc_fail(ctx, req, NULL, RPC_ERR_INTERNAL, "Out of memory");
	else
		rpc_fail(ctx, req, err, invalid_code, "%s", invalid_msg);
	plan_free(p);
	return false;
}

/* The subsystem named by "nqn", or NULL after answering "Invalid parameters". */
static struct nvmft_subsystem *find_subsys(struct rpc_ctx *ctx, struct rpc_req *req,
					   const char *nqn)
{
	struct nvmft_subsystem *ss = nvmft_subsystem_find(ctx->st->tgt, nqn);
	char why[300];

	if (ss == NULL) {
		snprintf(why, sizeof(why), "no subsystem '%s'", nqn);
		rpc_fail(ctx, req, why, RPC_ERR_INVALID_PARAMS, "Invalid parameters");
	}
	return ss;
}

static const struct rpc_param nqn_params[] = {
	{ "nqn", JSON_STRING, true },
	{ "tgt_name", JSON_STRING, false },
};

/* ---- Transports -------------------------------------------------------------------- */

static void rpc_nvmf_create_transport(struct rpc_ctx *ctx, struct rpc_req *req)
{
	const char *name = rpc_str(req, "trtype");
	struct nvmft_transport_opts o;
	enum nvmft_trtype trtype;
	struct plan p;
	char err[384];

	/*
	 * Checked first, as SPDK does, so "not built in" (RDMA without
	 * rdma-core) reads the same as "unknown": SPDK's answer for a type it
	 * has no transport for.
	 */
	if (name != NULL && (state_parse_trtype(name, &trtype) < 0 ||
			     nvmft_transport_opts_init(trtype, &o, sizeof(o)) < 0)) {
		rpc_fail(ctx, req, "this libnvmft has no such transport", RPC_ERR_INVALID_PARAMS,
			 "Invalid transport type '%s'", name);
		return;
	}
	if (!decode(ctx, req, "nvmf_create_transport", &p, RPC_ERR_INVALID_PARAMS,
		    "Invalid parameters"))
		return;
	if (!rpc_tgt_ok(ctx, req, "Unable to find a target.")) {
		plan_free(&p);
		return;
	}
	trtype = p.transports[0].trtype;
	if (nvmft_transport_find(ctx->st->tgt, trtype) != NULL) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INTERNAL, "Transport type '%s' already exists",
			 name);
	} else if (apply_transport(ctx->st, trtype, &p.transports[0], NULL, err, sizeof(err)) < 0) {
		rpc_fail(ctx, req, err, RPC_ERR_INTERNAL, "Transport type '%s' create failed",
			 name);
	} else {
		rpc_reply_true(ctx, req);
	}
	plan_free(&p);
}

static void rpc_nvmf_get_transports(struct rpc_ctx *ctx, struct rpc_req *req)
{
	static const struct rpc_param tab[] = {
		{ "trtype", JSON_STRING, false },
		{ "tgt_name", JSON_STRING, false },
	};
	const char *name = rpc_str(req, "trtype");
	struct nvmft_transport *tr;
	enum nvmft_trtype trtype;
	json_t *a;

	if (!RPC_PARAMS_OK(req, tab)) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid parameters");
		return;
	}
	if (!rpc_tgt_ok(ctx, req, "Unable to find a target."))
		return;
	if (name != NULL) {
		tr = state_parse_trtype(name, &trtype) == 0
			     ? nvmft_transport_find(ctx->st->tgt, trtype)
			     : NULL;
		if (tr == NULL) {
			rpc_fail_errno(ctx, req, "no such transport", -ENODEV);
			return;
		}
		rpc_reply(ctx, req, json_pack("[o]", dump_transport(tr)));
		return;
	}
	a = json_array();
	for (tr = nvmft_transport_get_first(ctx->st->tgt); a && tr; tr = nvmft_transport_get_next(tr))
		json_array_append_new(a, dump_transport(tr));
	rpc_reply(ctx, req, a);
}

/* ---- Subsystems -------------------------------------------------------------------- */

static bool text_ok(const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static void rpc_nvmf_create_subsystem(struct rpc_ctx *ctx, struct rpc_req *req)
{
	const struct plan_subsys *s;
	uint16_t lo, hi;
	struct plan p;
	char err[384];

	if (!decode(ctx, req, "nvmf_create_subsystem", &p, RPC_ERR_INVALID_PARAMS,
		    "Invalid parameters"))
		return;
	s = &p.subsys[0];
	lo = s->min_cntlid ? s->min_cntlid : 1;
	hi = s->max_cntlid ? s->max_cntlid : PLAN_CNTLID_MAX;
	if (!rpc_tgt_ok(ctx, req, "Unable to find target"))
		goto out;
	if (nvmft_subsystem_find(ctx->st->tgt, s->nqn) != NULL)
		rpc_fail(ctx, req, "the NQN is in use", RPC_ERR_INTERNAL,
			 "Unable to create subsystem %s", s->nqn);
	else if (s->serial_number != NULL && !text_ok(s->serial_number, 20))
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid SN %s", s->serial_number);
	else if (s->model_number != NULL && !text_ok(s->model_number, 40))
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid MN %s", s->model_number);
	else if (lo > hi)
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid cntlid range [%u-%u]", lo,
			 hi);
	else if (apply_subsys(ctx->st, s, NULL, err, sizeof(err)) < 0)
		rpc_fail(ctx, req, err, RPC_ERR_INTERNAL, "Unable to create subsystem %s", s->nqn);
	else
		rpc_reply_true(ctx, req);
out:
	plan_free(&p);
}

static void rpc_nvmf_delete_subsystem(struct rpc_ctx *ctx, struct rpc_req *req)
{
	struct nvmft_subsystem *ss;
	struct nvmft_listener **ls;
	struct apply_join *j;
	struct rpc_wait *w;
	unsigned int n = 0;
	int rc;

	if (!RPC_PARAMS_OK(req, nqn_params)) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid parameters");
		return;
	}
	if (!rpc_tgt_ok(ctx, req, "Unable to find a target."))
		return;
	ss = find_subsys(ctx, req, rpc_str(req, "nqn"));
	if (ss == NULL)
		return;
	if (nvmft_subsystem_get_type(ss) != NVMFT_SUBTYPE_NVM) {
		rpc_fail(ctx, req, "the discovery subsystem cannot be deleted",
			 RPC_ERR_INVALID_PARAMS, "Invalid parameters");
		return;
	}
	/* Its listeners, to close the ones nobody else uses once it is gone. */
	while (nvmft_subsystem_get_listener(ss, n) != NULL)
		n++;
	ls = calloc(n + 1, sizeof(*ls));
	if (ls == NULL) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INTERNAL, "Out of memory");
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		ls[i] = nvmft_subsystem_get_listener(ss, i);
	w = rpc_wait_new(ctx, req);
	j = w != NULL ? apply_join_new(rpc_wait_true, w) : NULL;
	if (j == NULL) {
		if (w != NULL) {
			free(w);
			rpc_fail(ctx, req, NULL, RPC_ERR_INTERNAL, "Out of memory");
		}
		free(ls);
		return;
	}
	/* Answered once every host of it is disconnected and it is freed. */
	apply_join_add(j);
	rc = nvmft_subsystem_destroy(ss, apply_join_done, j);
	if (rc < 0)
		apply_join_done(j, rc);
	apply_join_add(j);
	apply_close_unused(ctx->st, ls, n, apply_join_done, j);
	free(ls);
	apply_join_done(j, 0);
}

static void rpc_nvmf_get_subsystems(struct rpc_ctx *ctx, struct rpc_req *req)
{
	static const struct rpc_param tab[] = {
		{ "nqn", JSON_STRING, false },
		{ "tgt_name", JSON_STRING, false },
	};
	const char *nqn = rpc_str(req, "nqn");
	struct nvmft_subsystem *ss;
	json_t *a;

	if (!RPC_PARAMS_OK(req, tab)) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid parameters");
		return;
	}
	if (!rpc_tgt_ok(ctx, req, "Unable to find a target."))
		return;
	if (nqn != NULL) {
		ss = nvmft_subsystem_find(ctx->st->tgt, nqn);
		if (ss == NULL) {
			rpc_fail_errno(ctx, req, "no such subsystem", -ENODEV);
			return;
		}
		rpc_reply(ctx, req, json_pack("[o]", dump_subsystem(ctx->st, ss)));
		return;
	}
	a = json_array();
	for (ss = nvmft_subsystem_get_first(ctx->st->tgt); a && ss; ss = nvmft_subsystem_get_next(ss))
		json_array_append_new(a, dump_subsystem(ctx->st, ss));
	rpc_reply(ctx, req, a);
}

static void rpc_nvmf_subsystem_allow_any_host(struct rpc_ctx *ctx, struct rpc_req *req)
{
	struct nvmft_subsystem *ss;
	struct plan p;

	if (!decode(ctx, req, "nvmf_subsystem_allow_any_host", &p, RPC_ERR_INVALID_PARAMS,
		    "Invalid parameters"))
		return;
	if (rpc_tgt_ok(ctx, req, "Unable to find a target.")) {
		ss = find_subsys(ctx, req, p.allows[0].nqn);
		if (ss != NULL && nvmft_subsystem_set_allow_any_host(ss, p.allows[0].allow) < 0)
			rpc_fail(ctx, req, NULL, RPC_ERR_INTERNAL, "Internal error");
		else if (ss != NULL)
			rpc_reply_true(ctx, req);
	}
	plan_free(&p);
}

/* ---- Hosts ------------------------------------------------------------------------- */

static void rpc_nvmf_subsystem_add_host(struct rpc_ctx *ctx, struct rpc_req *req)
{
	struct nvmft_subsystem *ss;
	struct plan p;
	int rc;

	if (!decode(ctx, req, "nvmf_subsystem_add_host", &p, RPC_ERR_INVALID_PARAMS,
		    "Invalid parameters"))
		return;
	if (rpc_tgt_ok(ctx, req, "Unable to find a target.")) {
		ss = find_subsys(ctx, req, p.hosts[0].nqn);
		rc = ss ? nvmft_subsystem_add_host(ss, p.hosts[0].host) : 0;
		if (rc < 0)
			rpc_fail(ctx, req, strerror(-rc), RPC_ERR_INTERNAL, "Internal error");
		else if (ss != NULL)
			rpc_reply_true(ctx, req);
	}
	plan_free(&p);
}

static void rpc_nvmf_subsystem_remove_host(struct rpc_ctx *ctx, struct rpc_req *req)
{
	static const struct rpc_param tab[] = {
		{ "nqn", JSON_STRING, true },
		{ "host", JSON_STRING, true },
		{ "tgt_name", JSON_STRING, false },
		{ "dhchap_key", JSON_STRING, false },
		{ "dhchap_ctrlr_key", JSON_STRING, false },
	};
	struct nvmft_subsystem *ss;
	struct rpc_wait *w;
	int rc;

	if (!RPC_PARAMS_OK(req, tab)) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid parameters");
		return;
	}
	if (!rpc_tgt_ok(ctx, req, "Unable to find a target."))
		return;
	ss = find_subsys(ctx, req, rpc_str(req, "nqn"));
	if (ss == NULL || (w = rpc_wait_new(ctx, req)) == NULL)
		return;
	/* Answered once that host's controllers are disconnected. */
	rc = nvmft_subsystem_remove_host(ss, rpc_str(req, "host"), rpc_wait_true, w);
	if (rc < 0) {
		free(w);
		rpc_fail(ctx, req, strerror(-rc), RPC_ERR_INTERNAL, "Internal error");
	}
}

/* ---- Namespaces -------------------------------------------------------------------- */

static void ns_added(void *arg, int status)
{
	struct rpc_wait *w = arg;

	if (status < 0)
		rpc_fail(w->ctx, w->req, strerror(-status), RPC_ERR_INVALID_PARAMS,
			 "Invalid parameters");
	else
		rpc_reply(w->ctx, w->req, json_integer(w->nsid));
	free(w);
}

static void rpc_nvmf_subsystem_add_ns(struct rpc_ctx *ctx, struct rpc_req *req)
{
	struct nvmft_ns *ns;
	struct rpc_wait *w;
	struct plan p;
	char err[384];

	if (!decode(ctx, req, "nvmf_subsystem_add_ns", &p, RPC_ERR_INVALID_PARAMS,
		    "Invalid parameters"))
		return;
	if (!rpc_tgt_ok(ctx, req, "Unable to find a target."))
		goto out;
	w = rpc_wait_new(ctx, req);
	if (w == NULL)
		goto out;
	/* Answered with the NSID once every poll group can do I/O to it. */
	if (apply_ns(ctx->st, &p.ns[0], ns_added, w, &ns, err, sizeof(err)) < 0) {
		free(w);
		rpc_fail(ctx, req, err, RPC_ERR_INVALID_PARAMS, "Invalid parameters");
		goto out;
	}
	w->nsid = nvmft_ns_get_nsid(ns);
out:
	plan_free(&p);
}

static void rpc_nvmf_subsystem_remove_ns(struct rpc_ctx *ctx, struct rpc_req *req)
{
	static const struct rpc_param tab[] = {
		{ "nqn", JSON_STRING, true },
		{ "nsid", JSON_INTEGER, true },
		{ "tgt_name", JSON_STRING, false },
	};
	struct nvmft_subsystem *ss;
	struct nvmft_ns *ns = NULL;
	json_int_t nsid;
	struct rpc_wait *w;

	if (!RPC_PARAMS_OK(req, tab)) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid parameters");
		return;
	}
	if (!rpc_tgt_ok(ctx, req, "Unable to find a target."))
		return;
	ss = find_subsys(ctx, req, rpc_str(req, "nqn"));
	if (ss == NULL)
		return;
	nsid = json_integer_value(json_object_get(req->params, "nsid"));
	if (nsid > 0 && nsid <= UINT32_MAX)
		ns = nvmft_ns_find(ss, (uint32_t)nsid);
	if (ns == NULL) {
		rpc_fail(ctx, req, "no such namespace", RPC_ERR_INVALID_PARAMS,
			 "Invalid parameters");
		return;
	}
	w = rpc_wait_new(ctx, req);
	if (w == NULL)
		return;
	/* Answered once its I/O drained on every poll group (or the drain deadline passed). */
	nvmft_ns_remove(ns, rpc_wait_true, w);
}

/* ---- Listeners --------------------------------------------------------------------- */

static void rpc_nvmf_subsystem_add_listener(struct rpc_ctx *ctx, struct rpc_req *req)
{
	const struct plan_listener *l;
	struct plan p;
	char err[384];
	bool created;

	if (!decode(ctx, req, "nvmf_subsystem_add_listener", &p, RPC_ERR_INVALID_PARAMS,
		    "Invalid parameters"))
		return;
	l = &p.listeners[0];
	if (!rpc_tgt_ok(ctx, req, "Unable to find a target."))
		goto out;
	if (find_subsys(ctx, req, l->nqn) == NULL)
		goto out;
	/* vfio-user's directory and the rest of its rules: apply_listener(). */
	if (l->trtype != NVMFT_TRTYPE_VFIOUSER &&
	    (!plan_addr_valid(l->adrfam, l->traddr) || !plan_port_valid(l->trsvcid)))
		rpc_fail(ctx, req, "not a numeric address and port", RPC_ERR_INVALID_PARAMS,
			 "Invalid parameters");
	else if (apply_listener(ctx->st, l, NULL, &created, err, sizeof(err)) < 0)
		rpc_fail(ctx, req, err, RPC_ERR_INVALID_PARAMS, "Invalid parameters");
	else
		rpc_reply_true(ctx, req);
out:
	plan_free(&p);
}

static void rpc_nvmf_subsystem_remove_listener(struct rpc_ctx *ctx, struct rpc_req *req)
{
	struct nvmft_subsystem *ss;
	struct nvmft_listener *l, *x;
	bool attached = false;
	struct rpc_wait *w;
	struct plan p;

	if (!decode(ctx, req, "nvmf_subsystem_add_listener", &p, RPC_ERR_INVALID_PARAMS,
		    "Invalid parameters"))
		return;
	if (!rpc_tgt_ok(ctx, req, "Unable to find a target."))
		goto out;
	ss = find_subsys(ctx, req, p.listeners[0].nqn);
	if (ss == NULL)
		goto out;
	l = apply_find_listener(ctx->st, &p.listeners[0]);
	if (nvmft_subsystem_get_type(ss) == NVMFT_SUBTYPE_DISCOVERY) {
		attached = l != NULL && state_held(ctx->st, l);
		ss = NULL;
	} else {
		for (unsigned int i = 0; l && (x = nvmft_subsystem_get_listener(ss, i)); i++)
			attached |= x == l;
	}
	if (!attached) {
		rpc_fail(ctx, req, "the subsystem has no such listener", RPC_ERR_INVALID_PARAMS,
			 "Invalid parameters");
		goto out;
	}
	w = rpc_wait_new(ctx, req);
	if (w == NULL)
		goto out;
	/* Answered once the hosts that came in through it are disconnected. */
	apply_unlisten(ctx->st, ss, l, rpc_wait_true, w);
out:
	plan_free(&p);
}

static void rpc_nvmf_subsystem_get_listeners(struct rpc_ctx *ctx, struct rpc_req *req)
{
	struct nvmft_subsystem *ss;
	struct nvmft_listener *l;
	json_t *a;

	if (!RPC_PARAMS_OK(req, nqn_params)) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid parameters");
		return;
	}
	if (!rpc_tgt_ok(ctx, req, "Unable to find a target"))
		return;
	ss = find_subsys(ctx, req, rpc_str(req, "nqn"));
	if (ss == NULL)
		return;
	a = json_array();
	if (nvmft_subsystem_get_type(ss) == NVMFT_SUBTYPE_DISCOVERY) {
		for (size_t i = 0; a && i < ctx->st->n_held; i++)
			json_array_append_new(a, json_pack("{s:o}", "address",
							   dump_listen_address(ctx->st->held[i])));
	} else {
		for (unsigned int i = 0; a && (l = nvmft_subsystem_get_listener(ss, i)); i++)
			json_array_append_new(a, json_pack("{s:o}", "address",
							   dump_listen_address(l)));
	}
	rpc_reply(ctx, req, a);
}

/* ---- Controllers and queue pairs ----------------------------------------------------- */

struct ctrlr_walk {
	json_t *a;
	const char *type; /* SPDK's cntrltype */
};

static int dump_ctrlr(void *arg, const struct nvmft_ctrlr *c)
{
	struct ctrlr_walk *w = arg;
	uint8_t hostid[16];

	nvmft_ctrlr_get_hostid(c, hostid);
	/* num_io_qpairs counts the admin queue too: SPDK's number is the same. */
	json_array_append_new(w->a, json_pack("{s:i, s:s, s:s, s:o, s:I}", "cntlid",
					      (int)nvmft_ctrlr_get_cntlid(c), "cntrltype", w->type,
					      "hostnqn", nvmft_ctrlr_get_hostnqn(c), "hostid",
					      dump_uuid(hostid), "num_io_qpairs",
					      (json_int_t)nvmft_ctrlr_get_num_qpairs(c)));
	return 0;
}

struct qpair_walk {
	json_t *a;
	const struct nvmft_ctrlr *ctrlr;
};

static json_t *peer_address(const struct nvmft_qpair *qp)
{
	enum nvmft_adrfam adrfam = NVMFT_ADRFAM_IPV4;
	char addr[64], port[16];

	if (nvmft_qpair_get_peer(qp, &adrfam, addr, sizeof(addr), port, sizeof(port)) < 0)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:s}", "trtype",
			 nvmft_trtype_name(nvmft_qpair_get_trtype(qp)), "adrfam",
			 dump_adrfam_name(adrfam), "traddr", addr, "trsvcid", port);
}

static int dump_qpair(void *arg, const struct nvmft_qpair *qp)
{
	struct qpair_walk *w = arg;
	const struct nvmft_listener *l = nvmft_qpair_get_listener(qp);
	const char *pg = nvmft_qpair_get_poll_group_name(qp);
	json_t *peer = peer_address(qp);
	json_t *q;

	q = json_pack("{s:i, s:i, s:s, s:s, s:s}", "cntlid",
		      (int)nvmft_ctrlr_get_cntlid(w->ctrlr), "qid", (int)nvmft_qpair_get_qid(qp),
		      "state", "enabled", "thread", pg ? pg : "", "hostnqn",
		      nvmft_ctrlr_get_hostnqn(w->ctrlr));
	if (q != NULL && l != NULL)
		json_object_set_new(q, "listen_address", dump_listen_address(l));
	if (q != NULL && peer != NULL)
		json_object_set_new(q, "peer_address", peer);
	else
		json_decref(peer);
	json_array_append_new(w->a, q);
	return 0;
}

static int dump_ctrlr_qpairs(void *arg, const struct nvmft_ctrlr *c)
{
	struct qpair_walk *w = arg;

	w->ctrlr = c;
	return nvmft_ctrlr_foreach_qpair(c, dump_qpair, w);
}

static struct nvmft_subsystem *query_subsys(struct rpc_ctx *ctx, struct rpc_req *req)
{
	if (!RPC_PARAMS_OK(req, nqn_params)) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid parameters");
		return NULL;
	}
	if (!rpc_tgt_ok(ctx, req, "Unable to find a target"))
		return NULL;
	return find_subsys(ctx, req, rpc_str(req, "nqn"));
}

static void rpc_nvmf_subsystem_get_controllers(struct rpc_ctx *ctx, struct rpc_req *req)
{
	struct nvmft_subsystem *ss = query_subsys(ctx, req);
	struct ctrlr_walk w;

	if (ss == NULL)
		return;
	w.a = json_array();
	w.type = nvmft_subsystem_get_type(ss) == NVMFT_SUBTYPE_DISCOVERY ? "discovery" : "io";
	if (w.a != NULL)
		nvmft_subsystem_foreach_ctrlr(ss, dump_ctrlr, &w);
	rpc_reply(ctx, req, w.a);
}

static void rpc_nvmf_subsystem_get_qpairs(struct rpc_ctx *ctx, struct rpc_req *req)
{
	struct nvmft_subsystem *ss = query_subsys(ctx, req);
	struct qpair_walk w = { 0 };

	if (ss == NULL)
		return;
	w.a = json_array();
	if (w.a != NULL)
		nvmft_subsystem_foreach_ctrlr(ss, dump_ctrlr_qpairs, &w);
	rpc_reply(ctx, req, w.a);
}

/* ---- Statistics -------------------------------------------------------------------- */

static void rpc_nvmf_get_stats(struct rpc_ctx *ctx, struct rpc_req *req)
{
	static const struct rpc_param tab[] = { { "tgt_name", JSON_STRING, false } };
	struct nvmft_poll_group *pg;
	json_t *groups, *res;

	if (!RPC_PARAMS_OK(req, tab)) {
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_PARAMS, "Invalid parameters");
		return;
	}
	if (!rpc_tgt_ok(ctx, req, "Unable to find a target."))
		return;
	groups = json_array();
	for (pg = nvmft_poll_group_get_first(ctx->st->tgt); groups && pg;
	     pg = nvmft_poll_group_get_next(pg)) {
		struct nvmft_poll_group_stats s = { .size = sizeof(s) };
		struct nvmft_transport *tr;
		json_t *trs = json_array();

		nvmft_poll_group_get_stats(pg, &s);
		for (tr = nvmft_transport_get_first(ctx->st->tgt); trs && tr;
		     tr = nvmft_transport_get_next(tr))
			json_array_append_new(trs, json_pack("{s:s}", "trtype",
							     nvmft_trtype_name(
								     nvmft_transport_get_type(tr))));
		json_array_append_new(
			groups,
			json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "name",
				  nvmft_poll_group_get_name(pg), "admin_qpairs",
				  (json_int_t)s.admin_qpairs, "io_qpairs", (json_int_t)s.io_qpairs,
				  "current_admin_qpairs", (json_int_t)s.current_admin_qpairs,
				  "current_io_qpairs", (json_int_t)s.current_io_qpairs,
				  "pending_bdev_io", (json_int_t)s.pending_bdev_io,
				  "completed_nvme_io", (json_int_t)s.io_completed, "transports",
				  trs));
	}
	/* No counter here is in CPU ticks; the rate is that of nanoseconds, for the shape. */
	res = json_pack("{s:I, s:o}", "tick_rate", (json_int_t)1000000000, "poll_groups", groups);
	rpc_reply(ctx, req, res);
}

/* ---- Target-wide settings ----------------------------------------------------------- */

static void rpc_nvmf_set_max_subsystems(struct rpc_ctx *ctx, struct rpc_req *req)
{
	struct plan p;

	if (!decode(ctx, req, "nvmf_set_max_subsystems", &p, RPC_ERR_INVALID_PARAMS,
		    "Invalid parameters"))
		return;
	/* Fixed when the target was created; saying the same again is fine (load_config). */
	if (p.max_subsystems == ctx->st->max_subsystems)
		rpc_reply_true(ctx, req);
	else
		rpc_fail(ctx, req, NULL, RPC_ERR_INVALID_STATE,
			 "max_subsystems is %u: it can only be set at start-up (-c)",
			 ctx->st->max_subsystems);
	plan_free(&p);
}

static void rpc_nvmf_set_config(struct rpc_ctx *ctx, struct rpc_req *req)
{
	struct plan p;

	if (!decode(ctx, req, "nvmf_set_config", &p, RPC_ERR_INVALID_PARAMS, "Invalid parameters"))
		return;
	plan_free(&p);
	rpc_reply_true(ctx, req);
}

const struct rpc_method rpc_nvmf_methods[] = {
	{ "nvmf_create_transport", rpc_nvmf_create_transport, RPC_M_CHANGES },
	{ "nvmf_get_transports", rpc_nvmf_get_transports, 0 },
	{ "nvmf_create_subsystem", rpc_nvmf_create_subsystem, RPC_M_CHANGES },
	{ "nvmf_delete_subsystem", rpc_nvmf_delete_subsystem, RPC_M_CHANGES },
	{ "nvmf_get_subsystems", rpc_nvmf_get_subsystems, 0 },
	{ "nvmf_subsystem_add_listener", rpc_nvmf_subsystem_add_listener, RPC_M_CHANGES },
	{ "nvmf_subsystem_remove_listener", rpc_nvmf_subsystem_remove_listener, RPC_M_CHANGES },
	{ "nvmf_subsystem_get_listeners", rpc_nvmf_subsystem_get_listeners, 0 },
	{ "nvmf_subsystem_add_ns", rpc_nvmf_subsystem_add_ns, RPC_M_CHANGES },
	{ "nvmf_subsystem_remove_ns", rpc_nvmf_subsystem_remove_ns, RPC_M_CHANGES },
	{ "nvmf_subsystem_add_host", rpc_nvmf_subsystem_add_host, RPC_M_CHANGES },
	{ "nvmf_subsystem_remove_host", rpc_nvmf_subsystem_remove_host, RPC_M_CHANGES },
	{ "nvmf_subsystem_allow_any_host", rpc_nvmf_subsystem_allow_any_host, RPC_M_CHANGES },
	{ "nvmf_subsystem_get_controllers", rpc_nvmf_subsystem_get_controllers, 0 },
	{ "nvmf_subsystem_get_qpairs", rpc_nvmf_subsystem_get_qpairs, 0 },
	{ "nvmf_get_stats", rpc_nvmf_get_stats, 0 },
	{ "nvmf_set_max_subsystems", rpc_nvmf_set_max_subsystems, 0 },
	{ "nvmf_set_config", rpc_nvmf_set_config, 0 },
	{ NULL, NULL, 0 },
};
