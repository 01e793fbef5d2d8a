/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Verification pattern.  Every logical block carries its own header, so a
 * block that lands at the wrong LBA, a stale block from an older write and
 * a torn or corrupted block are told apart:
 *
 *   bytes 0..7    magic "NVMFTPRF"
 *   bytes 8..15   the LBA the block was written to
 *   bytes 16..19  the write's sequence number (nonzero)
 *   bytes 20..23  the sequence number inverted
 *   bytes 24..    64-bit words derived from (LBA, sequence, word index)
 *
 * All fields little-endian, so a region written on one machine checks on
 * another.
 */
#include <endian.h>
#include <string.h>

#include "perf.h"

enum {
	PAT_HDR = 24,
};

static uint64_t pat_seed(uint64_t lba, uint32_t seq)
{
	/* splitmix64 finaliser: nearby LBAs and sequences give unrelated bodies. */
	uint64_t z = lba * 0x9e3779b97f4a7c15ull + seq;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t pat_word(uint64_t seed, uint32_t i)
{
	return seed ^ ((uint64_t)i * 0xd6e8feb86659fd93ull);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

void perf_pattern_fill(void *buf, uint32_t lba_size, uint64_t lba, uint32_t nblocks, uint32_t seq)
{
	uint8_t *b = buf;

	for (uint32_t k = 0; k < nblocks; k++, b += lba_size) {
		uint64_t l = lba + k, seed = pat_seed(l, seq);

		put64(b, PERF_PATTERN_MAGIC);
		put64(b + 8, l);
		put32(b + 16, seq);
		put32(b + 20, ~seq);
		for (uint32_t off = PAT_HDR, i = 0; off + 8 <= lba_size; off += 8, i++)
			put64(b + off, pat_word(seed, i));
	}
}

static uint32_t first_diff(const uint8_t *a, const uint8_t *b, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return i;
	return len;
}

int perf_pattern_check(const void *buf, uint32_t lba_size, uint64_t lba, uint32_t nblocks,
		       uint32_t want_seq, struct perf_mismatch *mm)
{
	const uint8_t *b = buf;

	for (uint32_t k = 0; k < nblocks; k++, b += lba_size) {
		uint64_t l = lba + k, seed;
		uint32_t seq;

		memset(mm, 0, sizeof(*mm));
		mm->lba = l;
		mm->want_seq = want_seq;
		if (get64(b) != PERF_PATTERN_MAGIC) {
			mm->offset = first_diff(b, (const uint8_t *)"NVMFTPRF", 8);
			return PERF_VERIFY_MAGIC;
		}
		mm->got_lba = get64(b + 8);
		seq = get32(b + 16);
		mm->got_seq = seq;
		if (mm->got_lba != l) {
			mm->offset = 8;
			return PERF_VERIFY_LBA;
		}
		if (seq == 0 || get32(b + 20) != ~seq) {
			mm->offset = 16;
			return PERF_VERIFY_DATA;
		}
		if (want_seq != 0 && seq != want_seq) {
			mm->offset = 16;
			return PERF_VERIFY_SEQ;
		}
		seed = pat_seed(l, seq);
		for (uint32_t off = PAT_HDR, i = 0; off + 8 <= lba_size; off += 8, i++) {
			if (get64(b + off) != pat_word(seed, i)) {
				uint8_t want[8];

				put64(want, pat_word(seed, i));
				mm->offset = off + first_diff(b + off, want, 8);
				return PERF_VERIFY_DATA;
			}
		}
	}
	return PERF_VERIFY_OK;
}

const char *perf_verify_str(int r)
{
	switch (r) {
	case PERF_VERIFY_OK:
		return "ok";
	case PERF_VERIFY_MAGIC:
		return "no nvmft-perf pattern (region not written with --verify?)";
	case PERF_VERIFY_LBA:
		return "pattern of another LBA (misdirected I/O)";
	case PERF_VERIFY_SEQ:
		return "stale data (not the last write's sequence number)";
	case PERF_VERIFY_DATA:
		return "corrupt block body";
	default:
		return "unknown";
	}
}
