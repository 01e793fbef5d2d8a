/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/core/admin_features.c (Get/Set Features), through the loop transport. */
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
#include "core/transport.h"
#include "loop_transport.h"
#include "test_backend.h"

#define SS_NQN "nqn.2016-06.io.nvmft:features"

#define ST_INVALID_FIELD NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_SGL_LENGTH NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA)
#define ST_CMD_SEQ NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR)
#define ST_NOT_SAVEABLE NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_FEATURE_NOT_SAVEABLE)
#define ST_NOT_PER_NS NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_FEATURE_NOT_PER_NS)

#define SEL_CURRENT 0
#define SEL_DEFAULT 1
#define SEL_SAVED 2
#define SEL_SUPPORTED 3
#define SAVE (1u << 31)

struct fx {
	struct lt_env env;
	struct lt_qpair *aq;
	struct nvmft_ctrlr *ctrlr;
	uint8_t buf[1024];
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
	/* Start every test from the documented defaults (ctrlr.c applies them at creation). */
	nvmft_admin_features_init(f->ctrlr);
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

struct res {
	uint16_t status;
	uint32_t dw0;
};

static struct res feat(struct fx *f, uint8_t opc, uint32_t nsid, uint32_t cdw10, uint32_t cdw11,
		       uint32_t len)
{
	struct nvmft_cmd c;
	struct lt_cpl r;
	struct res out;

	memset(&c, 0, sizeof(c));
	c.opcode = opc;
	c.nsid = htole32(nsid);
	c.cdw10 = htole32(cdw10);
	c.cdw11 = htole32(cdw11);
	if (opc == nvme_admin_get_features)
		memset(f->buf, 0xa5, sizeof(f->buf));
	r = lt_cmd(f->aq, &c, len ? f->buf : NULL, len);
	assert_true(r.done);
	out.status = r.status;
	out.dw0 = le32toh(r.cpl.dw0);
	return out;
}

/* Host Behavior Support with its 512-byte data structure in f->buf. */
static uint16_t hb(struct fx *f, uint8_t opc, uint32_t cdw10, uint32_t len)
{
	return feat(f, opc, 0, NVME_FEAT_FID_HOST_BEHAVIOR | cdw10, 0, len).status;
}

static struct res get(struct fx *f, uint8_t fid, uint32_t sel, uint32_t cdw11)
{
	return feat(f, nvme_admin_get_features, 0, fid | sel << 8, cdw11, 0);
}

static uint16_t set(struct fx *f, uint8_t fid, uint32_t cdw11)
{
	return feat(f, nvme_admin_set_features, 0, fid, cdw11, 0).status;
}

static uint32_t get_ok(struct fx *f, uint8_t fid, uint32_t sel, uint32_t cdw11)
{
	struct res r = get(f, fid, sel, cdw11);

	assert_int_equal(r.status, 0);
	return r.dw0;
}

static const uint8_t dword_fids[] = {
	NVME_FEAT_FID_ARBITRATION, NVME_FEAT_FID_POWER_MGMT, NVME_FEAT_FID_TEMP_THRESH,
	NVME_FEAT_FID_ERR_RECOVERY, NVME_FEAT_FID_VOLATILE_WC, NVME_FEAT_FID_NUM_QUEUES,
	NVME_FEAT_FID_IRQ_COALESCE, NVME_FEAT_FID_IRQ_CONFIG, NVME_FEAT_FID_WRITE_ATOMIC,
	NVME_FEAT_FID_ASYNC_EVENT, NVME_FEAT_FID_KATO,
};

static void test_defaults(void **state)
{
	struct fx *f = *state;

	assert_int_equal(get_ok(f, NVME_FEAT_FID_ARBITRATION, SEL_DEFAULT, 0), 6);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_POWER_MGMT, SEL_DEFAULT, 0), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_TEMP_THRESH, SEL_DEFAULT, 0), NVMFT_WCTEMP_K);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_TEMP_THRESH, SEL_DEFAULT, 1u << 20), 1u << 20);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_ERR_RECOVERY, SEL_DEFAULT, 0), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_VOLATILE_WC, SEL_DEFAULT, 0), 1); /* always present */
	assert_int_equal(get_ok(f, NVME_FEAT_FID_NUM_QUEUES, SEL_DEFAULT, 0),
			 (f->ctrlr->max_qpairs - 2) * 0x10001u);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_IRQ_COALESCE, SEL_DEFAULT, 0), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_IRQ_CONFIG, SEL_DEFAULT, 0), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_WRITE_ATOMIC, SEL_DEFAULT, 0), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_ASYNC_EVENT, SEL_DEFAULT, 0), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_KATO, SEL_DEFAULT, 0), NVMFT_KATO_DEFAULT_MS);

	/* After initialisation every current value is the default; saved is the default too. */
	for (size_t i = 0; i < sizeof(dword_fids); i++) {
		uint32_t dflt = get_ok(f, dword_fids[i], SEL_DEFAULT, 0);

		assert_int_equal(get_ok(f, dword_fids[i], SEL_SAVED, 0), dflt);
		if (dword_fids[i] != NVME_FEAT_FID_KATO) /* Connect set the current one */
			assert_int_equal(get_ok(f, dword_fids[i], SEL_CURRENT, 0), dflt);
	}
}

