/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subsystems: hosts, listeners, controllers and namespaces of one NQN.
 *
 * Changes that connected hosts must notice travel to the poll groups as
 * broadcasts (bcast.h); each one is a small ops table at the bottom of this
 * file next to the call that starts it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "core/bcast.h"
#include "core/ctrlr.h"
#include "core/nqn.h"
#include "core/ns.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "core/transport.h"
#include "util/compiler.h"

NVMFT_EXPORT void nvmft_subsystem_opts_init(struct nvmft_subsystem_opts *opts, size_t size)
{
	struct nvmft_subsystem_opts d = {
		.size = size,
		.nqn = NULL,
		.serial_number = NULL,
		.model_number = NULL,
		.max_namespaces = 32,
		.min_cntlid = NVMFT_CNTLID_MIN,
		.max_cntlid = NVMFT_CNTLID_MAX,
		.allow_any_host = false,
	};

	if (opts == NULL || size < sizeof(size_t))
		return;
	memcpy(opts, &d, NVMFT_MIN(size, sizeof(d)));
}

void nvmft_subsystem_ref(struct nvmft_subsystem *ss)
{
	atomic_fetch_add(&ss->refs, 1);
}

static void subsystem_release(struct nvmft_subsystem *ss)
{
	struct nvmft_host_entry *h;
	struct nvmft_ss_listener *sl;

	while ((h = TAILQ_FIRST(&ss->hosts)) != NULL) {
		TAILQ_REMOVE(&ss->hosts, h, link);
		free(h);
	}
	while ((sl = TAILQ_FIRST(&ss->listeners)) != NULL) {
		TAILQ_REMOVE(&ss->listeners, sl, link);
		free(sl);
	}
	pthread_mutex_destroy(&ss->lock);
	free(ss->ns);
	free(ss);
}

static void subsystem_free_msg(struct nvmft_msg *msg)
{
	struct nvmft_subsystem *ss = nvmft_container_of(msg, struct nvmft_subsystem, free_msg);
	nvmft_done_fn cb = ss->destroy_cb;
	void *arg = ss->destroy_arg;

	subsystem_release(ss);
	if (cb != NULL)
		cb(arg, 0);
}

void nvmft_subsystem_unref(struct nvmft_subsystem *ss)
{
	/* The last reference may drop on a group thread; freeing is management work. */
	if (atomic_fetch_sub(&ss->refs, 1) == 1)
		nvmft_target_post(ss->tgt, &ss->free_msg, subsystem_free_msg);
}

/* A serial number derived from the NQN stays the same across restarts. */
static void subsystem_default_sn(const char *nqn, char sn[21])
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = nqn; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	snprintf(sn, 21, "%016llx", (unsigned long long)h);
}

static bool subsystem_ascii_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static int subsystem_alloc(struct nvmft_target *tgt, const struct nvmft_subsystem_opts *o,
			   enum nvmft_subtype type, struct nvmft_subsystem **ret)
{
	struct nvmft_subsystem *ss;
	uint32_t id;

	if (o->nqn == NULL || strnlen(o->nqn, NVMFT_NQN_MAX_LEN + 1) > NVMFT_NQN_MAX_LEN ||
	    !nvmft_nqn_valid(o->nqn, strlen(o->nqn) + 1))
		return -EINVAL;
	if ((o->serial_number && !subsystem_ascii_ok(o->serial_number, 20)) ||
	    (o->model_number && !subsystem_ascii_ok(o->model_number, 40)))
		return -EINVAL;
	if (o->max_namespaces > 4096 || (type == NVMFT_SUBTYPE_NVM && o->max_namespaces < 1) ||
	    o->min_cntlid < NVMFT_CNTLID_MIN || o->max_cntlid > NVMFT_CNTLID_MAX ||
	    o->min_cntlid > o->max_cntlid)
		return -EINVAL;

