/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft-tgt's --ns fault:INNER:SIZE[,options][,rules]: what lands in the
 * plan, and the exact message of every refusal.  Parsing only: no target.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "plan.h"

#define ERRLEN 1024

struct fx {
	struct plan plan;
	struct cli cli;
	char err[ERRLEN];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	plan_init(&f->plan);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	plan_free(&f->plan);
	cli_free(&f->cli);
	free(f);
	return 0;
}

/* nvmft-tgt -l tcp:127.0.0.1:4420 ARGS..., as main() parses it. */
static int run(struct fx *f, const char *const *args)
{
	char *argv[16] = { "nvmft-tgt", "-l", "tcp:127.0.0.1:4420" };
	int argc = 3, rc;

	for (size_t i = 0; args[i] != NULL; i++)
		argv[argc++] = (char *)args[i];
	plan_free(&f->plan);
	plan_init(&f->plan);
	cli_free(&f->cli);
	f->err[0] = '\0';
	rc = cli_parse(argc, argv, &f->cli, f->err, ERRLEN);
	if (rc == 0)
		rc = cli_to_plan(&f->cli, &f->plan, f->err, ERRLEN);
	if (rc == 0)
		rc = plan_validate(&f->plan, f->err, ERRLEN);
	return rc;
}

static void test_brief_example(void **state)
{
	struct fx *f = *state;
	const char *args[] = { "--ns", "fault:ram:64M,fail=write:EIO@rate=0.01,delay=read:5ms",
			       NULL };
	const struct plan_bdev *b;

	assert_int_equal(run(f, args), 0);
	assert_int_equal(f->plan.n_bdevs, 1);
	b = &f->plan.bdevs[0];
	assert_int_equal(b->kind, PLAN_BDEV_RAM);
	assert_int_equal(b->block_size, 512);
	assert_int_equal(b->num_blocks, 64u << 11);
	assert_string_equal(b->name, "fault0");
	assert_string_equal(b->fault_rules, "fail=write:EIO@rate=0.01,delay=read:5ms");
	assert_int_equal(f->plan.n_ns, 1);
	assert_string_equal(f->plan.ns[0].bdev_name, "fault0");
}

/* Namespace options and rules mix in any order; rules keep theirs. */
static void test_mixed_options(void **state)
{
	struct fx *f = *state;
	const char *args[] = { "--ns",
			       "fault:null:1M,hang=write,bs=4096,nsid=3,seed=7,short=read,name=flaky",
			       "--ns", "fault:ram:2M", "--ns", "ram:1M", NULL };
	const struct plan_bdev *b;

	assert_int_equal(run(f, args), 0);
	assert_int_equal(f->plan.n_bdevs, 3);
	b = &f->plan.bdevs[0];
	assert_int_equal(b->kind, PLAN_BDEV_NULL);
	assert_int_equal(b->block_size, 4096);
	assert_int_equal(b->num_blocks, 256);
	assert_string_equal(b->name, "flaky");
	assert_string_equal(b->fault_rules, "hang=write,seed=7,short=read");
	assert_int_equal(f->plan.ns[0].nsid, 3);
	b = &f->plan.bdevs[1];
	assert_int_equal(b->kind, PLAN_BDEV_RAM);
	assert_string_equal(b->name, "fault0");
	assert_string_equal(b->fault_rules, "");
	/* A plain namespace is not a fault bdev. */
	assert_null(f->plan.bdevs[2].fault_rules);
}

static const struct {
	const char *arg;
	const char *msg;
} errors[] = {
	{ "fault:file:/tmp/x",
	  "--ns fault:file:/tmp/x: expected fault:ram:SIZE or fault:null:SIZE" },
	{ "fault:ram", "--ns fault:ram: expected fault:ram:SIZE or fault:null:SIZE" },
	{ "fault:ram:1M,fail=bogus",
	  "--ns fault:ram:1M,fail=bogus: fail=bogus: 'bogus' is not a request type (read, write, "
	  "flush, wz, dsm, compare, any, joined with +)" },
	{ "fault:ram:1M,delay=read",
	  "--ns fault:ram:1M,delay=read: delay=read: delay needs a duration (e.g. 5ms, 1s)" },
	{ "fault:ram:1M,fail=read@rate=2",
	  "--ns fault:ram:1M,fail=read@rate=2: fail=read@rate=2: bad value '2' for rate=" },
	{ "fault:ram:1M,foo=1",
	  "--ns fault:ram:1M,foo=1: unknown option 'foo=1' (bs=, nsid=, uuid=, name=, fail=, "
	  "short=, delay=, hang=, seed=)" },
	{ "ram:1M,fail=read",
	  "--ns ram:1M,fail=read: unknown option 'fail=read' (bs=, nsid=, uuid=, name=)" },
	{ "fault:ram:1000,fail=read",
	  "--ns fault:ram:1000,fail=read: size must be a positive multiple of the block size 512 "
	  "(K/M/G/T suffixes allowed)" },
};

static void test_errors(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		const char *args[] = { "--ns", errors[i].arg, NULL };

		print_message("# case %zu: %s\n", i, errors[i].arg);
		assert_int_equal(run(f, args), -EINVAL);
		assert_string_equal(f->err, errors[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_brief_example, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mixed_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