static void test_saved_is_default_after_set(void **state)
{
	struct fx *f = *state;

	assert_int_equal(set(f, NVME_FEAT_FID_ARBITRATION, 0x01020303), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_ARBITRATION, SEL_CURRENT, 0), 0x01020303);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_ARBITRATION, SEL_SAVED, 0), 6);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_ARBITRATION, SEL_DEFAULT, 0), 6);
}

static void test_sel_supported(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(dword_fids); i++)
		assert_int_equal(get_ok(f, dword_fids[i], SEL_SUPPORTED, 0), 1u << 2);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_HOST_BEHAVIOR, SEL_SUPPORTED, 0), 1u << 2);
	/* Fixed by Connect on fabrics: neither saveable, per namespace nor changeable. */
	assert_int_equal(get_ok(f, NVME_FEAT_FID_HOST_ID, SEL_SUPPORTED, 1), 0);
	/* Capabilities move no data, even for features with a data structure. */
	assert_int_equal(feat(f, nvme_admin_get_features, 0,
			      NVME_FEAT_FID_HOST_BEHAVIOR | SEL_SUPPORTED << 8, 0, 512).status,
			 ST_SGL_LENGTH);
}

static void test_sel_reserved(void **state)
{
	struct fx *f = *state;

	for (uint32_t sel = 4; sel < 8; sel++)
		assert_int_equal(get(f, NVME_FEAT_FID_ARBITRATION, sel, 0).status, ST_INVALID_FIELD);
}

static void test_save_not_saveable(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(dword_fids); i++)
		assert_int_equal(feat(f, nvme_admin_set_features, 0, dword_fids[i] | SAVE, 0, 0).status,
				 ST_NOT_SAVEABLE);
	/* An unknown FID is reported as such first. */
	assert_int_equal(feat(f, nvme_admin_set_features, 0, 0x03 | SAVE, 0, 0).status,
			 ST_INVALID_FIELD);
	/* Nothing changed. */
	assert_int_equal(get_ok(f, NVME_FEAT_FID_ARBITRATION, SEL_CURRENT, 0), 6);
}

static void test_unknown_fid(void **state)
{
	struct fx *f = *state;
	const uint8_t bad[] = { 0x00, 0x03, 0x0c, 0x0d, 0x0e, 0x10, 0x11, 0x12, 0x13, 0x15,
				0x17, 0x18, 0x19, 0x1d, 0x7d, 0x7e, 0x7f, 0x80, 0x82, 0x83,
				0x84, 0xc0, 0xff };

	for (size_t i = 0; i < sizeof(bad); i++) {
		assert_int_equal(get(f, bad[i], SEL_CURRENT, 0).status, ST_INVALID_FIELD);
		assert_int_equal(set(f, bad[i], 0), ST_INVALID_FIELD);
	}
}

static void test_nsid_rules(void **state)
{
	struct fx *f = *state;

	assert_int_equal(feat(f, nvme_admin_set_features, 1, NVME_FEAT_FID_ARBITRATION, 1, 0).status,
			 ST_NOT_PER_NS);
	assert_int_equal(feat(f, nvme_admin_set_features, 0xfffffffe, NVME_FEAT_FID_KATO, 1, 0).status,
			 ST_NOT_PER_NS);
	assert_int_equal(feat(f, nvme_admin_set_features, 0xffffffff, NVME_FEAT_FID_ARBITRATION, 1, 0)
				 .status, 0);
	assert_int_equal(set(f, NVME_FEAT_FID_ARBITRATION, 2), 0);
	/* Get does not care which namespace a controller-wide feature is asked for. */
	assert_int_equal(feat(f, nvme_admin_get_features, 1, NVME_FEAT_FID_ARBITRATION, 0, 0).dw0, 2);
}

