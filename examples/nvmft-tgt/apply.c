/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Plan entries applied to the running target (apply.h).  Start-up builds
 * the whole plan with setup.c; afterwards the JSON-RPC methods and
 * load_config build one entry at a time here, against objects that already
 * exist, so every function first checks what it relies on.
 *
 * Listeners are shared as SPDK shares them: an address opens when the
 * first subsystem (or discovery) asks for it and closes when the last one
 * lets go.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- Joins ------------------------------------------------------------------------- */

struct apply_join {
	unsigned int pending;
	int status;
	nvmft_done_fn cb;
	void *arg;
};

struct apply_join *apply_join_new(nvmft_done_fn cb, void *arg)
{
	struct apply_join *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->pending = 1;
	j->cb = cb;
	j->arg = arg;
	return j;
}

void apply_join_add(struct apply_join *j)
{
	j->pending++;
}

void apply_join_done(void *arg, int status)
{
	struct apply_join *j = arg;

	if (status < 0 && j->status == 0)
		j->status = status;
	if (--j->pending > 0)
		return;
	if (j->cb != NULL)
		j->cb(j->arg, j->status);
	free(j);
}

/* ---- Objects ----------------------------------------------------------------------- */

int apply_transport(struct app_state *st, enum nvmft_trtype trtype,
		    const struct plan_transport *cfg, struct nvmft_transport **ret, char *err,
		    size_t errlen)
{
	struct nvmft_transport_opts o;
	struct nvmft_transport *tr;
	int rc;

	rc = nvmft_transport_opts_init(trtype, &o, sizeof(o));
	if (rc < 0)
		return fail(err, errlen, rc, "transport %s is not built into this libnvmft",
			    nvmft_trtype_name(trtype));
	setup_transport_opts(&o, cfg, &st->tr_override);
	rc = nvmft_transport_new(st->tgt, trtype, &o, &tr);
	if (rc < 0) {
		char why[128];

		setup_transport_failure(why, sizeof(why), trtype, &o, rc);
		return fail(err, errlen, rc, "%s: %s", why, strerror(-rc));
	}
	app_log(st->log, NVMFT_LOG_INFO, "transport %s created", nvmft_trtype_name(trtype));
	if (ret != NULL)
		*ret = tr;
	return 0;
}

int apply_subsys(struct app_state *st, const struct plan_subsys *s, struct nvmft_subsystem **ret,
		 char *err, size_t errlen)
{
	struct nvmft_subsystem_opts o;
	struct nvmft_subsystem *ss;
	int rc;

	nvmft_subsystem_opts_init(&o, sizeof(o));
	o.nqn = s->nqn;
	o.serial_number = s->serial_number;
	o.model_number = s->model_number;
	o.max_namespaces = s->max_namespaces ? s->max_namespaces : PLAN_DEFAULT_MAX_NS;
	if (s->min_cntlid != 0)
		o.min_cntlid = s->min_cntlid;
	if (s->max_cntlid != 0)
		o.max_cntlid = s->max_cntlid;
	o.allow_any_host = s->allow_any_host;
	rc = nvmft_subsystem_new(st->tgt, &o, &ss);
	if (rc < 0)
		return fail(err, errlen, rc, "cannot create subsystem '%s': %s", s->nqn,
			    rc == -ENOSPC ? "max_subsystems reached" : strerror(-rc));
	app_log(st->log, NVMFT_LOG_INFO, "subsystem %s created", s->nqn);
	if (ret != NULL)
		*ret = ss;
	return 0;
}

int apply_ns(struct app_state *st, const struct plan_ns *n, nvmft_done_fn cb, void *arg,
	     struct nvmft_ns **ret, char *err, size_t errlen)
{
	struct nvmft_subsystem *ss = nvmft_subsystem_find(st->tgt, n->nqn);
	struct app_bdev *b = bdev_find(st, n->bdev_name);
	struct nvmft_ns_opts o;
	struct nvmft_ns *ns;
	int rc;

