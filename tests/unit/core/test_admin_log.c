/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/core/admin_log.c (Get Log Page on I/O controllers), through the loop transport. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <cmocka.h>

#include <nvmft/nvmft.h>
#include <nvmft/version.h>

#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/transport.h"
#include "loop_transport.h"

#define SS_NQN "nqn.2016-06.io.nvmft:log"

#define ST_INVALID_FIELD NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_INVALID_LOG NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_LOG_PAGE)
#define ST_SGL_LENGTH NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA)

#define RAE (1u << 15)

struct fx {
	struct lt_env env;
	struct lt_qpair *aq;
	struct nvmft_ctrlr *ctrlr;
	uint8_t buf[8192];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(lt_env_init(&f->env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&f->env, SS_NQN, true));
	assert_non_null(lt_env_add_malloc_ns(&f->env, f->env.ss, 1, 64, 512));
	f->aq = lt_connect_admin(&f->env, SS_NQN, LT_HOSTNQN, NULL);
	assert_non_null(f->aq);
	f->ctrlr = lt_qpair_core(f->aq)->ctrlr;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	lt_env_fini(&f->env);
	free(f);
	return 0;
}

struct log_args {
	uint8_t lid;
	uint32_t nsid;
	uint32_t len;
	uint64_t offset;
	uint32_t flags; /* RAE, LSP in cdw10 */
	uint32_t cdw14;
};

static struct lt_cpl get_log(struct fx *f, const struct log_args *a)
{
	struct nvmft_cmd c;
	uint32_t numd = a->len / 4 - 1;
	struct lt_cpl r;

	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_get_log_page;
	c.nsid = htole32(a->nsid);
	c.cdw10 = htole32(a->lid | a->flags | (numd & 0xffff) << 16);
	c.cdw11 = htole32(numd >> 16);
	c.cdw12 = htole32((uint32_t)a->offset);
	c.cdw13 = htole32((uint32_t)(a->offset >> 32));
	c.cdw14 = htole32(a->cdw14);
	memset(f->buf, 0xa5, sizeof(f->buf));
	r = lt_cmd(f->aq, &c, f->buf, a->len);
	assert_true(r.done);
	return r;
}

static uint16_t log_st(struct fx *f, uint8_t lid, uint32_t nsid, uint32_t len, uint64_t offset)
{
	struct log_args a = { .lid = lid, .nsid = nsid, .len = len, .offset = offset };

	return get_log(f, &a).status;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static uint64_t u128_lo(const uint8_t v[16])
{
	uint64_t x = 0;

	for (int i = 7; i >= 0; i--)
		x = x << 8 | v[i];
	for (int i = 8; i < 16; i++)
		assert_int_equal(v[i], 0);
	return x;
}

static void test_unknown_lid(void **state)
{
	struct fx *f = *state;
	const uint8_t lids[] = { 0x06, 0x07, 0x08, 0x0c, 0x0d, 0x12, NVME_LOG_LID_DISCOVER, 0x80,
				 0x81, 0xc0, 0xff };

	for (size_t i = 0; i < sizeof(lids); i++)
		assert_int_equal(log_st(f, lids[i], 0, 512, 0), ST_INVALID_LOG);
}

static void test_offset_rules(void **state)
{
	struct fx *f = *state;
	struct log_args a = { .lid = NVME_LOG_LID_SMART, .nsid = NVME_NSID_ALL, .len = 512 };
	uint8_t whole[512];

	/* Not dword aligned. */
	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 0, 512, 2), ST_INVALID_FIELD);
	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 0, 512, 1), ST_INVALID_FIELD);
	/* Past the end of the 512-byte page, including via the upper dword. */
	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 0, 512, 516), ST_INVALID_FIELD);
	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 0, 4, 1ull << 32), ST_INVALID_FIELD);
	/* Exactly at the end: nothing left, all zeroes. */
	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 0, 64, 512), 0);
	assert_true(all_zero(f->buf, 64));
	/* Index offsets (OT) are not supported by any log here. */
	a.cdw14 = 1u << 23;
	assert_int_equal(get_log(f, &a).status, ST_INVALID_FIELD);

	/* A window in the middle matches the same bytes of the whole page. */
	a.cdw14 = 0;
	assert_int_equal(get_log(f, &a).status, 0);
	memcpy(whole, f->buf, sizeof(whole));
	a.offset = 200;
	a.len = 100;
	assert_int_equal(get_log(f, &a).status, 0);
	assert_memory_equal(f->buf, whole + 200, 100);
	/* Longer than what is left: the tail is zero filled (the buffer was poisoned). */
	a.offset = 500;
	a.len = 64;
	assert_int_equal(get_log(f, &a).status, 0);
	assert_memory_equal(f->buf, whole + 500, 12);
	assert_true(all_zero(f->buf + 12, 52));
}