static void test_arbitration(void **state)
{
	struct fx *f = *state;

	assert_int_equal(set(f, NVME_FEAT_FID_ARBITRATION, 0xffffffff), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_ARBITRATION, SEL_CURRENT, 0), 0xffffff07);
}

static void test_power_mgmt(void **state)
{
	struct fx *f = *state;

	assert_int_equal(set(f, NVME_FEAT_FID_POWER_MGMT, 0), 0);
	assert_int_equal(set(f, NVME_FEAT_FID_POWER_MGMT, 1), ST_INVALID_FIELD);  /* PS 1 */
	assert_int_equal(set(f, NVME_FEAT_FID_POWER_MGMT, 31), ST_INVALID_FIELD); /* PS 31 */
	assert_int_equal(set(f, NVME_FEAT_FID_POWER_MGMT, 1u << 5), ST_INVALID_FIELD); /* WH */
	assert_int_equal(get_ok(f, NVME_FEAT_FID_POWER_MGMT, SEL_CURRENT, 0), 0);
}

static void test_temp_threshold(void **state)
{
	struct fx *f = *state;
	const uint32_t under = 1u << 20;

	assert_int_equal(get_ok(f, NVME_FEAT_FID_TEMP_THRESH, SEL_CURRENT, 0), NVMFT_WCTEMP_K);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_TEMP_THRESH, SEL_CURRENT, under), under);
	assert_int_equal(set(f, NVME_FEAT_FID_TEMP_THRESH, 350), 0);
	assert_int_equal(set(f, NVME_FEAT_FID_TEMP_THRESH, under | 273), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_TEMP_THRESH, SEL_CURRENT, 0), 350);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_TEMP_THRESH, SEL_CURRENT, under), under | 273);
	assert_int_equal(f->ctrlr->feat.temp_over[0], 350);
	assert_int_equal(f->ctrlr->feat.temp_under[0], 273);
	/* TMPSEL 1111b sets every sensor, here the composite one. */
	assert_int_equal(set(f, NVME_FEAT_FID_TEMP_THRESH, 0xfu << 16 | 360), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_TEMP_THRESH, SEL_CURRENT, 0), 360);
	/* No individual sensors, reserved THSEL values, and 1111b is Set-only. */
	for (uint32_t tmpsel = 1; tmpsel <= 8; tmpsel++) {
		assert_int_equal(set(f, NVME_FEAT_FID_TEMP_THRESH, tmpsel << 16 | 300),
				 ST_INVALID_FIELD);
		assert_int_equal(get(f, NVME_FEAT_FID_TEMP_THRESH, SEL_CURRENT, tmpsel << 16).status,
				 ST_INVALID_FIELD);
	}
	assert_int_equal(set(f, NVME_FEAT_FID_TEMP_THRESH, 2u << 20 | 300), ST_INVALID_FIELD);
	assert_int_equal(set(f, NVME_FEAT_FID_TEMP_THRESH, 3u << 20 | 300), ST_INVALID_FIELD);
	assert_int_equal(get(f, NVME_FEAT_FID_TEMP_THRESH, SEL_CURRENT, 2u << 20).status,
			 ST_INVALID_FIELD);
	assert_int_equal(get(f, NVME_FEAT_FID_TEMP_THRESH, SEL_CURRENT, 0xfu << 16).status,
			 ST_INVALID_FIELD);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_TEMP_THRESH, SEL_CURRENT, 0), 360);
}

static void test_error_recovery(void **state)
{
	struct fx *f = *state;

	assert_int_equal(set(f, NVME_FEAT_FID_ERR_RECOVERY, 0x1234), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_ERR_RECOVERY, SEL_CURRENT, 0), 0x1234);
	assert_int_equal(set(f, NVME_FEAT_FID_ERR_RECOVERY, 1u << 16), ST_INVALID_FIELD); /* DULBE */
	assert_int_equal(get_ok(f, NVME_FEAT_FID_ERR_RECOVERY, SEL_CURRENT, 0), 0x1234);
}

