/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Controllers: asynchronous event masking (and Retain Asynchronous Event),
 * the Changed Namespace List and its overflow marker, the Error
 * Information log, the keep-alive timer (Keep Alive, Set Features,
 * expiry), and what CC may hold when a host enables the controller.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ctrlr.h"
#include "core/qpair.h"
#include "loop_transport.h"
#include "util/time.h"

#define NQN "nqn.2024-01.io.example:ctrlr"
#define ST(sct, sc) NVMFT_STATUS(sct, sc)
#define ST_DNR(sct, sc) NVMFT_STATUS_DNR(sct, sc)
#define AEN_NS_CHANGED \
	(NVME_AER_NOTICE | NVME_AER_NOTICE_NS_CHANGED << 8 | NVME_LOG_LID_CHANGED_NS << 16)
#define WAIT_LIMIT 100000

struct fx {
	struct lt_env env;
	struct lt_qpair *aq, *iq;
	struct nvmft_ctrlr *ctrlr;
	uint16_t cntlid;
};

static void fx_init(struct fx *f, uint32_t max_ns, uint32_t kato)
{
	struct nvmft_subsystem_opts so;
	struct lt_cpl r;

	memset(f, 0, sizeof(*f));
	assert_int_equal(lt_env_init(&f->env, NULL), 0);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = NQN;
	so.allow_any_host = true;
	so.max_namespaces = max_ns;
	assert_int_equal(nvmft_subsystem_new(f->env.tgt, &so, &f->env.ss), 0);
	assert_int_equal(nvmft_subsystem_add_listener(f->env.ss, f->env.listener), 0);
	assert_non_null(lt_env_add_malloc_ns(&f->env, f->env.ss, 1, 64, 512));
	f->aq = lt_qpair_new(&f->env, 0);
	r = lt_connect_raw(f->aq, 0, 31, kato, NVMFT_CNTLID_DYNAMIC, NQN, LT_HOSTNQN);
	assert_int_equal(r.status, 0);
	f->cntlid = le16toh(r.cpl.connect.cntlid);
	assert_int_equal(lt_prop_set(f->aq, NVME_REG_CC, 1u | 6u << 16 | 4u << 20).status, 0);
	f->ctrlr = lt_qpair_core(f->aq)->ctrlr;
	f->iq = lt_connect_io(&f->env, NQN, LT_HOSTNQN, f->cntlid, 1, 31);
	assert_non_null(f->iq);
}

static int aer(struct fx *f)
{
	struct nvmft_cmd c = { .opcode = nvme_admin_async_event };
	int tag = lt_submit(f->aq, &c, NULL, 0);

	assert_true(tag >= 0);
	lt_env_settle(&f->env);
	return tag;
}

static uint16_t set_feature(struct fx *f, uint8_t fid, uint32_t cdw11)
{
	struct nvmft_cmd c = { .opcode = nvme_admin_set_features };

	c.cdw10 = htole32(fid);
	c.cdw11 = htole32(cdw11);
	return lt_cmd(f->aq, &c, NULL, 0).status;
}

static struct lt_cpl get_log(struct fx *f, uint8_t lid, bool rae, void *buf, uint32_t len)
{
	struct nvmft_cmd c = { .opcode = nvme_admin_get_log_page, .nsid = htole32(NVME_NSID_ALL) };
	uint32_t numd = len / 4 - 1;

	c.cdw10 = htole32(lid | (rae ? 1u << 15 : 0) | (numd & 0xffff) << 16);
	c.cdw11 = htole32(numd >> 16);
	return lt_cmd(f->aq, &c, buf, len);
}

/* Changed Namespace List: the entries before the first zero. */
static int changed_list(struct fx *f, bool rae, uint32_t out[1024])
{
	int n = 0;

	memset(out, 0xab, 4096);
	assert_int_equal(get_log(f, NVME_LOG_LID_CHANGED_NS, rae, out, 4096).status, 0);
	while (n < 1024 && out[n] != 0) {
		out[n] = le32toh(out[n]);
		n++;
	}
	return n;
}

struct ns_wait {
	bool done;
	int status;
};

