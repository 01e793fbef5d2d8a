/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVM command set I/O: Read, Write, Compare, Write Zeroes, Dataset
 * Management, Flush (one namespace or all), and fused Compare and Write.
 *
 * nvmft_io_parse() runs before the transport allocates buffers: it checks
 * the command, decodes it into the request (io_type, slba, nlb, io_flags)
 * and decides whether a read is served zero copy.  Execution submits to the
 * namespace's backend channel on this group and finishes from the
 * completion.  What a backend lacks is emulated here:
 *
 *   Write Zeroes  writes from a read-only mapping of zero pages, in chunks
 *                 of at most the transfer limit, one after the other
 *                 (or one deallocate, when DEAC is set and deallocated
 *                 blocks read back as zeroes)
 *   Compare       read into a temporary buffer, compare here
 *   FUA           write, then flush
 *   Flush         nothing to do without a volatile cache: success
 *   Deallocate    advisory: success without the backend
 *
 * Protection information is not supported, so any PRINFO bit is an invalid
 * field.  FUA on Read and Compare is ignored: a backend's cache returns the
 * same data its media would.
 *
 * Multi-step commands continue from their completions; every
 * IO_INLINE_STEPS steps one goes through the group's resume queue, so a
 * backend that completes inline cannot grow the stack without bound.
 *
 * Fused Compare and Write: the first half waits (as a pair, in struct
 * io_pair) for the second, which must be the next command of the queue
 * and name the same namespace and blocks.  The pair runs under an LBA range
 * lock (io_range_lock.c), so no other write can land between the compare
 * and the write.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backends/backend.h"
#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/io_range_lock.h"
#include "core/ns.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/transport.h"
#include "spec/spec.h"
#include "util/compiler.h"

#define IO_NSID_ALL 0xffffffffu
/* Zero pages one emulated Write Zeroes step writes from (address space only). */
#define IO_ZERO_BYTES (1u << 20)
/* Steps a chain runs from completions before it goes through the poll loop. */
#define IO_INLINE_STEPS 16
#define IO_DSM_RANGE_SIZE 16u

/* Command dword 12 of Read, Write, Compare and Write Zeroes. */
enum {
	IO_CDW12_NLB = 0xffffu,
	IO_CDW12_DEAC = 1u << 25,        /* Write Zeroes: deallocate */
	IO_CDW12_PRINFO = 0xfu << 26,
	IO_CDW12_FUA = 1u << 30,
	/* STC, DTYPE, CETYPE and reserved bits: no feature behind them here. */
	IO_CDW12_RW_RSVD = 0x03ff0000u,
	IO_CDW12_WZ_RSVD = 0x01ff0000u,
};

/* Dataset Management dwords 10 and 11. */
enum {
	IO_DSM_NR = 0xffu,
	IO_DSM_ATTR_MASK = 0x7u,         /* IDR, IDW, AD */
	IO_DSM_AD = 1u << 2,
};

#define IO_ERR(sc) NVMFT_STATUS_DNR(NVME_SCT_GENERIC, (sc))
#define IO_RETRY(sc) NVMFT_STATUS(NVME_SCT_GENERIC, (sc))
/* Fused-command aborts: the host may try the pair again. */
#define IO_FUSED_FAIL NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_FUSED_FAIL)
#define IO_FUSED_MISSING NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_FUSED_MISSING)

/* A fused Compare and Write from the first half's parse until both finish. */
struct io_pair {
	struct nvmft_req *first;
	struct nvmft_req *second;    /* NULL until the next command matched */
	uint16_t first_status;       /* the second never came: fail the first with this */
	bool first_ready;            /* executed (data in place), waiting here */
	bool second_ready;
	bool locked;
	struct io_cmp *cmp;          /* compare emulation of the first half */
	struct nvmft_io_lock lock;
};

/* Compare emulation: the media data is read here, the host's data set aside. */
struct io_cmp {
	struct iovec *saved_iov;
	int saved_iovcnt;
	struct iovec iov;
};

static void io_cmd_done(struct nvmft_req *req, uint16_t status);
static void io_pair_step(struct nvmft_req *req, uint16_t status);

/* ---- Small helpers -------------------------------------------------------------------------- */

static uint64_t io_cmd_slba(const struct nvmft_cmd *cmd)
{
	return (uint64_t)le32toh(cmd->cdw11) << 32 | le32toh(cmd->cdw10);
}

static uint64_t io_cmd_nlb(const struct nvmft_cmd *cmd)
{
	return (uint64_t)(le32toh(cmd->cdw12) & IO_CDW12_NLB) + 1;
}

