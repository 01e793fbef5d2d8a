/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queue pairs: teardown with I/O still in the backend, an admin queue taking
 * its I/O queues on other groups with it, Fabrics Disconnect, the getters
 * (peer address, statistics), and the race between freeing an I/O queue
 * and its controller asking the queue's group to disconnect it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "core/ctrlr.h"
#include "core/qpair.h"
#include "core/transport.h"
#include "loop_transport.h"
#include "test_backend.h"

#define NQN "nqn.2024-01.io.example:qpair"
#define ST(sct, sc) NVMFT_STATUS(sct, sc)
#define ST_DNR(sct, sc) NVMFT_STATUS_DNR(sct, sc)

struct fx {
	struct lt_env env;
	struct lt_qpair *aq;
	uint16_t cntlid;
	struct tb *tb;
	struct nvmft_backend *be;
};

static void fx_init(struct fx *f, int nr_pgs)
{
	struct lt_env_opts eo = { .nr_pgs = nr_pgs };

	memset(f, 0, sizeof(*f));
	assert_int_equal(lt_env_init(&f->env, &eo), 0);
	assert_non_null(lt_env_add_subsystem(&f->env, NQN, true));
	assert_int_equal(tb_new("qpair-tb", 256, 512, 0, TB_INLINE, &f->tb, &f->be), 0);
	assert_non_null(lt_env_add_ns(&f->env, f->env.ss, f->be, 1));
	f->aq = lt_qpair_new(&f->env, 0);
	assert_int_equal(lt_connect_raw(f->aq, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, NQN,
					LT_HOSTNQN).status, 0);
	f->cntlid = lt_qpair_core(f->aq)->ctrlr->cntlid;
	assert_int_equal(lt_prop_set(f->aq, NVME_REG_CC, 1u | 6u << 16 | 4u << 20).status, 0);
}

static struct lt_qpair *io_on(struct fx *f, int pg_idx, uint16_t qid, uint16_t sqsize)
{
	struct lt_qpair *q = lt_qpair_new(&f->env, pg_idx);
	struct lt_cpl r = lt_connect_raw(q, qid, sqsize, 0, f->cntlid, NQN, LT_HOSTNQN);

	assert_int_equal(r.status, 0);
	return q;
}

static int submit_write(struct lt_qpair *q, uint64_t lba, void *buf)
{
	struct nvmft_cmd c = { .opcode = nvme_cmd_write, .nsid = htole32(1) };

	c.cdw10 = htole32((uint32_t)lba);
	return lt_submit(q, &c, buf, 512);
}

static uint64_t current_io(struct nvmft_poll_group *pg)
{
	struct nvmft_poll_group_stats st = { .size = sizeof(st) };

	assert_int_equal(nvmft_poll_group_get_stats(pg, &st), 0);
	return st.current_io_qpairs;
}

static int count_ctrlrs(void *arg, const struct nvmft_ctrlr *c)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

/* ---- Teardown with I/O in flight ------------------------------------------------------------ */

