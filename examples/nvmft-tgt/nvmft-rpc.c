/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft-rpc: call one JSON-RPC method of nvmft-tgt (or of an SPDK target)
 * from a shell, without SPDK's Python client.
 *
 *   nvmft-rpc [-s SOCKET] [-t SECONDS] METHOD [PARAMS]
 *
 * PARAMS is a JSON object (or "-" to read it from stdin).  The result is
 * printed on stdout as JSON (indented), exit 0; an error response is
 * printed on stderr, exit 1; a usage or connection problem exits 2.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_client.h"

#define DEFAULT_SOCKET "/var/tmp/spdk.sock"

static void usage(FILE *out)
{
	fputs("Usage: nvmft-rpc [-s SOCKET] [-t SECONDS] METHOD [PARAMS]\n"
	      "Call a JSON-RPC method of nvmft-tgt; PARAMS is a JSON object, or - for stdin.\n"
	      "  -s, --socket SOCKET   default " DEFAULT_SOCKET "\n"
	      "  -t, --timeout SECONDS connecting and waiting for the answer (default 60)\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_SOCKET;
	json_t *params = NULL, *resp = NULL, *v;
	struct rpc_client *c = NULL;
	int timeout_ms = 60000;
	json_error_t jerr;
	int opt, rc, status = 2;

	while ((opt = getopt_long(argc, argv, "s:t:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 't':
			timeout_ms = atoi(optarg) * 1000;
			if (timeout_ms <= 0) {
				fprintf(stderr, "nvmft-rpc: -t wants a positive number of seconds\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 && optind != argc - 2) {
		usage(stderr);
		return 2;
	}
	if (optind == argc - 2) {
		const char *text = argv[optind + 1];

		params = strcmp(text, "-") == 0 ? json_loadf(stdin, 0, &jerr)
						: json_loads(text, 0, &jerr);
		if (params == NULL) {
			fprintf(stderr, "nvmft-rpc: PARAMS: line %d: %s\n", jerr.line, jerr.text);
			return 2;
		}
	}
	rc = rpc_client_connect(path, timeout_ms, &c);
	if (rc < 0) {
		fprintf(stderr, "nvmft-rpc: cannot connect to %s: %s\n", path, strerror(-rc));
		goto out;
	}
	rpc_client_set_timeout(c, timeout_ms);
	rc = rpc_client_call(c, argv[optind], params, &resp);
	if (rc < 0) {
		fprintf(stderr, "nvmft-rpc: %s: %s\n", argv[optind],
			rc == -EPIPE ? "the server closed the connection" : strerror(-rc));
		goto out;
	}
	if ((v = json_object_get(resp, "error")) != NULL) {
		json_dumpf(v, stderr, JSON_INDENT(2));
		fputc('\n', stderr);
		status = 1;
	} else {
		v = json_object_get(resp, "result");
		json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
		fputc('\n', stdout);
		status = 0;
	}
out:
	json_decref(resp);
	json_decref(params);
	rpc_client_close(c);
	return status;
}