static bool io_lba_bad(const struct nvmft_ns *ns, uint64_t slba, uint64_t nlb)
{
	return slba > ns->num_blocks || nlb > ns->num_blocks - slba;
}

static uint32_t io_dsm_nr(const struct nvmft_req *req)
{
	return (le32toh(req->cmd.cdw10) & IO_DSM_NR) + 1;
}

static bool io_is_pair_half(const struct nvmft_req *req)
{
	return (req->flags & (NVMFT_REQ_F_FUSED_FIRST | NVMFT_REQ_F_FUSED_SECOND)) &&
	       req->scratch != NULL;
}

static uint16_t io_errno_status(const struct nvmft_req *req, int err)
{
	return err == 0 ? 0 : nvmft_req_errno_to_status(req, err);
}

/* Continue a chain from the poll loop instead of the stack. */
static void io_defer(struct nvmft_req *req, void (*step)(struct nvmft_req *req))
{
	req->execute = step;
	nvmft_pg_resume_req(req->qpair->pg, req);
}

/*
 * A write must be durable when it completes if the host asked (FUA) or if
 * the host turned the volatile write cache off (Set Features 06h): with the
 * cache "off", every write behaves as FUA.  The feature lives on the admin
 * queue's group; a relaxed read is enough for a value hosts change rarely.
 */
static bool io_wants_fua(const struct nvmft_req *req)
{
	return (le32toh(req->cmd.cdw12) & IO_CDW12_FUA) ||
	       !__atomic_load_n(&req->qpair->ctrlr->feat.volatile_wc, __ATOMIC_RELAXED);
}

/* FUA needed but not passed to the backend: a flush makes the data durable. */
static bool io_needs_post_flush(const struct nvmft_req *req)
{
	return io_wants_fua(req) && !(req->io_flags & NVMFT_IO_F_FUA) &&
	       (req->pgns->ns->caps & NVMFT_BACKEND_CAP_FLUSH);
}

/* ---- Completion ----------------------------------------------------------------------------- */

static void io_cmd_done(struct nvmft_req *req, uint16_t status)
{
	if (req->io_wr_tag != 0)
		nvmft_io_wr_end(req);
	if (nvmft_unlikely(io_is_pair_half(req))) {
		io_pair_step(req, status);
		return;
	}
	nvmft_req_finish(req, status);
}

static void io_final_done(struct nvmft_req *req, int err)
{
	io_cmd_done(req, io_errno_status(req, err));
}

/* The data-changing step finished: add the flush FUA needs, then done. */
static void io_write_done(struct nvmft_req *req, int err)
{
	if (err == 0 && io_needs_post_flush(req)) {
		req->io_type = NVMFT_IO_FLUSH;
		nvmft_req_submit_backend(req, io_final_done);
		return;
	}
	io_final_done(req, err);
}

/* ---- Read, Write, Flush --------------------------------------------------------------------- */

static void io_read_done(struct nvmft_req *req, int err)
{
	uint16_t status = io_errno_status(req, err);

	/* A zero-copy backend that "succeeded" without data would send garbage. */
	if (status == 0 && (req->flags & NVMFT_REQ_F_ZCOPY) && req->iovcnt == 0)
		status = NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
	nvmft_req_finish(req, status);
}

static void io_read_exec(struct nvmft_req *req)
{
	nvmft_req_submit_backend(req, io_read_done);
}

static bool io_overlaps_cmd(const struct nvmft_req *req, uint64_t slba, uint64_t nlb)
{
	uint64_t a = io_cmd_slba(&req->cmd), n = io_cmd_nlb(&req->cmd);

	return a < slba + nlb && slba < a + n;
}

static void io_write_submit(struct nvmft_req *req)
{
	req->io_type = NVMFT_IO_WRITE;
	nvmft_req_submit_backend(req, io_write_done);
}

static void io_write_exec(struct nvmft_req *req)
{
	if (!nvmft_io_wr_begin(req, io_overlaps_cmd))
		return;
	io_write_submit(req);
}

static void io_flush_exec(struct nvmft_req *req)
{
	/* No volatile cache behind the namespace: nothing to make durable. */
	if (!(req->pgns->ns->caps & NVMFT_BACKEND_CAP_FLUSH)) {
		nvmft_req_finish(req, 0);
		return;
	}
	nvmft_req_submit_backend(req, io_final_done);
}

/*
 * Flush with NSID FFFFFFFFh: every namespace of the subsystem attached on
 * this group, one after the other.  The request is not counted against a
 * namespace by the core (it has none), so each step does the drain
 * accounting of the namespace it flushes itself.  req->nr_ranges is the
 * cursor (NSID - 1).
 */
