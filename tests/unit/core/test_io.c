/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVM command set I/O (lib/core/io.c, io_range_lock.c).
 *
 * Most tests run commands end to end through the loop transport against the
 * scriptable test backend, whose capabilities decide which emulations run.
 * A few drive one request through hand-built core structures to reach what
 * the loop transport cannot produce (odd data layouts) and to look at the
 * decoded request.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backends/backend.h"
#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/io_range_lock.h"
#include "core/ns.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "core/transport.h"
#include "loop_transport.h"
#include "test_backend.h"
#include "test_util.h"

#define NQN "nqn.2024-01.io.nvmft.test:io"
#define BS 512u
#define BLOCKS 2048u
#define MAX_IO 16384u

#define ST(sc) NVMFT_STATUS(NVME_SCT_GENERIC, (sc))
#define ST_DNR(sc) NVMFT_STATUS_DNR(NVME_SCT_GENERIC, (sc))
#define ST_MEDIA(sc) NVMFT_STATUS(NVME_SCT_MEDIA, (sc))
#define ST_MEDIA_DNR(sc) NVMFT_STATUS_DNR(NVME_SCT_MEDIA, (sc))
#define COMPARE_FAILED ST_MEDIA_DNR(NVME_SC_COMPARE_FAILED)
#define CAP_FLUSH NVMFT_BACKEND_CAP_FLUSH

#define CDW12_FUA (1u << 30)
#define CDW12_DEAC (1u << 25)
#define DSM_AD (1u << 2)

/* ---- Loop-transport fixture ------------------------------------------------------ */

struct fx {
	struct lt_env env;
	struct tb *tb;
	struct nvmft_ns *ns;
	struct lt_qpair *aq;
	struct lt_qpair *iq;   /* on the admin queue's group's neighbour */
	struct lt_qpair *iq2;  /* with two groups: on the other group */
	uint16_t cntlid;
};

struct fx_opts {
	uint32_t caps;
	int nr_pgs;
	uint64_t buf_pool_bytes; /* 0 for the default */
	bool malloc_ns;          /* RAM backend instead of the test backend */
	uint32_t drain_timeout_ms; /* 0 for the default */
};

static struct fx *fx_new(const struct fx_opts *o)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct nvmft_backend *be;
	struct nvmft_transport_opts to;
	struct lt_env_opts eo = { 0 };

	assert_non_null(f);
	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &to, sizeof(to));
	to.max_io_size = MAX_IO;
	if (o->buf_pool_bytes)
		to.buf_pool_bytes = o->buf_pool_bytes;
	eo.nr_pgs = o->nr_pgs ? o->nr_pgs : 1;
	eo.tr_opts = &to;
	eo.drain_timeout_ms = o->drain_timeout_ms;
	assert_int_equal(lt_env_init(&f->env, &eo), 0);
	assert_non_null(lt_env_add_subsystem(&f->env, NQN, true));
	if (o->malloc_ns) {
		f->ns = lt_env_add_malloc_ns(&f->env, f->env.ss, 1, BLOCKS, BS);
	} else {
		assert_int_equal(tb_new("io-tb1", BLOCKS, BS, o->caps, TB_INLINE, &f->tb, &be), 0);
		f->ns = lt_env_add_ns(&f->env, f->env.ss, be, 1);
	}
	assert_non_null(f->ns);
	f->aq = lt_connect_admin(&f->env, NQN, LT_HOSTNQN, &f->cntlid);
	assert_non_null(f->aq);
	f->iq = lt_connect_io(&f->env, NQN, LT_HOSTNQN, f->cntlid, 1, 127);
	assert_non_null(f->iq);
	if (eo.nr_pgs > 1) {
		f->iq2 = lt_connect_io(&f->env, NQN, LT_HOSTNQN, f->cntlid, 2, 127);
		assert_non_null(f->iq2);
		assert_ptr_not_equal(lt_qpair_core(f->iq)->pg, lt_qpair_core(f->iq2)->pg);
	}
	return f;
}

static void fx_free(struct fx *f)
{
	lt_env_fini(&f->env);
	free(f);
}

static int fx_teardown(void **state)
{
	fx_free(*state);
	return 0;
}

/* One setup per fixture shape; the options are the macro's arguments. */
#define FX_SETUP(name, ...)                                   \
	static int name(void **state)                         \
	{                                                     \
		struct fx_opts o = { __VA_ARGS__ };           \
                                                              \
		*state = fx_new(&o);                          \
		return 0;                                     \
	}

FX_SETUP(setup_plain, .caps = 0)
FX_SETUP(setup_flush, .caps = NVMFT_BACKEND_CAP_FLUSH)
FX_SETUP(setup_full, .caps = NVMFT_BACKEND_CAP_FLUSH | NVMFT_BACKEND_CAP_FUA |
	 NVMFT_BACKEND_CAP_WRITE_ZEROES | NVMFT_BACKEND_CAP_DEALLOCATE | NVMFT_BACKEND_CAP_COMPARE |
	 NVMFT_BACKEND_CAP_DEALLOC_ZEROES)
FX_SETUP(setup_dealloc, .caps = NVMFT_BACKEND_CAP_DEALLOCATE | NVMFT_BACKEND_CAP_DEALLOC_ZEROES)
FX_SETUP(setup_two_groups, .caps = NVMFT_BACKEND_CAP_COMPARE | NVMFT_BACKEND_CAP_DEALLOCATE,
	 .nr_pgs = 2)
/* Fences give up after a millisecond. */
FX_SETUP(setup_two_groups_short_drain, .caps = NVMFT_BACKEND_CAP_COMPARE, .nr_pgs = 2,
	 .drain_timeout_ms = 1)
/* One max-sized transfer of pool memory: four 4 KiB chunks. */
FX_SETUP(setup_small_pool, .caps = NVMFT_BACKEND_CAP_COMPARE, .buf_pool_bytes = MAX_IO)

static struct nvmft_cmd io_cmd(uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb,
			       uint32_t cdw12)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = opc;
	c.nsid = htole32(nsid);
	c.cdw10 = htole32((uint32_t)slba);
	c.cdw11 = htole32((uint32_t)(slba >> 32));
	c.cdw12 = htole32((nlb - 1) | cdw12);
	return c;
}

static struct nvmft_cmd dsm_cmd(uint32_t nsid, uint32_t nr, uint32_t attr)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = nvme_cmd_dsm;
	c.nsid = htole32(nsid);
	c.cdw10 = htole32(nr - 1);
	c.cdw11 = htole32(attr);
	return c;
}

static struct nvmft_cmd flush_cmd(uint32_t nsid)
{
	struct nvmft_cmd c = io_cmd(nvme_cmd_flush, nsid, 0, 1, 0);

	c.cdw12 = 0;
	return c;
}

static void dsm_set(struct nvme_dsm_range *r, uint64_t slba, uint32_t nlb)
{
	r->cattr = 0;
	r->nlb = htole32(nlb);
	r->slba = htole64(slba);
}

static uint16_t run_on(struct lt_qpair *q, const struct nvmft_cmd *c, void *buf, uint32_t len)
{
	struct lt_cpl r = lt_cmd(q, c, buf, len);

	assert_true(r.done);
	return r.status;
}

static uint16_t run(struct fx *f, const struct nvmft_cmd *c, void *buf, uint32_t len)
{
	return run_on(f->iq, c, buf, len);
}

static uint16_t rw(struct fx *f, uint8_t opc, uint64_t slba, uint32_t nlb, uint32_t cdw12,
		   void *buf)
{
	struct nvmft_cmd c = io_cmd(opc, 1, slba, nlb, cdw12);

	return run(f, &c, buf, nlb * BS);
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Does the test backend hold @v in every byte of blocks [@lba, @lba + @n)? */
static bool blocks_are(struct fx *f, uint64_t lba, uint64_t n, uint8_t v)
{
	return all_bytes(tb_data(f->tb) + lba * BS, n * BS, v);
}

static void fill_media(struct fx *f)
{
	memset(tb_data(f->tb), 0xab, (size_t)BLOCKS * BS);
}

static uint16_t wz(struct fx *f, uint64_t slba, uint32_t nlb, uint32_t cdw12)
{
	struct nvmft_cmd c = io_cmd(nvme_cmd_write_zeroes, 1, slba, nlb, cdw12);

	return run(f, &c, NULL, 0);
}

/* Poll until @cond holds, at most a generous number of rounds. */
#define POLL_UNTIL(f, cond)                                              \
	do {                                                             \
		for (int i_ = 0; i_ < 100000 && !(cond); i_++)            \
			lt_env_poll(&(f)->env);                          \
		assert_true(cond);                                       \
	} while (0)

/* Attach @be as a namespace that only reads (what nvmft_ns_opts.read_only sets). */
static void fx_add_ro_ns(struct fx *f, struct nvmft_backend *be, uint32_t nsid)
{
	struct nvmft_ns *ns = lt_env_add_ns(&f->env, f->env.ss, be, nsid);

	assert_non_null(ns);
	ns->read_only = true;
}

/* ---- Read, Write, Flush ------------------------------------------------------------ */

static void test_read_write_roundtrip(void **state)
{
	struct fx *f = *state;
	uint8_t w[8 * BS], r[8 * BS];

	tu_fill_pattern(w, sizeof(w), 1);
	assert_int_equal(rw(f, nvme_cmd_write, 100, 8, 0, w), 0);
	assert_memory_equal(tb_data(f->tb) + 100 * BS, w, sizeof(w));
	memset(r, 0, sizeof(r));
	assert_int_equal(rw(f, nvme_cmd_read, 100, 8, 0, r), 0);
	assert_memory_equal(r, w, sizeof(r));
	/* Last block, and a transfer of exactly the limit. */
	assert_int_equal(rw(f, nvme_cmd_read, BLOCKS - 1, 1, 0, r), 0);
	{
		uint8_t *big = calloc(1, MAX_IO);

		assert_non_null(big);
		assert_int_equal(rw(f, nvme_cmd_read, 0, MAX_IO / BS, 0, big), 0);
		free(big);
	}
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 1);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_READ), 3);
	/* Limited Retry is accepted and means nothing here. */
	assert_int_equal(rw(f, nvme_cmd_read, 100, 8, 1u << 31, r), 0);
	/* The RAM backend serves reads from its own memory (zero copy). */
	fx_free(f);
	*state = f = fx_new(&(struct fx_opts){ .malloc_ns = true });
	assert_int_equal(rw(f, nvme_cmd_write, 7, 8, 0, w), 0);
	memset(r, 0, sizeof(r));
	assert_int_equal(rw(f, nvme_cmd_read, 7, 8, 0, r), 0);
	assert_memory_equal(r, w, sizeof(r));
	assert_int_equal(rw(f, nvme_cmd_read, 1000, 8, 0, r), 0);
	assert_true(all_bytes(r, sizeof(r), 0));
}

