/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API rules of doc/abi.md, checked through the shared library's exported
 * interface (this program links libnvmft.so, not the internal archive):
 *  - *_opts_init(opts, size) writes nothing at or beyond @size;
 *  - constructors given an older, smaller option struct read nothing beyond
 *    its size and use defaults for the rest;
 *  - getters that fill a caller's struct stop at the caller's size;
 *  - constructors leave *ret untouched on failure, with the documented errno;
 *  - destructors accept NULL;
 *  - nvmft_version() and nvmft_version_check() agree with the macros.
 *
 * "Reads nothing beyond" is checked by placing the caller's struct at the
 * end of a page whose successor is PROT_NONE, so an access past it faults,
 * and by filling the bytes between its size and that end with a pattern
 * that must not show up in what the library took from the struct.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <nvmft/nvmft.h>

#define PATTERN 0xa5
#define TEST_NQN "nqn.2024-01.io.libnvmft:abi-contract"

/* A sentinel no allocator returns: *ret must still hold it after a failure. */
#define SENTINEL ((void *)(uintptr_t)0x5e5e5e5e5e5e5e5eull)

struct guarded {
	void *map;
	size_t len;
};

#define ROUND8(n) (((n) + 7) & ~(size_t)7)

/*
 * Room for a struct of @size bytes, 8-byte aligned, filled with PATTERN and
 * ending at an inaccessible page: an access past ROUND8(@size) faults, and
 * the few bytes between @size and there keep PATTERN unless written.
 */
static void *guarded_alloc(struct guarded *g, size_t size)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *p;

	assert_true(ROUND8(size) <= pg);
	g->len = 2 * pg;
	g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->map != MAP_FAILED);
	assert_int_equal(mprotect((char *)g->map + pg, pg, PROT_NONE), 0);
	p = (char *)g->map + pg - ROUND8(size);
	memset(p, PATTERN, ROUND8(size));
	return p;
}

static void guarded_free(struct guarded *g)
{
	assert_int_equal(munmap(g->map, g->len), 0);
}

static void assert_pattern(const void *p, size_t from, size_t to)
{
	const unsigned char *b = p;

	for (size_t i = from; i < to; i++) {
		if (b[i] != PATTERN)
			fail_msg("byte %zu of %zu was written (0x%02x)", i, to, b[i]);
	}
}

/* ---- *_opts_init() with a smaller size ------------------------------------ */

typedef void (*opts_init_fn)(void *opts, size_t size);

static void target_init(void *o, size_t s)
{
	nvmft_target_opts_init(o, s);
}

static void subsystem_init(void *o, size_t s)
{
	nvmft_subsystem_opts_init(o, s);
}

static void ns_init(void *o, size_t s)
{
	nvmft_ns_opts_init(o, s);
}

static void pg_init(void *o, size_t s)
{
	nvmft_poll_group_opts_init(o, s);
}

static void backend_init(void *o, size_t s)
{
	nvmft_backend_opts_init(o, s);
}

static void tcp_init(void *o, size_t s)
{
	/* Too small to hold the size is refused; anything else fills in. */
	assert_int_equal(nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, o, s),
			 s < sizeof(size_t) ? -EINVAL : 0);
}

/*
 * The size of an older struct that ended with @member.  Not rounded up to
 * the alignment: the library must stop at whatever size it is given.
 */
#define MEMBER_END(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/*
 * Initialise with the full size and with @small: the members below @small
 * must match the full result, and nothing at or beyond @small may change,
 * whether the struct is in a large buffer or at a page end.
 */
static void check_opts_init(opts_init_fn init, size_t full, size_t small)
{
	unsigned char ref[512] __attribute__((aligned(8)));
	unsigned char buf[512] __attribute__((aligned(8)));
	struct guarded g;
	void *edge;

	assert_true(full <= sizeof(ref) && small < full);
	memset(ref, PATTERN, sizeof(ref));
	init(ref, full);
	assert_int_equal(*(size_t *)(void *)ref, full);

	memset(buf, PATTERN, sizeof(buf));
	init(buf, small);
	assert_int_equal(*(size_t *)(void *)buf, small);
	if (small > sizeof(size_t))
		assert_memory_equal(buf + sizeof(size_t), ref + sizeof(size_t),
				    small - sizeof(size_t));
	assert_pattern(buf, small, sizeof(buf));

	/* Too small to hold even the size: nothing is written at all. */
	memset(buf, PATTERN, sizeof(buf));
	init(buf, sizeof(size_t) - 1);
	assert_pattern(buf, 0, sizeof(buf));
	init(buf, 0);
	assert_pattern(buf, 0, sizeof(buf));

	edge = guarded_alloc(&g, small);
	init(edge, small);
	assert_int_equal(*(size_t *)edge, small);
	assert_pattern(edge, small, ROUND8(small));
	guarded_free(&g);
}

