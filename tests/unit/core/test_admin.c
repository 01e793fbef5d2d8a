/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for lib/core/admin.c: admin opcode dispatch, Abort, Keep Alive
 * and Asynchronous Event Request, driven through the loop transport.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <nvmft/nvmft.h>

#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/transport.h"
#include "loop_transport.h"

#define SS_NQN "nqn.2016-06.io.nvmft:admin"

#define ST_INVALID_OPCODE NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE)
#define ST_INVALID_FIELD NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_SGL_LENGTH NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA)
#define ST_AER_LIMIT NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_ASYNC_LIMIT)
#define ST_ABORT_SQ NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE)

struct fx {
	struct lt_env env;
	struct lt_qpair *aq;
	struct nvmft_ctrlr *ctrlr;
	uint8_t buf[4096];
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

static struct nvmft_cmd mk(uint8_t opc, uint32_t nsid, uint32_t cdw10, uint32_t cdw11)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = opc;
	c.nsid = htole32(nsid);
	c.cdw10 = htole32(cdw10);
	c.cdw11 = htole32(cdw11);
	return c;
}

static uint16_t run(struct fx *f, const struct nvmft_cmd *c, uint32_t len)
{
	struct lt_cpl r = lt_cmd(f->aq, c, len ? f->buf : NULL, len);

	assert_true(r.done);
	return r.status;
}

static void test_unsupported_opcodes(void **state)
{
	struct fx *f = *state;
	/*
	 * Management, firmware, security, sanitize, self-test, directives,
	 * PCIe-only, reserved and vendor opcodes (not ones with both data
	 * direction bits set: req.c rejects those before routing).
	 */
	const uint8_t opc[] = {
		nvme_admin_delete_sq, nvme_admin_create_sq, nvme_admin_delete_cq, nvme_admin_create_cq,
		nvme_admin_ns_mgmt, nvme_admin_fw_commit, nvme_admin_fw_download,
		nvme_admin_dev_self_test, nvme_admin_ns_attach, nvme_admin_directive_send,
		nvme_admin_directive_recv, nvme_admin_virtual_mgmt, nvme_admin_nvme_mi_send,
		nvme_admin_nvme_mi_recv, nvme_admin_dbbuf, nvme_admin_format_nvm,
		nvme_admin_security_send, nvme_admin_security_recv, nvme_admin_sanitize_nvm,
		nvme_admin_get_lba_status, 0x0e, 0x10, 0x20, 0x7d, 0xc0, 0xfe,
	};

	for (size_t i = 0; i < sizeof(opc); i++) {
		struct nvmft_cmd c = mk(opc[i], 0, 0, 0);

		assert_int_equal(run(f, &c, 0), ST_INVALID_OPCODE);
	}
}

static void test_fused_rejected(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = mk(nvme_admin_keep_alive, 0, 0, 0);

	c.flags = NVMFT_CMD_FUSE_FIRST;
	assert_int_equal(run(f, &c, 0), ST_INVALID_FIELD);
	c.flags = NVMFT_CMD_FUSE_SECOND;
	assert_int_equal(run(f, &c, 0), ST_INVALID_FIELD);
}

static void test_keep_alive(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = mk(nvme_admin_keep_alive, 0, 0, 0);
	uint64_t before;

	f->ctrlr->kato_ms = 5000;
	f->ctrlr->ka_deadline_ms = 1;
	before = f->ctrlr->ka_deadline_ms;
	assert_int_equal(run(f, &c, 0), 0);
	assert_true(f->ctrlr->ka_deadline_ms > before);
	/* No data moves with Keep Alive. */
	assert_int_equal(run(f, &c, 64), ST_SGL_LENGTH);
}

static void test_abort_reports_not_aborted(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = mk(nvme_admin_abort_cmd, 0, 0 | 5u << 16, 0);
	struct lt_cpl r;

	r = lt_cmd(f->aq, &c, NULL, 0);
	assert_true(r.done);
	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(r.cpl.dw0) & 1, 1);
	assert_int_equal(run(f, &c, 16), ST_SGL_LENGTH);
}

static void test_aer_limit_and_abort(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = mk(nvme_admin_async_event, 0, 0, 0);
	int tags[NVMFT_AERL];

	for (int i = 0; i < NVMFT_AERL; i++) {
		tags[i] = lt_submit(f->aq, &c, NULL, 0);
		assert_true(tags[i] >= 0);
	}
	lt_env_settle(&f->env);
	for (int i = 0; i < NVMFT_AERL; i++)
		assert_false(lt_done(f->aq, tags[i]));
	assert_int_equal(f->ctrlr->nr_aer, NVMFT_AERL);
	/* One more than AERL + 1 allows. */
	assert_int_equal(run(f, &c, 0), ST_AER_LIMIT);
	assert_int_equal(f->ctrlr->nr_aer, NVMFT_AERL);

	/* The parked ones end when the admin queue goes away. */
	nvmft_ctrlr_abort_aers(f->ctrlr);
	for (int i = 0; i < NVMFT_AERL; i++) {
		struct lt_cpl r = lt_wait(f->aq, tags[i]);

		assert_true(r.done);
		assert_int_equal(r.status, ST_ABORT_SQ);
	}
	assert_int_equal(f->ctrlr->nr_aer, 0);
}