static void test_close_with_io_in_backend(void **state)
{
	struct fx f;
	struct lt_qpair *q1, *q2;
	uint8_t w[512], r[512];
	int tag;

	(void)state;
	fx_init(&f, 1);
	q1 = io_on(&f, 0, 1, 31);
	q2 = io_on(&f, 0, 2, 31);
	tb_hold(f.tb, true);
	memset(w, 0x5e, sizeof(w));
	tag = submit_write(q1, 7, w);
	assert_true(tag >= 0);
	lt_env_settle(&f.env);
	assert_int_equal(tb_held(f.tb), 1);

	/* The host goes away: the queue stops at once but lives until the backend answers. */
	lt_qpair_close(q1);
	assert_true(lt_qpair_is_dead(q1));
	assert_false(lt_qpair_is_freed(q1));
	assert_int_equal(lt_qpair_outstanding(q1), 1);
	assert_int_equal(lt_qpair_core(q1)->state, NVMFT_QPAIR_DISCONNECTING);
	assert_int_equal(current_io(f.env.pg[0]), 2);

	/* Everyone else carries on. */
	tb_hold(f.tb, false);
	memset(w, 0x61, sizeof(w));
	assert_int_equal(lt_rw(q2, true, 1, 9, 1, w, 512).status, 0);
	assert_int_equal(lt_rw(q2, false, 1, 9, 1, r, 512).status, 0);
	assert_memory_equal(r, w, 512);
	assert_int_equal(lt_identify(f.aq, NVME_IDENTIFY_CNS_CTRL, 0, 0,
				     (uint8_t[4096]){ 0 }).status, 0);
	assert_false(lt_qpair_is_freed(q1));

	assert_int_equal(tb_release(f.tb), 1);
	lt_env_settle(&f.env);
	assert_true(lt_qpair_is_freed(q1));
	assert_int_equal(current_io(f.env.pg[0]), 1);
	/* The backend finished the write even though nobody hears the answer. */
	assert_int_equal(tb_data(f.tb)[7 * 512], 0x5e);
	/* The queue ID is free again. */
	q1 = io_on(&f, 0, 1, 31);
	assert_int_equal(lt_rw(q1, false, 1, 7, 1, r, 512).status, 0);
	assert_int_equal(r[0], 0x5e);
	lt_env_fini(&f.env);
}

static void test_admin_close_takes_io_queues(void **state)
{
	struct fx f;
	struct lt_qpair *q1, *q2;
	uint8_t w[512] = { 1 };
	int n = 0, tag;

	(void)state;
	fx_init(&f, 2);
	q1 = io_on(&f, 1, 1, 31);
	q2 = io_on(&f, 0, 2, 31);
	assert_ptr_equal(lt_qpair_core(q1)->pg, f.env.pg[1]);
	assert_int_equal(current_io(f.env.pg[1]), 1);
	/* q1 (on the other group) has a write in the backend. */
	tb_hold(f.tb, true);
	tag = submit_write(q1, 3, w);
	assert_true(tag >= 0);
	lt_env_settle(&f.env);
	assert_int_equal(tb_held(f.tb), 1);

	lt_qpair_close(f.aq);
	assert_true(lt_qpair_is_freed(f.aq));
	assert_true(lt_qpair_is_dead(q1));
	assert_true(lt_qpair_is_dead(q2));
	assert_true(lt_qpair_is_freed(q2));
	assert_false(lt_qpair_is_freed(q1));
	assert_int_equal(nvmft_subsystem_foreach_ctrlr(f.env.ss, count_ctrlrs, &n), 0);
	assert_int_equal(n, 0);

	assert_int_equal(tb_release(f.tb), 1);
	lt_env_settle(&f.env);
	assert_true(lt_qpair_is_freed(q1));
	assert_int_equal(current_io(f.env.pg[1]), 0);
	assert_int_equal(current_io(f.env.pg[0]), 0);
	lt_env_fini(&f.env);
}

static void test_fabrics_disconnect(void **state)
{
	struct fx f;
	struct lt_qpair *q1;
	struct nvmft_disconnect_cmd d = { .opcode = NVMFT_OPC_FABRICS,
					  .fctype = NVMFT_FCTYPE_DISCONNECT };
	struct lt_cpl r;

	(void)state;
	fx_init(&f, 1);
	q1 = io_on(&f, 0, 1, 31);
	r = lt_cmd(q1, (const struct nvmft_cmd *)&d, NULL, 0);
	assert_true(r.done);
	assert_int_equal(r.status, 0);
	lt_env_settle(&f.env);
	assert_true(lt_qpair_is_freed(q1));
	assert_false(lt_qpair_is_dead(f.aq));
	/* Not on an admin queue. */
	r = lt_cmd(f.aq, (const struct nvmft_cmd *)&d, NULL, 0);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_DISCONNECT_INVALID_QTYPE));
	lt_env_fini(&f.env);
}

