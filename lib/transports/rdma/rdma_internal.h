/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe/RDMA transport internals, shared by rdma.c (transport, devices,
 * listeners and their CM events, poll groups, completion queues, memory
 * registration) and rdma_qp.c (one connection: its queue pair, request
 * slots, capsules, RDMA READ/WRITE and responses, teardown).
 *
 * Ownership.  The transport, its devices and listeners belong to the
 * management thread.  A connection is made there from an RDMA_CM_REQUEST
 * and moved at once to an event channel of its own; from the moment its
 * poll group takes it (pg_add_qpair) everything in it, its CM events
 * included, is that group's.  Per group and device there is one
 * completion queue shared by all of the group's queue pairs on that
 * device, and (unless no_srq) one shared receive queue.
 *
 * Work request IDs are pointers with a tag in their three low bits (every
 * structure they point to is at least 8-byte aligned).  Every work request
 * is signaled, so each one comes back exactly once, with success or an
 * error (flushed when the queue pair went to the error state): a request
 * counts what it has posted and is done with the hardware at zero.
 */
#ifndef NVMFT_RDMA_INTERNAL_H
#define NVMFT_RDMA_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <bsd/sys/queue.h>

#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "transports/group_set.h"
#include "transports/rdma/rdma_codec.h"
#include "transports/rdma/rdma_verbs.h"
#include "util/compiler.h"

enum {
	RDMA_LISTEN_BACKLOG = 512,
	/* CM events handled per listener per target poll. */
	RDMA_ACCEPT_BATCH = 64,
	/* Completion queue entries beyond the shared receive queue, to start with. */
	RDMA_CQ_INITIAL = 1024,
	/* Work completions taken per ibv_poll_cq() call. */
	RDMA_WC_BATCH = 32,
	/* A host whose SEND finds no receive buffer retries without end (7 = infinite). */
	RDMA_RNR_RETRY = 7,
	RDMA_HASH_BUCKETS = 256,
	RDMA_DEFAULT_SRQ_DEPTH = 4096,
	RDMA_MIN_SRQ_DEPTH = 16,
	RDMA_MAX_SRQ_DEPTH = 65536,
};

/* Work request ID tags. */
enum {
	RDMA_WR_RECV = 0,  /* struct rdma_recv *: a capsule arrived */
	RDMA_WR_READ = 1,  /* struct rdma_req *: RDMA READ of write data */
	RDMA_WR_WRITE = 2, /* struct rdma_req *: RDMA WRITE of read data */
	RDMA_WR_SEND = 3,  /* struct rdma_req *: the response */
	RDMA_WR_TAG_MASK = 7,
};

/* What a descriptor in a poll group's epoll set belongs to. */
enum rdma_watch_kind {
	RDMA_WATCH_KICK,
	RDMA_WATCH_CONN, /* a connection's CM event channel */
	RDMA_WATCH_CQ,   /* a completion channel */
};

struct rdma_watch {
	enum rdma_watch_kind kind;
};

struct rdma_dev {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_device_attr attr;
	uint32_t index;
	int max_sge;     /* SGEs per SEND / RDMA WRITE work request we use */
	int max_sge_rd;  /* SGEs per RDMA READ */
	bool send_inv;   /* the device can SEND with remote invalidation */
	/* DEVICE_REMOVAL seen (any thread): no new resources on it. */
	bool _Atomic removed;
};

struct rdma_transport {
	struct nvmft_transport *tr;
	const struct nvmft_rdma_verbs *v;
	/* Opened by the first listener (so a test can swap @v before). */
	bool devs_open;
	struct ibv_context **dev_list;
	struct rdma_dev *devs;
	uint32_t ndevs;
	uint32_t recv_size;  /* a capsule: the SQE and up to in_capsule_data_size bytes */
	uint32_t srq_depth;  /* 0: each queue pair has its own receive queue */
};

struct rdma_listener {
	struct rdma_transport *rt;
	struct nvmft_listener *l;
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;
	/* The target watches this: the CM channel and every device's async events. */
	int epfd;
};

struct rdma_recv_set;

/* One receive buffer: a capsule lands here. */
struct rdma_recv {
	uint8_t *buf;
	struct ibv_sge sge;
	struct rdma_recv_set *set;
	bool posted;
	uint32_t len;                 /* a parked capsule's length */
	TAILQ_ENTRY(rdma_recv) link;  /* rdma_conn.parked */
};

