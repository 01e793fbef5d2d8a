/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A connection flood against a small max_connections, with the threads an
 * application has: the management thread accepts and evicts while the
 * group threads run Connect and free queue pairs.  A flooder keeps three
 * times the limit open, opening a new connection every few milliseconds
 * and closing its oldest: some say nothing, some half an ICReq, some an
 * ICReq, some a Connect the target refuses.  None of them completes
 * Connect, and connect_timeout_ms (10 s) is longer than the test.
 * Meanwhile:
 * - a host connected before the flood does I/O all along: connected queues
 *   are never evicted, so none of its commands fails;
 * - two more hosts connect a controller (admin and I/O queue), move data
 *   and go, over and over: each gets in, retrying only when newer
 *   connections evicted it before its Connect was done, and never waits
 *   for connect_timeout_ms.
 * Afterwards nothing is left: no connection, no eviction in flight.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/target.h"
#include "stress_env.h"

#define LIMIT 32
#define RING (3 * LIMIT)
#define NCHURN 2
#define NLB 8
/* Connections the flood opens at least while newcomers keep coming. */
#define FLOOD_MIN (8 * LIMIT)
/* A session that takes this long waited for something it should not have. */
#define SESSION_MAX_MS 8000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct flood {
	struct senv *e;
	atomic_bool stop;
	atomic_uint opened;
	/* Written by the flooder, read after it was joined. */
	unsigned int closed;      /* closed by the target while in the ring: evicted */
	unsigned int connect_err; /* connect() failed */
};

