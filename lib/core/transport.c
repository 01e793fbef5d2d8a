/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Generic transport and listener objects.  The transport-specific work is
 * behind struct nvmft_transport_ops; this file keeps the bookkeeping every
 * transport shares: option defaults and validation, the per-target
 * registry, listener lifetimes, and the broadcasts that give poll groups
 * their per-transport state or drop a listener's connections.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "core/bcast.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "core/transport.h"
#include "util/compiler.h"

extern const struct nvmft_bcast_ops nvmft_pg_add_transport_ops;

static void transport_generic_defaults(struct nvmft_transport_opts *o)
{
	o->max_queue_depth = 128;
	o->max_aq_depth = 128;
	o->max_qpairs_per_ctrlr = 128;
	o->in_capsule_data_size = 4096;
	o->max_io_size = 131072;
	o->buf_pool_bytes = 32ull << 20;
	o->digests = NVMFT_DIGEST_HEADER | NVMFT_DIGEST_DATA;
	o->c2h_success = true;
	o->max_h2c_data = 131072;
	o->max_connections = 4096;
	o->max_qpair_buf_bytes = 0;
	o->stall_timeout_ms = 30000;
}

NVMFT_EXPORT int nvmft_transport_opts_init(enum nvmft_trtype trtype, struct nvmft_transport_opts *opts,
					   size_t size)
{
	const struct nvmft_transport_ops *ops = nvmft_transport_ops_find(trtype);
	struct nvmft_transport_opts d = { .size = size };

	if (opts == NULL || size < sizeof(size_t))
		return -EINVAL;
	transport_generic_defaults(&d);
	if (ops != NULL && ops->opts_init != NULL)
		ops->opts_init(&d);
	memcpy(opts, &d, NVMFT_MIN(size, sizeof(d)));
	return ops != NULL ? 0 : -EPROTONOSUPPORT;
}

static bool transport_opts_valid(const struct nvmft_transport_opts *o)
{
	bool pow2 = o->max_io_size != 0 && (o->max_io_size & (o->max_io_size - 1)) == 0;

	return o->max_queue_depth >= 2 && o->max_queue_depth <= 65536 && o->max_aq_depth >= 32 &&
	       o->max_aq_depth <= 4096 && o->max_qpairs_per_ctrlr >= 2 &&
	       o->max_qpairs_per_ctrlr <= 65535 && o->in_capsule_data_size <= 65536 && pow2 &&
	       o->max_io_size >= 4096 && o->max_io_size <= (8u << 20) &&
	       o->buf_pool_bytes >= o->max_io_size && o->max_h2c_data >= 4096 && o->max_connections > 0 &&
	       (o->max_qpair_buf_bytes == 0 || o->max_qpair_buf_bytes >= o->max_io_size) &&
	       o->stall_timeout_ms > 0;
}

NVMFT_EXPORT int nvmft_transport_new(struct nvmft_target *tgt, enum nvmft_trtype trtype,
				     const struct nvmft_transport_opts *opts, struct nvmft_transport **ret)
{
	const struct nvmft_transport_ops *ops = nvmft_transport_ops_find(trtype);

	if (tgt == NULL || ret == NULL)
		return -EINVAL;
	if (ops == NULL)
		return -EPROTONOSUPPORT;
	return nvmft_transport_new_ops(tgt, ops, opts, ret);
}

int nvmft_transport_new_ops(struct nvmft_target *tgt, const struct nvmft_transport_ops *ops,
			    const struct nvmft_transport_opts *opts, struct nvmft_transport **ret)
{
	struct nvmft_transport *tr;
	uint32_t idx;
	int rc;

	for (idx = 0; idx < NVMFT_MAX_TRANSPORTS; idx++)
		if (tgt->transports[idx] != NULL && tgt->transports[idx]->ops == ops)
			return -EEXIST;
	for (idx = 0; idx < NVMFT_MAX_TRANSPORTS && tgt->transports[idx] != NULL; idx++)
		;
	if (idx == NVMFT_MAX_TRANSPORTS)
		return -ENOSPC;
	tr = calloc(1, sizeof(*tr));
	if (tr == NULL)
		return -ENOMEM;
	transport_generic_defaults(&tr->opts);
	tr->opts.size = sizeof(tr->opts);
	if (ops->opts_init != NULL)
		ops->opts_init(&tr->opts);
	if (opts != NULL) {
		if (opts->size < sizeof(size_t)) {
			free(tr);
			return -EINVAL;
		}
		memcpy(&tr->opts, opts, NVMFT_MIN(opts->size, sizeof(tr->opts)));
		tr->opts.size = sizeof(tr->opts);
	}
	if (!transport_opts_valid(&tr->opts)) {
		free(tr);
		return -EINVAL;
	}
	if (tr->opts.max_qpair_buf_bytes == 0)
		tr->opts.max_qpair_buf_bytes = NVMFT_MAX(tr->opts.buf_pool_bytes / 4, (uint64_t)tr->opts.max_io_size);
	tr->tgt = tgt;
	tr->ops = ops;
	tr->index = idx;
	TAILQ_INIT(&tr->listeners);
	rc = ops->create(tr);
	if (rc < 0) {
		free(tr);
		return rc;
	}
	/* Groups read both under the lock (discovery log, new groups). */
	pthread_mutex_lock(&tgt->lock);
	tgt->transports[idx] = tr;
	TAILQ_INSERT_TAIL(&tgt->tr_list, tr, link);
	pthread_mutex_unlock(&tgt->lock);
	/*
	 * Running groups create their state on their own thread.  A connection
	 * can only reach a group after a listener exists, and the message that
	 * assigns it queues behind this one.
	 */
	if (tgt->num_pgs > 0) {
		rc = nvmft_bcast_start(tgt, &nvmft_pg_add_transport_ops, tr, 0);
		if (rc < 0)
			nvmft_err(&tgt->log, "%s: poll groups not told about the transport (%d)", ops->name, rc);
	}
	*ret = tr;
	return 0;
}