/* Disconnecting twice, or asking twice from afar, is one disconnect. */
static void test_disconnect_idempotent(void **state)
{
	struct fx f;
	struct lt_qpair *q1;
	struct nvmft_qpair *qp;

	(void)state;
	fx_init(&f, 1);
	q1 = io_on(&f, 0, 1, 31);
	qp = lt_qpair_core(q1);
	nvmft_qpair_disconnect_remote(qp);
	nvmft_qpair_disconnect_remote(qp);
	assert_true(atomic_load(&qp->disconnect_posted));
	assert_false(lt_qpair_is_dead(q1)); /* only when its group runs the message */
	assert_int_equal(nvmft_poll_group_poll(f.env.pg[0], 0) >= 1, 1);
	assert_true(lt_qpair_is_dead(q1));
	nvmft_qpair_disconnect(qp);
	lt_env_settle(&f.env);
	assert_true(lt_qpair_is_freed(q1));
	assert_false(lt_qpair_is_dead(f.aq));
	lt_env_fini(&f.env);
}

/* ---- Getters --------------------------------------------------------------------------------- */

static struct sockaddr_storage peer_addr;
static int peer_rc;

static int fake_get_peer(const struct nvmft_qpair *qp, struct sockaddr_storage *ss)
{
	(void)qp;
	*ss = peer_addr;
	return peer_rc;
}

static void test_get_peer(void **state)
{
	struct fx f;
	struct nvmft_transport_ops ops;
	const struct nvmft_transport_ops *saved;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&peer_addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&peer_addr;
	struct nvmft_qpair *qp;
	enum nvmft_adrfam fam = 0;
	char addr[64], port[8];

	(void)state;
	fx_init(&f, 1);
	qp = lt_qpair_core(f.aq);
	/* The loop transport has no address. */
	assert_int_equal(nvmft_qpair_get_peer(qp, &fam, addr, sizeof(addr), port, sizeof(port)),
			 -ENOTCONN);
	assert_int_equal(nvmft_qpair_get_peer(qp, &fam, NULL, 0, NULL, 0), -EINVAL);
	assert_int_equal(nvmft_qpair_get_peer(NULL, &fam, addr, sizeof(addr), NULL, 0), -EINVAL);

	/* Give it one through its ops table (restored below). */
	saved = f.env.tr->ops;
	ops = *saved;
	ops.qpair_get_peer = fake_get_peer;
	f.env.tr->ops = &ops;

	memset(&peer_addr, 0, sizeof(peer_addr));
	in4->sin_family = AF_INET;
	in4->sin_port = htons(4420);
	inet_pton(AF_INET, "192.168.10.20", &in4->sin_addr);
	peer_rc = 0;
	assert_int_equal(nvmft_qpair_get_peer(qp, &fam, addr, sizeof(addr), port, sizeof(port)), 0);
	assert_int_equal(fam, NVMFT_ADRFAM_IPV4);
	assert_string_equal(addr, "192.168.10.20");
	assert_string_equal(port, "4420");
	assert_int_equal(nvmft_qpair_get_peer(qp, NULL, addr, sizeof(addr), NULL, 0), 0);
	assert_int_equal(nvmft_qpair_get_peer(qp, NULL, addr, 13, NULL, 0), -ENOSPC);
	assert_int_equal(nvmft_qpair_get_peer(qp, NULL, addr, 14, NULL, 0), 0);
	assert_int_equal(nvmft_qpair_get_peer(qp, NULL, addr, sizeof(addr), port, 4), -ENOSPC);
	assert_int_equal(nvmft_qpair_get_peer(qp, NULL, addr, sizeof(addr), port, 5), 0);

	memset(&peer_addr, 0, sizeof(peer_addr));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(65535);
	inet_pton(AF_INET6, "fd00::1:2", &in6->sin6_addr);
	assert_int_equal(nvmft_qpair_get_peer(qp, &fam, addr, sizeof(addr), port, sizeof(port)), 0);
	assert_int_equal(fam, NVMFT_ADRFAM_IPV6);
	assert_string_equal(addr, "fd00::1:2");
	assert_string_equal(port, "65535");

	peer_addr.ss_family = AF_UNIX;
	assert_int_equal(nvmft_qpair_get_peer(qp, &fam, addr, sizeof(addr), port, sizeof(port)),
			 -ENOTCONN);
	peer_rc = -ENOTCONN;
	assert_int_equal(nvmft_qpair_get_peer(qp, &fam, addr, sizeof(addr), port, sizeof(port)),
			 -ENOTCONN);
	f.env.tr->ops = saved;
	lt_env_fini(&f.env);
}