/* The target closed this connection (it never completed Connect, so it was evicted). */
static bool closed_by_target(struct th *h)
{
	uint8_t b;
	ssize_t n = recv(th_fd(h), &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* A new idle connection doing little: kind 0 nothing, 1 half an ICReq, 2 ICReq, 3 a refused Connect. */
static struct th *flood_one(struct flood *fl, unsigned int kind)
{
	struct th_cfg cfg = { .timeout_ms = 2000, .subnqn = SENV_NQN };
	struct th_connect_args bad = { .qid = 0, .sqsize = 31, .cntlid = NVMFT_CNTLID_DYNAMIC,
				       .subnqn = "nqn.2024-01.io.nvmft:nobody-home" };
	uint8_t icreq[NVMFT_TCP_ICREQ_LEN];
	struct th *h;

	if (th_connect("127.0.0.1", fl->e->port, &cfg, &h) != 0) {
		fl->connect_err++;
		return NULL;
	}
	/* Each may fail: a newer connection may have evicted this one already. */
	switch (kind) {
	case 1:
		nvmft_tcp_enc_icreq(icreq, 0, 0, 0);
		(void)th_send(h, icreq, sizeof(icreq) / 2);
		break;
	case 2:
		(void)th_icreq(h, 0, 0, 0);
		break;
	case 3:
		if (th_icreq(h, 0, 0, 0) == 0)
			(void)th_connect_raw(h, &bad, NULL);
		break;
	default:
		break;
	}
	return h;
}

static void *flood_thread(void *arg)
{
	struct flood *fl = arg;
	struct th *ring[RING] = { 0 };
	unsigned int head = 0;

	while (!atomic_load(&fl->stop)) {
		if (ring[head] != NULL) {
			fl->closed += closed_by_target(ring[head]);
			th_free(ring[head]);
		}
		ring[head] = flood_one(fl, atomic_fetch_add(&fl->opened, 1) % 4);
		head = (head + 1) % RING;
		senv_sleep_ms(2);
	}
	for (unsigned int i = 0; i < RING; i++) {
		if (ring[i] != NULL)
			fl->closed += closed_by_target(ring[i]);
		th_free(ring[i]);
	}
	return NULL;
}

struct host {
	struct senv *e;
	unsigned int idx;
	atomic_bool *stop;   /* the stable host runs until told */
	struct flood *fl;    /* newcomers keep coming while it has opened fewer than FLOOD_MIN */
	unsigned int sessions;
	atomic_bool ready;   /* the stable host connected, or failed to */
	/* Written by the host's thread, read after it was joined. */
	unsigned int done;
	unsigned int retries;  /* sessions begun again after an eviction */
	unsigned int io;
	unsigned int failures; /* anything but an eviction before Connect */
	uint64_t max_ms;       /* longest session, retries included */
	int first_failure;
};

static void host_failed(struct host *h, int rc)
{
	if (h->failures++ == 0)
		h->first_failure = rc;
}

/* Write @NLB blocks at the host's own place and read them back. */
static int write_read(struct host *h, struct th *q, uint32_t gen)
{
	uint8_t w[NLB * SENV_BLOCK], r[NLB * SENV_BLOCK];
	uint64_t lba = (uint64_t)h->idx * 1024 + (gen % 64) * NLB;
	int rc;

	sh_pattern(w, lba, NLB, gen);
	rc = sh_rw(q, true, 1, lba, NLB, w);
	if (rc == 0)
		rc = sh_rw(q, false, 1, lba, NLB, r);
	if (rc == 0 && memcmp(w, r, sizeof(w)) != 0)
		rc = -EILSEQ;
	if (rc == 0)
		h->io++;
	return rc;
}

/* Connected before the flood: its I/O must never fail. */
static void *stable_thread(void *arg)
{
	struct host *h = arg;
	struct shost s;
	int rc = sh_connect(h->e, NULL, 1, 32, &s);

	if (rc != 0) {
		host_failed(h, rc);
		atomic_store(&h->ready, true);
		return NULL;
	}
	h->done = 1;
	atomic_store(&h->ready, true);
	for (uint32_t gen = 1; !atomic_load(h->stop); gen++) {
		rc = write_read(h, s.io[0], gen);
		if (rc != 0) {
			host_failed(h, rc);
			break;
		}
		if (gen % 16 == 0 && th_keep_alive(s.admin) != 0) {
			host_failed(h, -ECONNRESET);
			break;
		}
	}
	sh_close(&s);
	return NULL;
}

/*
 * A newer connection evicted one of ours before its Connect was done: the
 * connection closes, and a Connect that raced with that gets Command
 * Aborted due to SQ Deletion first.
 */
static bool evicted(int rc)
{
	return rc == TH_CLOSED || rc == NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE);
}

/* Connect a controller, move data, go; again.  Only an eviction is retried. */
static void *churn_thread(void *arg)
{
	struct host *h = arg;

	for (unsigned int n = 0; n < h->sessions || atomic_load(&h->fl->opened) < FLOOD_MIN; n++) {
		uint64_t t0 = now_ms(), ms;
		struct shost s;
		int rc;

		for (;;) {
			rc = sh_connect(h->e, NULL, 1, 32, &s);
			if (rc == 0) {
				rc = write_read(h, s.io[0], n + 1);
				sh_close(&s);
			}
			if (!evicted(rc) || h->retries >= 1000)
				break;
			h->retries++;
		}
		ms = now_ms() - t0;
		if (ms > h->max_ms)
			h->max_ms = ms;
		if (rc != 0) {
			host_failed(h, rc);
			return NULL;
		}
		h->done++;
		senv_sleep_ms(5);
	}
	return NULL;
}

struct counts {
	uint32_t connections;
	uint32_t evicting;
};

static void read_counts(void *arg, void *tgtp)
{
	struct counts *c = arg;
	struct nvmft_target *tgt = tgtp;

	pthread_mutex_lock(&tgt->conn_lock);
	c->connections = atomic_load(&tgt->num_connections);
	c->evicting = tgt->num_evicting;
	pthread_mutex_unlock(&tgt->conn_lock);
}

static void set_limit(void *arg, void *tgtp)
{
	struct nvmft_target *tgt = tgtp;

	/* As if passed to nvmft_target_new(): read at each accept, on this thread. */
	tgt->opts.max_connections = *(uint32_t *)arg;
}

static void test_flood(void **state)
{
	struct senv e;
	struct flood fl = { .e = &e };
	atomic_bool stop_stable = false;
	struct host stable = { .e = &e, .idx = 0, .stop = &stop_stable };
	struct host churn[NCHURN];
	pthread_t ft, st, ct[NCHURN];
	uint32_t limit = LIMIT;
	struct counts c;

	(void)state;
	senv_init(&e, NULL);
	senv_mgmt(&e, set_limit, &limit);
	assert_int_equal(pthread_create(&st, NULL, stable_thread, &stable), 0);
	assert_true(SENV_UNTIL(atomic_load(&stable.ready)));
	assert_int_equal(stable.failures, 0);

	assert_int_equal(pthread_create(&ft, NULL, flood_thread, &fl), 0);
	/* Let the flood fill the limit before the newcomers come. */
	senv_sleep_ms(2 * LIMIT * 2);
	for (int i = 0; i < NCHURN; i++) {
		churn[i] = (struct host){ .e = &e, .idx = (unsigned int)i + 1, .fl = &fl,
					  .sessions = 6 * senv_scale() };
		assert_int_equal(pthread_create(&ct[i], NULL, churn_thread, &churn[i]), 0);
	}
	for (int i = 0; i < NCHURN; i++)
		assert_int_equal(pthread_join(ct[i], NULL), 0);
	atomic_store(&fl.stop, true);
	assert_int_equal(pthread_join(ft, NULL), 0);
	atomic_store(&stop_stable, true);
	assert_int_equal(pthread_join(st, NULL), 0);

	print_message("# flood: %u connections opened against a limit of %u, %u of them closed "
		      "by the target, %u connect() failures\n",
		      atomic_load(&fl.opened), LIMIT, fl.closed, fl.connect_err);
	print_message("# connected host: %u write+read pairs, %u failures\n", stable.io,
		      stable.failures);
	for (int i = 0; i < NCHURN; i++)
		print_message("# newcomer %d: %u sessions, %u retries after an eviction, longest "
			      "%llu ms, %u failures (first %d)\n",
			      i, churn[i].done, churn[i].retries, (unsigned long long)churn[i].max_ms,
			      churn[i].failures, churn[i].first_failure);
	assert_int_equal(stable.failures, 0);
	assert_true(stable.io > 0);
	for (int i = 0; i < NCHURN; i++) {
		assert_int_equal(churn[i].failures, 0);
		assert_true(churn[i].done >= churn[i].sessions);
		assert_true(churn[i].max_ms < SESSION_MAX_MS);
	}
	/* The flood kept the limit full, and the target made room from it. */
	assert_true(atomic_load(&fl.opened) >= FLOOD_MIN);
	assert_true(fl.closed > 0);
	assert_int_equal(fl.connect_err, 0);

	assert_true(SENV_UNTIL((senv_mgmt(&e, read_counts, &c), c.connections == 0)));
	assert_int_equal(c.evicting, 0);
	senv_assert_idle(&e);
	senv_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood),
	};

	return cmocka_run_group_tests_name("flood", tests, NULL, NULL);
}