static void test_opts_init_smaller_size(void **state)
{
	check_opts_init(target_init, sizeof(struct nvmft_target_opts),
			MEMBER_END(struct nvmft_target_opts, max_subsystems));
	check_opts_init(subsystem_init, sizeof(struct nvmft_subsystem_opts),
			MEMBER_END(struct nvmft_subsystem_opts, nqn));
	check_opts_init(ns_init, sizeof(struct nvmft_ns_opts),
			MEMBER_END(struct nvmft_ns_opts, nsid));
	check_opts_init(pg_init, sizeof(struct nvmft_poll_group_opts), sizeof(size_t));
	check_opts_init(backend_init, sizeof(struct nvmft_backend_opts),
			MEMBER_END(struct nvmft_backend_opts, block_size));
	check_opts_init(tcp_init, sizeof(struct nvmft_transport_opts),
			MEMBER_END(struct nvmft_transport_opts, max_queue_depth));
}

/* ---- Older, smaller structs passed to constructors ------------------------ */

static void test_old_target_opts(void **state)
{
	struct nvmft_subsystem_opts so;
	struct nvmft_subsystem *ss1, *ss2 = SENTINEL;
	struct nvmft_target_opts *o;
	struct nvmft_target *tgt;
	struct guarded g;

	o = guarded_alloc(&g, MEMBER_END(struct nvmft_target_opts, max_subsystems));
	o->size = MEMBER_END(struct nvmft_target_opts, max_subsystems);
	o->max_subsystems = 2; /* discovery and one more */
	assert_int_equal(nvmft_target_new(o, &tgt), 0);
	guarded_free(&g);

	/* The field it had was taken: a second NVM subsystem does not fit. */
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = TEST_NQN;
	assert_int_equal(nvmft_subsystem_new(tgt, &so, &ss1), 0);
	so.nqn = TEST_NQN "-2";
	assert_int_equal(nvmft_subsystem_new(tgt, &so, &ss2), -ENOSPC);
	assert_ptr_equal(ss2, SENTINEL);
	nvmft_target_free(tgt);
}

static void test_old_subsystem_and_ns_opts(void **state)
{
	struct nvmft_subsystem_opts defaults, *so;
	struct nvmft_ns_opts *no;
	uint8_t uuid[16];
	struct nvmft_target *tgt;
	struct nvmft_subsystem *ss;
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	struct guarded g;

	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	nvmft_subsystem_opts_init(&defaults, sizeof(defaults));

	so = guarded_alloc(&g, MEMBER_END(struct nvmft_subsystem_opts, nqn));
	so->size = MEMBER_END(struct nvmft_subsystem_opts, nqn);
	so->nqn = TEST_NQN;
	assert_int_equal(nvmft_subsystem_new(tgt, so, &ss), 0);
	guarded_free(&g);
	assert_string_equal(nvmft_subsystem_get_nqn(ss), TEST_NQN);
	assert_int_equal(nvmft_subsystem_get_max_namespaces(ss), defaults.max_namespaces);
	assert_int_equal(nvmft_subsystem_get_allow_any_host(ss), defaults.allow_any_host);

	assert_int_equal(nvmft_backend_null_new("abi-null", 8, 512, &be), 0);
	no = guarded_alloc(&g, MEMBER_END(struct nvmft_ns_opts, nsid));
	no->size = MEMBER_END(struct nvmft_ns_opts, nsid);
	no->nsid = 5;
	assert_int_equal(nvmft_ns_add(ss, be, no, NULL, NULL, &ns), 0);
	guarded_free(&g);
	assert_int_equal(nvmft_ns_get_nsid(ns), 5);
	assert_ptr_equal(nvmft_ns_get_backend(ns), be);
	/* The UUID began right after the old size: it was not read from there. */
	nvmft_ns_get_uuid(ns, uuid);
	assert_false(uuid[0] == PATTERN && uuid[1] == PATTERN && uuid[2] == PATTERN &&
		     uuid[3] == PATTERN);
	/* Let the attach finish (no poll group: nothing to wait for but messages). */
	for (int i = 0; i < 16 && nvmft_target_poll(tgt) > 0; i++)
		;

	/* The target releases the subsystem and namespace; the backend is ours. */
	nvmft_target_free(tgt);
	assert_int_equal(nvmft_backend_free(be), 0);
}

