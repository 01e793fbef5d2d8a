/* SPDX-License-Identifier: BSD-3-Clause */
/* The MPSC message queue: order, eventfd signalling, budgets, many producers. */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/compiler.h"
#include "util/msgq.h"

struct tmsg {
	struct nvmft_msg msg;
	int producer;
	int seq;
};

static int seen[8];
static int order_violations;
static int total;

static void on_msg(struct nvmft_msg *m)
{
	struct tmsg *t = nvmft_container_of(m, struct tmsg, msg);

	if (t->seq != seen[t->producer])
		order_violations++;
	seen[t->producer] = t->seq + 1;
	total++;
}

static bool fd_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void test_fifo_and_signal(void **state)
{
	struct nvmft_msgq q;
	struct tmsg m[5];

	(void)state;
	memset(seen, 0, sizeof(seen));
	total = order_violations = 0;
	assert_int_equal(nvmft_msgq_init(&q), 0);
	assert_false(fd_readable(nvmft_msgq_fd(&q)));
	assert_int_equal(nvmft_msgq_drain(&q, 0), 0);
	for (int i = 0; i < 5; i++) {
		m[i].producer = 0;
		m[i].seq = i;
		nvmft_msgq_post(&q, &m[i].msg, on_msg);
	}
	assert_true(fd_readable(nvmft_msgq_fd(&q)));
	assert_true(nvmft_msgq_pending(&q));
	/* A budget stops early and leaves the queue signalled for the rest. */
	assert_int_equal(nvmft_msgq_drain(&q, 2), 2);
	assert_true(fd_readable(nvmft_msgq_fd(&q)));
	assert_int_equal(nvmft_msgq_drain(&q, 0), 3);
	assert_int_equal(total, 5);
	assert_int_equal(order_violations, 0);
	assert_false(fd_readable(nvmft_msgq_fd(&q)));
	assert_false(nvmft_msgq_pending(&q));
	/* Reusable after being drained empty. */
	nvmft_msgq_post(&q, &m[0].msg, on_msg);
	m[0].seq = 5;
	assert_int_equal(nvmft_msgq_drain(&q, 0), 1);
	nvmft_msgq_fini(&q);
}

/* A message posted from inside a handler runs after it returns, never nested in it. */
static struct nvmft_msgq *g_q;
static struct tmsg g_chain[3];
static int chain_runs;

static void on_chain(struct nvmft_msg *m)
{
	struct tmsg *t = nvmft_container_of(m, struct tmsg, msg);

	chain_runs++;
	if (t->seq < 2)
		nvmft_msgq_post(g_q, &g_chain[t->seq + 1].msg, on_chain);
}

static void test_post_from_handler(void **state)
{
	struct nvmft_msgq q;
	unsigned int n = 0;

	(void)state;
	assert_int_equal(nvmft_msgq_init(&q), 0);
	g_q = &q;
	chain_runs = 0;
	for (int i = 0; i < 3; i++)
		g_chain[i].seq = i;
	nvmft_msgq_post(&q, &g_chain[0].msg, on_chain);
	for (int i = 0; i < 10 && chain_runs < 3; i++)
		n += nvmft_msgq_drain(&q, 0);
	assert_int_equal(chain_runs, 3);
	assert_int_equal(n, 3);
	/* A post during a drain may leave one spurious wakeup; it clears quietly. */
	assert_int_equal(nvmft_msgq_drain(&q, 0), 0);
	assert_false(fd_readable(nvmft_msgq_fd(&q)));
	nvmft_msgq_fini(&q);
}

#define PRODUCERS 4
#define PER_PRODUCER 20000

struct producer {
	struct nvmft_msgq *q;
	int id;
	struct tmsg *msgs;
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (int i = 0; i < PER_PRODUCER; i++) {
		p->msgs[i].producer = p->id;
		p->msgs[i].seq = i;
		nvmft_msgq_post(p->q, &p->msgs[i].msg, on_msg);
	}
	return NULL;
}

static void test_many_producers(void **state)
{
	struct nvmft_msgq q;
	struct producer p[PRODUCERS];
	pthread_t th[PRODUCERS];

	(void)state;
	memset(seen, 0, sizeof(seen));
	total = order_violations = 0;
	assert_int_equal(nvmft_msgq_init(&q), 0);
	for (int i = 0; i < PRODUCERS; i++) {
		p[i].q = &q;
		p[i].id = i;
		p[i].msgs = calloc(PER_PRODUCER, sizeof(struct tmsg));
		assert_non_null(p[i].msgs);
		assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
	}
	/* Consume while producing; bounded by message count, not time. */
	for (long spins = 0; total < PRODUCERS * PER_PRODUCER && spins < 100000000L; spins++) {
		struct pollfd pf = { .fd = nvmft_msgq_fd(&q), .events = POLLIN };

		if (nvmft_msgq_drain(&q, 0) == 0)
			poll(&pf, 1, 10);
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	nvmft_msgq_drain(&q, 0);
	assert_int_equal(total, PRODUCERS * PER_PRODUCER);
	/* Per-producer FIFO holds across producers. */
	assert_int_equal(order_violations, 0);
	for (int i = 0; i < PRODUCERS; i++) {
		assert_int_equal(seen[i], PER_PRODUCER);
		free(p[i].msgs);
	}
	nvmft_msgq_fini(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_and_signal),
		cmocka_unit_test(test_post_from_handler),
		cmocka_unit_test(test_many_producers),
	};

	return cmocka_run_group_tests_name("msgq", tests, NULL, NULL);
}