static void test_oversized_request_zero_filled(void **state)
{
	struct fx *f = *state;

	/*
	 * 8 KiB for the 512-byte firmware slot log: the other 7.5 KiB are
	 * zero.  The Identify before it leaves non-zero bytes in the data
	 * buffers the pool hands out next.
	 */
	assert_int_equal(lt_identify(f->aq, NVME_IDENTIFY_CNS_CTRL, 0, 0, f->buf).status, 0);
	assert_int_equal(log_st(f, NVME_LOG_LID_CMD_EFFECTS, 0, 8192, 0), 0);
	assert_int_equal(log_st(f, NVME_LOG_LID_FW_SLOT, 0, 8192, 0), 0);
	assert_int_equal(f->buf[0], 1);
	assert_true(all_zero(f->buf + 512, 8192 - 512));
}

static struct nvmft_req *captured;

static void capture_complete(struct nvmft_req *req)
{
	captured = req;
}

/*
 * White box: run the Get Log Page executor on a request whose data buffers
 * are the test's own (poisoned, split into odd pieces), with a transport
 * that only records the completion.
 */
static uint16_t direct_get_log(struct fx *f, uint8_t lid, uint64_t offset, struct iovec *iov,
			       int iovcnt, uint32_t len)
{
	struct nvmft_qpair *qp = lt_qpair_core(f->aq);
	struct nvmft_transport *real = qp->tr, fake = *real;
	struct nvmft_transport_ops ops = *real->ops;
	uint32_t numd = len / 4 - 1;
	struct nvmft_req req;

	memset(&req, 0, sizeof(req));
	ops.req_complete = capture_complete;
	fake.ops = &ops;
	req.qpair = qp;
	req.cmd.opcode = nvme_admin_get_log_page;
	req.cmd.cdw10 = htole32(lid | (numd & 0xffff) << 16);
	req.cmd.cdw11 = htole32(numd >> 16);
	req.cmd.cdw12 = htole32((uint32_t)offset);
	req.cmd.cdw13 = htole32((uint32_t)(offset >> 32));
	req.length = len;
	req.xfer = NVMFT_XFER_C2H;
	req.iov = iov;
	req.iovcnt = iovcnt;
	captured = NULL;
	qp->tr = &fake;
	nvmft_admin_get_log_page(&req);
	qp->tr = real;
	assert_ptr_equal(captured, &req);
	return nvmft_status_from_wire(req.cpl.status);
}