static void test_old_poll_group_opts(void **state)
{
	struct nvmft_poll_group_opts *po;
	struct nvmft_poll_group_stats *st;
	struct nvmft_poll_group *pg;
	struct nvmft_target *tgt;
	struct guarded g;

	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	po = guarded_alloc(&g, sizeof(size_t));
	po->size = sizeof(size_t);
	assert_int_equal(nvmft_poll_group_new(tgt, po, &pg), 0);
	guarded_free(&g);
	assert_non_null(nvmft_poll_group_get_name(pg));

	/* A caller that knows only the first counter gets only that one. */
	st = guarded_alloc(&g, MEMBER_END(struct nvmft_poll_group_stats, polls));
	st->size = MEMBER_END(struct nvmft_poll_group_stats, polls);
	assert_int_equal(nvmft_poll_group_get_stats(pg, st), 0);
	assert_int_equal(st->size, MEMBER_END(struct nvmft_poll_group_stats, polls));
	assert_int_equal(st->polls, 0);
	guarded_free(&g);

	assert_int_equal(nvmft_poll_group_free(pg), 0);
	nvmft_target_free(tgt);
}

static void test_old_transport_opts(void **state)
{
	struct nvmft_transport_opts defaults, full, *to, *out;
	struct nvmft_transport *tr;
	struct nvmft_target *tgt;
	unsigned char buf[sizeof(full) + 16] __attribute__((aligned(8)));
	struct guarded g;
	size_t small = MEMBER_END(struct nvmft_transport_opts, max_queue_depth);

	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_int_equal(nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &defaults, sizeof(defaults)), 0);

	to = guarded_alloc(&g, small);
	to->size = small;
	to->max_queue_depth = 64;
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, to, &tr), 0);
	guarded_free(&g);

	nvmft_transport_get_opts(tr, &full, sizeof(full));
	assert_int_equal(full.size, sizeof(full));
	assert_int_equal(full.max_queue_depth, 64);
	assert_int_equal(full.max_aq_depth, defaults.max_aq_depth);
	assert_int_equal(full.max_io_size, defaults.max_io_size);
	assert_int_equal(full.in_capsule_data_size, defaults.in_capsule_data_size);

	/* get_opts stops at the caller's size too. */
	memset(buf, PATTERN, sizeof(buf));
	out = (struct nvmft_transport_opts *)(void *)buf;
	nvmft_transport_get_opts(tr, out, small);
	assert_int_equal(out->size, small);
	assert_int_equal(out->max_queue_depth, 64);
	assert_pattern(buf, small, sizeof(buf));

	nvmft_target_free(tgt);
}

static int nop_open(void *ctx, void **chan)
{
	*chan = ctx;
	return 0;
}

static void nop_close(void *ctx, void *chan)
{
}

static int nop_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	return -EIO;
}

static const struct nvmft_backend_ops nop_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = nop_open,
	.channel_close = nop_close,
	.submit = nop_submit,
};

static void test_old_backend_opts(void **state)
{
	size_t small = MEMBER_END(struct nvmft_backend_opts, num_blocks);
	struct nvmft_backend_opts *bo;
	struct nvmft_backend *be, *none = SENTINEL;
	struct guarded g;
	int ctx;

	bo = guarded_alloc(&g, small);
	bo->size = small;
	bo->name = "abi-custom";
	bo->block_size = 4096;
	bo->num_blocks = 100;
	assert_int_equal(nvmft_backend_new(&nop_ops, &ctx, bo, &be), 0);

	/* Name and geometry have no defaults: a struct without them is refused. */
	bo->size = MEMBER_END(struct nvmft_backend_opts, name);
	assert_int_equal(nvmft_backend_new(&nop_ops, &ctx, bo, &none), -EINVAL);
	assert_ptr_equal(none, SENTINEL);
	guarded_free(&g);

	assert_string_equal(nvmft_backend_get_name(be), "abi-custom");
	assert_int_equal(nvmft_backend_get_block_size(be), 4096);
	assert_int_equal(nvmft_backend_get_num_blocks(be), 100);
	assert_int_equal(nvmft_backend_get_caps(be), 0);
	assert_ptr_equal(nvmft_backend_get_ctx(be), &ctx);
	assert_string_equal(nvmft_backend_get_kind(be), "custom");
	assert_int_equal(nvmft_backend_free(be), 0);
}