static void io_flush_all_step(struct nvmft_req *req);

static void io_flush_all_done(struct nvmft_req *req, int err)
{
	struct nvmft_pg_ns *pgns = req->pgns;

	req->pgns = NULL;
	nvmft_pg_io_done(req->qpair->pg, req->qpair->pgss, pgns);
	req->nr_ranges++;
	if (err != 0) {
		nvmft_req_finish(req, io_errno_status(req, err));
		return;
	}
	if (req->nr_ranges % IO_INLINE_STEPS == 0)
		io_defer(req, io_flush_all_step);
	else
		io_flush_all_step(req);
}

static void io_flush_all_step(struct nvmft_req *req)
{
	struct nvmft_pg_subsys *pgss = req->qpair->pgss;
	struct nvmft_pg_ns *pgns = NULL;

	/* Paused between two namespaces: wait with the other held commands. */
	if (nvmft_unlikely(pgss->state != NVMFT_PG_SS_ACTIVE)) {
		req->execute = io_flush_all_step;
		req->state = NVMFT_REQ_QUEUED;
		TAILQ_INSERT_TAIL(&pgss->queued, req, link);
		return;
	}
	for (; req->nr_ranges < pgss->ns_cap; req->nr_ranges++) {
		pgns = pgss->ns[req->nr_ranges];
		if (pgns != NULL && pgns->ns != NULL && !pgns->removing &&
		    (pgns->ns->caps & NVMFT_BACKEND_CAP_FLUSH))
			break;
	}
	if (req->nr_ranges >= pgss->ns_cap) {
		req->nr_ranges = 0;
		nvmft_req_finish(req, 0);
		return;
	}
	req->pgns = pgns;
	pgss->io_outstanding++;
	pgns->io_outstanding++;
	nvmft_req_submit_backend(req, io_flush_all_done);
}

/* ---- Compare -------------------------------------------------------------------------------- */

static struct io_cmp *io_cmp_get(const struct nvmft_req *req)
{
	if (io_is_pair_half(req))
		return ((struct io_pair *)req->scratch)->cmp;
	return req->scratch;
}

static void io_cmp_set(struct nvmft_req *req, struct io_cmp *c)
{
	if (io_is_pair_half(req))
		((struct io_pair *)req->scratch)->cmp = c;
	else
		req->scratch = c;
}

static bool io_iov_equal(const struct nvmft_req *req, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	for (int i = 0; i < req->iovcnt && off < len; i++) {
		size_t l = NVMFT_MIN(req->iov[i].iov_len, len - off);

		if (memcmp(req->iov[i].iov_base, buf + off, l) != 0)
			return false;
		off += l;
	}
	return off == len;
}

static void io_compare_read_done(struct nvmft_req *req, int err)
{
	struct io_cmp *c = io_cmp_get(req);
	uint16_t status;

	req->iov = c->saved_iov;
	req->iovcnt = c->saved_iovcnt;
	req->io_type = NVMFT_IO_COMPARE;
	io_cmp_set(req, NULL);
	if (err != 0)
		status = io_errno_status(req, err);
	else if (!io_iov_equal(req, c->iov.iov_base, c->iov.iov_len))
		status = io_errno_status(req, -EILSEQ);
	else
		status = 0;
	free(c);
	io_cmd_done(req, status);
}

static void io_compare_exec(struct nvmft_req *req)
{
	struct nvmft_ns *ns = req->pgns->ns;
	size_t len = (size_t)req->nlb << ns->block_shift;
	struct io_cmp *c;
	void *mem;

	if (ns->caps & NVMFT_BACKEND_CAP_COMPARE) {
		nvmft_req_submit_backend(req, io_final_done);
		return;
	}
	/*
	 * Compare is rare and bounded by the transfer limit: a temporary
	 * buffer (page-aligned for O_DIRECT backends) is acceptable here.
	 */
	if (posix_memalign(&mem, 4096, 4096 + len) != 0) {
		io_cmd_done(req, IO_RETRY(NVME_SC_NS_NOT_READY));
		return;
	}
	c = mem;
	c->saved_iov = req->iov;
	c->saved_iovcnt = req->iovcnt;
	c->iov.iov_base = (uint8_t *)mem + 4096;
	c->iov.iov_len = len;
	io_cmp_set(req, c);
	req->iov = &c->iov;
	req->iovcnt = 1;
	req->io_type = NVMFT_IO_READ;
	nvmft_req_submit_backend(req, io_compare_read_done);
}

/* ---- Write Zeroes --------------------------------------------------------------------------- */