static void test_window_into_split_buffers(void **state)
{
	struct fx *f = *state;
	static uint8_t whole[4096], a[1000], b[3], c[4000];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	uint8_t got[sizeof(a) + sizeof(b) + sizeof(c)];

	assert_int_equal(log_st(f, NVME_LOG_LID_CMD_EFFECTS, 0, 4096, 0), 0);
	memcpy(whole, f->buf, sizeof(whole));
	/* From offset 96, 5000 bytes: 4000 of log then 1000 of zeroes, across three pieces. */
	memset(a, 0xa5, sizeof(a));
	memset(b, 0xa5, sizeof(b));
	memset(c, 0xa5, sizeof(c));
	assert_int_equal(direct_get_log(f, NVME_LOG_LID_CMD_EFFECTS, 96, iov, 3, 5000), 0);
	memcpy(got, a, sizeof(a));
	memcpy(got + sizeof(a), b, sizeof(b));
	memcpy(got + sizeof(a) + sizeof(b), c, sizeof(c));
	assert_memory_equal(got, whole + 96, 4000);
	assert_true(all_zero(got + 4000, 1000));
	/* At the end exactly: all zero. */
	memset(a, 0xa5, sizeof(a));
	assert_int_equal(direct_get_log(f, NVME_LOG_LID_FW_SLOT, 512, iov, 1, 1000), 0);
	assert_true(all_zero(a, sizeof(a)));
	/* A failed command leaves the host's buffer alone. */
	memset(a, 0xa5, sizeof(a));
	assert_int_equal(direct_get_log(f, NVME_LOG_LID_FW_SLOT, 516, iov, 1, 1000), ST_INVALID_FIELD);
	assert_int_equal(a[0], 0xa5);
}

static void test_supported_log_pages(void **state)
{
	struct fx *f = *state;
	const __le32 *e = (const __le32 *)f->buf;

	assert_int_equal(log_st(f, NVME_LOG_LID_SUPPORTED_LOG_PAGES, 0, 1024, 0), 0);
	for (unsigned int lid = 0; lid < 256; lid++)
		assert_int_equal(le32toh(e[lid]), lid <= NVME_LOG_LID_CMD_EFFECTS ? 1 : 0);
}

static void fail_some(struct fx *f, int n, uint16_t *cids)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_identify;
	c.nsid = htole32(0x77 + 0);
	c.cdw10 = htole32(0xee); /* unknown CNS */
	for (int i = 0; i < n; i++) {
		struct lt_cpl r = lt_cmd(f->aq, &c, f->buf, 4096);

		assert_int_equal(r.status, ST_INVALID_FIELD);
		cids[i] = le16toh(r.cpl.cid);
	}
}

static void test_error_log(void **state)
{
	struct fx *f = *state;
	const struct nvme_error_log_page *e = (const struct nvme_error_log_page *)f->buf;
	uint16_t cids[20];
	uint64_t base = f->ctrlr->error_count;

	assert_int_equal(log_st(f, NVME_LOG_LID_ERROR, 0, 1024, 0), 0);
	assert_true(all_zero(f->buf, 1024));

	fail_some(f, 3, cids);
	assert_int_equal(log_st(f, NVME_LOG_LID_ERROR, 0, 1024, 0), 0);
	for (int i = 0; i < 3; i++) {
		/* Newest first. */
		assert_int_equal(le64toh(e[i].error_count), base + 3 - i);
		assert_int_equal(le16toh(e[i].sqid), 0);
		assert_int_equal(le16toh(e[i].cmdid), cids[2 - i]);
		assert_int_equal(nvmft_status_from_wire(e[i].status_field), ST_INVALID_FIELD);
		assert_int_equal(le32toh(e[i].nsid), 0x77);
	}
	assert_true(all_zero(&e[3], 1024 - 3 * 64));

	/* Past 16 failures only the newest 16 remain, still newest first. */
	fail_some(f, 20, cids);
	assert_int_equal(log_st(f, NVME_LOG_LID_ERROR, 0, 1024, 0), 0);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(le64toh(e[i].error_count), base + 23 - i);
		assert_int_equal(le16toh(e[i].cmdid), cids[19 - i]);
	}
	/* One entry at a time, by offset. */
	assert_int_equal(log_st(f, NVME_LOG_LID_ERROR, 0, 64, 64 * 15), 0);
	assert_int_equal(le64toh(e[0].error_count), base + 8);
}

