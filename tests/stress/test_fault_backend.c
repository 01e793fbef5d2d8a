/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fault backend itself, one thread, through the in-process loop
 * transport: each rule does what it says and nothing else, held requests
 * come back, the RAM store keeps data, and the wrapper is transparent in
 * front of a foreign backend that completes from its poll method.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault_backend.h"
#include "loop_transport.h"

#define NQN "nqn.2024-01.io.nvmft:fault-unit"
#define BS 512u
#define BLOCKS 4096u

#define ST_WRITE_FAULT NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT)
#define ST_READ_ERROR NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_READ_ERROR)
#define ST_COMPARE NVMFT_STATUS_DNR(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED)
#define ST_INTERNAL NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL)
#define ST_CAP NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CAP_EXCEEDED)

struct fx {
	struct lt_env env;
	struct nvmft_backend *be;
	struct fault_backend *fb;
	struct lt_qpair *aq, *iq;
	uint8_t *buf, *buf2;
};

static void fx_attach(struct fx *f, struct nvmft_backend *be)
{
	uint16_t cntlid;

	f->be = be;
	f->fb = fault_backend_of(be);
	assert_non_null(f->fb);
	assert_non_null(lt_env_add_ns(&f->env, f->env.ss, be, 1));
	f->aq = lt_connect_admin(&f->env, NQN, LT_HOSTNQN, &cntlid);
	assert_non_null(f->aq);
	f->iq = lt_connect_io(&f->env, NQN, LT_HOSTNQN, cntlid, 1, 127);
	assert_non_null(f->iq);
}

/* A fresh environment without a namespace. */
static void fx_reset(struct fx *f)
{
	lt_env_fini(&f->env);
	assert_int_equal(lt_env_init(&f->env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&f->env, NQN, true));
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct nvmft_backend *be;
	char err[128];

	assert_non_null(f);
	assert_int_equal(lt_env_init(&f->env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&f->env, NQN, true));
	assert_int_equal(fault_backend_new("fault0", FAULT_STORE_RAM, BLOCKS, BS, NULL, err,
					   sizeof(err), &be),
			 0);
	fx_attach(f, be);
	f->buf = calloc(1, 64 * 1024);
	f->buf2 = calloc(1, 64 * 1024);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	/* Nothing may stay held, or the group could not stop. */
	fault_backend_set_rules(f->fb, NULL, NULL, 0);
	fault_backend_release(f->fb);
	lt_env_settle(&f->env);
	lt_env_fini(&f->env);
	free(f->buf);
	free(f->buf2);
	free(f);
	return 0;
}

static void rules(struct fx *f, const char *spec)
{
	char err[256] = "";

	if (fault_backend_set_rules(f->fb, spec, err, sizeof(err)) != 0)
		fail_msg("%s: %s", spec, err);
}

static struct fault_stats stats(struct fx *f)
{
	struct fault_stats st;

	fault_backend_get_stats(f->fb, &st);
	return st;
}

static uint16_t rw(struct fx *f, bool write, uint64_t lba, uint32_t nlb, void *buf)
{
	struct lt_cpl c = lt_rw(f->iq, write, 1, lba, nlb, buf, nlb * BS);

	assert_true(c.done);
	return c.status;
}

/* Wait (bounded) for a submitted command. */
static struct lt_cpl wait_tag(struct fx *f, int tag)
{
	for (int i = 0; i < 2000000 && !lt_done(f->iq, tag); i++)
		lt_env_poll(&f->env);
	assert_true(lt_done(f->iq, tag));
	return lt_wait(f->iq, tag);
}

static struct nvmft_cmd io_cmd(uint8_t opc, uint64_t slba, uint32_t nlb)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = opc;
	c.nsid = htole32(1);
	c.cdw10 = htole32((uint32_t)slba);
	c.cdw11 = htole32((uint32_t)(slba >> 32));
	c.cdw12 = htole32(nlb - 1);
	return c;
}

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

/* ---- No rules: a plain RAM disk -------------------------------------------------------------- */

