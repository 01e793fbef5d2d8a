/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/core/nqn.c: NQN validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/nqn.h"
#include "spec/spec.h"

struct nqn_case {
	const char *nqn;
	bool valid;
	const char *why;
};

static const struct nqn_case cases[] = {
	/* Valid names. */
	{ "nqn.2014-08.org.nvmexpress.discovery", true, "discovery NQN" },
	{ "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555", true, "uuid form" },
	{ "nqn.2014-08.org.nvmexpress:uuid:ABCDEF01-abcd-ABCD-0123-456789abcdef", true, "uuid mixed case" },
	{ "nqn.2016-06.io.spdk:cnode1", true, "SPDK style" },
	{ "nqn.2014-08.com.vmware:nvme:host-1", true, "colons in the user part" },
	{ "nqn.2014-08.org.nvmexpress:NVMf:uuid:1234", true, "old nvme-cli host NQN" },
	{ "nqn.1999-12.x", true, "single one-letter label" },
	{ "nqn.2023-01.com.example", true, "no user part" },
	{ "nqn.2023-01.com.ex-ample.a1:x", true, "hyphen inside a label" },
	{ "nqn.2023-01.com.example:caf\xc3\xa9", true, "2-byte UTF-8" },
	{ "nqn.2023-01.com.example:\xe2\x82\xac", true, "3-byte UTF-8 (euro sign)" },
	{ "nqn.2023-01.com.example:\xf0\x9f\x98\x80", true, "4-byte UTF-8 (emoji)" },
	{ "nqn.2023-01.com.example:\xf4\x8f\xbf\xbf", true, "U+10FFFF" },
	{ "nqn.2023-01.com.example:a b", true, "space in the user part" },
	{ "nqn.2023-12.com.example:x", true, "December" },
	/* Invalid names. */
	{ "", false, "empty" },
	{ "nqn", false, "prefix only" },
	{ "nqn.", false, "no date" },
	{ "iqn.2014-08.com.example:x", false, "wrong prefix" },
	{ "NQN.2014-08.com.example:x", false, "upper-case prefix" },
	{ "nqn.14-08.com.example:x", false, "two-digit year" },
	{ "nqn.2014-8.com.example:x", false, "one-digit month" },
	{ "nqn.2014-00.com.example:x", false, "month 00" },
	{ "nqn.2014-13.com.example:x", false, "month 13" },
	{ "nqn.2014_08.com.example:x", false, "underscore in the date" },
	{ "nqn.2014-08com.example:x", false, "no dot after the date" },
	{ "nqn.2014-08.:x", false, "empty domain" },
	{ "nqn.2014-08.", false, "nothing after the date" },
	{ "nqn.2014-08.com..example:x", false, "empty label" },
	{ "nqn.2014-08..com:x", false, "leading dot" },
	{ "nqn.2014-08.com.example.:x", false, "trailing dot" },
	{ "nqn.2014-08.-com.example:x", false, "label starts with a hyphen" },
	{ "nqn.2014-08.com-.example:x", false, "label ends with a hyphen" },
	{ "nqn.2014-08.com.example-:x", false, "last label ends with a hyphen" },
	{ "nqn.2014-08.com.exa_mple:x", false, "underscore in the domain" },
	{ "nqn.2014-08.com.example:", false, "empty user part" },
	{ "nqn.2014-08.org.nvmexpress:uuid:", false, "uuid form without uuid" },
	{ "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-55555555555", false, "uuid too short" },
	{ "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-5555555555555", false, "uuid too long" },
	{ "nqn.2014-08.org.nvmexpress:uuid:11111111x2222-3333-4444-555555555555", false, "uuid separator" },
	{ "nqn.2014-08.org.nvmexpress:uuid:1111111g-2222-3333-4444-555555555555", false, "uuid non-hex" },
	{ "nqn.2023-01.com.example:\x80", false, "stray continuation byte" },
	{ "nqn.2023-01.com.example:\xc3", false, "truncated 2-byte sequence" },
	{ "nqn.2023-01.com.example:\xe2\x82", false, "truncated 3-byte sequence" },
	{ "nqn.2023-01.com.example:\xc0\xaf", false, "overlong '/'" },
	{ "nqn.2023-01.com.example:\xe0\x80\xaf", false, "overlong 3-byte" },
	{ "nqn.2023-01.com.example:\xf0\x80\x80\xaf", false, "overlong 4-byte" },
	{ "nqn.2023-01.com.example:\xed\xa0\x80", false, "UTF-16 surrogate" },
	{ "nqn.2023-01.com.example:\xf4\x90\x80\x80", false, "above U+10FFFF" },
	{ "nqn.2023-01.com.example:\xff", false, "byte FF" },
	{ "nqn.2023-01.com.example:\xc3\x28", false, "bad continuation" },
	{ "nqn.2023-01.com.ex\xc3\xa9mple:x", false, "non-ASCII in the domain" },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = nvmft_nqn_valid(cases[i].nqn, strlen(cases[i].nqn) + 1);

		if (got != cases[i].valid)
			fail_msg("case %zu (%s): \"%s\" expected %s", i, cases[i].why, cases[i].nqn,
				 cases[i].valid ? "valid" : "invalid");
	}
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 30);
}

