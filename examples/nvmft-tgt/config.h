/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPDK-format JSON configuration ("save_config" output) → plan entries.
 * doc/nvmft-tgt.md lists the methods and parameters understood, ignored
 * and refused.
 */
#ifndef NVMFT_TGT_CONFIG_H
#define NVMFT_TGT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

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

/* config_parse() of a document already parsed (the JSON-RPC load_config). */
int config_parse_json(json_t *root, struct plan *plan, char *err, size_t errlen);

/*
 * config_parse_method() - add what one method call means to @plan
 * @method: a method name, as in a configuration entry
 * @params: its parameters (an object; anything else is refused)
 * @plan: receives the entry, if the method adds one
 * @err: receives a one-line message "<method>: <problem>" on failure
 * @errlen: size of @err
 *
 * The same parameter rules as config_parse(); the JSON-RPC methods decode
 * their parameters with it.  Methods accepted without effect add nothing.
 *
 * Return: 0, -EINVAL (malformed or invalid parameters), -EOPNOTSUPP (valid,
 * but asking for a feature libnvmft does not have), -ENOENT (a method no
 * configuration may hold), -ENOMEM.
 */
int config_parse_method(const char *method, json_t *params, struct plan *plan, char *err,
			size_t errlen);

/*
 * The methods a configuration may hold, by index from 0; NULL past the end.
 * *@ignored tells those accepted with any parameters and without effect.
 */
const char *config_method(size_t idx, bool *ignored);

#endif /* NVMFT_TGT_CONFIG_H */
