/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request life cycle: the buffer pool and its FIFO of waiting requests,
 * requests that can never get buffers, the errno -> status table, backend
 * supplied read buffers (nvmft_req_set_iovs), completion from another
 * thread, double completion, requests answered at a drain deadline while
 * their backend still holds them (orphans), SQ head pointer reporting, and
 * the iovec data helpers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/req.h"
#include "core/qpair.h"
#include "loop_transport.h"
#include "test_backend.h"
#include "test_util.h"

#define NQN "nqn.2024-01.io.example:req"
#define ST(sct, sc) NVMFT_STATUS(sct, sc)
#define ST_DNR(sct, sc) NVMFT_STATUS_DNR(sct, sc)

struct fx {
	struct lt_env env;
	struct lt_qpair *aq, *iq;
	uint16_t cntlid;
};

/* Environment with one subsystem, @be as namespace 1, admin + I/O queue of @sqsize. */
static void fx_init(struct fx *f, const struct nvmft_transport_opts *tro, struct nvmft_backend *be,
		    uint16_t sqsize)
{
	struct lt_env_opts eo = { .tr_opts = tro };

	memset(f, 0, sizeof(*f));
	assert_int_equal(lt_env_init(&f->env, &eo), 0);
	assert_non_null(lt_env_add_subsystem(&f->env, NQN, true));
	if (be != NULL)
		assert_non_null(lt_env_add_ns(&f->env, f->env.ss, be, 1));
	f->aq = lt_connect_admin(&f->env, NQN, LT_HOSTNQN, &f->cntlid);
	assert_non_null(f->aq);
	f->iq = lt_connect_io(&f->env, NQN, LT_HOSTNQN, f->cntlid, 1, sqsize);
	assert_non_null(f->iq);
}

/* Generic transport defaults (the loop transport adds nothing of its own). */
static void generic_opts(struct nvmft_transport_opts *o)
{
	assert_int_equal(nvmft_transport_opts_init((enum nvmft_trtype)254, o, sizeof(*o)),
			 -EPROTONOSUPPORT);
}

static struct nvmft_cmd rw_cmd(uint8_t opc, uint64_t slba, uint32_t nlb)
{
	struct nvmft_cmd c = { .opcode = opc, .nsid = htole32(1) };

	c.cdw10 = htole32((uint32_t)slba);
	c.cdw11 = htole32((uint32_t)(slba >> 32));
	c.cdw12 = htole32(nlb - 1);
	return c;
}

static void pg_stats(struct fx *f, struct nvmft_poll_group_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	assert_int_equal(nvmft_poll_group_get_stats(f->env.pg[0], st), 0);
}

/* ---- errno -> NVMe status -------------------------------------------------------------- */

static uint16_t map(enum nvmft_io_type t, int err)
{
	struct nvmft_req req;

	memset(&req, 0, sizeof(req));
	req.io_type = (uint8_t)t;
	return nvmft_req_errno_to_status(&req, err);
}

static void test_errno_table(void **state)
{
	static const enum nvmft_io_type writes[] = { NVMFT_IO_WRITE, NVMFT_IO_WRITE_ZEROES,
						     NVMFT_IO_DEALLOCATE, NVMFT_IO_FLUSH };
	static const enum nvmft_io_type reads[] = { NVMFT_IO_READ, NVMFT_IO_COMPARE };
	static const enum nvmft_io_type all[] = { NVMFT_IO_READ, NVMFT_IO_WRITE, NVMFT_IO_FLUSH,
						  NVMFT_IO_WRITE_ZEROES, NVMFT_IO_DEALLOCATE,
						  NVMFT_IO_COMPARE };
	static const struct {
		int err;
		uint16_t status;
	} common[] = {
		{ 0, 0 },
		{ -EILSEQ, ST_DNR(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED) },
		{ -ENOSPC, ST_DNR(NVME_SCT_GENERIC, NVME_SC_CAP_EXCEEDED) },
		{ -EROFS, ST_DNR(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED) },
		{ -EPERM, ST_DNR(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED) },
		{ -EACCES, ST_DNR(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED) },
		{ -EAGAIN, ST(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY) },
		{ -EBUSY, ST(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY) },
		{ -ENOMEM, ST(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY) },
		{ -ENODEV, ST_DNR(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY) },
		{ -ENXIO, ST_DNR(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY) },
		{ -ERANGE, ST_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE) },
		{ -EFAULT, ST(NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR) },
		{ -EOPNOTSUPP, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD) },
		{ -ETIMEDOUT, ST(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ) },
		{ -ECANCELED, ST(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ) },
		{ -EINVAL, ST(NVME_SCT_GENERIC, NVME_SC_INTERNAL) },
		{ -E2BIG, ST(NVME_SCT_GENERIC, NVME_SC_INTERNAL) },
		{ -EPIPE, ST(NVME_SCT_GENERIC, NVME_SC_INTERNAL) },
		{ -4095, ST(NVME_SCT_GENERIC, NVME_SC_INTERNAL) },
		{ 7, ST(NVME_SCT_GENERIC, NVME_SC_INTERNAL) },
	};

	(void)state;
	for (size_t t = 0; t < sizeof(all) / sizeof(all[0]); t++)
		for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
			assert_int_equal(map(all[t], common[i].err), common[i].status);
	/* Media errors: Write Fault for what changes media, Unrecovered Read Error otherwise. */
	for (size_t t = 0; t < sizeof(writes) / sizeof(writes[0]); t++)
		assert_int_equal(map(writes[t], -EIO), ST(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT));
	for (size_t t = 0; t < sizeof(reads) / sizeof(reads[0]); t++)
		assert_int_equal(map(reads[t], -EIO), ST(NVME_SCT_MEDIA, NVME_SC_READ_ERROR));
	/* The numbers doc/backends.md gives (type / code, DNR = bit 14). */
	assert_int_equal(map(NVMFT_IO_WRITE, -EIO), 0x280);
	assert_int_equal(map(NVMFT_IO_READ, -EIO), 0x281);
	assert_int_equal(map(NVMFT_IO_COMPARE, -EILSEQ), 0x4000 | 0x285);
	assert_int_equal(map(NVMFT_IO_WRITE, -ENOSPC), 0x4000 | 0x81);
	assert_int_equal(map(NVMFT_IO_WRITE, -EROFS), 0x4000 | 0x20);
	assert_int_equal(map(NVMFT_IO_READ, -EAGAIN), 0x82);
	assert_int_equal(map(NVMFT_IO_READ, -ENODEV), 0x4000 | 0x82);
	assert_int_equal(map(NVMFT_IO_READ, -ERANGE), 0x4000 | 0x80);
	assert_int_equal(map(NVMFT_IO_READ, -EFAULT), 0x04);
	assert_int_equal(map(NVMFT_IO_READ, -EOPNOTSUPP), 0x4000 | 0x02);
	assert_int_equal(map(NVMFT_IO_READ, -ETIMEDOUT), 0x07);
	assert_int_equal(map(NVMFT_IO_READ, -EINVAL), 0x06);
}

