/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transports and listeners: option defaults and validation, the per-target
 * transport table, per-group transport state, listener creation, lookup,
 * PORTIDs, and destruction with connections (including I/O in flight).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/target.h"
#include "core/transport.h"
#include "loop_transport.h"
#include "test_backend.h"

#define NQN "nqn.2024-01.io.example:tr"
#define BAD_TR ((struct nvmft_transport *)(uintptr_t)0x5a5a5a5a)
#define BAD_L ((struct nvmft_listener *)(uintptr_t)0x5a5a5a5a)

/* ---- A transport that carries nothing, to exercise the generic code ------------------------- */

struct fake_counts {
	int creates, destroys, pg_creates, pg_destroys, listens, stop_listens;
};

static struct fake_counts fc;
static int fake_create_rc;
static int fake_listen_rc;

static int fake_create(struct nvmft_transport *tr)
{
	(void)tr;
	if (fake_create_rc != 0)
		return fake_create_rc;
	fc.creates++;
	return 0;
}

static void fake_destroy(struct nvmft_transport *tr)
{
	(void)tr;
	fc.destroys++;
}

static int fake_listen(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	(void)tr;
	if (fake_listen_rc != 0)
		return fake_listen_rc;
	fc.listens++;
	l->fd = -1;
	return 0;
}

static void fake_stop_listen(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	(void)tr;
	(void)l;
	fc.stop_listens++;
}

static int fake_accept(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	(void)tr;
	(void)l;
	return 0;
}

static int fake_pg_create(struct nvmft_transport *tr, struct nvmft_poll_group *pg, void **tpg)
{
	(void)tr;
	*tpg = pg;
	fc.pg_creates++;
	return 0;
}

static void fake_pg_destroy(void *tpg)
{
	(void)tpg;
	fc.pg_destroys++;
}

static int fake_pg_poll(void *tpg, unsigned int budget)
{
	(void)tpg;
	(void)budget;
	return 0;
}

#define FAKE_OPS(n, t)                                          \
	static const struct nvmft_transport_ops n = {           \
		.type = (enum nvmft_trtype)(t),                 \
		.name = #n,                                     \
		.create = fake_create,                          \
		.destroy = fake_destroy,                        \
		.listen = fake_listen,                          \
		.stop_listen = fake_stop_listen,                \
		.accept = fake_accept,                          \
		.pg_create = fake_pg_create,                    \
		.pg_destroy = fake_pg_destroy,                  \
		.pg_poll = fake_pg_poll,                        \
	}

FAKE_OPS(fake_a, 240);
FAKE_OPS(fake_b, 241);
FAKE_OPS(fake_c, 242);
FAKE_OPS(fake_d, 243);
FAKE_OPS(fake_e, 244);

static void generic_defaults(struct nvmft_transport_opts *o)
{
	nvmft_transport_opts_init((enum nvmft_trtype)254, o, sizeof(*o));
}

static int try_opts(const struct nvmft_transport_opts *o)
{
	struct nvmft_target *tgt;
	struct nvmft_transport *tr = BAD_TR;
	int rc;

	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	rc = nvmft_transport_new_ops(tgt, &fake_a, o, &tr);
	if (rc < 0) {
		assert_ptr_equal(tr, BAD_TR);
		assert_null(nvmft_transport_get_first(tgt));
	} else {
		assert_ptr_equal(nvmft_transport_get_first(tgt), tr);
	}
	nvmft_target_free(tgt);
	return rc;
}

/* ---- Options ------------------------------------------------------------------------------- */

