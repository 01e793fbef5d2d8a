/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Single-block atomicity: Identify Controller reports AWUN 0, so a write
 * of one block is atomic "with respect to other read or write commands":
 * a read of that block returns the old or the new contents, never a mix.
 *
 * One host writes block 0 over and over, each time all of it with one byte
 * value, four writes in flight; another host on the other poll group reads
 * block 0 over and over, four reads in flight, and checks that every read
 * returns one value throughout.  Phase 1 uses the uring backend on a file,
 * phase 2 the RAM backend; 16 KiB blocks (a longer copy makes a race
 * easier to see), 5 s each.
 *
 * Usage: soak_atomic [--seconds N] [--block-size N] [--dir DIR]
 * Output is TAP, one test point per backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nvmft/nvmft.h>

#include "tcp_host.h"
#include "test_util.h"

#define SUBNQN "nqn.2024-01.io.nvmft:atomic"
#define QD 4
#define NBLOCKS 64

struct env {
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg[2];
	pthread_t pg_thread[2];
	atomic_bool pg_stop;
	atomic_uint assigned;
	atomic_int port;
	atomic_uint connected;   /* hosts done connecting */
	atomic_bool stop;
	uint32_t bs;
	atomic_ulong reads, writes, torn, failures;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The writer's two connections go to group 0, the reader's to group 1. */
static struct nvmft_poll_group *assign(void *arg, const struct nvmft_qpair *qp)
{
	struct env *e = arg;

	(void)qp;
	return e->pg[(atomic_fetch_add(&e->assigned, 1) / 2) % 2];
}

static void *pg_main(void *arg)
{
	struct env *e = ((void **)arg)[0];
	struct nvmft_poll_group *pg = ((void **)arg)[1];

	while (!atomic_load(&e->pg_stop))
		nvmft_poll_group_wait(pg, 50);
	return NULL;
}

static void done_cb(void *arg, int status)
{
	*(int *)arg = status;
}

static void mgmt_poll(struct env *e, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	do {
		struct pollfd p = { .fd = nvmft_target_get_fd(e->tgt), .events = POLLIN };

		nvmft_target_poll(e->tgt);
		poll(&p, 1, 5);
	} while (now_ms() < end);
}

/* An admin queue (enabled) and I/O queue 1 for @hostnqn; the I/O queue is returned. */
static struct th *connect_host(struct env *e, const char *hostnqn, struct th **admin)
{
	struct th_cfg cfg = { .timeout_ms = 10000, .hostnqn = hostnqn, .subnqn = SUBNQN };
	struct th *a = NULL, *q = NULL;
	char port[16];
	uint16_t cntlid;

	snprintf(port, sizeof(port), "%d", atomic_load(&e->port));
	if (th_connect("127.0.0.1", port, &cfg, &a) != 0 || th_admin_up(a, 0, &cntlid) != 0 ||
	    th_connect("127.0.0.1", port, &cfg, &q) != 0 || th_icreq(q, 0, 0, 0) != 0 ||
	    th_connect_io(q, 1, 31, cntlid) != 0) {
		fprintf(stderr, "# %s: cannot connect\n", hostnqn);
		th_free(a);
		th_free(q);
		return NULL;
	}
	*admin = a;
	return q;
}

struct slot {
	int cid;
	uint8_t *buf;
};

static void *writer(void *arg)
{
	struct env *e = arg;
	struct slot s[QD] = { 0 };
	struct th *admin, *q;
	uint32_t k = 0;

	q = connect_host(e, "nqn.2014-08.org.nvmexpress:uuid:a70a1c00-0000-4000-8000-000000000001",
			 &admin);
	atomic_fetch_add(&e->connected, 1);
	if (q == NULL) {
		atomic_fetch_add(&e->failures, 1);
		return NULL;
	}
	for (int i = 0; i < QD; i++)
		s[i].buf = malloc(e->bs);
	while (!atomic_load(&e->stop)) {
		for (int i = 0; i < QD; i++) {
			struct nvmft_cmd c = th_rw_cmd(true, 1, 0, 1);
			struct th_io io = { .wdata = s[i].buf, .wlen = e->bs };

			memset(s[i].buf, 0x10 + (int)(k++ % 8), e->bs);
			s[i].cid = th_submit(q, &c, &io);
		}
		for (int i = 0; i < QD; i++) {
			if (s[i].cid < 0 || th_wait(q, s[i].cid, NULL) != 0) {
				atomic_fetch_add(&e->failures, 1);
				atomic_store(&e->stop, true);
				break;
			}
			atomic_fetch_add(&e->writes, 1);
		}
	}
	for (int i = 0; i < QD; i++)
		free(s[i].buf);
	th_free(q);
	th_free(admin);
	return NULL;
}

static void *reader(void *arg)
{
	struct env *e = arg;
	struct slot s[QD] = { 0 };
	struct th *admin, *q;

	/* After the writer, so the assignment puts it on the other group. */
	while (atomic_load(&e->connected) < 1)
		usleep(1000);
	q = connect_host(e, "nqn.2014-08.org.nvmexpress:uuid:a70a1c00-0000-4000-8000-000000000002",
			 &admin);
	atomic_fetch_add(&e->connected, 1);
	if (q == NULL) {
		atomic_fetch_add(&e->failures, 1);
		return NULL;
	}
	for (int i = 0; i < QD; i++)
		s[i].buf = malloc(e->bs);
	while (!atomic_load(&e->stop)) {
		for (int i = 0; i < QD; i++) {
			struct nvmft_cmd c = th_rw_cmd(false, 1, 0, 1);
			struct th_io io = { .rdata = s[i].buf, .rlen = e->bs };

			s[i].cid = th_submit(q, &c, &io);
		}
		for (int i = 0; i < QD; i++) {
			uint32_t diff = 0;

			if (s[i].cid < 0 || th_wait(q, s[i].cid, NULL) != 0) {
				atomic_fetch_add(&e->failures, 1);
				atomic_store(&e->stop, true);
				break;
			}
			atomic_fetch_add(&e->reads, 1);
			for (uint32_t b = 1; b < e->bs; b++)
				diff += s[i].buf[b] != s[i].buf[0];
			if (diff != 0 && atomic_fetch_add(&e->torn, 1) < 3)
				fprintf(stderr, "# torn read: starts with %02x, %u of %u bytes differ\n",
					s[i].buf[0], diff, e->bs);
		}
	}
	for (int i = 0; i < QD; i++)
		free(s[i].buf);
	th_free(q);
	th_free(admin);
	return NULL;
}

static bool run(const char *name, const char *path, uint32_t bs, int seconds)
{
	struct env e = { .bs = bs };
	struct nvmft_target_opts to;
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4,
					.traddr = "127.0.0.1", .trsvcid = "0" };
	struct nvmft_subsystem_opts so;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	struct nvmft_subsystem *ss;
	struct nvmft_backend *be = NULL;
	struct nvmft_ns *ns;
	void *args[2][2];
	pthread_t w, r;
	int pending = 1, rc;
	uint64_t end;
	bool ok;

