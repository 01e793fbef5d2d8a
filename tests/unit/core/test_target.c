/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The target: option handling, the discovery subsystem, independence of two
 * targets, teardown rules, the management descriptor and timeout, the
 * connection limit, and how accepted connections are spread over groups.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/qpair.h"
#include "core/target.h"
#include "loop_transport.h"
#include "test_backend.h"

#define NQN "nqn.2024-01.io.example:target"
#define HOST2 "nqn.2024-01.io.example:host2"
#define BAD_PTR ((struct nvmft_target *)(uintptr_t)0x5a5a5a5a)

struct logcap {
	int calls;
	int errors;
	int warnings;
	char last[512];
};

static void logcap_fn(void *arg, enum nvmft_log_level level, const char *msg)
{
	struct logcap *c = arg;

	c->calls++;
	if (level == NVMFT_LOG_ERR)
		c->errors++;
	if (level == NVMFT_LOG_WARN)
		c->warnings++;
	snprintf(c->last, sizeof(c->last), "%s", msg);
}

static bool fd_readable(int fd)
{
	struct epoll_event ev;

	return epoll_wait(fd, &ev, 1, 0) > 0;
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

/* Admin queue on @pg_idx (-1: whatever the target picks), enabled. */
static struct lt_qpair *connect_admin(struct lt_env *env, int pg_idx, const char *nqn,
				      const char *host, uint16_t *cntlid)
{
	struct lt_qpair *q = lt_qpair_new(env, pg_idx);
	struct lt_cpl r = lt_connect_raw(q, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, nqn, host);

	if (!r.done || r.status != 0)
		return NULL;
	if (cntlid != NULL)
		*cntlid = le16toh(r.cpl.connect.cntlid);
	r = lt_prop_set(q, NVME_REG_CC, 1u | 6u << 16 | 4u << 20);
	return r.done && r.status == 0 ? q : NULL;
}

/* ---- Options ------------------------------------------------------------------------ */

static void test_opts_init_sizes(void **state)
{
	struct nvmft_target_opts o;
	size_t part = offsetof(struct nvmft_target_opts, log_fn);
	uint8_t sentinel[sizeof(o)];

	(void)state;
	nvmft_target_opts_init(&o, sizeof(o));
	assert_int_equal(o.size, sizeof(o));
	assert_int_equal(o.max_subsystems, 1024);
	assert_null(o.log_fn);
	assert_null(o.log_arg);
	assert_int_equal(o.log_level, NVMFT_LOG_NOTICE);
	assert_null(o.assign_fn);
	assert_null(o.assign_arg);
	assert_null(o.discovery_nqn);
	assert_int_equal(o.max_connections, 4096);
	assert_int_equal(o.drain_timeout_ms, 30000);

	/* An older caller's smaller struct: nothing past its size is written. */
	memset(&o, 0xa5, sizeof(o));
	memset(sentinel, 0xa5, sizeof(sentinel));
	nvmft_target_opts_init(&o, part);
	assert_int_equal(o.size, part);
	assert_int_equal(o.max_subsystems, 1024);
	assert_memory_equal((uint8_t *)&o + part, sentinel + part, sizeof(o) - part);

	/* Too small to hold even the size: untouched. */
	memset(&o, 0xa5, sizeof(o));
	nvmft_target_opts_init(&o, sizeof(size_t) - 1);
	assert_memory_equal(&o, sentinel, sizeof(o));
	nvmft_target_opts_init(NULL, sizeof(o));
}

/* A caller compiled against an older, smaller struct gets defaults for the rest. */
static void test_new_with_small_opts(void **state)
{
	struct nvmft_target_opts o;
	struct nvmft_target *tgt = NULL;

	(void)state;
	memset(&o, 0xff, sizeof(o));
	o.size = offsetof(struct nvmft_target_opts, log_fn);
	o.max_subsystems = 7;
	assert_int_equal(nvmft_target_new(&o, &tgt), 0);
	assert_non_null(tgt);
	assert_int_equal(tgt->max_subsystems, 7);
	assert_int_equal(tgt->opts.max_connections, 4096);
	assert_int_equal(tgt->opts.drain_timeout_ms, 30000);
	assert_null(tgt->opts.log_fn);
	assert_null(tgt->opts.assign_fn);
	assert_string_equal(nvmft_subsystem_get_nqn(nvmft_target_get_discovery_subsystem(tgt)),
			    NVMFT_DISCOVERY_NQN);
	nvmft_target_free(tgt);

	/* NULL options: all defaults. */
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_int_equal(tgt->max_subsystems, 1024);
	nvmft_target_free(tgt);
	nvmft_target_free(NULL);
}

static void expect_einval(const struct nvmft_target_opts *o)
{
	struct nvmft_target *tgt = BAD_PTR;

	assert_int_equal(nvmft_target_new(o, &tgt), -EINVAL);
	assert_ptr_equal(tgt, BAD_PTR);
}

static void test_bad_opts(void **state)
{
	struct nvmft_target_opts o;
	char longnqn[300];

	(void)state;
	nvmft_target_opts_init(&o, sizeof(o));
	o.max_subsystems = 0;
	expect_einval(&o);
	o.max_subsystems = 65536;
	expect_einval(&o);
	o.max_subsystems = 70000;
	expect_einval(&o);

	nvmft_target_opts_init(&o, sizeof(o));
	o.drain_timeout_ms = 0;
	expect_einval(&o);

	nvmft_target_opts_init(&o, sizeof(o));
	o.max_connections = 0;
	expect_einval(&o);

	nvmft_target_opts_init(&o, sizeof(o));
	o.discovery_nqn = "not an nqn";
	expect_einval(&o);
	o.discovery_nqn = "";
	expect_einval(&o);
	memset(longnqn, 'a', sizeof(longnqn) - 1);
	memcpy(longnqn, "nqn.2024-01.io.example:", 23);
	longnqn[sizeof(longnqn) - 1] = '\0';
	o.discovery_nqn = longnqn;
	expect_einval(&o);

	nvmft_target_opts_init(&o, sizeof(o));
	o.size = sizeof(size_t) - 1;
	expect_einval(&o);

	nvmft_target_opts_init(&o, sizeof(o));
	assert_int_equal(nvmft_target_new(&o, NULL), -EINVAL);
}

static void test_limits_at_the_edges(void **state)
{
	struct nvmft_target_opts o;
	struct nvmft_subsystem_opts so;
	struct nvmft_subsystem *ss = NULL;
	struct nvmft_target *tgt;

	(void)state;
	nvmft_target_opts_init(&o, sizeof(o));
	o.max_subsystems = 65535;
	o.max_connections = 1;
	o.drain_timeout_ms = 1;
	assert_int_equal(nvmft_target_new(&o, &tgt), 0);
	nvmft_target_free(tgt);

	/* Room for the discovery subsystem only. */
	o.max_subsystems = 1;
	assert_int_equal(nvmft_target_new(&o, &tgt), 0);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = NQN;
	assert_int_equal(nvmft_subsystem_new(tgt, &so, &ss), -ENOSPC);
	assert_null(ss);
	nvmft_target_free(tgt);
}

/* ---- Discovery subsystem ------------------------------------------------------------- */

static void test_discovery_subsystem(void **state)
{
	struct nvmft_target *tgt;
	struct nvmft_subsystem *d, *ss = NULL;
	struct nvmft_subsystem_opts so;
	struct cb_wait w = { 0 };

	(void)state;
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	d = nvmft_target_get_discovery_subsystem(tgt);
	assert_non_null(d);
	assert_ptr_equal(nvmft_subsystem_get_first(tgt), d);
	assert_null(nvmft_subsystem_get_next(d));
	assert_ptr_equal(nvmft_subsystem_find(tgt, NVMFT_DISCOVERY_NQN), d);
	assert_string_equal(nvmft_subsystem_get_nqn(d), NVMFT_DISCOVERY_NQN);
	assert_int_equal(nvmft_subsystem_get_type(d), NVMFT_SUBTYPE_DISCOVERY);
	assert_true(nvmft_subsystem_get_allow_any_host(d));
	assert_true(nvmft_subsystem_host_allowed(d, LT_HOSTNQN));
	assert_int_equal(nvmft_subsystem_get_max_namespaces(d), 0);
	assert_null(nvmft_target_get_discovery_subsystem(NULL));

	/* It cannot be destroyed, renamed over, or given hosts. */
	assert_int_equal(nvmft_subsystem_destroy(d, cb_done, &w), -EINVAL);
	for (int i = 0; i < 5; i++)
		nvmft_target_poll(tgt);
	assert_false(w.done);
	assert_ptr_equal(nvmft_target_get_discovery_subsystem(tgt), d);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = NVMFT_DISCOVERY_NQN;
	assert_int_equal(nvmft_subsystem_new(tgt, &so, &ss), -EEXIST);
	assert_null(ss);
	assert_int_equal(nvmft_subsystem_add_host(d, LT_HOSTNQN), -EINVAL);
	assert_int_equal(nvmft_subsystem_set_allow_any_host(d, false), -EINVAL);
	assert_true(nvmft_subsystem_get_allow_any_host(d));
	assert_int_equal(nvmft_subsystem_pause(d, NULL, NULL), -EINVAL);
	nvmft_target_free(tgt);
}

static void test_custom_discovery_nqn(void **state)
{
	const char *dnqn = "nqn.2024-01.io.example:my-discovery";
	struct nvmft_target_opts o;
	struct nvmft_target *tgt;
	struct nvmft_subsystem *ss = NULL;
	struct nvmft_subsystem_opts so;
	char copy[64];

	(void)state;
	strcpy(copy, dnqn);
	nvmft_target_opts_init(&o, sizeof(o));
	o.discovery_nqn = copy;
	assert_int_equal(nvmft_target_new(&o, &tgt), 0);
	memset(copy, 0, sizeof(copy)); /* copied, not kept */
	assert_string_equal(nvmft_subsystem_get_nqn(nvmft_target_get_discovery_subsystem(tgt)),
			    dnqn);
	assert_ptr_equal(nvmft_subsystem_find(tgt, dnqn),
			 nvmft_target_get_discovery_subsystem(tgt));
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = dnqn;
	assert_int_equal(nvmft_subsystem_new(tgt, &so, &ss), -EEXIST);
	nvmft_target_free(tgt);
}

/* ---- Two targets ------------------------------------------------------------------------- */

static void test_two_targets_independent(void **state)
{
	struct lt_env a, b;
	struct lt_qpair *aqa, *aqb, *iqa, *iqb;
	uint16_t ca, cb;
	uint8_t wa[512], wb[512], r[512];
	struct cb_wait w = { 0 };

	(void)state;
	assert_int_equal(lt_env_init(&a, NULL), 0);
	assert_int_equal(lt_env_init(&b, NULL), 0);
	assert_ptr_not_equal(a.tgt, b.tgt);
	assert_int_not_equal(nvmft_target_get_fd(a.tgt), nvmft_target_get_fd(b.tgt));
	/* The same NQNs in both. */
	assert_non_null(lt_env_add_subsystem(&a, NQN, true));
	assert_non_null(lt_env_add_subsystem(&b, NQN, true));
	assert_non_null(lt_env_add_malloc_ns(&a, a.ss, 1, 64, 512));
	assert_non_null(lt_env_add_malloc_ns(&b, b.ss, 1, 64, 512));
	aqa = connect_admin(&a, 0, NQN, LT_HOSTNQN, &ca);
	aqb = connect_admin(&b, 0, NQN, LT_HOSTNQN, &cb);
	assert_non_null(aqa);
	assert_non_null(aqb);
	iqa = lt_connect_io(&a, NQN, LT_HOSTNQN, ca, 1, 15);
	iqb = lt_connect_io(&b, NQN, LT_HOSTNQN, cb, 1, 15);
	assert_non_null(iqa);
	assert_non_null(iqb);

	memset(wa, 0xaa, sizeof(wa));
	memset(wb, 0xbb, sizeof(wb));
	assert_int_equal(lt_rw(iqa, true, 1, 2, 1, wa, 512).status, 0);
	assert_int_equal(lt_rw(iqb, true, 1, 2, 1, wb, 512).status, 0);
	assert_int_equal(lt_rw(iqa, false, 1, 2, 1, r, 512).status, 0);
	assert_memory_equal(r, wa, 512);
	assert_int_equal(lt_rw(iqb, false, 1, 2, 1, r, 512).status, 0);
	assert_memory_equal(r, wb, 512);

	/* Deleting B's subsystem leaves A's, of the same name, alone. */
	assert_int_equal(nvmft_subsystem_destroy(b.ss, cb_done, &w), 0);
	for (int i = 0; i < 10000 && !w.done; i++)
		lt_env_poll(&b);
	assert_true(w.done);
	assert_true(lt_qpair_is_dead(aqb));
	assert_true(lt_qpair_is_dead(iqb));
	assert_null(nvmft_subsystem_find(b.tgt, NQN));
	assert_non_null(nvmft_subsystem_find(a.tgt, NQN));
	assert_false(lt_qpair_is_dead(iqa));
	assert_int_equal(lt_rw(iqa, false, 1, 2, 1, r, 512).status, 0);
	assert_memory_equal(r, wa, 512);

	lt_env_fini(&b);
	assert_int_equal(lt_rw(iqa, true, 1, 3, 1, wb, 512).status, 0);
	assert_int_equal(lt_rw(iqa, false, 1, 3, 1, r, 512).status, 0);
	assert_memory_equal(r, wb, 512);
	lt_env_fini(&a);
}

/* ---- Teardown ------------------------------------------------------------------------------ */

static void test_free_with_poll_groups_refuses(void **state)
{
	struct logcap cap = { 0 };
	struct nvmft_target_opts o;
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg1, *pg2;
	struct nvmft_subsystem_opts so;
	struct nvmft_subsystem *ss;

	(void)state;
	nvmft_target_opts_init(&o, sizeof(o));
	o.log_fn = logcap_fn;
	o.log_arg = &cap;
	assert_int_equal(nvmft_target_new(&o, &tgt), 0);
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &pg1), 0);
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &pg2), 0);
	nvmft_target_free(tgt);
	assert_int_equal(cap.errors, 1);
	assert_non_null(strstr(cap.last, "2 poll group"));

	/* Nothing was freed: the target still works. */
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = NQN;
	assert_int_equal(nvmft_subsystem_new(tgt, &so, &ss), 0);
	assert_true(nvmft_target_poll(tgt) >= 0);
	assert_true(nvmft_poll_group_poll(pg1, 0) >= 0);
	assert_int_equal(nvmft_poll_group_free(pg1), 0);
	nvmft_target_free(tgt);
	assert_int_equal(cap.errors, 2);
	assert_non_null(strstr(cap.last, "1 poll group"));
	assert_int_equal(nvmft_poll_group_free(pg2), 0);
	nvmft_target_free(tgt);
	assert_int_equal(cap.errors, 2);
}

