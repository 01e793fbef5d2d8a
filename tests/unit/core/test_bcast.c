/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Broadcasts: "run on every poll group, count acknowledgements, call done on
 * the management thread".  Driven directly with our own ops table on a bare
 * target: completion with zero groups, first non-zero status, double acks,
 * deadlines and expiry, and groups that are freed while a broadcast waits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>

#include <cmocka.h>

#include "core/bcast.h"
#include "core/poll_group.h"
#include "core/target.h"
#include "util/time.h"

#define MAX_PG 3
#define POLL_LIMIT 1000

/* What each group does when the broadcast reaches it. */
enum run_action {
	RUN_ACK,       /* ack with ack_status[pg] */
	RUN_ACK_TWICE, /* ack with ack_status[pg], then again with -EIO */
	RUN_DEFER,     /* remember the broadcast, ack later (or never) */
};

enum expire_action {
	EXPIRE_NOTHING, /* let the core ack with -ETIMEDOUT */
	EXPIRE_ACK,     /* ack with expire_status */
};

struct rec {
	struct nvmft_poll_group *pg[MAX_PG];
	enum run_action run_action[MAX_PG];
	int ack_status[MAX_PG];
	int runs[MAX_PG];
	int expires[MAX_PG];
	enum expire_action expire_action;
	int expire_status;
	struct nvmft_bcast *deferred;
	void *ctx_seen;
	int done_calls;
	int done_status;
	bool in_start;       /* set around nvmft_bcast_start() */
	bool done_in_start;  /* done ran inline: a contract violation */
};

struct fixture {
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg[MAX_PG];
	int nr_pgs;
	struct rec rec;
};

static int pg_index(struct rec *r, struct nvmft_poll_group *pg)
{
	for (int i = 0; i < MAX_PG; i++)
		if (r->pg[i] == pg)
			return i;
	fail_msg("broadcast reached an unknown poll group");
	return -1;
}

static void rec_run(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct rec *r = nvmft_bcast_ctx(bc);
	int i = pg_index(r, pg);

	r->runs[i]++;
	switch (r->run_action[i]) {
	case RUN_ACK:
		nvmft_bcast_ack(bc, pg, r->ack_status[i]);
		break;
	case RUN_ACK_TWICE:
		nvmft_bcast_ack(bc, pg, r->ack_status[i]);
		nvmft_bcast_ack(bc, pg, -EIO);
		break;
	case RUN_DEFER:
		r->deferred = bc;
		break;
	}
}

static void rec_expire(struct nvmft_bcast *bc, struct nvmft_poll_group *pg)
{
	struct rec *r = nvmft_bcast_ctx(bc);

	r->expires[pg_index(r, pg)]++;
	if (r->expire_action == EXPIRE_ACK)
		nvmft_bcast_ack(bc, pg, r->expire_status);
}

static void rec_done(struct nvmft_bcast *bc, int status)
{
	struct rec *r = nvmft_bcast_ctx(bc);

	r->ctx_seen = nvmft_bcast_ctx(bc);
	r->done_calls++;
	r->done_status = status;
	if (r->in_start)
		r->done_in_start = true;
}

static const struct nvmft_bcast_ops rec_ops = {
	.run = rec_run,
	.expire = rec_expire,
	.done = rec_done,
};

static int setup_n(void **state, int n)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	if (nvmft_target_new(NULL, &f.tgt) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (nvmft_poll_group_new(f.tgt, NULL, &f.pg[i]) != 0)
			return -1;
		f.rec.pg[i] = f.pg[i];
		f.nr_pgs++;
		/* Consume the group's first message so later polls do only ours. */
		nvmft_poll_group_poll(f.pg[i], 0);
	}
	nvmft_target_poll(f.tgt);
	*state = &f;
	return 0;
}

static int setup0(void **state)
{
	return setup_n(state, 0);
}

static int setup2(void **state)
{
	return setup_n(state, 2);
}

static int setup3(void **state)
{
	return setup_n(state, 3);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < f->nr_pgs; i++)
		if (f->pg[i] != NULL)
			nvmft_poll_group_free(f->pg[i]);
	nvmft_target_poll(f->tgt);
	nvmft_target_free(f->tgt);
	return 0;
}

