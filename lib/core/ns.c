/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Namespaces.  Adding one opens a backend channel on every poll group, then
 * makes it visible and tells controllers (AEN).  Removing one hides it,
 * lets every group drain its I/O and close its channel (with a deadline),
 * then tells controllers.  The backend is released when the last group let
 * go, which may be later than the removal callback if a backend I/O hung.
 *
 * At the deadline the hosts of commands still in the backend get their
 * answer (Namespace Not Ready, DNR: the same as a backend that reports
 * -ENODEV, which Linux fails at once without retrying or failing over, as
 * no other path has the namespace either), but the requests, their
 * buffers and the channel stay the backend's until it completes them:
 * freeing memory a device may still write to would be worse than holding
 * it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "backends/backend.h"
#include "core/bcast.h"
#include "core/cmd.h"
#include "core/ns.h"
#include "core/poll_group.h"
#include "core/req.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "util/compiler.h"

NVMFT_EXPORT void nvmft_ns_opts_init(struct nvmft_ns_opts *opts, size_t size)
{
	struct nvmft_ns_opts d = { .size = size };

	if (opts == NULL || size < sizeof(size_t))
		return;
	memcpy(opts, &d, NVMFT_MIN(size, sizeof(d)));
}

void nvmft_ns_ref(struct nvmft_ns *ns)
{
	atomic_fetch_add(&ns->refs, 1);
}

static void ns_final(struct nvmft_ns *ns)
{
	if (ns->be->ns == ns)
		ns->be->ns = NULL;
	nvmft_io_ns_fini(ns);
	free(ns);
}

static void ns_final_msg(struct nvmft_msg *msg)
{
	ns_final(nvmft_container_of(msg, struct nvmft_ns, msg));
}

void nvmft_ns_unref(struct nvmft_ns *ns)
{
	/* Backend claims are management-thread state: finish there. */
	if (atomic_fetch_sub(&ns->refs, 1) == 1)
		nvmft_target_post(ns->ss->tgt, &ns->msg, ns_final_msg);
}

void nvmft_ns_free_now(struct nvmft_ns *ns)
{
	ns_final(ns);
}

static bool ns_id_is_zero(const uint8_t *id, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (id[i] != 0)
			return false;
	return true;
}

/* A random version 4 UUID, so a namespace always has a stable identity while it lives. */
static void ns_generate_uuid(uint8_t uuid[16])
{
	if (getrandom(uuid, 16, 0) != 16) {
		/* Without entropy, a unique-per-process value is still better than none. */
		uintptr_t p = (uintptr_t)uuid;

		memcpy(uuid, &p, sizeof(p));
	}
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
}

/* ---- Add ------------------------------------------------------------------------ */

static void ns_attach_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct nvmft_ns *ns = nvmft_bcast_ctx(bc);

	nvmft_bcast_ack(bc, pg, nvmft_pg_ns_attach(pg, ns));
}

static void ns_detach_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg);

static void ns_added_notified(void *arg, int status)
{
	struct nvmft_ns *ns = arg;
	nvmft_done_fn cb = ns->add_cb;

	(void)status;
	ns->add_cb = NULL;
	if (cb != NULL)
		cb(ns->add_arg, 0);
}

static void ns_rollback_done(struct nvmft_bcast *bc, int status)
{
	struct nvmft_ns *ns = nvmft_bcast_ctx(bc);
	nvmft_done_fn cb = ns->add_cb;
	void *arg = ns->add_arg;
	int rc = ns->remove_status;

	(void)status;
	/* The handle the caller holds dies here; its callback says so (and may free the backend). */
	if (atomic_fetch_sub(&ns->refs, 1) == 1)
		ns_final(ns);
	if (cb != NULL)
		cb(arg, rc);
}

static const struct nvmft_bcast_ops ns_rollback_ops = {
	.run = ns_detach_run,
	.done = ns_rollback_done,
};

static void ns_attach_done(struct nvmft_bcast *bc, int status)
{
	struct nvmft_ns *ns = nvmft_bcast_ctx(bc);
	struct nvmft_subsystem *ss = ns->ss;

	if (ns->removing) {
		/* Removed while being added: the removal owns it now. */
		ns_added_notified(ns, 0);
		return;
	}
	if (status < 0) {
		nvmft_err(&ss->tgt->log, "namespace %u of %s: a poll group could not open the backend (%d)",
			  ns->nsid, ss->nqn, status);
		pthread_mutex_lock(&ss->lock);
		ss->ns[ns->nsid - 1] = NULL;
		ss->num_ns--;
		pthread_mutex_unlock(&ss->lock);
		ns->removing = true;
		ns->remove_status = status;
		while (nvmft_bcast_start(ss->tgt, &ns_rollback_ops, ns, 0) < 0)
			;
		return;
	}
	pthread_mutex_lock(&ss->lock);
	ns->visible = true;
	pthread_mutex_unlock(&ss->lock);
	if (nvmft_subsystem_notify_ns_change(ss, ns->nsid, ns_added_notified, ns) < 0)
		ns_added_notified(ns, 0);
}

