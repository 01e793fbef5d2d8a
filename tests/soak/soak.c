/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Soak test driver (see soak.h for the invariant).
 *
 * The target runs in this process: the main thread is its management
 * thread, and each of its two poll groups has a thread of its own that
 * sleeps in nvmft_poll_group_wait().  Two subsystems, each with one
 * namespace; four hosts (soak_host.c), two per namespace on disjoint
 * regions, each a controller with an admin queue and two I/O queues, so
 * twelve connections spread over both groups.
 *
 * Phases:
 * - ram: the malloc backend (512-byte blocks).  Every few seconds a
 *   barrier drains the target so lost writes can be settled.
 * - uring: the io_uring backend on two files (4 KiB blocks), hosts also
 *   send Flush and FUA writes.  Barriers alternate with restarts: the
 *   hosts Flush, keep writing, and the target is torn down under them (as
 *   a process exit would) and a new one is built on the same files and
 *   port; every host then reads its whole region back.
 * At the end of each phase a last barrier, and every host reads its whole
 * region back.
 *
 * Usage: soak [--long] [--ram-seconds N] [--uring-seconds N] [--seed N]
 *             [--dir DIR] [--verbose] [--self-test]
 *   default: 25 s ram + 35 s uring (the CI mode); --long: 300 s + 300 s.
 *   --self-test: 8 s of uring only, a barrier or restart every 1.5 s;
 *   between two restarts one host's region is put back to an older state
 *   behind the target's back, and the run passes only if the hosts find
 *   it (the checker can fail).
 * Output is TAP: one test point per phase, the counts as comments.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nvmft/nvmft.h>

#include "soak.h"
#include "test_util.h"

#define NPG 2
#define NSS 2
#define WAIT_MS 60000

static const char *const ss_nqn[NSS] = {
	"nqn.2024-01.io.nvmft:soak-a",
	"nqn.2024-01.io.nvmft:soak-b",
};

struct pg_thread {
	struct nvmft_poll_group *pg;
	pthread_t thread;
	atomic_bool stop;
	atomic_bool stopped;
};

struct tgt_env {
	struct soak_ctl *ctl;
	bool uring;
	uint32_t block_size;
	uint64_t blocks;        /* per namespace */
	char path[NSS][512];
	struct nvmft_target *tgt;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	struct nvmft_subsystem *ss[NSS];
	struct nvmft_backend *be[NSS];
	struct pg_thread pgt[NPG];
	/* What the library logged, from any thread. */
	atomic_ulong ka_expired;
	atomic_ulong warnings;
	atomic_ulong errors;
	bool verbose;
	/* --self-test: host 1's region goes back to an older state between two restarts. */
	bool self_test;
	uint64_t region_bytes;
	uint8_t *stale;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void log_cb(void *arg, enum nvmft_log_level level, const char *msg)
{
	struct tgt_env *t = arg;

	if (strstr(msg, "keep-alive timeout expired") != NULL)
		atomic_fetch_add(&t->ka_expired, 1);
	if (level <= NVMFT_LOG_ERR)
		atomic_fetch_add(&t->errors, 1);
	else if (level == NVMFT_LOG_WARN)
		atomic_fetch_add(&t->warnings, 1);
	/* Warnings are expected (connections refused while groups stop); errors are not. */
	if (level <= NVMFT_LOG_ERR || t->verbose)
		fprintf(stderr, "# target %s: %s\n", nvmft_log_level_name(level), msg);
}

/* The management thread's share of the work for @ms. */
static void mgmt_poll(struct tgt_env *t, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	do {
		struct pollfd p = { .fd = nvmft_target_get_fd(t->tgt), .events = POLLIN };
		int to = nvmft_target_get_timeout_ms(t->tgt);

		nvmft_target_poll(t->tgt);
		if (to < 0 || to > 10)
			to = 10;
		poll(&p, 1, to);
	} while (now_ms() < end);
}

static void done_cb(void *arg, int status)
{
	*(int *)arg = status;
}

static void stopped_cb(void *arg, int status)
{
	(void)status;
	atomic_store((atomic_bool *)arg, true);
}

static void *pg_main(void *arg)
{
	struct pg_thread *p = arg;

	while (!atomic_load(&p->stop))
		nvmft_poll_group_wait(p->pg, 50);
	nvmft_poll_group_stop(p->pg, stopped_cb, &p->stopped);
	while (!atomic_load(&p->stopped))
		nvmft_poll_group_wait(p->pg, 50);
	return NULL;
}

static int fail_setup(const char *what, int rc)
{
	fprintf(stderr, "# soak: %s: %s\n", what, strerror(-rc));
	return -1;
}

/* Build a target on the current backends' files (or fresh RAM), listening on ctl->port. */
static int tgt_start(struct tgt_env *t)
{
	struct nvmft_target_opts to;
	struct nvmft_transport_opts tro;
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4,
					.traddr = "127.0.0.1" };
	struct nvmft_ns *ns;
	char port[16];
	int rc, pending;