static void ns_cb(void *arg, int status)
{
	struct ns_wait *w = arg;

	w->done = true;
	w->status = status;
}

static void wait_ns(struct fx *f, struct ns_wait *w)
{
	for (int i = 0; i < WAIT_LIMIT && !w->done; i++)
		lt_env_poll(&f->env);
	assert_true(w->done);
	assert_int_equal(w->status, 0);
}

/* Add and remove namespace @nsid backed by @be: two changes of one NSID. */
static void cycle_ns(struct fx *f, struct nvmft_backend *be, uint32_t nsid)
{
	struct nvmft_ns_opts o;
	struct ns_wait w = { 0 };
	struct nvmft_ns *ns;

	nvmft_ns_opts_init(&o, sizeof(o));
	o.nsid = nsid;
	assert_int_equal(nvmft_ns_add(f->env.ss, be, &o, ns_cb, &w, &ns), 0);
	wait_ns(f, &w);
	memset(&w, 0, sizeof(w));
	nvmft_ns_remove(ns, ns_cb, &w);
	wait_ns(f, &w);
	/* The backend's claim goes with the message after the callback. */
	nvmft_target_poll(f->env.tgt);
}

/* ---- Asynchronous events --------------------------------------------------------------------- */

static void test_aen_masked_until_log_read(void **state)
{
	struct fx f;
	uint32_t list[1024];
	struct lt_cpl r;
	int a1, a2;

	(void)state;
	fx_init(&f, 32, 0);
	/* Not enabled yet (Asynchronous Event Configuration is 0): no event, but the list fills. */
	a1 = aer(&f);
	assert_non_null(lt_env_add_malloc_ns(&f.env, f.env.ss, 2, 64, 512));
	assert_false(lt_done(f.aq, a1));
	assert_int_equal(changed_list(&f, false, list), 1);
	assert_int_equal(list[0], 2);

	assert_int_equal(set_feature(&f, NVME_FEAT_FID_ASYNC_EVENT, 1u << 8), 0);
	assert_non_null(lt_env_add_malloc_ns(&f.env, f.env.ss, 3, 64, 512));
	r = lt_wait(f.aq, a1);
	assert_true(r.done);
	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(r.cpl.dw0), AEN_NS_CHANGED);

	/* Reported once: more changes stay masked while the log is unread. */
	a2 = aer(&f);
	assert_non_null(lt_env_add_malloc_ns(&f.env, f.env.ss, 4, 64, 512));
	assert_false(lt_done(f.aq, a2));
	/*
	 * Reading with Retain Asynchronous Event returns (and consumes) the
	 * changes since the last read, but keeps the event type masked.
	 */
	assert_int_equal(changed_list(&f, true, list), 2);
	assert_int_equal(list[0], 3);
	assert_int_equal(list[1], 4);
	lt_env_settle(&f.env);
	assert_false(lt_done(f.aq, a2));
	assert_int_equal(changed_list(&f, true, list), 0);
	assert_non_null(lt_env_add_malloc_ns(&f.env, f.env.ss, 5, 64, 512));
	assert_false(lt_done(f.aq, a2));
	/* Without RAE the event type is unmasked. */
	assert_int_equal(changed_list(&f, false, list), 1);
	assert_int_equal(list[0], 5);
	lt_env_fini(&f.env);
}

/*
 * Every Namespace Attribute Changed event must lead the host to a list with
 * something in it: a change the host already consumed from the log must
 * not come back as a second event after the read.
 */
