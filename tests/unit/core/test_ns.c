/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Namespace add/remove while hosts are connected: AENs, I/O in flight, a
 * hung backend with the drain deadline (the host is answered, the backend
 * keeps its request until it completes), backend hot-removal, and
 * subsystem pause/resume and deletion under I/O.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop_transport.h"
#include "test_backend.h"

#define NQN "nqn.2024-01.io.example:ns"
#define ST_DNR(sct, sc) NVMFT_STATUS_DNR(sct, sc)
#define ST_GONE ST_DNR(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY)

struct fixture {
	struct lt_env env;
	struct lt_qpair *aq;
	struct lt_qpair *iq;
	uint16_t cntlid;
};

static int setup(void **state)
{
	static struct fixture f;
	struct lt_env_opts o = { .nr_pgs = 2, .drain_timeout_ms = 300 };

	memset(&f, 0, sizeof(f));
	if (lt_env_init(&f.env, &o) != 0 || lt_env_add_subsystem(&f.env, NQN, true) == NULL)
		return -1;
	if (lt_env_add_malloc_ns(&f.env, f.env.ss, 1, 256, 512) == NULL)
		return -1;
	f.aq = lt_connect_admin(&f.env, NQN, LT_HOSTNQN, &f.cntlid);
	if (f.aq == NULL)
		return -1;
	f.iq = lt_connect_io(&f.env, NQN, LT_HOSTNQN, f.cntlid, 1, 63);
	if (f.iq == NULL)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	lt_env_fini(&f->env);
	return 0;
}

/* Enable namespace-attribute notices and park one AER; returns its tag. */
static int arm_aer(struct fixture *f)
{
	struct nvmft_cmd sf = { .opcode = nvme_admin_set_features };
	struct nvmft_cmd aer = { .opcode = nvme_admin_async_event };

	sf.cdw10 = htole32(NVME_FEAT_FID_ASYNC_EVENT);
	sf.cdw11 = htole32(1u << 8);
	assert_int_equal(lt_cmd(f->aq, &sf, NULL, 0).status, 0);
	return lt_submit(f->aq, &aer, NULL, 0);
}

static void assert_ns_changed_aen(struct fixture *f, int tag, uint32_t nsid)
{
	struct lt_cpl r = lt_wait(f->aq, tag);
	uint32_t log[1024];

	assert_true(r.done);
	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(r.cpl.dw0), NVME_AER_NOTICE | NVME_AER_NOTICE_NS_CHANGED << 8 |
						 NVME_LOG_LID_CHANGED_NS << 16);
	memset(log, 0xff, sizeof(log));
	assert_int_equal(lt_get_log(f->aq, NVME_LOG_LID_CHANGED_NS, 0xffffffff, 0, log, sizeof(log)).status, 0);
	assert_int_equal(le32toh(log[0]), nsid);
	assert_int_equal(le32toh(log[1]), 0);
}

static bool active_list_has(struct fixture *f, uint32_t nsid)
{
	uint32_t list[1024];

	assert_int_equal(lt_identify(f->aq, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0, list).status, 0);
	for (int i = 0; i < 1024 && list[i] != 0; i++)
		if (le32toh(list[i]) == nsid)
			return true;
	return false;
}

static void test_add_remove_with_aen(void **state)
{
	struct fixture *f = *state;
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	uint8_t buf[512];
	int tag;

	tag = arm_aer(f);
	assert_false(lt_done(f->aq, tag));
	assert_int_equal(nvmft_backend_malloc_new("added", 64, 512, &be), 0);
	ns = lt_env_add_ns(&f->env, f->env.ss, be, 5);
	assert_non_null(ns);
	assert_ns_changed_aen(f, tag, 5);
	assert_true(active_list_has(f, 5));
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(lt_rw(f->iq, true, 5, 3, 1, buf, 512).status, 0);

	tag = lt_submit(f->aq, &(struct nvmft_cmd){ .opcode = nvme_admin_async_event }, NULL, 0);
	assert_int_equal(lt_env_free_backend(&f->env, be), -EBUSY);
	assert_int_equal(lt_env_remove_ns(&f->env, ns), 0);
	assert_ns_changed_aen(f, tag, 5);
	assert_false(active_list_has(f, 5));
	assert_int_equal(lt_rw(f->iq, false, 5, 3, 1, buf, 512).status,
			 ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS));
	assert_null(nvmft_ns_find(f->env.ss, 5));
	lt_env_settle(&f->env);
	assert_int_equal(lt_env_free_backend(&f->env, be), 0);
}

