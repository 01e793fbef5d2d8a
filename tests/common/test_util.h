/* SPDX-License-Identifier: BSD-3-Clause */
/* Small helpers shared by tests. */
#ifndef NVMFT_TEST_UTIL_H
#define NVMFT_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deterministic pattern: byte i of block b of seed s. */
void tu_fill_pattern(void *buf, size_t len, uint32_t seed);
/* A private temporary directory (removed by tu_rmtree); returns a malloc'd path. */
char *tu_mkdtemp(void);
/*
 * A TCP port on the loopback address of @family (AF_INET or AF_INET6) that
 * nobody listens on now and that this process was not given in its last
 * 16 calls; 0 when none could be had.
 */
unsigned int tu_free_port(int family);
void tu_rmtree(const char *path);

struct nvmft_cmd;
/* SGL1 of @c: a Keyed SGL Data Block descriptor (NVMe/RDMA) of @subtype. */
void tu_sgl_keyed(struct nvmft_cmd *c, uint64_t addr, uint32_t len, uint32_t key, uint8_t subtype);

struct nvmft_subsystem;
/* How many controllers @ss has now (management thread). */
int tu_ctrlr_count(struct nvmft_subsystem *ss);

/*
 * Evaluate @cond, and while it does not hold run @step, at most @n times
 * (the tests' bounded waits); evaluates to whether @cond held.
 */
#define TU_UNTIL(n, cond, step)                          \
	({                                               \
		bool ok_ = false;                        \
		for (long i_ = 0; i_ < (long)(n); i_++) { \
			if (cond) {                      \
				ok_ = true;              \
				break;                   \
			}                                \
			step;                            \
		}                                        \
		ok_;                                     \
	})

#endif