	ss = calloc(1, sizeof(*ss));
	if (ss == NULL)
		return -ENOMEM;
	if (o->max_namespaces > 0) {
		ss->ns = calloc(o->max_namespaces, sizeof(*ss->ns));
		if (ss->ns == NULL) {
			free(ss);
			return -ENOMEM;
		}
	}
	ss->tgt = tgt;
	ss->type = type;
	strlcpy(ss->nqn, o->nqn, sizeof(ss->nqn));
	if (o->serial_number)
		strlcpy(ss->sn, o->serial_number, sizeof(ss->sn));
	else
		subsystem_default_sn(o->nqn, ss->sn);
	strlcpy(ss->mn, o->model_number ? o->model_number : "libnvmft", sizeof(ss->mn));
	ss->max_nsid = o->max_namespaces;
	ss->min_cntlid = o->min_cntlid;
	ss->max_cntlid = o->max_cntlid;
	ss->next_cntlid = o->min_cntlid;
	ss->allow_any_host = o->allow_any_host || type == NVMFT_SUBTYPE_DISCOVERY;
	ss->state = NVMFT_SS_ACTIVE;
	atomic_init(&ss->refs, 1);
	pthread_mutex_init(&ss->lock, NULL);
	TAILQ_INIT(&ss->hosts);
	TAILQ_INIT(&ss->listeners);
	TAILQ_INIT(&ss->ctrlrs);

	pthread_mutex_lock(&tgt->lock);
	for (struct nvmft_subsystem *it = TAILQ_FIRST(&tgt->ss_list); it; it = TAILQ_NEXT(it, link)) {
		if (strcmp(it->nqn, ss->nqn) == 0) {
			pthread_mutex_unlock(&tgt->lock);
			subsystem_release(ss);
			return -EEXIST;
		}
	}
	for (id = 0; id < tgt->max_subsystems && tgt->subsystems[id] != NULL; id++)
		;
	if (id == tgt->max_subsystems) {
		pthread_mutex_unlock(&tgt->lock);
		subsystem_release(ss);
		return -ENOSPC;
	}
	ss->id = id;
	/*
	 * Groups that exist get their state now, under the lock, so a Connect
	 * on any group finds it as soon as this call returns.  pgss objects
	 * are only touched by group threads once a qpair of this subsystem
	 * exists there, which cannot be before we unlock.
	 */
	for (struct nvmft_poll_group *pg = TAILQ_FIRST(&tgt->pgs); pg; pg = TAILQ_NEXT(pg, link)) {
		int rc = nvmft_pg_subsys_add(pg, ss);

		if (rc < 0) {
			for (struct nvmft_poll_group *p = TAILQ_FIRST(&tgt->pgs); p != pg; p = TAILQ_NEXT(p, link))
				nvmft_pg_subsys_remove(p, ss); /* no thread uses it yet */
			pthread_mutex_unlock(&tgt->lock);
			subsystem_release(ss);
			return rc;
		}
	}
	tgt->subsystems[id] = ss;
	TAILQ_INSERT_TAIL(&tgt->ss_list, ss, link);
	pthread_mutex_unlock(&tgt->lock);
	*ret = ss;
	return 0;
}

NVMFT_EXPORT int nvmft_subsystem_new(struct nvmft_target *tgt, const struct nvmft_subsystem_opts *opts,
				     struct nvmft_subsystem **ret)
{
	struct nvmft_subsystem_opts o;

	if (tgt == NULL || opts == NULL || ret == NULL || opts->size < sizeof(size_t))
		return -EINVAL;
	nvmft_subsystem_opts_init(&o, sizeof(o));
	memcpy(&o, opts, NVMFT_MIN(opts->size, sizeof(o)));
	if (o.nqn != NULL && strcmp(o.nqn, tgt->discovery_nqn) == 0)
		return -EEXIST;
	return subsystem_alloc(tgt, &o, NVMFT_SUBTYPE_NVM, ret);
}

int nvmft_subsystem_new_discovery(struct nvmft_target *tgt, const char *nqn, struct nvmft_subsystem **ret)
{
	struct nvmft_subsystem_opts o;

	nvmft_subsystem_opts_init(&o, sizeof(o));
	o.nqn = nqn;
	o.max_namespaces = 0;
	o.model_number = "libnvmft discovery";
	return subsystem_alloc(tgt, &o, NVMFT_SUBTYPE_DISCOVERY, ret);
}