static void test_flush(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = flush_cmd(1);
	struct fx_opts o = { .caps = 0 };
	struct fx *nocache = fx_new(&o);
	uint8_t buf[BS];

	/* Nothing volatile: success without the backend. */
	assert_int_equal(run(nocache, &c, NULL, 0), 0);
	assert_int_equal(tb_count(nocache->tb, 0), 0);
	fx_free(nocache);
	assert_int_equal(run(f, &c, NULL, 0), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_FLUSH), 1);
	/* A flush carries no data. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(run(f, &c, buf, BS), ST_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(tb_count(f->tb, NVMFT_IO_FLUSH), 1);
	tb_fail_next(f->tb, NVMFT_IO_FLUSH, -EIO, 1);
	assert_int_equal(run(f, &c, NULL, 0), ST_MEDIA(NVME_SC_WRITE_FAULT));
}

static void test_flush_all_namespaces(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = flush_cmd(0xffffffffu);
	struct nvmft_backend *be2, *be3;
	struct tb *tb2, *tb3, *tbs[26];

	assert_int_equal(tb_new("io-tb2", BLOCKS, BS, CAP_FLUSH, TB_POLL, &tb2, &be2), 0);
	assert_int_equal(tb_new("io-tb3", BLOCKS, BS, 0, TB_INLINE, &tb3, &be3), 0);
	assert_non_null(lt_env_add_ns(&f->env, f->env.ss, be2, 2));
	assert_non_null(lt_env_add_ns(&f->env, f->env.ss, be3, 5));
	assert_int_equal(run(f, &c, NULL, 0), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_FLUSH), 1);
	assert_int_equal(tb_count(tb2, NVMFT_IO_FLUSH), 1);
	assert_int_equal(tb_count(tb3, NVMFT_IO_FLUSH), 0);
	/* An error ends the walk: later namespaces are not flushed. */
	tb_fail_next(f->tb, NVMFT_IO_FLUSH, -EIO, 1);
	assert_int_equal(run(f, &c, NULL, 0), ST_MEDIA(NVME_SC_WRITE_FAULT));
	assert_int_equal(tb_count(tb2, NVMFT_IO_FLUSH), 1);
	tb_fail_next(tb2, NVMFT_IO_FLUSH, -ENOSPC, 1);
	assert_int_equal(run(f, &c, NULL, 0), ST_DNR(NVME_SC_CAP_EXCEEDED));
	/* Drain accounting balanced: removal completes. */
	assert_int_equal(lt_env_remove_ns(&f->env, f->ns), 0);
	assert_int_equal(run(f, &c, NULL, 0), 0);
	assert_int_equal(tb_count(tb2, NVMFT_IO_FLUSH), 3);
	/* More namespaces than steps run inline: the walk goes through the poll loop. */
	for (uint32_t i = 0; i < 26; i++) {
		struct nvmft_backend *be;
		char name[32];

		snprintf(name, sizeof(name), "io-many-%u", i);
		assert_int_equal(tb_new(name, 8, BS, CAP_FLUSH, TB_INLINE, &tbs[i], &be), 0);
		assert_non_null(lt_env_add_ns(&f->env, f->env.ss, be, i + 6));
	}
	assert_int_equal(run(f, &c, NULL, 0), 0);
	for (int i = 0; i < 26; i++)
		assert_int_equal(tb_count(tbs[i], NVMFT_IO_FLUSH), 1);
	assert_int_equal(tb_count(tb2, NVMFT_IO_FLUSH), 4);
}

/* ---- Command checks --------------------------------------------------------------- */

static void test_invalid_opcode_and_nsid(void **state)
{
	struct fx *f = *state;
	/*
	 * Write Uncorrectable, Verify, reservations, Copy, zone commands,
	 * reserved codes.  (Codes with both transfer bits set never get here:
	 * the core turns bidirectional transfers away first.)
	 */
	static const uint8_t opcodes[] = { 0x04, 0x06, 0x0a, 0x0c, 0x0d, 0x0e, 0x11, 0x15,
					   0x19, 0x79, 0x7a, 0x7c, 0x7d, 0x80, 0xfc, 0xfe };

	static const uint32_t nsids[] = { 0, 2, 9, 0x12345, 0xfffffffeu, 0xffffffffu };
	static const uint8_t rwc[] = { nvme_cmd_read, nvme_cmd_write, nvme_cmd_compare };
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	struct nvmft_cmd c;
	struct tb *tb;
	uint8_t buf[BS];

	for (size_t i = 0; i < sizeof(opcodes); i++) {
		c = io_cmd(opcodes[i], 1, 0, 1, 0);
		assert_int_equal(run(f, &c, NULL, 0), ST_DNR(NVME_SC_INVALID_OPCODE));
	}
	memset(buf, 0, sizeof(buf));
	for (size_t i = 0; i < sizeof(nsids) / sizeof(nsids[0]); i++) {
		for (size_t j = 0; j < sizeof(rwc); j++) {
			c = io_cmd(rwc[j], nsids[i], 0, 1, 0);
			assert_int_equal(run(f, &c, buf, BS), ST_DNR(NVME_SC_INVALID_NS));
		}
		c = io_cmd(nvme_cmd_write_zeroes, nsids[i], 0, 1, 0);
		assert_int_equal(run(f, &c, NULL, 0), ST_DNR(NVME_SC_INVALID_NS));
		c = dsm_cmd(nsids[i], 1, 0);
		assert_int_equal(run(f, &c, buf, 16), ST_DNR(NVME_SC_INVALID_NS));
		c = flush_cmd(nsids[i]);
		if (nsids[i] != 0xffffffffu)
			assert_int_equal(run(f, &c, NULL, 0), ST_DNR(NVME_SC_INVALID_NS));
	}
	assert_int_equal(tb_count(f->tb, 0), 0);
	/* Only Flush may name every namespace. */
	c = io_cmd(nvme_cmd_read, 0xffffffffu, 0, 1, 0);
	assert_int_equal(run(f, &c, NULL, BS), ST_DNR(NVME_SC_INVALID_NS));
	/* A namespace that was there and went away. */
	assert_int_equal(tb_new("io-rm", BLOCKS, BS, 0, TB_INLINE, &tb, &be), 0);
	ns = lt_env_add_ns(&f->env, f->env.ss, be, 3);
	assert_non_null(ns);
	c = io_cmd(nvme_cmd_read, 3, 0, 1, 0);
	assert_int_equal(run(f, &c, buf, BS), 0);
	assert_int_equal(lt_env_remove_ns(&f->env, ns), 0);
	assert_int_equal(run(f, &c, buf, BS), ST_DNR(NVME_SC_INVALID_NS));
	assert_int_equal(tb_count(tb, NVMFT_IO_READ), 1);
}

static void test_lba_out_of_range(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint64_t slba;
		uint32_t nlb;
	} bad[] = {
		{ BLOCKS, 1 },
		{ BLOCKS - 1, 2 },
		{ BLOCKS - 8, 9 },
		{ UINT64_MAX, 1 },
		{ UINT64_MAX - 1, 4 }, /* slba + nlb wraps around */
		{ 1ull << 32, 1 },
	};
	uint8_t buf[16 * BS];

	memset(buf, 0, sizeof(buf));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nvmft_cmd c;

		assert_int_equal(rw(f, nvme_cmd_read, bad[i].slba, bad[i].nlb, 0, buf),
				 ST_DNR(NVME_SC_LBA_RANGE));
		assert_int_equal(rw(f, nvme_cmd_write, bad[i].slba, bad[i].nlb, 0, buf),
				 ST_DNR(NVME_SC_LBA_RANGE));
		assert_int_equal(rw(f, nvme_cmd_compare, bad[i].slba, bad[i].nlb, 0, buf),
				 ST_DNR(NVME_SC_LBA_RANGE));
		c = io_cmd(nvme_cmd_write_zeroes, 1, bad[i].slba, bad[i].nlb, 0);
		assert_int_equal(run(f, &c, NULL, 0), ST_DNR(NVME_SC_LBA_RANGE));
	}
	/* Write Zeroes has no transfer limit, but the namespace has an end. */
	{
		struct nvmft_cmd c = io_cmd(nvme_cmd_write_zeroes, 1, 0, 65536, 0);

		assert_int_equal(run(f, &c, NULL, 0), ST_DNR(NVME_SC_LBA_RANGE));
	}
	assert_int_equal(tb_count(f->tb, 0), 0);
	assert_int_equal(rw(f, nvme_cmd_write, BLOCKS - 16, 16, 0, buf), 0);
}

