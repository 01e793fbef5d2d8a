/* SPDX-License-Identifier: BSD-3-Clause */
/* Compile-time and run-time version checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <nvmft/nvmft.h>

static void test_version_string(void **state)
{
	char expect[32];

	(void)state;
	assert_non_null(nvmft_version());
	assert_string_equal(nvmft_version(), NVMFT_VERSION_STRING);
	/* The string and the three numbers describe the same release. */
	snprintf(expect, sizeof(expect), "%u.%u.%u", NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR,
		 NVMFT_VERSION_PATCH);
	assert_string_equal(nvmft_version(), expect);
	/* Static storage: the same pointer every time. */
	assert_ptr_equal(nvmft_version(), nvmft_version());
}

static void test_version_check(void **state)
{
	(void)state;
	assert_true(nvmft_version_check(NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR));
	assert_true(nvmft_version_check(NVMFT_VERSION_MAJOR, 0));
	assert_false(nvmft_version_check(NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR + 1));
	/* The major version must match exactly, in both directions. */
	assert_false(nvmft_version_check(NVMFT_VERSION_MAJOR + 1, 0));
	assert_false(nvmft_version_check(NVMFT_VERSION_MAJOR + 1, NVMFT_VERSION_MINOR));
	if (NVMFT_VERSION_MAJOR > 0)
		assert_false(nvmft_version_check(NVMFT_VERSION_MAJOR - 1, NVMFT_VERSION_MINOR));
	assert_false(nvmft_version_check(~0u, 0));
}

static void test_check_version_macro(void **state)
{
	(void)state;
	assert_true(NVMFT_CHECK_VERSION(NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR,
					NVMFT_VERSION_PATCH));
	assert_true(NVMFT_CHECK_VERSION(0, 0, 0));
	assert_false(NVMFT_CHECK_VERSION(NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR,
					 NVMFT_VERSION_PATCH + 1));
	assert_false(NVMFT_CHECK_VERSION(NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR + 1, 0));
	assert_false(NVMFT_CHECK_VERSION(NVMFT_VERSION_MAJOR + 1, 0, 0));
	if (NVMFT_VERSION_MINOR > 0)
		assert_true(NVMFT_CHECK_VERSION(NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR - 1, 999));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_string),
		cmocka_unit_test(test_version_check),
		cmocka_unit_test(test_check_version_macro),
	};

	return cmocka_run_group_tests_name("version", tests, NULL, NULL);
}