void nvmft_subsystem_free_now(struct nvmft_subsystem *ss)
{
	struct nvmft_target *tgt = ss->tgt;

	for (uint32_t i = 0; i < ss->max_nsid; i++) {
		if (ss->ns[i] != NULL) {
			nvmft_ns_free_now(ss->ns[i]);
			ss->ns[i] = NULL;
		}
	}
	pthread_mutex_lock(&tgt->lock);
	TAILQ_REMOVE(&tgt->ss_list, ss, link);
	tgt->subsystems[ss->id] = NULL;
	pthread_mutex_unlock(&tgt->lock);
	if (tgt->discovery == ss)
		tgt->discovery = NULL;
	subsystem_release(ss);
}

/* ---- Broadcast helpers ---------------------------------------------------------- */

struct ss_op {
	struct nvmft_subsystem *ss;
	nvmft_done_fn cb;
	void *cb_arg;
	struct nvmft_listener *l;
	uint32_t nsid;
	char hostnqn[NVMFT_NQN_MAX_LEN + 1];
};

static struct ss_op *ss_op_new(struct nvmft_subsystem *ss, nvmft_done_fn cb, void *cb_arg)
{
	struct ss_op *op = calloc(1, sizeof(*op));

	if (op != NULL) {
		op->ss = ss;
		op->cb = cb;
		op->cb_arg = cb_arg;
	}
	return op;
}

static void ss_op_done(struct nvmft_bcast *bc, int status)
{
	struct ss_op *op = nvmft_bcast_ctx(bc);

	if (op->cb != NULL)
		op->cb(op->cb_arg, status);
	free(op);
}

static int ss_op_start(struct ss_op *op, const struct nvmft_bcast_ops *ops, uint32_t deadline_ms)
{
	int rc = nvmft_bcast_start(op->ss->tgt, ops, op, deadline_ms);

	if (rc < 0)
		free(op);
	return rc;
}

/* ---- Deletion ---------------------------------------------------------------------- */

static void ss_delete_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct ss_op *op = nvmft_bcast_ctx(bc);
	struct nvmft_pg_subsys *pgss = nvmft_pg_subsys(pg, op->ss->id);
	struct nvmft_qpair *qp, *tmp;

	if (pgss == NULL || pgss->ss != op->ss) {
		nvmft_bcast_ack(bc, pg, 0);
		return;
	}
	TAILQ_FOREACH_SAFE(qp, &pg->qpairs, link, tmp)
		if (qp->ctrlr != NULL && qp->ctrlr->ss == op->ss)
			nvmft_qpair_disconnect(qp);
	if (pgss->num_qpairs == 0) {
		nvmft_pg_subsys_remove(pg, op->ss);
		nvmft_bcast_ack(bc, pg, 0);
	} else {
		pgss->delete_wait = bc; /* acked from nvmft_qpair_free() */
	}
}

static void ss_delete_done(struct nvmft_bcast *bc, int status)
{
	struct ss_op *op = nvmft_bcast_ctx(bc);
	struct nvmft_subsystem *ss = op->ss;

	(void)status;
	for (uint32_t i = 0; i < ss->max_nsid; i++) {
		struct nvmft_ns *ns = ss->ns[i];

		if (ns == NULL)
			continue;
		pthread_mutex_lock(&ss->lock);
		ss->ns[i] = NULL;
		pthread_mutex_unlock(&ss->lock);
		ns->removing = true;
		nvmft_ns_unref(ns);
	}
	ss->destroy_cb = op->cb;
	ss->destroy_arg = op->cb_arg;
	free(op);
	/* Only now may the id be reused: every group has dropped its state for it. */
	pthread_mutex_lock(&ss->tgt->lock);
	ss->tgt->subsystems[ss->id] = NULL;
	pthread_mutex_unlock(&ss->tgt->lock);
	/* The table's reference; controllers and groups dropped theirs already. */
	nvmft_subsystem_unref(ss);
}

static const struct nvmft_bcast_ops ss_delete_ops = {
	.run = ss_delete_run,
	.done = ss_delete_done,
};

