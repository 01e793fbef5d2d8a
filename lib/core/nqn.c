/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NQN validation (NVMe base specification 2.0, "NVMe Qualified Names").
 *
 * Two forms exist: "nqn.2014-08.org.nvmexpress:uuid:" followed by a
 * textual UUID, and "nqn.yyyy-mm.<reverse domain>[:<string>]" where the
 * date is when the naming authority owned the domain.  The whole name is
 * UTF-8 and at most 223 bytes.  The discovery NQN is an instance of the
 * second form.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/nqn.h"
#include "spec/spec.h"

#define NQN_UUID_PREFIX "nqn.2014-08.org.nvmexpress:uuid:"
#define NQN_UUID_LEN 36
/* DNS limits a label to 63 octets; a longer one cannot be a domain a naming authority owns. */
#define NQN_LABEL_MAX 63

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_label_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated or stray continuation bytes.
 */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t extra;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			extra = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			extra = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			extra = 3;
			cp = c & 0x07;
		} else {
			return false; /* continuation byte, C0/C1 or F5..FF as a lead byte */
		}
		if (n - i <= extra)
			return false;
		for (size_t k = 1; k <= extra; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000))
			return false;
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += extra + 1;
	}
	return true;
}

static bool uuid_valid(const char *s, size_t n)
{
	if (n != NQN_UUID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_hex(s[i])) {
			return false;
		}
	}
	return true;
}

/* "yyyy-mm." with a month in 01..12; returns the bytes consumed or 0. */
static size_t date_len(const char *s, size_t n)
{
	int month;

	if (n < 8)
		return 0;
	for (int i = 0; i < 4; i++)
		if (!is_digit(s[i]))
			return 0;
	if (s[4] != '-' || !is_digit(s[5]) || !is_digit(s[6]) || s[7] != '.')
		return 0;
	month = (s[5] - '0') * 10 + (s[6] - '0');
	if (month < 1 || month > 12)
		return 0;
	return 8;
}

/*
 * Reverse domain name: one or more labels joined by '.', each of letters,
 * digits and hyphens, not starting or ending with a hyphen.  Returns the
 * length consumed (up to ':' or the end) or 0 when malformed.
 */
static size_t domain_len(const char *s, size_t n)
{
	size_t i = 0, label = 0;

	while (i < n && s[i] != ':') {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (is_label_char(c)) {
			if (label == 0 && c == '-')
				return 0;
			if (++label > NQN_LABEL_MAX)
				return 0;
		} else {
			return 0;
		}
		i++;
	}
	if (label == 0 || s[i - 1] == '-')
		return 0; /* empty, or ends with '.' or '-' */
	return i;
}

bool nvmft_nqn_valid(const char *nqn, size_t len)
{
	size_t n, prefix = sizeof(NQN_UUID_PREFIX) - 1;
	size_t off, d;

	if (nqn == NULL || len == 0)
		return false;
	n = strnlen(nqn, len);
	if (n == len || n == 0 || n > NVMFT_NQN_MAX_LEN)
		return false;
	if (!utf8_valid((const unsigned char *)nqn, n))
		return false;

	/* The UUID form is reserved: its prefix must be followed by a real UUID. */
	if (n >= prefix && memcmp(nqn, NQN_UUID_PREFIX, prefix) == 0)
		return uuid_valid(nqn + prefix, n - prefix);

	if (n < 4 || memcmp(nqn, "nqn.", 4) != 0)
		return false;
	off = 4;
	d = date_len(nqn + off, n - off);
	if (d == 0)
		return false;
	off += d;
	d = domain_len(nqn + off, n - off);
	if (d == 0)
		return false;
	off += d;
	if (off == n)
		return true;
	/* A colon introduces the authority's own string, which may not be empty. */
	return nqn[off] == ':' && off + 1 < n;
}
