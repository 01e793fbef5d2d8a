/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request: one NVMe command from the moment its SQE is decoded to the
 * moment its response has been sent.  Transports preallocate them (queue
 * depth per qpair) inside their own request objects; the core never
 * allocates one.
 *
 * Flow and ownership (each transition happens in one place):
 *
 *   transport decodes SQE, parses SGL into @length   (transport)
 *   nvmft_req_init()      -> INIT    validate, route, set @execute
 *      |                              (on failure the response is already
 *      |                               on its way through req_complete)
 *   transport gets data buffers: own memory, in-capsule data, or
 *   nvmft_req_get_buffers() -> WAIT_BUF ... ops->req_buffers_ready()
 *   transport fetches host data (H2C)                (transport)
 *   nvmft_req_execute()   -> EXEC / QUEUED (subsystem paused)
 *      |                  -> BACKEND while the backend has it
 *   nvmft_req_finish()    -> COMPLETE  ops->req_complete() sends data + CQE
 *   nvmft_req_release()   -> FREE      buffers back, accounting done
 *
 * Orphans: when a namespace's drain deadline passes with a command still
 * in its backend, nvmft_req_orphan() answers the host at once, but the
 * request, its buffers and the backend channel stay the backend's: the
 * transport's nvmft_req_release() returns false (BACKEND, parked), and
 * when the backend finally completes, the command family cleans up, the
 * core releases the request and hands it back with ops->req_recycle().
 */
#ifndef NVMFT_CORE_REQ_H
#define NVMFT_CORE_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <bsd/sys/queue.h>
#include <nvmft/backend.h>

#include "spec/spec.h"
#include "util/msgq.h"

struct nvmft_qpair;
struct nvmft_pg_ns;

enum nvmft_xfer {
	NVMFT_XFER_NONE = 0,
	NVMFT_XFER_H2C = 1, /* host to controller: write data */
	NVMFT_XFER_C2H = 2, /* controller to host: read data */
	NVMFT_XFER_BIDI = 3, /* not supported */
};

enum nvmft_req_state {
	NVMFT_REQ_FREE = 0,
	NVMFT_REQ_INIT,
	NVMFT_REQ_WAIT_BUF,
	NVMFT_REQ_QUEUED,
	NVMFT_REQ_EXEC,
	NVMFT_REQ_BACKEND,
	NVMFT_REQ_COMPLETE,
};

enum {
	NVMFT_REQ_F_ZCOPY = 1u << 0,      /* read data comes from the backend */
	NVMFT_REQ_F_POOL_BUF = 1u << 1,   /* iov entries came from the pool */
	NVMFT_REQ_F_IO = 1u << 2,         /* counted against its namespace */
	NVMFT_REQ_F_AER = 1u << 3,        /* parked asynchronous event request */
	NVMFT_REQ_F_BE_IOV = 1u << 4,     /* iov supplied by nvmft_req_set_iovs() */
	NVMFT_REQ_F_FUSED_FIRST = 1u << 5,
	NVMFT_REQ_F_FUSED_SECOND = 1u << 6,
	NVMFT_REQ_F_IO_COUNTED = 1u << 7, /* executed: release does the drain accounting */
	NVMFT_REQ_F_QP_WAIT = 1u << 8,    /* waiting at its queue pair's buffer share */
	NVMFT_REQ_F_QP_CHARGED = 1u << 9, /* its buffers count against the queue pair's share */
	NVMFT_REQ_F_ORPHAN = 1u << 10,    /* the host was answered before the backend completed */
	NVMFT_REQ_F_ORPHAN_BE = 1u << 11, /* ... and the backend still owes its completion */
	NVMFT_REQ_F_HOST_DONE = 1u << 12, /* ... and the transport has released it */
	/* With NVMFT_REQ_F_BE_IOV: that memory is never written (NVMFT_BACKEND_CAP_CONST_READ). */
	NVMFT_REQ_F_CONST_DATA = 1u << 13,
};

/* Iovec entries a request carries inline (pool chunks or backend memory). */
#define NVMFT_REQ_INLINE_IOV 18

struct nvmft_req {
	struct nvmft_qpair *qpair;
	struct nvmft_cmd cmd;
	struct nvmft_cpl cpl;
	uint32_t length;        /* data transfer length the command carries */
	uint8_t xfer;           /* enum nvmft_xfer */
	uint8_t state;          /* enum nvmft_req_state */
	uint16_t flags;         /* NVMFT_REQ_F_* */
	struct iovec *iov;      /* data; transports may point this at their own array */
	int iovcnt;
	int pool_iovcnt;        /* leading entries of iov_inline taken from the pool */
	struct iovec iov_inline[NVMFT_REQ_INLINE_IOV];
	void (*execute)(struct nvmft_req *req);