NVMFT_EXPORT int nvmft_subsystem_destroy(struct nvmft_subsystem *ss, nvmft_done_fn cb, void *cb_arg)
{
	struct nvmft_target *tgt;
	struct ss_op *op;

	if (ss == NULL)
		return 0;
	tgt = ss->tgt;
	if (ss == tgt->discovery || ss->state == NVMFT_SS_DELETING)
		return -EINVAL;
	op = ss_op_new(ss, cb, cb_arg);
	if (op == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&tgt->lock);
	pthread_mutex_lock(&ss->lock);
	ss->state = NVMFT_SS_DELETING;
	pthread_mutex_unlock(&ss->lock);
	/* Out of lookups at once; the id stays taken until every group let go. */
	TAILQ_REMOVE(&tgt->ss_list, ss, link);
	pthread_mutex_unlock(&tgt->lock);
	nvmft_target_discovery_changed(tgt);
	/* Without memory for the broadcast the groups would keep stale state: retry is all we can do. */
	while (nvmft_bcast_start(tgt, &ss_delete_ops, op, 0) < 0)
		;
	return 0;
}

/* ---- Lookups and getters ------------------------------------------------------------ */

NVMFT_EXPORT struct nvmft_subsystem *nvmft_subsystem_get_first(struct nvmft_target *tgt)
{
	return tgt ? TAILQ_FIRST(&tgt->ss_list) : NULL;
}

NVMFT_EXPORT struct nvmft_subsystem *nvmft_subsystem_get_next(struct nvmft_subsystem *ss)
{
	return ss ? TAILQ_NEXT(ss, link) : NULL;
}

NVMFT_EXPORT struct nvmft_subsystem *nvmft_subsystem_find(struct nvmft_target *tgt, const char *nqn)
{
	struct nvmft_subsystem *ss;

	if (tgt == NULL || nqn == NULL)
		return NULL;
	TAILQ_FOREACH(ss, &tgt->ss_list, link)
		if (strcmp(ss->nqn, nqn) == 0)
			return ss;
	return NULL;
}

NVMFT_EXPORT const char *nvmft_subsystem_get_nqn(const struct nvmft_subsystem *ss)
{
	return ss->nqn;
}

NVMFT_EXPORT enum nvmft_subtype nvmft_subsystem_get_type(const struct nvmft_subsystem *ss)
{
	return ss->type;
}

NVMFT_EXPORT const char *nvmft_subsystem_get_serial_number(const struct nvmft_subsystem *ss)
{
	return ss->sn;
}

NVMFT_EXPORT const char *nvmft_subsystem_get_model_number(const struct nvmft_subsystem *ss)
{
	return ss->mn;
}

NVMFT_EXPORT uint32_t nvmft_subsystem_get_max_namespaces(const struct nvmft_subsystem *ss)
{
	return ss->max_nsid;
}

NVMFT_EXPORT void nvmft_subsystem_get_cntlid_range(const struct nvmft_subsystem *ss, uint16_t *min,
						   uint16_t *max)
{
	if (min)
		*min = ss->min_cntlid;
	if (max)
		*max = ss->max_cntlid;
}

/* ---- Hosts ---------------------------------------------------------------------------- */

NVMFT_EXPORT int nvmft_subsystem_set_allow_any_host(struct nvmft_subsystem *ss, bool allow)
{
	if (ss == NULL || ss->type == NVMFT_SUBTYPE_DISCOVERY)
		return -EINVAL;
	pthread_mutex_lock(&ss->lock);
	ss->allow_any_host = allow;
	pthread_mutex_unlock(&ss->lock);
	nvmft_target_discovery_changed(ss->tgt);
	return 0;
}

NVMFT_EXPORT bool nvmft_subsystem_get_allow_any_host(const struct nvmft_subsystem *ss)
{
	return ss->allow_any_host;
}

static struct nvmft_host_entry *subsystem_find_host(const struct nvmft_subsystem *ss, const char *hostnqn)
{
	struct nvmft_host_entry *h;

	TAILQ_FOREACH(h, &ss->hosts, link)
		if (strcmp(h->nqn, hostnqn) == 0)
			return h;
	return NULL;
}

bool nvmft_subsystem_host_allowed_locked(const struct nvmft_subsystem *ss, const char *hostnqn)
{
	return ss->allow_any_host || subsystem_find_host(ss, hostnqn) != NULL;
}