/* The buffers of one receive queue: a shared one, or a queue pair's own. */
struct rdma_recv_set {
	const struct nvmft_rdma_verbs *v;
	uint8_t *region;
	size_t bytes;
	struct ibv_mr *mr;
	struct rdma_recv *recvs;
	uint32_t n;
	struct ibv_srq *srq;    /* shared: posted here */
	struct rdma_conn *conn; /* own: posted to this connection's queue pair */
};

/* A poll group's resources on one device. */
struct rdma_pg_dev {
	struct rdma_watch watch;
	struct rdma_tpg *tpg;
	struct rdma_dev *dev;
	struct ibv_comp_channel *cc;
	struct ibv_cq *cq;
	int cq_size;     /* entries */
	int cq_need;     /* entries its queues can fill at once */
	bool armed;      /* completion notification requested and not yet delivered */
	bool have_srq;
	struct rdma_recv_set srq;
	uint32_t nconns; /* connections using it, zombies included */
};

struct rdma_tpg {
	struct rdma_watch watch; /* the kick eventfd */
	struct nvmft_poll_group *pg;
	struct nvmft_transport *tr;
	struct rdma_transport *rt;
	struct nvmft_group_set set; /* completion channels, CM channels, the kick */
	struct rdma_pg_dev **devs;  /* by device index, made on first use */
	bool *devs_dropped;         /* pool registrations on a removed device released */
	uint32_t ndevs;
	struct rdma_conn *hash[RDMA_HASH_BUCKETS]; /* by QP number */
	TAILQ_HEAD(, rdma_conn) conns;   /* taken by this group, not yet freed by the core */
	TAILQ_HEAD(, rdma_conn) zombies; /* freed by the core: QP still to destroy */
};

/* Where a request is, as far as this transport is concerned. */
enum rdma_req_state {
	RDMA_REQ_FREE = 0,
	RDMA_REQ_CORE,      /* inside the core (parsing, executing, backend) */
	RDMA_REQ_WAIT_BUF,  /* queued for pool buffers */
	RDMA_REQ_WAIT_READ, /* its RDMA READs wait for the queue pair's read credits */
	RDMA_REQ_READING,   /* RDMA READs posted */
	RDMA_REQ_SENDING,   /* RDMA WRITEs and the response posted */
};

struct rdma_conn;

struct rdma_req {
	struct nvmft_req req;
	struct rdma_conn *c;
	uint16_t slot;
	uint8_t state;          /* enum rdma_req_state */
	bool invalidate;        /* answer with SEND_WITH_INV of @rkey */
	bool wr_err;            /* a work request of the current phase failed */
	uint16_t nr_wr;         /* work requests posted and not yet completed */
	uint16_t nr_reads;      /* RDMA READs counted against the read credits */
	uint16_t connect_ipo;   /* Connect refused here: IPO of the bad field (0: none) */
	uint32_t rkey;
	uint64_t raddr;
	struct rdma_recv *recv; /* capsule buffer kept for its in-capsule data */
	struct nvmft_cpl *rsp;  /* in the connection's registered response array */
	TAILQ_ENTRY(rdma_req) link; /* free list or read wait queue */
};

struct rdma_conn {
	struct nvmft_qpair qp;
	struct rdma_watch watch; /* the CM event channel */
	struct rdma_transport *rt;
	struct rdma_tpg *tpg;    /* NULL until the group takes it */
	struct rdma_dev *dev;
	struct rdma_pg_dev *pgd;
	struct rdma_cm_id *id;
	struct rdma_event_channel *ch;
	struct ibv_qp *ibqp;     /* NULL until created, again once destroyed */
	uint32_t qp_num;
	struct nvmft_rdma_cm_params params;
	uint8_t responder_resources;
	uint8_t initiator_depth;
	bool accepted;
	bool established;
	bool dead;               /* disconnected: nothing more is posted */
	bool watched;
	bool in_hash;
	const char *why;         /* reason for the next disconnect, for the log */
	struct sockaddr_storage peer;

