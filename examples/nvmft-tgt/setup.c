/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Plan → libnvmft objects.  The order follows the object tree: target,
 * transports, (poll groups, in threads.c), backends, subsystems with their
 * hosts and namespaces, and listeners last, so that no host can connect
 * before its namespaces are attached on every poll group.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fault_backend.h"
#include "setup.h"

struct setup_ns_ctx {
	struct app_target *at;
	const struct plan_ns *ns;
};

static int fail(const struct app_target *at, const struct plan_origin *o, int rc, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));

/* "<origin>: <message>: <strerror><where>", returns @rc. */
static int fail(const struct app_target *at, const struct plan_origin *o, int rc, const char *fmt,
		...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	app_log(at->log, NVMFT_LOG_ERR, "%s: %s: %s%s", o->what, msg, strerror(-rc), o->where);
	return rc;
}

static void apply_transport(struct nvmft_transport_opts *o, const struct plan_transport *t)
{
	if (t->set & PLAN_TR_MAX_QUEUE_DEPTH)
		o->max_queue_depth = t->max_queue_depth;
	if (t->set & PLAN_TR_MAX_AQ_DEPTH)
		o->max_aq_depth = t->max_aq_depth;
	if (t->set & PLAN_TR_MAX_QPAIRS)
		o->max_qpairs_per_ctrlr = t->max_qpairs_per_ctrlr;
	if (t->set & PLAN_TR_IN_CAPSULE)
		o->in_capsule_data_size = t->in_capsule_data_size;
	if (t->set & PLAN_TR_MAX_IO_SIZE)
		o->max_io_size = t->max_io_size;
	if (t->set & PLAN_TR_C2H_SUCCESS)
		o->c2h_success = t->c2h_success;
	if (t->set & PLAN_TR_HDGST)
		o->digests = t->hdgst ? (o->digests | NVMFT_DIGEST_HEADER)
				      : (o->digests & ~(uint32_t)NVMFT_DIGEST_HEADER);
	if (t->set & PLAN_TR_DDGST)
		o->digests = t->ddgst ? (o->digests | NVMFT_DIGEST_DATA)
				      : (o->digests & ~(uint32_t)NVMFT_DIGEST_DATA);
	if (t->set & PLAN_TR_NO_SRQ)
		o->no_srq = t->no_srq;
	if (t->set & PLAN_TR_MAX_SRQ_DEPTH)
		o->max_srq_depth = t->max_srq_depth;
	if (t->set & PLAN_TR_ALLOW_UNSEALED)
		o->allow_unsealed_mem = t->allow_unsealed_mem;
	if (t->set & PLAN_TR_TCP_CONGESTION)
		snprintf(o->tcp_congestion, sizeof(o->tcp_congestion), "%s", t->tcp_congestion);
	/*
	 * A pool must hold one command's data.  vfio-user's default pool (1 MiB:
	 * only Dataset Management ranges pass through it) is smaller than the
	 * largest max_io_size; nvmft-tgt has no setting of its own for it.
	 */
	if (o->buf_pool_bytes < o->max_io_size)
		o->buf_pool_bytes = o->max_io_size;
}

static int setup_transport(struct app_target *at, enum nvmft_trtype trtype)
{
	const struct plan_transport *cfg = plan_find_transport(at->plan, trtype);
	const struct plan_origin *o = cfg ? &cfg->origin : NULL;
	struct nvmft_transport_opts opts;
	struct nvmft_transport *tr;
	int rc;

	/* Without a transport entry, blame the first listener that needs it. */
	for (size_t i = 0; o == NULL && i < at->plan->n_listeners; i++)
		if (at->plan->listeners[i].trtype == trtype)
			o = &at->plan->listeners[i].origin;
	rc = nvmft_transport_opts_init(trtype, &opts, sizeof(opts));
	if (rc < 0)
		return fail(at, o, rc, "transport %s is not built into this libnvmft",
			    plan_trtype_str(trtype));
	/* Library defaults, then the config's values, then the flags'. */
	setup_transport_opts(&opts, cfg, &at->plan->tr_override);
	rc = nvmft_transport_new(at->tgt, trtype, &opts, &tr);
	if (rc < 0) {
		char why[128];

		setup_transport_failure(why, sizeof(why), trtype, &opts, rc);
		return fail(at, o, rc, "%s", why);
	}
	app_log(at->log, NVMFT_LOG_INFO,
		"transport %s: queue depth %u, %u queues per controller, in-capsule %u, "
		"max I/O %u",
		plan_trtype_str(trtype), opts.max_queue_depth, opts.max_qpairs_per_ctrlr,
		opts.in_capsule_data_size, opts.max_io_size);
	return 0;
}

