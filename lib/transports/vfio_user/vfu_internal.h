/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user transport internals, shared by vfu_server.c (listeners, the
 * socket and its messages, connection lifetime) and vfu_nvme.c (BAR0, the
 * queues in client memory, commands, completions, interrupts).
 *
 * A connection (struct vfu_conn) is one client of an endpoint's socket and
 * one emulated PCI function: its admin queue pair is the connection's
 * queue pair, its controller is created with nvmft_ctrlr_new_local(), and
 * its I/O submission queues are queue pairs of their own, all on the
 * connection's poll group.  Everything in it is touched by that group's
 * thread only, except before assignment (management thread).
 */
#ifndef NVMFT_VFU_INTERNAL_H
#define NVMFT_VFU_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <bsd/sys/queue.h>

#include "core/ctrlr.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "spec/spec.h"
#include "transports/vfio_user/vfu_dma.h"
#include "transports/vfio_user/vfu_pci.h"
#include "transports/vfio_user/vfu_prp.h"
#include "transports/vfio_user/vfu_proto.h"
#include "transports/vfio_user/vfu_tick.h"
#include "util/compiler.h"

/* The socket inside a listener's directory (SPDK's convention). */
#define VFU_SOCK_NAME "cntrl"

enum {
	VFU_ACCEPT_BATCH = 16,
	VFU_LISTEN_BACKLOG = 16,
	/* Messages whose payload fits stay in the connection; larger ones get a buffer. */
	VFU_RX_INLINE = 4096 + 64,
	/*
	 * How often a busy group looks at its sockets and tick timer (one
	 * epoll_wait with no timeout): doorbells need no syscall, messages
	 * are control traffic.  A poll after a pause (vfu_tick.h) came out of
	 * a sleep, so it looks at once.
	 */
	VFU_EVENT_CHECK_NS = 100 * 1000,
	/* Busy polls between two looks at the clock (idle polls always look). */
	VFU_CLOCK_EVERY = 16,
};

/* Where a request is, as far as this transport is concerned. */
enum vfu_req_state {
	VFU_REQ_FREE = 0,
	VFU_REQ_CORE,    /* inside the core (parsing, buffers, executing, backend) */
	VFU_REQ_CQ_WAIT, /* completed; its entry waits for room in (or the mapping of) its CQ */
};

struct vfu_conn;
struct vfu_sq;

struct vfu_req {
	struct nvmft_req req;
	struct vfu_sq *sq;
	uint8_t state;             /* enum vfu_req_state */
	bool bounce;               /* host data the core interprets: copied out of client memory */
	uint32_t cq_epoch;         /* the CQ incarnation its entry belongs to */
	struct vfu_map map;        /* client memory the data lives in (held until the data moved) */
	TAILQ_ENTRY(vfu_req) link; /* free list or its CQ's wait list */
};

struct vfu_cq {
	uint16_t qid;
	uint16_t size; /* entries */
	bool ien;
	uint16_t iv;
	uint64_t iova;
	struct nvmft_cpl *ring; /* NULL while its memory is not mapped */
	uint16_t tail;
	uint16_t head; /* as the host last said */
	uint16_t phase;
	uint32_t epoch;        /* bumped when the queue is re-created or reset */
	uint32_t nr_sqs;       /* submission queues posting here */
	bool orphan;           /* out of the table (reset); freed by its last SQ */
	uint32_t irq_pending;  /* entries posted since the last interrupt */
	uint64_t irq_first_ns; /* when the first of those was posted */
	bool on_irq_list;
	uint32_t bad_head; /* last invalid head doorbell reported, + 1 (0: none) */
	TAILQ_HEAD(, vfu_req) waiting;
	TAILQ_ENTRY(vfu_cq) irq_link;
};

struct vfu_sq {
	struct nvmft_qpair qp; /* first: the admin one is the connection's queue pair */
	struct vfu_conn *c;
	struct vfu_cq *cq;
	uint16_t qid;
	uint16_t size; /* entries */
	uint16_t head; /* next entry to fetch */
	uint64_t iova;
	const struct nvmft_cmd *ring; /* NULL while not mapped */
	uint32_t bad_tail;            /* last invalid tail doorbell reported, + 1 (0: none) */
	bool live;                    /* on the connection's polled list */
	bool dead;                    /* disconnected: nothing more is read or posted */
	struct vfu_req *reqs;         /* @nreqs slots */
	uint32_t nreqs;
	struct iovec *iovs; /* @iov_per_req per slot */
	struct vfu_dma_region **regs;
	uint32_t iov_per_req;
	TAILQ_HEAD(, vfu_req) free_reqs;
	struct nvmft_req *delete_req; /* Delete I/O Submission Queue waiting for the queue to go */
	TAILQ_ENTRY(vfu_sq) link;
};