static void test_no_aen_for_consumed_changes(void **state)
{
	struct fx f;
	uint32_t list[1024];
	struct lt_cpl r;
	int a1, a2, n_after_aen = -1;
	bool early;

	(void)state;
	fx_init(&f, 32, 0);
	assert_int_equal(set_feature(&f, NVME_FEAT_FID_ASYNC_EVENT, 1u << 8), 0);
	a1 = aer(&f);
	assert_non_null(lt_env_add_malloc_ns(&f.env, f.env.ss, 2, 64, 512));
	r = lt_wait(f.aq, a1);
	assert_int_equal(le32toh(r.cpl.dw0), AEN_NS_CHANGED);
	a2 = aer(&f);
	assert_non_null(lt_env_add_malloc_ns(&f.env, f.env.ss, 3, 64, 512)); /* masked */
	assert_int_equal(changed_list(&f, false, list), 2);                  /* host sees 2 and 3 */
	assert_int_equal(list[1], 3);
	lt_env_settle(&f.env);
	early = lt_done(f.aq, a2);
	if (early) {
		r = lt_wait(f.aq, a2);
		assert_int_equal(le32toh(r.cpl.dw0), AEN_NS_CHANGED);
		n_after_aen = changed_list(&f, false, list);
	} else {
		/* A new change is reported normally. */
		assert_non_null(lt_env_add_malloc_ns(&f.env, f.env.ss, 4, 64, 512));
		r = lt_wait(f.aq, a2);
		assert_int_equal(le32toh(r.cpl.dw0), AEN_NS_CHANGED);
		n_after_aen = changed_list(&f, false, list);
		assert_int_equal(list[0], 4);
	}
	lt_env_fini(&f.env);
	assert_int_not_equal(n_after_aen, 0);
}

/* More than 1024 distinct NSIDs changed: the list says "rescan everything". */
static void test_changed_ns_overflow(void **state)
{
	struct fx f;
	struct nvmft_backend *be;
	uint32_t list[1024];

	(void)state;
	fx_init(&f, 2000, 0);
	assert_int_equal(nvmft_backend_null_new("ctrlr-null", 8, 512, &be), 0);
	/* Exactly 1024 fit, in order; changing one again adds nothing. */
	for (uint32_t nsid = 2; nsid <= 1025; nsid++)
		cycle_ns(&f, be, nsid);
	cycle_ns(&f, be, 700);
	assert_int_equal(changed_list(&f, true, list), 1024);
	for (uint32_t i = 0; i < 1024; i++)
		assert_int_equal(list[i], i + 2);
	assert_int_equal(changed_list(&f, true, list), 0);
	/* One more distinct NSID than fits: only the overflow marker. */
	for (uint32_t nsid = 2; nsid <= 1025; nsid++)
		cycle_ns(&f, be, nsid);
	cycle_ns(&f, be, 1999);
	assert_int_equal(changed_list(&f, true, list), 1);
	assert_int_equal(list[0], 0xffffffff);
	assert_int_equal(list[1], 0);
	assert_int_equal(changed_list(&f, false, list), 0);
	cycle_ns(&f, be, 5);
	assert_int_equal(changed_list(&f, false, list), 1);
	assert_int_equal(list[0], 5);
	lt_env_fini(&f.env);
	assert_int_equal(nvmft_backend_free(be), 0);
}

/* ---- Error Information log ------------------------------------------------------------------- */

