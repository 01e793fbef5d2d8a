/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Building the target from a validated plan; the only file that creates
 * libnvmft objects (threads.c creates the poll groups).  All calls from
 * the management (main) thread.
 */
#ifndef NVMFT_TGT_SETUP_H
#define NVMFT_TGT_SETUP_H

#include <stdio.h>

#include <nvmft/nvmft.h>

#include "app.h"
#include "plan.h"

struct setup_ns_ctx;

struct app_target {
	const struct plan *plan;
	const struct app_logger *log;
	struct nvmft_target *tgt;
	struct nvmft_backend **backends;   /* one per plan bdev */
	struct nvmft_subsystem **subsys;   /* one per plan subsystem */
	struct nvmft_listener **listeners; /* one per plan listener; may repeat */
	struct setup_ns_ctx *ns_ctx;	   /* one per plan namespace */
	unsigned int ns_pending;	   /* nvmft_ns_add() callbacks to come */
	int ns_status;			   /* first failure among them */
};

/* Create the target (logging to @log) and its transports. */
int setup_target(struct app_target *at, const struct plan *plan, const struct app_logger *log);

/*
 * Create backends, subsystems, hosts and namespaces.  Namespaces finish
 * asynchronously: keep calling nvmft_target_poll() (with the poll group
 * threads running) until @at->ns_pending is 0, then check @at->ns_status.
 */
int setup_storage(struct app_target *at);

/*
 * The listener of @tr that @l names, or NULL: the same address and port
 * (port "0" names none: it asks for a new one), or for vfio-user the same
 * directory, whether its service id is "" or "0".
 */
struct nvmft_listener *setup_find_listener(struct nvmft_transport *tr, const struct plan_listener *l);

/* Listen, and attach the listeners to their subsystems. */
int setup_listeners(struct app_target *at);

/* The one stdout line scripts wait for; flushed. */
void setup_print_ready(const struct app_target *at, FILE *out);

/*
 * Shutdown: fault-injection bdevs drop their rules and let go of hung
 * requests, since a poll group only stops once its backend I/O is back.
 * Any thread.
 */
void setup_release_faults(struct app_target *at);

/* nvmft_target_free(); the poll groups must be gone. */
void setup_free_target(struct app_target *at);

/* Free the backends (after the target) and @at's arrays. */
void setup_free_backends(struct app_target *at);

/*
 * Transport options as start-up sets them: @o holds the library's defaults;
 * the config entry's values (@cfg, may be NULL), then the command line's.
 */
void setup_transport_opts(struct nvmft_transport_opts *o, const struct plan_transport *cfg,
			  const struct plan_transport *override);

/*
 * What start-up and the JSON-RPC methods both say when nvmft_transport_new()
 * refused @o with @rc: "cannot create transport tcp", naming the option the
 * kernel turned down when that is what failed.  The caller adds strerror().
 */
void setup_transport_failure(char *buf, size_t len, enum nvmft_trtype trtype,
			     const struct nvmft_transport_opts *o, int rc);

#endif /* NVMFT_TGT_SETUP_H */
