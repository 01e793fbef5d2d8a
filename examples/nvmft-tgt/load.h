/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * load_config on a running target: all of a configuration, or none of it.
 *
 * The configuration is read into a plan together with the running target
 * (as save_config writes it), and the whole is checked with the same rules
 * as a -c file at start-up: names and NQNs that clash with what exists,
 * references to bdevs or subsystems that exist nowhere, a bdev that backs
 * two namespaces, limits.  Nothing is touched unless that passes.  Then
 * the new entries are built in dependency order (bdevs, subsystems, hosts,
 * namespaces, transports, listeners last, as at start-up); if one fails
 * (a file that does not open, a port in use), everything built so far is
 * taken down again in reverse order before the answer.  A transport cannot
 * be taken down (the library, like SPDK, has no call for it): one the load
 * created stays, which the failure message says.  Management thread.
 */
#ifndef NVMFT_TGT_LOAD_H
#define NVMFT_TGT_LOAD_H

#include <jansson.h>

#include "state.h"

/* @status is 0 or -errno; @msg says what failed (empty on success). */
typedef void (*load_done_fn)(void *arg, int status, const char *msg);

/*
 * load_start() - check and apply a configuration
 * @st: the running target
 * @config: {"subsystems": [...]}, the -c format; borrowed for the call only
 * @done: called once with the outcome, possibly before load_start() returns
 * @arg: passed to @done
 * @err: receives the reason when the configuration is refused
 * @errlen: size of @err
 *
 * Return: 0 (started: @done will run), -EINVAL (refused, nothing changed,
 * @done is not called), -ENOMEM.
 */
int load_start(struct app_state *st, json_t *config, load_done_fn done, void *arg, char *err,
	       size_t errlen);

#endif /* NVMFT_TGT_LOAD_H */
