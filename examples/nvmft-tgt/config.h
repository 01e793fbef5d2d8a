/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPDK-format JSON configuration ("save_config" output) → plan entries.
 * doc/nvmft-tgt.md lists the methods and parameters understood, ignored
 * and refused.
 */
#ifndef NVMFT_TGT_CONFIG_H
#define NVMFT_TGT_CONFIG_H

#include <stddef.h>

#include "plan.h"

/*
 * config_parse() - add the entries of a JSON configuration to @plan
 * @text: the JSON text
 * @len: its length in bytes
 * @plan: receives the entries (also on failure: free it with plan_free())
 * @err: receives a one-line message on failure
 * @errlen: size of @err
 *
 * Cross-references (a namespace naming a bdev...) are checked later, by
 * plan_validate(), once the command line has added its part.
 *
 * Return: 0, -EINVAL (bad or unsupported content), -ENOMEM.
 */
int config_parse(const char *text, size_t len, struct plan *plan, char *err, size_t errlen);

/* Read @path and config_parse() it; -errno from reading the file. */
int config_load_file(const char *path, struct plan *plan, char *err, size_t errlen);

#endif /* NVMFT_TGT_CONFIG_H */