NVMFT_EXPORT bool nvmft_subsystem_host_allowed(const struct nvmft_subsystem *ss, const char *hostnqn)
{
	struct nvmft_subsystem *s = (struct nvmft_subsystem *)ss;
	bool ok;

	if (ss == NULL || hostnqn == NULL)
		return false;
	pthread_mutex_lock(&s->lock);
	ok = nvmft_subsystem_host_allowed_locked(ss, hostnqn);
	pthread_mutex_unlock(&s->lock);
	return ok;
}

NVMFT_EXPORT int nvmft_subsystem_add_host(struct nvmft_subsystem *ss, const char *hostnqn)
{
	struct nvmft_host_entry *h;

	if (ss == NULL || hostnqn == NULL || ss->type == NVMFT_SUBTYPE_DISCOVERY ||
	    strnlen(hostnqn, NVMFT_NQN_MAX_LEN + 1) > NVMFT_NQN_MAX_LEN ||
	    !nvmft_nqn_valid(hostnqn, strlen(hostnqn) + 1))
		return -EINVAL;
	if (subsystem_find_host(ss, hostnqn) != NULL)
		return -EEXIST;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	strlcpy(h->nqn, hostnqn, sizeof(h->nqn));
	pthread_mutex_lock(&ss->lock);
	TAILQ_INSERT_TAIL(&ss->hosts, h, link);
	pthread_mutex_unlock(&ss->lock);
	nvmft_target_discovery_changed(ss->tgt);
	return 0;
}

static void ss_drop_host_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct ss_op *op = nvmft_bcast_ctx(bc);
	struct nvmft_ctrlr *c, *tmp;

	TAILQ_FOREACH_SAFE(c, &pg->ctrlrs, pg_link, tmp)
		if (c->ss == op->ss && strcmp(c->hostnqn, op->hostnqn) == 0)
			nvmft_ctrlr_fail(c, "host removed from subsystem");
	nvmft_bcast_ack(bc, pg, 0);
}

static const struct nvmft_bcast_ops ss_drop_host_ops = {
	.run = ss_drop_host_run,
	.done = ss_op_done,
};

NVMFT_EXPORT int nvmft_subsystem_remove_host(struct nvmft_subsystem *ss, const char *hostnqn,
					     nvmft_done_fn cb, void *cb_arg)
{
	struct nvmft_host_entry *h;
	struct ss_op *op;

	if (ss == NULL || hostnqn == NULL)
		return -EINVAL;
	h = subsystem_find_host(ss, hostnqn);
	if (h == NULL)
		return -ENOENT;
	op = ss_op_new(ss, cb, cb_arg);
	if (op == NULL)
		return -ENOMEM;
	strlcpy(op->hostnqn, hostnqn, sizeof(op->hostnqn));
	pthread_mutex_lock(&ss->lock);
	TAILQ_REMOVE(&ss->hosts, h, link);
	pthread_mutex_unlock(&ss->lock);
	free(h);
	nvmft_target_discovery_changed(ss->tgt);
	/* A host still allowed by allow_any_host keeps its connections: match nobody. */
	if (ss->allow_any_host)
		op->hostnqn[0] = '\0';
	return ss_op_start(op, &ss_drop_host_ops, 0);
}

NVMFT_EXPORT const char *nvmft_subsystem_get_host(const struct nvmft_subsystem *ss, unsigned int idx)
{
	struct nvmft_host_entry *h;

	if (ss == NULL)
		return NULL;
	TAILQ_FOREACH(h, &ss->hosts, link)
		if (idx-- == 0)
			return h->nqn;
	return NULL;
}

/* ---- Listeners ---------------------------------------------------------------------------- */

bool nvmft_subsystem_has_listener_locked(const struct nvmft_subsystem *ss, const struct nvmft_listener *l)
{
	struct nvmft_ss_listener *sl;

	if (ss->type == NVMFT_SUBTYPE_DISCOVERY)
		return true;
	TAILQ_FOREACH(sl, &ss->listeners, link)
		if (sl->l == l)
			return true;
	return false;
}