static void test_error_log_unmasks(void **state)
{
	struct fx *f = *state;
	struct log_args a = { .lid = NVME_LOG_LID_ERROR, .len = 64, .flags = RAE };

	f->ctrlr->aen_masked |= NVMFT_AEN_ERROR;
	assert_int_equal(get_log(f, &a).status, 0);
	assert_true(f->ctrlr->aen_masked & NVMFT_AEN_ERROR);
	a.flags = 0;
	assert_int_equal(get_log(f, &a).status, 0);
	assert_false(f->ctrlr->aen_masked & NVMFT_AEN_ERROR);
}

static void test_smart(void **state)
{
	struct fx *f = *state;
	const struct nvme_smart_log *s = (const struct nvme_smart_log *)f->buf;
	struct nvmft_qpair io, io2;
	uint16_t cids[2];

	/*
	 * White box: two I/O queues in the controller's table with what they
	 * moved, whatever a backend did.  The admin queue's own traffic
	 * (Identify data and the like) is not host data.
	 */
	memset(&io, 0, sizeof(io));
	memset(&io2, 0, sizeof(io2));
	io.smart.read_bytes = 2 * 512000 + 1;
	io.smart.read_cmds = 3;
	io.smart.write_bytes = 512000;
	io.smart.write_cmds = 1;
	io2.smart.read_bytes = 512000;
	io2.smart.read_cmds = 2;
	/* Connect data and the like move bytes but are not host reads or writes. */
	io2.stats.bytes_written = 1024;
	lt_qpair_core(f->aq)->stats.bytes_read += 10 * 512000;
	f->ctrlr->qpairs[1] = &io;
	f->ctrlr->qpairs[5] = &io2;
	fail_some(f, 2, cids);

	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, NVME_NSID_ALL, 512, 0), 0);
	assert_int_equal(s->critical_warning, 0);
	assert_int_equal(s->temperature[0] | s->temperature[1] << 8, 300);
	assert_int_equal(s->avail_spare, 100);
	assert_int_equal(s->spare_thresh, 10);
	assert_int_equal(s->percent_used, 0);
	assert_int_equal(u128_lo(s->data_units_read), 4);
	assert_int_equal(u128_lo(s->data_units_written), 1);
	assert_int_equal(u128_lo(s->host_reads), 5);
	assert_int_equal(u128_lo(s->host_writes), 1);
	assert_int_equal(u128_lo(s->num_err_log_entries), f->ctrlr->error_count);
	assert_true(f->ctrlr->error_count >= 2);
	assert_int_equal(u128_lo(s->media_errors), 0);

	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 0, 512, 0), 0);
	assert_int_equal(u128_lo(s->data_units_read), 4);
	f->ctrlr->qpairs[1] = NULL;
	f->ctrlr->qpairs[5] = NULL;
	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 0, 512, 0), 0);
	assert_int_equal(u128_lo(s->data_units_read), 0);
	assert_int_equal(u128_lo(s->data_units_written), 0);
	/* Queues that went away still count: the controller's lifetime totals. */
	f->ctrlr->smart_gone.read_cmds = 7;
	f->ctrlr->smart_gone.write_bytes = 512001;
	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 0, 512, 0), 0);
	assert_int_equal(u128_lo(s->host_reads), 7);
	assert_int_equal(u128_lo(s->data_units_written), 2);
	memset(&f->ctrlr->smart_gone, 0, sizeof(f->ctrlr->smart_gone));
	/* Not kept per namespace. */
	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 1, 512, 0), ST_INVALID_FIELD);
	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 2, 512, 0), ST_INVALID_FIELD);

	/* An over threshold at or below 300 K warns, and so does an under threshold at or above it. */
	f->ctrlr->feat.temp_over[0] = 300;
	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 0, 512, 0), 0);
	assert_int_equal(s->critical_warning, NVME_SMART_CRIT_TEMPERATURE);
	f->ctrlr->feat.temp_over[0] = 301;
	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 0, 512, 0), 0);
	assert_int_equal(s->critical_warning, 0);
	f->ctrlr->feat.temp_under[0] = 300;
	assert_int_equal(log_st(f, NVME_LOG_LID_SMART, 0, 512, 0), 0);
	assert_int_equal(s->critical_warning, NVME_SMART_CRIT_TEMPERATURE);
	f->ctrlr->feat.temp_under[0] = 0;
}