static void test_transfer_length(void **state)
{
	struct fx *f = *state;
	uint32_t nlb = MAX_IO / BS + 1;
	uint8_t *buf = calloc(nlb, BS);
	struct nvme_dsm_range r[2];
	struct nvmft_cmd c;

	assert_non_null(buf);
	assert_int_equal(rw(f, nvme_cmd_read, 0, nlb, 0, buf), ST_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(rw(f, nvme_cmd_write, 0, nlb, 0, buf), ST_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(rw(f, nvme_cmd_compare, 0, nlb, 0, buf), ST_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(tb_count(f->tb, 0), 0);
	assert_int_equal(rw(f, nvme_cmd_write, 0, nlb - 1, 0, buf), 0);
	/* The SGL must describe exactly the blocks (Dataset Management: the ranges). */
	c = io_cmd(nvme_cmd_read, 1, 0, 1, 0);
	assert_int_equal(run(f, &c, buf, 2 * BS), ST_DNR(NVME_SC_SGL_INVALID_DATA));
	assert_int_equal(run(f, &c, buf, BS / 2), ST_DNR(NVME_SC_SGL_INVALID_DATA));
	assert_int_equal(run(f, &c, NULL, 0), ST_DNR(NVME_SC_SGL_INVALID_DATA));
	c = io_cmd(nvme_cmd_write, 1, 0, 2, 0);
	assert_int_equal(run(f, &c, buf, BS), ST_DNR(NVME_SC_SGL_INVALID_DATA));
	assert_int_equal(run(f, &c, buf, 4 * BS), ST_DNR(NVME_SC_SGL_INVALID_DATA));
	c = io_cmd(nvme_cmd_compare, 1, 0, 2, 0);
	assert_int_equal(run(f, &c, buf, 3 * BS), ST_DNR(NVME_SC_SGL_INVALID_DATA));
	dsm_set(&r[0], 0, 1);
	dsm_set(&r[1], 1, 1);
	c = dsm_cmd(1, 2, DSM_AD);
	assert_int_equal(run(f, &c, r, 16), ST_DNR(NVME_SC_SGL_INVALID_DATA));
	/* A longer buffer is fine: Linux sends the range list in a whole 4 KiB page. */
	c = dsm_cmd(1, 1, DSM_AD);
	assert_int_equal(run(f, &c, r, 32), 0);
	assert_int_equal(tb_count(f->tb, 0), 1); /* this backend cannot deallocate: advisory */
	free(buf);
}

static void test_read_only_namespace(void **state)
{
	struct fx *f = *state;
	struct nvmft_backend *be;
	struct tb *tb;
	uint8_t buf[2 * BS];
	struct nvme_dsm_range r;
	struct nvmft_cmd c;

	/* A read-only namespace next to the writable one. */
	assert_int_equal(tb_new("io-ro", BLOCKS, BS, CAP_FLUSH | NVMFT_BACKEND_CAP_DEALLOCATE,
			       TB_INLINE, &tb, &be), 0);
	fx_add_ro_ns(f, be, 2);
	memset(buf, 0x5a, sizeof(buf));
	c = io_cmd(nvme_cmd_write, 2, 0, 1, 0);
	assert_int_equal(run(f, &c, buf, BS), ST_DNR(NVME_SC_NS_WRITE_PROTECTED));
	c = io_cmd(nvme_cmd_write_zeroes, 2, 0, 1, 0);
	assert_int_equal(run(f, &c, NULL, 0), ST_DNR(NVME_SC_NS_WRITE_PROTECTED));
	dsm_set(&r, 0, 1);
	c = dsm_cmd(2, 1, DSM_AD);
	assert_int_equal(run(f, &c, &r, 16), ST_DNR(NVME_SC_NS_WRITE_PROTECTED));
	assert_int_equal(tb_count(tb, 0), 0);
	/* What does not change data still works. */
	c = dsm_cmd(2, 1, 0x3);
	assert_int_equal(run(f, &c, &r, 16), 0);
	c = io_cmd(nvme_cmd_read, 2, 0, 2, 0);
	assert_int_equal(run(f, &c, buf, 2 * BS), 0);
	assert_true(all_bytes(buf, sizeof(buf), 0));
	c = io_cmd(nvme_cmd_compare, 2, 0, 2, 0);
	assert_int_equal(run(f, &c, buf, 2 * BS), 0);
	c = flush_cmd(2);
	assert_int_equal(run(f, &c, NULL, 0), 0);
	assert_int_equal(tb_count(tb, NVMFT_IO_FLUSH), 1);
	/* The write half of a fused pair too; the compare half goes with it. */
	{
		struct nvmft_cmd c1 = io_cmd(nvme_cmd_compare, 2, 0, 1, 0);
		struct nvmft_cmd c2 = io_cmd(nvme_cmd_write, 2, 0, 1, 0);
		int t1, t2;

		c1.flags = NVMFT_CMD_FUSE_FIRST;
		c2.flags = NVMFT_CMD_FUSE_SECOND;
		t1 = lt_submit(f->iq, &c1, buf, BS);
		t2 = lt_submit(f->iq, &c2, buf, BS);
		assert_int_equal(lt_wait(f->iq, t2).status, ST_DNR(NVME_SC_NS_WRITE_PROTECTED));
		assert_int_equal(lt_wait(f->iq, t1).status, ST(NVME_SC_FUSED_FAIL));
	}
	assert_int_equal(tb_count(tb, NVMFT_IO_WRITE), 0);
	assert_int_equal(tb_count(tb, NVMFT_IO_DEALLOCATE), 0);
}

static void test_prinfo_and_reserved_bits(void **state)
{
	struct fx *f = *state;
	static const uint32_t rw_bad[] = { 1u << 26, 1u << 27, 1u << 28, 1u << 29, 0xfu << 26,
					   1u << 16, 1u << 19, 1u << 20, 1u << 23, 1u << 24,
					   1u << 25 };
	static const uint32_t wz_bad[] = { 1u << 26, 1u << 27, 1u << 28, 1u << 29,
					   1u << 16, 1u << 20, 1u << 24 };
	static const uint8_t opcodes[] = { nvme_cmd_read, nvme_cmd_write, nvme_cmd_compare };
	uint8_t buf[BS];
	struct nvmft_cmd c;

	memset(buf, 0, sizeof(buf));
	for (size_t j = 0; j < sizeof(opcodes); j++)
		for (size_t i = 0; i < sizeof(rw_bad) / sizeof(rw_bad[0]); i++)
			assert_int_equal(rw(f, opcodes[j], 0, 1, rw_bad[i], buf),
					 ST_DNR(NVME_SC_INVALID_FIELD));
	for (size_t i = 0; i < sizeof(wz_bad) / sizeof(wz_bad[0]); i++) {
		c = io_cmd(nvme_cmd_write_zeroes, 1, 0, 1, wz_bad[i]);
		assert_int_equal(run(f, &c, NULL, 0), ST_DNR(NVME_SC_INVALID_FIELD));
	}
	/* Dataset Management: NR is 8 bits, three attribute bits. */
	c = dsm_cmd(1, 1, 0);
	c.cdw10 = htole32(1u << 8);
	assert_int_equal(run(f, &c, buf, 16), ST_DNR(NVME_SC_INVALID_FIELD));
	c = dsm_cmd(1, 1, 1u << 3);
	assert_int_equal(run(f, &c, buf, 16), ST_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(tb_count(f->tb, 0), 0);
	/* DEAC is not reserved for Write Zeroes. */
	assert_int_equal(wz(f, 0, 1, CDW12_DEAC), 0);
}

/* ---- FUA --------------------------------------------------------------------------- */

/* FUA passes through, is emulated with a flush, or needs nothing (no cache). */
static void test_fua(void **state)
{
	static const uint32_t caps[] = { NVMFT_BACKEND_CAP_FLUSH | NVMFT_BACKEND_CAP_FUA,
					 NVMFT_BACKEND_CAP_FLUSH, 0 };
	uint8_t buf[BS];

	(void)state;
	memset(buf, 1, sizeof(buf));
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		struct fx_opts o = { .caps = caps[i] };
		struct fx *f = fx_new(&o);
		bool native = caps[i] & NVMFT_BACKEND_CAP_FUA, cache = caps[i] & CAP_FLUSH;

		assert_int_equal(rw(f, nvme_cmd_write, 3, 1, CDW12_FUA, buf), 0);
		assert_int_equal(tb_last_flags(f->tb, NVMFT_IO_WRITE), native ? NVMFT_IO_F_FUA : 0);
		assert_int_equal(tb_count(f->tb, NVMFT_IO_FLUSH), cache && !native ? 1 : 0);
		assert_int_equal(rw(f, nvme_cmd_write, 3, 1, 0, buf), 0);
		assert_int_equal(tb_last_flags(f->tb, NVMFT_IO_WRITE), 0);
		assert_int_equal(tb_count(f->tb, NVMFT_IO_FLUSH), cache && !native ? 1 : 0);
		/* FUA on a read asks nothing of the backend. */
		assert_int_equal(rw(f, nvme_cmd_read, 3, 1, CDW12_FUA, buf), 0);
		assert_int_equal(tb_last_flags(f->tb, NVMFT_IO_READ), 0);
		if (cache && !native) {
			/* The flush failing fails the write; a failed write is not flushed. */
			tb_fail_next(f->tb, NVMFT_IO_FLUSH, -EIO, 1);
			assert_int_equal(rw(f, nvme_cmd_write, 3, 1, CDW12_FUA, buf),
					 ST_MEDIA(NVME_SC_WRITE_FAULT));
			tb_fail_next(f->tb, NVMFT_IO_WRITE, -EIO, 1);
			assert_int_equal(rw(f, nvme_cmd_write, 3, 1, CDW12_FUA, buf),
					 ST_MEDIA(NVME_SC_WRITE_FAULT));
			assert_int_equal(tb_count(f->tb, NVMFT_IO_FLUSH), 2);
		}
		fx_free(f);
	}
}

/* ---- Write Zeroes ------------------------------------------------------------------ */

static void test_write_zeroes_native(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = io_cmd(nvme_cmd_write_zeroes, 1, 20, 16, 0);
	uint8_t buf[BS];

	fill_media(f);
	assert_int_equal(run(f, &c, NULL, 0), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE_ZEROES), 1);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 0);
	assert_true(blocks_are(f, 20, 16, 0) && blocks_are(f, 19, 1, 0xab));
	assert_true(blocks_are(f, 36, 1, 0xab));
	assert_int_equal(rw(f, nvme_cmd_read, 20, 1, 0, buf), 0);
	assert_true(all_bytes(buf, BS, 0));
	/* FUA goes along. */
	assert_int_equal(wz(f, 20, 1, CDW12_FUA), 0);
	assert_int_equal(tb_last_flags(f->tb, NVMFT_IO_WRITE_ZEROES), NVMFT_IO_F_FUA);
	/* DEAC with a backend that can deallocate to zeroes: one deallocate range. */
	fill_media(f);
	assert_int_equal(wz(f, 40, 8, CDW12_DEAC), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_DEALLOCATE), 1);
	assert_true(blocks_are(f, 40, 8, 0) && blocks_are(f, 48, 1, 0xab));
	/* No data may come with it. */
	c = io_cmd(nvme_cmd_write_zeroes, 1, 20, 1, 0);
	assert_int_equal(run(f, &c, buf, BS), ST_DNR(NVME_SC_INVALID_FIELD));
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE_ZEROES), 2);
	tb_fail_next(f->tb, NVMFT_IO_WRITE_ZEROES, -ENOSPC, 1);
	assert_int_equal(run(f, &c, NULL, 0), ST_DNR(NVME_SC_CAP_EXCEEDED));
}