void nvmft_transport_free(struct nvmft_transport *tr)
{
	struct nvmft_target *tgt = tr->tgt;
	struct nvmft_listener *l;

	while ((l = TAILQ_FIRST(&tr->listeners)) != NULL)
		nvmft_listener_destroy(l, NULL, NULL);
	/* Queue pairs are gone with the poll groups: the listener frees are queued messages. */
	nvmft_msgq_drain(&tgt->mq, 0);
	pthread_mutex_lock(&tgt->lock);
	TAILQ_REMOVE(&tgt->tr_list, tr, link);
	tgt->transports[tr->index] = NULL;
	pthread_mutex_unlock(&tgt->lock);
	tr->ops->destroy(tr);
	free(tr);
}

NVMFT_EXPORT struct nvmft_transport *nvmft_transport_get_first(struct nvmft_target *tgt)
{
	return tgt ? TAILQ_FIRST(&tgt->tr_list) : NULL;
}

NVMFT_EXPORT struct nvmft_transport *nvmft_transport_get_next(struct nvmft_transport *tr)
{
	return tr ? TAILQ_NEXT(tr, link) : NULL;
}

NVMFT_EXPORT struct nvmft_transport *nvmft_transport_find(struct nvmft_target *tgt, enum nvmft_trtype trtype)
{
	struct nvmft_transport *tr;

	if (tgt == NULL)
		return NULL;
	TAILQ_FOREACH(tr, &tgt->tr_list, link)
		if (tr->ops->type == trtype)
			return tr;
	return NULL;
}

NVMFT_EXPORT enum nvmft_trtype nvmft_transport_get_type(const struct nvmft_transport *tr)
{
	return tr->ops->type;
}

NVMFT_EXPORT const char *nvmft_trtype_name(enum nvmft_trtype trtype)
{
	switch (trtype) {
	case NVMFT_TRTYPE_TCP:
		return "TCP";
	case NVMFT_TRTYPE_RDMA:
		return "RDMA";
	case NVMFT_TRTYPE_VFIOUSER:
		return "VFIOUSER";
	}
	return "unknown";
}

NVMFT_EXPORT void nvmft_transport_get_opts(const struct nvmft_transport *tr,
					   struct nvmft_transport_opts *opts, size_t size)
{
	struct nvmft_transport_opts o;

	if (tr == NULL || opts == NULL || size < sizeof(size_t))
		return;
	o = tr->opts;
	o.size = size;
	memcpy(opts, &o, NVMFT_MIN(size, sizeof(o)));
}

/* ---- Listeners ------------------------------------------------------------------ */

void nvmft_listener_ref(struct nvmft_listener *l)
{
	atomic_fetch_add(&l->refs, 1);
}

static void listener_free_msg(struct nvmft_msg *msg)
{
	free(nvmft_container_of(msg, struct nvmft_listener, msg));
}

void nvmft_listener_unref(struct nvmft_listener *l)
{
	if (l != NULL && atomic_fetch_sub(&l->refs, 1) == 1)
		nvmft_target_post(l->tr->tgt, &l->msg, listener_free_msg);
}

NVMFT_EXPORT int nvmft_listener_new(struct nvmft_transport *tr, const struct nvmft_listen_opts *opts,
				    struct nvmft_listener **ret)
{
	struct nvmft_target *tgt;
	struct nvmft_listener *l;
	int rc;

