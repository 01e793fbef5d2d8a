/* SPDX-License-Identifier: BSD-3-Clause */
/* NQN validation per the NVMe base specification (section "NVMe Qualified Names"). */
#ifndef NVMFT_CORE_NQN_H
#define NVMFT_CORE_NQN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * True when @nqn is a valid NQN of at most 223 bytes: "nqn.yyyy-mm.<reverse
 * domain>[:<anything>]" with a plausible date and a domain label, or
 * "nqn.2014-08.org.nvmexpress:uuid:<36-char UUID>", or the discovery NQN.
 * @len is the size of the buffer @nqn lives in (the NUL must be inside).
 */
bool nvmft_nqn_valid(const char *nqn, size_t len);

#endif