static void test_write_zeroes_emulated(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = io_cmd(nvme_cmd_write_zeroes, 1, 10, 3, 0);
	uint32_t chunk = MAX_IO / BS;
	uint8_t buf[3 * BS];

	fill_media(f);
	assert_int_equal(run(f, &c, NULL, 0), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 1);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE_ZEROES), 0);
	assert_true(blocks_are(f, 10, 3, 0) && blocks_are(f, 9, 1, 0xab));
	assert_true(blocks_are(f, 13, 1, 0xab));
	assert_int_equal(rw(f, nvme_cmd_read, 10, 3, 0, buf), 0);
	assert_true(all_bytes(buf, sizeof(buf), 0));
	/* The whole namespace: chunks of the transfer limit, past the inline step bound. */
	fill_media(f);
	assert_int_equal(wz(f, 0, BLOCKS, 0), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 1 + BLOCKS / chunk);
	assert_true(blocks_are(f, 0, BLOCKS, 0));
	/* An odd tail. */
	fill_media(f);
	assert_int_equal(wz(f, 5, chunk + 7, 0), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 1 + BLOCKS / chunk + 2);
	assert_true(blocks_are(f, 5, chunk + 7, 0) && blocks_are(f, 5 + chunk + 7, 1, 0xab));
	assert_true(blocks_are(f, 4, 1, 0xab));
	/* A chunk failing fails the command. */
	tb_fail_next(f->tb, NVMFT_IO_WRITE, -EIO, 1);
	assert_int_equal(wz(f, 0, 3 * chunk, 0), ST_MEDIA(NVME_SC_WRITE_FAULT));
	/* DEAC without a backend that deallocates to zeroes: still written. */
	assert_int_equal(wz(f, 10, 1, CDW12_DEAC), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_DEALLOCATE), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_FLUSH), 0);
	/* FUA: the chunks, then one flush (the backend has a cache but no FUA). */
	fill_media(f);
	assert_int_equal(wz(f, 10, 40, CDW12_FUA), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_FLUSH), 1);
	assert_true(blocks_are(f, 10, 40, 0));
}

static void test_write_zeroes_deallocate(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = io_cmd(nvme_cmd_write_zeroes, 1, 100, 30, CDW12_DEAC);

	fill_media(f);
	assert_int_equal(run(f, &c, NULL, 0), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_DEALLOCATE), 1);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 0);
	assert_true(blocks_are(f, 100, 30, 0) && blocks_are(f, 130, 1, 0xab));
	/* Without DEAC the zeroes are written. */
	assert_int_equal(wz(f, 200, 2, 0), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_DEALLOCATE), 1);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 1);
	assert_true(blocks_are(f, 200, 2, 0));
}

/* ---- Dataset Management -------------------------------------------------------------- */

static void test_dsm(void **state)
{
	struct fx *f = *state;
	struct nvme_dsm_range r[256];
	struct nvmft_cmd c = dsm_cmd(1, 3, DSM_AD);
	struct fx_opts o = { .caps = 0 };
	struct fx *plain;

	fill_media(f);
	dsm_set(&r[0], 10, 4);
	dsm_set(&r[1], 100, 8);
	dsm_set(&r[2], BLOCKS - 1, 1);
	assert_int_equal(run(f, &c, r, 3 * 16), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_DEALLOCATE), 1);
	assert_true(blocks_are(f, 10, 4, 0) && blocks_are(f, 100, 8, 0));
	assert_true(blocks_are(f, BLOCKS - 1, 1, 0) && blocks_are(f, 14, 86, 0xab));
	/* Hints only: nothing for the backend to do. */
	fill_media(f);
	c = dsm_cmd(1, 3, 0x3);
	assert_int_equal(run(f, &c, r, 3 * 16), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_DEALLOCATE), 1);
	assert_true(blocks_are(f, 0, BLOCKS, 0xab));
	/* Backend failure. */
	tb_fail_next(f->tb, NVMFT_IO_DEALLOCATE, -EIO, 1);
	c = dsm_cmd(1, 3, DSM_AD);
	assert_int_equal(run(f, &c, r, 3 * 16), ST_MEDIA(NVME_SC_WRITE_FAULT));
	/* The most ranges a command may carry. */
	for (uint32_t i = 0; i < 256; i++)
		dsm_set(&r[i], i * 8, 2);
	c = dsm_cmd(1, 256, DSM_AD);
	assert_int_equal(run(f, &c, r, sizeof(r)), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_DEALLOCATE), 3);
	for (uint32_t i = 0; i < 256; i++)
		assert_true(blocks_are(f, i * 8, 2, 0) && blocks_are(f, i * 8 + 2, 6, 0xab));
	/* One bad range fails the command before anything is deallocated. */
	fill_media(f);
	dsm_set(&r[0], 0, 4);
	c = dsm_cmd(1, 2, DSM_AD);
	dsm_set(&r[1], BLOCKS - 8, 9);
	assert_int_equal(run(f, &c, r, 2 * 16), ST_DNR(NVME_SC_LBA_RANGE));
	dsm_set(&r[1], UINT64_MAX, 1);
	assert_int_equal(run(f, &c, r, 2 * 16), ST_DNR(NVME_SC_LBA_RANGE));
	dsm_set(&r[1], UINT64_MAX - 1, 0xffffffffu);
	assert_int_equal(run(f, &c, r, 2 * 16), ST_DNR(NVME_SC_LBA_RANGE));
	/* Checked even when only hints are given. */
	c = dsm_cmd(1, 2, 0x1);
	assert_int_equal(run(f, &c, r, 2 * 16), ST_DNR(NVME_SC_LBA_RANGE));
	assert_int_equal(tb_count(f->tb, NVMFT_IO_DEALLOCATE), 3);
	assert_true(blocks_are(f, 0, 4, 0xab));
	/* A backend that cannot deallocate: advisory, so success without it. */
	plain = fx_new(&o);
	fill_media(plain);
	c = dsm_cmd(1, 1, DSM_AD);
	assert_int_equal(run(plain, &c, r, 16), 0);
	assert_int_equal(tb_count(plain->tb, 0), 0);
	assert_true(blocks_are(plain, 0, 4, 0xab));
	fx_free(plain);
}

/* ---- Compare ------------------------------------------------------------------------ */