int setup_target(struct app_target *at, const struct plan *plan, const struct app_logger *log)
{
	static const enum nvmft_trtype trtypes[] = { NVMFT_TRTYPE_TCP, NVMFT_TRTYPE_RDMA,
						     NVMFT_TRTYPE_VFIOUSER };
	struct nvmft_target_opts opts;
	int rc;

	memset(at, 0, sizeof(*at));
	at->plan = plan;
	at->log = log;
	at->backends = calloc(plan->n_bdevs + 1, sizeof(*at->backends));
	at->subsys = calloc(plan->n_subsys + 1, sizeof(*at->subsys));
	at->listeners = calloc(plan->n_listeners + 1, sizeof(*at->listeners));
	at->ns_ctx = calloc(plan->n_ns + 1, sizeof(*at->ns_ctx));
	if (!at->backends || !at->subsys || !at->listeners || !at->ns_ctx) {
		app_log(log, NVMFT_LOG_ERR, "out of memory");
		return -ENOMEM;
	}

	nvmft_target_opts_init(&opts, sizeof(opts));
	opts.log_fn = app_log_lib;
	/* The library only reads the logger, from any thread. */
	opts.log_arg = (void *)log;
	opts.log_level = log->level;
	if (plan->max_subsystems != 0)
		opts.max_subsystems = plan->max_subsystems;
	/* opts.assign_fn stays NULL: the library spreads connections round-robin. */
	rc = nvmft_target_new(&opts, &at->tgt);
	if (rc < 0) {
		app_log(log, NVMFT_LOG_ERR, "cannot create the target: %s", strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < sizeof(trtypes) / sizeof(trtypes[0]); i++) {
		if (!plan_uses_trtype(plan, trtypes[i]))
			continue;
		rc = setup_transport(at, trtypes[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int setup_backend(struct app_target *at, size_t idx)
{
	const struct plan_bdev *b = &at->plan->bdevs[idx];
	struct nvmft_backend **be = &at->backends[idx];
	int rc;

	if (b->fault_rules != NULL) {
		char why[256] = "";

		rc = fault_backend_new(b->name, b->kind == PLAN_BDEV_NULL ? FAULT_STORE_NULL
									: FAULT_STORE_RAM,
				       b->num_blocks, b->block_size, b->fault_rules, why, sizeof(why),
				       be);
		if (rc < 0)
			return fail(at, &b->origin, rc, "cannot create fault bdev '%s'%s%s", b->name,
				    why[0] ? ": " : "", why);
		app_log(at->log, NVMFT_LOG_NOTICE, "bdev %s: fault injection over %s, rules '%s'",
			b->name, b->kind == PLAN_BDEV_NULL ? "null" : "ram", b->fault_rules);
		return 0;
	}
	switch (b->kind) {
	case PLAN_BDEV_RAM:
		rc = nvmft_backend_malloc_new(b->name, b->num_blocks, b->block_size, be);
		if (rc < 0)
			return fail(at, &b->origin, rc, "cannot create RAM bdev '%s' (%llu bytes)",
				    b->name, (unsigned long long)(b->num_blocks * b->block_size));
		break;
	case PLAN_BDEV_NULL:
		rc = nvmft_backend_null_new(b->name, b->num_blocks, b->block_size, be);
		if (rc < 0)
			return fail(at, &b->origin, rc, "cannot create null bdev '%s'", b->name);
		break;
	case PLAN_BDEV_FILE:
		rc = nvmft_backend_uring_new(b->name, b->filename, b->block_size, be);
		if (rc < 0)
			return fail(at, &b->origin, rc, "cannot open '%s' for bdev '%s'",
				    b->filename, b->name);
		break;
	}
	app_log(at->log, NVMFT_LOG_INFO, "bdev %s: %s, %llu blocks of %u bytes", b->name,
		nvmft_backend_get_kind(*be), (unsigned long long)nvmft_backend_get_num_blocks(*be),
		nvmft_backend_get_block_size(*be));
	return 0;
}

static int setup_subsys(struct app_target *at, size_t idx)
{
	const struct plan_subsys *s = &at->plan->subsys[idx];
	struct nvmft_subsystem_opts opts;
	int rc;

	nvmft_subsystem_opts_init(&opts, sizeof(opts));
	opts.nqn = s->nqn;
	opts.serial_number = s->serial_number;
	opts.model_number = s->model_number;
	opts.max_namespaces = s->max_namespaces;
	if (s->min_cntlid != 0)
		opts.min_cntlid = s->min_cntlid;
	if (s->max_cntlid != 0)
		opts.max_cntlid = s->max_cntlid;
	opts.allow_any_host = s->allow_any_host;
	rc = nvmft_subsystem_new(at->tgt, &opts, &at->subsys[idx]);
	if (rc < 0)
		return fail(at, &s->origin, rc, "cannot create subsystem '%s'", s->nqn);
	return 0;
}

static struct nvmft_subsystem *subsys_of(const struct app_target *at, const char *nqn)
{
	const struct plan_subsys *s = plan_find_subsys(at->plan, nqn);

	return s ? at->subsys[s - at->plan->subsys] : NULL;
}

static void ns_added(void *arg, int status)
{
	struct setup_ns_ctx *c = arg;
	struct app_target *at = c->at;

	at->ns_pending--;
	if (status < 0) {
		fail(at, &c->ns->origin, status, "namespace of bdev '%s' did not attach",
		     c->ns->bdev_name);
		if (at->ns_status == 0)
			at->ns_status = status;
	}
}

static int setup_ns(struct app_target *at, size_t idx)
{
	const struct plan_ns *n = &at->plan->ns[idx];
	const struct plan_bdev *b = plan_find_bdev(at->plan, n->bdev_name);
	struct nvmft_backend *be = at->backends[b - at->plan->bdevs];
	struct nvmft_ns_opts opts;
	struct nvmft_ns *ns;
	int rc;

	nvmft_ns_opts_init(&opts, sizeof(opts));
	opts.nsid = n->nsid;
	/* As in SPDK, a namespace without its own UUID reports its bdev's. */
	if (n->has_uuid)
		memcpy(opts.uuid, n->uuid, sizeof(opts.uuid));
	else if (b->has_uuid)
		memcpy(opts.uuid, b->uuid, sizeof(opts.uuid));
	if (n->has_nguid)
		memcpy(opts.nguid, n->nguid, sizeof(opts.nguid));
	if (n->has_eui64)
		memcpy(opts.eui64, n->eui64, sizeof(opts.eui64));
	at->ns_ctx[idx] = (struct setup_ns_ctx){ .at = at, .ns = n };
	rc = nvmft_ns_add(subsys_of(at, n->nqn), be, &opts, ns_added, &at->ns_ctx[idx], &ns);
	if (rc < 0)
		return fail(at, &n->origin, rc, "cannot add bdev '%s' to '%s' as a namespace",
			    n->bdev_name, n->nqn);
	at->ns_pending++;
	app_log(at->log, NVMFT_LOG_INFO, "%s: namespace %u is bdev %s", n->nqn,
		nvmft_ns_get_nsid(ns), n->bdev_name);
	return 0;
}

int setup_storage(struct app_target *at)
{
	const struct plan *p = at->plan;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < p->n_bdevs; i++)
		rc = setup_backend(at, i);
	for (size_t i = 0; rc == 0 && i < p->n_subsys; i++)
		rc = setup_subsys(at, i);
	for (size_t i = 0; rc == 0 && i < p->n_allows; i++) {
		const struct plan_allow *a = &p->allows[i];

		rc = nvmft_subsystem_set_allow_any_host(subsys_of(at, a->nqn), a->allow);
		if (rc < 0)
			fail(at, &a->origin, rc, "cannot set allow_any_host of '%s'", a->nqn);
	}
	for (size_t i = 0; rc == 0 && i < p->n_hosts; i++) {
		const struct plan_host *h = &p->hosts[i];

		rc = nvmft_subsystem_add_host(subsys_of(at, h->nqn), h->host);
		if (rc < 0)
			fail(at, &h->origin, rc, "cannot allow host '%s' on '%s'", h->host, h->nqn);
	}
	for (size_t i = 0; rc == 0 && i < p->n_ns; i++)
		rc = setup_ns(at, i);
	return rc;
}

static int attach_listener(struct app_target *at, const struct plan_listener *l,
			   struct nvmft_subsystem *ss, struct nvmft_listener *lst)
{
	int rc = nvmft_subsystem_add_listener(ss, lst);

	/* The same address may be listed for a subsystem twice (flag and config). */
	if (rc == -EEXIST)
		return 0;
	if (rc < 0)
		return fail(at, &l->origin, rc, "cannot attach %s:%s to '%s'", l->traddr,
			    l->trsvcid, nvmft_subsystem_get_nqn(ss));
	return 0;
}

struct nvmft_listener *setup_find_listener(struct nvmft_transport *tr, const struct plan_listener *l)
{
	struct nvmft_listener *x;

	if (tr == NULL || l->trsvcid == NULL)
		return NULL;
	/* A vfio-user listener is its directory: "" and "0" both name it. */
	if (l->trtype == NVMFT_TRTYPE_VFIOUSER) {
		x = nvmft_listener_find(tr, l->traddr, "");
		return x != NULL ? x : nvmft_listener_find(tr, l->traddr, "0");
	}
	/* Port 0 asks for a new port every time: it names no existing listener. */
	if (strcmp(l->trsvcid, "0") == 0)
		return NULL;
	return nvmft_listener_find(tr, l->traddr, l->trsvcid);
}

static int setup_listener(struct app_target *at, size_t idx)
{
	const struct plan_listener *l = &at->plan->listeners[idx];
	struct nvmft_transport *tr = nvmft_transport_find(at->tgt, l->trtype);
	struct nvmft_listen_opts opts = {
		.size = sizeof(opts),
		.adrfam = l->adrfam,
		.traddr = l->traddr,
		.trsvcid = l->trsvcid,
	};
	struct nvmft_listener *lst = NULL;
	int rc = 0;

	/* SPDK configs list a shared address once per subsystem: listen once. */
	lst = setup_find_listener(tr, l);
	if (lst == NULL) {
		rc = nvmft_listener_new(tr, &opts, &lst);
		if (rc < 0)
			return fail(at, &l->origin, rc, "cannot listen on %s %s port %s",
				    plan_trtype_str(l->trtype), l->traddr, l->trsvcid);
	}
	at->listeners[idx] = lst;
	if (l->nqn == NULL) {
		for (size_t i = 0; rc == 0 && i < at->plan->n_subsys; i++)
			rc = attach_listener(at, l, at->subsys[i], lst);
	} else if (strcmp(l->nqn, PLAN_DISCOVERY_NQN) != 0) {
		/* Discovery is reachable through every listener by itself. */
		rc = attach_listener(at, l, subsys_of(at, l->nqn), lst);
	}
	return rc;
}

int setup_listeners(struct app_target *at)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < at->plan->n_listeners; i++)
		rc = setup_listener(at, i);
	for (size_t i = 0; rc == 0 && i < at->plan->n_subsys; i++)
		if (nvmft_subsystem_get_listener(at->subsys[i], 0) == NULL)
			app_log(at->log, NVMFT_LOG_WARN,
				"subsystem '%s' has no listener: hosts cannot reach it",
				at->plan->subsys[i].nqn);
	return rc;
}

void setup_print_ready(const struct app_target *at, FILE *out)
{
	const struct plan *p = at->plan;
	const char *sep = "";

	fputs(APP_NAME ": ready: listening on ", out);
	/* A target managed over JSON-RPC may start with no address yet. */
	if (p->n_listeners == 0)
		fputs("nothing yet", out);
	for (size_t i = 0; i < p->n_listeners; i++) {
		const struct nvmft_listener *l = at->listeners[i];
		bool seen = false, v6;

		for (size_t j = 0; j < i; j++)
			seen |= at->listeners[j] == l;
		if (seen)
			continue;
		v6 = nvmft_listener_get_adrfam(l) == NVMFT_ADRFAM_IPV6;
		if (p->listeners[i].trtype == NVMFT_TRTYPE_VFIOUSER) {
			fprintf(out, "%svfio-user %s", sep, nvmft_listener_get_traddr(l));
			sep = ", ";
			continue;
		}
		fprintf(out, "%s%s %s%s%s:%s", sep, plan_trtype_str(p->listeners[i].trtype),
			v6 ? "[" : "", nvmft_listener_get_traddr(l), v6 ? "]" : "",
			nvmft_listener_get_trsvcid(l));
		sep = ", ";
	}
	if (p->n_subsys == 0)
		fputs(" (discovery only)", out);
	else
		fprintf(out, " (subsystem%s ", p->n_subsys > 1 ? "s" : "");
	for (size_t i = 0; i < p->n_subsys; i++)
		fprintf(out, "%s%s", i ? ", " : "", p->subsys[i].nqn);
	fputs(p->n_subsys ? ")\n" : "\n", out);
	fflush(out);
}

void setup_release_faults(struct app_target *at)
{
	for (size_t i = 0; at->backends && i < at->plan->n_bdevs; i++) {
		struct fault_backend *fb;

		if (at->plan->bdevs[i].fault_rules == NULL || at->backends[i] == NULL)
			continue;
		fb = fault_backend_of(at->backends[i]);
		/* No new fault, and what a hang rule holds goes on: the groups can stop. */
		fault_backend_set_rules(fb, NULL, NULL, 0);
		fault_backend_release(fb);
	}
}

void setup_free_target(struct app_target *at)
{
	nvmft_target_free(at->tgt);
	at->tgt = NULL;
}

void setup_free_backends(struct app_target *at)
{
	for (size_t i = 0; at->backends && i < at->plan->n_bdevs; i++) {
		int rc = nvmft_backend_free(at->backends[i]);

		if (rc < 0)
			app_log(at->log, NVMFT_LOG_ERR, "bdev %s: cannot be freed: %s",
				at->plan->bdevs[i].name, strerror(-rc));
	}
	free(at->backends);
	free(at->subsys);
	free(at->listeners);
	free(at->ns_ctx);
	at->backends = NULL;
	at->subsys = NULL;
	at->listeners = NULL;
	at->ns_ctx = NULL;
}

void setup_transport_opts(struct nvmft_transport_opts *o, const struct plan_transport *cfg,
			  const struct plan_transport *override)
{
	if (cfg != NULL)
		apply_transport(o, cfg);
	apply_transport(o, override);
}

void setup_transport_failure(char *buf, size_t len, enum nvmft_trtype trtype,
			     const struct nvmft_transport_opts *o, int rc)
{
	/* The kernel's refusal of the algorithm reads like a missing file otherwise. */
	if (trtype == NVMFT_TRTYPE_TCP && o->tcp_congestion[0] != '\0' &&
	    (rc == -ENOENT || rc == -EPERM))
		snprintf(buf, len, "cannot create transport tcp: congestion control '%s'",
			 o->tcp_congestion);
	else
		snprintf(buf, len, "cannot create transport %s", plan_trtype_str(trtype));
}
