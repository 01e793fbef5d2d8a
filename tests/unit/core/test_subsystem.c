/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subsystems: option validation, the subsystem table (duplicates,
 * exhaustion, ID reuse), getters and the default serial number, hosts,
 * listeners, controllers, pause/resume, deletion, and what happens to the
 * backends of its namespaces.
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/bcast.h"
#include "core/ctrlr.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "loop_transport.h"
#include "test_backend.h"
#include "util/time.h"

#define NQN "nqn.2024-01.io.example:ss"
#define NQN2 "nqn.2024-01.io.example:ss2"
#define HOST1 "nqn.2024-01.io.example:host1"
#define HOST2 "nqn.2024-01.io.example:host2"
#define BAD_SS ((struct nvmft_subsystem *)(uintptr_t)0x5a5a5a5a)
#define ST(sct, sc) NVMFT_STATUS(sct, sc)
#define ST_DNR(sct, sc) NVMFT_STATUS_DNR(sct, sc)
#define WAIT_LIMIT 100000

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

static void wait_cb(struct lt_env *env, struct cb_wait *w)
{
	for (int i = 0; i < WAIT_LIMIT && !w->done; i++)
		lt_env_poll(env);
	lt_env_settle(env);
}

/* Admin queue of @host on @nqn through listener @l (NULL: the env's), enabled. */
static struct lt_qpair *admin_on(struct lt_env *env, struct nvmft_listener *l, const char *nqn,
				 const char *host, uint16_t *cntlid)
{
	struct lt_qpair *q = lt_qpair_new_on(env, -1, l, true);
	struct lt_cpl r = lt_connect_raw(q, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, nqn, host);

	if (!r.done || r.status != 0)
		return NULL;
	if (cntlid != NULL)
		*cntlid = le16toh(r.cpl.connect.cntlid);
	r = lt_prop_set(q, NVME_REG_CC, 1u | 6u << 16 | 4u << 20);
	return r.done && r.status == 0 ? q : NULL;
}

static struct lt_qpair *io_on(struct lt_env *env, struct nvmft_listener *l, const char *nqn,
			      const char *host, uint16_t cntlid, uint16_t qid)
{
	struct lt_qpair *q = lt_qpair_new_on(env, -1, l, true);
	struct lt_cpl r = lt_connect_raw(q, qid, 31, 0, cntlid, nqn, host);

	return r.done && r.status == 0 ? q : NULL;
}

static int new_ss(struct nvmft_target *tgt, const struct nvmft_subsystem_opts *o,
		  struct nvmft_subsystem **ss)
{
	*ss = BAD_SS;
	return nvmft_subsystem_new(tgt, o, ss);
}

static struct lt_env *env_setup(struct lt_env_opts *eo)
{
	static struct lt_env env;

	assert_int_equal(lt_env_init(&env, eo), 0);
	return &env;
}

/* ---- Options ------------------------------------------------------------------------------ */

static void test_opts_init(void **state)
{
	struct nvmft_subsystem_opts o;
	uint8_t sentinel[sizeof(o)];
	size_t part = offsetof(struct nvmft_subsystem_opts, max_namespaces);

	(void)state;
	nvmft_subsystem_opts_init(&o, sizeof(o));
	assert_int_equal(o.size, sizeof(o));
	assert_null(o.nqn);
	assert_null(o.serial_number);
	assert_null(o.model_number);
	assert_int_equal(o.max_namespaces, 32);
	assert_int_equal(o.min_cntlid, 1);
	assert_int_equal(o.max_cntlid, 0xffef);
	assert_false(o.allow_any_host);
	memset(&o, 0xa5, sizeof(o));
	memset(sentinel, 0xa5, sizeof(sentinel));
	nvmft_subsystem_opts_init(&o, part);
	assert_int_equal(o.size, part);
	assert_null(o.nqn);
	assert_memory_equal((uint8_t *)&o + part, sentinel + part, sizeof(o) - part);
	memset(&o, 0xa5, sizeof(o));
	nvmft_subsystem_opts_init(&o, 3);
	assert_memory_equal(&o, sentinel, sizeof(o));
}

static void test_opts_validation(void **state)
{
	struct nvmft_target *tgt;
	struct nvmft_subsystem_opts o;
	struct nvmft_subsystem *ss;
	char buf[300];

	(void)state;
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
#define BAD(stmt)                                                       \
	do {                                                            \
		nvmft_subsystem_opts_init(&o, sizeof(o));               \
		o.nqn = NQN;                                            \
		stmt;                                                   \
		assert_int_equal(new_ss(tgt, &o, &ss), -EINVAL);        \
		assert_ptr_equal(ss, BAD_SS);                           \
	} while (0)
	BAD(o.nqn = NULL);
	BAD(o.nqn = "");
	BAD(o.nqn = "not-an-nqn");
	BAD(o.nqn = "nqn.2024-13.io.example:x");        /* month 13 */
	BAD(o.nqn = "nqn.2014-08.org.nvmexpress:uuid:zz");
	memset(buf, 'a', sizeof(buf) - 1);
	memcpy(buf, "nqn.2024-01.io.example:", 23);
	buf[224] = '\0';                                  /* 224 bytes: one too many */
	BAD(o.nqn = buf);
	BAD(o.serial_number = "");
	BAD(o.serial_number = "123456789012345678901"); /* 21 */
	BAD(o.serial_number = "SN\x01");
	BAD(o.serial_number = "SN\x7f");
	BAD(o.serial_number = "S\xc3\xa9rie");            /* not ASCII */
	BAD(o.model_number = "");
	BAD(o.model_number = "12345678901234567890123456789012345678901"); /* 41 */
	BAD(o.model_number = "model\n");
	BAD(o.model_number = "M\xff");
	BAD(o.max_namespaces = 0);
	BAD(o.max_namespaces = 4097);
	BAD(o.max_namespaces = 5000);
	BAD(o.min_cntlid = 0);
	BAD(o.max_cntlid = 0xfff0);
	BAD(o.max_cntlid = 0xffff);
	BAD((o.min_cntlid = 10, o.max_cntlid = 9));
	BAD(o.size = sizeof(size_t) - 1);
#undef BAD
	assert_int_equal(nvmft_subsystem_new(tgt, NULL, &ss), -EINVAL);
	nvmft_subsystem_opts_init(&o, sizeof(o));
	o.nqn = NQN;
	assert_int_equal(nvmft_subsystem_new(NULL, &o, &ss), -EINVAL);
	assert_int_equal(nvmft_subsystem_new(tgt, &o, NULL), -EINVAL);

	/* The limits themselves are fine. */
	buf[223] = '\0';
	nvmft_subsystem_opts_init(&o, sizeof(o));
	o.nqn = buf;
	o.serial_number = "12345678901234567890";
	o.model_number = "1234567890123456789012345678901234567890";
	o.max_namespaces = 4096;
	o.min_cntlid = 0xffef;
	o.max_cntlid = 0xffef;
	assert_int_equal(new_ss(tgt, &o, &ss), 0);
	assert_string_equal(nvmft_subsystem_get_nqn(ss), buf);
	assert_string_equal(nvmft_subsystem_get_serial_number(ss), "12345678901234567890");
	assert_string_equal(nvmft_subsystem_get_model_number(ss), o.model_number);
	assert_int_equal(nvmft_subsystem_get_max_namespaces(ss), 4096);
	nvmft_target_free(tgt);
}

