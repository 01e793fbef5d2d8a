/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Poll groups: options and names, the new/stop/free life cycle, freeing with
 * queue pairs and with backend I/O outstanding, statistics, the event-driven
 * interface (descriptor, timeout, wait), groups created after subsystems
 * and namespaces exist (or while a subsystem is paused), and the table of
 * state a group's channels share, with a descriptor several channels hand
 * out watched once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/backend.h"
#include "core/poll_group.h"
#include "core/qpair.h"
#include "loop_transport.h"
#include "test_backend.h"
#include "util/compiler.h"

#define NQN "nqn.2024-01.io.example:pg"

struct cb_wait {
	bool done;
	int status;
	int calls;
};

static void cb_done(void *arg, int status)
{
	struct cb_wait *w = arg;

	w->done = true;
	w->status = status;
	w->calls++;
}

static bool fd_readable(int fd)
{
	struct epoll_event ev;

	return epoll_wait(fd, &ev, 1, 0) > 0;
}

static struct lt_qpair *connect_admin_kato(struct lt_env *env, int pg_idx, uint32_t kato,
					   uint16_t *cntlid)
{
	struct lt_qpair *q = lt_qpair_new(env, pg_idx);
	struct lt_cpl r = lt_connect_raw(q, 0, 31, kato, NVMFT_CNTLID_DYNAMIC, NQN, LT_HOSTNQN);

	if (!r.done || r.status != 0)
		return NULL;
	if (cntlid != NULL)
		*cntlid = le16toh(r.cpl.connect.cntlid);
	r = lt_prop_set(q, NVME_REG_CC, 1u | 6u << 16 | 4u << 20);
	return r.done && r.status == 0 ? q : NULL;
}

static struct lt_qpair *connect_io_on(struct lt_env *env, int pg_idx, uint16_t cntlid, uint16_t qid)
{
	struct lt_qpair *q = lt_qpair_new(env, pg_idx);
	struct lt_cpl r = lt_connect_raw(q, qid, 31, 0, cntlid, NQN, LT_HOSTNQN);

	return r.done && r.status == 0 ? q : NULL;
}

static void get_stats(struct nvmft_poll_group *pg, struct nvmft_poll_group_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	assert_int_equal(nvmft_poll_group_get_stats(pg, st), 0);
}

/* ---- Options, names, iteration -------------------------------------------------------- */

static void test_opts_and_names(void **state)
{
	struct nvmft_poll_group_opts o;
	struct nvmft_poll_group *a, *b, *c, *bad = (struct nvmft_poll_group *)(uintptr_t)0x1234;
	struct nvmft_target *tgt;
	char longname[64];
	uint8_t sentinel[sizeof(o)];

	(void)state;
	memset(&o, 0xa5, sizeof(o));
	memset(sentinel, 0xa5, sizeof(sentinel));
	nvmft_poll_group_opts_init(&o, sizeof(size_t));
	assert_int_equal(o.size, sizeof(size_t));
	assert_memory_equal((uint8_t *)&o + sizeof(size_t), sentinel + sizeof(size_t),
			    sizeof(o) - sizeof(size_t));
	nvmft_poll_group_opts_init(&o, sizeof(o));
	assert_int_equal(o.size, sizeof(o));
	assert_null(o.name);

	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_null(nvmft_poll_group_get_first(tgt));
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &a), 0);
	o.name = "worker-7";
	assert_int_equal(nvmft_poll_group_new(tgt, &o, &b), 0);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	o.name = longname;
	assert_int_equal(nvmft_poll_group_new(tgt, &o, &c), 0);
	assert_string_equal(nvmft_poll_group_get_name(a), "pg0");
	assert_string_equal(nvmft_poll_group_get_name(b), "worker-7");
	assert_int_equal(strlen(nvmft_poll_group_get_name(c)), 31);
	assert_null(nvmft_poll_group_get_name(NULL));

	assert_ptr_equal(nvmft_poll_group_get_first(tgt), a);
	assert_ptr_equal(nvmft_poll_group_get_next(a), b);
	assert_ptr_equal(nvmft_poll_group_get_next(b), c);
	assert_null(nvmft_poll_group_get_next(c));
	assert_null(nvmft_poll_group_get_next(NULL));
	assert_null(nvmft_poll_group_get_first(NULL));

	/* Bad arguments leave the out-parameter alone. */
	o.size = sizeof(size_t) - 1;
	assert_int_equal(nvmft_poll_group_new(tgt, &o, &bad), -EINVAL);
	assert_ptr_equal(bad, (struct nvmft_poll_group *)(uintptr_t)0x1234);
	assert_int_equal(nvmft_poll_group_new(NULL, NULL, &bad), -EINVAL);
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, NULL), -EINVAL);

	assert_int_equal(nvmft_poll_group_free(b), 0);
	assert_ptr_equal(nvmft_poll_group_get_next(a), c);
	/* Default names keep counting: a name is never handed out twice. */
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &b), 0);
	assert_string_equal(nvmft_poll_group_get_name(b), "pg3");
	assert_int_equal(nvmft_poll_group_free(a), 0);
	assert_int_equal(nvmft_poll_group_free(b), 0);
	assert_int_equal(nvmft_poll_group_free(c), 0);
	assert_int_equal(nvmft_poll_group_free(NULL), 0);
	nvmft_target_free(tgt);
}