static void test_volatile_wc(void **state)
{
	struct fx *f = *state;
	struct nvmft_backend *be;
	struct tb *tb;

	/*
	 * The cache is always reported present (namespaces with one may come
	 * later), so the feature can be set even before any has one.
	 */
	assert_int_equal(get_ok(f, NVME_FEAT_FID_VOLATILE_WC, SEL_CURRENT, 0), 1);
	assert_int_equal(set(f, NVME_FEAT_FID_VOLATILE_WC, 0), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_VOLATILE_WC, SEL_CURRENT, 0), 0);
	assert_int_equal(set(f, NVME_FEAT_FID_VOLATILE_WC, 1), 0);

	assert_int_equal(tb_new("cache", 64, 512, NVMFT_BACKEND_CAP_FLUSH, TB_INLINE, &tb, &be), 0);
	assert_non_null(lt_env_add_ns(&f->env, f->env.ss, be, 2));
	assert_int_equal(get_ok(f, NVME_FEAT_FID_VOLATILE_WC, SEL_CURRENT, 0), 1);
	assert_int_equal(set(f, NVME_FEAT_FID_VOLATILE_WC, 0), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_VOLATILE_WC, SEL_CURRENT, 0), 0);
	assert_false(f->ctrlr->feat.volatile_wc);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_VOLATILE_WC, SEL_DEFAULT, 0), 1);
	assert_int_equal(set(f, NVME_FEAT_FID_VOLATILE_WC, 0xffffffff), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_VOLATILE_WC, SEL_CURRENT, 0), 1);
}

static void test_num_queues(void **state)
{
	struct fx *f = *state;
	uint32_t max = f->ctrlr->max_qpairs - 2;
	struct res r;

	r = feat(f, nvme_admin_set_features, 0, NVME_FEAT_FID_NUM_QUEUES, 3u << 16 | 1, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.dw0, 3u << 16 | 1);
	assert_true(f->ctrlr->feat.num_queues_set);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_NUM_QUEUES, SEL_CURRENT, 0), 3u << 16 | 1);
	/* Capped at what the controller has. */
	r = feat(f, nvme_admin_set_features, 0, NVME_FEAT_FID_NUM_QUEUES, 0xfffeu << 16 | 0xfffe, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.dw0, max << 16 | max);
	/* 65536 queues do not exist. */
	assert_int_equal(set(f, NVME_FEAT_FID_NUM_QUEUES, 0xffff), ST_INVALID_FIELD);
	assert_int_equal(set(f, NVME_FEAT_FID_NUM_QUEUES, 0xffffu << 16), ST_INVALID_FIELD);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_NUM_QUEUES, SEL_CURRENT, 0), max << 16 | max);
	/* Once an I/O queue exists the allocation is fixed (white box: a second queue pair). */
	f->ctrlr->num_qpairs++;
	assert_int_equal(set(f, NVME_FEAT_FID_NUM_QUEUES, 0), ST_CMD_SEQ);
	f->ctrlr->num_qpairs--;
	assert_int_equal(get_ok(f, NVME_FEAT_FID_NUM_QUEUES, SEL_CURRENT, 0), max << 16 | max);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_NUM_QUEUES, SEL_DEFAULT, 0), max << 16 | max);
}

static void test_irq(void **state)
{
	struct fx *f = *state;
	uint32_t nvec = f->ctrlr->max_qpairs;

	assert_int_equal(set(f, NVME_FEAT_FID_IRQ_COALESCE, 0xffff1234), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_IRQ_COALESCE, SEL_CURRENT, 0), 0x1234);

	assert_int_equal(get_ok(f, NVME_FEAT_FID_IRQ_CONFIG, SEL_CURRENT, 3), 3);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_IRQ_CONFIG, SEL_CURRENT, nvec - 1), nvec - 1);
	assert_int_equal(get(f, NVME_FEAT_FID_IRQ_CONFIG, SEL_CURRENT, nvec).status, ST_INVALID_FIELD);
	assert_int_equal(set(f, NVME_FEAT_FID_IRQ_CONFIG, 1), 0);
	assert_int_equal(set(f, NVME_FEAT_FID_IRQ_CONFIG, nvec), ST_INVALID_FIELD);
	/* Coalescing is never applied, so it cannot be switched off per vector. */
	assert_int_equal(set(f, NVME_FEAT_FID_IRQ_CONFIG, 1u << 16 | 1), ST_INVALID_FIELD);
}