	uint32_t depth;          /* requests: HSQSIZE + 1 */
	struct rdma_req *reqs;
	TAILQ_HEAD(, rdma_req) free_reqs;
	uint32_t busy;
	/*
	 * Requests whose response is posted but whose SEND has not completed:
	 * the host may have seen the response and sent its next command,
	 * which then waits (parked, in order) for a slot to come free.
	 */
	uint32_t sending;
	TAILQ_HEAD(, rdma_recv) parked;
	uint32_t nparked;
	struct nvmft_cpl *rsps;
	struct ibv_mr *rsp_mr;
	bool have_rq;            /* own receive queue (no SRQ) */
	struct rdma_recv_set rq;
	int sq_size;
	int cq_need;
	/* RDMA READs in flight and allowed (initiator depth); waiters in order. */
	uint32_t reads;
	uint32_t max_reads;
	TAILQ_HEAD(, rdma_req) read_wait;
	uint64_t invalidations;  /* responses sent with remote invalidation */

	struct rdma_conn *hash_next;
	TAILQ_ENTRY(rdma_conn) link; /* tpg->conns or tpg->zombies */
};

/* The registration of one buffer pool chunk on every device (buf_mem_ops handle). */
struct rdma_chunk_reg {
	uint32_t n;
	struct ibv_mr *mr[];
};

static inline struct rdma_conn *rdma_conn_of(struct nvmft_qpair *qp)
{
	return nvmft_container_of(qp, struct rdma_conn, qp);
}

static inline struct rdma_req *rdma_req_of(struct nvmft_req *req)
{
	return nvmft_container_of(req, struct rdma_req, req);
}

static inline const struct nvmft_logger *rdma_log(const struct rdma_transport *rt)
{
	return &rt->tr->tgt->log;
}

/* rdma.c */
/* The device of a CM id, or NULL when it is not one the transport opened. */
struct rdma_dev *rdma_dev_of(struct rdma_transport *rt, const struct ibv_context *ctx);
/* The group's resources on @dev, made on first use.  0 or -errno. */
int rdma_pg_dev_get(struct rdma_tpg *tpg, struct rdma_dev *dev, struct rdma_pg_dev **ret);
/* Make room for @n more completion queue entries (resizing the CQ). 0 or -errno. */
int rdma_pg_dev_reserve(struct rdma_pg_dev *pgd, int n);
/* Handle every completion queued now (after a QP was destroyed). */
void rdma_pg_dev_drain(struct rdma_pg_dev *pgd);
void rdma_tpg_hash_add(struct rdma_tpg *tpg, struct rdma_conn *c);
void rdma_tpg_hash_del(struct rdma_tpg *tpg, struct rdma_conn *c);
/* Buffers of a receive queue; posting them is the caller's. 0 or -errno. */
int rdma_recv_set_init(struct rdma_recv_set *set, struct rdma_transport *rt, struct rdma_dev *dev,
		       uint32_t n);
void rdma_recv_set_fini(struct rdma_recv_set *set);
/* Post one receive buffer again. 0 or -errno. */
int rdma_recv_post(struct rdma_recv *r);
/* The local key of @req's pool buffer @idx on @dev, or -ENOENT. */
int rdma_req_lkey(const struct nvmft_req *req, int idx, const struct rdma_dev *dev, uint32_t *lkey);

/* rdma_qp.c */
/* An RDMA_CM_REQUEST on @rl: reject it, or make a connection (acks @ev). Returns 1 if accepted. */
int rdma_conn_request(struct rdma_listener *rl, struct rdma_cm_event *ev);
/* Handle the CM events queued on @c's channel (group thread). */
int rdma_conn_cm_events(struct rdma_conn *c);
/* A completion for a receive buffer of @pgd's group. */
void rdma_recv_done(struct rdma_pg_dev *pgd, struct rdma_recv *r, const struct ibv_wc *wc);
/* A completion for a work request of @t. */
void rdma_req_wr_done(struct rdma_req *t, unsigned int tag, const struct ibv_wc *wc);
/* Destroy the QP of a connection the core freed, then the rest of it. */
void rdma_conn_destroy(struct rdma_conn *c);
int rdma_pg_add_qpair(void *tpg, struct nvmft_qpair *qp);
void rdma_qpair_disconnect(struct nvmft_qpair *qp);
void rdma_qpair_free(struct nvmft_qpair *qp);
int rdma_qpair_get_peer(const struct nvmft_qpair *qp, struct sockaddr_storage *ss);
void rdma_req_complete(struct nvmft_req *req);
void rdma_req_buffers_ready(struct nvmft_req *req);
void rdma_req_recycle(struct nvmft_req *req);

#endif
