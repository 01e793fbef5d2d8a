/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The interface every transport implements, and the generic transport and
 * listener objects the core keeps for them.
 *
 * The interface is shaped for the three transports the library carries:
 *  - TCP: a byte stream of PDUs; in-capsule data; R2T/H2CData for writes;
 *    C2HData for reads.
 *  - RDMA: message capsules posted to a shared receive queue; keyed SGLs
 *    served with RDMA READ/WRITE; the group's buffer pool is registered
 *    chunk by chunk through @buf_mem_ops, and a request finds the keys of
 *    its buffers with nvmft_req_buf_mem_handle().
 *  - vfio-user: a PCIe controller whose queues live in client memory; no
 *    Fabrics Connect (the transport creates the controller itself with
 *    nvmft_ctrlr_new_local(), and its I/O queues with
 *    nvmft_qpair_add_local() + nvmft_ctrlr_add_local_io_qpair()); BAR0
 *    served with nvmft_ctrlr_reg_read/write() instead of Property Get/Set;
 *    the admin queue mapped by @ctrlr_enable; PRP/SGL data resolved against
 *    mapped client memory; Create/Delete I/O queue commands handled by
 *    @admin_cmd.
 *
 * Threads: transport-wide methods (create, listen, accept...) run on the
 * management thread; pg_* and qpair/request methods run on the thread of the
 * poll group that owns the queue pair.
 */
#ifndef NVMFT_CORE_TRANSPORT_H
#define NVMFT_CORE_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <bsd/sys/queue.h>
#include <nvmft/transport.h>

#include "util/buf_pool.h"
#include "util/msgq.h"

struct nvmft_ctrlr;
struct nvmft_req;
struct nvmft_qpair;
struct nvmft_poll_group;
struct nvmft_target;
struct nvme_id_ctrl;
struct nvmf_disc_log_entry;

/* Transport capability bits, &nvmft_transport_ops.caps. */
enum {
	/* Read data may come from backend memory (it needs no registration). */
	NVMFT_TR_CAP_ZCOPY_READ = 1u << 0,
	/* Queues are created by admin commands, not Fabrics Connect (vfio-user). */
	NVMFT_TR_CAP_PCIE = 1u << 1,
};

struct nvmft_transport_ops {
	enum nvmft_trtype type;
	const char *name;
	uint32_t caps;

	/* Adjust the generic defaults in @opts for this transport. */
	void (*opts_init)(struct nvmft_transport_opts *opts);
	/* Validate tr->opts and set up tr->priv.  Return 0 or -errno. */
	int (*create)(struct nvmft_transport *tr);
	void (*destroy)(struct nvmft_transport *tr);

	/*
	 * Start listening on l's address; set l->fd to a descriptor that is
	 * readable when @accept has work (or -1 to be polled every target
	 * poll) and fill l->trsvcid with the port actually bound.
	 */
	int (*listen)(struct nvmft_transport *tr, struct nvmft_listener *l);
	void (*stop_listen)(struct nvmft_transport *tr, struct nvmft_listener *l);
	/*
	 * Accept pending connections on @l; hand each new queue pair to
	 * nvmft_target_accepted().  Return the number accepted or -errno.
	 */
	int (*accept)(struct nvmft_transport *tr, struct nvmft_listener *l);

	/* Fill the transport-specific parts of Identify Controller. */
	void (*cdata_init)(struct nvmft_transport *tr, struct nvme_id_ctrl *cdata);
	/* Fill TREQ and TSAS of a discovery log entry for @l. */
	void (*disc_entry)(struct nvmft_listener *l, struct nvmf_disc_log_entry *e);

	/*
	 * Per-poll-group state.  pg_create runs on the group's thread, or on
	 * the management thread before the group is first polled.
	 */
	int (*pg_create)(struct nvmft_transport *tr, struct nvmft_poll_group *pg, void **tpg);
	void (*pg_destroy)(void *tpg);
	/* Move queue pairs forward; return work done or -errno. */
	int (*pg_poll)(void *tpg, unsigned int budget);
	/*
	 * An accepted queue pair arrives on its poll group (group thread).
	 * Return 0, or -errno to refuse it (the core then frees it).
	 */
	int (*pg_add_qpair)(void *tpg, struct nvmft_qpair *qp);

