/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The backend object: option defaults, validation of method tables and
 * geometry, the getters, the -EBUSY claim rule, and the shared helpers the
 * built-in backends use (request checks, iovec copies).
 */
#include <errno.h>
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <nvmft/nvmft.h>

#include "backends/backend.h"
#include "core/ns.h"
#include "core/req.h"

/* ---- a do-nothing application backend ----------------------------------- */

struct app {
	int destroyed;
};

static int app_open(void *ctx, void **chan)
{
	*chan = ctx;
	return 0;
}

static void app_close(void *ctx, void *chan)
{
	(void)ctx;
	(void)chan;
}

static int app_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	(void)ctx;
	(void)chan;
	nvmft_req_complete(req, 0);
	return 0;
}

static void app_destroy(void *ctx)
{
	((struct app *)ctx)->destroyed++;
}

static const struct nvmft_backend_ops app_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = app_open,
	.channel_close = app_close,
	.submit = app_submit,
	.destroy = app_destroy,
};

static void good_opts(struct nvmft_backend_opts *o)
{
	nvmft_backend_opts_init(o, sizeof(*o));
	o->name = "app0";
	o->block_size = 4096;
	o->num_blocks = 1000;
}

/* Expect @rc == -EINVAL from nvmft_backend_new and *ret untouched. */
static void expect_einval(const struct nvmft_backend_ops *ops, const struct nvmft_backend_opts *o)
{
	struct nvmft_backend *sentinel = (struct nvmft_backend *)(uintptr_t)0x5a5a;
	struct nvmft_backend *be = sentinel;

	assert_int_equal(nvmft_backend_new(ops, NULL, o, &be), -EINVAL);
	assert_ptr_equal(be, sentinel);
}

/* ---- options ------------------------------------------------------------ */

static void test_opts_init_defaults(void **state)
{
	struct nvmft_backend_opts o;

	(void)state;
	memset(&o, 0xa5, sizeof(o));
	nvmft_backend_opts_init(&o, sizeof(o));
	assert_int_equal(o.size, sizeof(o));
	assert_null(o.name);
	assert_int_equal(o.block_size, 512);
	assert_int_equal(o.num_blocks, 0);
	assert_int_equal(o.caps, 0);
	assert_int_equal(o.optimal_io_blocks, 0);
	for (size_t i = 0; i < sizeof(o.uuid); i++) {
		assert_int_equal(o.uuid[i], 0);
		assert_int_equal(o.nguid[i], 0);
	}
	for (size_t i = 0; i < sizeof(o.eui64); i++)
		assert_int_equal(o.eui64[i], 0);
}

static void test_opts_init_respects_size(void **state)
{
	unsigned char buf[sizeof(struct nvmft_backend_opts) + 8];
	struct nvmft_backend_opts *o = (struct nvmft_backend_opts *)(void *)buf;
	size_t old = offsetof(struct nvmft_backend_opts, block_size);

	(void)state;
	/* An old caller that knows only size and name: nothing past them is written. */
	memset(buf, 0xa5, sizeof(buf));
	nvmft_backend_opts_init(o, old);
	assert_int_equal(o->size, old);
	assert_null(o->name);
	for (size_t i = old; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xa5);

	/* Too small to hold even the size: untouched. */
	memset(buf, 0xa5, sizeof(buf));
	nvmft_backend_opts_init(o, 1);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xa5);
	nvmft_backend_opts_init(NULL, sizeof(*o));
}

/* ---- creation ----------------------------------------------------------- */

static void test_new_and_getters(void **state)
{
	struct nvmft_backend_opts o;
	struct nvmft_backend *be = NULL;
	struct app app = { 0 };
	char name[] = "app0";

	(void)state;
	good_opts(&o);
	o.name = name;
	o.caps = NVMFT_BACKEND_CAP_FLUSH | NVMFT_BACKEND_CAP_ZCOPY_READ | (1u << 30);
	o.uuid[0] = 0x11;
	o.nguid[15] = 0x22;
	o.eui64[7] = 0x33;
	o.optimal_io_blocks = 8;
	assert_int_equal(nvmft_backend_new(&app_ops, &app, &o, &be), 0);
	assert_non_null(be);
	/* The name is a copy. */
	name[0] = 'X';
	assert_string_equal(nvmft_backend_get_name(be), "app0");
	assert_string_equal(nvmft_backend_get_kind(be), "custom");
	assert_int_equal(nvmft_backend_get_block_size(be), 4096);
	assert_int_equal(nvmft_backend_get_num_blocks(be), 1000);
	/* Unknown capability bits are dropped. */
	assert_int_equal(nvmft_backend_get_caps(be),
			 NVMFT_BACKEND_CAP_FLUSH | NVMFT_BACKEND_CAP_ZCOPY_READ);
	assert_ptr_equal(nvmft_backend_get_ctx(be), &app);
	assert_null(nvmft_backend_get_ns(be));
	assert_int_equal(be->uuid[0], 0x11);
	assert_int_equal(be->nguid[15], 0x22);
	assert_int_equal(be->eui64[7], 0x33);
	assert_int_equal(be->optimal_io_blocks, 8);
	assert_ptr_equal(be->ops, &app_ops);
	assert_int_equal(nvmft_backend_free(be), 0);
	assert_int_equal(app.destroyed, 1);
}