/* The namespace's zero pages, mapped by the first emulated Write Zeroes. */
static void *io_zeroes(struct nvmft_ns *ns)
{
	void *z = atomic_load_explicit(&ns->io_zeroes, memory_order_acquire), *cur = NULL;

	if (z != NULL)
		return z;
	/* Never written, so every page is the kernel's shared zero page. */
	z = mmap(NULL, IO_ZERO_BYTES, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (z == MAP_FAILED)
		return NULL;
	if (!atomic_compare_exchange_strong_explicit(&ns->io_zeroes, &cur, z, memory_order_acq_rel,
						     memory_order_acquire)) {
		munmap(z, IO_ZERO_BYTES);
		return cur;
	}
	return z;
}

static uint64_t io_wz_chunk_blocks(const struct nvmft_req *req)
{
	uint64_t limit = req->qpair->tr->opts.max_io_size;
	uint64_t bytes = NVMFT_MIN((uint64_t)IO_ZERO_BYTES, limit);
	uint64_t blocks = bytes >> req->pgns->ns->block_shift;

	return blocks != 0 ? blocks : 1;
}

static void io_wz_step(struct nvmft_req *req);

static void io_wz_step_done(struct nvmft_req *req, int err)
{
	uint64_t start = io_cmd_slba(&req->cmd), end = start + io_cmd_nlb(&req->cmd);
	uint64_t next = req->slba + req->nlb;

	if (err == 0 && next < end) {
		if ((next - start) / io_wz_chunk_blocks(req) % IO_INLINE_STEPS == 0)
			io_defer(req, io_wz_step);
		else
			io_wz_step(req);
		return;
	}
	req->iov = req->iov_inline;
	req->iovcnt = 0;
	if (err == 0) {
		req->slba = start;
		req->nlb = end - start;
	}
	io_write_done(req, err);
}

/* Write the next chunk: req->slba/nlb describe the chunk just written. */
static void io_wz_step(struct nvmft_req *req)
{
	uint64_t end = io_cmd_slba(&req->cmd) + io_cmd_nlb(&req->cmd);

	req->slba += req->nlb;
	req->nlb = NVMFT_MIN(io_wz_chunk_blocks(req), end - req->slba);
	req->iov_inline[0].iov_len = (size_t)req->nlb << req->pgns->ns->block_shift;
	nvmft_req_submit_backend(req, io_wz_step_done);
}

static void io_wz_emulate(struct nvmft_req *req)
{
	void *z = io_zeroes(req->pgns->ns);

	if (z == NULL) {
		io_cmd_done(req, IO_RETRY(NVME_SC_NS_NOT_READY));
		return;
	}
	/* The command carries no data, so its inline iovec is free for the zero pages. */
	req->iov_inline[0].iov_base = z;
	req->iov = req->iov_inline;
	req->iovcnt = 1;
	req->io_type = NVMFT_IO_WRITE;
	req->nlb = 0;
	io_wz_step(req);
}

static void io_wz_exec(struct nvmft_req *req)
{
	uint32_t caps = req->pgns->ns->caps;
	const uint32_t dealloc = NVMFT_BACKEND_CAP_DEALLOCATE | NVMFT_BACKEND_CAP_DEALLOC_ZEROES;

	if (!nvmft_io_wr_begin(req, io_overlaps_cmd))
		return;
	if ((le32toh(req->cmd.cdw12) & IO_CDW12_DEAC) && (caps & dealloc) == dealloc) {
		req->io_range.cattr = 0;
		req->io_range.nlb = htole32((uint32_t)req->nlb);
		req->io_range.slba = htole64(req->slba);
		req->ranges = &req->io_range;
		req->nr_ranges = 1;
		req->io_type = NVMFT_IO_DEALLOCATE;
		req->io_flags = 0;
		nvmft_req_submit_backend(req, io_write_done);
		return;
	}
	if (caps & NVMFT_BACKEND_CAP_WRITE_ZEROES) {
		nvmft_req_submit_backend(req, io_write_done);
		return;
	}
	io_wz_emulate(req);
}

/* ---- Dataset Management --------------------------------------------------------------------- */

static void io_dsm_range(const struct nvmft_req *req, uint32_t idx, uint64_t *slba, uint64_t *nlb)
{
	struct nvme_dsm_range r;

	/* The transport supplied exactly NR + 1 ranges; a short buffer reads as empty ranges. */
	memset(&r, 0, sizeof(r));
	nvmft_req_copy_from_iov(req, (size_t)idx * IO_DSM_RANGE_SIZE, &r, sizeof(r));
	*slba = le64toh(r.slba);
	*nlb = le32toh(r.nlb);
}

static bool io_overlaps_dsm(const struct nvmft_req *req, uint64_t slba, uint64_t nlb)
{
	uint32_t nr = io_dsm_nr(req);
	uint64_t a, n;

	for (uint32_t i = 0; i < nr; i++) {
		io_dsm_range(req, i, &a, &n);
		if (n != 0 && a < slba + nlb && slba < a + n)
			return true;
	}
	return false;
}

/*
 * Ranges that are not one aligned array in the first buffer (in-capsule
 * data at an odd offset, data split across pages) go to the backend one at
 * a time through req->io_range.  req->nlb is the cursor.
 */
static void io_dsm_split_step(struct nvmft_req *req);

static void io_dsm_split_done(struct nvmft_req *req, int err)
{
	if (err != 0 || req->nlb >= io_dsm_nr(req)) {
		io_final_done(req, err);
		return;
	}
	if (req->nlb % IO_INLINE_STEPS == 0)
		io_defer(req, io_dsm_split_step);
	else
		io_dsm_split_step(req);
}

static void io_dsm_split_step(struct nvmft_req *req)
{
	uint32_t nr = io_dsm_nr(req);
	uint64_t slba, nlb = 0;

	while (req->nlb < nr) {
		io_dsm_range(req, (uint32_t)req->nlb++, &slba, &nlb);
		if (nlb != 0)
			break;
	}
	if (nlb == 0) {
		io_final_done(req, 0);
		return;
	}
	req->io_range.cattr = 0;
	req->io_range.nlb = htole32((uint32_t)nlb);
	req->io_range.slba = htole64(slba);
	nvmft_req_submit_backend(req, io_dsm_split_done);
}

static void io_dsm_exec(struct nvmft_req *req)
{
	const struct nvmft_ns *ns = req->pgns->ns;
	uint32_t nr = io_dsm_nr(req);
	size_t len = (size_t)nr * IO_DSM_RANGE_SIZE;
	uint64_t slba, nlb;
	void *base;

	/* The ranges arrived with the data: check them all before touching anything. */
	for (uint32_t i = 0; i < nr; i++) {
		io_dsm_range(req, i, &slba, &nlb);
		if (io_lba_bad(ns, slba, nlb)) {
			nvmft_req_finish(req, IO_ERR(NVME_SC_LBA_RANGE));
			return;
		}
	}
	/* Hints only, or a backend that cannot deallocate: deallocation is advisory. */
	if (!(le32toh(req->cmd.cdw11) & IO_DSM_AD) || !(ns->caps & NVMFT_BACKEND_CAP_DEALLOCATE)) {
		nvmft_req_finish(req, 0);
		return;
	}
	if (!nvmft_io_wr_begin(req, io_overlaps_dsm))
		return;
	base = req->iovcnt > 0 ? req->iov[0].iov_base : NULL;
	if (base != NULL && req->iov[0].iov_len >= len &&
	    (uintptr_t)base % _Alignof(struct nvme_dsm_range) == 0) {
		req->ranges = base;
		req->nr_ranges = nr;
		nvmft_req_submit_backend(req, io_final_done);
		return;
	}
	req->ranges = &req->io_range;
	req->nr_ranges = 1;
	req->nlb = 0;
	io_dsm_split_step(req);
}

/* ---- Fused Compare and Write ---------------------------------------------------------------- */

static void io_pair_detach(struct io_pair *p)
{
	if (p->first != NULL) {
		p->first->scratch = NULL;
		p->first->fused = NULL;
	}
	if (p->second != NULL) {
		p->second->scratch = NULL;
		p->second->fused = NULL;
	}
	free(p);
}

/* Both halves answered; the lock (if held) goes first so waiting writes move on. */
static void io_pair_end(struct io_pair *p, uint16_t first_status, uint16_t second_status)
{
	struct nvmft_req *first = p->first, *second = p->second;

	if (p->locked)
		nvmft_io_lock_release(&p->lock);
	io_pair_detach(p);
	nvmft_req_finish(first, first_status);
	nvmft_req_finish(second, second_status);
}

static void io_pair_step(struct nvmft_req *req, uint16_t status)
{
	struct io_pair *p = req->scratch;

	if (req == p->first) {
		if (status != 0) {
			io_pair_end(p, status, IO_FUSED_FAIL);
			return;
		}
		/* The write holds the range already: counted, never checked against it. */
		nvmft_io_wr_count(p->second);
		io_write_submit(p->second);
		return;
	}
	io_pair_end(p, 0, status);
}

static void io_pair_locked(struct nvmft_io_lock *lk, int status)
{
	struct io_pair *p = nvmft_container_of(lk, struct io_pair, lock);

	if (status != 0) {
		io_pair_end(p, IO_RETRY(NVME_SC_NS_NOT_READY), IO_FUSED_FAIL);
		return;
	}
	p->locked = true;
	io_compare_exec(p->first);
}

/* Answer @req and the other half if it waits here; one still in the transport is let go. */
static void io_fused_abort(struct io_pair *p, struct nvmft_req *req)
{
	struct nvmft_req *other = req == p->first ? p->second : p->first;
	bool other_ready = req == p->first ? p->second_ready : p->first_ready;
	uint16_t status = NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE);

	io_pair_detach(p);
	nvmft_req_finish(req, status);
	if (other != NULL && other_ready)
		nvmft_req_finish(other, status);
}