static void test_write_atomicity(void **state)
{
	struct fx *f = *state;

	assert_int_equal(set(f, NVME_FEAT_FID_WRITE_ATOMIC, 3), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_WRITE_ATOMIC, SEL_CURRENT, 0), 1);
	assert_int_equal(set(f, NVME_FEAT_FID_WRITE_ATOMIC, 0), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_WRITE_ATOMIC, SEL_CURRENT, 0), 0);
}

static void test_async_event_config(void **state)
{
	struct fx *f = *state;

	/* Only SMART warnings and namespace attribute notices exist on an I/O controller. */
	assert_int_equal(set(f, NVME_FEAT_FID_ASYNC_EVENT, 0xffffffff), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_ASYNC_EVENT, SEL_CURRENT, 0), 0x1ff);
	assert_int_equal(set(f, NVME_FEAT_FID_ASYNC_EVENT, 1u << 8), 0);
	assert_int_equal(f->ctrlr->feat.async_event_config, 1u << 8);
	assert_int_equal(set(f, NVME_FEAT_FID_ASYNC_EVENT, 1u << 31), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_ASYNC_EVENT, SEL_CURRENT, 0), 0);
}

static void test_kato(void **state)
{
	struct fx *f = *state;

	assert_int_equal(set(f, NVME_FEAT_FID_KATO, 1), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_KATO, SEL_CURRENT, 0), 100);
	assert_int_equal(set(f, NVME_FEAT_FID_KATO, 250), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_KATO, SEL_CURRENT, 0), 300);
	assert_int_equal(set(f, NVME_FEAT_FID_KATO, 0xffffffff), 0);
	assert_int_equal(get_ok(f, NVME_FEAT_FID_KATO, SEL_CURRENT, 0), 4294967200u);
	assert_int_equal(set(f, NVME_FEAT_FID_KATO, 0), 0);
	assert_int_equal(f->ctrlr->kato_ms, 0);
	/* Setting it restarts the timer from now. */
	f->ctrlr->ka_deadline_ms = 0;
	assert_int_equal(set(f, NVME_FEAT_FID_KATO, 5000), 0);
	assert_int_equal(f->ctrlr->kato_ms, 5000);
	assert_true(f->ctrlr->ka_deadline_ms > 0);
	assert_int_equal(set(f, NVME_FEAT_FID_KATO, 0), 0);
}

static void test_host_behavior(void **state)
{
	struct fx *f = *state;
	const size_t bad_off[] = { 0, 1, 2, 3, 100, 511 };
	uint8_t data[512];
	struct res r;

	r = feat(f, nvme_admin_get_features, 0, NVME_FEAT_FID_HOST_BEHAVIOR, 0, 512);
	assert_int_equal(r.status, 0);
	for (int i = 0; i < 512; i++)
		assert_int_equal(f->buf[i], 0);

	memset(data, 0, sizeof(data));
	data[0] = 1; /* ACRE */
	data[1] = 1; /* ETDAS */
	memcpy(f->buf, data, sizeof(data));
	assert_int_equal(hb(f, nvme_admin_set_features, 0, 512), 0);
	r = feat(f, nvme_admin_get_features, 0, NVME_FEAT_FID_HOST_BEHAVIOR, 0, 512);
	assert_int_equal(r.status, 0);
	assert_int_equal(f->buf[0], 1);
	assert_int_equal(f->buf[1], 1);
	for (int i = 2; i < 512; i++)
		assert_int_equal(f->buf[i], 0);
	/* The default is all zero. */
	r = feat(f, nvme_admin_get_features, 0, NVME_FEAT_FID_HOST_BEHAVIOR | SEL_DEFAULT << 8, 0, 512);
	assert_int_equal(r.status, 0);
	assert_int_equal(f->buf[0], 0);

	/* Values the controller cannot honour, and reserved bytes. */
	for (size_t i = 0; i < sizeof(bad_off) / sizeof(bad_off[0]); i++) {
		memset(f->buf, 0, 512);
		f->buf[bad_off[i]] = bad_off[i] < 2 ? 2 : 1;
		assert_int_equal(hb(f, nvme_admin_set_features, 0, 512), ST_INVALID_FIELD);
	}
	assert_int_equal(f->ctrlr->feat.host_behavior, 0x101);

	/* Exactly 512 bytes both ways. */
	assert_int_equal(hb(f, nvme_admin_set_features, 0, 256), ST_SGL_LENGTH);
	assert_int_equal(hb(f, nvme_admin_set_features, 0, 0), ST_SGL_LENGTH);
	assert_int_equal(hb(f, nvme_admin_get_features, 0, 1024), ST_SGL_LENGTH);
}