static void test_getters_null(void **state)
{
	(void)state;
	assert_null(nvmft_backend_get_name(NULL));
	assert_null(nvmft_backend_get_kind(NULL));
	assert_null(nvmft_backend_get_ctx(NULL));
	assert_null(nvmft_backend_get_ns(NULL));
	assert_int_equal(nvmft_backend_get_block_size(NULL), 0);
	assert_int_equal(nvmft_backend_get_num_blocks(NULL), 0);
	assert_int_equal(nvmft_backend_get_caps(NULL), 0);
	nvmft_backend_notify_removed(NULL);
}

static void test_new_bad_ops(void **state)
{
	struct nvmft_backend_opts o;
	struct nvmft_backend_ops ops;
	struct nvmft_backend *be;

	(void)state;
	good_opts(&o);
	expect_einval(NULL, &o);

	ops = app_ops;
	ops.version = 0;
	expect_einval(&ops, &o);

	ops = app_ops;
	ops.channel_open = NULL;
	expect_einval(&ops, &o);

	ops = app_ops;
	ops.channel_close = NULL;
	expect_einval(&ops, &o);

	ops = app_ops;
	ops.submit = NULL;
	expect_einval(&ops, &o);

	/* A newer table is fine: only its version 1 members are used. */
	ops = app_ops;
	ops.version = 7;
	ops.destroy = NULL; /* optional */
	assert_int_equal(nvmft_backend_new(&ops, NULL, &o, &be), 0);
	assert_int_equal(nvmft_backend_free(be), 0);
}

static void test_new_bad_geometry(void **state)
{
	static const uint32_t bad_bs[] = { 0, 1, 256, 511, 513, 1000, 3072, 131072, 0x80000000u };
	static const uint32_t good_bs[] = { 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536 };
	struct nvmft_backend_opts o;
	struct nvmft_backend *be;
	struct app app = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad_bs) / sizeof(bad_bs[0]); i++) {
		good_opts(&o);
		o.block_size = bad_bs[i];
		expect_einval(&app_ops, &o);
	}
	for (size_t i = 0; i < sizeof(good_bs) / sizeof(good_bs[0]); i++) {
		good_opts(&o);
		o.block_size = good_bs[i];
		assert_int_equal(nvmft_backend_new(&app_ops, &app, &o, &be), 0);
		assert_int_equal(nvmft_backend_get_block_size(be), good_bs[i]);
		assert_int_equal(nvmft_backend_free(be), 0);
	}

	good_opts(&o);
	o.num_blocks = 0;
	expect_einval(&app_ops, &o);

	/* The byte size must fit in 64 bits. */
	good_opts(&o);
	o.block_size = 512;
	o.num_blocks = UINT64_MAX / 512 + 1;
	expect_einval(&app_ops, &o);
	o.num_blocks = UINT64_MAX / 512;
	assert_int_equal(nvmft_backend_new(&app_ops, &app, &o, &be), 0);
	assert_int_equal(nvmft_backend_get_num_blocks(be), UINT64_MAX / 512);
	assert_int_equal(nvmft_backend_free(be), 0);
	assert_int_equal(app.destroyed, 9);
}

static void test_new_bad_args(void **state)
{
	struct nvmft_backend_opts o;
	struct app app = { 0 };

	(void)state;
	good_opts(&o);
	o.name = NULL;
	expect_einval(&app_ops, &o);
	o.name = "";
	expect_einval(&app_ops, &o);

	expect_einval(&app_ops, NULL);

	good_opts(&o);
	assert_int_equal(nvmft_backend_new(&app_ops, &app, &o, NULL), -EINVAL);

	/* Too old to reach num_blocks. */
	good_opts(&o);
	o.size = offsetof(struct nvmft_backend_opts, num_blocks);
	expect_einval(&app_ops, &o);
	o.size = 0;
	expect_einval(&app_ops, &o);
	/* No destroy on a failed creation: the context stays the caller's. */
	assert_int_equal(app.destroyed, 0);
}