	nvmft_target_opts_init(&to, sizeof(to));
	to.log_fn = log_cb;
	to.log_arg = t;
	to.log_level = t->verbose ? NVMFT_LOG_INFO : NVMFT_LOG_NOTICE;
	rc = nvmft_target_new(&to, &t->tgt);
	if (rc < 0)
		return fail_setup("nvmft_target_new", rc);
	for (int i = 0; i < NPG; i++) {
		struct pg_thread *p = &t->pgt[i];

		rc = nvmft_poll_group_new(t->tgt, NULL, &p->pg);
		if (rc < 0)
			return fail_setup("nvmft_poll_group_new", rc);
		atomic_store(&p->stop, false);
		atomic_store(&p->stopped, false);
		if (pthread_create(&p->thread, NULL, pg_main, p) != 0)
			return fail_setup("pthread_create", -EAGAIN);
	}
	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &tro, sizeof(tro));
	/* Several R2Ts per large write: cuts land between them too. */
	tro.max_h2c_data = 8192;
	rc = nvmft_transport_new(t->tgt, NVMFT_TRTYPE_TCP, &tro, &t->tr);
	if (rc < 0)
		return fail_setup("nvmft_transport_new", rc);
	for (int i = 0; i < NSS; i++) {
		struct nvmft_subsystem_opts so;
		char name[32];

		nvmft_subsystem_opts_init(&so, sizeof(so));
		so.nqn = ss_nqn[i];
		so.allow_any_host = true;
		rc = nvmft_subsystem_new(t->tgt, &so, &t->ss[i]);
		if (rc < 0)
			return fail_setup("subsystem", rc);
		snprintf(name, sizeof(name), "soak%d", i);
		if (t->uring)
			rc = nvmft_backend_uring_new(name, t->path[i], t->block_size, &t->be[i]);
		else
			rc = nvmft_backend_malloc_new(name, t->blocks, t->block_size, &t->be[i]);
		if (rc < 0)
			return fail_setup("backend", rc);
		pending = 1;
		rc = nvmft_ns_add(t->ss[i], t->be[i], NULL, done_cb, &pending, &ns);
		if (rc < 0)
			return fail_setup("nvmft_ns_add", rc);
		for (uint64_t end = now_ms() + WAIT_MS; pending == 1 && now_ms() < end;)
			mgmt_poll(t, 1);
		if (pending != 0)
			return fail_setup("namespace attach", pending == 1 ? -ETIMEDOUT : pending);
	}
	/*
	 * The same port again after a restart, as a restarted daemon would; it
	 * opens last, with everything behind it ready, and nothing is accepted
	 * before the subsystems have it (accepting happens in mgmt_poll()).
	 */
	snprintf(port, sizeof(port), "%d", atomic_load(&t->ctl->port));
	lo.trsvcid = port;
	for (int i = 0; i < 200; i++) {
		rc = nvmft_listener_new(t->tr, &lo, &t->l);
		if (rc != -EADDRINUSE)
			break;
		mgmt_poll(t, 10);
	}
	if (rc < 0)
		return fail_setup("nvmft_listener_new", rc);
	for (int i = 0; i < NSS; i++) {
		rc = nvmft_subsystem_add_listener(t->ss[i], t->l);
		if (rc < 0)
			return fail_setup("nvmft_subsystem_add_listener", rc);
	}
	atomic_store(&t->ctl->port, atoi(nvmft_listener_get_trsvcid(t->l)));
	return 0;
}

/* Tear the target down with whatever is connected, as a process exit with a clean stop would. */
static void tgt_stop(struct tgt_env *t)
{
	uint64_t end = now_ms() + WAIT_MS;
	bool all;

	if (t->tgt == NULL)
		return;
	atomic_fetch_add(&t->ctl->teardowns, 1);
	for (int i = 0; i < NPG; i++)
		if (t->pgt[i].pg != NULL)
			atomic_store(&t->pgt[i].stop, true);
	do {
		mgmt_poll(t, 5);
		all = true;
		for (int i = 0; i < NPG; i++)
			all = all && (t->pgt[i].pg == NULL || atomic_load(&t->pgt[i].stopped));
	} while (!all && now_ms() < end);
	for (int i = 0; i < NPG; i++) {
		if (t->pgt[i].pg == NULL)
			continue;
		pthread_join(t->pgt[i].thread, NULL);
		if (nvmft_poll_group_free(t->pgt[i].pg) < 0)
			fprintf(stderr, "# soak: a poll group would not free\n");
		t->pgt[i].pg = NULL;
	}
	nvmft_target_poll(t->tgt);
	nvmft_target_free(t->tgt);
	t->tgt = NULL;
	for (int i = 0; i < NSS; i++) {
		nvmft_backend_free(t->be[i]);
		t->be[i] = NULL;
	}
}