static void test_passthrough(void **state)
{
	struct fx *f = *state;
	struct fault_stats st;
	struct nvmft_cmd c;
	struct nvme_dsm_range r = { .nlb = htole32(4), .slba = htole64(12) };

	fill(f->buf, 16 * BS, 1);
	assert_int_equal(rw(f, true, 8, 16, f->buf), 0);
	assert_int_equal(rw(f, false, 8, 16, f->buf2), 0);
	assert_memory_equal(f->buf, f->buf2, 16 * BS);
	/* Compare: equal, then not. */
	c = io_cmd(nvme_cmd_compare, 8, 16);
	assert_int_equal(lt_cmd(f->iq, &c, f->buf, 16 * BS).status, 0);
	f->buf[5]++;
	assert_int_equal(lt_cmd(f->iq, &c, f->buf, 16 * BS).status, ST_COMPARE);
	f->buf[5]--;
	/* Write Zeroes of blocks 8..9, Deallocate of 12..15: zeroes read back there only. */
	c = io_cmd(nvme_cmd_write_zeroes, 8, 2);
	assert_int_equal(lt_cmd(f->iq, &c, NULL, 0).status, 0);
	c = io_cmd(nvme_cmd_dsm, 0, 1);
	c.cdw10 = 0;
	c.cdw11 = htole32(NVME_DSMGMT_AD);
	assert_int_equal(lt_cmd(f->iq, &c, &r, sizeof(r)).status, 0);
	c = io_cmd(nvme_cmd_flush, 0, 1);
	c.cdw10 = c.cdw12 = 0;
	assert_int_equal(lt_cmd(f->iq, &c, NULL, 0).status, 0);
	assert_int_equal(rw(f, false, 8, 16, f->buf2), 0);
	memset(f->buf, 0, 2 * BS);
	memset(f->buf + 4 * BS, 0, 4 * BS);
	assert_memory_equal(f->buf, f->buf2, 16 * BS);

	st = stats(f);
	assert_int_equal(st.submitted, st.forwarded);
	assert_int_equal(st.by_type[NVMFT_IO_WRITE], 1);
	assert_int_equal(st.by_type[NVMFT_IO_READ], 2);
	assert_int_equal(st.by_type[NVMFT_IO_COMPARE], 2);
	assert_int_equal(st.by_type[NVMFT_IO_WRITE_ZEROES], 1);
	assert_int_equal(st.by_type[NVMFT_IO_DEALLOCATE], 1);
	assert_int_equal(st.by_type[NVMFT_IO_FLUSH], 1);
	assert_int_equal(st.failed + st.shortened + st.delayed + st.hung + st.held_now, 0);
	assert_int_equal(st.channels, 1);
}

/* ---- fail ------------------------------------------------------------------------------------ */

static void test_fail(void **state)
{
	struct fx *f = *state;
	struct fault_stats st;

	rules(f, "fail=write:EIO,fail=read:ENOSPC");
	assert_int_equal(rw(f, true, 0, 1, f->buf), ST_WRITE_FAULT);
	assert_int_equal(rw(f, false, 0, 1, f->buf), ST_CAP);
	st = stats(f);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.forwarded, 0);
	/* Rules gone: the same commands pass. */
	rules(f, "");
	assert_int_equal(rw(f, true, 0, 1, f->buf), 0);
	assert_int_equal(rw(f, false, 0, 1, f->buf), 0);
	assert_int_equal(stats(f).forwarded, 2);
}

/* A failure after a wait comes from the channel's timer, i.e. from channel_poll. */
static void test_fail_after(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = io_cmd(nvme_cmd_write, 0, 1);
	int tag;

	rules(f, "fail=write:EROFS@after=20ms");
	tag = lt_submit(f->iq, &c, f->buf, BS);
	assert_true(tag >= 0);
	lt_env_poll(&f->env);
	assert_int_equal(wait_tag(f, tag).status,
			 NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED));
	assert_int_equal(stats(f).failed, 1);
	assert_int_equal(stats(f).held_now, 0);
}