static void io_fused_exec(struct nvmft_req *req)
{
	struct io_pair *p = req->scratch;
	struct nvmft_req *first;
	uint16_t status;

	if (p == NULL) {
		/* The other half left before the pair could run. */
		nvmft_req_finish(req, IO_FUSED_FAIL);
		return;
	}
	if (nvmft_unlikely(!nvmft_qpair_is_alive(req->qpair))) {
		/* The queue is going away: the pair cannot complete any more. */
		if (req->qpair->io_fused_first == p->first)
			req->qpair->io_fused_first = NULL;
		io_fused_abort(p, req);
		return;
	}
	if (req == p->first) {
		if (p->first_status != 0) {
			status = p->first_status;
			io_pair_detach(p);
			nvmft_req_finish(req, status);
			return;
		}
		p->first_ready = true;
	} else {
		p->second_ready = true;
	}
	if (!p->first_ready || !p->second_ready)
		return;
	first = p->first;
	if (nvmft_io_lock_acquire(&p->lock, first->pgns->ns, first->qpair->pg, first->slba,
				  first->nlb, io_pair_locked) < 0)
		io_pair_end(p, IO_RETRY(NVME_SC_NS_NOT_READY), IO_FUSED_FAIL);
}

/* The first half of a pair will not get its second: answer it now or when it executes. */
static void io_fused_orphan(struct nvmft_req *first, uint16_t status)
{
	struct io_pair *p = first->scratch;

	if (p->first_ready) {
		io_pair_detach(p);
		nvmft_req_finish(first, status);
	} else {
		p->first_status = status;
	}
}