static void test_error_log(void **state)
{
	struct fx f;
	struct nvme_error_log_page log[NVMFT_ERRLOG_ENTRIES];
	uint8_t id[4096], buf[512];
	struct lt_cpl r1, r2;
	uint16_t cid[20];

	(void)state;
	fx_init(&f, 32, 0);
	assert_int_equal(get_log(&f, NVME_LOG_LID_ERROR, false, log, sizeof(log)).status, 0);
	for (int i = 0; i < NVMFT_ERRLOG_ENTRIES; i++)
		assert_int_equal(le64toh(log[i].error_count), 0);

	r1 = lt_identify(f.aq, 0xfe, 0, 0, id);
	assert_int_equal(r1.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
	r2 = lt_rw(f.iq, false, 9, 0, 1, buf, 512);
	assert_int_equal(r2.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS));
	/* Successful commands are not errors. */
	assert_int_equal(lt_rw(f.iq, false, 1, 0, 1, buf, 512).status, 0);

	memset(log, 0xff, sizeof(log));
	assert_int_equal(get_log(&f, NVME_LOG_LID_ERROR, false, log, sizeof(log)).status, 0);
	/* Newest first. */
	assert_int_equal(le64toh(log[0].error_count), 2);
	assert_int_equal(le16toh(log[0].sqid), 1);
	assert_int_equal(le16toh(log[0].cmdid), le16toh(r2.cpl.cid));
	assert_int_equal(le16toh(log[0].status_field) >> 1, r2.status);
	assert_int_equal(le32toh(log[0].nsid), 9);
	assert_int_equal(le16toh(log[0].parm_error_location), 0xffff);
	assert_int_equal(le64toh(log[1].error_count), 1);
	assert_int_equal(le16toh(log[1].sqid), 0);
	assert_int_equal(le16toh(log[1].cmdid), le16toh(r1.cpl.cid));
	assert_int_equal(le16toh(log[1].status_field) >> 1, r1.status);
	assert_int_equal(le64toh(log[2].error_count), 0);

	/* The log keeps the newest 16. */
	for (int i = 0; i < 18; i++) {
		struct lt_cpl r = lt_rw(f.iq, true, 1, 1000 + (uint64_t)i, 1, buf, 512);

		assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE));
		cid[i] = le16toh(r.cpl.cid);
	}
	assert_int_equal(get_log(&f, NVME_LOG_LID_ERROR, false, log, sizeof(log)).status, 0);
	for (int i = 0; i < NVMFT_ERRLOG_ENTRIES; i++) {
		assert_int_equal(le64toh(log[i].error_count), 20 - i);
		assert_int_equal(le16toh(log[i].cmdid), cid[17 - i]);
		assert_int_equal(le16toh(log[i].sqid), 1);
	}
	lt_env_fini(&f.env);
}

/* ---- Keep-alive ------------------------------------------------------------------------------ */

static uint16_t keep_alive(struct fx *f)
{
	struct nvmft_cmd c = { .opcode = nvme_admin_keep_alive };

	return lt_cmd(f->aq, &c, NULL, 0).status;
}

static void test_keep_alive_rearms(void **state)
{
	struct fx f;
	uint64_t before, after;

	(void)state;
	fx_init(&f, 32, 5000);
	assert_int_equal(nvmft_ctrlr_get_kato_ms(f.ctrlr), 5000);
	assert_int_not_equal(f.ctrlr->ka_timer.deadline_ms, 0);
	/* Pretend the deadline is (almost) here; a Keep Alive moves it a full KATO out. */
	f.ctrlr->ka_deadline_ms = 1;
	before = nvmft_now_ms();
	assert_int_equal(keep_alive(&f), 0);
	after = nvmft_now_ms();
	assert_true(f.ctrlr->ka_deadline_ms >= before + 5000);
	assert_true(f.ctrlr->ka_deadline_ms <= after + 5000);

	/* The timer fires early (it follows lazily): the controller survives and re-arms. */
	nvmft_pg_timer_arm(f.env.pg[0], &f.ctrlr->ka_timer, 1);
	lt_env_settle(&f.env);
	assert_false(lt_qpair_is_dead(f.aq));
	assert_int_equal(f.ctrlr->ka_timer.deadline_ms, f.ctrlr->ka_deadline_ms);
	lt_env_fini(&f.env);
}

static void test_keep_alive_expiry_fails_controller(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 32, 5000);
	f.ctrlr->ka_deadline_ms = 1;
	nvmft_pg_timer_arm(f.env.pg[0], &f.ctrlr->ka_timer, 1);
	lt_env_settle(&f.env);
	assert_true(lt_qpair_is_dead(f.aq));
	assert_true(lt_qpair_is_freed(f.aq));
	assert_true(lt_qpair_is_dead(f.iq));
	assert_true(lt_qpair_is_freed(f.iq));
	assert_int_equal(nvmft_poll_group_get_timeout_ms(f.env.pg[0]), -1);
	lt_env_fini(&f.env);
}

static void test_keep_alive_without_kato(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 32, 0);
	assert_int_equal(nvmft_ctrlr_get_kato_ms(f.ctrlr), 0);
	assert_int_equal(keep_alive(&f), 0);
	assert_int_equal(f.ctrlr->ka_timer.deadline_ms, 0);
	assert_int_equal(nvmft_poll_group_get_timeout_ms(f.env.pg[0]), -1);
	lt_env_fini(&f.env);
}