/* ---- short ----------------------------------------------------------------------------------- */

static void test_short_write_does_half(void **state)
{
	struct fx *f = *state;

	fill(f->buf, 8 * BS, 10);
	assert_int_equal(rw(f, true, 100, 8, f->buf), 0);
	rules(f, "short=write:EIO");
	fill(f->buf2, 8 * BS, 20);
	assert_int_equal(rw(f, true, 100, 8, f->buf2), ST_WRITE_FAULT);
	rules(f, "");
	/* First half new, second half old: a torn write, reported as a failure. */
	assert_int_equal(rw(f, false, 100, 8, f->buf), 0);
	fill(f->buf2, 8 * BS, 20);
	assert_memory_equal(f->buf, f->buf2, 4 * BS);
	fill(f->buf2, 8 * BS, 10);
	assert_memory_equal(f->buf + 4 * BS, f->buf2 + 4 * BS, 4 * BS);
	assert_int_equal(stats(f).shortened, 1);
}

/* A zero-copy read that got its memory and then failed sends the host no data. */
static void test_short_read_sends_nothing(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = io_cmd(nvme_cmd_read, 100, 8);
	int tag;

	fill(f->buf, 8 * BS, 30);
	assert_int_equal(rw(f, true, 100, 8, f->buf), 0);
	rules(f, "short=read:EIO");
	memset(f->buf2, 0xee, 8 * BS);
	tag = lt_submit(f->iq, &c, f->buf2, 8 * BS);
	assert_true(tag >= 0);
	assert_int_equal(wait_tag(f, tag).status, ST_READ_ERROR);
	assert_int_equal(lt_data_len(f->iq, tag), 0);
	rules(f, "short=read:EIO@after=5ms");
	tag = lt_submit(f->iq, &c, f->buf2, 8 * BS);
	assert_int_equal(wait_tag(f, tag).status, ST_READ_ERROR);
	assert_int_equal(lt_data_len(f->iq, tag), 0);
	assert_int_equal(stats(f).shortened, 2);
}

/* ---- delay and hang -------------------------------------------------------------------------- */