static int start(struct fixture *f, uint32_t deadline_ms)
{
	int rc;

	f->rec.in_start = true;
	rc = nvmft_bcast_start(f->tgt, &rec_ops, &f->rec, deadline_ms);
	f->rec.in_start = false;
	return rc;
}

static void poll_pg(struct fixture *f, int i)
{
	assert_true(nvmft_poll_group_poll(f->pg[i], 0) >= 0);
}

/* Poll the target until done ran (bounded). */
static void poll_target_until_done(struct fixture *f)
{
	for (int i = 0; i < POLL_LIMIT && f->rec.done_calls == 0; i++)
		nvmft_target_poll(f->tgt);
}

static bool fd_readable(int fd)
{
	struct epoll_event ev;

	return epoll_wait(fd, &ev, 1, 0) > 0;
}

static void test_zero_groups_done_async(void **state)
{
	struct fixture *f = *state;

	assert_false(fd_readable(nvmft_target_get_fd(f->tgt)));
	assert_int_equal(start(f, 0), 0);
	/* Never from inside the call that started it... */
	assert_int_equal(f->rec.done_calls, 0);
	assert_false(f->rec.done_in_start);
	/* ...but the management thread has work now. */
	assert_true(fd_readable(nvmft_target_get_fd(f->tgt)));
	assert_int_equal(nvmft_target_get_timeout_ms(f->tgt), 0);
	assert_true(nvmft_target_poll(f->tgt) >= 1);
	assert_int_equal(f->rec.done_calls, 1);
	assert_int_equal(f->rec.done_status, 0);
	assert_ptr_equal(f->rec.ctx_seen, &f->rec);
	assert_int_equal(nvmft_target_poll(f->tgt), 0);
	assert_int_equal(f->rec.done_calls, 1);
	assert_int_equal(nvmft_target_get_timeout_ms(f->tgt), -1);
}

static void test_done_after_every_ack(void **state)
{
	struct fixture *f = *state;

	f->rec.ack_status[1] = -EIO;
	assert_int_equal(start(f, 0), 0);
	poll_pg(f, 0);
	assert_int_equal(f->rec.runs[0], 1);
	assert_int_equal(f->rec.runs[1], 0);
	for (int i = 0; i < 10; i++)
		nvmft_target_poll(f->tgt);
	assert_int_equal(f->rec.done_calls, 0); /* group 1 has not acked */
	poll_pg(f, 1);
	assert_int_equal(f->rec.runs[1], 1);
	/* Done runs on the management thread, not on the group that acked last. */
	assert_int_equal(f->rec.done_calls, 0);
	poll_target_until_done(f);
	assert_int_equal(f->rec.done_calls, 1);
	assert_int_equal(f->rec.done_status, -EIO);
	assert_int_equal(f->rec.expires[0] + f->rec.expires[1], 0);
}

static void test_first_error_wins(void **state)
{
	struct fixture *f = *state;

	f->rec.ack_status[0] = -ENOMEM;
	f->rec.ack_status[1] = -EIO;
	assert_int_equal(start(f, 0), 0);
	poll_pg(f, 0);
	poll_pg(f, 1);
	poll_target_until_done(f);
	assert_int_equal(f->rec.done_calls, 1);
	assert_int_equal(f->rec.done_status, -ENOMEM);
}

static void test_ack_twice_harmless(void **state)
{
	struct fixture *f = *state;

	f->rec.run_action[0] = RUN_ACK_TWICE;
	f->rec.run_action[1] = RUN_DEFER;
	assert_int_equal(start(f, 0), 0);
	poll_pg(f, 0);
	poll_pg(f, 1);
	for (int i = 0; i < 10; i++)
		nvmft_target_poll(f->tgt);
	/* Group 0's second ack must not stand in for group 1. */
	assert_int_equal(f->rec.done_calls, 0);
	assert_non_null(f->rec.deferred);
	nvmft_bcast_ack(f->rec.deferred, f->pg[1], 0);
	nvmft_bcast_ack(f->rec.deferred, f->pg[1], -EINVAL);
	poll_target_until_done(f);
	assert_int_equal(f->rec.done_calls, 1);
	/* The ignored second acks did not change the status either. */
	assert_int_equal(f->rec.done_status, 0);
	for (int i = 0; i < 10; i++)
		nvmft_target_poll(f->tgt);
	assert_int_equal(f->rec.done_calls, 1);
}