/* ---- Life cycle ------------------------------------------------------------------------ */

static void test_stop_lifecycle(void **state)
{
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg;
	struct cb_wait w = { 0 };

	(void)state;
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &pg), 0);
	assert_true(nvmft_poll_group_poll(pg, 0) >= 0);
	assert_int_equal(nvmft_poll_group_stop(pg, cb_done, &w), 0);
	/* Delivered from a poll, not from inside stop. */
	assert_false(w.done);
	assert_int_equal(nvmft_poll_group_stop(pg, cb_done, &w), -EALREADY);
	assert_int_equal(nvmft_poll_group_stop(NULL, cb_done, &w), -EINVAL);
	assert_true(nvmft_poll_group_poll(pg, 0) >= 0);
	assert_true(w.done);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.status, 0);
	assert_int_equal(nvmft_poll_group_poll(pg, 0), -ESHUTDOWN);
	assert_int_equal(nvmft_poll_group_poll(pg, 16), -ESHUTDOWN);
	assert_int_equal(nvmft_poll_group_wait(pg, 0), -ESHUTDOWN);
	assert_int_equal(nvmft_poll_group_stop(pg, cb_done, &w), -EALREADY);
	assert_int_equal(w.calls, 1);
	assert_int_equal(nvmft_poll_group_free(pg), 0);
	assert_null(nvmft_poll_group_get_first(tgt));
	nvmft_target_free(tgt);
}

/* A never-polled group can be freed at once (its first message never ran). */
static void test_free_never_polled(void **state)
{
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg;

	(void)state;
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &pg), 0);
	assert_int_equal(nvmft_poll_group_free(pg), 0);
	nvmft_target_free(tgt);
}

/*
 * An event-driven host asks for the timeout right after stop(): the stop
 * callback is owed at the next poll, so the group must not sleep.
 */
static void test_stop_does_not_sleep(void **state)
{
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg;
	struct cb_wait w = { 0 };
	int t;

	(void)state;
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &pg), 0);
	assert_true(nvmft_poll_group_poll(pg, 0) >= 0);
	assert_int_equal(nvmft_poll_group_get_timeout_ms(pg), -1);
	assert_int_equal(nvmft_poll_group_stop(pg, cb_done, &w), 0);
	t = nvmft_poll_group_get_timeout_ms(pg);
	/* Bounded wait so a wrong answer cannot hang the test. */
	assert_true(nvmft_poll_group_wait(pg, 20) >= 0);
	assert_true(w.done);
	assert_int_equal(nvmft_poll_group_free(pg), 0);
	nvmft_target_free(tgt);
	assert_int_equal(t, 0);
}