/* No queue pair left on any group: nothing of a host is running in a backend. */
static bool tgt_drained(struct tgt_env *t)
{
	for (int i = 0; i < NPG; i++) {
		struct nvmft_poll_group_stats st = { .size = sizeof(st) };

		nvmft_poll_group_get_stats(t->pgt[i].pg, &st);
		if (st.current_admin_qpairs + st.current_io_qpairs + st.pending_bdev_io != 0)
			return false;
	}
	return true;
}

static bool wait_for(struct tgt_env *t, atomic_uint *v, unsigned int want)
{
	uint64_t end = now_ms() + WAIT_MS;

	while (atomic_load(v) < want && now_ms() < end)
		mgmt_poll(t, 2);
	return atomic_load(v) >= want;
}

/* Every host closes its connections; once the target holds none, they go on. */
static int barrier(struct tgt_env *t, int nhosts, bool final)
{
	struct soak_ctl *ctl = t->ctl;
	uint64_t end;
	unsigned int gen;

	atomic_store(&ctl->arrived, 0);
	gen = atomic_fetch_add(&ctl->barrier, 1) + 1;
	if (!wait_for(t, &ctl->arrived, (unsigned int)nhosts)) {
		fprintf(stderr, "# soak: hosts did not reach barrier %u\n", gen);
		return -1;
	}
	end = now_ms() + WAIT_MS;
	while (!tgt_drained(t) && now_ms() < end)
		mgmt_poll(t, 2);
	if (!tgt_drained(t)) {
		fprintf(stderr, "# soak: the target did not drain at barrier %u\n", gen);
		return -1;
	}
	atomic_fetch_add(&ctl->drain_epoch, 1);
	atomic_store(&ctl->final, final);
	atomic_store(&ctl->released, gen);
	return 0;
}

/*
 * Prove that the checker catches stale data: keep host 1's region as it is
 * at the first restart and put it back at the second, while no target runs.
 */
static void self_test_tamper(struct tgt_env *t)
{
	unsigned int n = atomic_load(&t->ctl->restarts);
	int fd = open(t->path[0], O_RDWR | O_CLOEXEC);
	ssize_t r = -1;

	if (fd < 0 || n > 1)
		goto out;
	if (n == 0) {
		t->stale = malloc(t->region_bytes);
		if (t->stale != NULL)
			r = pread(fd, t->stale, t->region_bytes, 0);
	} else if (t->stale != NULL) {
		r = pwrite(fd, t->stale, t->region_bytes, 0);
	}
	printf("# self-test: %s %zd bytes of host 1's region\n", n == 0 ? "saved" : "restored", r);
out:
	if (fd >= 0)
		close(fd);
}

/* Hosts Flush; then, with their I/O still running, the target goes and a new one comes. */
static int restart(struct tgt_env *t, int nhosts)
{
	struct soak_ctl *ctl = t->ctl;

	atomic_store(&ctl->flushed, 0);
	atomic_fetch_add(&ctl->flush_req, 1);
	if (!wait_for(t, &ctl->flushed, (unsigned int)nhosts)) {
		fprintf(stderr, "# soak: hosts did not Flush\n");
		return -1;
	}
	/* More writes, some FUA, in flight when the target goes. */
	mgmt_poll(t, 200);
	tgt_stop(t);
	if (t->self_test)
		self_test_tamper(t);
	/* Nothing of the old target runs any more: its lost writes are settled. */
	atomic_fetch_add(&ctl->drain_epoch, 1);
	if (tgt_start(t) < 0)
		return -1;
	atomic_fetch_add(&ctl->restarts, 1);
	return 0;
}

static int make_file(const char *path, uint64_t bytes)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)bytes) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

struct phase {
	const char *name;
	bool uring;
	uint32_t block_size;
	uint32_t region;       /* blocks per host */
	int seconds;
	int barrier_ms;        /* between barriers (and restarts) */
};