/* ---- Event loop integration ------------------------------------------------------------------ */

static void test_fd_is_epoll_and_signals_work(void **state)
{
	struct nvmft_target *tgt;
	struct nvmft_subsystem_opts so;
	struct nvmft_subsystem *ss;
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	struct cb_wait w = { 0 };
	char path[64], link[64];
	ssize_t n;
	int fd;

	(void)state;
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	fd = nvmft_target_get_fd(tgt);
	assert_true(fd >= 0);
	assert_int_equal(nvmft_target_get_fd(tgt), fd);
	assert_int_equal(nvmft_target_get_fd(NULL), -EINVAL);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_string_equal(link, "anon_inode:[eventpoll]");

	nvmft_target_poll(tgt);
	assert_false(fd_readable(fd));
	assert_int_equal(nvmft_target_get_timeout_ms(tgt), -1);
	assert_int_equal(nvmft_target_poll(tgt), 0);

	/* Adding a namespace (no poll group: the completion is one message away). */
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = NQN;
	assert_int_equal(nvmft_subsystem_new(tgt, &so, &ss), 0);
	assert_int_equal(nvmft_backend_null_new("tgt-null", 64, 512, &be), 0);
	assert_int_equal(nvmft_ns_add(ss, be, NULL, cb_done, &w, &ns), 0);
	assert_false(w.done);
	assert_true(fd_readable(fd));
	assert_int_equal(nvmft_target_get_timeout_ms(tgt), 0);
	for (int i = 0; i < 10 && !w.done; i++)
		assert_true(nvmft_target_poll(tgt) >= 0);
	assert_true(w.done);
	assert_int_equal(w.status, 0);
	/*
	 * A message posted while the queue drains leaves the eventfd signalled
	 * once more; one idle poll clears it.
	 */
	nvmft_target_poll(tgt);
	assert_int_equal(nvmft_target_poll(tgt), 0);
	assert_false(fd_readable(fd));
	assert_int_equal(nvmft_target_get_timeout_ms(tgt), -1);

	memset(&w, 0, sizeof(w));
	nvmft_ns_remove(ns, cb_done, &w);
	assert_false(w.done);
	assert_true(fd_readable(fd));
	for (int i = 0; i < 10 && !w.done; i++)
		nvmft_target_poll(tgt);
	assert_true(w.done);
	assert_int_equal(w.status, 0);
	nvmft_target_poll(tgt);
	assert_int_equal(nvmft_target_poll(tgt), 0);
	assert_false(fd_readable(fd));
	assert_int_equal(nvmft_backend_free(be), 0);
	nvmft_target_free(tgt);
	assert_int_equal(nvmft_target_get_timeout_ms(NULL), -1);
	assert_int_equal(nvmft_target_poll(NULL), -EINVAL);
}