/* A name of exactly @n bytes: the discovery-style prefix then 'a' padding. */
static void make_len(char *buf, size_t n)
{
	const char *p = "nqn.2014-08.com.example:";
	size_t pl = strlen(p);

	memcpy(buf, p, pl);
	memset(buf + pl, 'a', n - pl);
	buf[n] = '\0';
}

static void test_length_edges(void **state)
{
	char buf[300];

	(void)state;
	make_len(buf, 223);
	assert_true(nvmft_nqn_valid(buf, sizeof(buf)));
	assert_true(nvmft_nqn_valid(buf, 224)); /* NUL is the last byte of the buffer */
	assert_false(nvmft_nqn_valid(buf, 223)); /* NUL outside the buffer */
	make_len(buf, 224);
	assert_false(nvmft_nqn_valid(buf, sizeof(buf)));
	make_len(buf, 256);
	assert_false(nvmft_nqn_valid(buf, sizeof(buf)));
}

/* 223 bytes counted in bytes, not characters: a multi-byte tail may not push it over. */
static void test_length_utf8_bytes(void **state)
{
	char buf[300];

	(void)state;
	make_len(buf, 221);
	memcpy(buf + 221, "\xc3\xa9", 3); /* 223 bytes + NUL */
	assert_int_equal(strlen(buf), 223);
	assert_true(nvmft_nqn_valid(buf, sizeof(buf)));
	make_len(buf, 222);
	memcpy(buf + 222, "\xc3\xa9", 3); /* 224 bytes */
	assert_false(nvmft_nqn_valid(buf, sizeof(buf)));
}

static void test_buffer_bound(void **state)
{
	const char nqn[] = "nqn.2014-08.org.nvmexpress.discovery";
	char unterminated[sizeof(nqn) - 1];

	(void)state;
	memcpy(unterminated, nqn, sizeof(unterminated));
	assert_false(nvmft_nqn_valid(unterminated, sizeof(unterminated)));
	assert_false(nvmft_nqn_valid(nqn, 0));
	assert_false(nvmft_nqn_valid(NULL, 16));
	assert_true(nvmft_nqn_valid(nqn, sizeof(nqn)));
	/* The scan must stop at the bound even when the bytes after it would end the name. */
	assert_false(nvmft_nqn_valid(nqn, 10));
}

static void test_label_length(void **state)
{
	char buf[128];

	(void)state;
	strcpy(buf, "nqn.2014-08.com.");
	memset(buf + strlen(buf), 'b', 63);
	strcpy(buf + 16 + 63, ":x");
	assert_true(nvmft_nqn_valid(buf, sizeof(buf)));
	strcpy(buf, "nqn.2014-08.com.");
	memset(buf + strlen(buf), 'b', 64);
	strcpy(buf + 16 + 64, ":x");
	assert_false(nvmft_nqn_valid(buf, sizeof(buf)));
}

static void test_embedded_nul(void **state)
{
	const char nqn[] = "nqn.2014-08.com.example:ab\0cd";

	(void)state;
	/* Only the bytes before the first NUL are the name. */
	assert_true(nvmft_nqn_valid(nqn, sizeof(nqn)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_length_edges),
		cmocka_unit_test(test_length_utf8_bytes),
		cmocka_unit_test(test_buffer_bound),
		cmocka_unit_test(test_label_length),
		cmocka_unit_test(test_embedded_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