/* ---- Out-parameters untouched on failure ---------------------------------- */

static void test_target_new_failure(void **state)
{
	struct nvmft_target *tgt = SENTINEL;
	struct nvmft_target_opts o;

	nvmft_target_opts_init(&o, sizeof(o));
	o.max_subsystems = 0;
	assert_int_equal(nvmft_target_new(&o, &tgt), -EINVAL);
	assert_ptr_equal(tgt, SENTINEL);

	nvmft_target_opts_init(&o, sizeof(o));
	o.discovery_nqn = "not an nqn";
	assert_int_equal(nvmft_target_new(&o, &tgt), -EINVAL);
	assert_ptr_equal(tgt, SENTINEL);

	nvmft_target_opts_init(&o, sizeof(o));
	o.size = 0;
	assert_int_equal(nvmft_target_new(&o, &tgt), -EINVAL);
	assert_ptr_equal(tgt, SENTINEL);

	assert_int_equal(nvmft_target_new(NULL, NULL), -EINVAL);
}

static void test_subsystem_new_failure(void **state)
{
	struct nvmft_subsystem *ss = SENTINEL, *ok;
	struct nvmft_subsystem_opts o;
	struct nvmft_target *tgt;

	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	nvmft_subsystem_opts_init(&o, sizeof(o));

	o.nqn = NULL;
	assert_int_equal(nvmft_subsystem_new(tgt, &o, &ss), -EINVAL);
	assert_ptr_equal(ss, SENTINEL);
	o.nqn = "not-an-nqn";
	assert_int_equal(nvmft_subsystem_new(tgt, &o, &ss), -EINVAL);
	assert_ptr_equal(ss, SENTINEL);
	o.nqn = "nqn.2014-08.org.nvmexpress.discovery";
	assert_int_equal(nvmft_subsystem_new(tgt, &o, &ss), -EEXIST);
	assert_ptr_equal(ss, SENTINEL);

	o.nqn = TEST_NQN;
	o.max_namespaces = 0;
	assert_int_equal(nvmft_subsystem_new(tgt, &o, &ss), -EINVAL);
	assert_ptr_equal(ss, SENTINEL);
	nvmft_subsystem_opts_init(&o, sizeof(o));
	o.nqn = TEST_NQN;
	assert_int_equal(nvmft_subsystem_new(tgt, &o, &ok), 0);
	assert_int_equal(nvmft_subsystem_new(tgt, &o, &ss), -EEXIST);
	assert_ptr_equal(ss, SENTINEL);

	assert_int_equal(nvmft_subsystem_new(NULL, &o, &ss), -EINVAL);
	assert_int_equal(nvmft_subsystem_new(tgt, NULL, &ss), -EINVAL);
	assert_ptr_equal(ss, SENTINEL);
	nvmft_target_free(tgt);
}

static void test_transport_new_failure(void **state)
{
	struct nvmft_transport *tr = SENTINEL, *ok;
	struct nvmft_transport_opts o;
	struct nvmft_target *tgt;

	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_int_equal(nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o)), 0);
	o.max_queue_depth = 1;
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, &o, &tr), -EINVAL);
	assert_ptr_equal(tr, SENTINEL);

	assert_int_equal(nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o)), 0);
	o.max_io_size = 5000; /* not a power of two */
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, &o, &tr), -EINVAL);
	assert_ptr_equal(tr, SENTINEL);

	o.size = 0;
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, &o, &tr), -EINVAL);
	assert_ptr_equal(tr, SENTINEL);

	assert_int_equal(nvmft_transport_new(tgt, (enum nvmft_trtype)77, NULL, &tr),
			 -EPROTONOSUPPORT);
	assert_ptr_equal(tr, SENTINEL);

	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, NULL, &ok), 0);
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, NULL, &tr), -EEXIST);
	assert_ptr_equal(tr, SENTINEL);
	nvmft_target_free(tgt);
}