static void test_duplicates_and_exhaustion(void **state)
{
	struct lt_env_opts eo = { .max_subsystems = 3 };
	struct lt_env *env = env_setup(&eo);
	struct nvmft_subsystem_opts o;
	struct nvmft_subsystem *a, *b, *c;
	struct cb_wait w = { 0 };
	uint32_t id_a;

	(void)state;
	nvmft_subsystem_opts_init(&o, sizeof(o));
	o.nqn = NQN;
	assert_int_equal(new_ss(env->tgt, &o, &a), 0);
	assert_int_equal(new_ss(env->tgt, &o, &b), -EEXIST);
	assert_ptr_equal(b, BAD_SS);
	o.nqn = NQN2;
	assert_int_equal(new_ss(env->tgt, &o, &b), 0);
	/* Discovery plus two: full. */
	o.nqn = "nqn.2024-01.io.example:ss3";
	assert_int_equal(new_ss(env->tgt, &o, &c), -ENOSPC);
	assert_ptr_equal(c, BAD_SS);

	/* The table is iterable in creation order, discovery first. */
	assert_ptr_equal(nvmft_subsystem_get_first(env->tgt),
			 nvmft_target_get_discovery_subsystem(env->tgt));
	assert_ptr_equal(nvmft_subsystem_get_next(nvmft_subsystem_get_first(env->tgt)), a);
	assert_ptr_equal(nvmft_subsystem_get_next(a), b);
	assert_null(nvmft_subsystem_get_next(b));
	assert_null(nvmft_subsystem_find(env->tgt, "nqn.2024-01.io.example:nope"));
	assert_null(nvmft_subsystem_find(env->tgt, NULL));
	assert_null(nvmft_subsystem_find(NULL, NQN));

	id_a = a->id;
	assert_int_equal(nvmft_subsystem_destroy(a, cb_done, &w), 0);
	/* Gone from lookups at once; its slot only when every group let go. */
	assert_null(nvmft_subsystem_find(env->tgt, NQN));
	assert_int_equal(nvmft_subsystem_destroy(a, cb_done, &w), -EINVAL);
	assert_false(w.done);
	assert_int_equal(new_ss(env->tgt, &o, &c), -ENOSPC);
	wait_cb(env, &w);
	assert_true(w.done);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.status, 0);
	/* The same name and the same slot again. */
	o.nqn = NQN;
	assert_int_equal(new_ss(env->tgt, &o, &c), 0);
	assert_int_equal(c->id, id_a);
	assert_int_equal(nvmft_subsystem_destroy(NULL, NULL, NULL), 0);
	lt_env_fini(env);
}

/* ---- Getters ---------------------------------------------------------------------------- */

static void test_getters_and_defaults(void **state)
{
	struct nvmft_target *tgt;
	struct nvmft_subsystem_opts o;
	struct nvmft_subsystem *ss;
	uint16_t min = 0, max = 0;

	(void)state;
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	nvmft_subsystem_opts_init(&o, sizeof(o));
	o.nqn = NQN;
	assert_int_equal(new_ss(tgt, &o, &ss), 0);
	assert_string_equal(nvmft_subsystem_get_nqn(ss), NQN);
	assert_int_equal(nvmft_subsystem_get_type(ss), NVMFT_SUBTYPE_NVM);
	assert_string_equal(nvmft_subsystem_get_model_number(ss), "libnvmft");
	assert_int_equal(nvmft_subsystem_get_max_namespaces(ss), 32);
	nvmft_subsystem_get_cntlid_range(ss, &min, &max);
	assert_int_equal(min, 1);
	assert_int_equal(max, 0xffef);
	nvmft_subsystem_get_cntlid_range(ss, NULL, NULL);
	assert_false(nvmft_subsystem_get_allow_any_host(ss));
	assert_null(nvmft_subsystem_get_host(ss, 0));
	assert_null(nvmft_subsystem_get_listener(ss, 0));
	assert_null(nvmft_ns_get_first(ss));

	nvmft_subsystem_opts_init(&o, sizeof(o));
	o.nqn = NQN2;
	o.serial_number = "SN-0001";
	o.model_number = "Model X";
	o.max_namespaces = 7;
	o.min_cntlid = 100;
	o.max_cntlid = 200;
	o.allow_any_host = true;
	assert_int_equal(new_ss(tgt, &o, &ss), 0);
	assert_string_equal(nvmft_subsystem_get_serial_number(ss), "SN-0001");
	assert_string_equal(nvmft_subsystem_get_model_number(ss), "Model X");
	assert_int_equal(nvmft_subsystem_get_max_namespaces(ss), 7);
	nvmft_subsystem_get_cntlid_range(ss, &min, &max);
	assert_int_equal(min, 100);
	assert_int_equal(max, 200);
	assert_true(nvmft_subsystem_get_allow_any_host(ss));
	nvmft_target_free(tgt);
}