static void test_delay(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = io_cmd(nvme_cmd_write, 0, 4);
	int tags[8];

	rules(f, "delay=write:10ms");
	fill(f->buf, 4 * BS, 40);
	for (int i = 0; i < 8; i++) {
		c = io_cmd(nvme_cmd_write, (uint64_t)i * 4, 4);
		tags[i] = lt_submit(f->iq, &c, f->buf, 4 * BS);
		assert_true(tags[i] >= 0);
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(wait_tag(f, tags[i]).status, 0);
	assert_int_equal(stats(f).delayed, 8);
	assert_int_equal(stats(f).forwarded, 8);
	assert_int_equal(stats(f).held_now, 0);
	rules(f, "");
	assert_int_equal(rw(f, false, 28, 4, f->buf2), 0);
	assert_memory_equal(f->buf, f->buf2, 4 * BS);
}

static void test_hang_and_release(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c;
	int tags[3];

	rules(f, "hang=write");
	fill(f->buf, BS, 50);
	for (int i = 0; i < 3; i++) {
		c = io_cmd(nvme_cmd_write, 200 + (uint64_t)i, 1);
		tags[i] = lt_submit(f->iq, &c, f->buf, BS);
		assert_true(tags[i] >= 0);
	}
	for (int i = 0; i < 1000; i++)
		lt_env_poll(&f->env);
	for (int i = 0; i < 3; i++)
		assert_false(lt_done(f->iq, tags[i]));
	assert_int_equal(stats(f).hung_now, 3);
	assert_int_equal(stats(f).held_now, 3);
	assert_int_equal(stats(f).forwarded, 0);
	/* Reads are not hung: the queue is not wedged. */
	assert_int_equal(rw(f, false, 0, 1, f->buf2), 0);
	/* A release frees what is hung now; the rule itself stays. */
	fault_backend_release(f->fb);
	for (int i = 0; i < 3; i++)
		assert_int_equal(wait_tag(f, tags[i]).status, 0);
	assert_int_equal(stats(f).hung_now, 0);
	assert_int_equal(stats(f).hung, 3);
	c = io_cmd(nvme_cmd_write, 300, 1);
	tags[0] = lt_submit(f->iq, &c, f->buf, BS);
	for (int i = 0; i < 1000; i++)
		lt_env_poll(&f->env);
	assert_false(lt_done(f->iq, tags[0]));
	rules(f, "");
	fault_backend_release(f->fb);
	assert_int_equal(wait_tag(f, tags[0]).status, 0);
}

/* A hang with a duration ends by itself; a release ends it early. */
static void test_timed_hang(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = io_cmd(nvme_cmd_read, 0, 1);
	int tag;

	rules(f, "hang=read:30ms");
	tag = lt_submit(f->iq, &c, f->buf, BS);
	assert_int_equal(wait_tag(f, tag).status, 0);
	rules(f, "hang=read:3600s");
	tag = lt_submit(f->iq, &c, f->buf, BS);
	for (int i = 0; i < 100; i++)
		lt_env_poll(&f->env);
	assert_false(lt_done(f->iq, tag));
	fault_backend_release(f->fb);
	assert_int_equal(wait_tag(f, tag).status, 0);
}

/* ---- Conditions ------------------------------------------------------------------------------ */

static void test_nth_count_lba(void **state)
{
	struct fx *f = *state;
	unsigned int fails = 0;

	rules(f, "fail=read@nth=3");
	for (int i = 1; i <= 6; i++)
		assert_int_equal(rw(f, false, 0, 1, f->buf), i == 3 ? ST_READ_ERROR : 0);
	rules(f, "fail=write@count=2");
	for (int i = 1; i <= 5; i++)
		assert_int_equal(rw(f, true, 0, 1, f->buf), i <= 2 ? ST_WRITE_FAULT : 0);
	rules(f, "fail=read@lba=10-19");
	assert_int_equal(rw(f, false, 0, 10, f->buf), 0);
	assert_int_equal(rw(f, false, 5, 6, f->buf), ST_READ_ERROR);
	assert_int_equal(rw(f, false, 15, 1, f->buf), ST_READ_ERROR);
	assert_int_equal(rw(f, false, 19, 8, f->buf), ST_READ_ERROR);
	assert_int_equal(rw(f, false, 20, 8, f->buf), 0);
	rules(f, "fail=read@rate=0,fail=write@rate=1");
	assert_int_equal(rw(f, false, 0, 1, f->buf), 0);
	assert_int_equal(rw(f, true, 0, 1, f->buf), ST_WRITE_FAULT);
	/* A seeded rate: some fail, some pass, and the same seed gives the same count. */
	rules(f, "fail=read@rate=0.5,seed=9");
	for (int i = 0; i < 200; i++)
		fails += rw(f, false, 0, 1, f->buf) != 0;
	assert_true(fails > 0 && fails < 200);
	/* First rule that fires wins; a rate miss falls through to the next. */
	rules(f, "fail=read:ENOSPC@lba=0,fail=read:EIO");
	assert_int_equal(rw(f, false, 0, 1, f->buf), ST_CAP);
	assert_int_equal(rw(f, false, 1, 1, f->buf), ST_READ_ERROR);
}

static void test_dsm_lba(void **state)
{
	struct fx *f = *state;
	struct nvme_dsm_range r[2] = {
		{ .nlb = htole32(4), .slba = htole64(0) },
		{ .nlb = htole32(4), .slba = htole64(64) },
	};
	struct nvmft_cmd c = io_cmd(nvme_cmd_dsm, 0, 1);

	c.cdw10 = htole32(1); /* two ranges */
	c.cdw11 = htole32(NVME_DSMGMT_AD);
	c.cdw12 = 0;
	rules(f, "fail=dsm@lba=66");
	assert_int_equal(lt_cmd(f->iq, &c, r, sizeof(r)).status, ST_WRITE_FAULT);
	rules(f, "fail=dsm@lba=68-100");
	assert_int_equal(lt_cmd(f->iq, &c, r, sizeof(r)).status, 0);
}

static void test_bad_rules_keep_old(void **state)
{
	struct fx *f = *state;
	char err[128] = "";

	rules(f, "fail=write");
	assert_int_equal(fault_backend_set_rules(f->fb, "fail=bogus", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a request type"));
	assert_int_equal(rw(f, true, 0, 1, f->buf), ST_WRITE_FAULT);
	assert_int_equal(fault_backend_set_rules(NULL, "", NULL, 0), -EINVAL);
}

/* ---- A foreign inner backend that completes from channel_poll, with an fd -------------------- */

struct inner {
	uint8_t *mem;
	int destroyed;
	unsigned int writes;
	bool with_fd;
};

struct inner_chan {
	struct inner *in;
	int efd;
	struct nvmft_req *q[256];
	unsigned int n;
};

static int in_open(void *ctx, void **chan)
{
	struct inner_chan *ch = calloc(1, sizeof(*ch));

	ch->in = ctx;
	ch->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	*chan = ch;
	return 0;
}

static void in_close(void *ctx, void *chan)
{
	struct inner_chan *ch = chan;

	close(ch->efd);
	free(ch);
}

static int in_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	struct inner_chan *ch = chan;
	uint64_t one = 1;

	if (ch->n == 256)
		return -EBUSY;
	ch->q[ch->n++] = req;
	if (write(ch->efd, &one, sizeof(one)) < 0)
		return -EIO;
	return 0;
}

static int in_poll(void *ctx, void *chan, unsigned int budget)
{
	struct inner_chan *ch = chan;
	struct inner *in = ctx;
	unsigned int n = ch->n;
	uint64_t v;

	if (read(ch->efd, &v, sizeof(v)) < 0)
		v = 0;
	ch->n = 0;
	for (unsigned int i = 0; i < n; i++) {
		struct nvmft_req *req = ch->q[i];
		uint64_t off = nvmft_req_get_offset_blocks(req) * BS;
		size_t len = nvmft_req_get_num_blocks(req) * BS, done = 0;
		int cnt;
		const struct iovec *iov = nvmft_req_get_iovs(req, &cnt);

		for (int k = 0; k < cnt; k++) {
			if (nvmft_req_get_io_type(req) == NVMFT_IO_WRITE)
				memcpy(in->mem + off + done, iov[k].iov_base, iov[k].iov_len);
			else
				memcpy(iov[k].iov_base, in->mem + off + done, iov[k].iov_len);
			done += iov[k].iov_len;
		}
		if (nvmft_req_get_io_type(req) == NVMFT_IO_WRITE)
			in->writes++;
		nvmft_req_complete(req, done == len ? 0 : -EIO);
	}
	return (int)n;
}

static int in_fd(void *ctx, void *chan)
{
	struct inner *in = ctx;

	return in->with_fd ? ((struct inner_chan *)chan)->efd : -1;
}

static void in_destroy(void *ctx)
{
	struct inner *in = ctx;

	in->destroyed++;
}

static const struct nvmft_backend_ops in_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = in_open,
	.channel_close = in_close,
	.submit = in_submit,
	.channel_poll = in_poll,
	.channel_get_fd = in_fd,
	.destroy = in_destroy,
};

static void wrapped(struct fx *f, struct inner *in)
{
	struct nvmft_backend_opts o;
	struct nvmft_backend *be;
	struct nvmft_cmd c;
	int tag;

	fx_reset(f);
	nvmft_backend_opts_init(&o, sizeof(o));
	o.name = "inner";
	o.block_size = BS;
	o.num_blocks = BLOCKS;
	assert_int_equal(fault_backend_wrap(&in_ops, in, &o, "delay=read:5ms", NULL, 0, &be), 0);
	fx_attach(f, be);
	fill(f->buf, 8 * BS, 60);
	assert_int_equal(rw(f, true, 40, 8, f->buf), 0);
	assert_int_equal(rw(f, false, 40, 8, f->buf2), 0);
	assert_memory_equal(f->buf, f->buf2, 8 * BS);
	assert_int_equal(in->writes, 1);
	/* Short in front of a foreign backend: a write reaches nothing, a read's data is not sent. */
	rules(f, "short=write+read:EIO");
	assert_int_equal(rw(f, true, 40, 8, f->buf2), ST_WRITE_FAULT);
	assert_int_equal(in->writes, 1);
	c = io_cmd(nvme_cmd_read, 40, 8);
	tag = lt_submit(f->iq, &c, f->buf2, 8 * BS);
	assert_int_equal(wait_tag(f, tag).status, ST_READ_ERROR);
	assert_int_equal(lt_data_len(f->iq, tag), 0);
	rules(f, "");
	assert_int_equal(rw(f, false, 40, 8, f->buf2), 0);
	assert_memory_equal(f->buf, f->buf2, 8 * BS);
}

static void test_wrap_inner_with_fd(void **state)
{
	struct fx *f = *state;
	struct inner in = { .mem = calloc(BLOCKS, BS), .with_fd = true };

	wrapped(f, &in);
	fx_reset(f);
	assert_int_equal(in.destroyed, 1);
	free(in.mem);
	/* The teardown wants a fault backend again. */
	assert_int_equal(fault_backend_new("again", FAULT_STORE_NULL, BLOCKS, BS, NULL, NULL, 0, &f->be),
			 0);
	fx_attach(f, f->be);
}

static void test_wrap_inner_poll_only(void **state)
{
	struct fx *f = *state;
	struct inner in = { .mem = calloc(BLOCKS, BS), .with_fd = false };

	wrapped(f, &in);
	fx_reset(f);
	assert_int_equal(in.destroyed, 1);
	free(in.mem);
	assert_int_equal(fault_backend_new("again", FAULT_STORE_RAM, BLOCKS, BS, NULL, NULL, 0, &f->be),
			 0);
	fx_attach(f, f->be);
}

/* ---- Null store, creation errors ------------------------------------------------------------- */

static void test_null_store(void **state)
{
	struct fx *f = *state;

	fx_reset(f);
	assert_int_equal(fault_backend_new("null", FAULT_STORE_NULL, BLOCKS, BS, "fail=flush:EBUSY",
					   NULL, 0, &f->be),
			 0);
	assert_int_equal(nvmft_backend_get_caps(f->be) & NVMFT_BACKEND_CAP_ZCOPY_READ, 0);
	fx_attach(f, f->be);
	fill(f->buf, 4 * BS, 70);
	assert_int_equal(rw(f, true, 0, 4, f->buf), 0);
	memset(f->buf2, 0xaa, 4 * BS);
	assert_int_equal(rw(f, false, 0, 4, f->buf2), 0);
	memset(f->buf, 0, 4 * BS);
	assert_memory_equal(f->buf, f->buf2, 4 * BS);
	{
		struct nvmft_cmd c = io_cmd(nvme_cmd_flush, 0, 1);

		c.cdw10 = c.cdw12 = 0;
		assert_int_equal(lt_cmd(f->iq, &c, NULL, 0).status,
				 NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY));
	}
}