/* A pause waiting on a held I/O gives the management thread a deadline to wake for. */
static void test_timeout_tracks_drain_deadline(void **state)
{
	struct lt_env_opts eo = { .drain_timeout_ms = 60000 };
	struct lt_env env;
	struct lt_qpair *aq, *iq;
	struct nvmft_backend *be;
	struct tb *tb;
	struct cb_wait w = { 0 };
	uint16_t cntlid;
	uint8_t buf[512] = { 0 };
	int tag, t;

	(void)state;
	assert_int_equal(lt_env_init(&env, &eo), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	assert_int_equal(tb_new("tgt-held", 64, 512, 0, TB_INLINE, &tb, &be), 0);
	assert_non_null(lt_env_add_ns(&env, env.ss, be, 1));
	aq = connect_admin(&env, 0, NQN, LT_HOSTNQN, &cntlid);
	assert_non_null(aq);
	iq = lt_connect_io(&env, NQN, LT_HOSTNQN, cntlid, 1, 15);
	assert_non_null(iq);
	assert_int_equal(nvmft_target_get_timeout_ms(env.tgt), -1);

	tb_hold(tb, true);
	tag = lt_submit(iq, &(struct nvmft_cmd){ .opcode = nvme_cmd_write, .nsid = htole32(1) },
			buf, 512);
	lt_env_settle(&env);
	assert_int_equal(tb_held(tb), 1);
	assert_int_equal(nvmft_subsystem_pause(env.ss, cb_done, &w), 0);
	lt_env_settle(&env);
	assert_false(w.done);
	t = nvmft_target_get_timeout_ms(env.tgt);
	assert_true(t > 0 && t <= 60000);

	assert_int_equal(tb_release(tb), 1);
	lt_env_settle(&env);
	assert_true(w.done);
	assert_int_equal(w.status, 0);
	assert_int_equal(lt_wait(iq, tag).status, 0);
	assert_int_equal(nvmft_target_get_timeout_ms(env.tgt), -1);
	memset(&w, 0, sizeof(w));
	assert_int_equal(nvmft_subsystem_resume(env.ss, cb_done, &w), 0);
	lt_env_settle(&env);
	assert_true(w.done);
	lt_env_fini(&env);
}

/* ---- Connections --------------------------------------------------------------------------- */

/* A target with @max connections, logging warnings and notices into @cap, and subsystem NQN. */
static void limit_env(struct lt_env *env, uint32_t max, struct logcap *cap)
{
	struct nvmft_target_opts to;

	nvmft_target_opts_init(&to, sizeof(to));
	to.max_connections = max;
	to.log_fn = logcap_fn;
	to.log_arg = cap;
	to.log_level = NVMFT_LOG_INFO;
	assert_int_equal(lt_env_init_tgt(env, NULL, &to), 0);
	assert_non_null(lt_env_add_subsystem(env, NQN, true));
}

static uint16_t connect_status(struct lt_qpair *q)
{
	struct lt_cpl r = lt_connect_raw(q, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, NQN, LT_HOSTNQN);

	assert_true(r.done);
	return r.status;
}

/* The connected queue still answers. */
static void assert_serves(struct lt_qpair *q)
{
	uint64_t cap = 0;

	assert_false(lt_qpair_is_dead(q));
	assert_int_equal(lt_prop_get(q, NVME_REG_CAP, true, &cap).status, 0);
	assert_int_not_equal(cap, 0);
}

/*
 * At the limit with every connection connected: a newcomer is closed at
 * accept, no poll group ever sees it, and the connected one is untouched.
 */
static void test_connection_limit(void **state)
{
	struct logcap cap = { 0 };
	struct lt_env env;
	struct lt_qpair *q1, *q2, *q3;

	(void)state;
	limit_env(&env, 1, &cap);
	q1 = lt_qpair_new(&env, -1);
	assert_false(lt_qpair_is_dead(q1));
	assert_ptr_equal(lt_qpair_core(q1)->pg, env.pg[0]);
	assert_int_equal(connect_status(q1), 0);
	assert_int_equal(cap.warnings, 0);

	q2 = lt_qpair_new(&env, -1);
	assert_true(lt_qpair_is_dead(q2));
	assert_true(lt_qpair_is_freed(q2));
	assert_null(lt_qpair_core(q2)->pg);
	assert_int_equal(cap.warnings, 1);
	assert_non_null(strstr(cap.last, "connection limit"));
	assert_serves(q1);
	lt_qpair_close(q1);
	assert_true(lt_qpair_is_freed(q1));

	/* Its slot is free again. */
	q3 = lt_qpair_new(&env, -1);
	assert_false(lt_qpair_is_dead(q3));
	assert_int_equal(connect_status(q3), 0);
	assert_int_equal(cap.warnings, 1);
	assert_int_equal(atomic_load(&env.tgt->num_connections), 1);
	lt_qpair_close(q3);
	assert_int_equal(atomic_load(&env.tgt->num_connections), 0);
	lt_env_fini(&env);
}

/*
 * At the limit, a newcomer takes the place of the oldest connection that
 * has not connected; connected ones are never chosen, however old.  A
 * refused Connect does not move a connection in the line.  Once every
 * connection is connected, newcomers are refused.
 */
static void test_limit_evicts_oldest_unconnected(void **state)
{
	struct logcap cap = { 0 };
	struct lt_env env;
	struct lt_qpair *a, *p[3], *n[3];
	struct lt_cpl r;

	(void)state;
	limit_env(&env, 4, &cap);
	a = connect_admin(&env, -1, NQN, LT_HOSTNQN, NULL);
	assert_non_null(a);
	for (int i = 0; i < 3; i++)
		p[i] = lt_qpair_new(&env, -1);
	assert_int_equal(atomic_load(&env.tgt->num_connections), 4);
	assert_int_equal(cap.calls, 0);

	n[0] = lt_qpair_new(&env, -1);
	assert_false(lt_qpair_is_dead(n[0]));
	assert_true(lt_qpair_is_freed(p[0]));
	assert_false(lt_qpair_is_dead(p[1]));
	assert_false(lt_qpair_is_dead(p[2]));
	assert_int_equal(cap.warnings, 0);
	assert_int_equal(cap.calls, 1);
	assert_non_null(strstr(cap.last, "oldest connection that has not connected"));
	assert_int_equal(atomic_load(&env.tgt->num_connections), 4);
	assert_int_equal(env.tgt->num_evicting, 0);

	/* p[1] sends a Connect the target refuses: still the oldest in line. */
	r = lt_connect_raw(p[1], 0, 31, 0, NVMFT_CNTLID_DYNAMIC, "nqn.2024-01.io.example:nobody",
			   LT_HOSTNQN);
	assert_true(r.done);
	assert_int_not_equal(r.status, 0);
	n[1] = lt_qpair_new(&env, -1);
	assert_false(lt_qpair_is_dead(n[1]));
	assert_true(lt_qpair_is_freed(p[1]));
	assert_false(lt_qpair_is_dead(p[2]));

	/* Everyone connects: the next newcomer is refused, nobody is evicted. */
	assert_int_equal(connect_status(p[2]), 0);
	assert_int_equal(connect_status(n[0]), 0);
	assert_int_equal(connect_status(n[1]), 0);
	n[2] = lt_qpair_new(&env, -1);
	assert_true(lt_qpair_is_freed(n[2]));
	assert_int_equal(cap.warnings, 1);
	assert_non_null(strstr(cap.last, "connection limit reached"));
	assert_serves(a);
	assert_serves(p[2]);
	assert_serves(n[0]);
	assert_serves(n[1]);
	assert_int_equal(atomic_load(&env.tgt->num_connections), 4);
	assert_int_equal(atomic_load(&env.tr->num_connections), 4);
	lt_env_fini(&env);
}

/*
 * A connection whose assignment message has not reached its group yet can
 * be evicted too: the message finds it evicted and closes it, so it never
 * appears on the group.  Evictions whose connections are not freed yet are
 * bounded: past NVMFT_MAX_EVICTING newcomers are refused until the groups
 * catch up.
 */
static void test_limit_evicts_before_assignment(void **state)
{
	enum { N = NVMFT_MAX_EVICTING + 3 };
	struct logcap cap = { 0 };
	struct lt_env env;
	struct lt_qpair *q[N], *last;

	(void)state;
	limit_env(&env, 1, &cap);
	for (int i = 0; i < N; i++)
		q[i] = lt_qpair_new_on(&env, -1, NULL, false);
	/* q[0] was admitted, q[1..64] each evicted the one before, q[65..] were refused. */
	assert_int_equal(env.tgt->num_evicting, NVMFT_MAX_EVICTING);
	assert_int_equal(atomic_load(&env.tgt->num_connections), 1);
	assert_int_equal(cap.warnings, N - 1 - NVMFT_MAX_EVICTING);
	for (int i = NVMFT_MAX_EVICTING + 1; i < N; i++)
		assert_true(lt_qpair_is_freed(q[i]));
	lt_env_settle(&env);
	assert_int_equal(env.tgt->num_evicting, 0);
	for (int i = 0; i < NVMFT_MAX_EVICTING; i++) {
		assert_true(lt_qpair_is_freed(q[i]));
		assert_null(lt_qpair_core(q[i])->pg);
	}
	last = q[NVMFT_MAX_EVICTING];
	assert_false(lt_qpair_is_dead(last));
	assert_ptr_equal(lt_qpair_core(last)->pg, env.pg[0]);
	assert_int_equal(atomic_load(&env.tgt->num_connections), 1);

	/* Caught up: the next newcomer evicts again, now through the group. */
	q[0] = lt_qpair_new(&env, -1);
	assert_false(lt_qpair_is_dead(q[0]));
	assert_true(lt_qpair_is_freed(last));
	assert_int_equal(connect_status(q[0]), 0);
	assert_int_equal(atomic_load(&env.tgt->num_connections), 1);
	assert_int_equal(env.tgt->num_evicting, 0);
	lt_env_fini(&env);
}

/*
 * Eviction against Connect, which runs on the group's thread (white box,
 * through the hooks fabrics.c calls): a connection whose Connect is in
 * progress is not evicted; one evicted before its Connect began must fail
 * that Connect.
 */
static void test_limit_eviction_vs_connect(void **state)
{
	struct logcap cap = { 0 };
	struct lt_env env;
	struct nvmft_qpair *qp;
	struct lt_qpair *q1, *q2;

	(void)state;
	limit_env(&env, 1, &cap);
	q1 = lt_qpair_new(&env, -1);
	qp = lt_qpair_core(q1);
	assert_true(nvmft_target_connect_begin(qp));
	q2 = lt_qpair_new(&env, -1);
	assert_true(lt_qpair_is_freed(q2));
	assert_int_equal(cap.warnings, 1);
	assert_false(lt_qpair_is_dead(q1));
	/* Refused after all: evictable again. */
	nvmft_target_connect_end(qp, false);

	/* Evicted while its group has not run yet: its Connect may not begin. */
	q2 = lt_qpair_new_on(&env, -1, NULL, false);
	assert_false(lt_qpair_is_dead(q2));
	assert_false(nvmft_target_connect_begin(qp));
	nvmft_target_connect_end(qp, false); /* what fabrics.c never does after a false: harmless */
	lt_env_settle(&env);
	assert_true(lt_qpair_is_freed(q1));
	assert_int_equal(connect_status(q2), 0);
	assert_int_equal(atomic_load(&env.tgt->num_connections), 1);
	assert_int_equal(env.tgt->num_evicting, 0);
	lt_qpair_close(q2);
	assert_int_equal(atomic_load(&env.tgt->num_connections), 0);

	/* A queue that becomes active without Connect (a local controller's) says so alone. */
	q1 = lt_qpair_new(&env, -1);
	nvmft_target_connect_end(lt_qpair_core(q1), true);
	q2 = lt_qpair_new(&env, -1);
	assert_true(lt_qpair_is_freed(q2));
	assert_false(lt_qpair_is_dead(q1));
	assert_int_equal(cap.warnings, 2);
	lt_qpair_close(q1);
	assert_int_equal(atomic_load(&env.tgt->num_connections), 0);
	lt_env_fini(&env);
}

static void test_no_running_group_refuses(void **state)
{
	struct logcap cap = { 0 };
	struct nvmft_target_opts to;
	struct lt_env env;
	struct lt_qpair *q;

	(void)state;
	nvmft_target_opts_init(&to, sizeof(to));
	to.log_fn = logcap_fn;
	to.log_arg = &cap;
	assert_int_equal(lt_env_init_tgt(&env, NULL, &to), 0);
	assert_int_equal(nvmft_poll_group_free(env.pg[0]), 0);
	env.pg[0] = NULL;
	env.nr_pgs = 0;
	q = lt_qpair_new(&env, -1);
	assert_true(lt_qpair_is_dead(q));
	assert_true(lt_qpair_is_freed(q));
	assert_int_equal(cap.warnings, 1);
	assert_non_null(strstr(cap.last, "no running poll group"));
	assert_int_equal(atomic_load(&env.tgt->num_connections), 0);
	lt_env_fini(&env);
}

struct assign_ctx {
	struct nvmft_poll_group *pick;
	int calls;
	const struct nvmft_qpair *seen;
	const struct nvmft_listener *seen_listener;
};

static struct nvmft_poll_group *assign_pick(void *arg, const struct nvmft_qpair *qp)
{
	struct assign_ctx *a = arg;

	a->calls++;
	a->seen = qp;
	a->seen_listener = nvmft_qpair_get_listener(qp);
	return a->pick;
}

static void test_assign_fn_chooses_group(void **state)
{
	struct assign_ctx a = { 0 };
	struct lt_env_opts eo = { .nr_pgs = 3 };
	struct nvmft_target_opts to;
	struct nvmft_target *other;
	struct nvmft_poll_group *foreign;
	struct lt_env env;
	struct lt_qpair *q;
	bool stopped = false;

	(void)state;
	nvmft_target_opts_init(&to, sizeof(to));
	to.assign_fn = assign_pick;
	to.assign_arg = &a;
	assert_int_equal(lt_env_init_tgt(&env, &eo, &to), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));

	a.pick = env.pg[2];
	for (int i = 0; i < 3; i++) {
		q = lt_qpair_new(&env, -1);
		assert_false(lt_qpair_is_dead(q));
		assert_ptr_equal(lt_qpair_core(q)->pg, env.pg[2]);
		assert_string_equal(nvmft_qpair_get_poll_group_name(lt_qpair_core(q)),
				    nvmft_poll_group_get_name(env.pg[2]));
		assert_ptr_equal(a.seen, lt_qpair_core(q));
		assert_ptr_equal(a.seen_listener, env.listener);
		assert_int_equal(lt_connect_raw(q, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, NQN,
						LT_HOSTNQN).status, 0);
	}
	assert_int_equal(a.calls, 3);

	/* NULL: the target's round robin decides (starting at the first group). */
	a.pick = NULL;
	q = lt_qpair_new(&env, -1);
	assert_ptr_equal(lt_qpair_core(q)->pg, env.pg[0]);

	/* A group of another target is not taken. */
	assert_int_equal(nvmft_target_new(NULL, &other), 0);
	assert_int_equal(nvmft_poll_group_new(other, NULL, &foreign), 0);
	a.pick = foreign;
	q = lt_qpair_new(&env, -1);
	assert_false(lt_qpair_is_dead(q));
	assert_ptr_equal(lt_qpair_core(q)->pg, env.pg[1]);
	assert_int_equal(nvmft_poll_group_free(foreign), 0);
	nvmft_target_free(other);

	/* Nor a stopped one. */
	assert_int_equal(nvmft_poll_group_stop(env.pg[2], NULL, NULL), 0);
	for (int i = 0; i < 1000 && !stopped; i++)
		stopped = nvmft_poll_group_poll(env.pg[2], 0) == -ESHUTDOWN;
	assert_true(stopped);
	a.pick = env.pg[2];
	q = lt_qpair_new(&env, -1);
	assert_false(lt_qpair_is_dead(q));
	assert_ptr_not_equal(lt_qpair_core(q)->pg, env.pg[2]);
	assert_int_equal(a.calls, 6);
	assert_int_equal(nvmft_poll_group_free(env.pg[2]), 0);
	env.nr_pgs = 2;
	lt_env_fini(&env);
}