static void report(const struct phase *ph, const struct soak_stats *s, const struct tgt_env *t,
		   double secs)
{
	printf("# %s: %.0f s, %llu I/Os: %llu writes (%llu FUA, %llu blocks), %llu reads, "
	       "%llu flushes\n",
	       ph->name, secs, (unsigned long long)(s->writes + s->reads + s->flushes),
	       (unsigned long long)s->writes, (unsigned long long)s->fua_writes,
	       (unsigned long long)s->blocks_written, (unsigned long long)s->reads,
	       (unsigned long long)s->flushes);
	printf("# %s: cuts %llu (FIN %llu, RST %llu, inside a PDU %llu, admin queue %llu), "
	       "keep-alive pauses %llu -> expiries seen by hosts %llu, logged by the target %lu\n",
	       ph->name,
	       (unsigned long long)(s->cut_fin + s->cut_rst + s->cut_partial),
	       (unsigned long long)s->cut_fin, (unsigned long long)s->cut_rst,
	       (unsigned long long)s->cut_partial, (unsigned long long)s->cut_admin,
	       (unsigned long long)s->ka_pauses, (unsigned long long)s->ka_expired,
	       atomic_load(&t->ka_expired));
	printf("# %s: connections closed by the target %llu, reconnects %llu (retries %llu), "
	       "barriers %llu, restarts %u\n",
	       ph->name, (unsigned long long)s->closed_by_target, (unsigned long long)s->reconnects,
	       (unsigned long long)s->connect_retries, (unsigned long long)s->barriers / SOAK_HOSTS,
	       atomic_load(&t->ctl->restarts));
	printf("# %s: verified %llu blocks (%llu full read-backs); lost writes %llu (%llu blocks: "
	       "landed %llu, not landed %llu); rejected while the controller went %llu; "
	       "durable blocks checked after restarts %llu\n",
	       ph->name, (unsigned long long)s->blocks_verified,
	       (unsigned long long)s->full_verifies, (unsigned long long)s->lost_writes,
	       (unsigned long long)s->lost_blocks, (unsigned long long)s->lost_landed,
	       (unsigned long long)s->lost_dropped, (unsigned long long)s->rejected_dying,
	       (unsigned long long)s->durable_checked);
	printf("# %s: violations %llu, errors %llu; target log: %lu warnings, %lu errors\n",
	       ph->name, (unsigned long long)s->violations, (unsigned long long)s->errors,
	       atomic_load(&t->warnings), atomic_load(&t->errors));
	fflush(stdout);
}