static void test_set_features_kato(void **state)
{
	struct fx f;
	struct nvmft_cmd get = { .opcode = nvme_admin_get_features };
	struct lt_cpl r;
	uint64_t before, after;
	int t;

	(void)state;
	fx_init(&f, 32, 0);
	assert_int_equal(nvmft_poll_group_get_timeout_ms(f.env.pg[0]), -1);
	before = nvmft_now_ms();
	assert_int_equal(set_feature(&f, NVME_FEAT_FID_KATO, 3000), 0);
	after = nvmft_now_ms();
	assert_int_equal(nvmft_ctrlr_get_kato_ms(f.ctrlr), 3000);
	assert_true(f.ctrlr->ka_deadline_ms >= before + 3000);
	assert_true(f.ctrlr->ka_deadline_ms <= after + 3000);
	t = nvmft_poll_group_get_timeout_ms(f.env.pg[0]);
	assert_true(t > 0 && t <= 3000);

	/* Rounded up to the 100 ms granularity, as Get Features shows it. */
	assert_int_equal(set_feature(&f, NVME_FEAT_FID_KATO, 1550), 0);
	assert_int_equal(nvmft_ctrlr_get_kato_ms(f.ctrlr), 1600);
	get.cdw10 = htole32(NVME_FEAT_FID_KATO);
	r = lt_cmd(f.aq, &get, NULL, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(r.cpl.dw0), 1600);
	assert_false(lt_qpair_is_dead(f.aq));
	lt_env_fini(&f.env);
}

/* Turning keep-alive off leaves no deadline behind for an event-driven host. */
static void test_set_features_kato_zero_disarms(void **state)
{
	struct fx f;
	int t;

	(void)state;
	fx_init(&f, 32, 5000);
	assert_true(nvmft_poll_group_get_timeout_ms(f.env.pg[0]) > 0);
	assert_int_equal(set_feature(&f, NVME_FEAT_FID_KATO, 0), 0);
	assert_int_equal(nvmft_ctrlr_get_kato_ms(f.ctrlr), 0);
	lt_env_settle(&f.env);
	t = nvmft_poll_group_get_timeout_ms(f.env.pg[0]);
	lt_env_fini(&f.env);
	assert_int_equal(t, -1);
}

/* ---- CC on enable ------------------------------------------------------------------------- */

#define CC_SQES(v) ((uint32_t)(v) << NVME_CC_IOSQES_SHIFT)
#define CC_CQES(v) ((uint32_t)(v) << NVME_CC_IOCQES_SHIFT)
#define CC_GOOD (NVMFT_CC_EN | CC_SQES(6) | CC_CQES(4))

/* Write @cc to a fresh controller of @nqn; return CSTS afterwards. */
static uint64_t enable_with(struct lt_env *env, const char *nqn, uint32_t cc)
{
	struct lt_qpair *q = lt_qpair_new(env, 0);
	uint64_t csts = 0xdead;

	assert_int_equal(lt_connect_raw(q, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, nqn, LT_HOSTNQN).status, 0);
	assert_int_equal(lt_prop_set(q, NVME_REG_CC, cc).status, 0);
	assert_int_equal(lt_prop_get(q, NVME_REG_CSTS, false, &csts).status, 0);
	if (csts & NVMFT_CSTS_CFS) {
		/* A reset clears the failure; a valid CC then brings the controller up. */
		assert_int_equal(lt_prop_set(q, NVME_REG_CC, 0).status, 0);
		lt_env_settle(env);
		assert_int_equal(lt_prop_get(q, NVME_REG_CSTS, false, &(uint64_t){ 0 }).status, 0);
		assert_int_equal(lt_prop_set(q, NVME_REG_CC, CC_GOOD).status, 0);
		assert_int_equal(lt_prop_get(q, NVME_REG_CSTS, false, &(uint64_t){ 0 }).status, 0);
		assert_int_equal(lt_identify(q, NVME_IDENTIFY_CNS_CTRL, 0, 0, (uint8_t[4096]){ 0 }).status, 0);
	}
	lt_qpair_close(q);
	return csts;
}

