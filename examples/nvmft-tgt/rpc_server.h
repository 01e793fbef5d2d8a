/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON-RPC 2.0 server: a Unix stream socket, SPDK's framing (JSON
 * values back to back; each response is one compact JSON text and a
 * newline) and SPDK's envelope rules.  What a method means is rpc.c's
 * business: the server hands it each well-formed request and sends what it
 * answers.  Management thread only.
 *
 *   rpc_server_open()   take the socket (lock file, bind, listen); serve nothing yet
 *   rpc_server_start()  accept and read from now on, calling the handler per request
 *   rpc_server_poll()   when rpc_server_get_fd() is readable
 *   rpc_server_close()  drop every client and remove the socket
 */
#ifndef NVMFT_TGT_RPC_SERVER_H
#define NVMFT_TGT_RPC_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include "app.h"

/* JSON-RPC error codes SPDK uses. */
enum {
	RPC_ERR_PARSE = -32700,
	RPC_ERR_INVALID_REQUEST = -32600,
	RPC_ERR_METHOD_NOT_FOUND = -32601,
	RPC_ERR_INVALID_PARAMS = -32602,
	RPC_ERR_INTERNAL = -32603,
	RPC_ERR_INVALID_STATE = -1,
};

/* Clients served at once; more wait in the listen backlog (as in SPDK). */
#define RPC_MAX_CONNS 64
/* Largest request: a whole configuration fits (the size -c accepts). */
#define RPC_MAX_REQUEST (16u << 20)
/* Largest response; a bigger one is answered with an internal error. */
#define RPC_MAX_RESPONSE (64u << 20)

struct rpc_server;
struct rpc_conn;

/*
 * One request being answered.  It lives from the handler call until
 * rpc_req_result() or rpc_req_error(), which free it; the client may be
 * gone by then (the answer is dropped).  @link is free for the handler's
 * queues.
 */
struct rpc_req {
	struct rpc_conn *conn; /* NULL once the client is gone */
	json_t *root;	       /* the request; owns the fields below */
	json_t *id;	       /* NULL for a notification */
	const char *method;
	json_t *params;	       /* NULL when absent or null */
	bool dup_key;	       /* the text repeats a key: the parameters are invalid */
	TAILQ_ENTRY(rpc_req) link;
};

/* Called for each well-formed request, in arrival order per client. */
typedef void (*rpc_handle_fn)(void *arg, struct rpc_req *req);

/*
 * Take @path: refuse it (-EADDRINUSE, message in @err) when another live
 * process holds it (its "<path>.lock" is locked, as SPDK locks it, or
 * something answers on the socket), otherwise replace a stale socket and
 * listen.  Connections wait in the backlog until rpc_server_start().
 */
int rpc_server_open(const char *path, const struct app_logger *log, struct rpc_server **ret,
		    char *err, size_t errlen);

void rpc_server_start(struct rpc_server *srv, rpc_handle_fn fn, void *arg);

/* An epoll descriptor, readable when rpc_server_poll() has work. */
int rpc_server_get_fd(const struct rpc_server *srv);

/* Accept, read, answer and write what is ready; never blocks. */
void rpc_server_poll(struct rpc_server *srv);

const char *rpc_server_path(const struct rpc_server *srv);

/*
 * Close every connection (requests in progress stay alive, orphaned, until
 * answered), remove the socket and its lock file, free @srv.  NULL is fine.
 */
void rpc_server_close(struct rpc_server *srv);

/* Answer with @result (the reference is taken); nothing is sent for a notification. */
void rpc_req_result(struct rpc_req *req, json_t *result);
void rpc_req_error(struct rpc_req *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Free a request without answering (its client is gone, or the server stops). */
void rpc_req_drop(struct rpc_req *req);

#endif /* NVMFT_TGT_RPC_SERVER_H */