	/*
	 * Stop all traffic of @qp at once: no new commands are read and
	 * nothing more is sent.  Requests the transport holds (waiting for
	 * host data, queued to send) are released with nvmft_req_release();
	 * requests inside the core come back through @req_complete later and
	 * are released then.  Idempotent; group thread.
	 */
	void (*qpair_disconnect)(struct nvmft_qpair *qp);
	/* Free @qp; the core calls this once no request is outstanding. */
	void (*qpair_free)(struct nvmft_qpair *qp);
	/* Describe the peer; see nvmft_qpair_get_peer(). */
	int (*qpair_get_peer)(const struct nvmft_qpair *qp, struct sockaddr_storage *ss);

	/*
	 * The core finished @req (status in req->cpl): send its C2H data and
	 * the response, then call nvmft_req_release().  On a disconnected
	 * queue pair, release at once.
	 */
	void (*req_complete)(struct nvmft_req *req);
	/* A request queued by nvmft_req_get_buffers() now has its buffers. */
	void (*req_buffers_ready)(struct nvmft_req *req);
	/*
	 * Optional: a request whose nvmft_req_release() returned false (an
	 * orphan: its command was answered at a namespace's drain deadline
	 * while the backend still held it) is free for reuse now.  Without
	 * this method the core never makes orphans: such commands stay
	 * unanswered until their backend completes.  Group thread; the queue
	 * pair may be disconnected but is not freed yet.
	 */
	void (*req_recycle)(struct nvmft_req *req);
	/*
	 * Optional: transport-specific admin commands (vfio-user's queue
	 * management, Doorbell Buffer Config).  Only opcodes the core does not
	 * know reach it, and only on an enabled NVM controller.  Return true
	 * when @req was taken (the transport completes it with
	 * nvmft_req_finish(), possibly later); false fails it with Invalid
	 * Command Opcode.
	 */
	bool (*admin_cmd)(struct nvmft_req *req);
	/*
	 * Optional (PCIe-style): the host sets CC.EN of @ctrlr and the core
	 * found CC (and, for a local controller, AQA/ASQ/ACQ) valid: map the
	 * admin queue; return 0 to become ready, or -errno to report CSTS.CFS.
	 * Called with @enable false once a reset that followed a successful
	 * enable has dropped every I/O queue, to unmap it again.  Not called
	 * when the controller is deleted: its admin queue's qpair_disconnect
	 * and qpair_free come then.  Owner thread of @ctrlr.
	 */
	int (*ctrlr_enable)(struct nvmft_ctrlr *ctrlr, bool enable);
	/*
	 * Optional (RDMA): register each chunk of every group's buffer pool
	 * once, when the pool allocates it, and unregister it when the pool
	 * is freed (before pg_destroy).  The callbacks get the tpg that
	 * pg_create made as their context.
	 */
	const struct nvmft_buf_pool_mem_ops *buf_mem_ops;
};

/* The registry of transports built into this library; NULL if absent. */
const struct nvmft_transport_ops *nvmft_transport_ops_find(enum nvmft_trtype type);
/*
 * nvmft_transport_new() for an ops table that is not in the registry (the
 * in-process test transport).  Same contract.
 */
int nvmft_transport_new_ops(struct nvmft_target *tgt, const struct nvmft_transport_ops *ops,
			    const struct nvmft_transport_opts *opts, struct nvmft_transport **ret);

struct nvmft_transport {
	struct nvmft_target *tgt;
	const struct nvmft_transport_ops *ops;
	struct nvmft_transport_opts opts;
	void *priv;
	/* Index of this transport in each poll group's transport array. */
	uint32_t index;
	uint32_t _Atomic num_connections;
	TAILQ_HEAD(, nvmft_listener) listeners;
	TAILQ_ENTRY(nvmft_transport) link;
};

struct nvmft_listener {
	struct nvmft_transport *tr;
	enum nvmft_adrfam adrfam;
	char traddr[256];
	char trsvcid[32];
	uint16_t portid; /* discovery log PORTID, unique per target */
	int fd;          /* in the target's epoll set when >= 0 */
	void *priv;
	/* The handle's owner holds one reference, each queue pair one. */
	uint32_t _Atomic refs;
	bool destroyed;
	struct nvmft_msg msg;
	/* Subsystems reference it; destroyed when the handle owner says so. */
	TAILQ_ENTRY(nvmft_listener) link;
};

/* Destroy every listener and the transport itself (target teardown). */
void nvmft_transport_free(struct nvmft_transport *tr);
void nvmft_listener_ref(struct nvmft_listener *l);
/* The last reference frees the listener (on the management thread). */
void nvmft_listener_unref(struct nvmft_listener *l);

#endif