static bool run_phase(const struct phase *ph, uint32_t seed, const char *dir, bool verbose,
		      bool self_test)
{
	struct soak_ctl ctl = { 0 };
	struct tgt_env t = { .ctl = &ctl, .uring = ph->uring, .block_size = ph->block_size,
			     .verbose = verbose, .self_test = self_test,
			     .region_bytes = (uint64_t)ph->region * ph->block_size };
	struct soak_host *hosts[SOAK_HOSTS] = { 0 };
	struct soak_stats sum = { 0 };
	uint64_t start = now_ms(), end, next_barrier;
	int nbarrier = 0, started = 0;
	bool ok = true;

	/* Two hosts per namespace, each on a region of its own. */
	t.blocks = 2ull * ph->region;
	for (int i = 0; i < NSS && ph->uring; i++) {
		int rc;

		snprintf(t.path[i], sizeof(t.path[i]), "%s/soak-%d.img", dir, i);
		rc = make_file(t.path[i], t.blocks * ph->block_size);
		if (rc < 0) {
			fprintf(stderr, "# soak: %s: %s\n", t.path[i], strerror(-rc));
			return false;
		}
	}
	atomic_store(&ctl.port, 0);
	if (tgt_start(&t) < 0) {
		tgt_stop(&t);
		return false;
	}
	for (int i = 0; i < SOAK_HOSTS; i++) {
		struct soak_host_cfg hc = {
			.id = i + 1,
			.ctl = &ctl,
			.subnqn = ss_nqn[i % NSS],
			.block_size = ph->block_size,
			.base = (uint64_t)(i / NSS) * ph->region,
			.nblocks = ph->region,
			.fua = ph->uring,
			.seed = seed * 7919u + (uint32_t)i * 104729u + 1,
			.cut_every_ms = 300,
			.ka_pause_every_ms = 9000,
			.verbose = verbose,
		};

		if (soak_host_start(&hc, &hosts[i]) < 0) {
			ok = false;
			break;
		}
		started++;
	}
	end = start + (uint64_t)ph->seconds * 1000;
	next_barrier = start + (uint64_t)ph->barrier_ms;
	/*
	 * The self-test needs two restarts (save, then put back); on a loaded
	 * machine barriers take longer, so it runs on until they happened,
	 * within a bound.
	 */
	while (ok && atomic_load(&ctl.failed) == 0 &&
	       (now_ms() < end ||
		(self_test && atomic_load(&ctl.restarts) < 2 && now_ms() < end + 60000))) {
		mgmt_poll(&t, 20);
		if (now_ms() < next_barrier)
			continue;
		/* uring: restarts and barriers take turns. */
		if (ph->uring && nbarrier % 2 == 1)
			ok = restart(&t, started) == 0;
		else
			ok = barrier(&t, started, false) == 0;
		nbarrier++;
		next_barrier = now_ms() + (uint64_t)ph->barrier_ms;
	}
	/* The last barrier: then every host reads its whole region back and leaves. */
	if (ok && barrier(&t, started, true) < 0)
		ok = false;
	atomic_store(&ctl.stop, true);
	for (int i = 0; i < started; i++) {
		/* They read back through the target: keep its management going until they leave. */
		while (!soak_host_done(hosts[i]))
			mgmt_poll(&t, 5);
		soak_host_join(hosts[i], &sum);
	}
	tgt_stop(&t);
	report(ph, &sum, &t, (double)(now_ms() - start) / 1000.0);
	for (int i = 0; i < NSS && ph->uring; i++)
		unlink(t.path[i]);
	free(t.stale);
	if (self_test) {
		/* The only acceptable outcome: the stale blocks were found. */
		printf("# self-test: %llu violations found in the stale region (expected > 0)\n",
		       (unsigned long long)sum.violations);
		return ok && sum.violations > 0 && sum.errors == 0 && atomic_load(&t.errors) == 0;
	}
	if (sum.violations || sum.errors || atomic_load(&ctl.failed) || atomic_load(&t.errors))
		ok = false;
	/* Every kind of event must have happened for the run to mean anything. */
	if (sum.blocks_verified == 0 || sum.lost_writes == 0 || sum.cut_fin == 0 ||
	    sum.cut_rst == 0 || sum.cut_partial == 0 || atomic_load(&t.ka_expired) == 0 ||
	    (ph->uring && (atomic_load(&ctl.restarts) == 0 || sum.durable_checked == 0))) {
		printf("# %s: some event never happened: the run is too short\n", ph->name);
		ok = false;
	}
	return ok;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "long", no_argument, NULL, 'L' },
		{ "ram-seconds", required_argument, NULL, 'r' },
		{ "uring-seconds", required_argument, NULL, 'u' },
		{ "seed", required_argument, NULL, 's' },
		{ "dir", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "self-test", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct phase phases[] = {
		{ .name = "ram", .uring = false, .block_size = 512, .region = 4096, .seconds = 25,
		  .barrier_ms = 4000 },
		{ .name = "uring", .uring = true, .block_size = 4096, .region = 2048, .seconds = 35,
		  .barrier_ms = 4000 },
	};
	uint32_t seed = (uint32_t)time(NULL);
	const char *dir = NULL;
	char *tmp = NULL;
	bool verbose = false, self_test = false;
	int c, failed = 0;

	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'L':
			phases[0].seconds = 300;
			phases[1].seconds = 300;
			break;
		case 'r':
			phases[0].seconds = atoi(optarg);
			break;
		case 'u':
			phases[1].seconds = atoi(optarg);
			break;
		case 's':
			seed = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'T':
			/* Only the uring phase restarts; two restarts are enough. */
			self_test = true;
			phases[0].seconds = 0;
			phases[1].seconds = 8;
			phases[1].barrier_ms = 1500;
			break;
		default:
			printf("usage: %s [--long] [--ram-seconds N] [--uring-seconds N] [--seed N] "
			       "[--dir DIR] [--verbose] [--self-test]\n", argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (dir == NULL) {
		tmp = tu_mkdtemp();
		if (tmp == NULL) {
			printf("Bail out! no temporary directory\n");
			return 1;
		}
		dir = tmp;
	}
	printf("1..%zu\n# seed %u (--seed %u repeats the random choices)\n",
	       sizeof(phases) / sizeof(phases[0]), seed, seed);
	fflush(stdout);
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
		bool ok = phases[i].seconds <= 0 ||
			  run_phase(&phases[i], seed, dir, verbose, self_test);

		printf("%s %zu - %s%s\n", ok ? "ok" : "not ok", i + 1, phases[i].name,
		       phases[i].seconds <= 0 ? " # SKIP not asked for" : "");
		fflush(stdout);
		failed += !ok;
	}
	if (tmp != NULL) {
		tu_rmtree(tmp);
		free(tmp);
	}
	return failed ? 1 : 0;
}