/* The generated serial number depends on the NQN only: 16 hex digits, same in every target. */
static void test_default_serial_stable(void **state)
{
	struct nvmft_target *t1, *t2;
	struct nvmft_subsystem_opts o;
	struct nvmft_subsystem *a, *b, *c;
	const char *sn;

	(void)state;
	assert_int_equal(nvmft_target_new(NULL, &t1), 0);
	assert_int_equal(nvmft_target_new(NULL, &t2), 0);
	nvmft_subsystem_opts_init(&o, sizeof(o));
	o.nqn = NQN;
	assert_int_equal(new_ss(t1, &o, &a), 0);
	o.max_namespaces = 9; /* other options do not matter */
	assert_int_equal(new_ss(t2, &o, &b), 0);
	o.nqn = NQN2;
	assert_int_equal(new_ss(t2, &o, &c), 0);
	sn = nvmft_subsystem_get_serial_number(a);
	assert_int_equal(strlen(sn), 16);
	for (int i = 0; i < 16; i++)
		assert_true(isxdigit((unsigned char)sn[i]));
	assert_string_equal(nvmft_subsystem_get_serial_number(b), sn);
	assert_string_not_equal(nvmft_subsystem_get_serial_number(c), sn);
	assert_int_equal(strlen(nvmft_subsystem_get_serial_number(c)), 16);
	nvmft_target_free(t1);
	nvmft_target_free(t2);
}

/* ---- Hosts ----------------------------------------------------------------------------------- */

static void test_host_list(void **state)
{
	struct nvmft_target *tgt;
	struct nvmft_subsystem_opts o;
	struct nvmft_subsystem *ss;
	struct cb_wait w = { 0 };

	(void)state;
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	nvmft_subsystem_opts_init(&o, sizeof(o));
	o.nqn = NQN;
	assert_int_equal(new_ss(tgt, &o, &ss), 0);
	assert_false(nvmft_subsystem_host_allowed(ss, HOST1));
	assert_int_equal(nvmft_subsystem_add_host(ss, HOST1), 0);
	assert_int_equal(nvmft_subsystem_add_host(ss, HOST2), 0);
	assert_int_equal(nvmft_subsystem_add_host(ss, HOST1), -EEXIST);
	assert_int_equal(nvmft_subsystem_add_host(ss, "host1"), -EINVAL);
	assert_int_equal(nvmft_subsystem_add_host(ss, ""), -EINVAL);
	assert_int_equal(nvmft_subsystem_add_host(ss, NULL), -EINVAL);
	assert_int_equal(nvmft_subsystem_add_host(NULL, HOST1), -EINVAL);
	assert_string_equal(nvmft_subsystem_get_host(ss, 0), HOST1);
	assert_string_equal(nvmft_subsystem_get_host(ss, 1), HOST2);
	assert_null(nvmft_subsystem_get_host(ss, 2));
	assert_null(nvmft_subsystem_get_host(NULL, 0));
	assert_true(nvmft_subsystem_host_allowed(ss, HOST1));
	assert_true(nvmft_subsystem_host_allowed(ss, HOST2));
	assert_false(nvmft_subsystem_host_allowed(ss, LT_HOSTNQN));
	assert_false(nvmft_subsystem_host_allowed(ss, NULL));

	assert_int_equal(nvmft_subsystem_remove_host(ss, LT_HOSTNQN, cb_done, &w), -ENOENT);
	assert_int_equal(nvmft_subsystem_remove_host(ss, NULL, cb_done, &w), -EINVAL);
	assert_int_equal(nvmft_subsystem_remove_host(ss, HOST1, cb_done, &w), 0);
	assert_false(w.done); /* from the management poll */
	for (int i = 0; i < 10 && !w.done; i++)
		nvmft_target_poll(tgt);
	assert_true(w.done);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.status, 0);
	assert_string_equal(nvmft_subsystem_get_host(ss, 0), HOST2);
	assert_null(nvmft_subsystem_get_host(ss, 1));
	assert_false(nvmft_subsystem_host_allowed(ss, HOST1));
	assert_int_equal(nvmft_subsystem_remove_host(ss, HOST1, NULL, NULL), -ENOENT);

	assert_int_equal(nvmft_subsystem_set_allow_any_host(ss, true), 0);
	assert_true(nvmft_subsystem_get_allow_any_host(ss));
	assert_true(nvmft_subsystem_host_allowed(ss, HOST1));
	assert_int_equal(nvmft_subsystem_set_allow_any_host(ss, false), 0);
	assert_false(nvmft_subsystem_host_allowed(ss, HOST1));
	assert_int_equal(nvmft_subsystem_set_allow_any_host(NULL, true), -EINVAL);
	nvmft_target_free(tgt);
}

static int count_ctrlrs(void *arg, const struct nvmft_ctrlr *c)
{
	(*(int *)arg)++;
	(void)c;
	return 0;
}