static void test_fw_slot(void **state)
{
	struct fx *f = *state;
	const struct nvme_firmware_slot *fw = (const struct nvme_firmware_slot *)f->buf;
	char fr[8];
	size_t n = strlen(NVMFT_VERSION_STRING);

	memset(fr, ' ', sizeof(fr));
	memcpy(fr, NVMFT_VERSION_STRING, n < 8 ? n : 8);
	assert_int_equal(log_st(f, NVME_LOG_LID_FW_SLOT, 0, 512, 0), 0);
	assert_int_equal(fw->afi, 1);
	assert_memory_equal(fw->frs[0], fr, 8);
	assert_true(all_zero(fw->frs[1], 6 * 8));
	assert_true(all_zero(fw->rsvd2, sizeof(fw->rsvd2)));
}

static void check_changed(const uint8_t *buf, const uint32_t *want, size_t n)
{
	const __le32 *l = (const __le32 *)buf;

	for (size_t i = 0; i < n; i++)
		assert_int_equal(le32toh(l[i]), want[i]);
	assert_true(all_zero(l + n, 4096 - 4 * n));
}

static void test_changed_ns(void **state)
{
	struct fx *f = *state;
	struct log_args a = { .lid = NVME_LOG_LID_CHANGED_NS, .len = 4096, .flags = RAE };
	const uint32_t want[] = { 2, 3, 9 }, want2[] = { 2, 9 };

	assert_non_null(lt_env_add_malloc_ns(&f->env, f->env.ss, 9, 8, 512));
	assert_non_null(lt_env_add_malloc_ns(&f->env, f->env.ss, 3, 8, 512));
	assert_non_null(lt_env_add_malloc_ns(&f->env, f->env.ss, 2, 8, 512));
	f->ctrlr->aen_masked |= NVMFT_AEN_NS_CHANGED;

	/* RAE set: an ascending list, consumed by the read, the event still masked. */
	assert_int_equal(get_log(f, &a).status, 0);
	check_changed(f->buf, want, 3);
	assert_int_equal(f->ctrlr->nr_changed_ns, 0);
	assert_true(f->ctrlr->aen_masked & NVMFT_AEN_NS_CHANGED);
	assert_int_equal(get_log(f, &a).status, 0);
	check_changed(f->buf, want, 0);

	/* RAE clear: consumed and unmasked. */
	f->ctrlr->changed_ns[0] = 9;
	f->ctrlr->changed_ns[1] = 2;
	f->ctrlr->nr_changed_ns = 2;
	a.flags = 0;
	assert_int_equal(get_log(f, &a).status, 0);
	check_changed(f->buf, want2, 2);
	assert_int_equal(f->ctrlr->nr_changed_ns, 0);
	assert_false(f->ctrlr->aen_masked & NVMFT_AEN_NS_CHANGED);
	assert_int_equal(get_log(f, &a).status, 0);
	check_changed(f->buf, want, 0);

	/* A failed read changes nothing. */
	f->ctrlr->changed_ns[0] = 5;
	f->ctrlr->nr_changed_ns = 1;
	f->ctrlr->aen_masked |= NVMFT_AEN_NS_CHANGED;
	a.offset = 4100;
	assert_int_equal(get_log(f, &a).status, ST_INVALID_FIELD);
	assert_int_equal(f->ctrlr->nr_changed_ns, 1);
	assert_true(f->ctrlr->aen_masked & NVMFT_AEN_NS_CHANGED);
	/* A partial read consumes the log too. */
	a.offset = 0;
	a.len = 4;
	assert_int_equal(get_log(f, &a).status, 0);
	assert_int_equal(le32toh(*(const __le32 *)f->buf), 5);
	assert_int_equal(f->ctrlr->nr_changed_ns, 0);
}