static void test_remove_waits_for_io(void **state)
{
	struct fixture *f = *state;
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	struct tb *tb;
	uint8_t buf[512] = { 1 };
	int tag;

	assert_int_equal(tb_new("held", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	ns = lt_env_add_ns(&f->env, f->env.ss, be, 2);
	assert_non_null(ns);
	assert_int_equal(tb_channels(tb), 2); /* one per poll group */
	tb_hold(tb, true);
	tag = lt_submit(f->iq, &(struct nvmft_cmd){ .opcode = nvme_cmd_write, .nsid = htole32(2) }, buf, 512);
	lt_env_settle(&f->env);
	assert_int_equal(tb_held(tb), 1);

	nvmft_ns_remove(ns, NULL, NULL);
	lt_env_settle(&f->env);
	/* Hidden from new commands at once, but the channel stays open for the write. */
	assert_int_equal(lt_rw(f->iq, false, 2, 0, 1, buf, 512).status,
			 ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS));
	assert_int_equal(tb_channels(tb), 1);
	assert_int_equal(lt_env_free_backend(&f->env, be), -EBUSY);
	/* The write completes normally; then the last channel closes. */
	tb_hold(tb, false);
	assert_int_equal(tb_release(tb), 1);
	assert_int_equal(lt_wait(f->iq, tag).status, 0);
	lt_env_settle(&f->env);
	assert_int_equal(tb_channels(tb), 0);
	assert_int_equal(lt_env_free_backend(&f->env, be), 0);
}

struct done {
	bool called;
	int status;
};

static void on_done(void *arg, int status)
{
	struct done *d = arg;

	d->called = true;
	d->status = status;
}

/* Poll (with real time passing) until @d is called: bounded by 5 s. */
static void wait_done(struct fixture *f, struct done *d)
{
	for (int i = 0; i < 500 && !d->called; i++) {
		usleep(10000);
		lt_env_poll(&f->env);
	}
	assert_true(d->called);
}

static void test_remove_hung_backend_deadline(void **state)
{
	struct fixture *f = *state;
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	struct tb *tb;
	struct done d = { 0 };
	uint8_t buf[512];
	struct lt_cpl r;
	int tag;

	assert_int_equal(tb_new("hung", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	ns = lt_env_add_ns(&f->env, f->env.ss, be, 3);
	assert_non_null(ns);
	tb_hold(tb, true);
	tag = lt_submit(f->iq, &(struct nvmft_cmd){ .opcode = nvme_cmd_read, .nsid = htole32(3) }, buf, 512);
	lt_env_settle(&f->env);
	nvmft_ns_remove(ns, on_done, &d);
	/* The removal gives up after the drain deadline (300 ms here), bounded wait. */
	wait_done(f, &d);
	assert_int_equal(d.status, -ETIMEDOUT);
	/* The host got its answer at the deadline, without waiting for the backend. */
	assert_true(lt_done(f->iq, tag));
	r = lt_wait(f->iq, tag);
	assert_int_equal(r.status, ST_GONE);
	/* Other namespaces keep being served meanwhile. */
	assert_int_equal(lt_rw(f->iq, true, 1, 0, 1, buf, 512).status, 0);
	/* The backend is still owed the read: request, channel and claim stay. */
	assert_int_equal(lt_qpair_outstanding(f->iq), 1);
	assert_int_equal(tb_channels(tb), 1);
	assert_int_equal(lt_env_free_backend(&f->env, be), -EBUSY);
	tb_hold(tb, false);
	assert_int_equal(tb_release(tb), 1);
	lt_env_settle(&f->env);
	assert_int_equal(lt_qpair_outstanding(f->iq), 0);
	assert_int_equal(tb_channels(tb), 0);
	assert_int_equal(lt_env_free_backend(&f->env, be), 0);
}

/*
 * A backend that goes away with writes and reads in it that only come back,
 * with -ENODEV, long after the drain deadline: every host command is
 * answered at the deadline, the namespace change is announced, and the
 * requests, buffers and channel are released only when the backend is done.
 */
static void test_backend_removed_with_io_stuck(void **state)
{
	struct fixture *f = *state;
	struct nvmft_cmd wr = { .opcode = nvme_cmd_write, .nsid = htole32(9) };
	struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(9) };
	struct nvmft_cmd cmp = { .opcode = nvme_cmd_compare, .nsid = htole32(9) };
	uint8_t w[4096], rbuf[4096], cbuf[512];
	struct nvmft_backend *be;
	struct tb *tb;
	int aen, tags[3];

	memset(w, 0xc3, sizeof(w));
	wr.cdw12 = htole32(7);  /* 8 blocks */
	rd.cdw10 = htole32(16); /* another range: no ordering between the two */
	rd.cdw12 = htole32(7);
	cmp.cdw10 = htole32(32);
	assert_int_equal(tb_new("vanishing", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	assert_non_null(lt_env_add_ns(&f->env, f->env.ss, be, 9));
	aen = arm_aer(f);
	/* The device is gone: what it has now comes back as -ENODEV, and only when released. */
	tb_hold(tb, true);
	tb_fail_next(tb, 0, -ENODEV, 3);
	tags[0] = lt_submit(f->iq, &wr, w, sizeof(w));
	tags[1] = lt_submit(f->iq, &rd, rbuf, sizeof(rbuf));
	/* Compare without backend support reads into a buffer of its own, which must outlive the wait. */
	tags[2] = lt_submit(f->iq, &cmp, cbuf, sizeof(cbuf));
	lt_env_settle(&f->env);
	assert_int_equal(tb_held(tb), 3);

	nvmft_backend_notify_removed(be);
	lt_env_settle(&f->env);
	for (int i = 0; i < 3; i++)
		assert_false(lt_done(f->iq, tags[i]));
	/* Bounded by the 300 ms deadline. */
	for (int n = 0; n < 500 && !lt_done(f->iq, tags[2]); n++) {
		usleep(10000);
		lt_env_poll(&f->env);
	}
	for (int i = 0; i < 3; i++) {
		assert_true(lt_done(f->iq, tags[i]));
		assert_int_equal(lt_wait(f->iq, tags[i]).status, ST_GONE);
	}
	lt_env_settle(&f->env);
	assert_ns_changed_aen(f, aen, 9);
	/* Gone for hosts, still claimed while a group holds its channel. */
	assert_non_null(nvmft_backend_get_ns(be));
	assert_int_equal(lt_rw(f->iq, false, 9, 0, 1, rbuf, 512).status,
			 ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS));
	/* Everything the backend may still write into is kept. */
	assert_int_equal(lt_qpair_outstanding(f->iq), 3);
	assert_int_equal(tb_channels(tb), 1);
	assert_int_equal(lt_env_free_backend(&f->env, be), -EBUSY);

	/* Much later the device returns them; now everything goes. */
	tb_hold(tb, false);
	assert_int_equal(tb_release(tb), 3);
	lt_env_settle(&f->env);
	assert_int_equal(lt_qpair_outstanding(f->iq), 0);
	assert_int_equal(tb_channels(tb), 0);
	assert_null(nvmft_backend_get_ns(be));
	assert_int_equal(lt_env_free_backend(&f->env, be), 0);
	/* The queue's slots are usable again: fill more than the three that were parked. */
	for (int i = 0; i < 8; i++)
		assert_int_equal(lt_rw(f->iq, true, 1, (uint64_t)i, 1, w, 512).status, 0);
}

static void test_backend_hot_remove(void **state)
{
	struct fixture *f = *state;
	struct nvmft_backend *be;
	uint8_t buf[512];
	int tag;

	assert_int_equal(nvmft_backend_null_new("gone", 64, 512, &be), 0);
	assert_non_null(lt_env_add_ns(&f->env, f->env.ss, be, 4));
	tag = arm_aer(f);
	nvmft_backend_notify_removed(be);
	lt_env_settle(&f->env);
	assert_ns_changed_aen(f, tag, 4);
	assert_null(nvmft_backend_get_ns(be));
	assert_int_equal(lt_rw(f->iq, false, 4, 0, 1, buf, 512).status,
			 ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS));
	assert_int_equal(lt_env_free_backend(&f->env, be), 0);
}

static void test_pause_resume(void **state)
{
	struct fixture *f = *state;
	struct nvmft_backend *be;
	struct tb *tb;
	struct done paused = { 0 }, resumed = { 0 };
	uint8_t buf[512] = { 7 };
	int t1, t2;

	assert_int_equal(tb_new("pausable", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	assert_non_null(lt_env_add_ns(&f->env, f->env.ss, be, 6));
	tb_hold(tb, true);
	t1 = lt_submit(f->iq, &(struct nvmft_cmd){ .opcode = nvme_cmd_write, .nsid = htole32(6) }, buf, 512);
	lt_env_settle(&f->env);
	assert_int_equal(nvmft_subsystem_pause(f->env.ss, on_done, &paused), 0);
	assert_int_equal(nvmft_subsystem_pause(f->env.ss, NULL, NULL), -EBUSY);
	lt_env_settle(&f->env);
	/* Pause waits for the write in flight. */
	assert_false(paused.called);
	tb_release(tb);
	lt_env_settle(&f->env);
	assert_true(paused.called);
	assert_int_equal(paused.status, 0);
	assert_int_equal(lt_wait(f->iq, t1).status, 0);
	/* New I/O is held, not failed; admin commands still work. */
	t2 = lt_submit(f->iq, &(struct nvmft_cmd){ .opcode = nvme_cmd_read, .nsid = htole32(6) }, buf, 512);
	lt_env_settle(&f->env);
	assert_false(lt_done(f->iq, t2));
	assert_int_equal(tb_count(tb, NVMFT_IO_READ), 0);
	assert_int_equal(lt_cmd(f->aq, &(struct nvmft_cmd){ .opcode = nvme_admin_keep_alive }, NULL, 0).status,
			 0);
	tb_hold(tb, false);
	assert_int_equal(nvmft_subsystem_resume(f->env.ss, on_done, &resumed), 0);
	assert_int_equal(lt_wait(f->iq, t2).status, 0);
	lt_env_settle(&f->env);
	assert_true(resumed.called);
	assert_int_equal(tb_count(tb, NVMFT_IO_READ), 1);
	assert_int_equal(nvmft_subsystem_resume(f->env.ss, NULL, NULL), -EINVAL);
}

static void test_pause_deadline(void **state)
{
	struct fixture *f = *state;
	struct nvmft_backend *be;
	struct tb *tb;
	struct done paused = { 0 };
	uint8_t buf[512];
	int tag;

	assert_int_equal(tb_new("stuck", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	assert_non_null(lt_env_add_ns(&f->env, f->env.ss, be, 7));
	tb_hold(tb, true);
	tag = lt_submit(f->iq, &(struct nvmft_cmd){ .opcode = nvme_cmd_read, .nsid = htole32(7) }, buf, 512);
	lt_env_settle(&f->env);
	assert_int_equal(nvmft_subsystem_pause(f->env.ss, on_done, &paused), 0);
	for (int i = 0; i < 500 && !paused.called; i++) {
		usleep(10000);
		lt_env_poll(&f->env);
	}
	assert_true(paused.called);
	assert_int_equal(paused.status, -ETIMEDOUT);
	tb_release(tb);
	assert_int_equal(lt_wait(f->iq, tag).status, 0);
	assert_int_equal(nvmft_subsystem_resume(f->env.ss, NULL, NULL), 0);
	lt_env_settle(&f->env);
}

static void test_subsystem_destroy_under_io(void **state)
{
	struct fixture *f = *state;
	struct nvmft_backend *be;
	struct tb *tb;
	struct done d = { 0 };
	uint8_t buf[512];

	assert_int_equal(tb_new("doomed", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	assert_non_null(lt_env_add_ns(&f->env, f->env.ss, be, 8));
	tb_hold(tb, true);
	lt_submit(f->iq, &(struct nvmft_cmd){ .opcode = nvme_cmd_read, .nsid = htole32(8) }, buf, 512);
	lt_env_settle(&f->env);
	assert_int_equal(nvmft_subsystem_destroy(f->env.ss, on_done, &d), 0);
	assert_null(nvmft_subsystem_find(f->env.tgt, NQN));
	lt_env_settle(&f->env);
	/* Hosts are cut off at once, but the read still owns its buffer. */
	assert_true(lt_qpair_is_dead(f->iq));
	assert_true(lt_qpair_is_dead(f->aq));
	assert_false(d.called);
	tb_release(tb);
	lt_env_settle(&f->env);
	assert_true(d.called);
	assert_int_equal(d.status, 0);
	assert_int_equal(tb_channels(tb), 0);
	assert_int_equal(lt_env_free_backend(&f->env, be), 0);
	/* The NQN can be used again. */
	assert_non_null(lt_env_add_subsystem(&f->env, NQN, true));
}

static void test_nsid_rules(void **state)
{
	struct fixture *f = *state;
	struct nvmft_backend *a, *b;
	struct nvmft_ns_opts o;
	struct nvmft_ns *ns = NULL;

	assert_int_equal(nvmft_backend_null_new("a", 8, 512, &a), 0);
	assert_int_equal(nvmft_backend_null_new("b", 8, 512, &b), 0);
	nvmft_ns_opts_init(&o, sizeof(o));
	o.nsid = 1;
	assert_int_equal(nvmft_ns_add(f->env.ss, a, &o, NULL, NULL, &ns), -EEXIST);
	o.nsid = 33;
	assert_int_equal(nvmft_ns_add(f->env.ss, a, &o, NULL, NULL, &ns), -EINVAL);
	assert_null(ns);
	assert_int_equal(nvmft_ns_add(nvmft_target_get_discovery_subsystem(f->env.tgt), a, NULL, NULL, NULL,
				      &ns),
			 -EINVAL);
	/* NSID 0 picks the lowest free one. */
	assert_int_equal(nvmft_ns_add(f->env.ss, a, NULL, NULL, NULL, &ns), 0);
	assert_int_equal(nvmft_ns_get_nsid(ns), 2);
	/* One namespace per backend. */
	assert_int_equal(nvmft_ns_add(f->env.ss, a, NULL, NULL, NULL, &ns), -EBUSY);
	lt_env_settle(&f->env);
	{
		uint8_t uuid[16], zero[16] = { 0 };

		nvmft_ns_get_uuid(ns, uuid);
		/* Backends without identifiers still get a UUID: Linux needs one. */
		assert_memory_not_equal(uuid, zero, 16);
		assert_int_equal(uuid[6] >> 4, 4);
	}
	assert_int_equal(lt_env_remove_ns(&f->env, ns), 0);
	lt_env_settle(&f->env);
	assert_int_equal(nvmft_backend_free(a), 0);
	assert_int_equal(nvmft_backend_free(b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_remove_with_aen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_waits_for_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_hung_backend_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_removed_with_io_stuck, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_hot_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subsystem_destroy_under_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nsid_rules, setup, teardown),
	};

	return cmocka_run_group_tests_name("ns", tests, NULL, NULL);
}