static void test_cc_checked_on_enable(void **state)
{
	static const struct {
		uint32_t cc;
		bool ok;
	} nvm[] = {
		{ CC_GOOD, true },
		/* Entry sizes other than Identify SQES/CQES (64 and 16 bytes). */
		{ NVMFT_CC_EN, false },
		{ NVMFT_CC_EN | CC_SQES(6), false },
		{ NVMFT_CC_EN | CC_CQES(4), false },
		{ NVMFT_CC_EN | CC_SQES(7) | CC_CQES(4), false },
		{ NVMFT_CC_EN | CC_SQES(6) | CC_CQES(5), false },
		/* Page size outside CAP.MPSMIN..MPSMAX (4 KiB only). */
		{ CC_GOOD | 1u << NVME_CC_MPS_SHIFT, false },
		/* Arbitration CAP.AMS does not offer: weighted round robin, vendor specific, reserved. */
		{ CC_GOOD | NVME_CC_AMS_WRRU << NVME_CC_AMS_SHIFT, false },
		{ CC_GOOD | NVME_CC_AMS_VS << NVME_CC_AMS_SHIFT, false },
		{ CC_GOOD | 3u << NVME_CC_AMS_SHIFT, false },
		/* Command sets CAP.CSS does not offer, and reserved values. */
		{ CC_GOOD | NVME_CC_CSS_CSI << NVME_CC_CSS_SHIFT, false },
		{ CC_GOOD | NVME_CC_CSS_ADMIN << NVME_CC_CSS_SHIFT, false },
		{ CC_GOOD | 1u << NVME_CC_CSS_SHIFT, false },
	};
	struct lt_env env;
	uint64_t csts;

	(void)state;
	assert_int_equal(lt_env_init(&env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	for (size_t i = 0; i < sizeof(nvm) / sizeof(nvm[0]); i++) {
		csts = enable_with(&env, NQN, nvm[i].cc);
		assert_int_equal(csts & (NVMFT_CSTS_RDY | NVMFT_CSTS_CFS),
				 nvm[i].ok ? NVMFT_CSTS_RDY : NVMFT_CSTS_CFS);
	}
	/*
	 * A discovery controller has no I/O queues: the specification has the
	 * entry sizes zero there and Linux writes 6 and 4, so both enable it.
	 * The rest is checked as for any controller.
	 */
	csts = enable_with(&env, NVMFT_DISCOVERY_NQN, CC_GOOD);
	assert_int_equal(csts & (NVMFT_CSTS_RDY | NVMFT_CSTS_CFS), NVMFT_CSTS_RDY);
	csts = enable_with(&env, NVMFT_DISCOVERY_NQN, NVMFT_CC_EN);
	assert_int_equal(csts & (NVMFT_CSTS_RDY | NVMFT_CSTS_CFS), NVMFT_CSTS_RDY);
	csts = enable_with(&env, NVMFT_DISCOVERY_NQN, CC_GOOD | 1u << NVME_CC_MPS_SHIFT);
	assert_int_equal(csts & (NVMFT_CSTS_RDY | NVMFT_CSTS_CFS), NVMFT_CSTS_CFS);
	csts = enable_with(&env, NVMFT_DISCOVERY_NQN, CC_GOOD | 1u << NVME_CC_AMS_SHIFT);
	assert_int_equal(csts & (NVMFT_CSTS_RDY | NVMFT_CSTS_CFS), NVMFT_CSTS_CFS);
	lt_env_fini(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aen_masked_until_log_read),
		cmocka_unit_test(test_no_aen_for_consumed_changes),
		cmocka_unit_test(test_changed_ns_overflow),
		cmocka_unit_test(test_error_log),
		cmocka_unit_test(test_keep_alive_rearms),
		cmocka_unit_test(test_keep_alive_expiry_fails_controller),
		cmocka_unit_test(test_keep_alive_without_kato),
		cmocka_unit_test(test_set_features_kato),
		cmocka_unit_test(test_cc_checked_on_enable),
		cmocka_unit_test(test_set_features_kato_zero_disarms),
	};

	return cmocka_run_group_tests_name("ctrlr", tests, NULL, NULL);
}