	if (ss == NULL || nvmft_subsystem_get_type(ss) != NVMFT_SUBTYPE_NVM)
		return fail(err, errlen, -ENOENT, "no NVM subsystem '%s'", n->nqn);
	if (b == NULL)
		return fail(err, errlen, -ENODEV, "no bdev '%s'", n->bdev_name);
	if (nvmft_backend_get_ns(b->be) != NULL)
		return fail(err, errlen, -EBUSY, "bdev '%s' already backs a namespace",
			    n->bdev_name);
	nvmft_ns_opts_init(&o, sizeof(o));
	o.nsid = n->nsid;
	memcpy(o.uuid, n->has_uuid ? n->uuid : b->uuid, sizeof(o.uuid));
	if (n->has_nguid)
		memcpy(o.nguid, n->nguid, sizeof(o.nguid));
	if (n->has_eui64)
		memcpy(o.eui64, n->eui64, sizeof(o.eui64));
	rc = nvmft_ns_add(ss, b->be, &o, cb, arg, &ns);
	if (rc < 0)
		return fail(err, errlen, rc, "cannot add bdev '%s' to '%s': %s", n->bdev_name,
			    n->nqn,
			    rc == -EEXIST    ? "the nsid is in use"
			    : rc == -ENOSPC ? "max_namespaces reached"
			    : rc == -EINVAL ? "the nsid is above max_namespaces"
					    : strerror(-rc));
	app_log(st->log, NVMFT_LOG_INFO, "%s: namespace %u is bdev %s", n->nqn,
		nvmft_ns_get_nsid(ns), b->name);
	if (ret != NULL)
		*ret = ns;
	return 0;
}

/* ---- Listeners --------------------------------------------------------------------- */

static bool is_discovery(const char *nqn)
{
	return nqn == NULL || strcmp(nqn, PLAN_DISCOVERY_NQN) == 0;
}

static bool ss_has_listener(struct nvmft_subsystem *ss, const struct nvmft_listener *l)
{
	struct nvmft_listener *x;

	for (unsigned int i = 0; (x = nvmft_subsystem_get_listener(ss, i)) != NULL; i++)
		if (x == l)
			return true;
	return false;
}

struct nvmft_listener *apply_find_listener(struct app_state *st, const struct plan_listener *l)
{
	return setup_find_listener(nvmft_transport_find(st->tgt, l->trtype), l);
}

/*
 * One subsystem per vfio-user socket (each client is a PCI function of
 * it), and no discovery: -EINVAL, or -EBUSY when @l already serves
 * another subsystem.
 */
static int vfu_listener_ok(struct app_state *st, const struct plan_listener *pl,
			   struct nvmft_subsystem *ss, struct nvmft_listener *l, char *err,
			   size_t errlen)
{
	struct nvmft_subsystem *x;

	if (plan_check_vfu_address(pl, err, errlen) < 0)
		return -EINVAL;
	if (ss == NULL)
		return fail(err, errlen, -EINVAL, "vfio-user serves no discovery subsystem");
	for (x = nvmft_subsystem_get_first(st->tgt); l != NULL && x != NULL;
	     x = nvmft_subsystem_get_next(x))
		if (x != ss && ss_has_listener(x, l))
			return fail(err, errlen, -EBUSY,
				    "%s serves another subsystem already (%s): one subsystem per "
				    "vfio-user socket",
				    pl->traddr, nvmft_subsystem_get_nqn(x));
	return 0;
}