static void test_host_id_fabrics(void **state)
{
	struct fx *f = *state;
	struct res r;

	r = feat(f, nvme_admin_get_features, 0, NVME_FEAT_FID_HOST_ID, 1, 16);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.dw0, 1);
	assert_memory_equal(f->buf, LT_HOSTID, 16);
	/* 64-bit host identifiers do not exist on fabrics. */
	assert_int_equal(feat(f, nvme_admin_get_features, 0, NVME_FEAT_FID_HOST_ID, 0, 8).status,
			 ST_INVALID_FIELD);
	assert_int_equal(feat(f, nvme_admin_get_features, 0, NVME_FEAT_FID_HOST_ID, 1, 8).status,
			 ST_SGL_LENGTH);
	/* Connect fixed it. */
	memset(f->buf, 0x42, 16);
	assert_int_equal(feat(f, nvme_admin_set_features, 0, NVME_FEAT_FID_HOST_ID, 1, 16).status,
			 ST_CMD_SEQ);
	assert_int_equal(feat(f, nvme_admin_set_features, 0, NVME_FEAT_FID_HOST_ID, 1, 0).status,
			 ST_SGL_LENGTH);
	r = feat(f, nvme_admin_get_features, 0, NVME_FEAT_FID_HOST_ID, 1, 16);
	assert_memory_equal(f->buf, LT_HOSTID, 16);
}

static void test_host_id_pcie(void **state)
{
	struct fx *f = *state;
	struct nvmft_qpair *qp = lt_qpair_core(f->aq);
	struct nvmft_transport *real = qp->tr, *real_ctrlr_tr = f->ctrlr->tr;
	struct nvmft_transport fake = *real;
	struct nvmft_transport_ops ops = *real->ops;
	const uint8_t id[16] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6 };
	struct res r;

	/* A PCIe-like transport (vfio-user): the host sets its identifier itself. */
	ops.caps |= NVMFT_TR_CAP_PCIE;
	fake.ops = &ops;
	qp->tr = &fake;
	f->ctrlr->tr = &fake;
	assert_int_equal(get_ok(f, NVME_FEAT_FID_HOST_ID, SEL_SUPPORTED, 1), 1u << 2);
	memcpy(f->buf, id, 16);
	assert_int_equal(feat(f, nvme_admin_set_features, 0, NVME_FEAT_FID_HOST_ID, 1, 16).status, 0);
	r = feat(f, nvme_admin_get_features, 0, NVME_FEAT_FID_HOST_ID, 1, 16);
	assert_int_equal(r.status, 0);
	assert_memory_equal(f->buf, id, 16);
	assert_int_equal(feat(f, nvme_admin_set_features, 0, NVME_FEAT_FID_HOST_ID, 0, 8).status,
			 ST_INVALID_FIELD);
	f->ctrlr->num_qpairs++;
	assert_int_equal(feat(f, nvme_admin_set_features, 0, NVME_FEAT_FID_HOST_ID, 1, 16).status,
			 ST_CMD_SEQ);
	f->ctrlr->num_qpairs--;
	qp->tr = real;
	f->ctrlr->tr = real_ctrlr_tr;
}

static void test_no_data_lengths(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(dword_fids); i++) {
		assert_int_equal(feat(f, nvme_admin_get_features, 0, dword_fids[i], 0, 4).status,
				 ST_SGL_LENGTH);
		assert_int_equal(feat(f, nvme_admin_set_features, 0, dword_fids[i], 0, 16).status,
				 ST_SGL_LENGTH);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_saved_is_default_after_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sel_supported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sel_reserved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_not_saveable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_fid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nsid_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arbitration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_mgmt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temp_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_volatile_wc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_num_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomicity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_event_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kato, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_behavior, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_id_fabrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_id_pcie, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_data_lengths, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