/* The message being received: header, then payload, the descriptors that came with them. */
struct vfu_rx {
	struct vfu_hdr hdr;
	uint32_t hdr_got;
	uint8_t *buf; /* inline_buf or a larger allocation */
	uint32_t got;
	int fds[VFU_MAX_MSG_FDS];
	uint32_t nfds;
	bool fds_lost; /* more descriptors than we take: the kernel closed the rest */
	uint8_t inline_buf[VFU_RX_INLINE];
};

/* A command whose reply waits for the device (reset, unmap, a CC write during reset). */
enum vfu_block {
	VFU_BLOCK_NONE = 0,
	VFU_BLOCK_UNMAP, /* DMA_UNMAP: requests still move data through the region */
	VFU_BLOCK_RESET, /* DEVICE_RESET or FLR: the controller is quiescing */
	VFU_BLOCK_CC,    /* REGION_WRITE of CC while a reset drops the I/O queues */
};

struct vfu_tpg;

struct vfu_conn {
	struct vfu_sq admin; /* admin.qp is the connection's queue pair */
	struct vfu_tpg *tpg; /* NULL until the group takes it */
	int fd;
	bool dead; /* socket closed or failed: nothing more goes in or out */
	bool closing_fd;
	uint32_t refs; /* the admin queue's, one per I/O submission queue */
	char subnqn[NVMFT_NQN_MAX_LEN + 1];
	char hostnqn[NVMFT_NQN_MAX_LEN + 1];
	uint8_t hostid[16];
	struct nvmft_ctrlr *ctrlr;

	/* Protocol. */
	bool negotiated;
	struct vfu_caps caps;
	struct vfu_rx rx;
	uint8_t *tx; /* one reply: header and payload */
	uint32_t tx_len;
	uint32_t tx_off;
	uint32_t tx_cap;
	int tx_fd; /* descriptor to send with the reply's first byte, or -1 */
	bool pollout;
	bool told_unsealed; /* logged that unsealed memory was refused */
	enum vfu_block blocked;
	struct vfu_hdr blocked_hdr; /* the command whose reply waits */
	uint8_t blocked_data[24];   /* what that reply carries (DMA_UNMAP) or needs (CC) */
	uint32_t blocked_len;

	/* The PCI function. */
	struct vfu_pci pci;
	int bar_fd;     /* memfd behind the doorbells, mmap-able by the client */
	uint8_t *db;    /* our mapping of the doorbells */
	uint32_t intms; /* INTMS/INTMC */
	int intx_fd;
	bool intx_pending; /* raised while INTx was disabled or masked (INTMS) */
	int *msix_fds;     /* per vector, -1 when unassigned */
	uint32_t msix_assigned;
	struct vfu_dma dma;

	/* The NVMe controller's queues. */
	bool enabled; /* the admin queue is mapped (ctrlr_enable) */
	uint32_t nq;  /* queue identifiers 0..nq-1 */
	struct vfu_cq admin_cq;
	struct vfu_cq **cqs;    /* by qid; [0] = &admin_cq while enabled */
	struct vfu_sq **sqs;    /* by qid; [0] = &admin while enabled */
	uint64_t dbbuf_iova[2]; /* Doorbell Buffer Config: shadow doorbells, EventIdx */
	uint32_t *dbbuf_shadow; /* NULL: none configured, or not mapped */
	uint32_t *dbbuf_eventidx;
	uint32_t dbbuf_nq; /* queue identifiers the buffers cover */
	bool dbbuf_set;
	uint32_t epoch_seq;            /* source of completion queue epochs */
	bool resetting;                /* a function reset waits for the controller */
	bool reset_cc_pending;         /* ... whose CC write must be repeated */
	TAILQ_HEAD(, vfu_sq) live;     /* submission queues polled */
	TAILQ_HEAD(, vfu_cq) irq_list; /* completion queues owing an interrupt */
	uint32_t nr_waiting;           /* requests in CQ wait lists */
	TAILQ_ENTRY(vfu_conn) link;
};

struct vfu_tpg {
	struct nvmft_poll_group *pg;
	struct nvmft_transport *tr;
	int epfd; /* sockets and the tick timer; in the group's epoll set */
	int tick_fd;
	uint64_t tick_ns; /* period armed now, 0: off */
	struct vfu_tick tick;
	uint64_t next_check_ns;
	uint32_t polls;
	bool idle;           /* the last poll found nothing to do */
	uint32_t nr_enabled; /* connections with an enabled controller */
	TAILQ_HEAD(, vfu_conn) conns;
};

static inline struct vfu_sq *vfu_sq_of(struct nvmft_qpair *qp)
{
	return nvmft_container_of(qp, struct vfu_sq, qp);
}

static inline struct vfu_req *vfu_req_of(struct nvmft_req *req)
{
	return nvmft_container_of(req, struct vfu_req, req);
}