static const struct nvmft_bcast_ops ns_attach_ops = {
	.run = ns_attach_run,
	.done = ns_attach_done,
};

NVMFT_EXPORT int nvmft_ns_add(struct nvmft_subsystem *ss, struct nvmft_backend *be,
			      const struct nvmft_ns_opts *opts, nvmft_done_fn cb, void *cb_arg,
			      struct nvmft_ns **ret)
{
	struct nvmft_ns_opts o;
	struct nvmft_ns *ns;
	uint32_t nsid;
	int rc;

	if (ss == NULL || be == NULL || ret == NULL || ss->type != NVMFT_SUBTYPE_NVM ||
	    ss->state == NVMFT_SS_DELETING)
		return -EINVAL;
	nvmft_ns_opts_init(&o, sizeof(o));
	if (opts != NULL) {
		if (opts->size < sizeof(size_t))
			return -EINVAL;
		memcpy(&o, opts, NVMFT_MIN(opts->size, sizeof(o)));
	}
	if (be->ns != NULL)
		return -EBUSY;
	nsid = o.nsid;
	if (nsid == 0) {
		for (nsid = 1; nsid <= ss->max_nsid && ss->ns[nsid - 1] != NULL; nsid++)
			;
		if (nsid > ss->max_nsid)
			return -ENOSPC;
	} else if (nsid > ss->max_nsid) {
		return -EINVAL;
	} else if (ss->ns[nsid - 1] != NULL) {
		return -EEXIST;
	}
	ns = calloc(1, sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	ns->ss = ss;
	ns->be = be;
	ns->nsid = nsid;
	ns->read_only = o.read_only;
	ns->block_size = be->block_size;
	ns->block_shift = (uint8_t)__builtin_ctz(be->block_size);
	ns->num_blocks = be->num_blocks;
	ns->caps = be->caps;
	memcpy(ns->uuid, ns_id_is_zero(o.uuid, 16) ? be->uuid : o.uuid, 16);
	memcpy(ns->nguid, ns_id_is_zero(o.nguid, 16) ? be->nguid : o.nguid, 16);
	memcpy(ns->eui64, ns_id_is_zero(o.eui64, 8) ? be->eui64 : o.eui64, 8);
	/* Linux keys its multipath and by-id names on these: never report none. */
	if (ns_id_is_zero(ns->uuid, 16) && ns_id_is_zero(ns->nguid, 16) && ns_id_is_zero(ns->eui64, 8))
		ns_generate_uuid(ns->uuid);
	ns->add_cb = cb;
	ns->add_arg = cb_arg;
	atomic_init(&ns->refs, 1);

	be->ns = ns;
	pthread_mutex_lock(&ss->lock);
	ss->ns[nsid - 1] = ns;
	ss->num_ns++;
	pthread_mutex_unlock(&ss->lock);
	rc = nvmft_bcast_start(ss->tgt, &ns_attach_ops, ns, 0);
	if (rc < 0) {
		pthread_mutex_lock(&ss->lock);
		ss->ns[nsid - 1] = NULL;
		ss->num_ns--;
		pthread_mutex_unlock(&ss->lock);
		be->ns = NULL;
		free(ns);
		return rc;
	}
	*ret = ns;
	return 0;
}

/* ---- Remove ------------------------------------------------------------------------ */

static void ns_detach_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct nvmft_ns *ns = nvmft_bcast_ctx(bc);
	struct nvmft_pg_ns *pgns = nvmft_pg_ns(nvmft_pg_subsys(pg, ns->ss->id), ns->nsid);

	if (pgns == NULL || pgns->ns != ns) {
		nvmft_bcast_ack(bc, pg, 0);
		return;
	}
	pgns->removing = true;
	if (pgns->io_outstanding == 0) {
		nvmft_pg_ns_detach(pg, ns);
		nvmft_bcast_ack(bc, pg, 0);
	} else {
		pgns->drain = bc; /* acked from nvmft_pg_io_done() */
	}
}

static void ns_detach_expire(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct nvmft_ns *ns = nvmft_bcast_ctx(bc);
	struct nvmft_pg_ns *pgns = nvmft_pg_ns(nvmft_pg_subsys(pg, ns->ss->id), ns->nsid);

	if (pgns != NULL && pgns->drain == bc) {
		const uint16_t gone = NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY);
		struct nvmft_req *req, *tmp;
		uint32_t answered = 0;

		/*
		 * The channel stays open (closing it under the backend's feet would
		 * free memory it still writes to); it closes when the I/O returns.
		 */
		pgns->drain = NULL;
		LIST_FOREACH_SAFE(req, &pgns->be_reqs, be_link, tmp)
			if (nvmft_req_orphan(req, gone))
				answered++;
		nvmft_err(&pg->tgt->log,
			  "%s: namespace %u of %s: %u I/O still in the backend after the drain deadline, "
			  "%u answered for the host",
			  pg->name, ns->nsid, ns->ss->nqn, pgns->io_outstanding, answered);
	}
	nvmft_bcast_ack(bc, pg, -ETIMEDOUT);
}