static void test_deadline_expires_laggard(void **state)
{
	struct fixture *f = *state;
	uint64_t now = nvmft_now_ms();
	int64_t left;
	int t;

	f->rec.run_action[1] = RUN_DEFER;
	assert_int_equal(start(f, 5000), 0);
	poll_pg(f, 0);
	poll_pg(f, 1);
	nvmft_target_poll(f->tgt);
	left = nvmft_bcast_next_deadline(f->tgt, nvmft_now_ms());
	assert_true(left > 0 && left <= 5000);
	t = nvmft_target_get_timeout_ms(f->tgt);
	assert_true(t > 0 && t <= 5000);
	/* Not due yet: nothing fires. */
	assert_int_equal(nvmft_bcast_check_deadlines(f->tgt, now), 0);
	/* Past the deadline: one expire message, for the group that did not ack. */
	assert_int_equal(nvmft_bcast_check_deadlines(f->tgt, now + 10000), 1);
	assert_int_equal(nvmft_bcast_next_deadline(f->tgt, now + 10000), -1);
	assert_int_equal(nvmft_bcast_check_deadlines(f->tgt, now + 20000), 0);
	assert_int_equal(f->rec.done_calls, 0);
	poll_pg(f, 0);
	poll_pg(f, 1);
	assert_int_equal(f->rec.expires[0], 0);
	assert_int_equal(f->rec.expires[1], 1);
	poll_target_until_done(f);
	assert_int_equal(f->rec.done_calls, 1);
	assert_int_equal(f->rec.done_status, -ETIMEDOUT);
	assert_int_equal(nvmft_target_get_timeout_ms(f->tgt), -1);
}

static void test_expire_acks_itself(void **state)
{
	struct fixture *f = *state;

	f->rec.run_action[0] = RUN_DEFER;
	f->rec.expire_action = EXPIRE_ACK;
	f->rec.expire_status = -ECANCELED;
	assert_int_equal(start(f, 1000), 0);
	poll_pg(f, 0);
	poll_pg(f, 1);
	assert_int_equal(nvmft_bcast_check_deadlines(f->tgt, nvmft_now_ms() + 5000), 1);
	poll_pg(f, 0);
	poll_target_until_done(f);
	assert_int_equal(f->rec.expires[0], 1);
	assert_int_equal(f->rec.done_calls, 1);
	assert_int_equal(f->rec.done_status, -ECANCELED);
}

/* The deadline passes before the group even ran the broadcast; it acks when it does. */
static void test_ack_before_expire_runs(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(start(f, 1000), 0);
	poll_pg(f, 0);
	assert_int_equal(nvmft_bcast_check_deadlines(f->tgt, nvmft_now_ms() + 5000), 1);
	poll_pg(f, 1); /* run (acks 0), then the expire message finds it acked */
	assert_int_equal(f->rec.runs[1], 1);
	assert_int_equal(f->rec.expires[1], 0);
	poll_target_until_done(f);
	assert_int_equal(f->rec.done_calls, 1);
	assert_int_equal(f->rec.done_status, 0);
}

/* A group freed while the broadcast waits for its ack: done is still called. */
static void test_group_freed_while_waiting(void **state)
{
	struct fixture *f = *state;

	f->rec.run_action[1] = RUN_DEFER;
	assert_int_equal(start(f, 0), 0);
	poll_pg(f, 0);
	poll_pg(f, 1);
	assert_int_equal(f->rec.runs[1], 1);
	for (int i = 0; i < 10; i++)
		nvmft_target_poll(f->tgt);
	assert_int_equal(f->rec.done_calls, 0);
	assert_int_equal(nvmft_poll_group_free(f->pg[1]), 0);
	f->pg[1] = NULL;
	poll_target_until_done(f);
	assert_int_equal(f->rec.done_calls, 1);
	assert_int_equal(f->rec.done_status, 0);
	assert_int_equal(f->rec.expires[1], 0);
}