static void compare_cases(struct fx *f)
{
	uint8_t w[4 * BS], c[4 * BS];

	tu_fill_pattern(w, sizeof(w), 3);
	assert_int_equal(rw(f, nvme_cmd_write, 60, 4, 0, w), 0);
	memcpy(c, w, sizeof(c));
	assert_int_equal(rw(f, nvme_cmd_compare, 60, 4, 0, c), 0);
	/* One byte differs in the last block. */
	c[sizeof(c) - 1] ^= 1;
	assert_int_equal(rw(f, nvme_cmd_compare, 60, 4, 0, c), COMPARE_FAILED);
	/* The first byte. */
	memcpy(c, w, sizeof(c));
	c[0] ^= 0x80;
	assert_int_equal(rw(f, nvme_cmd_compare, 60, 4, 0, c), COMPARE_FAILED);
	/* Compare never changes the media. */
	assert_memory_equal(tb_data(f->tb) + 60 * BS, w, sizeof(w));
}

static void test_compare(void **state)
{
	struct fx *f = *state;
	struct fx_opts o = { .caps = NVMFT_BACKEND_CAP_COMPARE };
	struct fx *native = fx_new(&o);
	uint8_t c[BS];

	compare_cases(native);
	assert_int_equal(tb_count(native->tb, NVMFT_IO_COMPARE), 3);
	assert_int_equal(tb_count(native->tb, NVMFT_IO_READ), 0);
	fx_free(native);
	/* Emulated: read into a temporary buffer, compared here. */
	compare_cases(f);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_COMPARE), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_READ), 3);
	memset(c, 0, sizeof(c));
	tb_fail_next(f->tb, NVMFT_IO_READ, -EIO, 1);
	assert_int_equal(rw(f, nvme_cmd_compare, 0, 1, 0, c), ST_MEDIA(NVME_SC_READ_ERROR));
	/* The host's data is back in place after the read into the temporary buffer. */
	assert_int_equal(rw(f, nvme_cmd_compare, 0, 1, 0, c), 0);
}

/* ---- Backend errors ---------------------------------------------------------------- */

static void test_backend_errors(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint8_t opc;
		enum nvmft_io_type type;
		int err;
		uint16_t status;
	} cases[] = {
		{ nvme_cmd_read, NVMFT_IO_READ, -EIO, ST_MEDIA(NVME_SC_READ_ERROR) },
		{ nvme_cmd_write, NVMFT_IO_WRITE, -EIO, ST_MEDIA(NVME_SC_WRITE_FAULT) },
		{ nvme_cmd_write, NVMFT_IO_WRITE, -ENOSPC, ST_DNR(NVME_SC_CAP_EXCEEDED) },
		{ nvme_cmd_write, NVMFT_IO_WRITE, -EROFS, ST_DNR(NVME_SC_NS_WRITE_PROTECTED) },
		{ nvme_cmd_read, NVMFT_IO_READ, -EAGAIN, ST(NVME_SC_NS_NOT_READY) },
		{ nvme_cmd_write, NVMFT_IO_WRITE, -EBUSY, ST(NVME_SC_NS_NOT_READY) },
		{ nvme_cmd_read, NVMFT_IO_READ, -ENODEV, ST_DNR(NVME_SC_NS_NOT_READY) },
		{ nvme_cmd_read, NVMFT_IO_READ, -EINVAL, ST(NVME_SC_INTERNAL) },
		{ nvme_cmd_compare, NVMFT_IO_COMPARE, -EILSEQ, COMPARE_FAILED },
		{ nvme_cmd_compare, NVMFT_IO_COMPARE, -EIO, ST_MEDIA(NVME_SC_READ_ERROR) },
	};
	uint8_t buf[2 * BS];

	memset(buf, 0, sizeof(buf));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tb_fail_next(f->tb, cases[i].type, cases[i].err, 1);
		assert_int_equal(rw(f, cases[i].opc, 8, 2, 0, buf), cases[i].status);
		/* One failure only: the same command works again. */
		assert_int_equal(rw(f, cases[i].opc, 8, 2, 0, buf), 0);
	}
}

/* ---- Fused Compare and Write ---------------------------------------------------------- */

static struct nvmft_cmd fused(uint8_t opc, uint8_t fuse, uint64_t slba, uint32_t nlb)
{
	struct nvmft_cmd c = io_cmd(opc, 1, slba, nlb, 0);

	c.flags = fuse;
	return c;
}

static int sub(struct lt_qpair *q, const struct nvmft_cmd *c, void *buf, uint32_t len)
{
	int t = lt_submit(q, c, buf, len);

	assert_true(t >= 0);
	return t;
}

static uint16_t wst(struct lt_qpair *q, int tag)
{
	struct lt_cpl r = lt_wait(q, tag);

	assert_true(r.done);
	return r.status;
}

/* Queue a Compare (@cmp) and Write (@w) pair; its tags go to @t. */
static void pair_submit(struct lt_qpair *q, uint64_t slba, uint32_t nlb, void *cmp, void *w,
			int t[2])
{
	struct nvmft_cmd c1 = fused(nvme_cmd_compare, NVMFT_CMD_FUSE_FIRST, slba, nlb);
	struct nvmft_cmd c2 = fused(nvme_cmd_write, NVMFT_CMD_FUSE_SECOND, slba, nlb);

	t[0] = sub(q, &c1, cmp, nlb * BS);
	t[1] = sub(q, &c2, w, nlb * BS);
}

static void pair_expect(struct lt_qpair *q, const int t[2], uint16_t first, uint16_t second)
{
	assert_int_equal(wst(q, t[1]), second);
	assert_int_equal(wst(q, t[0]), first);
}

static void pair_run(struct lt_qpair *q, uint64_t slba, uint32_t nlb, void *cmp, void *w,
		     uint16_t first, uint16_t second)
{
	int t[2];

	pair_submit(q, slba, nlb, cmp, w, t);
	pair_expect(q, t, first, second);
}

static void fused_cases(struct fx *f)
{
	uint8_t a[4 * BS], b[4 * BS], x[4 * BS];

	tu_fill_pattern(a, sizeof(a), 10);
	tu_fill_pattern(b, sizeof(b), 11);
	tu_fill_pattern(x, sizeof(x), 12);
	assert_int_equal(rw(f, nvme_cmd_write, 50, 4, 0, a), 0);
	pair_run(f->iq, 50, 4, a, b, 0, 0);
	assert_memory_equal(tb_data(f->tb) + 50 * BS, b, sizeof(b));
	/* The media now holds b: comparing with a fails and nothing is written. */
	pair_run(f->iq, 50, 4, a, x, ST_MEDIA_DNR(NVME_SC_COMPARE_FAILED), ST(NVME_SC_FUSED_FAIL));
	assert_memory_equal(tb_data(f->tb) + 50 * BS, b, sizeof(b));
	/* The write half failing. */
	tb_fail_next(f->tb, NVMFT_IO_WRITE, -EIO, 1);
	pair_run(f->iq, 50, 4, b, x, 0, ST_MEDIA(NVME_SC_WRITE_FAULT));
	/* Nothing left locked: writes are back on the fast path. */
	assert_int_equal(atomic_load(&f->ns->io_locks), 0);
}

static void test_fused_pair(void **state)
{
	struct fx *f = *state;
	struct fx_opts o = { .caps = NVMFT_BACKEND_CAP_COMPARE };
	struct fx *native = fx_new(&o);

	fused_cases(native);
	assert_int_equal(tb_count(native->tb, NVMFT_IO_COMPARE), 3);
	assert_int_equal(tb_count(native->tb, NVMFT_IO_READ), 0);
	fx_free(native);
	/* The compare half emulated. */
	fused_cases(f);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_COMPARE), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_READ), 3);
}

static void test_fused_missing_second(void **state)
{
	struct fx *f = *state;
	uint8_t a[BS], r[BS], w[BS];
	struct nvmft_cmd c1 = fused(nvme_cmd_compare, NVMFT_CMD_FUSE_FIRST, 5, 1);
	struct nvmft_cmd rd = io_cmd(nvme_cmd_read, 1, 5, 1, 0);
	int t1, t2, t[2];

	memset(a, 0, sizeof(a));
	memset(w, 7, sizeof(w));
	/* The first runs and waits; the next command is no second: the first is answered then. */
	t1 = sub(f->iq, &c1, a, BS);
	lt_env_settle(&f->env);
	assert_false(lt_done(f->iq, t1));
	t2 = sub(f->iq, &rd, r, BS);
	assert_int_equal(wst(f->iq, t2), 0);
	assert_int_equal(wst(f->iq, t1), ST(NVME_SC_FUSED_MISSING));
	/* A second first also ends the first, then pairs with its own second. */
	t1 = sub(f->iq, &c1, a, BS);
	pair_submit(f->iq, 5, 1, a, w, t);
	assert_int_equal(wst(f->iq, t1), ST(NVME_SC_FUSED_MISSING));
	pair_expect(f->iq, t, 0, 0);
	assert_true(blocks_are(f, 5, 1, 7));
	assert_int_equal(tb_count(f->tb, NVMFT_IO_COMPARE), 1);
	/*
	 * A next command refused before the I/O parser sees it (FFh would move
	 * data both ways) is no second either (found by the io fuzzer: the
	 * first waited forever).
	 */
	t1 = sub(f->iq, &c1, a, BS);
	lt_env_settle(&f->env);
	assert_false(lt_done(f->iq, t1));
	rd.opcode = 0xff;
	t2 = sub(f->iq, &rd, NULL, 0);
	assert_int_equal(wst(f->iq, t2), ST_DNR(NVME_SC_INVALID_OPCODE));
	assert_int_equal(wst(f->iq, t1), ST(NVME_SC_FUSED_MISSING));
}