void nvmft_io_fused_break(struct nvmft_req *req)
{
	struct nvmft_qpair *qp = req->qpair;
	struct nvmft_req *first = qp->io_fused_first;

	if (first == NULL || first == req)
		return;
	qp->io_fused_first = NULL;
	io_fused_orphan(first, IO_FUSED_MISSING);
}

void nvmft_io_qpair_disconnect(struct nvmft_qpair *qp)
{
	struct nvmft_req *first = qp->io_fused_first;
	struct io_pair *p;

	if (first == NULL)
		return;
	p = first->scratch;
	/* Not executed yet: the transport releases it, and the release hook cleans up. */
	if (!p->first_ready)
		return;
	qp->io_fused_first = NULL;
	io_pair_detach(p);
	nvmft_req_finish(first, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE));
}

void nvmft_io_req_release(struct nvmft_req *req)
{
	struct io_pair *p = req->scratch;
	struct nvmft_req *other;
	bool other_ready;

	if (!io_is_pair_half(req))
		return;
	/* Released before the pair ran: its data never arrived, or the core failed it. */
	if (req->qpair->io_fused_first == req)
		req->qpair->io_fused_first = NULL;
	if (req == p->first) {
		other = p->second;
		other_ready = p->second_ready;
	} else {
		other = p->first;
		other_ready = p->first_ready;
	}
	io_pair_detach(p);
	/* A half that has not executed yet fails when it does (no pair any more). */
	if (other != NULL && other_ready)
		nvmft_req_finish(other, IO_FUSED_FAIL);
}

/* ---- Parse ---------------------------------------------------------------------------------- */

static uint16_t io_parse_rw(struct nvmft_req *req, const struct nvmft_ns *ns,
			    enum nvmft_io_type type)
{
	const struct nvmft_qpair *qp = req->qpair;
	uint32_t cdw12 = le32toh(req->cmd.cdw12);
	uint64_t slba = io_cmd_slba(&req->cmd), nlb = io_cmd_nlb(&req->cmd);
	uint64_t bytes;

