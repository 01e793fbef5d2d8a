/* SPDX-License-Identifier: BSD-3-Clause */
/* The text form of fault rules (examples/fault_rules.c): every field, every refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <nvmft/backend.h>

#include "fault_rules.h"

#define B(t) FAULT_TYPE_BIT(NVMFT_IO_##t)

static struct fault_rules parse_ok(const char *spec)
{
	struct fault_rules r;
	char err[256] = "";
	int rc;

	fault_rules_init(&r);
	rc = fault_rules_parse(&r, spec, err, sizeof(err));
	if (rc != 0)
		fail_msg("'%s': %d %s", spec, rc, err);
	return r;
}

static void parse_bad(const char *spec, int want, const char *msg_part)
{
	struct fault_rules r, before;
	char err[256] = "";

	fault_rules_init(&r);
	assert_int_equal(fault_rules_parse(&r, "delay=read:1ms", NULL, 0), 0);
	before = r;
	assert_int_equal(fault_rules_parse(&r, spec, err, sizeof(err)), want);
	/* A failed parse leaves the set as it was. */
	assert_memory_equal(&r, &before, sizeof(r));
	if (strstr(err, msg_part) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", spec, err, msg_part);
}

static void test_brief_example(void **state)
{
	struct fault_rules r = parse_ok("fail=write:EIO@rate=0.01,delay=read:5ms");

	assert_int_equal(r.n, 2);
	assert_int_equal(r.seed, 1);
	assert_int_equal(r.rule[0].action, FAULT_FAIL);
	assert_int_equal(r.rule[0].types, B(WRITE));
	assert_int_equal(r.rule[0].err, -EIO);
	assert_true(r.rule[0].has_rate);
	assert_false(r.rule[0].rate_always);
	/* 0.01 of 2^64, within rounding. */
	assert_true(r.rule[0].rate > 184467440737095500ull && r.rule[0].rate < 184467440737095600ull);
	assert_false(r.rule[0].has_lba);
	assert_int_equal(r.rule[1].action, FAULT_DELAY);
	assert_int_equal(r.rule[1].types, B(READ));
	assert_int_equal(r.rule[1].ms, 5);
}

static void test_actions_and_defaults(void **state)
{
	struct fault_rules r = parse_ok("fail=flush,short=read+write:ENOSPC,hang=dsm,hang=wz:2s,"
					"delay=compare:250,seed=77");

	assert_int_equal(r.n, 5);
	assert_int_equal(r.seed, 77);
	assert_int_equal(r.rule[0].action, FAULT_FAIL);
	assert_int_equal(r.rule[0].err, -EIO); /* default errno */
	assert_int_equal(r.rule[0].types, B(FLUSH));
	assert_int_equal(r.rule[1].action, FAULT_SHORT);
	assert_int_equal(r.rule[1].types, B(READ) | B(WRITE));
	assert_int_equal(r.rule[1].err, -ENOSPC);
	assert_int_equal(r.rule[2].action, FAULT_HANG);
	assert_int_equal(r.rule[2].ms, 0); /* until released */
	assert_int_equal(r.rule[2].types, B(DEALLOCATE));
	assert_int_equal(r.rule[3].ms, 2000);
	assert_int_equal(r.rule[3].types, B(WRITE_ZEROES));
	assert_int_equal(r.rule[4].action, FAULT_DELAY);
	assert_int_equal(r.rule[4].ms, 250);
	assert_int_equal(r.rule[4].types, B(COMPARE));
}

static void test_types(void **state)
{
	struct fault_rules r = parse_ok("fail=any,fail=write-zeroes+deallocate,fail=READ+Write");

	assert_int_equal(r.rule[0].types, B(READ) | B(WRITE) | B(FLUSH) | B(WRITE_ZEROES) |
						  B(DEALLOCATE) | B(COMPARE));
	assert_int_equal(r.rule[1].types, B(WRITE_ZEROES) | B(DEALLOCATE));
	assert_int_equal(r.rule[2].types, B(READ) | B(WRITE));
}