static void test_getters(void **state)
{
	struct fx f;
	struct lt_qpair *q1, *fresh;
	struct nvmft_qpair *qp;

	(void)state;
	fx_init(&f, 1);
	q1 = io_on(&f, 0, 1, 15);
	qp = lt_qpair_core(q1);
	assert_int_equal(nvmft_qpair_get_qid(qp), 1);
	assert_int_equal(nvmft_qpair_get_depth(qp), 16);
	assert_int_equal(nvmft_qpair_get_trtype(qp), (enum nvmft_trtype)254);
	assert_ptr_equal(nvmft_qpair_get_listener(qp), f.env.listener);
	assert_string_equal(nvmft_qpair_get_poll_group_name(qp), "pg0");
	assert_int_equal(nvmft_qpair_get_qid(lt_qpair_core(f.aq)), 0);
	assert_int_equal(nvmft_qpair_get_depth(lt_qpair_core(f.aq)), 32);
	/* Before Connect: queue 0, nothing negotiated yet, already on its group. */
	fresh = lt_qpair_new(&f.env, 0);
	assert_int_equal(nvmft_qpair_get_qid(lt_qpair_core(fresh)), 0);
	assert_string_equal(nvmft_qpair_get_poll_group_name(lt_qpair_core(fresh)), "pg0");
	lt_env_fini(&f.env);
}

static void get_qstats(struct lt_qpair *q, struct nvmft_qpair_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	assert_int_equal(nvmft_qpair_get_stats(lt_qpair_core(q), st), 0);
}

static void test_stats(void **state)
{
	struct fx f;
	struct lt_qpair *q1;
	struct nvmft_qpair_stats st, part;
	uint8_t buf[1024] = { 0 };
	int tag;

	(void)state;
	fx_init(&f, 1);
	q1 = io_on(&f, 0, 1, 31);
	get_qstats(q1, &st);
	assert_int_equal(st.size, sizeof(st));
	assert_int_equal(st.cmds, 1);                /* Connect */
	assert_int_equal(st.bytes_written, 1024);    /* its data */
	assert_int_equal(st.bytes_read, 0);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.outstanding, 0);

	assert_int_equal(lt_rw(q1, true, 1, 0, 2, buf, 1024).status, 0);
	assert_int_equal(lt_rw(q1, false, 1, 0, 1, buf, 512).status, 0);
	assert_int_equal(lt_rw(q1, true, 1, 300, 1, buf, 512).status,
			 ST_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE));
	assert_int_equal(lt_rw(q1, false, 1, 300, 1, buf, 512).status,
			 ST_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE));
	get_qstats(q1, &st);
	assert_int_equal(st.cmds, 5);
	assert_int_equal(st.errors, 2);
	assert_int_equal(st.bytes_written, 1024 + 1024);
	assert_int_equal(st.bytes_read, 512);
	assert_int_equal(st.outstanding, 0);

	tb_hold(f.tb, true);
	tag = submit_write(q1, 1, buf);
	lt_env_settle(&f.env);
	get_qstats(q1, &st);
	assert_int_equal(st.outstanding, 1);
	assert_int_equal(st.cmds, 6);
	assert_int_equal(tb_release(f.tb), 1);
	tb_hold(f.tb, false);
	assert_int_equal(lt_wait(q1, tag).status, 0);
	get_qstats(q1, &st);
	assert_int_equal(st.outstanding, 0);
	assert_int_equal(st.bytes_written, 1024 + 1024 + 512);

	/* Size handling. */
	memset(&part, 0xcd, sizeof(part));
	part.size = offsetof(struct nvmft_qpair_stats, errors);
	assert_int_equal(nvmft_qpair_get_stats(lt_qpair_core(q1), &part), 0);
	assert_int_equal(part.cmds, 6);
	assert_int_equal(part.errors, 0xcdcdcdcdcdcdcdcdull);
	part.size = 3;
	assert_int_equal(nvmft_qpair_get_stats(lt_qpair_core(q1), &part), -EINVAL);
	assert_int_equal(nvmft_qpair_get_stats(lt_qpair_core(q1), NULL), -EINVAL);
	assert_int_equal(nvmft_qpair_get_stats(NULL, &st), -EINVAL);
	lt_env_fini(&f.env);
}