static void test_opts_init(void **state)
{
	struct nvmft_transport_opts o, sentinel;
	size_t part = offsetof(struct nvmft_transport_opts, max_qpairs_per_ctrlr);
	int tcp_rc = nvmft_transport_ops_find(NVMFT_TRTYPE_TCP) != NULL ? 0 : -EPROTONOSUPPORT;
	int rdma_rc = nvmft_transport_ops_find(NVMFT_TRTYPE_RDMA) != NULL ? 0 : -EPROTONOSUPPORT;

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(nvmft_transport_opts_init((enum nvmft_trtype)254, &o, sizeof(o)),
			 -EPROTONOSUPPORT);
	/* Not built in, yet filled with the generic defaults. */
	assert_int_equal(o.size, sizeof(o));
	assert_int_equal(o.max_queue_depth, 128);
	assert_int_equal(o.max_aq_depth, 128);
	assert_int_equal(o.max_qpairs_per_ctrlr, 128);
	assert_int_equal(o.in_capsule_data_size, 4096);
	assert_int_equal(o.max_io_size, 131072);
	assert_int_equal(o.buf_pool_bytes, 32ull << 20);
	assert_int_equal(o.digests, NVMFT_DIGEST_HEADER | NVMFT_DIGEST_DATA);
	assert_true(o.c2h_success);
	assert_int_equal(o.max_h2c_data, 131072);
	assert_int_equal(o.max_connections, 4096);
	assert_int_equal(nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o)), tcp_rc);
	assert_int_equal(nvmft_transport_opts_init(NVMFT_TRTYPE_RDMA, &o, sizeof(o)), rdma_rc);

	memset(&o, 0xa5, sizeof(o));
	memset(&sentinel, 0xa5, sizeof(sentinel));
	nvmft_transport_opts_init((enum nvmft_trtype)254, &o, part);
	assert_int_equal(o.size, part);
	assert_int_equal(o.max_queue_depth, 128);
	assert_memory_equal((uint8_t *)&o + part, (uint8_t *)&sentinel + part, sizeof(o) - part);
	memset(&o, 0xa5, sizeof(o));
	assert_int_equal(nvmft_transport_opts_init((enum nvmft_trtype)254, &o, 4), -EINVAL);
	assert_memory_equal(&o, &sentinel, sizeof(o));
	assert_int_equal(nvmft_transport_opts_init((enum nvmft_trtype)254, NULL, sizeof(o)),
			 -EINVAL);
}

static void test_opts_validation(void **state)
{
	struct nvmft_transport_opts o;

	(void)state;
#define CHECK(rc, stmt)                                 \
	do {                                            \
		generic_defaults(&o);                   \
		stmt;                                   \
		assert_int_equal(try_opts(&o), rc);     \
	} while (0)
	CHECK(0, (void)0);
	CHECK(-EINVAL, o.max_queue_depth = 1);
	CHECK(0, o.max_queue_depth = 2);
	CHECK(0, o.max_queue_depth = 65536);
	CHECK(-EINVAL, o.max_queue_depth = 65537);
	CHECK(-EINVAL, o.max_aq_depth = 31);
	CHECK(0, o.max_aq_depth = 32);
	CHECK(0, o.max_aq_depth = 4096);
	CHECK(-EINVAL, o.max_aq_depth = 4097);
	CHECK(-EINVAL, o.max_qpairs_per_ctrlr = 1);
	CHECK(0, o.max_qpairs_per_ctrlr = 2);
	CHECK(0, o.max_qpairs_per_ctrlr = 65535);
	CHECK(-EINVAL, o.max_qpairs_per_ctrlr = 65536);
	CHECK(0, o.in_capsule_data_size = 0);
	CHECK(0, o.in_capsule_data_size = 65536);
	CHECK(-EINVAL, o.in_capsule_data_size = 65537);
	CHECK(-EINVAL, o.max_io_size = 0);
	CHECK(-EINVAL, o.max_io_size = 2048);
	CHECK(-EINVAL, o.max_io_size = 12288);
	CHECK(0, o.max_io_size = 4096);
	CHECK(0, (o.max_io_size = 8u << 20, o.buf_pool_bytes = 8u << 20));
	CHECK(-EINVAL, (o.max_io_size = 16u << 20, o.buf_pool_bytes = 16u << 20));
	CHECK(-EINVAL, o.buf_pool_bytes = o.max_io_size - 1);
	CHECK(0, o.buf_pool_bytes = o.max_io_size);
	CHECK(-EINVAL, o.max_h2c_data = 4095);
	CHECK(0, o.max_h2c_data = 4096);
	CHECK(-EINVAL, o.max_connections = 0);
	CHECK(0, o.max_connections = 1);
	CHECK(-EINVAL, o.size = sizeof(size_t) - 1);
	/* A smaller (older) struct takes defaults for the rest. */
	CHECK(0,
	      (o.size = offsetof(struct nvmft_transport_opts, max_aq_depth), o.max_aq_depth = 1));
#undef CHECK
	assert_int_equal(try_opts(NULL), 0);
}

/* ---- The transport table --------------------------------------------------------------------- */