static void test_aer_with_data_rejected(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = mk(nvme_admin_async_event, 0, 0, 0);

	assert_int_equal(run(f, &c, 4), ST_SGL_LENGTH);
	assert_int_equal(f->ctrlr->nr_aer, 0);
}

static void test_aer_completes_on_ns_change(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd aer = mk(nvme_admin_async_event, 0, 0, 0);
	struct nvmft_cmd sf = mk(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, 1u << 8);
	struct lt_cpl r;
	int tag;

	assert_int_equal(run(f, &sf, 0), 0);
	tag = lt_submit(f->aq, &aer, NULL, 0);
	assert_true(tag >= 0);
	lt_env_settle(&f->env);
	assert_false(lt_done(f->aq, tag));
	assert_non_null(lt_env_add_malloc_ns(&f->env, f->env.ss, 2, 64, 512));
	r = lt_wait(f->aq, tag);
	assert_true(r.done);
	assert_int_equal(r.status, 0);
	/* Notice, Namespace Attribute Changed, log page 04h. */
	assert_int_equal(le32toh(r.cpl.dw0), 0x2 | 0x00 << 8 | NVME_LOG_LID_CHANGED_NS << 16);
}

static void test_get_log_page_length(void **state)
{
	struct fx *f = *state;
	/* NUMD = 3 (0's based): 16 bytes. */
	struct nvmft_cmd c = mk(nvme_admin_get_log_page, 0, NVME_LOG_LID_SMART | 3u << 16, 0);

	assert_int_equal(run(f, &c, 16), 0);
	assert_int_equal(run(f, &c, 12), ST_SGL_LENGTH);
	assert_int_equal(run(f, &c, 20), ST_SGL_LENGTH);
	assert_int_equal(run(f, &c, 0), ST_SGL_LENGTH);
	/* NUMDU carries bits 31:16 of NUMD: 0x10000 dwords + 1 = 256 KiB + 4. */
	c.cdw10 = htole32(NVME_LOG_LID_SMART | 0u << 16);
	c.cdw11 = htole32(1);
	assert_int_equal(run(f, &c, 4096), ST_SGL_LENGTH);
	/* NUMD = FFFFFFFFh is 16 GiB: no 32-bit length wraps around to match. */
	c.cdw10 = htole32(NVME_LOG_LID_SMART | 0xffffu << 16);
	c.cdw11 = htole32(0xffff);
	assert_int_equal(run(f, &c, 0), ST_SGL_LENGTH);
}

/* A transport that takes queue management commands (what vfio-user does). */
static int taken;

static bool fake_admin_cmd(struct nvmft_req *req)
{
	if (req->cmd.opcode != nvme_admin_create_sq)
		return false;
	taken++;
	req->cpl.dw0 = htole32(0x1234);
	nvmft_req_finish(req, 0);
	return true;
}

static void test_transport_admin_cmd(void **state)
{
	struct fx *f = *state;
	struct nvmft_qpair *qp = lt_qpair_core(f->aq);
	struct nvmft_transport *real = qp->tr;
	struct nvmft_transport fake = *real;
	struct nvmft_transport_ops ops = *real->ops;
	struct nvmft_cmd c = mk(nvme_admin_create_sq, 0, 0, 0);
	struct lt_cpl r;

	ops.admin_cmd = fake_admin_cmd;
	fake.ops = &ops;
	qp->tr = &fake;
	taken = 0;
	r = lt_cmd(f->aq, &c, NULL, 0);
	assert_true(r.done);
	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(r.cpl.dw0), 0x1234);
	assert_int_equal(taken, 1);
	/* Declined by the transport: Invalid Opcode. */
	c.opcode = nvme_admin_ns_mgmt;
	assert_int_equal(run(f, &c, 0), ST_INVALID_OPCODE);
	assert_int_equal(taken, 1);
	/* Commands the core implements never reach the transport. */
	c = mk(nvme_admin_keep_alive, 0, 0, 0);
	assert_int_equal(run(f, &c, 0), 0);
	assert_int_equal(taken, 1);
	qp->tr = real;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unsupported_opcodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fused_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_reports_not_aborted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aer_limit_and_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aer_with_data_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aer_completes_on_ns_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_log_page_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_admin_cmd, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
