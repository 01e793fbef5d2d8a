/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A fake rdma-core for the NVMe/RDMA transport's tests ("fv_"): a table of
 * struct nvmft_rdma_verbs that keeps devices, CM ids, queue pairs, queues
 * and memory registrations in plain memory, and a scripted host on the
 * other end of every connection.
 *
 * The host side: fv_connect() makes an RDMA_CM_REQUEST with any private
 * data; fv_host_send() delivers a capsule into the next receive buffer the
 * target posted (shared or its own receive queue), as a SEND would;
 * RDMA READ and WRITE work requests the target posts are carried out
 * against host memory the test declared with fv_host_mem() (a bad key or
 * range completes with a remote access error and breaks the queue pair,
 * as a device would); responses (SEND, SEND_WITH_INV) queue up for
 * fv_take_resp().  Work requests run as they are posted unless the test
 * holds them (fv_hold()) to run them later with fv_run().  A queue pair in
 * the error state completes everything outstanding with a flush error,
 * and anything posted later too.
 *
 * Every object the target makes is counted; fv_leaks() says what was not
 * given back.  Single-threaded, like the tests: the world is global state
 * of the test program.
 */
#ifndef NVMFT_TEST_FAKE_VERBS_H
#define NVMFT_TEST_FAKE_VERBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "transports/rdma/rdma_verbs.h"

extern const struct nvmft_rdma_verbs fv_verbs;

struct fv_qp;
struct fv_id;

/* A response the target sent. */
struct fv_resp {
	uint8_t data[64];
	uint32_t len;
	enum ibv_wr_opcode opcode;  /* IBV_WR_SEND or IBV_WR_SEND_WITH_INV */
	uint32_t invalidate_rkey;
};

/* A send work request as the target posted it. */
struct fv_wr {
	uint64_t wr_id;
	enum ibv_wr_opcode opcode;
	unsigned int send_flags;
	struct ibv_sge sge[32];
	int num_sge;
	uint64_t remote_addr;
	uint32_t rkey;
	uint32_t invalidate_rkey;
};

struct fv_config {
	int ndevs;                 /* 0: 1 */
	struct ibv_device_attr attr; /* zero: defaults (rxe-like) */
	bool no_send_inv;          /* device without IBV_DEVICE_MEM_MGT_EXTENSIONS */
};

/* Start a new world (frees the previous one). */
void fv_reset(const struct fv_config *cfg);
/* A line per object the target made and did not give back; 0 when clean. */
int fv_leaks(char *buf, size_t len);

/* Failure injection: the next N calls of that verb fail (errno @err). */
enum fv_fail {
	FV_FAIL_CREATE_QP,
	FV_FAIL_ACCEPT,
	FV_FAIL_REG_MR,
	FV_FAIL_POST_SEND,
	FV_FAIL_CREATE_CQ,
	FV_FAIL_RESIZE_CQ,
	FV_FAIL_MIGRATE,
	FV_FAIL__COUNT,
};
void fv_fail(enum fv_fail what, int n, int err);

/* ---- The host ---- */

/* The listening id (the last one made), or NULL. */
struct fv_id *fv_listener(void);
/* The port the fake bound a listener to when asked for port 0. */
#define FV_PORT 4420
/*
 * An RDMA_CM_REQUEST on @listener with @len bytes of private data (padded
 * to 56 with zeroes, as IB CM delivers it), and the initiator depth and
 * responder resources as the target's event shows them (the CM swaps the
 * host's: @initiator_depth is how many RDMA READs the host serves).
 * Returns the id the target will see.
 */
struct fv_id *fv_connect(struct fv_id *listener, const void *pdata, size_t len,
			 uint8_t initiator_depth, uint8_t responder_resources, int dev);
/* The NVMe/RDMA CM request for @qid with @depth entries, hrqsize = depth. */
struct fv_id *fv_connect_queue(struct fv_id *listener, uint16_t qid, uint16_t depth);

/* What happened to a connection request. */
bool fv_id_rejected(const struct fv_id *id, uint16_t *recfmt, uint16_t *sts);
bool fv_id_accepted(const struct fv_id *id, struct rdma_conn_param *param, uint16_t *crqsize);
bool fv_id_destroyed(const struct fv_id *id);
bool fv_id_disconnected(const struct fv_id *id);
struct fv_qp *fv_id_qp(const struct fv_id *id);
/* CM events to the target about @id. */
void fv_established(struct fv_id *id);
void fv_host_disconnect(struct fv_id *id);
void fv_device_removal(struct fv_id *id);

/* Host memory RDMA READ / WRITE may reach with @rkey. */
void fv_host_mem(void *addr, size_t len, uint32_t rkey);

/*
 * Deliver a capsule as a SEND.  Returns 0, -ENOBUFS when the target has no
 * receive buffer posted (an RNR), -ENOTCONN when the QP is not usable.
 * Longer than the buffer: a local length error completes it.
 */
int fv_host_send(struct fv_qp *qp, const void *buf, size_t len);
/* Complete the next receive buffer with @status (the QP goes to error). */
int fv_recv_error(struct fv_qp *qp, enum ibv_wc_status status);
/* Take the next response the target sent on @qp; false if none. */
bool fv_take_resp(struct fv_qp *qp, struct fv_resp *out);

/* Hold work requests posted from now on (true) or run them as posted (false). */
void fv_hold(bool hold);
/* Run up to @n held work requests of @qp (-1: all); returns how many ran. */
int fv_run(struct fv_qp *qp, int n);
/* Held work requests of @qp; the first @max copied to @out. */
int fv_held(struct fv_qp *qp, struct fv_wr *out, int max);
/* Move @qp to the error state (everything outstanding is flushed). */
void fv_qp_error(struct fv_qp *qp);
/*
 * Complete the first held work request of @qp with @status, as a device
 * reports a failed one, and move @qp to the error state.  False when
 * nothing is held.
 */
bool fv_fail_held(struct fv_qp *qp, enum ibv_wc_status status);
/*
 * Late acknowledgements: while on, send work requests still run (the
 * host sees responses, RDMA data moves) but their completions wait, in
 * order per queue pair, until fv_deliver() puts @n of them (-1: all) into
 * the completion queue; each keeps its send queue slot until then.  The
 * queue pair going to error delivers them first.  A receive may thus
 * complete before the send completion of the response the host acted on.
 */
void fv_defer_completions(bool defer);
int fv_deliver(struct fv_qp *qp, int n);
/* Send completions of @qp held back now. */
int fv_deferred(const struct fv_qp *qp);
/* Queue any CM event about @id to the target (e.g. CONNECT_ERROR, REJECTED, TIMEWAIT_EXIT). */
void fv_cm_event(struct fv_id *id, enum rdma_cm_event_type type);
/* The CM id the target sees for @id (its context is the target's connection once accepted). */
struct rdma_cm_id *fv_id_cm(struct fv_id *id);

/* ---- Inspection ---- */
uint32_t fv_qp_num(const struct fv_qp *qp);
bool fv_qp_in_error(const struct fv_qp *qp);
bool fv_qp_destroyed(const struct fv_qp *qp);
bool fv_qp_has_srq(const struct fv_qp *qp);
/* Receive buffers posted now to @qp's receive queue (its SRQ's when it has one). */
int fv_qp_recvs(const struct fv_qp *qp);
int fv_qp_max_send_wr(const struct fv_qp *qp);
/* Objects alive now. */
int fv_count_qps(void);
int fv_count_cqs(void);
int fv_count_srqs(void);
int fv_count_mrs(void);
/* Calls made so far. */
int fv_count_resize_cq(void);
int fv_count_cq_overflows(void);

#endif
