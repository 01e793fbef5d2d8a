/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC-32C (Castagnoli), the NVMe/TCP header and data digest.
 *
 * The value passed in and returned is the finished CRC of everything seen
 * so far: start with 0, and feeding a buffer in pieces gives the same
 * result as feeding it at once.  Pre- and post-inversion are done inside,
 * so nvmft_crc32c(0, "123456789", 9) is the standard check value
 * 0xe3069283.  On the wire the digest is stored little-endian.
 *
 * The SSE4.2 crc32 instruction is used when the CPU has it (three
 * interleaved streams when PCLMULQDQ is there to merge them); otherwise a
 * slicing-by-8 table.  No state: the choice is made per call.
 */
#ifndef NVMFT_UTIL_CRC32C_H
#define NVMFT_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

uint32_t nvmft_crc32c(uint32_t crc, const void *buf, size_t len);
/* Over @len bytes of @iov starting @off bytes in (clipped to the vector's end). */
uint32_t nvmft_crc32c_iov(uint32_t crc, const struct iovec *iov, int iovcnt, size_t off,
			  size_t len);

/* The individual implementations, for tests and benchmarks. */
enum {
	NVMFT_CRC32C_HW_SSE42 = 1u << 0,
	NVMFT_CRC32C_HW_PCLMUL = 1u << 1,
};

/* NVMFT_CRC32C_HW_* bits this CPU offers (0 where none is compiled in). */
unsigned int nvmft_crc32c_hw_caps(void);
uint32_t nvmft_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* Only call when the matching capability bits are set. */
uint32_t nvmft_crc32c_sse42(uint32_t crc, const void *buf, size_t len);
uint32_t nvmft_crc32c_sse42_3way(uint32_t crc, const void *buf, size_t len);

#endif
