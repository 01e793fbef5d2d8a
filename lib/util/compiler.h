/* SPDX-License-Identifier: BSD-3-Clause */
/* Small language helpers used across the library. */
#ifndef NVMFT_UTIL_COMPILER_H
#define NVMFT_UTIL_COMPILER_H

#include <stddef.h>

#define NVMFT_EXPORT __attribute__((visibility("default")))

#define nvmft_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define nvmft_likely(x) __builtin_expect(!!(x), 1)
#define nvmft_unlikely(x) __builtin_expect(!!(x), 0)

#define NVMFT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NVMFT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define NVMFT_MAX(a, b) ((a) > (b) ? (a) : (b))
#define NVMFT_DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define NVMFT_ALIGN_UP(n, a) (((n) + (a) - 1) & ~((__typeof__(n))(a) - 1))

/* Relaxed counters: written by one owner thread, read by any. */
#define nvmft_stat_add(field, n) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define nvmft_stat_read(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

#endif