/* A stopped group never polls again: only freeing it settles what it owes. */
static void test_stopped_group_freed(void **state)
{
	struct fixture *f = *state;
	bool stopped = false;

	assert_int_equal(nvmft_poll_group_stop(f->pg[1], NULL, NULL), 0);
	for (int i = 0; i < 10 && !stopped; i++)
		stopped = nvmft_poll_group_poll(f->pg[1], 0) == -ESHUTDOWN;
	assert_true(stopped);
	assert_int_equal(start(f, 0), 0);
	poll_pg(f, 0);
	assert_int_equal(nvmft_poll_group_poll(f->pg[1], 0), -ESHUTDOWN);
	for (int i = 0; i < 10; i++)
		nvmft_target_poll(f->tgt);
	assert_int_equal(f->rec.done_calls, 0);
	assert_int_equal(f->rec.runs[1], 0);
	assert_int_equal(nvmft_poll_group_free(f->pg[1]), 0);
	f->pg[1] = NULL;
	poll_target_until_done(f);
	assert_int_equal(f->rec.done_calls, 1);
	assert_int_equal(f->rec.done_status, 0);
	assert_int_equal(f->rec.runs[1], 0);
}

/* Freed with an expire message still queued to it: no leak, done still called. */
static void test_group_freed_with_expire_queued(void **state)
{
	struct fixture *f = *state;

	f->rec.run_action[1] = RUN_DEFER;
	assert_int_equal(start(f, 1000), 0);
	poll_pg(f, 0);
	poll_pg(f, 1);
	assert_int_equal(nvmft_poll_group_stop(f->pg[1], NULL, NULL), 0);
	for (int i = 0; i < 10 && nvmft_poll_group_poll(f->pg[1], 0) != -ESHUTDOWN; i++)
		;
	assert_int_equal(nvmft_poll_group_poll(f->pg[1], 0), -ESHUTDOWN);
	assert_int_equal(nvmft_bcast_check_deadlines(f->tgt, nvmft_now_ms() + 5000), 1);
	nvmft_target_poll(f->tgt);
	assert_int_equal(f->rec.done_calls, 0);
	assert_int_equal(nvmft_poll_group_free(f->pg[1]), 0);
	f->pg[1] = NULL;
	poll_target_until_done(f);
	assert_int_equal(f->rec.done_calls, 1);
	assert_int_equal(f->rec.expires[1], 0);
}

/* A group created after the broadcast started is not part of it. */
static void test_new_group_not_included(void **state)
{
	struct fixture *f = *state;
	struct nvmft_poll_group *late;

	assert_int_equal(start(f, 0), 0);
	assert_int_equal(nvmft_poll_group_new(f->tgt, NULL, &late), 0);
	f->rec.pg[2] = late;
	poll_pg(f, 0);
	poll_pg(f, 1);
	assert_true(nvmft_poll_group_poll(late, 0) >= 0);
	poll_target_until_done(f);
	assert_int_equal(f->rec.done_calls, 1);
	assert_int_equal(f->rec.runs[2], 0);
	assert_int_equal(nvmft_poll_group_free(late), 0);
}

/* Several broadcasts in flight complete independently. */
static void test_two_in_flight(void **state)
{
	struct fixture *f = *state;
	struct rec second = { 0 };

	memcpy(second.pg, f->rec.pg, sizeof(second.pg));
	second.ack_status[2] = -EPERM;
	assert_int_equal(start(f, 0), 0);
	assert_int_equal(nvmft_bcast_start(f->tgt, &rec_ops, &second, 0), 0);
	for (int i = 0; i < 3; i++)
		poll_pg(f, i);
	for (int i = 0; i < POLL_LIMIT && (f->rec.done_calls == 0 || second.done_calls == 0); i++)
		nvmft_target_poll(f->tgt);
	assert_int_equal(f->rec.done_calls, 1);
	assert_int_equal(f->rec.done_status, 0);
	assert_int_equal(second.done_calls, 1);
	assert_int_equal(second.done_status, -EPERM);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f->rec.runs[i], 1);
		assert_int_equal(second.runs[i], 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_zero_groups_done_async, setup0, teardown),
		cmocka_unit_test_setup_teardown(test_done_after_every_ack, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_first_error_wins, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_ack_twice_harmless, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_expires_laggard, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_expire_acks_itself, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_ack_before_expire_runs, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_group_freed_while_waiting, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_stopped_group_freed, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_group_freed_with_expire_queued, setup2,
						teardown),
		cmocka_unit_test_setup_teardown(test_new_group_not_included, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_two_in_flight, setup3, teardown),
	};

	return cmocka_run_group_tests_name("bcast", tests, NULL, NULL);
}
