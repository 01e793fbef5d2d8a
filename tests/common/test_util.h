/* SPDX-License-Identifier: BSD-3-Clause */
/* Small helpers shared by tests. */
#ifndef NVMFT_TEST_UTIL_H
#define NVMFT_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Deterministic pattern: byte i of block b of seed s. */
void tu_fill_pattern(void *buf, size_t len, uint32_t seed);
/* A private temporary directory (removed by tu_rmtree); returns a malloc'd path. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *path);

#endif