int apply_listener(struct app_state *st, const struct plan_listener *pl, struct nvmft_listener **ret,
		   bool *created, char *err, size_t errlen)
{
	struct nvmft_transport *tr = nvmft_transport_find(st->tgt, pl->trtype);
	struct nvmft_listen_opts o = {
		.size = sizeof(o),
		.adrfam = pl->adrfam,
		.traddr = pl->traddr,
		.trsvcid = pl->trsvcid,
	};
	struct nvmft_subsystem *ss = NULL;
	struct nvmft_listener *l;
	int rc;

	*created = false;
	if (tr == NULL)
		return fail(err, errlen, -ENODEV, "transport %s does not exist: create it first",
			    nvmft_trtype_name(pl->trtype));
	if (!is_discovery(pl->nqn)) {
		ss = nvmft_subsystem_find(st->tgt, pl->nqn);
		if (ss == NULL)
			return fail(err, errlen, -ENOENT, "no subsystem '%s'", pl->nqn);
	}
	l = apply_find_listener(st, pl);
	if (pl->trtype == NVMFT_TRTYPE_VFIOUSER) {
		rc = vfu_listener_ok(st, pl, ss, l, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (l != NULL && (ss != NULL ? ss_has_listener(ss, l) : state_held(st, l)))
		return fail(err, errlen, -EEXIST, "'%s' already listens on %s %s", pl->nqn,
			    pl->traddr, pl->trsvcid);
	if (l == NULL) {
		rc = nvmft_listener_new(tr, &o, &l);
		if (rc < 0)
			return fail(err, errlen, rc, "cannot listen on %s %s port %s: %s",
				    nvmft_trtype_name(pl->trtype), pl->traddr, pl->trsvcid,
				    strerror(-rc));
		*created = true;
	}
	rc = ss != NULL ? nvmft_subsystem_add_listener(ss, l) : state_hold(st, l);
	if (rc < 0) {
		if (*created)
			nvmft_listener_destroy(l, NULL, NULL);
		*created = false;
		return fail(err, errlen, rc, "cannot attach %s %s to '%s': %s", pl->traddr,
			    pl->trsvcid, pl->nqn, strerror(-rc));
	}
	if (pl->trtype == NVMFT_TRTYPE_VFIOUSER)
		app_log(st->log, NVMFT_LOG_INFO, "%s: listening on %s %s/cntrl", pl->nqn,
			nvmft_trtype_name(pl->trtype), pl->traddr);
	else
		app_log(st->log, NVMFT_LOG_INFO, "%s: listening on %s %s port %s",
			ss ? pl->nqn : PLAN_DISCOVERY_NQN, nvmft_trtype_name(pl->trtype),
			pl->traddr, nvmft_listener_get_trsvcid(l));
	if (ret != NULL)
		*ret = l;
	return 0;
}

void apply_unlisten(struct app_state *st, struct nvmft_subsystem *ss, struct nvmft_listener *l,
		    nvmft_done_fn cb, void *arg)
{
	/* Without memory to wait, the work is still done: only the waiting is skipped. */
	struct apply_join *j = apply_join_new(cb, arg);
	nvmft_done_fn step = j ? apply_join_done : NULL;
	int rc;

	if (ss != NULL) {
		if (j != NULL)
			apply_join_add(j);
		rc = nvmft_subsystem_remove_listener(ss, l, step, j);
		if (rc < 0 && j != NULL)
			apply_join_done(j, rc);
	} else {
		state_unhold(st, l);
	}
	/* The subsystem forgot @l at once: this sees whether anybody else has it. */
	if (!state_listener_used(st, l)) {
		if (j != NULL)
			apply_join_add(j);
		nvmft_listener_destroy(l, step, j);
	}
	if (j != NULL)
		apply_join_done(j, 0);
	else
		cb(arg, 0);
}

void apply_close_unused(struct app_state *st, struct nvmft_listener *const *ls, size_t n,
			nvmft_done_fn cb, void *arg)
{
	struct apply_join *j = apply_join_new(cb, arg);

	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		for (size_t k = 0; k < i; k++)
			dup |= ls[k] == ls[i];
		if (dup || state_listener_used(st, ls[i]))
			continue;
		if (j != NULL)
			apply_join_add(j);
		nvmft_listener_destroy(ls[i], j ? apply_join_done : NULL, j);
	}
	if (j != NULL)
		apply_join_done(j, 0);
	else
		cb(arg, 0);
}
