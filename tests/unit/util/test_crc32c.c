/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t crc, const void *buf, size_t len);

/* Bit-at-a-time reference: slow, but obviously the CRC-32C definition. */
static uint32_t ref_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len-- > 0) {
		crc ^= *p++;
		for (int i = 0; i < 8; i++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

/* Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed | 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)(x >> 24);
	}
}

/* Every implementation this machine can run, the dispatcher first. */
static int impls(crc_fn *fns)
{
	unsigned int caps = nvmft_crc32c_hw_caps();
	int n = 0;

	fns[n++] = nvmft_crc32c;
	fns[n++] = nvmft_crc32c_sw;
	if (caps & NVMFT_CRC32C_HW_SSE42)
		fns[n++] = nvmft_crc32c_sse42;
	if ((caps & NVMFT_CRC32C_HW_SSE42) && (caps & NVMFT_CRC32C_HW_PCLMUL))
		fns[n++] = nvmft_crc32c_sse42_3way;
	return n;
}

static void test_check_values(void **state)
{
	uint8_t buf[32];
	crc_fn fns[4];
	int n = impls(fns);

	(void)state;
	for (int i = 0; i < n; i++) {
		assert_int_equal(fns[i](0, "123456789", 9), 0xe3069283u);
		assert_int_equal(fns[i](0, "", 0), 0);
		assert_int_equal(fns[i](0x12345678, "", 0), 0x12345678);
		/* RFC 3720 appendix B.4 vectors. */
		memset(buf, 0, sizeof(buf));
		assert_int_equal(fns[i](0, buf, 32), 0x8a9136aau);
		memset(buf, 0xff, sizeof(buf));
		assert_int_equal(fns[i](0, buf, 32), 0x62a8ab43u);
		for (int j = 0; j < 32; j++)
			buf[j] = (uint8_t)j;
		assert_int_equal(fns[i](0, buf, 32), 0x46dd794eu);
		for (int j = 0; j < 32; j++)
			buf[j] = (uint8_t)(31 - j);
		assert_int_equal(fns[i](0, buf, 32), 0x113fdb5cu);
	}
}

/* Every table entry is exercised by a one-byte CRC and by eight-byte words. */
static void test_table_entries(void **state)
{
	crc_fn fns[4];
	int n = impls(fns);

	(void)state;
	for (int i = 0; i < n; i++) {
		for (unsigned int b = 0; b < 256; b++) {
			uint8_t word[8] = { 0 };
			uint8_t byte = (uint8_t)b;

			assert_int_equal(fns[i](0, &byte, 1), ref_crc32c(0, &byte, 1));
			for (int pos = 0; pos < 8; pos++) {
				memset(word, 0, sizeof(word));
				word[pos] = (uint8_t)b;
				assert_int_equal(fns[i](0, word, 8), ref_crc32c(0, word, 8));
				assert_int_equal(fns[i](0xdeadbeef, word, 8),
						 ref_crc32c(0xdeadbeef, word, 8));
			}
		}
	}
}

/* Lengths around every internal boundary: words, short and long stripes. */
static const size_t edge_lens[] = {
	0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 383, 384, 385, 391, 392, 767, 768, 769, 1151,
	3071, 3072, 3073, 3072 + 384, 3072 + 383, 6144 + 768 + 7, 9216, 65536, 131072 + 13,
};

static void test_impls_agree(void **state)
{
	const size_t max = 131072 + 64;
	uint8_t *buf = malloc(max);
	crc_fn fns[4];
	int n = impls(fns);

	(void)state;
	assert_non_null(buf);
	fill_random(buf, max, 42);
	for (size_t l = 0; l < sizeof(edge_lens) / sizeof(edge_lens[0]); l++) {
		for (size_t align = 0; align < 8; align++) {
			uint32_t want = ref_crc32c(0x5a5a5a5a, buf + align, edge_lens[l]);

			for (int i = 0; i < n; i++)
				assert_int_equal(fns[i](0x5a5a5a5a, buf + align, edge_lens[l]),
						 want);
		}
	}
	/* Every length up to a few stripes, at a rotating alignment. */
	for (size_t len = 0; len <= 2400; len++) {
		size_t align = len % 13;
		uint32_t want = ref_crc32c(0, buf + align, len);

		for (int i = 0; i < n; i++)
			assert_int_equal(fns[i](0, buf + align, len), want);
	}
	free(buf);
}

static void test_random_buffers(void **state)
{
	uint8_t *buf = malloc(40000);
	crc_fn fns[4];
	int n = impls(fns);
	uint64_t x = 7;

	(void)state;
	assert_non_null(buf);
	for (int round = 0; round < 300; round++) {
		size_t len, align;
		uint32_t seed, want;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		len = (size_t)(x >> 33) % 32768;
		align = (size_t)(x >> 20) % 64;
		seed = (uint32_t)x;
		fill_random(buf, len + align, x);
		want = nvmft_crc32c_sw(seed, buf + align, len);
		for (int i = 0; i < n; i++)
			assert_int_equal(fns[i](seed, buf + align, len), want);
		if (round % 30 == 0)
			assert_int_equal(ref_crc32c(seed, buf + align, len), want);
	}
	free(buf);
}

static void test_chaining(void **state)
{
	uint8_t buf[5000];
	uint32_t whole;

	(void)state;
	fill_random(buf, sizeof(buf), 99);
	whole = nvmft_crc32c(0, buf, sizeof(buf));
	for (size_t split = 0; split <= sizeof(buf); split += 97) {
		uint32_t c = nvmft_crc32c(0, buf, split);

		assert_int_equal(nvmft_crc32c(c, buf + split, sizeof(buf) - split), whole);
	}
}

static void test_iov_matches_flat(void **state)
{
	uint8_t buf[12000];
	struct iovec iov[16];
	uint64_t x = 3;

	(void)state;
	fill_random(buf, sizeof(buf), 5);
	for (int round = 0; round < 200; round++) {
		size_t pos = 0, off, len;
		int cnt = 0;

		while (pos < sizeof(buf) && cnt < 16) {
			size_t n;

			x = x * 6364136223846793005ull + 1442695040888963407ull;
			n = (size_t)(x >> 40) % 2000;
			if (cnt == 15 || n > sizeof(buf) - pos)
				n = sizeof(buf) - pos;
			iov[cnt].iov_base = buf + pos;
			iov[cnt].iov_len = n;
			pos += n;
			cnt++;
		}
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		off = (size_t)(x >> 33) % sizeof(buf);
		len = (size_t)(x >> 13) % (sizeof(buf) - off + 1);
		assert_int_equal(nvmft_crc32c_iov(1, iov, cnt, off, len),
				 nvmft_crc32c(1, buf + off, len));
		assert_int_equal(nvmft_crc32c_iov(0, iov, cnt, 0, sizeof(buf)),
				 nvmft_crc32c(0, buf, sizeof(buf)));
	}
}

static void test_iov_clipped(void **state)
{
	uint8_t a[10], b[20];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	uint8_t flat[30];

	(void)state;
	fill_random(a, sizeof(a), 1);
	fill_random(b, sizeof(b), 2);
	memcpy(flat, a, sizeof(a));
	memcpy(flat + sizeof(a), b, sizeof(b));
	/* A length past the end stops at the end. */
	assert_int_equal(nvmft_crc32c_iov(0, iov, 2, 4, 1000), nvmft_crc32c(0, flat + 4, 26));
	/* An offset past the end covers nothing. */
	assert_int_equal(nvmft_crc32c_iov(0x77, iov, 2, 30, 5), 0x77);
	assert_int_equal(nvmft_crc32c_iov(0x77, iov, 0, 0, 5), 0x77);
	/* Zero-length entries are skipped. */
	iov[0].iov_len = 0;
	assert_int_equal(nvmft_crc32c_iov(0, iov, 2, 0, 20), nvmft_crc32c(0, b, 20));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_values),
		cmocka_unit_test(test_table_entries),
		cmocka_unit_test(test_impls_agree),
		cmocka_unit_test(test_random_buffers),
		cmocka_unit_test(test_chaining),
		cmocka_unit_test(test_iov_matches_flat),
		cmocka_unit_test(test_iov_clipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