/* The table as a host sees it: a backend completing (or refusing) with an errno. */
static void test_errno_reaches_host(void **state)
{
	struct fx f;
	struct nvmft_backend *be;
	struct tb *tb;
	struct nvmft_cmd w = rw_cmd(nvme_cmd_write, 0, 1), r = rw_cmd(nvme_cmd_read, 0, 1);
	uint8_t buf[512] = { 0 };

	(void)state;
	assert_int_equal(tb_new("req-err", 64, 512, 0, TB_POLL, &tb, &be), 0);
	fx_init(&f, NULL, be, 31);
	tb_fail_next(tb, NVMFT_IO_WRITE, -EIO, 1);
	assert_int_equal(lt_cmd(f.iq, &w, buf, 512).status,
			 ST(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT));
	tb_fail_next(tb, NVMFT_IO_READ, -EIO, 1);
	assert_int_equal(lt_cmd(f.iq, &r, buf, 512).status, ST(NVME_SCT_MEDIA, NVME_SC_READ_ERROR));
	tb_fail_next(tb, 0, -ENOSPC, 1);
	assert_int_equal(lt_cmd(f.iq, &w, buf, 512).status,
			 ST_DNR(NVME_SCT_GENERIC, NVME_SC_CAP_EXCEEDED));
	tb_fail_next(tb, 0, -EBUSY, 1);
	assert_int_equal(lt_cmd(f.iq, &r, buf, 512).status,
			 ST(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY));
	tb_fail_next(tb, 0, -ENODEV, 1);
	assert_int_equal(lt_cmd(f.iq, &r, buf, 512).status,
			 ST_DNR(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY));
	tb_fail_next(tb, 0, -12345, 1);
	assert_int_equal(lt_cmd(f.iq, &r, buf, 512).status, ST(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
	assert_int_equal(lt_cmd(f.iq, &r, buf, 512).status, 0);
	lt_env_fini(&f.env);
}

/* ---- Buffer pool ------------------------------------------------------------------------- */

static void fill_backend(struct tb *tb, size_t bytes)
{
	tu_fill_pattern(tb_data(tb), bytes, 42);
}

/*
 * 32 chunks of 4 KiB.  Two reads in the backend hold 24; a 16-chunk read
 * must wait, and a 1-chunk read that would fit must wait behind it (FIFO).
 * When the backend answers, both move on, in arrival order.
 */
/*
 * A queue pair's share of the pool: a host whose reads sit in the backend
 * (or who never reads its responses) holds at most max_qpair_buf_bytes; its
 * next request waits at its own gate while another queue pair on the same
 * group still gets buffers.  When its reads finish, the waiter moves on.
 */
static void test_qpair_buffer_share(void **state)
{
	struct nvmft_transport_opts tro;
	struct nvmft_backend *be;
	struct tb *tb;
	struct fx f;
	struct lt_qpair *other;
	static uint8_t b1[65536], b2[65536], b3[65536], b4[65536];
	struct nvmft_cmd r = rw_cmd(nvme_cmd_read, 0, 128);
	int t1, t2, t3, t4;

	(void)state;
	generic_opts(&tro);
	tro.max_io_size = 65536;
	tro.buf_pool_bytes = 4 * 65536;
	tro.max_qpair_buf_bytes = 2 * 65536;
	assert_int_equal(tb_new("req-share", 1024, 512, 0, TB_INLINE, &tb, &be), 0);
	fx_init(&f, &tro, be, 31);
	other = lt_connect_io(&f.env, NQN, LT_HOSTNQN, f.cntlid, 2, 31);
	assert_non_null(other);
	tb_hold(tb, true);
	t1 = lt_submit(f.iq, &r, b1, sizeof(b1));
	t2 = lt_submit(f.iq, &r, b2, sizeof(b2));
	t3 = lt_submit(f.iq, &r, b3, sizeof(b3));
	lt_env_settle(&f.env);
	/* Two fit its share; the third waits although the pool has room. */
	assert_int_equal(tb_held(tb), 2);
	assert_int_equal(lt_qpair_core(f.iq)->buf_bytes, 2 * 65536);
	/* The other queue is not starved. */
	t4 = lt_submit(other, &r, b4, sizeof(b4));
	lt_env_settle(&f.env);
	assert_int_equal(tb_held(tb), 3);
	tb_hold(tb, false);
	tb_release(tb);
	assert_int_equal(lt_wait(f.iq, t1).status, 0);
	assert_int_equal(lt_wait(f.iq, t2).status, 0);
	assert_int_equal(lt_wait(f.iq, t3).status, 0);
	assert_int_equal(lt_wait(other, t4).status, 0);
	lt_env_settle(&f.env);
	assert_int_equal(lt_qpair_core(f.iq)->buf_bytes, 0);
	assert_int_equal(lt_qpair_core(other)->buf_bytes, 0);
	lt_env_fini(&f.env);
	/* A share smaller than one transfer would hang a host forever: refused up front. */
	tro.max_qpair_buf_bytes = 4096;
	{
		struct lt_env e;

		assert_int_equal(lt_env_init(&e, &(struct lt_env_opts){ .tr_opts = &tro }), -EINVAL);
		lt_env_fini(&e);
	}
}

/*
 * A fused Compare and Write whose first half fills the queue pair's share:
 * the second half must not wait behind it (the first waits for the second),
 * so it takes buffers past the share, or fails at once when the pool is dry.
 */
static void test_fused_second_never_waits(void **state)
{
	struct nvmft_transport_opts tro;
	struct nvmft_backend *be;
	struct tb *tb;
	struct fx f;
	static uint8_t cmpbuf[65536], wbuf[65536];
	struct nvmft_cmd c1 = rw_cmd(nvme_cmd_compare, 0, 128), c2 = rw_cmd(nvme_cmd_write, 0, 128);
	int t1, t2;

	(void)state;
	generic_opts(&tro);
	tro.max_io_size = 65536;
	tro.buf_pool_bytes = 4 * 65536;
	tro.max_qpair_buf_bytes = 65536;
	assert_int_equal(tb_new("req-fused", 1024, 512, NVMFT_BACKEND_CAP_COMPARE, TB_INLINE, &tb, &be),
			 0);
	fx_init(&f, &tro, be, 31);
	c1.flags = NVMFT_CMD_FUSE_FIRST;
	c2.flags = NVMFT_CMD_FUSE_SECOND;
	memset(wbuf, 0x77, sizeof(wbuf));
	t1 = lt_submit(f.iq, &c1, cmpbuf, sizeof(cmpbuf)); /* backend is all zero: compare matches */
	t2 = lt_submit(f.iq, &c2, wbuf, sizeof(wbuf));
	assert_int_equal(lt_wait(f.iq, t1).status, 0);
	assert_int_equal(lt_wait(f.iq, t2).status, 0);
	assert_int_equal(tb_data(tb)[0], 0x77);
	lt_env_settle(&f.env);
	assert_int_equal(lt_qpair_core(f.iq)->buf_bytes, 0);
	lt_env_fini(&f.env);
}

static void test_buffer_fifo(void **state)
{
	struct nvmft_transport_opts tro;
	struct nvmft_poll_group_stats st;
	struct nvmft_backend *be;
	struct tb *tb;
	struct fx f;
	static uint8_t b1[65536], b2[32768], b3[65536], b4[4096];
	struct nvmft_cmd r1 = rw_cmd(nvme_cmd_read, 0, 128), r2 = rw_cmd(nvme_cmd_read, 200, 64);
	struct nvmft_cmd r3 = rw_cmd(nvme_cmd_read, 300, 128), r4 = rw_cmd(nvme_cmd_read, 500, 8);
	int t1, t2, t3, t4;

	(void)state;
	generic_opts(&tro);
	tro.max_io_size = 65536;
	tro.buf_pool_bytes = 131072;
	tro.max_qpair_buf_bytes = 131072; /* the pool's FIFO alone, no per-queue share */
	assert_int_equal(tb_new("req-fifo", 1024, 512, 0, TB_INLINE, &tb, &be), 0);
	fill_backend(tb, 1024 * 512);
	fx_init(&f, &tro, be, 31);
	tb_hold(tb, true);
	t1 = lt_submit(f.iq, &r1, b1, sizeof(b1));
	t2 = lt_submit(f.iq, &r2, b2, sizeof(b2));
	t3 = lt_submit(f.iq, &r3, b3, sizeof(b3));
	t4 = lt_submit(f.iq, &r4, b4, sizeof(b4));
	lt_env_settle(&f.env);
	assert_int_equal(tb_held(tb), 2);
	assert_int_equal(tb_held_lba(tb, 0), 0);
	assert_int_equal(tb_held_lba(tb, 1), 200);
	assert_int_equal(tb_count(tb, NVMFT_IO_READ), 2); /* r4 did not overtake r3 */
	pg_stats(&f, &st);
	assert_int_equal(st.buf_waits, 2);
	assert_int_equal(st.pending_bdev_io, 2);
	assert_int_equal(st.buf_bytes, 24 * 4096);
	assert_int_equal(lt_qpair_outstanding(f.iq), 4);

	assert_int_equal(tb_release(tb), 2);
	lt_env_settle(&f.env);
	assert_true(lt_done(f.iq, t1));
	assert_true(lt_done(f.iq, t2));
	assert_int_equal(tb_held(tb), 2);
	assert_int_equal(tb_held_lba(tb, 0), 300);
	assert_int_equal(tb_held_lba(tb, 1), 500);
	pg_stats(&f, &st);
	assert_int_equal(st.buf_waits, 2);
	assert_true(st.buf_bytes <= tro.buf_pool_bytes);

	assert_int_equal(tb_release(tb), 2);
	assert_int_equal(lt_wait(f.iq, t1).status, 0);
	assert_int_equal(lt_wait(f.iq, t2).status, 0);
	assert_int_equal(lt_wait(f.iq, t3).status, 0);
	assert_int_equal(lt_wait(f.iq, t4).status, 0);
	assert_memory_equal(b1, tb_data(tb), sizeof(b1));
	assert_memory_equal(b2, tb_data(tb) + 200 * 512, sizeof(b2));
	assert_memory_equal(b3, tb_data(tb) + 300 * 512, sizeof(b3));
	assert_memory_equal(b4, tb_data(tb) + 500 * 512, sizeof(b4));
	pg_stats(&f, &st);
	assert_int_equal(st.pending_bdev_io, 0);
	assert_int_equal(lt_qpair_outstanding(f.iq), 0);
	tb_hold(tb, false);
	lt_env_fini(&f.env);
}

/* A waiting request whose queue goes away leaves the FIFO; the others still get served. */
static void test_buffer_waiter_cancelled(void **state)
{
	struct nvmft_transport_opts tro;
	struct nvmft_backend *be;
	struct tb *tb;
	struct fx f;
	struct lt_qpair *iq2;
	static uint8_t b1[65536], b2[65536], b3[4096];
	struct nvmft_cmd r1 = rw_cmd(nvme_cmd_read, 0, 128), r2 = rw_cmd(nvme_cmd_read, 128, 128);
	struct nvmft_cmd r3 = rw_cmd(nvme_cmd_read, 256, 8);
	int t1, t3;

	(void)state;
	generic_opts(&tro);
	tro.max_io_size = 65536;
	tro.buf_pool_bytes = 65536;
	assert_int_equal(tb_new("req-cancel", 1024, 512, 0, TB_INLINE, &tb, &be), 0);
	fx_init(&f, &tro, be, 31);
	iq2 = lt_connect_io(&f.env, NQN, LT_HOSTNQN, f.cntlid, 2, 31);
	assert_non_null(iq2);
	tb_hold(tb, true);
	t1 = lt_submit(f.iq, &r1, b1, sizeof(b1)); /* takes the whole pool */
	lt_env_settle(&f.env);
	lt_submit(iq2, &r2, b2, sizeof(b2));        /* waits */
	lt_env_settle(&f.env);
	t3 = lt_submit(f.iq, &r3, b3, sizeof(b3));   /* waits behind it */
	lt_env_settle(&f.env);
	assert_int_equal(tb_held(tb), 1);
	lt_qpair_close(iq2);
	assert_true(lt_qpair_is_freed(iq2));
	assert_int_equal(tb_release(tb), 1);
	tb_hold(tb, false);
	assert_int_equal(lt_wait(f.iq, t1).status, 0);
	assert_int_equal(lt_wait(f.iq, t3).status, 0);
	assert_int_equal(tb_count(tb, NVMFT_IO_READ), 2);
	lt_env_fini(&f.env);
}

/*
 * A request larger than the whole pool can never be served: it fails with a
 * status at once (even with other requests waiting) instead of waiting forever.
 */
static void test_request_larger_than_pool(void **state)
{
	struct nvmft_transport_opts tro;
	struct nvmft_poll_group_stats st;
	struct nvmft_backend *be;
	struct tb *tb;
	struct fx f;
	static uint8_t log[8192];
	uint8_t w[512] = { 5 }, r[512];
	struct nvmft_cmd wc = rw_cmd(nvme_cmd_write, 0, 1), rc = rw_cmd(nvme_cmd_read, 0, 1);
	struct lt_cpl c;
	int tw, tr;

	(void)state;
	generic_opts(&tro);
	tro.max_io_size = 4096;
	tro.buf_pool_bytes = 4096; /* one chunk */
	assert_int_equal(tb_new("req-big", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	fx_init(&f, &tro, be, 31);
	c = lt_get_log(f.aq, NVME_LOG_LID_ERROR, 0, 0, log, sizeof(log));
	assert_true(c.done);
	assert_int_not_equal(c.status, 0);

	tb_hold(tb, true);
	tw = lt_submit(f.iq, &wc, w, 512); /* holds the only chunk */
	lt_env_settle(&f.env);
	tr = lt_submit(f.iq, &rc, r, 512); /* waits for it */
	lt_env_settle(&f.env);
	pg_stats(&f, &st);
	assert_int_equal(st.buf_waits, 1);
	c = lt_get_log(f.aq, NVME_LOG_LID_ERROR, 0, 0, log, sizeof(log));
	assert_true(c.done);
	assert_int_not_equal(c.status, 0);
	assert_false(lt_done(f.iq, tr));
	pg_stats(&f, &st);
	assert_int_equal(st.buf_waits, 1);

	assert_int_equal(tb_release(tb), 1);
	lt_env_settle(&f.env);
	assert_int_equal(tb_release(tb), 1);
	tb_hold(tb, false);
	assert_int_equal(lt_wait(f.iq, tw).status, 0);
	assert_int_equal(lt_wait(f.iq, tr).status, 0);
	assert_int_equal(r[0], 5);
	lt_env_fini(&f.env);
}

/* ---- Backend-supplied read buffers ---------------------------------------------------------- */

#define ZC_BLOCKS 64
#define ZC_BS 512

struct zc {
	uint8_t data[ZC_BLOCKS * ZC_BS];
	bool validate;
	int rc_null, rc_zero, rc_neg, rc_short, rc_long, rc_17, rc_16, rc_write;
	int iovcnt_at_submit;
	const void *iov_at_submit;
	int releases;
	const struct nvmft_req *released;
	const struct nvmft_req *submitted;
};

static int zc_open(void *ctx, void **chan)
{
	*chan = ctx;
	return 0;
}

static void zc_close(void *ctx, void *chan)
{
	(void)ctx;
	(void)chan;
}

static int zc_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	struct zc *z = ctx;
	uint64_t off = nvmft_req_get_offset_blocks(req) * ZC_BS;
	uint64_t len = nvmft_req_get_num_blocks(req) * ZC_BS;
	struct iovec iov[17];
	const struct iovec *in;
	int n;

	(void)chan;
	z->submitted = req;
	switch (nvmft_req_get_io_type(req)) {
	case NVMFT_IO_READ:
		z->iov_at_submit = nvmft_req_get_iovs(req, &z->iovcnt_at_submit);
		if (z->validate) {
			iov[0].iov_base = z->data + off;
			iov[0].iov_len = len;
			z->rc_null = nvmft_req_set_iovs(req, NULL, 1);
			z->rc_zero = nvmft_req_set_iovs(req, iov, 0);
			z->rc_neg = nvmft_req_set_iovs(req, iov, -1);
			iov[0].iov_len = len - 1;
			z->rc_short = nvmft_req_set_iovs(req, iov, 1);
			iov[0].iov_len = len + 1;
			z->rc_long = nvmft_req_set_iovs(req, iov, 1);
			for (int i = 0; i < 17; i++) {
				iov[i].iov_base = z->data;
				iov[i].iov_len = len / 16;
			}
			iov[16].iov_len = 0;
			z->rc_17 = nvmft_req_set_iovs(req, iov, 17);
		}
		/* Sixteen pieces, blocks handed out back to front. */
		for (int i = 0; i < 16; i++) {
			iov[i].iov_base = z->data + off + (uint64_t)(15 - i) * (len / 16);
			iov[i].iov_len = len / 16;
		}
		z->rc_16 = nvmft_req_set_iovs(req, iov, 16);
		nvmft_req_complete(req, z->rc_16);
		return 0;
	case NVMFT_IO_WRITE:
		iov[0].iov_base = z->data + off;
		iov[0].iov_len = len;
		z->rc_write = nvmft_req_set_iovs(req, iov, 1);
		in = nvmft_req_get_iovs(req, &n);
		for (int i = 0, pos = 0; i < n; pos += (int)in[i].iov_len, i++)
			memcpy(z->data + off + pos, in[i].iov_base, in[i].iov_len);
		nvmft_req_complete(req, 0);
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

static void zc_release(void *ctx, void *chan, struct nvmft_req *req)
{
	struct zc *z = ctx;

	(void)chan;
	z->releases++;
	z->released = req;
}

static const struct nvmft_backend_ops zc_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = zc_open,
	.channel_close = zc_close,
	.submit = zc_submit,
	.release = zc_release,
};

static void test_set_iovs(void **state)
{
	static struct zc z;
	struct nvmft_backend_opts bo;
	struct nvmft_backend *be;
	struct fx f;
	uint8_t buf[16 * ZC_BS], w[ZC_BS];
	struct nvmft_cmd r = rw_cmd(nvme_cmd_read, 8, 16), wc = rw_cmd(nvme_cmd_write, 0, 1);

	(void)state;
	memset(&z, 0, sizeof(z));
	for (size_t i = 0; i < sizeof(z.data); i++)
		z.data[i] = (uint8_t)(i / ZC_BS);
	nvmft_backend_opts_init(&bo, sizeof(bo));
	bo.name = "req-zc";
	bo.block_size = ZC_BS;
	bo.num_blocks = ZC_BLOCKS;
	bo.caps = NVMFT_BACKEND_CAP_ZCOPY_READ;
	assert_int_equal(nvmft_backend_new(&zc_ops, &z, &bo, &be), 0);
	fx_init(&f, NULL, be, 31);

	z.validate = true;
	assert_int_equal(lt_cmd(f.iq, &r, buf, sizeof(buf)).status, 0);
	assert_int_equal(z.iovcnt_at_submit, 0); /* zero copy: no buffers of ours */
	assert_null(z.iov_at_submit);
	assert_int_equal(z.rc_null, -EINVAL);
	assert_int_equal(z.rc_zero, -EINVAL);
	assert_int_equal(z.rc_neg, -EINVAL);
	assert_int_equal(z.rc_short, -EINVAL);
	assert_int_equal(z.rc_long, -EINVAL);
	assert_int_equal(z.rc_17, -E2BIG);
	assert_int_equal(z.rc_16, 0);
	/* The host got the pieces in the order given: blocks 23..8. */
	for (int i = 0; i < 16; i++)
		assert_int_equal(buf[i * ZC_BS], 8 + 15 - i);
	assert_int_equal(z.releases, 1);
	assert_ptr_equal(z.released, z.submitted);

	/* Only for reads. */
	memset(w, 0xee, sizeof(w));
	assert_int_equal(lt_cmd(f.iq, &wc, w, sizeof(w)).status, 0);
	assert_int_equal(z.rc_write, -EINVAL);
	assert_int_equal(z.data[0], 0xee);
	assert_int_equal(z.releases, 1);
	lt_env_fini(&f.env); /* frees the backend too */
}

/* ---- Completion from other threads, twice, ... --------------------------------------------- */

static void test_complete_remote(void **state)
{
	struct nvmft_poll_group_stats st;
	struct nvmft_backend *be;
	struct tb *tb;
	struct fx f;
	static uint8_t w[8][4096], r[8][4096];
	int tags[16];

	(void)state;
	assert_int_equal(tb_new("req-thread", 256, 512, 0, TB_THREAD, &tb, &be), 0);
	fx_init(&f, NULL, be, 63);
	for (int i = 0; i < 8; i++) {
		struct nvmft_cmd c = rw_cmd(nvme_cmd_write, (uint64_t)i * 8, 8);

		tu_fill_pattern(w[i], sizeof(w[i]), (uint32_t)i + 1);
		tags[i] = lt_submit(f.iq, &c, w[i], sizeof(w[i]));
		assert_true(tags[i] >= 0);
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(lt_wait(f.iq, tags[i]).status, 0);
	for (int i = 0; i < 8; i++) {
		struct nvmft_cmd c = rw_cmd(nvme_cmd_read, (uint64_t)i * 8, 8);

		tags[8 + i] = lt_submit(f.iq, &c, r[i], sizeof(r[i]));
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(lt_wait(f.iq, tags[8 + i]).status, 0);
		assert_memory_equal(r[i], w[i], sizeof(w[i]));
	}
	tb_fail_next(tb, NVMFT_IO_READ, -EIO, 1);
	assert_int_equal(lt_rw(f.iq, false, 1, 0, 1, r[0], 512).status,
			 ST(NVME_SCT_MEDIA, NVME_SC_READ_ERROR));
	pg_stats(&f, &st);
	assert_int_equal(st.pending_bdev_io, 0);
	assert_int_equal(lt_qpair_outstanding(f.iq), 0);
	lt_env_fini(&f.env);
}

struct dbl {
	bool inline_twice;
	struct nvmft_req *pending;
	int completions;
	int submits;
};

static int dbl_open(void *ctx, void **chan)
{
	*chan = ctx;
	return 0;
}

static void dbl_close(void *ctx, void *chan)
{
	(void)ctx;
	(void)chan;
}

static int dbl_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	struct dbl *d = ctx;
	int n;
	const struct iovec *iov = nvmft_req_get_iovs(req, &n);

	(void)chan;
	d->submits++;
	if (nvmft_req_get_io_type(req) == NVMFT_IO_READ)
		for (int i = 0; i < n; i++)
			memset(iov[i].iov_base, 0xd0, iov[i].iov_len);
	if (d->inline_twice) {
		nvmft_req_complete(req, 0);
		nvmft_req_complete(req, -EIO);
		d->completions += 2;
	} else {
		d->pending = req;
	}
	return 0;
}

static int dbl_poll(void *ctx, void *chan, unsigned int budget)
{
	struct dbl *d = ctx;
	struct nvmft_req *req = d->pending;

	(void)chan;
	(void)budget;
	if (req == NULL)
		return 0;
	d->pending = NULL;
	nvmft_req_complete(req, 0);
	nvmft_req_complete(req, -EIO);
	d->completions += 2;
	return 1;
}

static const struct nvmft_backend_ops dbl_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = dbl_open,
	.channel_close = dbl_close,
	.submit = dbl_submit,
	.channel_poll = dbl_poll,
};

static void test_complete_twice_ignored(void **state)
{
	static struct dbl d;
	struct nvmft_poll_group_stats st0, st;
	struct nvmft_qpair_stats qs = { .size = sizeof(qs) };
	struct nvmft_backend_opts bo;
	struct nvmft_backend *be;
	struct fx f;
	uint8_t buf[512];

	(void)state;
	memset(&d, 0, sizeof(d));
	nvmft_backend_opts_init(&bo, sizeof(bo));
	bo.name = "req-dbl";
	bo.block_size = 512;
	bo.num_blocks = 64;
	assert_int_equal(nvmft_backend_new(&dbl_ops, &d, &bo, &be), 0);
	fx_init(&f, NULL, be, 31);
	pg_stats(&f, &st0);

	d.inline_twice = true;
	assert_int_equal(lt_rw(f.iq, false, 1, 0, 1, buf, 512).status, 0);
	assert_int_equal(buf[0], 0xd0);
	d.inline_twice = false;
	assert_int_equal(lt_rw(f.iq, true, 1, 0, 1, buf, 512).status, 0);
	assert_int_equal(d.completions, 4);
	assert_int_equal(d.submits, 2);
	lt_env_settle(&f.env);
	pg_stats(&f, &st);
	assert_int_equal(st.reqs_completed, st0.reqs_completed + 2);
	assert_int_equal(st.pending_bdev_io, 0);
	assert_int_equal(lt_qpair_outstanding(f.iq), 0);
	assert_int_equal(nvmft_qpair_get_stats(lt_qpair_core(f.iq), &qs), 0);
	assert_int_equal(qs.errors, 0);
	assert_int_equal(qs.outstanding, 0);
	/* The queue is still fine. */
	d.inline_twice = true;
	assert_int_equal(lt_rw(f.iq, false, 1, 1, 1, buf, 512).status, 0);
	lt_env_fini(&f.env); /* frees the backend too */
}

/* ---- Orphans: answered at the drain deadline, released when the backend returns -------------- */

#define ST_GONE ST_DNR(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY)

/* fx_init() with a 100 ms drain deadline; *@ns is @be's namespace (NSID 1). */
static void fx_init_deadline(struct fx *f, struct nvmft_backend *be, struct nvmft_ns **ns)
{
	struct lt_env_opts eo = { .drain_timeout_ms = 100 };

	memset(f, 0, sizeof(*f));
	assert_int_equal(lt_env_init(&f->env, &eo), 0);
	assert_non_null(lt_env_add_subsystem(&f->env, NQN, true));
	*ns = lt_env_add_ns(&f->env, f->env.ss, be, 1);
	assert_non_null(*ns);
	f->aq = lt_connect_admin(&f->env, NQN, LT_HOSTNQN, &f->cntlid);
	assert_non_null(f->aq);
	f->iq = lt_connect_io(&f->env, NQN, LT_HOSTNQN, f->cntlid, 1, 31);
	assert_non_null(f->iq);
}

static void on_removed(void *arg, int status)
{
	*(int *)arg = status;
}

/* Remove @ns and wait (bounded, real time) until its deadline passed. */
static void remove_past_deadline(struct fx *f, struct nvmft_ns *ns)
{
	int status = 1;

	nvmft_ns_remove(ns, on_removed, &status);
	for (int i = 0; i < 300 && status == 1; i++) {
		usleep(10000);
		lt_env_poll(&f->env);
	}
	assert_int_equal(status, -ETIMEDOUT);
}

/* The host may close its queue at once; the queue pair lives on until the backend returns. */
static void test_orphan_outlives_its_qpair(void **state)
{
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	struct tb *tb;
	struct fx f;
	struct nvmft_cmd rd = rw_cmd(nvme_cmd_read, 0, 1);
	uint8_t buf[512];
	int tag;

	(void)state;
	assert_int_equal(tb_new("orphan-qp", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	fx_init_deadline(&f, be, &ns);
	tb_hold(tb, true);
	tag = lt_submit(f.iq, &rd, buf, sizeof(buf));
	lt_env_settle(&f.env);
	remove_past_deadline(&f, ns);
	assert_true(lt_done(f.iq, tag));
	assert_int_equal(lt_wait(f.iq, tag).status, ST_GONE);
	lt_qpair_close(f.iq);
	assert_true(lt_qpair_is_dead(f.iq));
	assert_false(lt_qpair_is_freed(f.iq));
	assert_int_equal(lt_qpair_outstanding(f.iq), 1);
	tb_hold(tb, false);
	assert_int_equal(tb_release(tb), 1);
	lt_env_settle(&f.env);
	assert_true(lt_qpair_is_freed(f.iq));
	assert_int_equal(tb_channels(tb), 0);
	lt_env_fini(&f.env);
}

/*
 * A multi-step command (emulated Write Zeroes, 16 backend writes here)
 * answered at the deadline takes no further step when its backend
 * finally returns, even with success.
 */
static void test_orphan_takes_no_further_step(void **state)
{
	struct nvmft_poll_group_stats st;
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	struct tb *tb;
	struct fx f;
	struct nvmft_cmd wz = rw_cmd(nvme_cmd_write_zeroes, 0, 4096);
	int tag;

	(void)state;
	assert_int_equal(tb_new("orphan-wz", 4096, 512, 0, TB_INLINE, &tb, &be), 0);
	fx_init_deadline(&f, be, &ns);
	tb_hold(tb, true);
	tag = lt_submit(f.iq, &wz, NULL, 0);
	lt_env_settle(&f.env);
	assert_int_equal(tb_count(tb, NVMFT_IO_WRITE), 1);
	remove_past_deadline(&f, ns);
	assert_int_equal(lt_wait(f.iq, tag).status, ST_GONE);
	pg_stats(&f, &st);
	assert_int_equal(st.pending_bdev_io, 1);
	tb_hold(tb, false);
	assert_int_equal(tb_release(tb), 1);
	lt_env_settle(&f.env);
	assert_int_equal(tb_count(tb, NVMFT_IO_WRITE), 1);
	pg_stats(&f, &st);
	assert_int_equal(st.pending_bdev_io, 0);
	assert_int_equal(lt_qpair_outstanding(f.iq), 0);
	assert_int_equal(tb_channels(tb), 0);
	/* The write epoch it held is over: the queue takes new writes to other namespaces. */
	assert_non_null(lt_env_add_malloc_ns(&f.env, f.env.ss, 2, 64, 512));
	assert_int_equal(lt_rw(f.iq, true, 2, 0, 1, (uint8_t[512]){ 0 }, 512).status, 0);
	lt_env_fini(&f.env);
}

/* Half of a fused pair is not answered alone: the pair waits for its backend as before. */
static void test_fused_pair_not_orphaned(void **state)
{
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	struct tb *tb;
	struct fx f;
	struct nvmft_cmd c = rw_cmd(nvme_cmd_compare, 0, 1), w = rw_cmd(nvme_cmd_write, 0, 1);
	uint8_t cbuf[512] = { 0 }, wbuf[512] = { 0x11 };
	int t1, t2;

	(void)state;
	assert_int_equal(tb_new("orphan-fused", 64, 512, NVMFT_BACKEND_CAP_COMPARE, TB_INLINE, &tb, &be),
			 0);
	fx_init_deadline(&f, be, &ns);
	c.flags = NVMFT_CMD_FUSE_FIRST;
	w.flags = NVMFT_CMD_FUSE_SECOND;
	tb_hold(tb, true);
	t1 = lt_submit(f.iq, &c, cbuf, sizeof(cbuf));
	t2 = lt_submit(f.iq, &w, wbuf, sizeof(wbuf));
	lt_env_settle(&f.env);
	assert_int_equal(tb_held(tb), 1);
	remove_past_deadline(&f, ns);
	assert_false(lt_done(f.iq, t1));
	assert_false(lt_done(f.iq, t2));
	tb_hold(tb, false);
	tb_release(tb);
	lt_env_settle(&f.env);
	assert_true(lt_wait(f.iq, t1).done);
	assert_true(lt_wait(f.iq, t2).done);
	assert_int_equal(lt_qpair_outstanding(f.iq), 0);
	assert_int_equal(tb_channels(tb), 0);
	lt_env_fini(&f.env);
}

/* ---- SQ head pointer ------------------------------------------------------------------------- */

static void test_sqhd_wraps(void **state)
{
	struct fx f;
	struct nvmft_backend *be;
	struct lt_qpair *q;
	struct lt_cpl r;
	struct nvmft_cmd flush = { .opcode = nvme_cmd_flush, .nsid = htole32(1) };
	uint16_t s0;
	uint8_t buf[512];

	(void)state;
	assert_int_equal(nvmft_backend_malloc_new("req-sqhd", 64, 512, &be), 0);
	fx_init(&f, NULL, be, 31);
	/* An I/O queue of 4 entries (SQSIZE 3). */
	q = lt_qpair_new(&f.env, -1);
	r = lt_connect_raw(q, 2, 3, 0, f.cntlid, NQN, LT_HOSTNQN);
	assert_int_equal(r.status, 0);
	s0 = le16toh(r.cpl.sqhd);
	assert_true(s0 < 4);
	for (uint16_t k = 1; k <= 3 + 6; k++) {
		/* Failed commands were fetched too: they move the head like any other. */
		r = k % 3 == 0 ? lt_rw(q, false, 9, 0, 1, buf, 512) : lt_cmd(q, &flush, NULL, 0);
		assert_true(r.done);
		assert_int_equal(r.status,
				 k % 3 == 0 ? ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS) : 0);
		assert_int_equal(le16toh(r.cpl.sqhd), (s0 + k) % 4);
		assert_int_equal(le16toh(r.cpl.sqid), 2);
	}
	lt_env_fini(&f.env);
}

/*
 * Connect is the first entry of its queue: once fetched, the head is 1, and
 * its completion says so (as every later completion is one ahead).
 */
static void test_connect_sqhd(void **state)
{
	struct fx f;
	struct lt_qpair *q;
	struct lt_cpl r;
	uint16_t admin_sqhd, io_sqhd;

	(void)state;
	fx_init(&f, NULL, NULL, 31);
	q = lt_qpair_new(&f.env, -1);
	r = lt_connect_raw(q, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, NQN, LT_HOSTNQN);
	assert_int_equal(r.status, 0);
	admin_sqhd = le16toh(r.cpl.sqhd);
	q = lt_qpair_new(&f.env, -1);
	r = lt_connect_raw(q, 2, 3, 0, f.cntlid, NQN, LT_HOSTNQN);
	assert_int_equal(r.status, 0);
	io_sqhd = le16toh(r.cpl.sqhd);
	lt_env_fini(&f.env);
	assert_int_equal(admin_sqhd, 1);
	assert_int_equal(io_sqhd, 1);
}

static void test_sq_flow_control_disabled(void **state)
{
	struct fx f;
	struct nvmft_backend *be;
	struct lt_qpair *aq, *iq;
	struct lt_cpl r;
	struct nvmft_cmd flush = { .opcode = nvme_cmd_flush, .nsid = htole32(1) };
	uint16_t cntlid;

	(void)state;
	assert_int_equal(nvmft_backend_malloc_new("req-sqflow", 64, 512, &be), 0);
	fx_init(&f, NULL, be, 31);
	aq = lt_qpair_new(&f.env, -1);
	r = lt_connect_raw_cattr(aq, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, NQN, LT_HOSTNQN,
				 NVMFT_CONNECT_CATTR_DISABLE_SQFLOW);
	assert_int_equal(r.status, 0);
	/* The Connect response itself says "no SQ head updates" with 0xFFFF. */
	assert_int_equal(le16toh(r.cpl.sqhd), 0xffff);
	cntlid = le16toh(r.cpl.connect.cntlid);
	r = lt_prop_set(aq, NVME_REG_CC, 1u | 6u << 16 | 4u << 20);
	assert_int_equal(r.status, 0);
	assert_int_equal(le16toh(r.cpl.sqhd), 0xffff);
	iq = lt_qpair_new(&f.env, -1);
	r = lt_connect_raw_cattr(iq, 1, 3, 0, cntlid, NQN, LT_HOSTNQN,
				 NVMFT_CONNECT_CATTR_DISABLE_SQFLOW);
	assert_int_equal(r.status, 0);
	assert_int_equal(le16toh(r.cpl.sqhd), 0xffff);
	for (int k = 0; k < 6; k++) {
		r = lt_cmd(iq, &flush, NULL, 0);
		assert_int_equal(r.status, 0);
		assert_int_equal(le16toh(r.cpl.sqhd), 0xffff);
	}
	/* Other CATTR bits leave flow control on. */
	iq = lt_qpair_new(&f.env, -1);
	r = lt_connect_raw_cattr(iq, 2, 3, 0, cntlid, NQN, LT_HOSTNQN, 0x01);
	assert_int_equal(r.status, 0);
	assert_int_not_equal(le16toh(r.cpl.sqhd), 0xffff);
	lt_env_fini(&f.env);
}

/* ---- Data helpers and accessors -------------------------------------------------------------- */

static void test_iov_helpers(void **state)
{
	struct nvmft_req req;
	uint8_t a[3], b[5], c[7], src[15], dst[15];
	const struct iovec *iov;
	uint64_t o, n;
	int cnt = -1;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.iov = req.iov_inline;
	req.iov[0] = (struct iovec){ a, sizeof(a) };
	req.iov[1] = (struct iovec){ b, sizeof(b) };
	req.iov[2] = (struct iovec){ c, sizeof(c) };
	req.iovcnt = 3;
	for (int i = 0; i < 15; i++)
		src[i] = (uint8_t)(i + 1);
	memset(a, 0, 3);
	memset(b, 0, 5);
	memset(c, 0, 7);
	assert_int_equal(nvmft_req_copy_to_iov(&req, 0, src, 15), 15);
	assert_int_equal(a[0], 1);
	assert_int_equal(b[0], 4);
	assert_int_equal(c[6], 15);
	/* Across entry boundaries from an offset, clipped at the end. */
	memset(dst, 0, sizeof(dst));
	assert_int_equal(nvmft_req_copy_from_iov(&req, 2, dst, 15), 13);
	assert_memory_equal(dst, src + 2, 13);
	assert_int_equal(nvmft_req_copy_from_iov(&req, 15, dst, 4), 0);
	assert_int_equal(nvmft_req_copy_to_iov(&req, 7, (const uint8_t[]){ 0xaa, 0xbb }, 2), 2);
	assert_int_equal(b[4], 0xaa);
	assert_int_equal(c[0], 0xbb);
	nvmft_req_zero_iov(&req, 4);
	assert_int_equal(a[2], 3);
	assert_int_equal(b[0], 4); /* byte 3 */
	assert_int_equal(b[1], 0); /* byte 4 on */
	assert_int_equal(b[4], 0);
	assert_int_equal(c[6], 0);
	assert_int_equal(a[0], 1);

	iov = nvmft_req_get_iovs(&req, &cnt);
	assert_ptr_equal(iov, req.iov);
	assert_int_equal(cnt, 3);
	req.iovcnt = 0;
	assert_null(nvmft_req_get_iovs(&req, &cnt));
	assert_int_equal(cnt, 0);
	assert_null(nvmft_req_get_iovs(&req, NULL));

	/* Ranges exist only for Deallocate. */
	req.io_type = NVMFT_IO_WRITE;
	req.nr_ranges = 2;
	assert_int_equal(nvmft_req_get_range_count(&req), 0);
	assert_int_equal(nvmft_req_get_range(&req, 0, &o, &n), -EINVAL);
	{
		struct nvme_dsm_range r[2] = { { .slba = htole64(10), .nlb = htole32(3) },
					       { .slba = htole64(99), .nlb = htole32(0) } };

		req.io_type = NVMFT_IO_DEALLOCATE;
		req.ranges = r;
		assert_int_equal(nvmft_req_get_range_count(&req), 2);
		assert_int_equal(nvmft_req_get_range(&req, 0, &o, &n), 0);
		assert_int_equal(o, 10);
		assert_int_equal(n, 3);
		assert_int_equal(nvmft_req_get_range(&req, 1, NULL, &n), 0);
		assert_int_equal(n, 0);
		assert_int_equal(nvmft_req_get_range(&req, 2, &o, &n), -EINVAL);
		req.ranges = NULL;
		assert_int_equal(nvmft_req_get_range(&req, 0, &o, &n), -EINVAL);
	}
	req.io_type = NVMFT_IO_READ;
	req.slba = 123;
	req.nlb = 4;
	req.io_flags = NVMFT_IO_F_FUA;
	assert_int_equal(nvmft_req_get_io_type(&req), NVMFT_IO_READ);
	assert_int_equal(nvmft_req_get_offset_blocks(&req), 123);
	assert_int_equal(nvmft_req_get_num_blocks(&req), 4);
	assert_int_equal(nvmft_req_get_io_flags(&req), NVMFT_IO_F_FUA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno_table),
		cmocka_unit_test(test_errno_reaches_host),
		cmocka_unit_test(test_buffer_fifo),
		cmocka_unit_test(test_qpair_buffer_share),
		cmocka_unit_test(test_fused_second_never_waits),
		cmocka_unit_test(test_buffer_waiter_cancelled),
		cmocka_unit_test(test_request_larger_than_pool),
		cmocka_unit_test(test_set_iovs),
		cmocka_unit_test(test_complete_remote),
		cmocka_unit_test(test_complete_twice_ignored),
		cmocka_unit_test(test_orphan_outlives_its_qpair),
		cmocka_unit_test(test_orphan_takes_no_further_step),
		cmocka_unit_test(test_fused_pair_not_orphaned),
		cmocka_unit_test(test_sqhd_wraps),
		cmocka_unit_test(test_connect_sqhd),
		cmocka_unit_test(test_sq_flow_control_disabled),
		cmocka_unit_test(test_iov_helpers),
	};

	return cmocka_run_group_tests_name("req", tests, NULL, NULL);
}