static int count_host_ctrlrs(struct nvmft_subsystem *ss, const char *host)
{
	struct nvmft_subsystem *s = ss;
	struct nvmft_ctrlr *c;
	int n = 0;

	pthread_mutex_lock(&s->lock);
	TAILQ_FOREACH(c, &s->ctrlrs, ss_link)
		if (strcmp(nvmft_ctrlr_get_hostnqn(c), host) == 0)
			n++;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void test_remove_host_disconnects_only_that_host(void **state)
{
	struct lt_env *env = env_setup(NULL);
	struct lt_qpair *a1, *i1, *a2, *i2;
	struct cb_wait w = { 0 };
	uint16_t c1, c2;
	uint8_t buf[512] = { 0 };
	int n = 0;

	(void)state;
	assert_non_null(lt_env_add_subsystem(env, NQN, false));
	assert_non_null(lt_env_add_malloc_ns(env, env->ss, 1, 64, 512));
	assert_int_equal(nvmft_subsystem_add_host(env->ss, HOST1), 0);
	assert_int_equal(nvmft_subsystem_add_host(env->ss, HOST2), 0);
	a1 = admin_on(env, NULL, NQN, HOST1, &c1);
	a2 = admin_on(env, NULL, NQN, HOST2, &c2);
	assert_non_null(a1);
	assert_non_null(a2);
	i1 = io_on(env, NULL, NQN, HOST1, c1, 1);
	i2 = io_on(env, NULL, NQN, HOST2, c2, 1);
	assert_non_null(i1);
	assert_non_null(i2);
	/* A host not in the list cannot connect. */
	{
		struct lt_qpair *q = lt_qpair_new(env, -1);

		assert_int_equal(lt_connect_raw(q, 0, 31, 0, 0xffff, NQN, LT_HOSTNQN).status,
				 ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST));
	}

	assert_int_equal(nvmft_subsystem_remove_host(env->ss, HOST1, cb_done, &w), 0);
	wait_cb(env, &w);
	assert_true(w.done);
	assert_int_equal(w.status, 0);
	assert_true(lt_qpair_is_dead(a1));
	assert_true(lt_qpair_is_dead(i1));
	assert_false(lt_qpair_is_dead(a2));
	assert_false(lt_qpair_is_dead(i2));
	assert_int_equal(count_host_ctrlrs(env->ss, HOST1), 0);
	assert_int_equal(count_host_ctrlrs(env->ss, HOST2), 1);
	assert_int_equal(nvmft_subsystem_foreach_ctrlr(env->ss, count_ctrlrs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(lt_rw(i2, true, 1, 0, 1, buf, 512).status, 0);
	/* And the removed host cannot come back. */
	{
		struct lt_qpair *q = lt_qpair_new(env, -1);

		assert_int_equal(lt_connect_raw(q, 0, 31, 0, 0xffff, NQN, HOST1).status,
				 ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST));
	}
	lt_env_fini(env);
}

static void test_remove_host_with_allow_any_keeps_connections(void **state)
{
	struct lt_env *env = env_setup(NULL);
	struct lt_qpair *a1, *i1;
	struct cb_wait w = { 0 };
	uint16_t c1;
	uint8_t buf[512] = { 0 };

	(void)state;
	assert_non_null(lt_env_add_subsystem(env, NQN, true));
	assert_non_null(lt_env_add_malloc_ns(env, env->ss, 1, 64, 512));
	assert_int_equal(nvmft_subsystem_add_host(env->ss, HOST1), 0);
	a1 = admin_on(env, NULL, NQN, HOST1, &c1);
	assert_non_null(a1);
	i1 = io_on(env, NULL, NQN, HOST1, c1, 1);
	assert_non_null(i1);
	assert_int_equal(nvmft_subsystem_remove_host(env->ss, HOST1, cb_done, &w), 0);
	wait_cb(env, &w);
	assert_true(w.done);
	assert_int_equal(w.status, 0);
	assert_false(lt_qpair_is_dead(a1));
	assert_false(lt_qpair_is_dead(i1));
	assert_int_equal(count_host_ctrlrs(env->ss, HOST1), 1);
	assert_int_equal(lt_rw(i1, true, 1, 0, 1, buf, 512).status, 0);
	lt_env_fini(env);
}

/* ---- Listeners ------------------------------------------------------------------------------- */

static struct nvmft_listener *second_listener(struct lt_env *env)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_INTRA_HOST,
					.traddr = "loop", .trsvcid = "2" };
	struct nvmft_listener *l = NULL;

	assert_int_equal(nvmft_listener_new(env->tr, &lo, &l), 0);
	return l;
}

static void test_listener_list(void **state)
{
	struct lt_env *env = env_setup(NULL);
	struct nvmft_subsystem *ss, *d = nvmft_target_get_discovery_subsystem(env->tgt);
	struct nvmft_listener *l2 = second_listener(env);
	struct lt_env other;
	struct cb_wait w = { 0 };

	(void)state;
	assert_int_equal(lt_env_init(&other, NULL), 0);
	ss = lt_env_add_subsystem(env, NQN, true);
	assert_non_null(ss);
	assert_ptr_equal(nvmft_subsystem_get_listener(ss, 0), env->listener);
	assert_null(nvmft_subsystem_get_listener(ss, 1));
	assert_int_equal(nvmft_subsystem_add_listener(ss, env->listener), -EEXIST);
	assert_int_equal(nvmft_subsystem_add_listener(ss, l2), 0);
	assert_ptr_equal(nvmft_subsystem_get_listener(ss, 1), l2);
	assert_int_equal(nvmft_subsystem_add_listener(d, l2), -EINVAL);
	assert_int_equal(nvmft_subsystem_add_listener(ss, NULL), -EINVAL);
	assert_int_equal(nvmft_subsystem_add_listener(NULL, l2), -EINVAL);
	assert_int_equal(nvmft_subsystem_add_listener(ss, other.listener), -EINVAL);
	assert_null(nvmft_subsystem_get_listener(ss, 2));
	assert_null(nvmft_subsystem_get_listener(NULL, 0));

	assert_int_equal(nvmft_subsystem_remove_listener(ss, other.listener, cb_done, &w), -ENOENT);
	assert_int_equal(nvmft_subsystem_remove_listener(d, env->listener, cb_done, &w), -ENOENT);
	assert_int_equal(nvmft_subsystem_remove_listener(ss, NULL, cb_done, &w), -EINVAL);
	assert_int_equal(nvmft_subsystem_remove_listener(ss, env->listener, cb_done, &w), 0);
	assert_false(w.done);
	wait_cb(env, &w);
	assert_true(w.done);
	assert_int_equal(w.status, 0);
	assert_ptr_equal(nvmft_subsystem_get_listener(ss, 0), l2);
	assert_null(nvmft_subsystem_get_listener(ss, 1));
	assert_int_equal(nvmft_subsystem_remove_listener(ss, env->listener, cb_done, &w), -ENOENT);
	assert_int_equal(w.calls, 1);
	/* Re-adding works. */
	assert_int_equal(nvmft_subsystem_add_listener(ss, env->listener), 0);
	lt_env_fini(&other);
	lt_env_fini(env);
}