static void ns_removed_notified(void *arg, int status)
{
	struct nvmft_ns *ns = arg;
	nvmft_done_fn cb = ns->remove_cb;
	void *cb_arg = ns->remove_arg;
	int rc = ns->remove_status;

	(void)status;
	/*
	 * On the management thread already: when every group has let go, drop
	 * the claim now, so @cb may free or reuse the backend.
	 */
	if (atomic_fetch_sub(&ns->refs, 1) == 1)
		ns_final(ns);
	if (cb != NULL)
		cb(cb_arg, rc);
}

static void ns_detach_done(struct nvmft_bcast *bc, int status)
{
	struct nvmft_ns *ns = nvmft_bcast_ctx(bc);
	struct nvmft_subsystem *ss = ns->ss;

	ns->remove_status = status;
	pthread_mutex_lock(&ss->lock);
	if (ss->ns[ns->nsid - 1] == ns) {
		ss->ns[ns->nsid - 1] = NULL;
		ss->num_ns--;
	}
	pthread_mutex_unlock(&ss->lock);
	if (nvmft_subsystem_notify_ns_change(ss, ns->nsid, ns_removed_notified, ns) < 0)
		ns_removed_notified(ns, 0);
}

static const struct nvmft_bcast_ops ns_detach_ops = {
	.run = ns_detach_run,
	.expire = ns_detach_expire,
	.done = ns_detach_done,
};

NVMFT_EXPORT void nvmft_ns_remove(struct nvmft_ns *ns, nvmft_done_fn cb, void *cb_arg)
{
	struct nvmft_subsystem *ss;

	if (ns == NULL || ns->removing)
		return;
	ss = ns->ss;
	ns->remove_cb = cb;
	ns->remove_arg = cb_arg;
	pthread_mutex_lock(&ss->lock);
	ns->removing = true;
	ns->visible = false;
	pthread_mutex_unlock(&ss->lock);
	/* Without memory for the message there is no way forward but to try again. */
	while (nvmft_bcast_start(ss->tgt, &ns_detach_ops, ns, ss->tgt->opts.drain_timeout_ms) < 0)
		;
}

/* ---- Lookups and getters ------------------------------------------------------------ */

NVMFT_EXPORT struct nvmft_ns *nvmft_ns_find(struct nvmft_subsystem *ss, uint32_t nsid)
{
	if (ss == NULL || nsid == 0 || nsid > ss->max_nsid || ss->ns[nsid - 1] == NULL)
		return NULL;
	return ss->ns[nsid - 1]->removing ? NULL : ss->ns[nsid - 1];
}

static struct nvmft_ns *ns_next_from(struct nvmft_subsystem *ss, uint32_t nsid)
{
	for (; nsid <= ss->max_nsid; nsid++)
		if (ss->ns[nsid - 1] != NULL && !ss->ns[nsid - 1]->removing)
			return ss->ns[nsid - 1];
	return NULL;
}

NVMFT_EXPORT struct nvmft_ns *nvmft_ns_get_first(struct nvmft_subsystem *ss)
{
	return ss ? ns_next_from(ss, 1) : NULL;
}

NVMFT_EXPORT struct nvmft_ns *nvmft_ns_get_next(struct nvmft_ns *ns)
{
	return ns ? ns_next_from(ns->ss, ns->nsid + 1) : NULL;
}

NVMFT_EXPORT uint32_t nvmft_ns_get_nsid(const struct nvmft_ns *ns)
{
	return ns->nsid;
}

NVMFT_EXPORT struct nvmft_backend *nvmft_ns_get_backend(const struct nvmft_ns *ns)
{
	return ns->be;
}

NVMFT_EXPORT struct nvmft_subsystem *nvmft_ns_get_subsystem(const struct nvmft_ns *ns)
{
	return ns->ss;
}

NVMFT_EXPORT void nvmft_ns_get_uuid(const struct nvmft_ns *ns, uint8_t uuid[16])
{
	memcpy(uuid, ns->uuid, 16);
}

NVMFT_EXPORT void nvmft_ns_get_nguid(const struct nvmft_ns *ns, uint8_t nguid[16])
{
	memcpy(nguid, ns->nguid, 16);
}

NVMFT_EXPORT void nvmft_ns_get_eui64(const struct nvmft_ns *ns, uint8_t eui64[8])
{
	memcpy(eui64, ns->eui64, 8);
}