static void test_transport_table(void **state)
{
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg, *late;
	struct nvmft_transport *a, *b, *c, *d, *x = BAD_TR;
	struct nvmft_transport_opts o;

	(void)state;
	memset(&fc, 0, sizeof(fc));
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &pg), 0);
	assert_null(nvmft_transport_get_first(tgt));
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_a, NULL, &a), 0);
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_a, NULL, &x), -EEXIST);
	assert_ptr_equal(x, BAD_TR);
	fake_create_rc = -EIO;
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_b, NULL, &x), -EIO);
	fake_create_rc = 0;
	assert_ptr_equal(x, BAD_TR);
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_b, NULL, &b), 0);
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_c, NULL, &c), 0);
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_d, NULL, &d), 0);
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_e, NULL, &x), -ENOSPC);
	assert_ptr_equal(x, BAD_TR);
	assert_int_equal(fc.creates, 4);

	assert_ptr_equal(nvmft_transport_get_first(tgt), a);
	assert_ptr_equal(nvmft_transport_get_next(a), b);
	assert_ptr_equal(nvmft_transport_get_next(b), c);
	assert_ptr_equal(nvmft_transport_get_next(c), d);
	assert_null(nvmft_transport_get_next(d));
	assert_null(nvmft_transport_get_next(NULL));
	assert_null(nvmft_transport_get_first(NULL));
	assert_ptr_equal(nvmft_transport_find(tgt, (enum nvmft_trtype)242), c);
	assert_null(nvmft_transport_find(tgt, (enum nvmft_trtype)244));
	assert_null(nvmft_transport_find(NULL, (enum nvmft_trtype)242));
	assert_int_equal(nvmft_transport_get_type(b), 241);

	/* The running group gets its per-transport state on its own thread. */
	assert_int_equal(fc.pg_creates, 0);
	assert_true(nvmft_poll_group_poll(pg, 0) >= 4);
	assert_int_equal(fc.pg_creates, 4);
	for (int i = 0; i < 4; i++)
		assert_non_null(pg->tr[i].tr);
	/* A group created now gets it at once. */
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &late), 0);
	assert_int_equal(fc.pg_creates, 8);
	assert_ptr_equal(late->tr[a->index].tr, a);

	nvmft_transport_get_opts(b, &o, sizeof(o));
	assert_int_equal(o.size, sizeof(o));
	assert_int_equal(o.max_io_size, 131072);
	memset(&o, 0xa5, sizeof(o));
	nvmft_transport_get_opts(b, &o, offsetof(struct nvmft_transport_opts, max_aq_depth));
	assert_int_equal(o.max_queue_depth, 128);
	assert_int_equal(o.max_aq_depth, 0xa5a5a5a5);
	nvmft_transport_get_opts(NULL, &o, sizeof(o));
	nvmft_transport_get_opts(b, NULL, sizeof(o));

	assert_int_equal(nvmft_transport_new(tgt, (enum nvmft_trtype)999, NULL, &x),
			 -EPROTONOSUPPORT);
	assert_int_equal(nvmft_transport_new(NULL, NVMFT_TRTYPE_TCP, NULL, &x), -EINVAL);
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, NULL, NULL), -EINVAL);
	assert_ptr_equal(x, BAD_TR);

	assert_int_equal(nvmft_poll_group_free(pg), 0);
	assert_int_equal(nvmft_poll_group_free(late), 0);
	assert_int_equal(fc.pg_destroys, 8);
	nvmft_target_free(tgt);
	assert_int_equal(fc.destroys, 4);
}

static void test_trtype_names(void **state)
{
	(void)state;
	assert_string_equal(nvmft_trtype_name(NVMFT_TRTYPE_TCP), "TCP");
	assert_string_equal(nvmft_trtype_name(NVMFT_TRTYPE_RDMA), "RDMA");
	assert_string_equal(nvmft_trtype_name(NVMFT_TRTYPE_VFIOUSER), "VFIOUSER");
	assert_string_equal(nvmft_trtype_name((enum nvmft_trtype)2), "unknown");
	assert_string_equal(nvmft_trtype_name((enum nvmft_trtype)254), "unknown");
}

/* ---- Listeners ------------------------------------------------------------------------------- */

static int new_listener(struct nvmft_transport *tr, const char *addr, const char *port,
			struct nvmft_listener **l)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4,
					.traddr = addr, .trsvcid = port };

	*l = BAD_L;
	return nvmft_listener_new(tr, &lo, l);
}