static void test_remove_listener_disconnects_only_its_qpairs(void **state)
{
	struct lt_env *env = env_setup(NULL);
	struct nvmft_listener *l1, *l2;
	struct lt_qpair *a_l1, *a_l2, *b_l1, *q;
	struct nvmft_subsystem *a, *b;
	struct cb_wait w = { 0 };

	(void)state;
	l1 = env->listener;
	l2 = second_listener(env);
	b = lt_env_add_subsystem(env, NQN2, true);
	a = lt_env_add_subsystem(env, NQN, true);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(nvmft_subsystem_add_listener(a, l2), 0);
	a_l1 = admin_on(env, l1, NQN, HOST1, NULL);
	a_l2 = admin_on(env, l2, NQN, HOST1, NULL);
	b_l1 = admin_on(env, l1, NQN2, HOST1, NULL);
	assert_non_null(a_l1);
	assert_non_null(a_l2);
	assert_non_null(b_l1);
	assert_ptr_equal(nvmft_qpair_get_listener(lt_qpair_core(a_l2)), l2);

	assert_int_equal(nvmft_subsystem_remove_listener(a, l1, cb_done, &w), 0);
	wait_cb(env, &w);
	assert_true(w.done);
	assert_int_equal(w.status, 0);
	assert_true(lt_qpair_is_dead(a_l1));
	assert_true(lt_qpair_is_freed(a_l1));
	assert_false(lt_qpair_is_dead(a_l2));
	assert_false(lt_qpair_is_dead(b_l1));
	assert_int_equal(lt_identify(a_l2, NVME_IDENTIFY_CNS_CTRL, 0, 0,
				     (uint8_t[4096]){ 0 }).status, 0);
	assert_int_equal(lt_identify(b_l1, NVME_IDENTIFY_CNS_CTRL, 0, 0,
				     (uint8_t[4096]){ 0 }).status, 0);
	/* A is no longer offered on l1 (it looks like it does not exist there); B still is. */
	q = lt_qpair_new_on(env, -1, l1, true);
	assert_int_equal(lt_connect_raw(q, 0, 31, 0, 0xffff, NQN, HOST1).status,
			 ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM));
	assert_int_equal(lt_connect_raw(q, 0, 31, 0, 0xffff, NQN2, HOST1).status, 0);
	lt_env_fini(env);
}

/*
 * Removing a listener while one of its queue pairs has I/O in the backend:
 * the queue stops at once, is freed only when the backend answers, and
 * nothing is lost or leaked (the listener outlives its last queue pair).
 */