	if (cdw12 & (IO_CDW12_PRINFO | IO_CDW12_RW_RSVD))
		return IO_ERR(NVME_SC_INVALID_FIELD);
	if (type == NVMFT_IO_WRITE && ns->read_only)
		return IO_ERR(NVME_SC_NS_WRITE_PROTECTED);
	if (io_lba_bad(ns, slba, nlb))
		return IO_ERR(NVME_SC_LBA_RANGE);
	bytes = nlb << ns->block_shift;
	if (bytes > qp->tr->opts.max_io_size)
		return IO_ERR(NVME_SC_INVALID_FIELD);
	if (req->length != bytes)
		return IO_ERR(NVME_SC_SGL_INVALID_DATA);
	req->io_type = (uint8_t)type;
	req->slba = slba;
	req->nlb = nlb;
	switch (type) {
	case NVMFT_IO_READ:
		if ((ns->caps & NVMFT_BACKEND_CAP_ZCOPY_READ) &&
		    (qp->tr->ops->caps & NVMFT_TR_CAP_ZCOPY_READ))
			req->flags |= NVMFT_REQ_F_ZCOPY |
				      ((ns->caps & NVMFT_BACKEND_CAP_CONST_READ) ? NVMFT_REQ_F_CONST_DATA
										  : 0);
		req->execute = io_read_exec;
		break;
	case NVMFT_IO_WRITE:
		if (io_wants_fua(req) && (ns->caps & NVMFT_BACKEND_CAP_FUA))
			req->io_flags = NVMFT_IO_F_FUA;
		req->execute = io_write_exec;
		break;
	default:
		req->execute = io_compare_exec;
		break;
	}
	return 0;
}

static uint16_t io_parse_write_zeroes(struct nvmft_req *req, const struct nvmft_ns *ns)
{
	uint32_t cdw12 = le32toh(req->cmd.cdw12);
	uint64_t slba = io_cmd_slba(&req->cmd), nlb = io_cmd_nlb(&req->cmd);

	if (cdw12 & (IO_CDW12_PRINFO | IO_CDW12_WZ_RSVD))
		return IO_ERR(NVME_SC_INVALID_FIELD);
	if (ns->read_only)
		return IO_ERR(NVME_SC_NS_WRITE_PROTECTED);
	if (io_lba_bad(ns, slba, nlb))
		return IO_ERR(NVME_SC_LBA_RANGE);
	if (req->length != 0)
		return IO_ERR(NVME_SC_INVALID_FIELD);
	req->io_type = NVMFT_IO_WRITE_ZEROES;
	req->slba = slba;
	req->nlb = nlb;
	if (io_wants_fua(req) && (ns->caps & NVMFT_BACKEND_CAP_FUA))
		req->io_flags = NVMFT_IO_F_FUA;
	req->execute = io_wz_exec;
	return 0;
}

static uint16_t io_parse_dsm(struct nvmft_req *req, const struct nvmft_ns *ns)
{
	uint32_t cdw10 = le32toh(req->cmd.cdw10), cdw11 = le32toh(req->cmd.cdw11);

	if ((cdw10 & ~IO_DSM_NR) || (cdw11 & ~IO_DSM_ATTR_MASK))
		return IO_ERR(NVME_SC_INVALID_FIELD);
	if ((cdw11 & IO_DSM_AD) && ns->read_only)
		return IO_ERR(NVME_SC_NS_WRITE_PROTECTED);
	/* Linux always sends a whole page of ranges: only a short buffer is wrong. */
	if (req->length < io_dsm_nr(req) * IO_DSM_RANGE_SIZE)
		return IO_ERR(NVME_SC_SGL_INVALID_DATA);
	req->io_type = NVMFT_IO_DEALLOCATE;
	req->execute = io_dsm_exec;
	return 0;
}

static uint16_t io_parse_flush(struct nvmft_req *req)
{
	if (req->length != 0)
		return IO_ERR(NVME_SC_INVALID_FIELD);
	req->io_type = NVMFT_IO_FLUSH;
	req->execute = io_flush_exec;
	return 0;
}