	/* I/O commands: decoded once for the backend accessors. */
	struct nvmft_pg_ns *pgns;
	uint8_t io_type;        /* enum nvmft_io_type */
	uint32_t io_flags;
	uint64_t slba;
	uint64_t nlb;
	uint32_t nr_ranges;     /* Dataset Management */
	const struct nvme_dsm_range *ranges;
	int backend_err;
	void (*backend_done)(struct nvmft_req *req, int err); /* core continuation */
	struct nvmft_req *fused; /* the other half of a fused pair */
	void *scratch;          /* command-family private (e.g. compare buffer) */

	struct nvmft_msg msg;   /* nvmft_req_complete_remote(), deferred work */
	TAILQ_ENTRY(nvmft_req) link; /* buffer FIFO, paused queue, resume queue, AER list */
	LIST_ENTRY(nvmft_req) be_link; /* pgns->be_reqs while in the backend */

	/* io.c private. */
	struct nvme_dsm_range io_range; /* one deallocate range the command itself implies */
	uint8_t io_wr_tag;      /* 1 + write epoch it is counted in (io_range_lock.h), 0: none */
};

/*
 * Start a request whose SQE is in @req->cmd and whose SGL length is in
 * @req->length.  Advances SQHD, validates and routes the command.  Returns
 * true when the transport should go on (get buffers, fetch data, execute);
 * false when the request already failed and its completion went to
 * ops->req_complete.
 */
bool nvmft_req_init(struct nvmft_req *req);
/*
 * Fail a command the transport could not even parse (bad SGL): advances
 * SQHD and completes with @status.
 */
void nvmft_req_reject(struct nvmft_req *req, uint16_t status);
/* Does the transport need to supply data buffers (not zero copy)? */
static inline bool nvmft_req_needs_buffers(const struct nvmft_req *req)
{
	return req->length != 0 && !(req->flags & NVMFT_REQ_F_ZCOPY);
}
/*
 * Take pool buffers for req->length into req->iov.  Return 0 when done,
 * -EAGAIN when queued (ops->req_buffers_ready() follows from the poll
 * loop), or another -errno (the caller fails the request).
 */
int nvmft_req_get_buffers(struct nvmft_req *req);
/*
 * The registration handle (transport's buf_mem_ops) of the pool chunk
 * behind req->iov[@idx], e.g. the memory region whose key an RDMA
 * transport puts in its work request.  Returns 0, or -ENOENT when that
 * entry is not pool memory (in-capsule data, backend memory) or the
 * transport registers nothing.  Group thread.
 */
int nvmft_req_buf_mem_handle(const struct nvmft_req *req, int idx, void **handle);
/* Take a request out of the buffer queue (its qpair is going away). */
void nvmft_req_cancel_buffer_wait(struct nvmft_req *req);
/* Data is in place (for H2C): run the command. */
void nvmft_req_execute(struct nvmft_req *req);
/* Finish with an NVMe status (no phase bit); response goes to the transport. */
void nvmft_req_finish(struct nvmft_req *req, uint16_t status);
/*
 * The transport is done with @req (response sent or qpair dead).  Returns
 * true when the transport may reuse it; false for an orphan whose backend
 * still holds it (only transports with ops->req_recycle get orphans): the
 * transport keeps it aside until ops->req_recycle(@req).
 */
bool nvmft_req_release(struct nvmft_req *req);
/*
 * Answer the host now with @status for a request stuck in the backend
 * (drain deadline), see "Orphans" above.  Returns false, doing nothing,
 * when @req is not in the backend, is half of a fused pair, or its
 * transport cannot park requests.  Group thread.
 */
bool nvmft_req_orphan(struct nvmft_req *req, uint16_t status);

/* Submit an I/O to the namespace's backend; @done runs on the group thread. */
void nvmft_req_submit_backend(struct nvmft_req *req, void (*done)(struct nvmft_req *req, int err));
/* Map a backend errno to an NVMe status for @req's command. */
uint16_t nvmft_req_errno_to_status(const struct nvmft_req *req, int err);

/* Copy between a flat buffer and req->iov, return bytes copied. */
size_t nvmft_req_copy_to_iov(struct nvmft_req *req, size_t off, const void *src, size_t len);
size_t nvmft_req_copy_from_iov(const struct nvmft_req *req, size_t off, void *dst, size_t len);
/* Fill req->iov with zeroes from @off to the end. */
void nvmft_req_zero_iov(struct nvmft_req *req, size_t off);

#endif