static void test_fused_mismatched_second(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint8_t opc;
		uint32_t nsid;
		uint64_t slba;
		uint32_t nlb;
	} bad[] = {
		{ nvme_cmd_write, 1, 6, 2 },   /* other LBA */
		{ nvme_cmd_write, 1, 5, 1 },   /* other length */
		{ nvme_cmd_write, 2, 5, 2 },   /* other namespace */
		{ nvme_cmd_read, 1, 5, 2 },    /* not a write */
		{ nvme_cmd_compare, 1, 5, 2 },
	};
	struct nvmft_cmd c1 = fused(nvme_cmd_compare, NVMFT_CMD_FUSE_FIRST, 5, 2);
	struct nvmft_cmd c2 = fused(nvme_cmd_write, NVMFT_CMD_FUSE_SECOND, 5, 2);
	uint8_t a[2 * BS], w[2 * BS];
	int t[2];

	memset(a, 0, sizeof(a));
	memset(w, 9, sizeof(w));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nvmft_cmd m = io_cmd(bad[i].opc, bad[i].nsid, bad[i].slba, bad[i].nlb, 0);

		m.flags = NVMFT_CMD_FUSE_SECOND;
		t[0] = sub(f->iq, &c1, a, 2 * BS);
		t[1] = sub(f->iq, &m, w, bad[i].nlb * BS);
		pair_expect(f->iq, t, ST(NVME_SC_FUSED_MISSING), ST_DNR(NVME_SC_INVALID_FIELD));
	}
	/* A matching second that is itself invalid fails, and takes the first with it. */
	t[0] = sub(f->iq, &c1, a, 2 * BS);
	t[1] = sub(f->iq, &c2, w, BS);
	pair_expect(f->iq, t, ST(NVME_SC_FUSED_FAIL), ST_DNR(NVME_SC_SGL_INVALID_DATA));
	assert_int_equal(tb_count(f->tb, 0), 0);
}

static void test_fused_bad_fuse_fields(void **state)
{
	struct fx *f = *state;
	uint8_t buf[BS];
	struct nvmft_cmd c;

	memset(buf, 0, sizeof(buf));
	/* A second without a first. */
	c = fused(nvme_cmd_write, NVMFT_CMD_FUSE_SECOND, 0, 1);
	assert_int_equal(run(f, &c, buf, BS), ST(NVME_SC_FUSED_MISSING));
	/* FUSE 11b is reserved. */
	c = fused(nvme_cmd_read, 3, 0, 1);
	assert_int_equal(run(f, &c, buf, BS), ST_DNR(NVME_SC_INVALID_FIELD));
	/* Compare and Write is the only fused operation. */
	c = fused(nvme_cmd_write, NVMFT_CMD_FUSE_FIRST, 0, 1);
	assert_int_equal(run(f, &c, buf, BS), ST_DNR(NVME_SC_INVALID_FIELD));
	c = fused(nvme_cmd_read, NVMFT_CMD_FUSE_FIRST, 0, 1);
	assert_int_equal(run(f, &c, buf, BS), ST_DNR(NVME_SC_INVALID_FIELD));
	/* A first that is itself invalid just fails; nothing waits for a second. */
	c = fused(nvme_cmd_compare, NVMFT_CMD_FUSE_FIRST, BLOCKS, 1);
	assert_int_equal(run(f, &c, buf, BS), ST_DNR(NVME_SC_LBA_RANGE));
	assert_null(lt_qpair_core(f->iq)->io_fused_first);
	assert_int_equal(rw(f, nvme_cmd_read, 0, 1, 0, buf), 0);
}

/*
 * The pair holds its range from before the compare until after the write:
 * an overlapping write from a queue on another poll group waits, a
 * disjoint one and reads do not.
 */
static void test_fused_blocks_overlapping_write(void **state)
{
	struct fx *f = *state;
	uint8_t a[4 * BS], b[4 * BS], c[4 * BS], d[BS], r[BS];
	struct nvmft_cmd wc = io_cmd(nvme_cmd_write, 1, 52, 4, 0);
	struct nvmft_cmd wd = io_cmd(nvme_cmd_write, 1, 200, 1, 0);
	struct nvmft_cmd rd = io_cmd(nvme_cmd_read, 1, 50, 1, 0);
	int t[2], t3, t4, t5;

	tu_fill_pattern(a, sizeof(a), 20);
	tu_fill_pattern(b, sizeof(b), 21);
	tu_fill_pattern(c, sizeof(c), 22);
	memset(d, 0xdd, sizeof(d));
	assert_int_equal(rw(f, nvme_cmd_write, 50, 4, 0, a), 0);
	tb_hold(f->tb, true);
	pair_submit(f->iq, 50, 4, a, b, t);
	POLL_UNTIL(f, tb_held(f->tb) == 1);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_COMPARE), 1);
	assert_int_equal(atomic_load(&f->ns->io_locks), 1);
	t3 = sub(f->iq2, &wc, c, sizeof(c));
	t4 = sub(f->iq2, &wd, d, sizeof(d));
	t5 = sub(f->iq2, &rd, r, BS);
	lt_env_settle(&f->env);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 2);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_READ), 1);
	assert_int_equal(tb_held(f->tb), 3);
	/* Compare done: the pair's write goes, the other still waits. */
	tb_release(f->tb);
	lt_env_settle(&f->env);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 3);
	assert_memory_equal(tb_data(f->tb) + 50 * BS, b, sizeof(b));
	assert_false(lt_done(f->iq2, t3));
	/* Pair done: the range is free and the waiting write lands last. */
	tb_release(f->tb);
	lt_env_settle(&f->env);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 4);
	tb_hold(f->tb, false);
	tb_release(f->tb);
	pair_expect(f->iq, t, 0, 0);
	assert_int_equal(wst(f->iq2, t3), 0);
	assert_int_equal(wst(f->iq2, t4), 0);
	assert_int_equal(wst(f->iq2, t5), 0);
	assert_memory_equal(tb_data(f->tb) + 50 * BS, b, 2 * BS);
	assert_memory_equal(tb_data(f->tb) + 52 * BS, c, sizeof(c));
	assert_int_equal(atomic_load(&f->ns->io_locks), 0);
}

/* A write already in the backend when the pair starts is waited for before the compare. */
static void test_fused_waits_for_inflight_write(void **state)
{
	struct fx *f = *state;
	uint8_t a[4 * BS], b[4 * BS], c[4 * BS], expect[4 * BS];
	struct nvmft_cmd wc = io_cmd(nvme_cmd_write, 1, 52, 4, 0);
	int t[2], t3;

	tu_fill_pattern(a, sizeof(a), 30);
	tu_fill_pattern(b, sizeof(b), 31);
	tu_fill_pattern(c, sizeof(c), 32);
	assert_int_equal(rw(f, nvme_cmd_write, 50, 4, 0, a), 0);
	tb_hold(f->tb, true);
	t3 = sub(f->iq2, &wc, c, sizeof(c));
	POLL_UNTIL(f, tb_held(f->tb) == 1);
	/* What the media holds once that write is done. */
	memcpy(expect, a, 2 * BS);
	memcpy(expect + 2 * BS, c, 2 * BS);
	pair_submit(f->iq, 50, 4, expect, b, t);
	lt_env_settle(&f->env);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_COMPARE), 0);
	tb_release(f->tb);
	POLL_UNTIL(f, tb_count(f->tb, NVMFT_IO_COMPARE) == 1);
	tb_hold(f->tb, false);
	tb_release(f->tb);
	assert_int_equal(wst(f->iq2, t3), 0);
	pair_expect(f->iq, t, 0, 0);
	assert_memory_equal(tb_data(f->tb) + 50 * BS, b, sizeof(b));
	assert_memory_equal(tb_data(f->tb) + 54 * BS, c + 2 * BS, 2 * BS);
}

/* Two overlapping pairs from two groups run one after the other, in arrival order. */
static void test_fused_overlapping_pairs(void **state)
{
	struct fx *f = *state;
	uint8_t a[2 * BS], b[2 * BS], c[2 * BS];
	int t1[2], t2[2];

	tu_fill_pattern(a, sizeof(a), 40);
	tu_fill_pattern(b, sizeof(b), 41);
	tu_fill_pattern(c, sizeof(c), 42);
	assert_int_equal(rw(f, nvme_cmd_write, 10, 2, 0, a), 0);
	tb_hold(f->tb, true);
	/* Both expect a: only the first to run can succeed. */
	pair_submit(f->iq, 10, 2, a, b, t1);
	POLL_UNTIL(f, tb_held(f->tb) == 1);
	pair_submit(f->iq2, 10, 2, a, c, t2);
	lt_env_settle(&f->env);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_COMPARE), 1);
	tb_hold(f->tb, false);
	tb_release(f->tb);
	pair_expect(f->iq, t1, 0, 0);
	pair_expect(f->iq2, t2, ST_MEDIA_DNR(NVME_SC_COMPARE_FAILED), ST(NVME_SC_FUSED_FAIL));
	assert_memory_equal(tb_data(f->tb) + 10 * BS, b, sizeof(b));
	assert_int_equal(tb_count(f->tb, NVMFT_IO_COMPARE), 2);
	assert_int_equal(atomic_load(&f->ns->io_locks), 0);
}

