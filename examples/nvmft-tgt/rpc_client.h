/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A JSON-RPC client for nvmft-tgt (or SPDK): one Unix-socket connection,
 * requests sent whole, responses read one per line (both servers end each
 * response with a newline and escape newlines inside it).  Used by the
 * nvmft-rpc command and by the tests.  Every wait is bounded.
 */
#ifndef NVMFT_TGT_RPC_CLIENT_H
#define NVMFT_TGT_RPC_CLIENT_H

#include <jansson.h>
#include <stddef.h>

struct rpc_client;

/* Connect, retrying for up to @timeout_ms while the socket is not there yet.  0 or -errno. */
int rpc_client_connect(const char *path, int timeout_ms, struct rpc_client **ret);
void rpc_client_close(struct rpc_client *c);
int rpc_client_fd(const struct rpc_client *c);
/* Bound of every later wait, in ms. */
void rpc_client_set_timeout(struct rpc_client *c, int timeout_ms);

/* Send raw bytes.  0, -EPIPE (the server closed), -ETIMEDOUT. */
int rpc_client_send(struct rpc_client *c, const void *buf, size_t len);

/*
 * The next response: 0 and *@resp (a new reference), -ETIMEDOUT, -EPIPE
 * (closed before a whole response), -EPROTO (a line that is not JSON).
 */
int rpc_client_recv(struct rpc_client *c, json_t **resp);

/*
 * Call @method with @params (borrowed; NULL for none) and wait for the
 * answer with the same id.  0 and *@resp (the whole response object), or
 * a -errno of sending or receiving.
 */
int rpc_client_call(struct rpc_client *c, const char *method, json_t *params, json_t **resp);

#endif /* NVMFT_TGT_RPC_CLIENT_H */