static void test_free_running_with_idle_qpairs(void **state)
{
	struct lt_env_opts eo = { .nr_pgs = 2 };
	struct nvmft_poll_group_stats st;
	struct lt_env env;
	struct lt_qpair *aq, *iq, *other;
	uint16_t cntlid;

	(void)state;
	assert_int_equal(lt_env_init(&env, &eo), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	assert_non_null(lt_env_add_malloc_ns(&env, env.ss, 1, 64, 512));
	aq = connect_admin_kato(&env, 1, 0, &cntlid);
	assert_non_null(aq);
	iq = connect_io_on(&env, 1, cntlid, 1);
	assert_non_null(iq);
	other = connect_admin_kato(&env, 0, 0, NULL);
	assert_non_null(other);
	get_stats(env.pg[1], &st);
	assert_int_equal(st.current_admin_qpairs, 1);
	assert_int_equal(st.current_io_qpairs, 1);

	/* Running, with queue pairs but nothing in flight: stopped and freed synchronously. */
	assert_int_equal(nvmft_poll_group_free(env.pg[1]), 0);
	env.pg[1] = NULL;
	env.nr_pgs = 1;
	assert_true(lt_qpair_is_freed(aq));
	assert_true(lt_qpair_is_freed(iq));
	lt_env_settle(&env);
	assert_false(lt_qpair_is_dead(other));
	assert_int_equal(lt_identify(other, NVME_IDENTIFY_CNS_CTRL, 0, 0,
				     (uint8_t[4096]){ 0 }).status, 0);
	/* The freed group is out of the list. */
	assert_ptr_equal(nvmft_poll_group_get_first(env.tgt), env.pg[0]);
	assert_null(nvmft_poll_group_get_next(env.pg[0]));
	lt_env_fini(&env);
}

static void test_free_busy_then_ok(void **state)
{
	struct lt_env_opts eo = { .nr_pgs = 2 };
	struct lt_env env;
	struct lt_qpair *aq, *iq;
	struct nvmft_backend *be;
	struct tb *tb;
	uint16_t cntlid;
	uint8_t buf[512] = { 7 };
	int tag;

	(void)state;
	assert_int_equal(lt_env_init(&env, &eo), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	assert_int_equal(tb_new("pg-held", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	assert_non_null(lt_env_add_ns(&env, env.ss, be, 1));
	aq = connect_admin_kato(&env, 0, 0, &cntlid);
	assert_non_null(aq);
	iq = connect_io_on(&env, 1, cntlid, 1);
	assert_non_null(iq);
	assert_int_equal(tb_channels(tb), 2);

	tb_hold(tb, true);
	tag = lt_submit(iq, &(struct nvmft_cmd){ .opcode = nvme_cmd_write, .nsid = htole32(1) },
			buf, 512);
	assert_true(tag >= 0);
	lt_env_settle(&env);
	assert_int_equal(tb_held(tb), 1);

	assert_int_equal(nvmft_poll_group_free(env.pg[1]), -EBUSY);
	/* Still there: the group waits for the backend. */
	assert_ptr_equal(nvmft_poll_group_get_next(env.pg[0]), env.pg[1]);
	assert_false(lt_qpair_is_freed(iq));
	assert_int_equal(tb_channels(tb), 2);
	assert_int_equal(nvmft_poll_group_free(env.pg[1]), -EBUSY);

	assert_int_equal(tb_release(tb), 1);
	assert_int_equal(nvmft_poll_group_free(env.pg[1]), 0);
	env.pg[1] = NULL;
	env.nr_pgs = 1;
	assert_true(lt_qpair_is_freed(iq));
	assert_int_equal(tb_channels(tb), 1);
	lt_env_settle(&env);
	/* The controller on the other group lost only an I/O queue. */
	assert_false(lt_qpair_is_dead(aq));
	lt_env_fini(&env);
}

/* ---- Statistics ------------------------------------------------------------------------------ */

static void test_stats_exact(void **state)
{
	struct nvmft_poll_group_stats st, part;
	struct lt_env env;
	struct lt_qpair *aq, *iq;
	uint16_t cntlid;
	uint8_t buf[4096];
	uint64_t polls;
	int busy = 0;

	(void)state;
	assert_int_equal(lt_env_init(&env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	assert_non_null(lt_env_add_malloc_ns(&env, env.ss, 1, 64, 512));
	get_stats(env.pg[0], &st);
	assert_int_equal(st.size, sizeof(st));
	assert_int_equal(st.admin_qpairs, 0);
	assert_int_equal(st.reqs_completed, 0);
	assert_int_equal(st.io_completed, 0);
	assert_int_equal(st.buf_bytes, 0);

	aq = connect_admin_kato(&env, 0, 0, &cntlid);   /* Connect, Property Set */
	iq = connect_io_on(&env, 0, cntlid, 1);         /* Connect */
	assert_non_null(aq);
	assert_non_null(iq);
	memset(buf, 0x3c, sizeof(buf));
	assert_int_equal(lt_rw(iq, true, 1, 0, 8, buf, 4096).status, 0);
	assert_int_equal(lt_rw(iq, false, 1, 0, 8, buf, 4096).status, 0);
	assert_int_equal(lt_rw(iq, false, 1, 100, 1, buf, 512).status,
			 NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE));
	get_stats(env.pg[0], &st);
	assert_int_equal(st.admin_qpairs, 1);
	assert_int_equal(st.io_qpairs, 1);
	assert_int_equal(st.current_admin_qpairs, 1);
	assert_int_equal(st.current_io_qpairs, 1);
	assert_int_equal(st.pending_bdev_io, 0);
	assert_int_equal(st.reqs_completed, 2 + 1 + 3);
	/* The I/O queue's Connect and its three commands; nothing of the admin queue. */
	assert_int_equal(st.io_completed, 1 + 3);
	assert_int_equal(st.buf_waits, 0);
	/* One 4 KiB write took one pool chunk (128 KiB / 16); malloc reads are zero copy. */
	assert_int_equal(st.buf_bytes, 8192);

	/* Every call counts; busy ones only when they did something. */
	polls = st.polls;
	for (int i = 0; i < 5; i++)
		busy += nvmft_poll_group_poll(env.pg[0], 0) > 0;
	get_stats(env.pg[0], &part);
	assert_int_equal(part.polls, polls + 5);
	assert_int_equal(part.busy_polls, st.busy_polls + (uint64_t)busy);

	lt_qpair_close(iq);
	get_stats(env.pg[0], &st);
	assert_int_equal(st.io_qpairs, 1);
	assert_int_equal(st.current_io_qpairs, 0);
	assert_int_equal(st.current_admin_qpairs, 1);
	lt_qpair_close(aq);
	get_stats(env.pg[0], &st);
	assert_int_equal(st.admin_qpairs, 1);
	assert_int_equal(st.current_admin_qpairs, 0);

	/* A caller that knows fewer counters gets just those. */
	memset(&part, 0xee, sizeof(part));
	part.size = offsetof(struct nvmft_poll_group_stats, busy_polls);
	assert_int_equal(nvmft_poll_group_get_stats(env.pg[0], &part), 0);
	assert_int_equal(part.polls, st.polls);
	assert_int_equal(part.busy_polls, 0xeeeeeeeeeeeeeeeeull);
	part.size = sizeof(size_t) - 1;
	assert_int_equal(nvmft_poll_group_get_stats(env.pg[0], &part), -EINVAL);
	assert_int_equal(nvmft_poll_group_get_stats(env.pg[0], NULL), -EINVAL);
	assert_int_equal(nvmft_poll_group_get_stats(NULL, &st), -EINVAL);
	lt_env_fini(&env);
}

struct byte_sum {
	uint64_t rd, wr;
};

static int sum_qpair(void *arg, const struct nvmft_qpair *qp)
{
	struct byte_sum *s = arg;
	struct nvmft_qpair_stats qs = { .size = sizeof(qs) };

	assert_int_equal(nvmft_qpair_get_stats(qp, &qs), 0);
	s->rd += qs.bytes_read;
	s->wr += qs.bytes_written;
	return 0;
}

static int sum_ctrlr(void *arg, const struct nvmft_ctrlr *c)
{
	return nvmft_ctrlr_foreach_qpair(c, sum_qpair, arg);
}

/* The group's byte counters add up what its queue pairs moved. */
static void test_stats_bytes(void **state)
{
	struct nvmft_poll_group_stats st;
	struct byte_sum sum = { 0 };
	struct lt_env env;
	struct lt_qpair *aq, *iq;
	uint16_t cntlid;
	uint8_t buf[8192];

	(void)state;
	assert_int_equal(lt_env_init(&env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	assert_non_null(lt_env_add_malloc_ns(&env, env.ss, 1, 64, 512));
	aq = connect_admin_kato(&env, 0, 0, &cntlid);
	iq = connect_io_on(&env, 0, cntlid, 1);
	assert_non_null(aq);
	assert_non_null(iq);
	memset(buf, 0x11, sizeof(buf));
	assert_int_equal(lt_rw(iq, true, 1, 0, 8, buf, 4096).status, 0);
	assert_int_equal(lt_rw(iq, false, 1, 0, 16, buf, 8192).status, 0);
	assert_int_equal(nvmft_subsystem_foreach_ctrlr(env.ss, sum_ctrlr, &sum), 0);
	/* Connect data (1024 bytes per queue) and the write; the read. */
	assert_int_equal(sum.wr, 2 * 1024 + 4096);
	assert_int_equal(sum.rd, 8192);
	get_stats(env.pg[0], &st);
	lt_env_fini(&env);
	assert_int_equal(st.bytes_written, sum.wr);
	assert_int_equal(st.bytes_read, sum.rd);
}

/* ---- Event-driven interface ------------------------------------------------------------------ */

static void test_fd_and_timeout_follow_messages(void **state)
{
	struct lt_env env;
	struct lt_qpair *q;
	char path[64], link[64];
	ssize_t n;
	int fd;

	(void)state;
	assert_int_equal(lt_env_init(&env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	fd = nvmft_poll_group_get_fd(env.pg[0]);
	assert_true(fd >= 0);
	assert_int_equal(nvmft_poll_group_get_fd(NULL), -EINVAL);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_string_equal(link, "anon_inode:[eventpoll]");

	lt_env_settle(&env);
	nvmft_poll_group_poll(env.pg[0], 0);
	assert_false(fd_readable(fd));
	assert_int_equal(nvmft_poll_group_get_timeout_ms(env.pg[0]), -1);

	/* A connection assigned to the group is a message: readable, timeout 0. */
	q = lt_qpair_new_on(&env, 0, NULL, false);
	assert_false(lt_qpair_is_dead(q));
	assert_true(fd_readable(fd));
	assert_int_equal(nvmft_poll_group_get_timeout_ms(env.pg[0]), 0);
	assert_true(nvmft_poll_group_poll(env.pg[0], 0) >= 1);
	nvmft_poll_group_poll(env.pg[0], 0);
	assert_false(fd_readable(fd));
	/* Not connected yet: the group may sleep until the Connect deadline (10 s default). */
	{
		int t = nvmft_poll_group_get_timeout_ms(env.pg[0]);

		assert_true(t > 0 && t <= 10000);
	}
	/* wait() with nothing to do returns after its timeout. */
	assert_int_equal(nvmft_poll_group_wait(env.pg[0], 1), 0);
	assert_int_equal(nvmft_poll_group_wait(env.pg[0], 0), 0);
	lt_env_fini(&env);
}

static void test_timeout_keep_alive(void **state)
{
	struct lt_env env;
	struct lt_qpair *q;
	int t;

	(void)state;
	assert_int_equal(lt_env_init(&env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	assert_non_null(lt_env_add_malloc_ns(&env, env.ss, 1, 64, 512));
	/* Without keep-alive an idle group has no deadline at all. */
	q = connect_admin_kato(&env, 0, 0, NULL);
	assert_non_null(q);
	lt_env_settle(&env);
	assert_int_equal(nvmft_poll_group_get_timeout_ms(env.pg[0]), -1);
	lt_qpair_close(q);

	q = connect_admin_kato(&env, 0, 10000, NULL);
	assert_non_null(q);
	lt_env_settle(&env);
	t = nvmft_poll_group_get_timeout_ms(env.pg[0]);
	assert_true(t > 0 && t <= 10000);
	/* wait() bounded by the caller's timeout, below the keep-alive deadline. */
	assert_true(nvmft_poll_group_wait(env.pg[0], 1) >= 0);
	assert_false(lt_qpair_is_dead(q));
	lt_qpair_close(q);
	lt_env_settle(&env);
	assert_int_equal(nvmft_poll_group_get_timeout_ms(env.pg[0]), -1);
	lt_env_fini(&env);
}

/* ---- Groups that join late ------------------------------------------------------------------- */

static void test_group_created_after_namespaces(void **state)
{
	struct nvmft_poll_group_stats st;
	struct lt_env env;
	struct lt_qpair *aq, *iq;
	struct nvmft_backend *be;
	struct tb *tb;
	uint16_t cntlid;
	uint8_t w[1024], r[1024];

	(void)state;
	assert_int_equal(lt_env_init(&env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	assert_int_equal(tb_new("pg-late", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	assert_non_null(lt_env_add_ns(&env, env.ss, be, 3));
	assert_int_equal(tb_channels(tb), 1);

	assert_int_equal(nvmft_poll_group_new(env.tgt, NULL, &env.pg[1]), 0);
	env.nr_pgs = 2;
	lt_env_settle(&env);
	assert_int_equal(tb_channels(tb), 2);

	aq = connect_admin_kato(&env, 0, 0, &cntlid);
	assert_non_null(aq);
	iq = connect_io_on(&env, 1, cntlid, 1);
	assert_non_null(iq);
	assert_ptr_equal(lt_qpair_core(iq)->pg, env.pg[1]);
	memset(w, 0x6b, sizeof(w));
	assert_int_equal(lt_rw(iq, true, 3, 10, 2, w, sizeof(w)).status, 0);
	assert_int_equal(lt_rw(iq, false, 3, 10, 2, r, sizeof(r)).status, 0);
	assert_memory_equal(r, w, sizeof(w));
	assert_int_equal(tb_count(tb, NVMFT_IO_WRITE), 1);
	get_stats(env.pg[1], &st);
	assert_int_equal(st.io_qpairs, 1);
	assert_int_equal(st.reqs_completed, 3);
	lt_env_fini(&env);
}

static void test_group_created_while_paused(void **state)
{
	struct lt_env env;
	struct lt_qpair *aq, *iq;
	struct nvmft_backend *be;
	struct tb *tb;
	struct cb_wait w = { 0 };
	uint16_t cntlid;
	uint8_t buf[512] = { 1 };
	int tag;

	(void)state;
	assert_int_equal(lt_env_init(&env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	assert_int_equal(tb_new("pg-paused", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	assert_non_null(lt_env_add_ns(&env, env.ss, be, 1));
	aq = connect_admin_kato(&env, 0, 0, &cntlid);
	assert_non_null(aq);

	assert_int_equal(nvmft_subsystem_pause(env.ss, cb_done, &w), 0);
	lt_env_settle(&env);
	assert_true(w.done);
	assert_int_equal(w.status, 0);

	assert_int_equal(nvmft_poll_group_new(env.tgt, NULL, &env.pg[1]), 0);
	env.nr_pgs = 2;
	lt_env_settle(&env);
	/* Connect works while paused; I/O waits (it is not failed). */
	iq = connect_io_on(&env, 1, cntlid, 1);
	assert_non_null(iq);
	tag = lt_submit(iq, &(struct nvmft_cmd){ .opcode = nvme_cmd_write, .nsid = htole32(1) },
			buf, 512);
	lt_env_settle(&env);
	assert_false(lt_done(iq, tag));
	assert_int_equal(tb_count(tb, NVMFT_IO_WRITE), 0);
	assert_int_equal(lt_qpair_outstanding(iq), 1);

	memset(&w, 0, sizeof(w));
	assert_int_equal(nvmft_subsystem_resume(env.ss, cb_done, &w), 0);
	lt_env_settle(&env);
	assert_true(w.done);
	assert_int_equal(lt_wait(iq, tag).status, 0);
	assert_int_equal(tb_count(tb, NVMFT_IO_WRITE), 1);
	assert_int_equal(tb_data(tb)[0], 1);
	lt_env_fini(&env);
}

/* ---- State shared by a group's channels -------------------------------------------------- */

struct shared_obj {
	struct nvmft_pg_shared sh;
	int destroyed;
	struct nvmft_poll_group *destroyed_on;
};

static void shared_obj_destroy(struct nvmft_poll_group *pg, struct nvmft_pg_shared *sh)
{
	struct shared_obj *o = nvmft_container_of(sh, struct shared_obj, sh);

	o->destroyed++;
	o->destroyed_on = pg;
}

/* Two owners' kinds: only the addresses matter. */
static const char kind_a, kind_b;

static void test_shared_table(void **state)
{
	struct shared_obj a0 = { .destroyed = 0 }, a1 = a0, b0 = a0, other = a0;
	struct nvmft_poll_group *pg, *pg2;
	struct nvmft_target *tgt;

	(void)state;
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &pg), 0);
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &pg2), 0);
	assert_null(nvmft_pg_shared_find(pg, &kind_a, 0));
	assert_null(nvmft_pg_shared_get(pg, &kind_a, 0));

	/* The key is (kind, id), per group. */
	nvmft_pg_shared_add(pg, &a0.sh, &kind_a, 0, shared_obj_destroy);
	nvmft_pg_shared_add(pg, &a1.sh, &kind_a, 1, shared_obj_destroy);
	nvmft_pg_shared_add(pg, &b0.sh, &kind_b, 0, shared_obj_destroy);
	nvmft_pg_shared_add(pg2, &other.sh, &kind_a, 0, shared_obj_destroy);
	assert_ptr_equal(nvmft_pg_shared_find(pg, &kind_a, 0), &a0.sh);
	assert_ptr_equal(nvmft_pg_shared_find(pg, &kind_a, 1), &a1.sh);
	assert_ptr_equal(nvmft_pg_shared_find(pg, &kind_b, 0), &b0.sh);
	assert_null(nvmft_pg_shared_find(pg, &kind_b, 1));
	assert_ptr_equal(nvmft_pg_shared_find(pg2, &kind_a, 0), &other.sh);
	assert_null(nvmft_pg_shared_find(pg2, &kind_b, 0));

	/* Three users; find takes no reference, the last put destroys, once. */
	assert_ptr_equal(nvmft_pg_shared_get(pg, &kind_a, 0), &a0.sh);
	assert_ptr_equal(nvmft_pg_shared_get(pg, &kind_a, 0), &a0.sh);
	nvmft_pg_shared_put(pg, &a0.sh);
	nvmft_pg_shared_put(pg, &a0.sh);
	assert_int_equal(a0.destroyed, 0);
	assert_ptr_equal(nvmft_pg_shared_find(pg, &kind_a, 0), &a0.sh);
	nvmft_pg_shared_put(pg, &a0.sh);
	assert_int_equal(a0.destroyed, 1);
	assert_ptr_equal(a0.destroyed_on, pg);
	assert_null(nvmft_pg_shared_find(pg, &kind_a, 0));
	/* The others are untouched. */
	assert_ptr_equal(nvmft_pg_shared_find(pg, &kind_a, 1), &a1.sh);
	assert_ptr_equal(nvmft_pg_shared_find(pg2, &kind_a, 0), &other.sh);
	assert_int_equal(a1.destroyed + b0.destroyed + other.destroyed, 0);

	/* A key is free again once its entry is gone. */
	a0.destroyed = 0;
	nvmft_pg_shared_add(pg, &a0.sh, &kind_a, 0, shared_obj_destroy);
	assert_ptr_equal(nvmft_pg_shared_find(pg, &kind_a, 0), &a0.sh);
	nvmft_pg_shared_put(pg, &a0.sh);
	nvmft_pg_shared_put(pg, &b0.sh);
	nvmft_pg_shared_put(pg, &a1.sh);
	nvmft_pg_shared_put(pg2, &other.sh);
	assert_int_equal(a0.destroyed + a1.destroyed + b0.destroyed + other.destroyed, 4);
	assert_ptr_equal(other.destroyed_on, pg2);
	assert_null(nvmft_pg_shared_find(pg, &kind_a, 1));
	assert_null(nvmft_pg_shared_find(pg, &kind_b, 0));
	assert_int_equal(nvmft_poll_group_free(pg), 0);
	assert_int_equal(nvmft_poll_group_free(pg2), 0);
	nvmft_target_free(tgt);
}

/* A backend whose channels all hand out one descriptor, as a ring per group does. */
struct fd_be {
	int efd;
	int open;
};

static int fdb_open(void *ctx, void **chan)
{
	struct fd_be *b = ctx;

	b->open++;
	*chan = b;
	return 0;
}

static void fdb_close(void *ctx, void *chan)
{
	(void)chan;
	((struct fd_be *)ctx)->open--;
}

static int fdb_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	(void)ctx;
	(void)chan;
	nvmft_req_complete(req, 0);
	return 0;
}

static int fdb_poll(void *ctx, void *chan, unsigned int budget)
{
	(void)ctx;
	(void)chan;
	(void)budget;
	return 0;
}

static int fdb_get_fd(void *ctx, void *chan)
{
	(void)chan;
	return ((struct fd_be *)ctx)->efd;
}

static const struct nvmft_backend_ops fdb_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = fdb_open,
	.channel_close = fdb_close,
	.submit = fdb_submit,
	.channel_poll = fdb_poll,
	.channel_get_fd = fdb_get_fd,
};

/* How many times @fd is registered in the epoll set @epfd. */
static int epoll_watches(int epfd, int fd)
{
	char p[64], line[256];
	FILE *fp;
	int n = 0, tfd;

	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", epfd);
	fp = fopen(p, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd)
			n++;
	fclose(fp);
	return n;
}

/* @efd wakes the group, and only while it is signalled. */
static void check_efd_wakes(int pgfd, int efd, bool watched)
{
	uint64_t one = 1;

	assert_false(fd_readable(pgfd));
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(fd_readable(pgfd), watched);
	assert_int_equal(read(efd, &one, sizeof(one)), sizeof(one));
	assert_false(fd_readable(pgfd));
}

static void test_shared_channel_fd(void **state)
{
	struct fd_be fb[2] = { { .efd = -1 }, { .efd = -1 } };
	struct nvmft_backend_opts bo;
	struct nvmft_backend *be;
	struct nvmft_ns *ns[2];
	struct lt_env env;
	int efd, pgfd;

	(void)state;
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(efd >= 0);
	assert_int_equal(lt_env_init(&env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	pgfd = nvmft_poll_group_get_fd(env.pg[0]);
	for (int i = 0; i < 2; i++) {
		char name[8];

		snprintf(name, sizeof(name), "fd%d", i);
		nvmft_backend_opts_init(&bo, sizeof(bo));
		bo.name = name;
		bo.num_blocks = 64;
		fb[i].efd = efd;
		assert_int_equal(nvmft_backend_new(&fdb_ops, &fb[i], &bo, &be), 0);
		ns[i] = lt_env_add_ns(&env, env.ss, be, (uint32_t)i + 1);
		assert_non_null(ns[i]);
		assert_int_equal(fb[i].open, 1);
	}
	lt_env_settle(&env);
	/* Watched once; every channel has its descriptor, so the group may sleep for good. */
	assert_int_equal(epoll_watches(pgfd, efd), 1);
	assert_int_equal(nvmft_poll_group_get_timeout_ms(env.pg[0]), -1);
	check_efd_wakes(pgfd, efd, true);

	/* Either channel may close first: the other still wakes the group. */
	assert_int_equal(lt_env_remove_ns(&env, ns[0]), 0);
	assert_int_equal(fb[0].open, 0);
	assert_int_equal(epoll_watches(pgfd, efd), 1);
	assert_int_equal(nvmft_poll_group_get_timeout_ms(env.pg[0]), -1);
	check_efd_wakes(pgfd, efd, true);

	/* The last one takes the registration away. */
	assert_int_equal(lt_env_remove_ns(&env, ns[1]), 0);
	assert_int_equal(fb[1].open, 0);
	assert_int_equal(epoll_watches(pgfd, efd), 0);
	check_efd_wakes(pgfd, efd, false);
	lt_env_fini(&env);
	close(efd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_and_names),
		cmocka_unit_test(test_stop_lifecycle),
		cmocka_unit_test(test_free_never_polled),
		cmocka_unit_test(test_stop_does_not_sleep),
		cmocka_unit_test(test_free_running_with_idle_qpairs),
		cmocka_unit_test(test_free_busy_then_ok),
		cmocka_unit_test(test_stats_exact),
		cmocka_unit_test(test_stats_bytes),
		cmocka_unit_test(test_fd_and_timeout_follow_messages),
		cmocka_unit_test(test_timeout_keep_alive),
		cmocka_unit_test(test_group_created_after_namespaces),
		cmocka_unit_test(test_group_created_while_paused),
		cmocka_unit_test(test_shared_table),
		cmocka_unit_test(test_shared_channel_fd),
	};

	return cmocka_run_group_tests_name("poll_group", tests, NULL, NULL);
}
