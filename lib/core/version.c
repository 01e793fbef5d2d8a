/* SPDX-License-Identifier: BSD-3-Clause */
#include <nvmft/version.h>

#include "util/compiler.h"

NVMFT_EXPORT const char *nvmft_version(void)
{
	return NVMFT_VERSION_STRING;
}

NVMFT_EXPORT bool nvmft_version_check(unsigned int major, unsigned int minor)
{
	return major == NVMFT_VERSION_MAJOR && minor <= NVMFT_VERSION_MINOR;
}