struct pg_names {
	int n;
	char name[8][32];
	uint16_t qid[8];
};

static int collect_qpair(void *arg, const struct nvmft_qpair *qp)
{
	struct pg_names *p = arg;

	if (p->n < 8) {
		snprintf(p->name[p->n], sizeof(p->name[0]), "%s",
			 nvmft_qpair_get_poll_group_name(qp));
		p->qid[p->n] = nvmft_qpair_get_qid(qp);
		p->n++;
	}
	return 0;
}

static int collect_ctrlr(void *arg, const struct nvmft_ctrlr *ctrlr)
{
	return nvmft_ctrlr_foreach_qpair(ctrlr, collect_qpair, arg);
}

static void test_round_robin_three_groups(void **state)
{
	struct lt_env_opts eo = { .nr_pgs = 3 };
	struct nvmft_target_opts to;
	struct pg_names names = { 0 };
	struct lt_env env;
	struct lt_qpair *q[4];

	(void)state;
	nvmft_target_opts_init(&to, sizeof(to));
	assert_int_equal(lt_env_init_tgt(&env, &eo, &to), 0);
	assert_string_equal(nvmft_poll_group_get_name(env.pg[0]), "pg0");
	assert_string_equal(nvmft_poll_group_get_name(env.pg[1]), "pg1");
	assert_string_equal(nvmft_poll_group_get_name(env.pg[2]), "pg2");
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	for (int i = 0; i < 4; i++) {
		q[i] = connect_admin(&env, -1, NQN, LT_HOSTNQN, NULL);
		assert_non_null(q[i]);
	}
	assert_int_equal(nvmft_subsystem_foreach_ctrlr(env.ss, collect_ctrlr, &names), 0);
	assert_int_equal(names.n, 4);
	assert_string_equal(names.name[0], "pg0");
	assert_string_equal(names.name[1], "pg1");
	assert_string_equal(names.name[2], "pg2");
	assert_string_equal(names.name[3], "pg0");
	for (int i = 0; i < 4; i++)
		assert_int_equal(names.qid[i], 0);

	/* A stopped group is skipped. */
	lt_qpair_close(q[1]);
	{
		bool stopped = false;

		assert_int_equal(nvmft_poll_group_stop(env.pg[1], NULL, NULL), 0);
		for (int i = 0; i < 1000 && !stopped; i++)
			stopped = nvmft_poll_group_poll(env.pg[1], 0) == -ESHUTDOWN;
		assert_true(stopped);
	}
	q[1] = lt_qpair_new(&env, -1); /* the cursor is at pg1: skipped, pg2 takes it */
	assert_ptr_equal(lt_qpair_core(q[1])->pg, env.pg[2]);
	q[1] = lt_qpair_new(&env, -1);
	assert_ptr_equal(lt_qpair_core(q[1])->pg, env.pg[0]);
	/* Freeing the group the cursor may point at keeps round robin working. */
	assert_int_equal(nvmft_poll_group_free(env.pg[1]), 0);
	env.pg[1] = env.pg[2];
	env.nr_pgs = 2;
	q[1] = lt_qpair_new(&env, -1);
	assert_false(lt_qpair_is_dead(q[1]));
	q[2] = lt_qpair_new(&env, -1);
	assert_false(lt_qpair_is_dead(q[2]));
	assert_ptr_not_equal(lt_qpair_core(q[1])->pg, lt_qpair_core(q[2])->pg);
	lt_env_fini(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_init_sizes),
		cmocka_unit_test(test_new_with_small_opts),
		cmocka_unit_test(test_bad_opts),
		cmocka_unit_test(test_limits_at_the_edges),
		cmocka_unit_test(test_discovery_subsystem),
		cmocka_unit_test(test_custom_discovery_nqn),
		cmocka_unit_test(test_two_targets_independent),
		cmocka_unit_test(test_free_with_poll_groups_refuses),
		cmocka_unit_test(test_fd_is_epoll_and_signals_work),
		cmocka_unit_test(test_timeout_tracks_drain_deadline),
		cmocka_unit_test(test_connection_limit),
		cmocka_unit_test(test_limit_evicts_oldest_unconnected),
		cmocka_unit_test(test_limit_evicts_before_assignment),
		cmocka_unit_test(test_limit_eviction_vs_connect),
		cmocka_unit_test(test_no_running_group_refuses),
		cmocka_unit_test(test_assign_fn_chooses_group),
		cmocka_unit_test(test_round_robin_three_groups),
	};

	return cmocka_run_group_tests_name("target", tests, NULL, NULL);
}
