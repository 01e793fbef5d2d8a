/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft_nqn_valid() on arbitrary bytes, checked against a reference written
 * here from the rules in lib/core/nqn.h, in a different shape (RFC 3629's
 * byte-range table for UTF-8, split-and-check for the domain).
 *
 * Input: byte 0 picks a prefix to put in front (so mutations start from
 * plausible names) and how the buffer length is chosen; the rest is the
 * name.  The buffer handed to the library is a heap block of exactly the
 * length it is told, so any read past it is caught.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/nqn.h"
#include "fuzz_common.h"

#define REF_MAX_LEN 223
#define REF_UUID_PREFIX "nqn.2014-08.org.nvmexpress:uuid:"

static const char *const prefixes[] = {
	"",
	"nqn.",
	REF_UUID_PREFIX,
	"nqn.2014-08.org.nvmexpress.discovery",
	"nqn.2024-01.io.nvmft:",
	"nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-5555555555",
	"nqn.1999-12.a",
	"nqn.2016-06.io.spdk:cnode",
};

/* RFC 3629, section 4: the legal byte ranges of each UTF-8 sequence. */
static size_t ref_utf8_seq(const uint8_t *s, size_t n)
{
	static const struct {
		uint8_t lo0, hi0, lo1, hi1;
		size_t len;
	} t[] = {
		{ 0x00, 0x7f, 0, 0, 1 },
		{ 0xc2, 0xdf, 0x80, 0xbf, 2 },
		{ 0xe0, 0xe0, 0xa0, 0xbf, 3 },
		{ 0xe1, 0xec, 0x80, 0xbf, 3 },
		{ 0xed, 0xed, 0x80, 0x9f, 3 },
		{ 0xee, 0xef, 0x80, 0xbf, 3 },
		{ 0xf0, 0xf0, 0x90, 0xbf, 4 },
		{ 0xf1, 0xf3, 0x80, 0xbf, 4 },
		{ 0xf4, 0xf4, 0x80, 0x8f, 4 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (s[0] < t[i].lo0 || s[0] > t[i].hi0)
			continue;
		if (t[i].len > n)
			return 0;
		if (t[i].len == 1)
			return 1;
		if (s[1] < t[i].lo1 || s[1] > t[i].hi1)
			return 0;
		for (size_t k = 2; k < t[i].len; k++)
			if (s[k] < 0x80 || s[k] > 0xbf)
				return 0;
		return t[i].len;
	}
	return 0;
}

static bool ref_utf8(const uint8_t *s, size_t n)
{
	while (n > 0) {
		size_t k = ref_utf8_seq(s, n);

		if (k == 0)
			return false;
		s += k;
		n -= k;
	}
	return true;
}

static bool ref_hex(char c)
{
	return strchr("0123456789abcdefABCDEF", c) != NULL && c != '\0';
}

static bool ref_uuid(const char *s, size_t n)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (n != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (shape[i] == '-' ? s[i] != '-' : !ref_hex(s[i]))
			return false;
	return true;
}

static bool ref_label(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

/* "yyyy-mm.domain[:rest]" after "nqn." */
static bool ref_general(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t dom_end = colon ? (size_t)(colon - s) : n;
	size_t start;

	if (n < 8)
		return false;
	for (int i = 0; i < 4; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	if (s[4] != '-' || s[7] != '.')
		return false;
	if (!((s[5] == '0' && s[6] >= '1' && s[6] <= '9') ||
	      (s[5] == '1' && s[6] >= '0' && s[6] <= '2')))
		return false;
	if (colon != NULL && (size_t)(colon - s) < 8)
		return false;
	start = 8;
	if (dom_end <= start)
		return false;
	/* Labels separated by dots; every one well formed. */
	for (size_t i = start; i <= dom_end; i++) {
		if (i == dom_end || s[i] == '.') {
			if (!ref_label(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	/* The authority's string, when present, is not empty. */
	return colon == NULL || dom_end + 1 < n;
}

static bool ref_nqn_valid(const char *buf, size_t len)
{
	const char *nul = memchr(buf, '\0', len);
	size_t n, plen = strlen(REF_UUID_PREFIX);

	if (nul == NULL)
		return false;
	n = (size_t)(nul - buf);
	if (n == 0 || n > REF_MAX_LEN || !ref_utf8((const uint8_t *)buf, n))
		return false;
	if (n >= plen && memcmp(buf, REF_UUID_PREFIX, plen) == 0)
		return ref_uuid(buf + plen, n - plen);
	if (n < 4 || memcmp(buf, "nqn.", 4) != 0)
		return false;
	return ref_general(buf + 4, n - 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f;
	uint8_t sel;
	const char *pre;
	size_t plen, blen, len;
	char *buf;
	bool got, want;

	fz_init(&f, data, size);
	sel = fz_u8(&f);
	pre = prefixes[sel % (sizeof(prefixes) / sizeof(prefixes[0]))];
	plen = strlen(pre);
	blen = plen + fz_left(&f);
	/* Bits 3-4: the buffer as is, NUL-terminated, or a shorter length than the bytes. */
	buf = malloc(blen + 1);
	FZ_CHECK(buf != NULL, "malloc");
	memcpy(buf, pre, plen);
	fz_take(&f, buf + plen, blen - plen);
	switch (sel >> 3 & 3) {
	case 0:
		len = blen;
		break;
	case 1:
		buf[blen] = '\0';
		len = blen + 1;
		break;
	default:
		len = blen > 0 ? blen - (sel >> 5) % blen : 0;
		break;
	}
	if (len < blen + 1) {
		/* Exactly @len bytes, so an overread is caught. */
		char *exact = malloc(len ? len : 1);

		FZ_CHECK(exact != NULL, "malloc");
		memcpy(exact, buf, len);
		free(buf);
		buf = exact;
	}
	got = nvmft_nqn_valid(buf, len);
	want = ref_nqn_valid(buf, len);
	FZ_CHECK(got == want, "nvmft_nqn_valid(\"%.*s\", %zu) = %d, reference says %d",
		 (int)strnlen(buf, len), buf, len, got, want);
	/* NULL is never valid. */
	FZ_CHECK(!nvmft_nqn_valid(NULL, len), "NULL accepted");
	free(buf);
	return 0;
}