static uint16_t io_parse_one(struct nvmft_req *req)
{
	struct nvmft_qpair *qp = req->qpair;
	uint32_t nsid = le32toh(req->cmd.nsid);
	struct nvmft_pg_ns *pgns;
	uint16_t status;

	switch (req->cmd.opcode) {
	case nvme_cmd_read:
	case nvme_cmd_write:
	case nvme_cmd_compare:
	case nvme_cmd_write_zeroes:
	case nvme_cmd_dsm:
		break;
	case nvme_cmd_flush:
		if (nsid != IO_NSID_ALL)
			break;
		status = io_parse_flush(req);
		/* No namespace of its own: see io_flush_all_step(). */
		if (status == 0) {
			req->nr_ranges = 0;
			req->execute = io_flush_all_step;
		}
		return status;
	default:
		return IO_ERR(NVME_SC_INVALID_OPCODE);
	}
	pgns = nvmft_pg_ns(qp->pgss, nsid);
	if (pgns == NULL || pgns->ns == NULL || pgns->removing)
		return IO_ERR(NVME_SC_INVALID_NS);
	switch (req->cmd.opcode) {
	case nvme_cmd_read:
		status = io_parse_rw(req, pgns->ns, NVMFT_IO_READ);
		break;
	case nvme_cmd_write:
		status = io_parse_rw(req, pgns->ns, NVMFT_IO_WRITE);
		break;
	case nvme_cmd_compare:
		status = io_parse_rw(req, pgns->ns, NVMFT_IO_COMPARE);
		break;
	case nvme_cmd_write_zeroes:
		status = io_parse_write_zeroes(req, pgns->ns);
		break;
	case nvme_cmd_dsm:
		status = io_parse_dsm(req, pgns->ns);
		break;
	default:
		status = io_parse_flush(req);
		break;
	}
	if (status != 0)
		return status;
	req->pgns = pgns;
	req->flags |= NVMFT_REQ_F_IO;
	return 0;
}

/* Is @second the write that completes the pair @first began? */
static bool io_fused_match(const struct nvmft_req *first, const struct nvmft_req *second)
{
	return second->cmd.opcode == nvme_cmd_write && second->cmd.nsid == first->cmd.nsid &&
	       io_cmd_slba(&second->cmd) == io_cmd_slba(&first->cmd) &&
	       io_cmd_nlb(&second->cmd) == io_cmd_nlb(&first->cmd);
}

/*
 * Commands with FUSE set, and any command that follows a first half.  The
 * pending first is answered here unless this command is its second.
 */
static uint16_t io_parse_fused(struct nvmft_req *req)
{
	struct nvmft_qpair *qp = req->qpair;
	struct nvmft_req *first = qp->io_fused_first;
	uint8_t fuse = req->cmd.flags & NVMFT_CMD_FUSE_MASK;
	struct io_pair *p;
	uint16_t status;

	qp->io_fused_first = NULL;
	if (fuse == NVMFT_CMD_FUSE_SECOND && first != NULL) {
		if (!io_fused_match(first, req)) {
			io_fused_orphan(first, IO_FUSED_MISSING);
			return IO_ERR(NVME_SC_INVALID_FIELD);
		}
		status = io_parse_one(req);
		if (status != 0) {
			io_fused_orphan(first, IO_FUSED_FAIL);
			return status;
		}
		p = first->scratch;
		p->second = req;
		req->scratch = p;
		req->fused = first;
		first->fused = req;
		req->flags |= NVMFT_REQ_F_FUSED_SECOND;
		req->execute = io_fused_exec;
		return 0;
	}
	if (first != NULL)
		io_fused_orphan(first, IO_FUSED_MISSING);
	switch (fuse) {
	case 0:
		return io_parse_one(req);
	case NVMFT_CMD_FUSE_FIRST:
		/* Compare and Write is the only fused operation. */
		if (req->cmd.opcode != nvme_cmd_compare)
			return IO_ERR(NVME_SC_INVALID_FIELD);
		status = io_parse_one(req);
		if (status != 0)
			return status;
		p = calloc(1, sizeof(*p));
		if (p == NULL)
			return IO_RETRY(NVME_SC_NS_NOT_READY);
		p->first = req;
		req->scratch = p;
		req->flags |= NVMFT_REQ_F_FUSED_FIRST;
		req->execute = io_fused_exec;
		qp->io_fused_first = req;
		return 0;
	case NVMFT_CMD_FUSE_SECOND:
		return IO_FUSED_MISSING;
	default:
		return IO_ERR(NVME_SC_INVALID_FIELD);
	}
}

uint16_t nvmft_io_parse(struct nvmft_req *req)
{
	req->io_wr_tag = 0;
	if (nvmft_unlikely(req->qpair->io_fused_first != NULL ||
			   (req->cmd.flags & NVMFT_CMD_FUSE_MASK)))
		return io_parse_fused(req);
	return io_parse_one(req);
}

void nvmft_io_ns_fini(struct nvmft_ns *ns)
{
	void *z = atomic_load_explicit(&ns->io_zeroes, memory_order_acquire);

	nvmft_io_lock_ns_fini(ns);
	if (z != NULL)
		munmap(z, IO_ZERO_BYTES);
	atomic_store_explicit(&ns->io_zeroes, NULL, memory_order_relaxed);
}
