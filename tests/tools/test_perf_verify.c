/* SPDX-License-Identifier: BSD-3-Clause */
/* nvmft-perf verification pattern: each kind of bad data is told apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perf.h"

#define BS 512
#define NB 8

static uint8_t buf[BS * NB];

static void test_roundtrip(void **state)
{
	struct perf_mismatch mm;

	(void)state;
	perf_pattern_fill(buf, BS, 1000, NB, 7);
	assert_int_equal(perf_pattern_check(buf, BS, 1000, NB, 7, &mm), PERF_VERIFY_OK);
	/* Sequence 0 accepts whatever sequence the blocks carry. */
	assert_int_equal(perf_pattern_check(buf, BS, 1000, NB, 0, &mm), PERF_VERIFY_OK);
	/* The header is readable as documented. */
	assert_memory_equal(buf, "NVMFTPRF", 8);
	assert_int_equal(buf[BS + 8], (1001 & 0xff));
	assert_int_equal(buf[16], 7);
}

static void test_unwritten(void **state)
{
	struct perf_mismatch mm;

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(perf_pattern_check(buf, BS, 0, NB, 0, &mm), PERF_VERIFY_MAGIC);
	assert_int_equal(mm.lba, 0);
	assert_int_equal(mm.offset, 0);
}

static void test_misdirected(void **state)
{
	struct perf_mismatch mm;

	(void)state;
	perf_pattern_fill(buf, BS, 2000, NB, 3);
	assert_int_equal(perf_pattern_check(buf, BS, 2008, NB, 3, &mm), PERF_VERIFY_LBA);
	assert_int_equal(mm.lba, 2008);
	assert_int_equal(mm.got_lba, 2000);
	assert_int_equal(mm.offset, 8);
}

static void test_stale(void **state)
{
	struct perf_mismatch mm;

	(void)state;
	perf_pattern_fill(buf, BS, 50, NB, 4);
	assert_int_equal(perf_pattern_check(buf, BS, 50, NB, 5, &mm), PERF_VERIFY_SEQ);
	assert_int_equal(mm.got_seq, 4);
	assert_int_equal(mm.want_seq, 5);
}

static void test_corrupt_body(void **state)
{
	struct perf_mismatch mm;

	(void)state;
	perf_pattern_fill(buf, BS, 77, NB, 9);
	buf[3 * BS + 300] ^= 0x10;
	assert_int_equal(perf_pattern_check(buf, BS, 77, NB, 9, &mm), PERF_VERIFY_DATA);
	assert_int_equal(mm.lba, 80);
	assert_int_equal(mm.offset, 300);
	/* A damaged sequence field is corruption, not staleness. */
	perf_pattern_fill(buf, BS, 77, NB, 9);
	buf[20] ^= 1;
	assert_int_equal(perf_pattern_check(buf, BS, 77, NB, 0, &mm), PERF_VERIFY_DATA);
	assert_int_equal(mm.offset, 16);
}

/* A block of another write (same LBA, other sequence) in the middle of an I/O. */
static void test_torn(void **state)
{
	static uint8_t other[BS];
	struct perf_mismatch mm;

	(void)state;
	perf_pattern_fill(buf, BS, 10, NB, 2);
	perf_pattern_fill(other, BS, 15, 1, 1);
	memcpy(buf + 5 * BS, other, BS);
	assert_int_equal(perf_pattern_check(buf, BS, 10, NB, 2, &mm), PERF_VERIFY_SEQ);
	assert_int_equal(mm.lba, 15);
	assert_int_equal(mm.got_seq, 1);
}

static void test_strings(void **state)
{
	(void)state;
	assert_string_equal(perf_verify_str(PERF_VERIFY_OK), "ok");
	assert_string_equal(perf_verify_str(PERF_VERIFY_LBA),
			    "pattern of another LBA (misdirected I/O)");
	assert_string_equal(perf_verify_str(99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_unwritten),
		cmocka_unit_test(test_misdirected),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_corrupt_body),
		cmocka_unit_test(test_torn),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