static inline struct vfu_conn *vfu_conn_of_ctrlr(struct nvmft_ctrlr *ctrlr)
{
	return vfu_sq_of(ctrlr->qpairs[0])->c;
}

#define VFU_SQE_SIZE 64u
#define VFU_CQE_SIZE 16u

uint64_t vfu_now_ns(void);

static inline const struct nvmft_logger *vfu_log_of(const struct vfu_conn *c)
{
	return &c->admin.qp.tr->tgt->log;
}

/* The queue (or buffer) at @iova of @bytes in client memory, or NULL. */
static inline void *vfu_queue_mem(struct vfu_conn *c, uint64_t iova, uint64_t bytes, uint32_t prot)
{
	return vfu_dma_xlate(&c->dma, iova, bytes, prot, NULL);
}

/* vfu_server.c */
/* The connection is finished (EOF, error, broken protocol): tear it down. */
void vfu_conn_fail(struct vfu_conn *c, const char *why);
void vfu_conn_unref(struct vfu_conn *c);
/* Receive and process messages until the socket is empty or a reply must wait. */
void vfu_conn_rx(struct vfu_conn *c);
/* Queue the reply to @req (none if it asked for none; @error makes it an error reply), send it. */
void vfu_conn_reply(struct vfu_conn *c, const struct vfu_hdr *req, int error, const void *payload,
		    uint32_t len, int fd);

/* vfu_msg.c */
/* Act on the message in c->rx and answer it (or block). */
void vfu_conn_dispatch(struct vfu_conn *c);
/* Answer the blocked command if the device caught up. */
void vfu_conn_try_unblock(struct vfu_conn *c);
void vfu_conn_unblock(struct vfu_conn *c);

/* vfu_bar.c and vfu_nvme.c */
/* Set up the device side of a new connection on its group.  0 or -errno. */
int vfu_dev_init(struct vfu_conn *c);
void vfu_dev_fini(struct vfu_conn *c);
/* BAR0 accesses (REGION_READ/WRITE).  0, -EINVAL, or -EAGAIN (CC: retry after polling). */
int vfu_bar0_read(struct vfu_conn *c, uint64_t off, void *buf, uint32_t len);
int vfu_bar0_write(struct vfu_conn *c, uint64_t off, const void *buf, uint32_t len);
/* Interrupt routing or masks changed: deliver what is pending and now allowed. */
void vfu_irq_recheck(struct vfu_conn *c);
/* Assign (fd >= 0) or drop (-1) the eventfd of INTx or an MSI-X vector; the old one is closed. */
void vfu_irq_set_fd(struct vfu_conn *c, uint32_t index, uint32_t vec, int fd);
/* The client triggers an interrupt itself (SET_IRQS with DATA_NONE/BOOL). */
void vfu_irq_fire(struct vfu_conn *c, uint32_t index, uint32_t vec);
/* Queues in [@iova, @iova + @len) lose their memory (DMA_UNMAP); NULL range = everything. */
void vfu_queues_unmap(struct vfu_conn *c, uint64_t iova, uint64_t len, bool all);
/* New memory arrived (DMA_MAP): queues waiting for theirs get it. */
void vfu_queues_remap(struct vfu_conn *c);
/* Start a function reset (DEVICE_RESET, FLR); true once it is complete. */
void vfu_dev_reset_start(struct vfu_conn *c);
bool vfu_dev_reset_done(struct vfu_conn *c);
/* Move the connection's queues along; returns work done. */
int vfu_conn_poll_queues(struct vfu_conn *c, unsigned int budget, uint64_t now);
/* Look at every completion queue's head doorbell (invalid values are reported). */
void vfu_conn_check_doorbells(struct vfu_conn *c);
/* Stop everything of a submission queue (qpair_disconnect), free it (qpair_free). */
void vfu_sq_disconnect(struct vfu_sq *sq);
void vfu_sq_free(struct vfu_sq *sq);
/* Give back the entries waiting in @cq and its interrupt; free it unless it is the admin CQ. */
void vfu_cq_free(struct vfu_conn *c, struct vfu_cq *cq);
/* Map the Doorbell Buffer Config buffers at their addresses; false if not reachable. */
bool vfu_dbbuf_map(struct vfu_conn *c);
/* Per-slot resources of a submission queue of @entries.  0 or -ENOMEM. */
int vfu_sq_alloc_slots(struct vfu_sq *sq, uint32_t entries);
void vfu_sq_free_slots(struct vfu_sq *sq);

/* Transport methods that live in vfu_nvme.c. */
void vfu_req_complete(struct nvmft_req *req);
void vfu_req_buffers_ready(struct nvmft_req *req);
bool vfu_admin_cmd(struct nvmft_req *req);
int vfu_ctrlr_enable(struct nvmft_ctrlr *ctrlr, bool enable);

#endif