static int destroyed_count;

static void count_destroy(void *ctx)
{
	destroyed_count++;
}

static int no_open(void *ctx, void **chan)
{
	return -ENOSYS;
}

static void no_close(void *ctx, void *chan)
{
}

static void test_create_errors(void **state)
{
	static const struct nvmft_backend_ops missing_submit = {
		.version = NVMFT_BACKEND_OPS_V1,
		.channel_open = no_open,
		.channel_close = no_close,
		.destroy = count_destroy,
	};
	static const struct nvmft_backend_ops ok_ops = {
		.version = NVMFT_BACKEND_OPS_V1,
		.channel_open = no_open,
		.channel_close = no_close,
		.submit = in_submit,
		.destroy = count_destroy,
	};
	struct nvmft_backend_opts o;
	struct nvmft_backend *be = (void *)0x1;
	uint64_t zero = 0;
	char err[128] = "";

	assert_int_equal(fault_backend_new("x", FAULT_STORE_RAM, 8, 500, NULL, NULL, 0, &be), -EINVAL);
	assert_int_equal(fault_backend_new("x", FAULT_STORE_RAM, 0, 512, NULL, NULL, 0, &be), -EINVAL);
	assert_int_equal(fault_backend_new("x", FAULT_STORE_RAM, 8, 131072, NULL, NULL, 0, &be),
			 -EINVAL);
	assert_int_equal(fault_backend_new("x", (enum fault_store)7, 8, 512, NULL, NULL, 0, &be),
			 -EINVAL);
	assert_int_equal(fault_backend_new("x", FAULT_STORE_RAM, 8, 512, NULL, NULL, 0, NULL),
			 -EINVAL);
	assert_int_equal(fault_backend_new(NULL, FAULT_STORE_RAM, 8, 512, NULL, NULL, 0, &be),
			 -EINVAL);
	assert_int_equal(fault_backend_new("x", FAULT_STORE_RAM, 8, 512, "hang=never", err,
					   sizeof(err), &be),
			 -EINVAL);
	assert_non_null(strstr(err, "not a request type"));
	assert_ptr_equal(be, (void *)0x1);

	/* The wrapper owns the inner context even when it fails. */
	nvmft_backend_opts_init(&o, sizeof(o));
	o.name = "inner";
	o.num_blocks = 8;
	destroyed_count = 0;
	assert_int_equal(fault_backend_wrap(&missing_submit, NULL, &o, NULL, NULL, 0, &be), -EINVAL);
	assert_int_equal(destroyed_count, 1);
	assert_int_equal(fault_backend_wrap(&ok_ops, NULL, &o, "fail=x", NULL, 0, &be), -EINVAL);
	assert_int_equal(destroyed_count, 2);
	o.num_blocks = 0;
	assert_int_equal(fault_backend_wrap(&ok_ops, NULL, &o, NULL, NULL, 0, &be), -EINVAL);
	assert_int_equal(destroyed_count, 3);
	o.num_blocks = 8;
	assert_int_equal(fault_backend_wrap(&ok_ops, NULL, &o, NULL, NULL, 0, &be), 0);
	assert_non_null(fault_backend_of(be));
	assert_int_equal(nvmft_backend_free(be), 0);
	assert_int_equal(destroyed_count, 4);

	/* Not a fault backend. */
	assert_int_equal(nvmft_backend_new(&ok_ops, &zero, &o, &be), 0);
	assert_null(fault_backend_of(be));
	assert_null(fault_backend_of(NULL));
	assert_int_equal(nvmft_backend_free(be), 0);
}

/* A channel the inner backend cannot open leaves the namespace unusable, nothing leaks. */
static void test_inner_open_fails(void **state)
{
	static const struct nvmft_backend_ops ops = {
		.version = NVMFT_BACKEND_OPS_V1,
		.channel_open = no_open,
		.channel_close = no_close,
		.submit = in_submit,
	};
	struct fx *f = *state;
	struct nvmft_backend_opts o;
	struct nvmft_backend *be;

	nvmft_backend_opts_init(&o, sizeof(o));
	o.name = "noopen";
	o.num_blocks = 8;
	assert_int_equal(fault_backend_wrap(&ops, NULL, &o, NULL, NULL, 0, &be), 0);
	assert_null(lt_env_add_ns(&f->env, f->env.ss, be, 2));
	assert_int_equal(stats(f).channels, 1); /* the first namespace's */
	assert_int_equal(lt_env_free_backend(&f->env, be), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_passthrough, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_write_does_half, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_read_sends_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hang_and_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timed_hang, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nth_count_lba, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsm_lba, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_rules_keep_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_inner_with_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_inner_poll_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inner_open_fails, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