/* Write Zeroes and Deallocate change data too: they wait like writes. */
static void test_fused_blocks_zeroes_and_deallocate(void **state)
{
	struct fx *f = *state;
	uint8_t a[4 * BS], b[4 * BS];
	struct nvme_dsm_range r[2];
	struct nvmft_cmd wz = io_cmd(nvme_cmd_write_zeroes, 1, 53, 2, 0);
	struct nvmft_cmd dsm = dsm_cmd(1, 2, DSM_AD);
	int t[2], t3, t4;

	tu_fill_pattern(a, sizeof(a), 50);
	tu_fill_pattern(b, sizeof(b), 51);
	assert_int_equal(rw(f, nvme_cmd_write, 50, 4, 0, a), 0);
	dsm_set(&r[0], 300, 1);
	dsm_set(&r[1], 51, 1);
	tb_hold(f->tb, true);
	pair_submit(f->iq, 50, 4, a, b, t);
	POLL_UNTIL(f, tb_held(f->tb) == 1);
	t3 = sub(f->iq2, &wz, NULL, 0);
	t4 = sub(f->iq2, &dsm, r, sizeof(r));
	lt_env_settle(&f->env);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 1);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_DEALLOCATE), 0);
	tb_release(f->tb);
	lt_env_settle(&f->env);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 2);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_DEALLOCATE), 0);
	tb_hold(f->tb, false);
	tb_release(f->tb);
	pair_expect(f->iq, t, 0, 0);
	assert_int_equal(wst(f->iq2, t3), 0);
	assert_int_equal(wst(f->iq2, t4), 0);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_WRITE), 3);
	assert_int_equal(tb_count(f->tb, NVMFT_IO_DEALLOCATE), 1);
	/* Both landed after the pair's write. */
	assert_memory_equal(tb_data(f->tb) + 50 * BS, b, BS);
	assert_true(blocks_are(f, 51, 1, 0));
	assert_memory_equal(tb_data(f->tb) + 52 * BS, b + 2 * BS, BS);
	assert_true(blocks_are(f, 53, 2, 0));
}

/*
 * A write that never comes back holds the fence up only until the drain
 * deadline: then the pair fails (retryable) instead of hanging.
 */
static void test_fused_fence_deadline(void **state)
{
	struct fx *f = *state;
	uint8_t a[BS], b[BS], c[BS];
	struct nvmft_cmd wc = io_cmd(nvme_cmd_write, 1, 7, 1, 0);
	int t[2], t3;

	memset(a, 0, sizeof(a));
	memset(b, 1, sizeof(b));
	memset(c, 2, sizeof(c));
	tb_hold(f->tb, true);
	t3 = sub(f->iq2, &wc, c, BS);
	POLL_UNTIL(f, tb_held(f->tb) == 1);
	pair_submit(f->iq, 7, 1, a, b, t);
	/* Bounded by rounds, not time: the millisecond passes long before. */
	POLL_UNTIL(f, lt_done(f->iq, t[0]) && lt_done(f->iq, t[1]));
	pair_expect(f->iq, t, ST(NVME_SC_NS_NOT_READY), ST(NVME_SC_FUSED_FAIL));
	assert_int_equal(tb_count(f->tb, NVMFT_IO_COMPARE), 0);
	assert_int_equal(atomic_load(&f->ns->io_locks), 0);
	/* The late write still completes normally, and the next pair works. */
	tb_hold(f->tb, false);
	tb_release(f->tb);
	assert_int_equal(wst(f->iq2, t3), 0);
	pair_run(f->iq, 7, 1, c, b, 0, 0);
	assert_memory_equal(tb_data(f->tb) + 7 * BS, b, BS);
}

/* A first that waits for its second when the queue goes away is answered. */
static void test_fused_first_pending_at_disconnect(void **state)
{
	struct fx *f = *state;
	uint8_t a[BS];
	struct nvmft_cmd c1 = fused(nvme_cmd_compare, NVMFT_CMD_FUSE_FIRST, 0, 1);
	struct lt_qpair *q = lt_connect_io(&f->env, NQN, LT_HOSTNQN, f->cntlid, 3, 31);

	assert_non_null(q);
	memset(a, 0, sizeof(a));
	sub(q, &c1, a, BS);
	lt_env_settle(&f->env);
	assert_int_equal(lt_qpair_outstanding(q), 1);
	lt_qpair_close(q);
	assert_true(lt_qpair_is_freed(q));
	assert_int_equal(tb_count(f->tb, 0), 0);
}

/*
 * The second half finds no pool memory: it never waits (its first half
 * holds memory a wait could depend on), it fails at once with a transient
 * status and the transport releases it without running it.  The queue then
 * goes away with the first still in the backend.
 */
static void test_fused_half_released_unexecuted(void **state)
{
	struct fx *f = *state;
	uint8_t big[3 * 4096], a[BS], w[BS];
	struct nvmft_cmd hog = io_cmd(nvme_cmd_write, 1, 1000, sizeof(big) / BS, 0);
	struct lt_qpair *q = lt_connect_io(&f->env, NQN, LT_HOSTNQN, f->cntlid, 3, 31);
	int th, t[2];

	assert_non_null(q);
	memset(big, 1, sizeof(big));
	memset(a, 0, sizeof(a));
	memset(w, 2, sizeof(w));
	/* Three of the four pool chunks stay with a held write. */
	tb_hold(f->tb, true);
	th = sub(f->iq, &hog, big, sizeof(big));
	POLL_UNTIL(f, tb_held(f->tb) == 1);
	/* The first gets the last chunk; the second gets none and fails without DNR. */
	pair_submit(q, 0, 1, a, w, t);
	lt_env_settle(&f->env);
	{
		uint16_t st2 = wst(q, t[1]);

		assert_int_not_equal(st2, 0);
		assert_int_equal(st2 & NVME_SC_DNR, 0);
	}
	lt_qpair_close(q);
	assert_true(lt_qpair_is_freed(q));
	tb_hold(f->tb, false);
	tb_release(f->tb);
	assert_int_equal(wst(f->iq, th), 0);
}

/* ---- Hand-built core structures -------------------------------------------------------- */

/* One queue on one group with one namespace, without a target around it. */
struct hb {
	struct nvmft_target tgt; /* only its (silent) logger is used */
	struct nvmft_transport_ops ops;
	struct nvmft_transport tr;
	struct nvmft_poll_group *pg;
	struct nvmft_subsystem ss;
	struct nvmft_ctrlr ctrlr;
	struct nvmft_pg_subsys pgss;
	struct nvmft_pg_ns pgns;
	struct nvmft_pg_ns *pgns_arr[1];
	struct nvmft_ns ns;
	struct nvmft_qpair qp;
	struct tb *tb;
	struct nvmft_backend *be;
	struct nvmft_req req;
	int completions;
	uint16_t status;
};

static void hb_req_complete(struct nvmft_req *req)
{
	struct hb *h = nvmft_container_of(req, struct hb, req);

	h->completions++;
	h->status = nvmft_status_from_wire(req->cpl.status);
	nvmft_req_release(req);
}

static struct hb *hb_new(uint32_t caps, uint32_t tr_caps)
{
	struct hb *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	assert_int_equal(tb_new("io-hb", BLOCKS, BS, caps, TB_INLINE, &h->tb, &h->be), 0);
	h->ops.caps = tr_caps;
	h->ops.req_complete = hb_req_complete;
	h->tr.ops = &h->ops;
	h->tr.tgt = &h->tgt;
	h->tr.opts.max_io_size = MAX_IO;
	h->pg = calloc(1, sizeof(*h->pg));
	assert_non_null(h->pg);
	TAILQ_INIT(&h->pg->resume_q);
	h->ss.type = NVMFT_SUBTYPE_NVM;
	h->ctrlr.ss = &h->ss;
	h->ctrlr.csts = NVMFT_CSTS_RDY;
	h->ctrlr.state = NVMFT_CTRLR_ACTIVE;
	h->ns = (struct nvmft_ns){ .ss = &h->ss, .be = h->be, .nsid = 1, .block_size = BS,
				   .block_shift = 9, .num_blocks = BLOCKS, .caps = caps };
	h->pgns.ns = &h->ns;
	h->pgns.chan_fd = -1;
	assert_int_equal(nvmft_backend_channel_open(h->be, &h->pgns.chan), 0);
	h->pgns_arr[0] = &h->pgns;
	h->pgss = (struct nvmft_pg_subsys){ .ss = &h->ss, .state = NVMFT_PG_SS_ACTIVE, .ns_cap = 1,
					    .ns = h->pgns_arr };
	TAILQ_INIT(&h->pgss.queued);
	nvmft_qpair_init(&h->qp, &h->tr, NULL);
	h->qp.pg = h->pg;
	h->qp.ctrlr = &h->ctrlr;
	h->qp.pgss = &h->pgss;
	h->qp.state = NVMFT_QPAIR_ACTIVE;
	h->qp.qid = 1;
	h->req.qpair = &h->qp;
	return h;
}