static void test_listener_new_failure(void **state)
{
	struct nvmft_listener *l = SENTINEL;
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4 };
	struct nvmft_transport *tr;
	struct nvmft_target *tgt;

	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, NULL, &tr), 0);
	lo.traddr = NULL;
	lo.trsvcid = "0";
	assert_int_equal(nvmft_listener_new(tr, &lo, &l), -EINVAL);
	assert_ptr_equal(l, SENTINEL);
	lo.traddr = "127.0.0.1";
	lo.size = 0;
	assert_int_equal(nvmft_listener_new(tr, &lo, &l), -EINVAL);
	assert_ptr_equal(l, SENTINEL);
	assert_int_equal(nvmft_listener_new(tr, NULL, &l), -EINVAL);
	assert_ptr_equal(l, SENTINEL);
	nvmft_target_free(tgt);
}

static void test_backend_new_failure(void **state)
{
	struct nvmft_backend_ops ops = nop_ops;
	struct nvmft_backend *be = SENTINEL;
	struct nvmft_backend_opts o;

	assert_int_equal(nvmft_backend_malloc_new("m", 8, 513, &be), -EINVAL);
	assert_int_equal(nvmft_backend_malloc_new("m", 8, 256, &be), -EINVAL);
	assert_int_equal(nvmft_backend_malloc_new("m", 8, 131072, &be), -EINVAL);
	assert_int_equal(nvmft_backend_malloc_new("m", 0, 512, &be), -EINVAL);
	assert_int_equal(nvmft_backend_malloc_new(NULL, 8, 512, &be), -EINVAL);
	assert_int_equal(nvmft_backend_malloc_new("", 8, 512, &be), -EINVAL);
	assert_int_equal(nvmft_backend_malloc_new("m", 8, 512, NULL), -EINVAL);
	assert_ptr_equal(be, SENTINEL);

	assert_int_equal(nvmft_backend_null_new("n", 8, 513, &be), -EINVAL);
	assert_int_equal(nvmft_backend_null_new("n", 0, 512, &be), -EINVAL);
	assert_int_equal(nvmft_backend_null_new(NULL, 8, 512, &be), -EINVAL);
	assert_ptr_equal(be, SENTINEL);

	assert_int_equal(nvmft_backend_uring_new("u", "/nonexistent/libnvmft-abi", 0, &be), -ENOENT);
	assert_int_equal(nvmft_backend_uring_new("u", "/dev/null", 1000, &be), -EINVAL);
	assert_int_equal(nvmft_backend_uring_new("u", NULL, 0, &be), -EINVAL);
	assert_ptr_equal(be, SENTINEL);

	nvmft_backend_opts_init(&o, sizeof(o));
	o.name = "c";
	o.num_blocks = 8;
	assert_int_equal(nvmft_backend_new(NULL, NULL, &o, &be), -EINVAL);
	ops.version = 0;
	assert_int_equal(nvmft_backend_new(&ops, NULL, &o, &be), -EINVAL);
	ops = nop_ops;
	ops.submit = NULL;
	assert_int_equal(nvmft_backend_new(&ops, NULL, &o, &be), -EINVAL);
	o.block_size = 3000;
	assert_int_equal(nvmft_backend_new(&nop_ops, NULL, &o, &be), -EINVAL);
	assert_ptr_equal(be, SENTINEL);
}

