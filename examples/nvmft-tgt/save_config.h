/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The running target as an SPDK-format configuration: the document -c and
 * load_config read.  Loading it into a target started the same way (the
 * same command-line transport flags) builds the same state.  Management
 * thread.
 */
#ifndef NVMFT_TGT_SAVE_CONFIG_H
#define NVMFT_TGT_SAVE_CONFIG_H

#include <jansson.h>

#include "state.h"

/* {"subsystems": [{"subsystem": "bdev", ...}, {"subsystem": "nvmf", ...}]}; NULL: no memory. */
json_t *save_config(struct app_state *st);

/*
 * The "config" array of one section ("bdev" or "nvmf"), as SPDK's
 * framework_get_config answers.  NULL with *@unknown set for another name.
 */
json_t *save_config_section(struct app_state *st, const char *name, bool *unknown);

/* The sections, in dependency order, with what they depend on (framework_get_subsystems). */
json_t *save_config_sections(void);

#endif /* NVMFT_TGT_SAVE_CONFIG_H */