NVMFT_EXPORT int nvmft_subsystem_add_listener(struct nvmft_subsystem *ss, struct nvmft_listener *l)
{
	struct nvmft_ss_listener *sl;

	if (ss == NULL || l == NULL || ss->type == NVMFT_SUBTYPE_DISCOVERY || l->tr->tgt != ss->tgt ||
	    l->destroyed)
		return -EINVAL;
	if (nvmft_subsystem_has_listener_locked(ss, l))
		return -EEXIST;
	sl = calloc(1, sizeof(*sl));
	if (sl == NULL)
		return -ENOMEM;
	sl->l = l;
	pthread_mutex_lock(&ss->lock);
	TAILQ_INSERT_TAIL(&ss->listeners, sl, link);
	pthread_mutex_unlock(&ss->lock);
	nvmft_target_discovery_changed(ss->tgt);
	return 0;
}

void nvmft_subsystem_forget_listener(struct nvmft_subsystem *ss, struct nvmft_listener *l)
{
	struct nvmft_ss_listener *sl;

	pthread_mutex_lock(&ss->lock);
	TAILQ_FOREACH(sl, &ss->listeners, link) {
		if (sl->l == l) {
			TAILQ_REMOVE(&ss->listeners, sl, link);
			free(sl);
			break;
		}
	}
	pthread_mutex_unlock(&ss->lock);
}

static void ss_drop_listener_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct ss_op *op = nvmft_bcast_ctx(bc);
	struct nvmft_qpair *qp, *tmp;

	TAILQ_FOREACH_SAFE(qp, &pg->qpairs, link, tmp)
		if (qp->listener == op->l && qp->ctrlr != NULL && qp->ctrlr->ss == op->ss)
			nvmft_qpair_disconnect(qp);
	nvmft_bcast_ack(bc, pg, 0);
}

static void ss_drop_listener_done(struct nvmft_bcast *bc, int status)
{
	struct ss_op *op = nvmft_bcast_ctx(bc);

	nvmft_listener_unref(op->l);
	ss_op_done(bc, status);
}

static const struct nvmft_bcast_ops ss_drop_listener_ops = {
	.run = ss_drop_listener_run,
	.done = ss_drop_listener_done,
};

NVMFT_EXPORT int nvmft_subsystem_remove_listener(struct nvmft_subsystem *ss, struct nvmft_listener *l,
						 nvmft_done_fn cb, void *cb_arg)
{
	struct ss_op *op;

	if (ss == NULL || l == NULL)
		return -EINVAL;
	if (ss->type == NVMFT_SUBTYPE_DISCOVERY || !nvmft_subsystem_has_listener_locked(ss, l))
		return -ENOENT;
	op = ss_op_new(ss, cb, cb_arg);
	if (op == NULL)
		return -ENOMEM;
	nvmft_subsystem_forget_listener(ss, l);
	nvmft_target_discovery_changed(ss->tgt);
	op->l = l;
	nvmft_listener_ref(l); /* the groups compare against it until done */
	return ss_op_start(op, &ss_drop_listener_ops, 0);
}

NVMFT_EXPORT struct nvmft_listener *nvmft_subsystem_get_listener(const struct nvmft_subsystem *ss,
								  unsigned int idx)
{
	struct nvmft_ss_listener *sl;

	if (ss == NULL)
		return NULL;
	TAILQ_FOREACH(sl, &ss->listeners, link)
		if (idx-- == 0)
			return sl->l;
	return NULL;
}

/* ---- Controllers ---------------------------------------------------------------------------- */