static void test_listener_new_and_lookup(void **state)
{
	struct nvmft_target *tgt;
	struct nvmft_transport *tr;
	struct nvmft_listener *l1, *l2, *l3, *x;
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .traddr = "10.0.0.1",
					.trsvcid = "4420" };
	char longaddr[300], longport[40];
	uint64_t gen;
	uint16_t port1, port2;

	(void)state;
	memset(&fc, 0, sizeof(fc));
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_int_equal(nvmft_transport_new_ops(tgt, &fake_a, NULL, &tr), 0);
	gen = atomic_load(&tgt->discovery_genctr);
	assert_int_equal(new_listener(tr, "10.0.0.1", "4420", &l1), 0);
	assert_int_equal(atomic_load(&tgt->discovery_genctr), gen + 1);
	assert_int_equal(new_listener(tr, "10.0.0.1", "4421", &l2), 0);
	assert_int_equal(new_listener(tr, "10.0.0.1", "4420", &x), -EEXIST);
	assert_ptr_equal(x, BAD_L);
	assert_int_equal(fc.listens, 2);

	memset(longaddr, '1', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	assert_int_equal(new_listener(tr, longaddr, "1", &x), -EINVAL);
	memset(longport, '1', sizeof(longport) - 1);
	longport[sizeof(longport) - 1] = '\0';
	assert_int_equal(new_listener(tr, "10.0.0.2", longport, &x), -EINVAL);
	assert_int_equal(new_listener(tr, NULL, "1", &x), -EINVAL);
	assert_int_equal(new_listener(NULL, "10.0.0.2", "1", &x), -EINVAL);
	assert_ptr_equal(x, BAD_L);
	assert_int_equal(nvmft_listener_new(tr, NULL, &x), -EINVAL);
	assert_int_equal(nvmft_listener_new(tr, &lo, NULL), -EINVAL);
	lo.size = 3;
	assert_int_equal(nvmft_listener_new(tr, &lo, &x), -EINVAL);
	fake_listen_rc = -EADDRINUSE;
	assert_int_equal(new_listener(tr, "10.0.0.3", "1", &x), -EADDRINUSE);
	fake_listen_rc = 0;
	assert_ptr_equal(x, BAD_L);
	assert_int_equal(atomic_load(&tgt->discovery_genctr), gen + 2);

	assert_ptr_equal(nvmft_listener_get_first(tr), l1);
	assert_ptr_equal(nvmft_listener_get_next(l1), l2);
	assert_null(nvmft_listener_get_next(l2));
	assert_null(nvmft_listener_get_first(NULL));
	assert_null(nvmft_listener_get_next(NULL));
	assert_ptr_equal(nvmft_listener_find(tr, "10.0.0.1", "4421"), l2);
	assert_null(nvmft_listener_find(tr, "10.0.0.1", "4422"));
	assert_null(nvmft_listener_find(tr, NULL, "4421"));
	assert_null(nvmft_listener_find(NULL, "10.0.0.1", "4421"));
	assert_ptr_equal(nvmft_listener_get_transport(l1), tr);
	assert_int_equal(nvmft_listener_get_adrfam(l1), NVMFT_ADRFAM_IPV4);
	assert_string_equal(nvmft_listener_get_traddr(l1), "10.0.0.1");
	assert_string_equal(nvmft_listener_get_trsvcid(l2), "4421");

	/* PORTIDs are unique and never reused while the target runs. */
	port1 = l1->portid;
	port2 = l2->portid;
	assert_int_not_equal(port1, port2);
	nvmft_listener_destroy(l2, NULL, NULL);
	assert_int_equal(fc.stop_listens, 1);
	assert_int_equal(atomic_load(&tgt->discovery_genctr), gen + 3);
	assert_null(nvmft_listener_find(tr, "10.0.0.1", "4421"));
	assert_int_equal(new_listener(tr, "10.0.0.1", "4421", &l3), 0);
	assert_int_not_equal(l3->portid, port1);
	assert_int_not_equal(l3->portid, port2);
	nvmft_listener_destroy(NULL, NULL, NULL);
	nvmft_target_poll(tgt);
	nvmft_target_free(tgt);
	assert_int_equal(fc.stop_listens, 3);
}

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

static struct lt_qpair *admin_via(struct lt_env *env, struct nvmft_listener *l, uint16_t *cntlid)
{
	struct lt_qpair *q = lt_qpair_new_on(env, -1, l, true);
	struct lt_cpl r = lt_connect_raw(q, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, NQN, LT_HOSTNQN);

	if (!r.done || r.status != 0)
		return NULL;
	if (cntlid)
		*cntlid = le16toh(r.cpl.connect.cntlid);
	r = lt_prop_set(q, NVME_REG_CC, 1u | 6u << 16 | 4u << 20);
	return r.status == 0 ? q : NULL;
}