static void test_errnos(void **state)
{
	static const struct {
		const char *text;
		int err;
	} cases[] = {
		{ "EIO", -EIO },	 { "eilseq", -EILSEQ },	      { "ENOSPC", -ENOSPC },
		{ "EROFS", -EROFS },	 { "EPERM", -EPERM },	      { "EACCES", -EACCES },
		{ "EAGAIN", -EAGAIN },	 { "EBUSY", -EBUSY },	      { "ENOMEM", -ENOMEM },
		{ "ENODEV", -ENODEV },	 { "ENXIO", -ENXIO },	      { "ERANGE", -ERANGE },
		{ "EFAULT", -EFAULT },	 { "EOPNOTSUPP", -EOPNOTSUPP },
		{ "ETIMEDOUT", -ETIMEDOUT }, { "ECANCELED", -ECANCELED },
		{ "EINVAL", -EINVAL },	 { "E2BIG", -E2BIG },	      { "5", -5 },
		{ "-28", -28 },		 { "4095", -4095 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char spec[64];
		struct fault_rules r;

		snprintf(spec, sizeof(spec), "fail=read:%s", cases[i].text);
		r = parse_ok(spec);
		assert_int_equal(r.rule[0].err, cases[i].err);
	}
	assert_string_equal(fault_errno_name(-EIO), "EIO");
	assert_string_equal(fault_errno_name(ENOSPC), "ENOSPC");
	assert_null(fault_errno_name(-4095));
}

static void test_conditions(void **state)
{
	struct fault_rules r = parse_ok("fail=write@lba=100-199@count=3,"
					"short=read:EIO@nth=7@after=20ms,"
					"hang=any@lba=50+10@rate=100%,"
					"fail=read@lba=9@rate=0,"
					"delay=write:1s@rate=50%");

	assert_true(r.rule[0].has_lba);
	assert_int_equal(r.rule[0].lba_first, 100);
	assert_int_equal(r.rule[0].lba_last, 199);
	assert_int_equal(r.rule[0].count, 3);
	assert_int_equal(r.rule[1].nth, 7);
	assert_int_equal(r.rule[1].ms, 20);
	assert_int_equal(r.rule[2].lba_first, 50);
	assert_int_equal(r.rule[2].lba_last, 59);
	assert_true(r.rule[2].rate_always);
	assert_int_equal(r.rule[3].lba_first, 9);
	assert_int_equal(r.rule[3].lba_last, 9);
	assert_true(r.rule[3].has_rate);
	assert_int_equal(r.rule[3].rate, 0);
	assert_int_equal(r.rule[4].ms, 1000);
	assert_int_equal(r.rule[4].rate, 1ull << 63);
}

static void test_empty(void **state)
{
	struct fault_rules r;

	fault_rules_init(&r);
	assert_int_equal(fault_rules_parse(&r, NULL, NULL, 0), 0);
	assert_int_equal(fault_rules_parse(&r, "", NULL, 0), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(fault_rules_parse(NULL, "fail=read", NULL, 0), -EINVAL);
}

static void test_refusals(void **state)
{
	parse_bad("fail", -EINVAL, "not a fault rule");
	parse_bad("bs=512", -EINVAL, "not a fault rule");
	parse_bad("fail=", -EINVAL, "not a request type");
	parse_bad("fail=reads", -EINVAL, "not a request type");
	parse_bad("fail=read+", -EINVAL, "not a request type");
	parse_bad("fail=read:EWHAT", -EINVAL, "not an errno");
	parse_bad("fail=read:0", -EINVAL, "not an errno");
	parse_bad("fail=read:4096", -EINVAL, "not an errno");
	parse_bad("delay=read", -EINVAL, "needs a duration");
	parse_bad("delay=read:0ms", -EINVAL, "needs a duration");
	parse_bad("delay=read:5min", -EINVAL, "needs a duration");
	parse_bad("delay=read:3600001", -EINVAL, "needs a duration");
	parse_bad("delay=read:3601s", -EINVAL, "needs a duration");
	parse_bad("hang=read:soon", -EINVAL, "not a duration");
	parse_bad("fail=read@rate=1.5", -EINVAL, "bad value");
	parse_bad("fail=read@rate=-0.1", -EINVAL, "bad value");
	parse_bad("fail=read@rate=nan", -EINVAL, "bad value");
	parse_bad("fail=read@rate=0.5x", -EINVAL, "bad value");
	parse_bad("fail=read@nth=0", -EINVAL, "bad value");
	parse_bad("fail=read@count=0", -EINVAL, "bad value");
	parse_bad("fail=read@count=-1", -EINVAL, "bad value");
	parse_bad("fail=read@lba=20-10", -EINVAL, "bad value");
	parse_bad("fail=read@lba=5+0", -EINVAL, "bad value");
	parse_bad("fail=read@lba=18446744073709551615+2", -EINVAL, "bad value");
	parse_bad("fail=read@lba=x", -EINVAL, "bad value");
	parse_bad("delay=read:5ms@after=5ms", -EINVAL, "only goes with fail and short");
	parse_bad("fail=read@when=now", -EINVAL, "unknown condition");
	parse_bad("fail=read@rate", -EINVAL, "needs a value");
	parse_bad("seed=x", -EINVAL, "seed must be a number");
	parse_bad("fail=read,fail=read,fail=read,fail=read,fail=read,fail=read,fail=read,fail=read,"
		  "fail=read,fail=read,fail=read,fail=read,fail=read,fail=read,fail=read,fail=read",
		  -ENOSPC, "more than 16");
}

static void test_is_item(void **state)
{
	assert_true(fault_rules_is_item("fail=read"));
	assert_true(fault_rules_is_item("short=write"));
	assert_true(fault_rules_is_item("delay=read:1ms"));
	assert_true(fault_rules_is_item("hang=any"));
	assert_true(fault_rules_is_item("seed=3"));
	assert_false(fault_rules_is_item("bs=4096"));
	assert_false(fault_rules_is_item("nsid=2"));
	assert_false(fault_rules_is_item("failure=read"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_brief_example), cmocka_unit_test(test_actions_and_defaults),
		cmocka_unit_test(test_types),	      cmocka_unit_test(test_errnos),
		cmocka_unit_test(test_conditions),    cmocka_unit_test(test_empty),
		cmocka_unit_test(test_refusals),      cmocka_unit_test(test_is_item),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
