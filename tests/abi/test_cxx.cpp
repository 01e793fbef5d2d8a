/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The umbrella header used from C++11: declarations get C linkage (a missing
 * extern "C" would fail to link here) and the library answers.
 */
#include <nvmft/nvmft.h>

#include <cstdio>
#include <cstring>

static_assert(NVMFT_TRTYPE_TCP == 3, "trtype codes follow the discovery log");
static_assert(NVMFT_CHECK_VERSION(NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR, 0),
	      "NVMFT_CHECK_VERSION accepts the headers' own version");

static int fail(const char *what)
{
	std::fprintf(stderr, "FAIL: %s\n", what);
	return 1;
}

int main()
{
	const char *v = nvmft_version();
	struct nvmft_target_opts opts;

	if (v == nullptr || std::strcmp(v, NVMFT_VERSION_STRING) != 0)
		return fail("nvmft_version() differs from NVMFT_VERSION_STRING");
	if (!nvmft_version_check(NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR))
		return fail("nvmft_version_check() rejects the headers' own version");
	std::memset(&opts, 0, sizeof(opts));
	nvmft_target_opts_init(&opts, sizeof(opts));
	if (opts.size != sizeof(opts))
		return fail("nvmft_target_opts_init() did not record the size");
	if (std::strcmp(nvmft_trtype_name(NVMFT_TRTYPE_TCP), "TCP") != 0)
		return fail("nvmft_trtype_name(TCP)");
	std::printf("C++: libnvmft %s\n", v);
	return 0;
}
