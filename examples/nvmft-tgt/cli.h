/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The command line.  cli_parse() only reads argv; cli_to_plan() turns the
 * object-building flags (-n, -l, --ns, --allow-host), in the order given,
 * into plan entries after the config file's, so a flag can refer to a
 * subsystem the config created.
 */
#ifndef NVMFT_TGT_CLI_H
#define NVMFT_TGT_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <nvmft/log.h>

#include "plan.h"

/* SPDK's default JSON-RPC socket. */
#define CLI_RPC_DEFAULT_PATH "/var/tmp/spdk.sock"

enum cli_item_kind {
	CLI_NQN,
	CLI_LISTEN,
	CLI_NS,
	CLI_HOST,
};

struct cli_item {
	enum cli_item_kind kind;
	const char *arg; /* points into argv */
};

struct cli {
	const char *config_path;
	unsigned int threads;
	bool busy_poll;
	enum nvmft_log_level log_level;
	bool help;
	bool version;
	const char *rpc_path; /* -r, or NULL */
	bool no_rpc;
	/* Transport options from flags; copied to plan.tr_override. */
	struct plan_transport tr;
	struct cli_item *items;
	size_t n_items;
};

/*
 * cli_parse() - read argv
 * @cli: filled with defaults, then with the flags; cli_free() it afterwards
 *       (also on failure)
 *
 * Return: 0, or -EINVAL with a one-line message in @err.  -h and --version
 * only set @cli->help / @cli->version.
 */
int cli_parse(int argc, char **argv, struct cli *cli, char *err, size_t errlen);

/* Add the flags' subsystems, listeners, namespaces and hosts to @plan. */
int cli_to_plan(const struct cli *cli, struct plan *plan, char *err, size_t errlen);

/* The JSON-RPC socket to serve, or NULL for none (see cli.c for the default). */
const char *cli_rpc_path(const struct cli *cli);

void cli_free(struct cli *cli);

/* The --help text. */
void cli_usage(FILE *out);

#endif /* NVMFT_TGT_CLI_H */