static void test_listener_destroy_drops_its_connections(void **state)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_INTRA_HOST,
					.traddr = "loop", .trsvcid = "2" };
	struct lt_env env;
	struct nvmft_listener *l2;
	struct lt_qpair *q1, *q2, *io2, *disc;
	struct cb_wait w = { 0 };
	struct nvmft_backend *be;
	struct tb *tb;
	uint16_t c2;
	uint8_t buf[512] = { 0x2b };
	int tag;

	(void)state;
	assert_int_equal(lt_env_init(&env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	assert_int_equal(tb_new("tr-held", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	assert_non_null(lt_env_add_ns(&env, env.ss, be, 1));
	assert_int_equal(nvmft_listener_new(env.tr, &lo, &l2), 0);
	assert_int_equal(nvmft_subsystem_add_listener(env.ss, l2), 0);
	q1 = admin_via(&env, env.listener, NULL);
	q2 = admin_via(&env, l2, &c2);
	assert_non_null(q1);
	assert_non_null(q2);
	io2 = lt_qpair_new_on(&env, -1, l2, true);
	assert_int_equal(lt_connect_raw(io2, 1, 31, 0, c2, NQN, LT_HOSTNQN).status, 0);
	/* Discovery is reachable through every listener. */
	disc = lt_qpair_new_on(&env, -1, l2, true);
	assert_int_equal(lt_connect_raw(disc, 0, 31, 0, 0xffff, NVMFT_DISCOVERY_NQN,
					LT_HOSTNQN).status, 0);
	tb_hold(tb, true);
	tag = lt_submit(io2, &(struct nvmft_cmd){ .opcode = nvme_cmd_write, .nsid = htole32(1) },
			buf, 512);
	assert_true(tag >= 0);
	lt_env_settle(&env);
	assert_int_equal(tb_held(tb), 1);

	nvmft_listener_destroy(l2, cb_done, &w);
	assert_false(w.done);
	/* Out of the subsystem and the transport at once. */
	assert_null(nvmft_subsystem_get_listener(env.ss, 1));
	assert_ptr_equal(nvmft_subsystem_get_listener(env.ss, 0), env.listener);
	assert_null(nvmft_listener_find(env.tr, "loop", "2"));
	for (int i = 0; i < 100000 && !w.done; i++)
		lt_env_poll(&env);
	assert_true(w.done);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.status, 0);
	assert_true(lt_qpair_is_dead(q2));
	assert_true(lt_qpair_is_dead(io2));
	assert_true(lt_qpair_is_dead(disc));
	assert_false(lt_qpair_is_dead(q1));
	assert_false(lt_qpair_is_freed(io2)); /* its write is still in the backend */
	assert_int_equal(lt_identify(q1, NVME_IDENTIFY_CNS_CTRL, 0, 0, (uint8_t[4096]){ 0 }).status,
			 0);

	/* The listener's memory stays until its last queue pair is gone (checked by valgrind). */
	assert_int_equal(tb_release(tb), 1);
	tb_hold(tb, false);
	lt_env_settle(&env);
	assert_true(lt_qpair_is_freed(io2));
	assert_int_equal(tb_data(tb)[0], 0x2b);
	lt_env_fini(&env);
}

static void test_transport_connection_limit(void **state)
{
	struct nvmft_transport_opts tro;
	struct lt_env_opts eo = { .tr_opts = &tro };
	struct lt_env env;
	struct lt_qpair *q1, *q2;

	(void)state;
	generic_defaults(&tro);
	tro.max_connections = 1;
	assert_int_equal(lt_env_init(&env, &eo), 0);
	q1 = lt_qpair_new(&env, -1);
	q2 = lt_qpair_new(&env, -1);
	assert_false(lt_qpair_is_dead(q1));
	assert_true(lt_qpair_is_freed(q2));
	assert_int_equal(atomic_load(&env.tr->num_connections), 1);
	lt_qpair_close(q1);
	assert_int_equal(atomic_load(&env.tr->num_connections), 0);
	q2 = lt_qpair_new(&env, -1);
	assert_false(lt_qpair_is_dead(q2));
	lt_env_fini(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_init),
		cmocka_unit_test(test_opts_validation),
		cmocka_unit_test(test_transport_table),
		cmocka_unit_test(test_trtype_names),
		cmocka_unit_test(test_listener_new_and_lookup),
		cmocka_unit_test(test_listener_destroy_drops_its_connections),
		cmocka_unit_test(test_transport_connection_limit),
	};

	return cmocka_run_group_tests_name("transport", tests, NULL, NULL);
}
