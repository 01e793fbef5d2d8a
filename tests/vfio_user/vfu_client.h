/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A vfio-user client and a small userspace NVMe driver on top of it: what
 * the tests use to play a VM (or SPDK's vfio-user initiator) against the
 * target, and what vfu-perf measures with.  It is also the worked example
 * of driving an NVMe controller over vfio-user (doc/vfio-user.md):
 *
 *   vfuc_connect()        the socket; VFIO_USER_VERSION
 *   vfuc_mem_add()        a memfd sealed against shrinking as "guest memory", DMA_MAP'd
 *   vfuc_setup_bar0()     region info, the doorbell page mapped
 *   vfuc_nvme_enable()    bus master on, AQA/ASQ/ACQ, CC.EN, CSTS.RDY
 *   vfuc_nvme_qpair()     Create I/O CQ + SQ
 *   vfuc_submit() / vfuc_reap()   commands and completions, phase tags
 *
 * Messages go out and come back synchronously.  A test that runs the
 * target on its own thread sets @pump in the options: the client calls it
 * whenever it would wait, so one thread drives both sides.
 *
 * Errors: 0 or -errno; an error reply from the server is -(its errno).
 */
#ifndef NVMFT_VFU_CLIENT_H
#define NVMFT_VFU_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "transports/vfio_user/vfu_proto.h"

struct vfuc_opts {
	int timeout_ms;          /* longest wait for a reply or completion (default 10 s) */
	void (*pump)(void *arg); /* called while waiting; NULL: sleep in poll() */
	void *pump_arg;
	bool trap_doorbells; /* ring doorbells with REGION_WRITE even when mappable */
	bool unsealed_mem;   /* guest memory without F_SEAL_SHRINK (tests of the server's refusal) */
};

struct vfuc;

struct vfuc_q {
	struct vfuc *c;
	uint16_t qid;
	uint16_t entries;
	struct nvmft_cmd *sq;
	struct nvmft_cpl *cq;
	uint64_t sq_iova;
	uint64_t cq_iova;
	uint16_t sq_tail;
	uint16_t sq_rung; /* tail value last rung */
	uint16_t cq_head;
	uint16_t phase;
	uint16_t next_cid;
	uint16_t sq_head; /* from the last completion */
	int efd;          /* interrupt eventfd, or -1 */
};

struct vfuc {
	int fd;
	uint16_t next_id;
	struct vfuc_opts o;
	uint16_t minor;
	char server_caps[512];

	/* Guest memory: one sealed memfd at iova @mem_iova, bump-allocated. */
	int mem_fd;
	uint8_t *mem;
	uint64_t mem_iova;
	size_t mem_size;
	size_t mem_brk;

	/* The function. */
	uint64_t bar0_size;
	uint64_t db_area_off; /* sparse area: BAR0 offset of the mapped doorbells */
	uint8_t *db;          /* NULL: doorbells through REGION_WRITE */
	size_t db_len;
	uint64_t cap;

	/* The controller. */
	struct vfuc_q admin;
	uint32_t *shadow; /* Doorbell Buffer Config, when used */
	uint32_t *eventidx;
	uint32_t mmio_doorbells; /* doorbell writes that reached BAR0 (statistics) */
};

/* ---- Protocol ---------------------------------------------------------------------- */

/* Connect to the socket at @path (blocking connect, then non-blocking I/O). */
int vfuc_connect(const char *path, const struct vfuc_opts *opts, struct vfuc **ret);
/* Close the socket and unmap everything; the server sees the client go. */
void vfuc_close(struct vfuc *c);
/* VFIO_USER_VERSION with @json capabilities (NULL: none). */
int vfuc_version(struct vfuc *c, const char *json);

/* Send one message as is (tests use it for malformed ones).  Returns its id or -errno. */
int vfuc_send_raw(struct vfuc *c, uint16_t cmd, uint32_t flags, const void *payload, size_t len,
		  const int *fds, int nfds);
/* Send @len raw bytes, no framing at all. */
int vfuc_send_bytes(struct vfuc *c, const void *buf, size_t len);
/*
 * Receive one message: header into *@h, payload into @buf (at most @cap;
 * longer payloads fail with -EMSGSIZE), descriptors into @fds (closed if
 * NULL).  Returns the payload length or -errno (-EPIPE at EOF).
 */
int vfuc_recv(struct vfuc *c, struct vfu_hdr *h, void *buf, size_t cap, int *fds, int *nfds);
/*
 * A command and its reply.  Returns the reply payload length, -(errno)
 * of an error reply, or another -errno.
 */
int vfuc_call(struct vfuc *c, uint16_t cmd, const void *req, size_t len, const int *fds, int nfds, void *rep,
	      size_t cap, int *rfds, int *rnfds);
/* Whether the server closed the socket (reads EOF) within the timeout. */
bool vfuc_wait_eof(struct vfuc *c);

int vfuc_dma_map(struct vfuc *c, int fd, uint64_t offset, uint64_t iova, uint64_t size, uint32_t flags);
int vfuc_dma_unmap(struct vfuc *c, uint64_t iova, uint64_t size);
/* Send DMA_UNMAP without waiting for the reply; collect it with vfuc_dma_unmap_reply(). */
int vfuc_dma_unmap_start(struct vfuc *c, uint64_t iova, uint64_t size);
int vfuc_dma_unmap_reply(struct vfuc *c, int id);
int vfuc_region_read(struct vfuc *c, uint32_t region, uint64_t off, void *buf, uint32_t len);
int vfuc_region_write(struct vfuc *c, uint32_t region, uint64_t off, const void *buf, uint32_t len);
int vfuc_set_irqs(struct vfuc *c, uint32_t index, uint32_t flags, uint32_t start, uint32_t count,
		  const int *fds, int nfds);

/* ---- Memory ------------------------------------------------------------------------ */

/*
 * A memfd of @size bytes, sealed against shrinking and growing when @seal
 * (the server maps only memory that cannot shrink under its mapping: its
 * accesses there would raise SIGBUS).  The descriptor, or -errno.
 */
int vfuc_memfd(const char *name, size_t size, bool seal);
/*
 * Create @size bytes of guest memory at @iova and DMA_MAP it (read and
 * write).  The memfd is sealed against shrinking and growing (as QEMU
 * seals guest RAM), without which the server refuses it (-EPERM).
 */
int vfuc_mem_add(struct vfuc *c, uint64_t iova, size_t size);
/* Carve @size bytes aligned to @align out of guest memory; its IOVA, or 0 when full. */
uint64_t vfuc_alloc(struct vfuc *c, size_t size, size_t align);
/* The client's address of @iova in guest memory. */
static inline void *vfuc_va(struct vfuc *c, uint64_t iova)
{
	return c->mem + (iova - c->mem_iova);
}

/* ---- The PCI function ---------------------------------------------------------------- */

/* Device and BAR0 region info; maps the doorbell area when offered (and not trapped). */
int vfuc_setup_bar0(struct vfuc *c);
int vfuc_cfg_read(struct vfuc *c, uint32_t off, void *buf, uint32_t len);
int vfuc_cfg_write(struct vfuc *c, uint32_t off, const void *buf, uint32_t len);
int vfuc_reg_read32(struct vfuc *c, uint32_t off, uint32_t *v);
int vfuc_reg_write32(struct vfuc *c, uint32_t off, uint32_t v);
int vfuc_reg_read64(struct vfuc *c, uint32_t off, uint64_t *v);

/* ---- NVMe ---------------------------------------------------------------------------- */

/*
 * Bring the controller up: bus mastering on, CC.EN 0 and wait, admin
 * queue of @aq_entries, CC.EN 1 and wait for CSTS.RDY.  -EIO when CSTS.CFS
 * comes instead, -ETIMEDOUT.
 */
int vfuc_nvme_enable(struct vfuc *c, uint16_t aq_entries);
/* CC.EN = 0 and wait for CSTS.RDY = 0 (a controller reset). */
int vfuc_nvme_disable(struct vfuc *c);
/* Write the doorbell at index @idx (2 * qid, + 1 for a CQ head). */
int vfuc_doorbell(struct vfuc *c, uint32_t idx, uint32_t v);
/* Put @cmd on @q (its CID is set) and ring the tail doorbell. */
int vfuc_submit(struct vfuc_q *q, struct nvmft_cmd *cmd);
/* Put @cmd on @q without ringing (batching); vfuc_ring() rings. */
void vfuc_push(struct vfuc_q *q, struct nvmft_cmd *cmd);
int vfuc_ring(struct vfuc_q *q);
/* Take the next completion if there is one (no waiting); the head doorbell is left to the caller. */
static inline bool vfuc_peek(struct vfuc_q *q, struct nvmft_cpl *out)
{
	struct nvmft_cpl *e = &q->cq[q->cq_head];
	uint16_t st = __atomic_load_n(&e->status, __ATOMIC_ACQUIRE);

	if ((le16toh(st) & 1) != q->phase)
		return false;
	*out = *e;
	out->status = st;
	q->sq_head = le16toh(out->sqhd);
	if (++q->cq_head == q->entries) {
		q->cq_head = 0;
		q->phase ^= 1;
	}
	return true;
}
/* Wait (pumping) for the next completion and ring the head doorbell.  0 or -ETIMEDOUT. */
int vfuc_reap(struct vfuc_q *q, struct nvmft_cpl *out);
/* Submit and wait; returns the status (no phase bit) or -errno. */
int vfuc_sync(struct vfuc_q *q, struct nvmft_cmd *cmd, struct nvmft_cpl *cpl);
/* Status of a completion without the phase bit. */
static inline uint16_t vfuc_status(const struct nvmft_cpl *cpl)
{
	return (uint16_t)(le16toh(cpl->status) >> 1);
}

/* Identify into @buf (4 KiB of guest memory at @iova). */
int vfuc_identify(struct vfuc *c, uint8_t cns, uint32_t nsid, uint64_t iova);
/* Set Features Number of Queues; returns the status. */
int vfuc_set_num_queues(struct vfuc *c, uint16_t nsq, uint16_t ncq);
/*
 * Create I/O CQ @qid (interrupts to vector @iv when @ien) and SQ @qid on
 * it, @entries each, in guest memory.  Returns the status of the failing
 * command or 0.
 */
int vfuc_nvme_qpair(struct vfuc *c, uint16_t qid, uint16_t entries, bool ien, uint16_t iv, struct vfuc_q *q);
int vfuc_nvme_delete_qpair(struct vfuc *c, struct vfuc_q *q);
/* Doorbell Buffer Config: shadow doorbells for the I/O queues from now on.  Status or -errno. */
int vfuc_nvme_dbbuf(struct vfuc *c);
/*
 * Fill PRP1/PRP2 of @cmd for @len bytes at @iova (a PRP list is carved out
 * of guest memory when needed).  0 or -ENOMEM.
 */
int vfuc_prps(struct vfuc *c, struct nvmft_cmd *cmd, uint64_t iova, uint32_t len);
/* Read or write @nlb blocks at @slba of namespace @nsid through guest memory at @iova. */
int vfuc_rw(struct vfuc_q *q, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb, uint32_t bs,
	    uint64_t iova);

#endif