	nvmft_target_opts_init(&to, sizeof(to));
	to.assign_fn = assign;
	to.assign_arg = &e;
	if (nvmft_target_new(&to, &e.tgt) != 0)
		return false;
	for (int i = 0; i < 2; i++) {
		if (nvmft_poll_group_new(e.tgt, NULL, &e.pg[i]) != 0)
			return false;
		args[i][0] = &e;
		args[i][1] = e.pg[i];
		pthread_create(&e.pg_thread[i], NULL, pg_main, args[i]);
	}
	rc = nvmft_transport_new(e.tgt, NVMFT_TRTYPE_TCP, NULL, &tr);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = SUBNQN;
	so.allow_any_host = true;
	if (rc == 0)
		rc = nvmft_subsystem_new(e.tgt, &so, &ss);
	if (rc == 0)
		rc = path ? nvmft_backend_uring_new("atomic", path, bs, &be)
			  : nvmft_backend_malloc_new("atomic", NBLOCKS, bs, &be);
	if (rc == 0)
		rc = nvmft_ns_add(ss, be, NULL, done_cb, &pending, &ns);
	while (rc == 0 && pending == 1)
		mgmt_poll(&e, 1);
	if (rc == 0)
		rc = pending;
	if (rc == 0)
		rc = nvmft_listener_new(tr, &lo, &l);
	if (rc == 0)
		rc = nvmft_subsystem_add_listener(ss, l);
	if (rc != 0) {
		fprintf(stderr, "# %s: setup failed: %s\n", name, strerror(-rc));
		return false;
	}
	atomic_store(&e.port, atoi(nvmft_listener_get_trsvcid(l)));
	pthread_create(&w, NULL, writer, &e);
	pthread_create(&r, NULL, reader, &e);
	end = now_ms() + (uint64_t)seconds * 1000;
	while (now_ms() < end && !atomic_load(&e.stop))
		mgmt_poll(&e, 20);
	atomic_store(&e.stop, true);
	/* The hosts close their connections through the target: keep it going while they leave. */
	while (pthread_tryjoin_np(w, NULL) == EBUSY)
		mgmt_poll(&e, 5);
	while (pthread_tryjoin_np(r, NULL) == EBUSY)
		mgmt_poll(&e, 5);
	atomic_store(&e.pg_stop, true);
	for (int i = 0; i < 2; i++) {
		pthread_join(e.pg_thread[i], NULL);
		nvmft_poll_group_free(e.pg[i]);
	}
	nvmft_target_free(e.tgt);
	nvmft_backend_free(be);
	printf("# %s: %lu reads, %lu writes of one %u-byte block from two poll groups; "
	       "torn reads %lu, failures %lu\n", name, atomic_load(&e.reads),
	       atomic_load(&e.writes), bs, atomic_load(&e.torn), atomic_load(&e.failures));
	ok = atomic_load(&e.torn) == 0 && atomic_load(&e.failures) == 0 &&
	     atomic_load(&e.reads) > 0 && atomic_load(&e.writes) > 0;
	return ok;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "dir", required_argument, NULL, 'd' },
		{ 0 },
	};
	int seconds = 5, c, failed = 0, fd;
	uint32_t bs = 16384;
	const char *dir = NULL;
	char *tmp = NULL, path[512];
	bool ok;

	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		if (c == 's')
			seconds = atoi(optarg);
		else if (c == 'b')
			bs = (uint32_t)atoi(optarg);
		else if (c == 'd')
			dir = optarg;
		else
			return 2;
	}
	if (dir == NULL)
		dir = tmp = tu_mkdtemp();
	if (dir == NULL) {
		printf("Bail out! no temporary directory\n");
		return 1;
	}
	printf("1..2\n");
	snprintf(path, sizeof(path), "%s/atomic.img", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ok = fd >= 0 && ftruncate(fd, (off_t)NBLOCKS * bs) == 0;
	if (fd >= 0)
		close(fd);
	ok = ok && run("uring", path, bs, seconds);
	unlink(path);
	printf("%s 1 - uring\n", ok ? "ok" : "not ok");
	failed += !ok;
	ok = run("ram", NULL, bs, seconds);
	printf("%s 2 - ram\n", ok ? "ok" : "not ok");
	failed += !ok;
	if (tmp != NULL) {
		tu_rmtree(tmp);
		free(tmp);
	}
	return failed ? 1 : 0;
}