static void test_new_old_opts_size(void **state)
{
	struct nvmft_backend_opts o;
	struct nvmft_backend *be;
	struct app app = { 0 };

	(void)state;
	/* A caller built before caps existed: later members are ignored. */
	good_opts(&o);
	o.size = offsetof(struct nvmft_backend_opts, caps);
	o.caps = NVMFT_BACKEND_CAP_FLUSH;
	o.uuid[0] = 1;
	o.optimal_io_blocks = 4;
	assert_int_equal(nvmft_backend_new(&app_ops, &app, &o, &be), 0);
	assert_int_equal(nvmft_backend_get_caps(be), 0);
	assert_int_equal(be->uuid[0], 0);
	assert_int_equal(be->optimal_io_blocks, 0);
	assert_int_equal(nvmft_backend_free(be), 0);

	/* Up to uuid: caps and uuid are taken, nguid is not. */
	good_opts(&o);
	o.size = offsetof(struct nvmft_backend_opts, nguid);
	o.caps = NVMFT_BACKEND_CAP_FUA;
	o.uuid[3] = 9;
	o.nguid[3] = 9;
	assert_int_equal(nvmft_backend_new(&app_ops, &app, &o, &be), 0);
	assert_int_equal(nvmft_backend_get_caps(be), NVMFT_BACKEND_CAP_FUA);
	assert_int_equal(be->uuid[3], 9);
	assert_int_equal(be->nguid[3], 0);
	assert_int_equal(nvmft_backend_free(be), 0);
	assert_int_equal(app.destroyed, 2);
}

static void test_create_kind(void **state)
{
	struct nvmft_backend_opts o;
	struct nvmft_backend *be = NULL;
	struct app app = { 0 };

	(void)state;
	good_opts(&o);
	assert_int_equal(nvmft_backend_create(&app_ops, &app, &o, NULL, &be), -EINVAL);
	assert_null(be);
	assert_int_equal(nvmft_backend_create(&app_ops, &app, &o, "special", &be), 0);
	assert_string_equal(nvmft_backend_get_kind(be), "special");
	assert_int_equal(nvmft_backend_free(be), 0);
}

/* ---- claims ------------------------------------------------------------- */

static void test_free_busy(void **state)
{
	struct nvmft_backend_opts o;
	struct nvmft_backend *be;
	struct nvmft_ns ns;
	struct app app = { 0 };

	(void)state;
	assert_int_equal(nvmft_backend_free(NULL), 0);
	good_opts(&o);
	assert_int_equal(nvmft_backend_new(&app_ops, &app, &o, &be), 0);
	memset(&ns, 0, sizeof(ns));
	be->ns = &ns;
	assert_ptr_equal(nvmft_backend_get_ns(be), &ns);
	assert_int_equal(nvmft_backend_free(be), -EBUSY);
	assert_int_equal(app.destroyed, 0);
	/* Still intact. */
	assert_string_equal(nvmft_backend_get_name(be), "app0");
	be->ns = NULL;
	assert_int_equal(nvmft_backend_free(be), 0);
	assert_int_equal(app.destroyed, 1);
}

static void test_notify_removed_idle(void **state)
{
	struct nvmft_backend_opts o;
	struct nvmft_backend *be;
	struct nvmft_ns ns;

	(void)state;
	good_opts(&o);
	assert_int_equal(nvmft_backend_new(&app_ops, &(struct app){ 0 }, &o, &be), 0);
	/* Not attached: nothing to remove. */
	nvmft_backend_notify_removed(be);
	assert_null(be->ns);
	/* Attached to a namespace already on its way out: not removed twice. */
	memset(&ns, 0, sizeof(ns));
	ns.removing = true;
	ns.be = be;
	be->ns = &ns;
	nvmft_backend_notify_removed(be);
	assert_ptr_equal(be->ns, &ns);
	assert_true(ns.removing);
	be->ns = NULL;
	assert_int_equal(nvmft_backend_free(be), 0);
}

struct waiter {
	bool done;
	int status;
};

static void on_done(void *arg, int status)
{
	struct waiter *w = arg;

	w->done = true;
	w->status = status;
}