static void test_ns_add_and_poll_group_failure(void **state)
{
	struct nvmft_subsystem_opts so;
	struct nvmft_ns_opts no;
	struct nvmft_poll_group *pg = SENTINEL;
	struct nvmft_ns *ns = SENTINEL, *ok;
	struct nvmft_backend *be1, *be2;
	struct nvmft_subsystem *ss;
	struct nvmft_target *tgt;

	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = TEST_NQN;
	so.max_namespaces = 4;
	assert_int_equal(nvmft_subsystem_new(tgt, &so, &ss), 0);
	assert_int_equal(nvmft_backend_null_new("abi-n1", 8, 512, &be1), 0);
	assert_int_equal(nvmft_backend_null_new("abi-n2", 8, 512, &be2), 0);

	assert_int_equal(nvmft_ns_add(nvmft_target_get_discovery_subsystem(tgt), be1, NULL, NULL,
				      NULL, &ns), -EINVAL);
	assert_ptr_equal(ns, SENTINEL);
	nvmft_ns_opts_init(&no, sizeof(no));
	no.nsid = 5; /* above max_namespaces */
	assert_int_equal(nvmft_ns_add(ss, be1, &no, NULL, NULL, &ns), -EINVAL);
	assert_ptr_equal(ns, SENTINEL);
	no.nsid = 1;
	assert_int_equal(nvmft_ns_add(ss, be1, &no, NULL, NULL, &ok), 0);
	assert_int_equal(nvmft_ns_add(ss, be2, &no, NULL, NULL, &ns), -EEXIST);
	assert_ptr_equal(ns, SENTINEL);
	no.nsid = 2;
	assert_int_equal(nvmft_ns_add(ss, be1, &no, NULL, NULL, &ns), -EBUSY);
	assert_ptr_equal(ns, SENTINEL);
	/* A backend that backs a namespace is not freed. */
	assert_int_equal(nvmft_backend_free(be1), -EBUSY);

	assert_int_equal(nvmft_poll_group_new(NULL, NULL, &pg), -EINVAL);
	assert_ptr_equal(pg, SENTINEL);

	nvmft_target_free(tgt);
	assert_int_equal(nvmft_backend_free(be1), 0);
	assert_int_equal(nvmft_backend_free(be2), 0);
}

/* ---- Destructors accept NULL ---------------------------------------------- */

static void test_destructors_accept_null(void **state)
{
	nvmft_target_free(NULL);
	assert_int_equal(nvmft_backend_free(NULL), 0);
	assert_int_equal(nvmft_poll_group_free(NULL), 0);
	nvmft_ns_remove(NULL, NULL, NULL);
	nvmft_listener_destroy(NULL, NULL, NULL);
	assert_int_equal(nvmft_subsystem_destroy(NULL, NULL, NULL), 0);
}

/* ---- Version --------------------------------------------------------------- */

/* Compile-time checks of the macros themselves (C99 has no static_assert). */
typedef char check_version_self[NVMFT_CHECK_VERSION(NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR,
						    NVMFT_VERSION_PATCH) ? 1 : -1];
typedef char check_version_newer[NVMFT_CHECK_VERSION(NVMFT_VERSION_MAJOR,
						     NVMFT_VERSION_MINOR + 1, 0) ? -1 : 1];
typedef char check_version_major[NVMFT_CHECK_VERSION(NVMFT_VERSION_MAJOR + 1, 0, 0) ? -1 : 1];

static void test_version(void **state)
{
	char want[64];

	snprintf(want, sizeof(want), "%d.%d.%d", NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR,
		 NVMFT_VERSION_PATCH);
	assert_string_equal(nvmft_version(), want);
	assert_string_equal(nvmft_version(), NVMFT_VERSION_STRING);

	assert_true(nvmft_version_check(NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR));
	assert_true(nvmft_version_check(NVMFT_VERSION_MAJOR, 0));
	assert_false(nvmft_version_check(NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR + 1));
	assert_false(nvmft_version_check(NVMFT_VERSION_MAJOR + 1, 0));
	assert_false(nvmft_version_check(NVMFT_VERSION_MAJOR - 1, NVMFT_VERSION_MINOR));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_init_smaller_size),
		cmocka_unit_test(test_old_target_opts),
		cmocka_unit_test(test_old_subsystem_and_ns_opts),
		cmocka_unit_test(test_old_poll_group_opts),
		cmocka_unit_test(test_old_transport_opts),
		cmocka_unit_test(test_old_backend_opts),
		cmocka_unit_test(test_target_new_failure),
		cmocka_unit_test(test_subsystem_new_failure),
		cmocka_unit_test(test_transport_new_failure),
		cmocka_unit_test(test_listener_new_failure),
		cmocka_unit_test(test_backend_new_failure),
		cmocka_unit_test(test_ns_add_and_poll_group_failure),
		cmocka_unit_test(test_destructors_accept_null),
		cmocka_unit_test(test_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