int nvmft_subsystem_add_ctrlr(struct nvmft_subsystem *ss, struct nvmft_ctrlr *ctrlr)
{
	uint32_t span = (uint32_t)ss->max_cntlid - ss->min_cntlid + 1;
	int rc = -EBUSY;

	pthread_mutex_lock(&ss->lock);
	if (ss->state == NVMFT_SS_DELETING) {
		rc = -ESHUTDOWN;
		goto out;
	}
	/* Hand IDs out round-robin so a reconnecting host does not get a stale one at once. */
	for (uint32_t i = 0; i < span; i++) {
		uint16_t id = ss->next_cntlid;
		struct nvmft_ctrlr *c;
		bool used = false;

		ss->next_cntlid = id == ss->max_cntlid ? ss->min_cntlid : (uint16_t)(id + 1);
		TAILQ_FOREACH(c, &ss->ctrlrs, ss_link) {
			if (c->cntlid == id) {
				used = true;
				break;
			}
		}
		if (!used) {
			ctrlr->cntlid = id;
			TAILQ_INSERT_TAIL(&ss->ctrlrs, ctrlr, ss_link);
			rc = 0;
			break;
		}
	}
out:
	pthread_mutex_unlock(&ss->lock);
	return rc;
}

void nvmft_subsystem_remove_ctrlr(struct nvmft_subsystem *ss, struct nvmft_ctrlr *ctrlr)
{
	pthread_mutex_lock(&ss->lock);
	TAILQ_REMOVE(&ss->ctrlrs, ctrlr, ss_link);
	pthread_mutex_unlock(&ss->lock);
}

struct nvmft_ctrlr *nvmft_subsystem_get_ctrlr(struct nvmft_subsystem *ss, uint16_t cntlid)
{
	struct nvmft_ctrlr *c;

	pthread_mutex_lock(&ss->lock);
	TAILQ_FOREACH(c, &ss->ctrlrs, ss_link) {
		if (c->cntlid == cntlid) {
			nvmft_ctrlr_ref(c);
			break;
		}
	}
	pthread_mutex_unlock(&ss->lock);
	return c;
}

NVMFT_EXPORT int nvmft_subsystem_foreach_ctrlr(struct nvmft_subsystem *ss, nvmft_ctrlr_iter_fn fn, void *arg)
{
	struct nvmft_ctrlr *c;
	int rc = 0;

	if (ss == NULL || fn == NULL)
		return -EINVAL;
	pthread_mutex_lock(&ss->lock);
	TAILQ_FOREACH(c, &ss->ctrlrs, ss_link) {
		rc = fn(arg, c);
		if (rc != 0)
			break;
	}
	pthread_mutex_unlock(&ss->lock);
	return rc;
}

/* ---- Notifications ------------------------------------------------------------------------- */

static void ss_notify_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct ss_op *op = nvmft_bcast_ctx(bc);
	struct nvmft_ctrlr *c;

	TAILQ_FOREACH(c, &pg->ctrlrs, pg_link) {
		if (c->ss != op->ss)
			continue;
		if (op->ss->type == NVMFT_SUBTYPE_DISCOVERY)
			nvmft_ctrlr_notify(c, NVMFT_AEN_DISC_CHANGED);
		else
			nvmft_ctrlr_ns_changed(c, op->nsid);
	}
	nvmft_bcast_ack(bc, pg, 0);
}

static const struct nvmft_bcast_ops ss_notify_ops = {
	.run = ss_notify_run,
	.done = ss_op_done,
};

void nvmft_subsystem_notify_discovery_change(struct nvmft_subsystem *ss)
{
	struct ss_op *op;

	/* Nobody to tell: skip the broadcast. */
	if (ss == NULL || TAILQ_EMPTY(&ss->ctrlrs))
		return;
	op = ss_op_new(ss, NULL, NULL);
	if (op != NULL)
		ss_op_start(op, &ss_notify_ops, 0);
}

int nvmft_subsystem_notify_ns_change(struct nvmft_subsystem *ss, uint32_t nsid, nvmft_done_fn cb,
				     void *cb_arg)
{
	struct ss_op *op = ss_op_new(ss, cb, cb_arg);

	if (op == NULL)
		return -ENOMEM;
	op->nsid = nsid;
	return ss_op_start(op, &ss_notify_ops, 0);
}

/* ---- Pause and resume --------------------------------------------------------------------- */

static void ss_pause_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct ss_op *op = nvmft_bcast_ctx(bc);
	struct nvmft_pg_subsys *pgss = nvmft_pg_subsys(pg, op->ss->id);

	if (pgss == NULL || pgss->ss != op->ss) {
		nvmft_bcast_ack(bc, pg, 0);
		return;
	}
	pgss->state = NVMFT_PG_SS_PAUSED;
	if (pgss->io_outstanding == 0)
		nvmft_bcast_ack(bc, pg, 0);
	else
		pgss->drain = bc; /* acked from nvmft_pg_io_done() */
}