static void test_remove_listener_with_io_in_flight(void **state)
{
	struct lt_env *env = env_setup(NULL);
	struct nvmft_poll_group_stats st = { .size = sizeof(st) };
	struct lt_qpair *aq, *iq;
	struct nvmft_backend *be;
	struct tb *tb;
	struct cb_wait w = { 0 };
	uint16_t cntlid;
	uint8_t buf[512] = { 0x42 };
	int tag;

	(void)state;
	assert_non_null(lt_env_add_subsystem(env, NQN, true));
	assert_int_equal(tb_new("ss-held", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	assert_non_null(lt_env_add_ns(env, env->ss, be, 1));
	aq = admin_on(env, NULL, NQN, HOST1, &cntlid);
	assert_non_null(aq);
	iq = io_on(env, NULL, NQN, HOST1, cntlid, 1);
	assert_non_null(iq);
	tb_hold(tb, true);
	tag = lt_submit(iq, &(struct nvmft_cmd){ .opcode = nvme_cmd_write, .nsid = htole32(1) },
			buf, 512);
	assert_true(tag >= 0);
	lt_env_settle(env);
	assert_int_equal(tb_held(tb), 1);

	assert_int_equal(nvmft_subsystem_remove_listener(env->ss, env->listener, cb_done, &w), 0);
	wait_cb(env, &w);
	assert_true(w.done);
	assert_true(lt_qpair_is_dead(iq));
	assert_true(lt_qpair_is_dead(aq));
	assert_false(lt_qpair_is_freed(iq)); /* the backend still has its write */
	assert_int_equal(nvmft_poll_group_get_stats(env->pg[0], &st), 0);
	assert_int_equal(st.pending_bdev_io, 1);

	assert_int_equal(tb_release(tb), 1);
	lt_env_settle(env);
	assert_true(lt_qpair_is_freed(iq));
	assert_true(lt_qpair_is_freed(aq));
	assert_int_equal(tb_data(tb)[0], 0x42);
	assert_int_equal(nvmft_poll_group_get_stats(env->pg[0], &st), 0);
	assert_int_equal(st.pending_bdev_io, 0);
	assert_int_equal(st.current_io_qpairs, 0);
	lt_env_fini(env);
}

/* ---- Controllers ----------------------------------------------------------------------------- */

static void test_no_namespace_accepts_connections(void **state)
{
	struct lt_env *env = env_setup(NULL);
	struct lt_qpair *aq, *iq;
	uint32_t list[1024];
	uint16_t cntlid;

	(void)state;
	assert_non_null(lt_env_add_subsystem(env, NQN, true));
	aq = admin_on(env, NULL, NQN, HOST1, &cntlid);
	assert_non_null(aq);
	iq = io_on(env, NULL, NQN, HOST1, cntlid, 1);
	assert_non_null(iq);
	memset(list, 0xff, sizeof(list));
	assert_int_equal(lt_identify(aq, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0, list).status, 0);
	for (int i = 0; i < 1024; i++)
		assert_int_equal(list[i], 0);
	assert_int_equal(lt_rw(iq, false, 1, 0, 1, list, 512).status,
			 ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS));
	lt_env_fini(env);
}

struct ctrlr_seen {
	int n;
	int stop_after;
	uint16_t cntlid[4];
	char host[4][256];
	uint32_t num_qpairs[4];
	uint8_t hostid[4][16];
	uint32_t kato[4];
	uint16_t qids[4][8];
	uint32_t depth[4][8];
	int nq[4];
};

static int seen_qpair(void *arg, const struct nvmft_qpair *qp)
{
	struct ctrlr_seen *s = arg;
	int c = s->n - 1;

	if (s->nq[c] < 8) {
		s->qids[c][s->nq[c]] = nvmft_qpair_get_qid(qp);
		s->depth[c][s->nq[c]] = nvmft_qpair_get_depth(qp);
		s->nq[c]++;
	}
	return 0;
}

static int seen_ctrlr(void *arg, const struct nvmft_ctrlr *c)
{
	struct ctrlr_seen *s = arg;

	if (s->n >= 4)
		return -1;
	s->cntlid[s->n] = nvmft_ctrlr_get_cntlid(c);
	snprintf(s->host[s->n], sizeof(s->host[0]), "%s", nvmft_ctrlr_get_hostnqn(c));
	s->num_qpairs[s->n] = nvmft_ctrlr_get_num_qpairs(c);
	nvmft_ctrlr_get_hostid(c, s->hostid[s->n]);
	s->kato[s->n] = nvmft_ctrlr_get_kato_ms(c);
	s->n++;
	nvmft_ctrlr_foreach_qpair(c, seen_qpair, s);
	return s->n == s->stop_after ? 77 : 0;
}

static void test_foreach_ctrlr(void **state)
{
	struct lt_env *env = env_setup(NULL);
	struct ctrlr_seen s = { 0 };
	struct lt_qpair *a1, *a2, *q;
	uint16_t c1, c2;
	struct lt_cpl r;

	(void)state;
	assert_non_null(lt_env_add_subsystem(env, NQN, true));
	a1 = admin_on(env, NULL, NQN, HOST1, &c1);
	assert_non_null(a1);
	assert_non_null(io_on(env, NULL, NQN, HOST1, c1, 1));
	assert_non_null(io_on(env, NULL, NQN, HOST1, c1, 2));
	q = lt_qpair_new(env, -1);
	r = lt_connect_raw(q, 0, 63, 15000, 0xffff, NQN, HOST2);
	assert_int_equal(r.status, 0);
	c2 = le16toh(r.cpl.connect.cntlid);
	a2 = q;
	assert_int_not_equal(c1, c2);

	assert_int_equal(nvmft_subsystem_foreach_ctrlr(env->ss, seen_ctrlr, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.cntlid[0], c1);
	assert_string_equal(s.host[0], HOST1);
	assert_int_equal(s.num_qpairs[0], 3);
	assert_memory_equal(s.hostid[0], LT_HOSTID, 16);
	assert_int_equal(s.kato[0], 0);
	assert_int_equal(s.nq[0], 3);
	assert_int_equal(s.qids[0][0], 0); /* admin first */
	assert_int_equal(s.qids[0][1], 1);
	assert_int_equal(s.qids[0][2], 2);
	assert_int_equal(s.depth[0][0], 32);
	assert_int_equal(s.depth[0][1], 32);
	assert_int_equal(s.cntlid[1], c2);
	assert_string_equal(s.host[1], HOST2);
	assert_int_equal(s.num_qpairs[1], 1);
	assert_int_equal(s.kato[1], 15000);
	assert_int_equal(s.depth[1][0], 64);

	/* A non-zero return stops the walk and is returned. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(nvmft_subsystem_foreach_ctrlr(env->ss, seen_ctrlr, &s), 77);
	assert_int_equal(s.n, 1);
	assert_int_equal(nvmft_subsystem_foreach_ctrlr(env->ss, NULL, &s), -EINVAL);
	assert_int_equal(nvmft_subsystem_foreach_ctrlr(NULL, seen_ctrlr, &s), -EINVAL);

	/* Closing queues shows in the counts. */
	lt_qpair_close(a2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(nvmft_subsystem_foreach_ctrlr(env->ss, seen_ctrlr, &s), 0);
	assert_int_equal(s.n, 1);
	lt_qpair_close(a1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(nvmft_subsystem_foreach_ctrlr(env->ss, seen_ctrlr, &s), 0);
	assert_int_equal(s.n, 0);
	lt_env_fini(env);
}

/* ---- Pause and resume ------------------------------------------------------------------------ */

struct io_fixture {
	struct lt_env *env;
	struct lt_qpair *aq, *iq;
	struct tb *tb;
	struct nvmft_backend *be;
};

static void io_fixture(struct io_fixture *f, uint32_t drain_ms)
{
	struct lt_env_opts eo = { .drain_timeout_ms = drain_ms };
	uint16_t cntlid;

	f->env = env_setup(&eo);
	assert_non_null(lt_env_add_subsystem(f->env, NQN, true));
	assert_int_equal(tb_new("ss-io", 64, 512, 0, TB_INLINE, &f->tb, &f->be), 0);
	assert_non_null(lt_env_add_ns(f->env, f->env->ss, f->be, 1));
	f->aq = admin_on(f->env, NULL, NQN, HOST1, &cntlid);
	assert_non_null(f->aq);
	f->iq = io_on(f->env, NULL, NQN, HOST1, cntlid, 1);
	assert_non_null(f->iq);
}

static int submit_write(struct lt_qpair *q, uint64_t lba, uint8_t *buf)
{
	struct nvmft_cmd c = { .opcode = nvme_cmd_write, .nsid = htole32(1) };

	c.cdw10 = htole32((uint32_t)lba);
	return lt_submit(q, &c, buf, 512);
}

static void test_pause_resume(void **state)
{
	struct io_fixture f;
	struct cb_wait p = { 0 }, r = { 0 };
	uint8_t a[512], b[512];
	int t1, t2;

	(void)state;
	io_fixture(&f, 60000);
	assert_int_equal(nvmft_subsystem_resume(f.env->ss, NULL, NULL), -EINVAL);
	assert_int_equal(nvmft_subsystem_pause(f.env->ss, cb_done, &p), 0);
	assert_false(p.done);
	assert_int_equal(nvmft_subsystem_pause(f.env->ss, cb_done, &p), -EBUSY);
	wait_cb(f.env, &p);
	assert_true(p.done);
	assert_int_equal(p.status, 0);
	assert_int_equal(nvmft_subsystem_pause(f.env->ss, NULL, NULL), -EBUSY);

	/* Held in order, not failed; admin commands keep working. */
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	t1 = submit_write(f.iq, 5, a);
	t2 = submit_write(f.iq, 5, b);
	lt_env_settle(f.env);
	assert_false(lt_done(f.iq, t1));
	assert_false(lt_done(f.iq, t2));
	assert_int_equal(tb_count(f.tb, 0), 0);
	assert_int_equal(lt_identify(f.aq, NVME_IDENTIFY_CNS_CTRL, 0, 0,
				     (uint8_t[4096]){ 0 }).status, 0);

	assert_int_equal(nvmft_subsystem_resume(f.env->ss, cb_done, &r), 0);
	wait_cb(f.env, &r);
	assert_true(r.done);
	assert_int_equal(r.status, 0);
	assert_int_equal(lt_wait(f.iq, t1).status, 0);
	assert_int_equal(lt_wait(f.iq, t2).status, 0);
	assert_int_equal(tb_count(f.tb, NVMFT_IO_WRITE), 2);
	assert_int_equal(tb_data(f.tb)[5 * 512], 2); /* arrival order kept */
	assert_int_equal(nvmft_subsystem_resume(f.env->ss, NULL, NULL), -EINVAL);
	assert_int_equal(nvmft_subsystem_pause(NULL, NULL, NULL), -EINVAL);
	assert_int_equal(nvmft_subsystem_resume(NULL, NULL, NULL), -EINVAL);
	lt_env_fini(f.env);
}

static void test_pause_drain_deadline(void **state)
{
	struct io_fixture f;
	struct cb_wait p = { 0 }, r = { 0 };
	uint8_t a[512] = { 9 };
	int t1;

	(void)state;
	io_fixture(&f, 60000);
	tb_hold(f.tb, true);
	t1 = submit_write(f.iq, 1, a);
	lt_env_settle(f.env);
	assert_int_equal(tb_held(f.tb), 1);
	assert_int_equal(nvmft_subsystem_pause(f.env->ss, cb_done, &p), 0);
	lt_env_settle(f.env);
	assert_false(p.done);
	/* Pretend the deadline passed. */
	assert_int_equal(nvmft_bcast_check_deadlines(f.env->tgt, nvmft_now_ms() + 120000), 1);
	wait_cb(f.env, &p);
	assert_true(p.done);
	assert_int_equal(p.status, -ETIMEDOUT);
	/* The stuck write is still outstanding and finishes normally later. */
	assert_false(lt_done(f.iq, t1));
	assert_int_equal(tb_release(f.tb), 1);
	assert_int_equal(lt_wait(f.iq, t1).status, 0);
	assert_int_equal(nvmft_subsystem_resume(f.env->ss, cb_done, &r), 0);
	wait_cb(f.env, &r);
	assert_true(r.done);
	lt_env_fini(f.env);
}

/*
 * Resume while the pause still waits for I/O: the pause must still finish
 * (its callback runs once the I/O drained), not sit until the drain
 * deadline.
 */
static void test_resume_while_pausing(void **state)
{
	struct io_fixture f;
	struct cb_wait p = { 0 }, r = { 0 };
	uint8_t a[512] = { 3 };
	bool pause_done_before_deadline;
	int t1, t2;

	(void)state;
	io_fixture(&f, 600000);
	tb_hold(f.tb, true);
	t1 = submit_write(f.iq, 1, a);
	lt_env_settle(f.env);
	assert_int_equal(nvmft_subsystem_pause(f.env->ss, cb_done, &p), 0);
	lt_env_settle(f.env);
	assert_false(p.done);
	assert_int_equal(nvmft_subsystem_resume(f.env->ss, cb_done, &r), 0);
	wait_cb(f.env, &r);
	assert_true(r.done);
	assert_int_equal(r.status, 0);
	assert_int_equal(tb_release(f.tb), 1);
	tb_hold(f.tb, false);
	assert_int_equal(lt_wait(f.iq, t1).status, 0);
	wait_cb(f.env, &p);
	pause_done_before_deadline = p.done;
	/* I/O flows. */
	t2 = submit_write(f.iq, 2, a);
	assert_int_equal(lt_wait(f.iq, t2).status, 0);
	lt_env_fini(f.env);
	assert_true(pause_done_before_deadline);
	assert_int_equal(p.calls, 1);
}

/* ---- Deletion -------------------------------------------------------------------------------- */

struct destroy_ctx {
	struct cb_wait w;
	struct nvmft_backend *be;
	int be_free_rc;
	struct lt_env *env;
};

static void destroyed(void *arg, int status)
{
	struct destroy_ctx *d = arg;

	cb_done(&d->w, status);
	/* "Its namespaces are removed (their backends are released)". */
	d->be_free_rc = lt_env_free_backend(d->env, d->be);
}

static void test_destroy_with_connections(void **state)
{
	struct lt_env *env = env_setup(NULL);
	struct destroy_ctx d = { .be_free_rc = 1 };
	struct lt_qpair *aq, *iq;
	struct nvmft_ns *ns;
	uint16_t cntlid;

	(void)state;
	d.env = env;
	assert_non_null(lt_env_add_subsystem(env, NQN, true));
	assert_int_equal(nvmft_backend_malloc_new("ss-destroy", 64, 512, &d.be), 0);
	ns = lt_env_add_ns(env, env->ss, d.be, 1);
	assert_non_null(ns);
	aq = admin_on(env, NULL, NQN, HOST1, &cntlid);
	iq = io_on(env, NULL, NQN, HOST1, cntlid, 1);
	assert_non_null(aq);
	assert_non_null(iq);
	assert_int_equal(nvmft_subsystem_destroy(env->ss, destroyed, &d), 0);
	assert_false(d.w.done);
	wait_cb(env, &d.w);
	assert_true(d.w.done);
	assert_int_equal(d.w.status, 0);
	assert_int_equal(d.w.calls, 1);
	assert_true(lt_qpair_is_freed(aq));
	assert_true(lt_qpair_is_freed(iq));
	assert_int_equal(d.be_free_rc, 0);
	lt_env_fini(env);
}

struct remove_ctx {
	struct cb_wait w;
	struct lt_env *env;
	struct nvmft_backend *be;
	int free_rc;
};

static void ns_removed(void *arg, int status)
{
	struct remove_ctx *c = arg;

	cb_done(&c->w, status);
	/* doc/backends.md: "cb runs: the claim is gone"; ns.h: "free to reuse or destroy". */
	c->free_rc = lt_env_free_backend(c->env, c->be);
}

/* A namespace removal callback may free (or reuse) the backend at once. */
static void test_ns_remove_cb_may_free_backend(void **state)
{
	struct lt_env *env = env_setup(NULL);
	struct remove_ctx c = { .free_rc = 1 };
	struct nvmft_ns *ns;

	(void)state;
	c.env = env;
	assert_non_null(lt_env_add_subsystem(env, NQN, true));
	assert_int_equal(nvmft_backend_null_new("ss-ns-cb", 64, 512, &c.be), 0);
	ns = lt_env_add_ns(env, env->ss, c.be, 1);
	assert_non_null(ns);
	nvmft_ns_remove(ns, ns_removed, &c);
	wait_cb(env, &c.w);
	assert_true(c.w.done);
	assert_int_equal(c.w.status, 0);
	if (c.free_rc != 0)
		lt_env_free_backend(env, c.be); /* the claim went a message later */
	lt_env_fini(env);
	assert_int_equal(c.free_rc, 0);
}

/*
 * A namespace that served a fused Compare and Write (which builds its LBA
 * lock table) is freed with the subsystem without leaking (valgrind/ASan).
 */
static void test_destroy_after_fused_io(void **state)
{
	struct lt_env *env = env_setup(NULL);
	struct cb_wait w = { 0 };
	struct lt_qpair *aq, *iq;
	struct nvmft_cmd c1 = { .opcode = nvme_cmd_compare, .flags = NVMFT_CMD_FUSE_FIRST,
				.nsid = htole32(1) };
	struct nvmft_cmd c2 = { .opcode = nvme_cmd_write, .flags = NVMFT_CMD_FUSE_SECOND,
				.nsid = htole32(1) };
	uint8_t zero[512] = { 0 }, data[512];
	uint16_t cntlid;
	int t1, t2;

	(void)state;
	assert_non_null(lt_env_add_subsystem(env, NQN, true));
	assert_non_null(lt_env_add_malloc_ns(env, env->ss, 1, 64, 512));
	aq = admin_on(env, NULL, NQN, HOST1, &cntlid);
	iq = io_on(env, NULL, NQN, HOST1, cntlid, 1);
	assert_non_null(aq);
	assert_non_null(iq);
	memset(data, 0x77, sizeof(data));
	t1 = lt_submit(iq, &c1, zero, 512);
	t2 = lt_submit(iq, &c2, data, 512);
	assert_int_equal(lt_wait(iq, t1).status, 0);
	assert_int_equal(lt_wait(iq, t2).status, 0);
	assert_int_equal(lt_rw(iq, false, 1, 0, 1, zero, 512).status, 0);
	assert_memory_equal(zero, data, 512);
	assert_int_equal(nvmft_subsystem_destroy(env->ss, cb_done, &w), 0);
	wait_cb(env, &w);
	assert_true(w.done);
	lt_env_fini(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_init),
		cmocka_unit_test(test_opts_validation),
		cmocka_unit_test(test_duplicates_and_exhaustion),
		cmocka_unit_test(test_getters_and_defaults),
		cmocka_unit_test(test_default_serial_stable),
		cmocka_unit_test(test_host_list),
		cmocka_unit_test(test_remove_host_disconnects_only_that_host),
		cmocka_unit_test(test_remove_host_with_allow_any_keeps_connections),
		cmocka_unit_test(test_listener_list),
		cmocka_unit_test(test_remove_listener_disconnects_only_its_qpairs),
		cmocka_unit_test(test_remove_listener_with_io_in_flight),
		cmocka_unit_test(test_no_namespace_accepts_connections),
		cmocka_unit_test(test_foreach_ctrlr),
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_pause_drain_deadline),
		cmocka_unit_test(test_resume_while_pausing),
		cmocka_unit_test(test_destroy_with_connections),
		cmocka_unit_test(test_ns_remove_cb_may_free_backend),
		cmocka_unit_test(test_destroy_after_fused_io),
	};

	return cmocka_run_group_tests_name("subsystem", tests, NULL, NULL);
}