	if (tr == NULL || opts == NULL || ret == NULL || opts->size < sizeof(size_t) || opts->traddr == NULL ||
	    strlen(opts->traddr) >= sizeof(l->traddr) ||
	    (opts->trsvcid != NULL && strlen(opts->trsvcid) >= sizeof(l->trsvcid)))
		return -EINVAL;
	tgt = tr->tgt;
	if (nvmft_listener_find(tr, opts->traddr, opts->trsvcid) != NULL)
		return -EEXIST;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	l->tr = tr;
	l->adrfam = opts->adrfam;
	l->fd = -1;
	strlcpy(l->traddr, opts->traddr, sizeof(l->traddr));
	if (opts->trsvcid)
		strlcpy(l->trsvcid, opts->trsvcid, sizeof(l->trsvcid));
	atomic_init(&l->refs, 1);
	rc = tr->ops->listen(tr, l);
	if (rc < 0) {
		free(l);
		return rc;
	}
	if (l->fd >= 0) {
		rc = nvmft_target_watch_fd(tgt, l->fd, l);
		if (rc < 0) {
			tr->ops->stop_listen(tr, l);
			free(l);
			return rc;
		}
	}
	/* PORTID identifies a port in discovery entries; never reuse one while running. */
	l->portid = tgt->next_portid++;
	pthread_mutex_lock(&tgt->lock); /* the discovery log walks listeners from groups */
	TAILQ_INSERT_TAIL(&tr->listeners, l, link);
	pthread_mutex_unlock(&tgt->lock);
	nvmft_target_discovery_changed(tgt);
	*ret = l;
	return 0;
}

struct listener_op {
	struct nvmft_listener *l;
	nvmft_done_fn cb;
	void *cb_arg;
};

static void listener_drop_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct listener_op *op = nvmft_bcast_ctx(bc);
	struct nvmft_qpair *qp, *tmp;

	TAILQ_FOREACH_SAFE(qp, &pg->qpairs, link, tmp)
		if (qp->listener == op->l)
			nvmft_qpair_disconnect(qp);
	nvmft_bcast_ack(bc, pg, 0);
}

static void listener_drop_done(struct nvmft_bcast *bc, int status)
{
	struct listener_op *op = nvmft_bcast_ctx(bc);

	nvmft_listener_unref(op->l);
	if (op->cb != NULL)
		op->cb(op->cb_arg, status);
	free(op);
}

static const struct nvmft_bcast_ops listener_drop_ops = {
	.run = listener_drop_run,
	.done = listener_drop_done,
};

NVMFT_EXPORT void nvmft_listener_destroy(struct nvmft_listener *l, nvmft_done_fn cb, void *cb_arg)
{
	struct nvmft_transport *tr;
	struct nvmft_target *tgt;
	struct nvmft_subsystem *ss;
	struct listener_op *op;

	if (l == NULL || l->destroyed)
		return;
	tr = l->tr;
	tgt = tr->tgt;
	l->destroyed = true;
	TAILQ_FOREACH(ss, &tgt->ss_list, link)
		nvmft_subsystem_forget_listener(ss, l);
	if (l->fd >= 0)
		nvmft_target_unwatch_fd(tgt, l->fd);
	tr->ops->stop_listen(tr, l);
	pthread_mutex_lock(&tgt->lock);
	TAILQ_REMOVE(&tr->listeners, l, link);
	pthread_mutex_unlock(&tgt->lock);
	nvmft_target_discovery_changed(tgt);
	op = calloc(1, sizeof(*op));
	if (op != NULL) {
		op->l = l; /* the owner's reference moves to the broadcast */
		op->cb = cb;
		op->cb_arg = cb_arg;
		if (nvmft_bcast_start(tgt, &listener_drop_ops, op, 0) == 0)
			return;
		free(op);
	}
	/* Out of memory: connections stay until their hosts leave; the listener goes with the last. */
	nvmft_listener_unref(l);
	if (cb != NULL)
		cb(cb_arg, -ENOMEM);
}

NVMFT_EXPORT struct nvmft_listener *nvmft_listener_get_first(struct nvmft_transport *tr)
{
	return tr ? TAILQ_FIRST(&tr->listeners) : NULL;
}

NVMFT_EXPORT struct nvmft_listener *nvmft_listener_get_next(struct nvmft_listener *l)
{
	return l ? TAILQ_NEXT(l, link) : NULL;
}

NVMFT_EXPORT struct nvmft_listener *nvmft_listener_find(struct nvmft_transport *tr, const char *traddr,
							const char *trsvcid)
{
	struct nvmft_listener *l;

	if (tr == NULL || traddr == NULL)
		return NULL;
	TAILQ_FOREACH(l, &tr->listeners, link)
		if (strcmp(l->traddr, traddr) == 0 && strcmp(l->trsvcid, trsvcid ? trsvcid : "") == 0)
			return l;
	return NULL;
}

NVMFT_EXPORT struct nvmft_transport *nvmft_listener_get_transport(const struct nvmft_listener *l)
{
	return l->tr;
}

NVMFT_EXPORT enum nvmft_adrfam nvmft_listener_get_adrfam(const struct nvmft_listener *l)
{
	return l->adrfam;
}

NVMFT_EXPORT const char *nvmft_listener_get_traddr(const struct nvmft_listener *l)
{
	return l->traddr;
}

NVMFT_EXPORT const char *nvmft_listener_get_trsvcid(const struct nvmft_listener *l)
{
	return l->trsvcid;
}