static void hb_free(struct hb *h)
{
	assert_int_equal(h->qp.outstanding, 0);
	assert_int_equal(h->pgns.io_outstanding, 0);
	assert_int_equal(h->pgss.io_outstanding, 0);
	nvmft_io_ns_fini(&h->ns);
	nvmft_backend_channel_close(h->be, h->pgns.chan);
	assert_int_equal(nvmft_backend_free(h->be), 0);
	free(h->pg);
	free(h);
}

/* Parse @cmd as nvmft_req_init() does for the transport; true when it may go on. */
static bool hb_init(struct hb *h, const struct nvmft_cmd *cmd, uint32_t len)
{
	h->req.cmd = *cmd;
	h->req.length = len;
	h->completions = 0;
	return nvmft_req_init(&h->req);
}

/* Hand over the data and execute, then run the resume queue as the poll loop would. */
static void hb_exec(struct hb *h, struct iovec *iov, int iovcnt)
{
	struct nvmft_req *req;

	h->req.iov = iov;
	h->req.iovcnt = iovcnt;
	nvmft_req_execute(&h->req);
	while ((req = TAILQ_FIRST(&h->pg->resume_q)) != NULL) {
		TAILQ_REMOVE(&h->pg->resume_q, req, link);
		req->execute(req);
	}
}

static void test_hb_parse_and_accounting(void **state)
{
	struct hb *h = hb_new(NVMFT_BACKEND_CAP_ZCOPY_READ | NVMFT_BACKEND_CAP_FUA,
			      NVMFT_TR_CAP_ZCOPY_READ);
	struct nvmft_cmd c = io_cmd(nvme_cmd_read, 1, 2, 4, 0);
	uint8_t buf[4 * BS];
	struct iovec iov = { buf, sizeof(buf) };

	(void)state;
	/* Zero copy needs both sides: no buffers for the transport to allocate. */
	assert_true(hb_init(h, &c, 4 * BS));
	assert_int_equal(h->req.flags, NVMFT_REQ_F_ZCOPY | NVMFT_REQ_F_IO);
	assert_int_equal(h->req.io_type, NVMFT_IO_READ);
	assert_int_equal(h->req.slba, 2);
	assert_int_equal(h->req.nlb, 4);
	assert_ptr_equal(h->req.pgns, &h->pgns);
	assert_false(nvmft_req_needs_buffers(&h->req));
	/* (The test backend cannot serve zero copy: answer it as a transport would.) */
	nvmft_req_finish(&h->req, 0);
	h->ops.caps = 0;
	assert_true(hb_init(h, &c, 4 * BS));
	assert_int_equal(h->req.flags, NVMFT_REQ_F_IO);
	hb_exec(h, &iov, 1);
	assert_int_equal(h->completions, 1);
	assert_int_equal(h->status, 0);
	/* Writes: FUA passes through, never zero copy; counted while the backend has them. */
	h->ops.caps = NVMFT_TR_CAP_ZCOPY_READ;
	c = io_cmd(nvme_cmd_write, 1, 9, 1, CDW12_FUA);
	assert_true(hb_init(h, &c, BS));
	assert_int_equal(h->req.flags, NVMFT_REQ_F_IO);
	assert_int_equal(h->req.io_type, NVMFT_IO_WRITE);
	assert_int_equal(h->req.io_flags, NVMFT_IO_F_FUA);
	iov.iov_len = BS;
	tb_hold(h->tb, true);
	hb_exec(h, &iov, 1);
	assert_int_equal(h->pgns.io_wr[h->pgns.io_wr_epoch], 1);
	assert_int_equal(h->req.io_wr_tag, h->pgns.io_wr_epoch + 1);
	tb_hold(h->tb, false);
	tb_release(h->tb);
	assert_int_equal(h->status, 0);
	assert_int_equal(h->pgns.io_wr[0] + h->pgns.io_wr[1], 0);
	assert_false(h->pgns.io_draining);
	hb_free(h);
}

/*
 * Dataset Management data that is not one aligned array (odd offset, split
 * across buffers) goes to the backend one range at a time.
 */
static void test_hb_dsm_split_ranges(void **state)
{
	struct hb *h = hb_new(NVMFT_BACKEND_CAP_DEALLOCATE, 0);
	enum { NR = 40 };
	uint8_t *raw = malloc(NR * 16 + 8);
	struct nvmft_cmd c = dsm_cmd(1, NR, DSM_AD);
	struct iovec iov[2];
	uint32_t nonzero = 0;

	(void)state;
	assert_non_null(raw);
	memset(tb_data(h->tb), 0xab, (size_t)BLOCKS * BS);
	for (uint32_t i = 0; i < NR; i++) {
		/* Every fifth range is empty and skipped. */
		dsm_set((struct nvme_dsm_range *)(void *)(raw + 8 + i * 16), i * 10, i % 5 ? 3 : 0);
		nonzero += i % 5 != 0;
	}
	/* Misaligned by 4, and split in the middle of a range. */
	memmove(raw + 4, raw + 8, NR * 16);
	iov[0] = (struct iovec){ raw + 4, 16 * 7 + 5 };
	iov[1] = (struct iovec){ raw + 4 + iov[0].iov_len, NR * 16 - iov[0].iov_len };
	assert_true(hb_init(h, &c, NR * 16));
	/* More ranges than run inline: some go through the resume queue. */
	hb_exec(h, iov, 2);
	assert_int_equal(h->completions, 1);
	assert_int_equal(h->status, 0);
	assert_int_equal(tb_count(h->tb, NVMFT_IO_DEALLOCATE), nonzero);
	for (uint32_t i = 0; i < NR; i++) {
		uint8_t v = i % 5 ? 0 : 0xab;

		assert_true(all_bytes(tb_data(h->tb) + (size_t)i * 10 * BS, 3 * BS, v));
		assert_true(all_bytes(tb_data(h->tb) + ((size_t)i * 10 + 3) * BS, 7 * BS, 0xab));
	}
	/* A failing range ends the command. */
	assert_true(hb_init(h, &c, NR * 16));
	tb_fail_next(h->tb, NVMFT_IO_DEALLOCATE, -EIO, 1);
	hb_exec(h, iov, 2);
	assert_int_equal(h->completions, 1);
	assert_int_equal(h->status, ST_MEDIA(NVME_SC_WRITE_FAULT));
	assert_int_equal(tb_count(h->tb, NVMFT_IO_DEALLOCATE), nonzero + 1);
	free(raw);
	hb_free(h);
}

/* Flush of every namespace waits while the subsystem is paused, then goes on. */
static void test_hb_flush_all_paused(void **state)
{
	struct hb *h = hb_new(NVMFT_BACKEND_CAP_FLUSH, 0);
	struct nvmft_cmd c = io_cmd(nvme_cmd_flush, 0xffffffffu, 0, 1, 0);

	(void)state;
	c.cdw12 = 0;
	h->pgss.state = NVMFT_PG_SS_PAUSED;
	assert_true(hb_init(h, &c, 0));
	assert_int_equal(h->req.flags, 0);
	hb_exec(h, NULL, 0);
	assert_int_equal(h->completions, 0);
	assert_ptr_equal(TAILQ_FIRST(&h->pgss.queued), &h->req);
	assert_int_equal(h->req.state, NVMFT_REQ_QUEUED);
	assert_int_equal(tb_count(h->tb, NVMFT_IO_FLUSH), 0);
	/* Resume the way the subsystem does: back through nvmft_req_execute(). */
	TAILQ_REMOVE(&h->pgss.queued, &h->req, link);
	h->pgss.state = NVMFT_PG_SS_ACTIVE;
	hb_exec(h, NULL, 0);
	assert_int_equal(h->completions, 1);
	assert_int_equal(h->status, 0);
	assert_int_equal(tb_count(h->tb, NVMFT_IO_FLUSH), 1);
	hb_free(h);
}

/* A test with its fixture. */
#define T(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_read_write_roundtrip, setup_plain),
		T(test_flush, setup_flush),
		T(test_flush_all_namespaces, setup_flush),
		T(test_invalid_opcode_and_nsid, setup_plain),
		T(test_lba_out_of_range, setup_plain),
		T(test_transfer_length, setup_plain),
		T(test_read_only_namespace, setup_plain),
		T(test_prinfo_and_reserved_bits, setup_plain),
		cmocka_unit_test(test_fua),
		T(test_write_zeroes_native, setup_full),
		T(test_write_zeroes_emulated, setup_flush),
		T(test_write_zeroes_deallocate, setup_dealloc),
		T(test_dsm, setup_dealloc),
		T(test_compare, setup_plain),
		T(test_backend_errors, setup_full),
		T(test_fused_pair, setup_plain),
		T(test_fused_missing_second, setup_full),
		T(test_fused_mismatched_second, setup_full),
		T(test_fused_bad_fuse_fields, setup_full),
		T(test_fused_blocks_overlapping_write, setup_two_groups),
		T(test_fused_waits_for_inflight_write, setup_two_groups),
		T(test_fused_overlapping_pairs, setup_two_groups),
		T(test_fused_blocks_zeroes_and_deallocate, setup_two_groups),
		T(test_fused_fence_deadline, setup_two_groups_short_drain),
		T(test_fused_first_pending_at_disconnect, setup_full),
		T(test_fused_half_released_unexecuted, setup_small_pool),
		cmocka_unit_test(test_hb_parse_and_accounting),
		cmocka_unit_test(test_hb_dsm_split_ranges),
		cmocka_unit_test(test_hb_flush_all_paused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