static void test_changed_ns_overflow(void **state)
{
	struct fx *f = *state;
	const uint32_t want[] = { 0xffffffff };

	f->ctrlr->nr_changed_ns = NVMFT_CHANGED_NS_MAX + 1;
	assert_int_equal(log_st(f, NVME_LOG_LID_CHANGED_NS, 0, 4096, 0), 0);
	check_changed(f->buf, want, 1);
	assert_int_equal(f->ctrlr->nr_changed_ns, 0);
}

static void test_changed_ns_full(void **state)
{
	struct fx *f = *state;
	const __le32 *l = (const __le32 *)f->buf;

	/* Exactly 1024 entries, stored in descending order: all of them come back ascending. */
	for (uint32_t i = 0; i < NVMFT_CHANGED_NS_MAX; i++)
		f->ctrlr->changed_ns[i] = NVMFT_CHANGED_NS_MAX - i;
	f->ctrlr->nr_changed_ns = NVMFT_CHANGED_NS_MAX;
	assert_int_equal(log_st(f, NVME_LOG_LID_CHANGED_NS, 0, 4096, 0), 0);
	for (uint32_t i = 0; i < NVMFT_CHANGED_NS_MAX; i++)
		assert_int_equal(le32toh(l[i]), i + 1);
}

static void test_effects(void **state)
{
	struct fx *f = *state;
	const struct nvme_cmd_effects_log *fx = (const struct nvme_cmd_effects_log *)f->buf;
	struct log_args a = { .lid = NVME_LOG_LID_CMD_EFFECTS, .len = 4096 };
	const uint32_t csupp = NVME_CMD_EFFECTS_CSUPP;
	const uint32_t lbcc = NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC;
	uint32_t want_acs[256] = { 0 }, want_iocs[256] = { 0 };

	want_acs[nvme_admin_get_log_page] = csupp;
	want_acs[nvme_admin_identify] = csupp;
	want_acs[nvme_admin_abort_cmd] = csupp;
	want_acs[nvme_admin_set_features] = csupp;
	want_acs[nvme_admin_get_features] = csupp;
	want_acs[nvme_admin_async_event] = csupp;
	want_acs[nvme_admin_keep_alive] = csupp;
	want_iocs[nvme_cmd_flush] = csupp;
	want_iocs[nvme_cmd_write] = lbcc;
	want_iocs[nvme_cmd_read] = csupp;
	want_iocs[nvme_cmd_compare] = csupp;
	want_iocs[nvme_cmd_write_zeroes] = lbcc;
	want_iocs[nvme_cmd_dsm] = lbcc;

	assert_int_equal(get_log(f, &a).status, 0);
	for (int i = 0; i < 256; i++) {
		assert_int_equal(le32toh(fx->acs[i]), want_acs[i]);
		assert_int_equal(le32toh(fx->iocs[i]), want_iocs[i]);
	}
	assert_true(all_zero(fx->rsvd, sizeof(fx->rsvd)));

	/* Only the NVM command set's effects exist. */
	a.cdw14 = (uint32_t)NVME_CSI_ZNS << 24;
	assert_int_equal(get_log(f, &a).status, ST_INVALID_FIELD);
}

static void test_length_mismatch(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_get_log_page;
	c.cdw10 = htole32(NVME_LOG_LID_SMART | 127u << 16); /* 512 bytes */
	assert_int_equal(lt_cmd(f->aq, &c, f->buf, 508).status, ST_SGL_LENGTH);
	assert_int_equal(lt_cmd(f->aq, &c, f->buf, 516).status, ST_SGL_LENGTH);
	assert_int_equal(lt_cmd(f->aq, &c, f->buf, 512).status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_lid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offset_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_request_zero_filled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_into_split_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_supported_log_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_log_unmasks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fw_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_ns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_ns_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_ns_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_effects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_mismatch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