/* Drive the management side and one group until @cond holds; bounded. */
#define POLL_UNTIL(tgt, pg, cond)                                        \
	do {                                                             \
		for (int i_ = 0; i_ < 100000 && !(cond); i_++) {         \
			nvmft_target_poll(tgt);                          \
			nvmft_poll_group_poll(pg, 0);                    \
		}                                                        \
		assert_true(cond);                                       \
	} while (0)

static void test_notify_removed_attached(void **state)
{
	struct nvmft_subsystem_opts so;
	struct nvmft_subsystem *ss;
	struct nvmft_poll_group *pg;
	struct nvmft_target *tgt;
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	struct waiter added = { 0 };
	struct waiter stopped = { 0 };
	uint32_t nsid;

	(void)state;
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = "nqn.2024-01.io.libnvmft.test:backend";
	assert_int_equal(nvmft_subsystem_new(tgt, &so, &ss), 0);
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &pg), 0);
	assert_int_equal(nvmft_backend_malloc_new("gone", 64, 512, &be), 0);
	assert_int_equal(nvmft_ns_add(ss, be, NULL, on_done, &added, &ns), 0);
	POLL_UNTIL(tgt, pg, added.done);
	assert_int_equal(added.status, 0);
	nsid = nvmft_ns_get_nsid(ns);
	assert_ptr_equal(nvmft_backend_get_ns(be), ns);
	assert_int_equal(nvmft_backend_free(be), -EBUSY);

	/* The device went away: the namespace goes, twice told or not. */
	nvmft_backend_notify_removed(be);
	nvmft_backend_notify_removed(be);
	assert_null(nvmft_ns_find(ss, nsid));
	POLL_UNTIL(tgt, pg, nvmft_backend_get_ns(be) == NULL);
	assert_int_equal(nvmft_backend_free(be), 0);

	assert_int_equal(nvmft_poll_group_stop(pg, on_done, &stopped), 0);
	POLL_UNTIL(tgt, pg, stopped.done);
	assert_int_equal(nvmft_poll_group_free(pg), 0);
	nvmft_target_free(tgt);
}

/* ---- shared helpers ----------------------------------------------------- */

static void test_geometry_ok(void **state)
{
	(void)state;
	assert_true(nvmft_backend_geometry_ok(512, 1));
	assert_true(nvmft_backend_geometry_ok(65536, UINT64_MAX / 65536));
	assert_false(nvmft_backend_geometry_ok(65536, UINT64_MAX / 65536 + 1));
	assert_false(nvmft_backend_geometry_ok(512, 0));
	assert_false(nvmft_backend_geometry_ok(768, 1));
	assert_false(nvmft_backend_geometry_ok(256, 1));
	assert_false(nvmft_backend_geometry_ok(131072, 1));
}

static void test_range_ok(void **state)
{
	(void)state;
	assert_true(nvmft_backend_range_ok(0, 10, 10));
	assert_true(nvmft_backend_range_ok(9, 1, 10));
	assert_true(nvmft_backend_range_ok(10, 0, 10));
	assert_false(nvmft_backend_range_ok(9, 2, 10));
	assert_false(nvmft_backend_range_ok(11, 0, 10));
	/* slba + nlb wraps around: still rejected. */
	assert_false(nvmft_backend_range_ok(2, UINT64_MAX, 10));
	assert_false(nvmft_backend_range_ok(UINT64_MAX, 2, 10));
}

static void init_req(struct nvmft_req *req, enum nvmft_io_type t, uint64_t slba, uint64_t nlb)
{
	memset(req, 0, sizeof(*req));
	req->io_type = (uint8_t)t;
	req->slba = slba;
	req->nlb = nlb;
}