/* ---- Free vs. remote disconnect -------------------------------------------------------------- */

struct poller {
	struct nvmft_poll_group *pg;
	int rc;
};

static void *poll_thread(void *arg)
{
	struct poller *p = arg;

	p->rc = nvmft_poll_group_poll(p->pg, 0);
	return NULL;
}

/*
 * The host closes an I/O queue (group B frees it) while its admin queue goes
 * away too (group A, under the controller lock, asks B to disconnect it).
 * If A's request lands after B checked for pending disconnect messages but
 * before B took the queue out of the controller, B frees the queue with A's
 * message still queued: the message then runs on freed memory.
 *
 * Made deterministic by holding the controller lock ourselves: B's thread
 * blocks on it inside the free (seen as the glibc mutex turning contended),
 * then we post the disconnect exactly as the admin side would, and let go.
 */
static void test_free_races_remote_disconnect(void **state)
{
	struct fx f;
	struct lt_qpair *q1;
	struct nvmft_qpair *qp;
	struct nvmft_ctrlr *ctrlr;
	struct poller p;
	pthread_t th;
	bool blocked = false, freed_with_message_queued;

	(void)state;
	fx_init(&f, 2);
	q1 = io_on(&f, 1, 1, 31);
	qp = lt_qpair_core(q1);
	ctrlr = qp->ctrlr;
	lt_env_settle(&f.env);

	/* Host side closes the I/O queue: nothing outstanding, so it waits to be freed by B. */
	nvmft_qpair_disconnect(qp);
	assert_int_equal(qp->state, NVMFT_QPAIR_REAPED);

	pthread_mutex_lock(&ctrlr->lock);
	p.pg = f.env.pg[1];
	p.rc = 0;
	assert_int_equal(pthread_create(&th, NULL, poll_thread, &p), 0);
	for (long i = 0; i < 50000000 && !blocked; i++) {
		blocked = __atomic_load_n(&ctrlr->lock.__data.__lock, __ATOMIC_ACQUIRE) > 1;
		if (!blocked)
			sched_yield();
	}
	if (blocked)
		/* What ctrlr_begin_delete() does under the lock. */
		nvmft_qpair_disconnect_remote(ctrlr->qpairs[1]);
	pthread_mutex_unlock(&ctrlr->lock);
	pthread_join(th, NULL);
	assert_true(blocked);
	freed_with_message_queued = lt_qpair_is_freed(q1) && atomic_load(&qp->disconnect_posted);

	/* Let the message run (the loop transport keeps the memory) and clean up. */
	lt_env_settle(&f.env);
	lt_env_settle(&f.env);
	assert_true(lt_qpair_is_freed(q1));
	lt_env_fini(&f.env);
	assert_false(freed_with_message_queued);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_with_io_in_backend),
		cmocka_unit_test(test_admin_close_takes_io_queues),
		cmocka_unit_test(test_fabrics_disconnect),
		cmocka_unit_test(test_disconnect_idempotent),
		cmocka_unit_test(test_get_peer),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_free_races_remote_disconnect),
	};

	return cmocka_run_group_tests_name("qpair", tests, NULL, NULL);
}