static void ss_pause_expire(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct ss_op *op = nvmft_bcast_ctx(bc);
	struct nvmft_pg_subsys *pgss = nvmft_pg_subsys(pg, op->ss->id);

	if (pgss != NULL && pgss->drain == bc) {
		pgss->drain = NULL;
		nvmft_err(&pg->tgt->log, "%s: %u I/O of %s still in the backend after the drain deadline",
			  pg->name, pgss->io_outstanding, op->ss->nqn);
	}
	nvmft_bcast_ack(bc, pg, -ETIMEDOUT);
}

static void ss_pause_done(struct nvmft_bcast *bc, int status)
{
	struct ss_op *op = nvmft_bcast_ctx(bc);

	if (op->ss->state == NVMFT_SS_PAUSING)
		op->ss->state = NVMFT_SS_PAUSED;
	ss_op_done(bc, status);
}

static const struct nvmft_bcast_ops ss_pause_ops = {
	.run = ss_pause_run,
	.expire = ss_pause_expire,
	.done = ss_pause_done,
};

NVMFT_EXPORT int nvmft_subsystem_pause(struct nvmft_subsystem *ss, nvmft_done_fn cb, void *cb_arg)
{
	struct ss_op *op;
	int rc;

	if (ss == NULL || ss->type == NVMFT_SUBTYPE_DISCOVERY)
		return -EINVAL;
	if (ss->state != NVMFT_SS_ACTIVE)
		return -EBUSY;
	op = ss_op_new(ss, cb, cb_arg);
	if (op == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&ss->tgt->lock);
	ss->state = NVMFT_SS_PAUSING;
	pthread_mutex_unlock(&ss->tgt->lock);
	rc = ss_op_start(op, &ss_pause_ops, ss->tgt->opts.drain_timeout_ms);
	if (rc < 0)
		ss->state = NVMFT_SS_ACTIVE;
	return rc;
}

static void ss_resume_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct ss_op *op = nvmft_bcast_ctx(bc);
	struct nvmft_pg_subsys *pgss = nvmft_pg_subsys(pg, op->ss->id);
	struct nvmft_req *req;

	if (pgss != NULL && pgss->ss == op->ss) {
		struct nvmft_bcast *pause = pgss->drain;

		pgss->state = NVMFT_PG_SS_ACTIVE;
		pgss->drain = NULL;
		/* Held commands run from the poll loop, in arrival order. */
		while ((req = TAILQ_FIRST(&pgss->queued)) != NULL) {
			TAILQ_REMOVE(&pgss->queued, req, link);
			nvmft_pg_resume_req(pg, req);
		}
		/* A pause still draining here was overtaken: it will not drain any more. */
		if (pause != NULL)
			nvmft_bcast_ack(pause, pg, -ECANCELED);
	}
	nvmft_bcast_ack(bc, pg, 0);
}

static void ss_resume_done(struct nvmft_bcast *bc, int status)
{
	struct ss_op *op = nvmft_bcast_ctx(bc);

	if (op->ss->state == NVMFT_SS_RESUMING)
		op->ss->state = NVMFT_SS_ACTIVE;
	ss_op_done(bc, status);
}

static const struct nvmft_bcast_ops ss_resume_ops = {
	.run = ss_resume_run,
	.done = ss_resume_done,
};

NVMFT_EXPORT int nvmft_subsystem_resume(struct nvmft_subsystem *ss, nvmft_done_fn cb, void *cb_arg)
{
	struct ss_op *op;

	if (ss == NULL || (ss->state != NVMFT_SS_PAUSED && ss->state != NVMFT_SS_PAUSING))
		return -EINVAL;
	op = ss_op_new(ss, cb, cb_arg);
	if (op == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&ss->tgt->lock);
	ss->state = NVMFT_SS_RESUMING;
	pthread_mutex_unlock(&ss->tgt->lock);
	return ss_op_start(op, &ss_resume_ops, 0);
}