static void test_check_req(void **state)
{
	struct nvme_dsm_range r[3];
	struct nvmft_req req;

	(void)state;
	init_req(&req, NVMFT_IO_READ, 0, 100);
	assert_int_equal(nvmft_be_check_req(&req, 100), 0);
	init_req(&req, NVMFT_IO_WRITE, 99, 1);
	assert_int_equal(nvmft_be_check_req(&req, 100), 0);
	init_req(&req, NVMFT_IO_WRITE, 99, 2);
	assert_int_equal(nvmft_be_check_req(&req, 100), -ERANGE);
	init_req(&req, NVMFT_IO_COMPARE, UINT64_MAX, 2);
	assert_int_equal(nvmft_be_check_req(&req, 100), -ERANGE);
	init_req(&req, NVMFT_IO_WRITE_ZEROES, 5, 0);
	assert_int_equal(nvmft_be_check_req(&req, 100), -EINVAL);
	/* Flush names no blocks. */
	init_req(&req, NVMFT_IO_FLUSH, UINT64_MAX, UINT64_MAX);
	assert_int_equal(nvmft_be_check_req(&req, 100), 0);

	memset(r, 0, sizeof(r));
	r[0].slba = htole64(0);
	r[0].nlb = htole32(10);
	r[1].slba = htole64(500); /* empty: allowed anywhere inside */
	r[1].nlb = htole32(0);
	r[2].slba = htole64(90);
	r[2].nlb = htole32(10);
	init_req(&req, NVMFT_IO_DEALLOCATE, 0, 0);
	req.ranges = r;
	req.nr_ranges = 3;
	assert_int_equal(nvmft_be_check_req(&req, 1000), 0);
	assert_int_equal(nvmft_be_check_req(&req, 100), -ERANGE);
	r[1].slba = htole64(0);
	assert_int_equal(nvmft_be_check_req(&req, 100), 0);
	r[2].nlb = htole32(11);
	assert_int_equal(nvmft_be_check_req(&req, 100), -ERANGE);
	/* A count without the ranges behind it. */
	req.ranges = NULL;
	assert_int_equal(nvmft_be_check_req(&req, 100), -EINVAL);
}

static void test_iov_helpers(void **state)
{
	uint8_t a[3], b[5], c[4], flat[12], out[12];
	struct iovec iov[3] = {
		{ .iov_base = a, .iov_len = sizeof(a) },
		{ .iov_base = b, .iov_len = sizeof(b) },
		{ .iov_base = c, .iov_len = sizeof(c) },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(flat); i++)
		flat[i] = (uint8_t)(i + 1);
	assert_int_equal(nvmft_be_iov_len(iov, 3), 12);
	assert_int_equal(nvmft_be_iov_len(NULL, 0), 0);

	assert_int_equal(nvmft_be_iov_copy_to(iov, 3, 0, flat, 12), 12);
	assert_int_equal(a[0], 1);
	assert_int_equal(b[0], 4);
	assert_int_equal(c[3], 12);
	assert_true(nvmft_be_iov_equal(iov, 3, flat, 12));
	assert_true(nvmft_be_iov_equal(iov, 3, flat, 5));

	/* From an offset inside the second entry, across into the third. */
	memset(out, 0, sizeof(out));
	assert_int_equal(nvmft_be_iov_copy_from(iov, 3, 4, out, 6), 6);
	assert_memory_equal(out, flat + 4, 6);
	/* Clipped at the end of the array. */
	assert_int_equal(nvmft_be_iov_copy_from(iov, 3, 10, out, 6), 2);
	assert_int_equal(out[0], 11);
	assert_int_equal(nvmft_be_iov_copy_to(iov, 3, 12, flat, 1), 0);

	out[0] = 0xee;
	assert_int_equal(nvmft_be_iov_copy_to(iov, 3, 2, out, 1), 1);
	assert_int_equal(a[2], 0xee);
	assert_false(nvmft_be_iov_equal(iov, 3, flat, 12));
	a[2] = 3;

	/* Zero from the middle of the first entry on. */
	nvmft_be_iov_zero(iov, 3, 2);
	assert_int_equal(a[0], 1);
	assert_int_equal(a[1], 2);
	assert_int_equal(a[2], 0);
	assert_int_equal(b[4], 0);
	assert_int_equal(c[3], 0);
	assert_false(nvmft_be_iov_equal(iov, 3, NULL, 12));
	a[0] = a[1] = 0;
	assert_true(nvmft_be_iov_equal(iov, 3, NULL, 12));
	/* More than the array holds is never equal. */
	assert_false(nvmft_be_iov_equal(iov, 3, NULL, 13));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_init_defaults),
		cmocka_unit_test(test_opts_init_respects_size),
		cmocka_unit_test(test_new_and_getters),
		cmocka_unit_test(test_getters_null),
		cmocka_unit_test(test_new_bad_ops),
		cmocka_unit_test(test_new_bad_geometry),
		cmocka_unit_test(test_new_bad_args),
		cmocka_unit_test(test_new_old_opts_size),
		cmocka_unit_test(test_create_kind),
		cmocka_unit_test(test_free_busy),
		cmocka_unit_test(test_notify_removed_idle),
		cmocka_unit_test(test_notify_removed_attached),
		cmocka_unit_test(test_geometry_ok),
		cmocka_unit_test(test_range_ok),
		cmocka_unit_test(test_check_req),
		cmocka_unit_test(test_iov_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
