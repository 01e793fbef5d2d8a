/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON-RPC over a Unix socket, on the management thread, never blocking.
 *
 * Framing.  SPDK's clients (rpc.py, the Go client, storage daemons) write
 * JSON values back to back with no length prefix and no delimiter, so the
 * end of a request is found by scanning: bracket depth outside strings.
 * The scanner keeps its place between reads, so a request that trickles in
 * byte by byte costs one pass, and only a complete value is handed to
 * jansson.  A value larger than RPC_MAX_REQUEST is answered with an error
 * and the connection closed; nothing a client sends can make the buffer
 * grow past that.
 *
 * Stalls.  A client that stops in the middle of a request, or stops reading
 * an answer, would hold one of the RPC_MAX_CONNS places for ever (as it
 * does in SPDK): when it owes bytes and none moved for RPC_STALL_MS, it is
 * dropped.  A client that is only idle between requests, or waits for an
 * answer still being worked out, owes nothing and stays.
 *
 * Flow.  A connection has at most one request in progress and one response
 * being written.  Until both are done nothing more is read from it, so a
 * client that pipelines requests gets its answers in order, and a client
 * that never reads its answers holds one response and nothing else.  A
 * client that half-closes after writing still gets its answers (as with
 * SPDK); one that goes away mid-request leaves the request to finish on its
 * own, its answer dropped.  Connections that have more requests buffered
 * are worked through from rpc_server_poll(), a few per call, never
 * recursively from inside an answer, so a deep pipeline cannot exhaust the
 * stack nor keep the management thread from the target.
 *
 * Envelope.  As SPDK checks it: an object with only "jsonrpc" ("2.0"),
 * "method" (a string), "params" (object, array or null) and "id" (string,
 * number or null); a batch array is refused.  A parse error is answered
 * and the connection closed, since a byte stream has no point to resume
 * from.  Errors are sent even for notifications (with id null); results are
 * not.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rpc_server.h"

/* Requests taken from pipelining clients per poll, so the target gets its turn. */
#define RPC_POLL_BUDGET 32
/* Bytes read per readiness event. */
#define RPC_READ_CHUNK (256u << 10)
/* A client that owes bytes (the rest of a request, reading an answer) and moves none is dropped. */
#define RPC_STALL_MS 10000

enum scan_mode {
	SCAN_IDLE,   /* between values */
	SCAN_NEST,   /* inside an object or array */
	SCAN_STRING, /* a top-level string */
	SCAN_SCALAR, /* a top-level number or literal */
};

struct rpc_conn {
	struct rpc_server *srv;
	int fd;
	uint32_t events; /* interest registered with epoll, 0: not registered */
	char *in;
	size_t in_off; /* first byte not consumed */
	size_t in_len;
	size_t in_cap;
	/* The scanner: where the value starts, how far it has looked. */
	enum scan_mode mode;
	size_t start;
	size_t pos;
	size_t depth;
	bool in_str;
	bool esc;
	char *out;
	size_t out_len;
	size_t out_off;
	struct rpc_req *cur;
	bool eof;     /* the client sends nothing more */
	bool closing; /* close once @out is written */
	bool ready;   /* on srv->ready: buffered requests to work through */
	bool dead;    /* closed; freed from rpc_server_poll(), so callers may still look */
	long long moved_ms; /* last byte in or out (CLOCK_MONOTONIC) */
	LIST_ENTRY(rpc_conn) link;
	TAILQ_ENTRY(rpc_conn) ready_link;
};

struct rpc_server {
	const struct app_logger *log;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	int lock_fd;
	int listen_fd;
	int epfd;
	int wake_fd; /* eventfd: srv->ready has connections */
	int timer_fd; /* ticks while a client owes bytes */
	bool timer_armed;
	bool accepting;
	bool listen_watched;
	rpc_handle_fn handle;
	void *handle_arg;
	unsigned int n_conns;
	LIST_HEAD(, rpc_conn) conns;
	LIST_HEAD(, rpc_conn) dead;
	TAILQ_HEAD(, rpc_conn) ready;
};

static void conn_close(struct rpc_conn *c);
static void conn_reap(struct rpc_server *srv);

/* ---- Setting up ------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* Whether a process answers on @path (a socket nobody locked, e.g. another program's). */
static bool socket_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	bool alive;

	if (fd < 0)
		return false;
	/* ECONNREFUSED: nobody listens; EAGAIN: a live listener with a full backlog. */
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 || errno == EAGAIN;
	close(fd);
	return alive;
}

static int take_path(struct rpc_server *srv, struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat st;

	srv->lock_fd = open(srv->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (srv->lock_fd < 0)
		return fail(err, errlen, -errno, "cannot open %s: %s", srv->lock_path,
			    strerror(errno));
	/* The lock SPDK's own targets take, so neither can steal the other's socket. */
	if (flock(srv->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return fail(err, errlen, -EADDRINUSE,
			    "JSON-RPC socket %s is in use by another process (%s is locked)",
			    srv->path, srv->lock_path);
	if (lstat(srv->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return fail(err, errlen, -EEXIST,
				    "JSON-RPC socket %s: a file that is not a socket is there",
				    srv->path);
		if (socket_alive(sun))
			return fail(err, errlen, -EADDRINUSE,
				    "JSON-RPC socket %s is in use by a live process", srv->path);
		/* Left behind by a process that died: ours now. */
		unlink(srv->path);
	}
	return 0;
}

static int watch(struct rpc_server *srv, int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(srv->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int rpc_server_open(const char *path, const struct app_logger *log, struct rpc_server **ret,
		    char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct rpc_server *srv;
	int rc;

	if (strlen(path) >= sizeof(sun.sun_path))
		return fail(err, errlen, -ENAMETOOLONG,
			    "JSON-RPC socket path '%s' is longer than %zu bytes", path,
			    sizeof(sun.sun_path) - 1);
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return fail(err, errlen, -ENOMEM, "out of memory");
	srv->log = log;
	srv->lock_fd = srv->listen_fd = srv->epfd = srv->wake_fd = srv->timer_fd = -1;
	LIST_INIT(&srv->conns);
	LIST_INIT(&srv->dead);
	TAILQ_INIT(&srv->ready);
	snprintf(srv->path, sizeof(srv->path), "%s", path);
	snprintf(srv->lock_path, sizeof(srv->lock_path), "%s.lock", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);

	rc = take_path(srv, &sun, err, errlen);
	if (rc < 0)
		goto fail;
	srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv->listen_fd < 0 || bind(srv->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(srv->listen_fd, 128) < 0) {
		rc = fail(err, errlen, -errno, "cannot listen on JSON-RPC socket %s: %s", path,
			  strerror(errno));
		goto fail;
	}
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	srv->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	srv->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (srv->epfd < 0 || srv->wake_fd < 0 || srv->timer_fd < 0) {
		rc = fail(err, errlen, -errno, "JSON-RPC server: %s", strerror(errno));
		goto fail;
	}
	rc = watch(srv, EPOLL_CTL_ADD, srv->wake_fd, EPOLLIN, &srv->wake_fd);
	if (rc == 0)
		rc = watch(srv, EPOLL_CTL_ADD, srv->timer_fd, EPOLLIN, &srv->timer_fd);
	if (rc < 0) {
		fail(err, errlen, rc, "JSON-RPC server: epoll_ctl: %s", strerror(-rc));
		goto fail;
	}
	*ret = srv;
	return 0;
fail:
	/* The socket is unlinked only if we made it, i.e. once we held the lock. */
	if (srv->listen_fd >= 0)
		unlink(srv->path);
	rpc_server_close(srv);
	return rc;
}

static void listen_watch(struct rpc_server *srv)
{
	bool want = srv->accepting && srv->n_conns < RPC_MAX_CONNS;

	if (want == srv->listen_watched)
		return;
	if (watch(srv, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, srv->listen_fd, EPOLLIN, srv) == 0)
		srv->listen_watched = want;
}

void rpc_server_start(struct rpc_server *srv, rpc_handle_fn fn, void *arg)
{
	srv->handle = fn;
	srv->handle_arg = arg;
	srv->accepting = true;
	listen_watch(srv);
}

int rpc_server_get_fd(const struct rpc_server *srv)
{
	return srv->epfd;
}

const char *rpc_server_path(const struct rpc_server *srv)
{
	return srv->path;
}

void rpc_server_close(struct rpc_server *srv)
{
	struct rpc_conn *c;

	if (srv == NULL)
		return;
	while ((c = LIST_FIRST(&srv->conns)) != NULL)
		conn_close(c);
	conn_reap(srv);
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		unlink(srv->path);
	}
	if (srv->lock_fd >= 0) {
		/* Unlinked while still locked: a newcomer then locks a fresh file. */
		if (srv->listen_fd >= 0)
			unlink(srv->lock_path);
		close(srv->lock_fd);
	}
	if (srv->epfd >= 0)
		close(srv->epfd);
	if (srv->wake_fd >= 0)
		close(srv->wake_fd);
	if (srv->timer_fd >= 0)
		close(srv->timer_fd);
	free(srv);
}

/* ---- Connections ------------------------------------------------------------------ */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The client is the one to move: the rest of its request, or reading our answer. */
static bool owes_bytes(const struct rpc_conn *c)
{
	return !c->dead && ((c->cur == NULL && c->mode != SCAN_IDLE && !c->eof) ||
			    c->out_off < c->out_len);
}

/* Tick every second while some client owes bytes; stop when none does. */
static void stall_timer(struct rpc_server *srv, bool on)
{
	struct itimerspec its = { 0 };

	if (on == srv->timer_armed)
		return;
	if (on) {
		its.it_value.tv_sec = 1;
		its.it_interval.tv_sec = 1;
	}
	if (timerfd_settime(srv->timer_fd, 0, &its, NULL) == 0)
		srv->timer_armed = on;
}

/* Drop clients that owe bytes and moved none for RPC_STALL_MS. */
static void stall_check(struct rpc_server *srv)
{
	long long now = now_ms();
	struct rpc_conn *c, *next;
	bool any = false;

	for (c = LIST_FIRST(&srv->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		if (!owes_bytes(c))
			continue;
		if (now - c->moved_ms < RPC_STALL_MS) {
			any = true;
			continue;
		}
		app_log(srv->log, NVMFT_LOG_NOTICE,
			"JSON-RPC: dropping a client that %s for %d s",
			c->out_off < c->out_len ? "does not read its answer"
						: "does not finish its request",
			RPC_STALL_MS / 1000);
		conn_close(c);
	}
	stall_timer(srv, any);
}

/* Register what the connection waits for; see the flow rules at the top. */
static void conn_watch(struct rpc_conn *c)
{
	uint32_t ev = 0;
	int rc;

	if (c->dead)
		return;
	if (c->out_off < c->out_len)
		ev |= EPOLLOUT;
	else if (!c->eof && !c->closing && c->cur == NULL)
		ev |= EPOLLIN | EPOLLRDHUP;
	else if (!c->eof && !c->closing)
		ev |= EPOLLRDHUP; /* learn that the client left while its request runs */
	if (owes_bytes(c))
		stall_timer(c->srv, true);
	if (ev == c->events)
		return;
	if (ev == 0)
		rc = watch(c->srv, EPOLL_CTL_DEL, c->fd, 0, c);
	else
		rc = watch(c->srv, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, ev, c);
	if (rc == 0)
		c->events = ev;
}

static void conn_close(struct rpc_conn *c)
{
	struct rpc_server *srv = c->srv;
	uint64_t one = 1;

	if (c->dead)
		return;
	if (c->cur != NULL)
		c->cur->conn = NULL; /* answered later into the void */
	if (c->ready)
		TAILQ_REMOVE(&srv->ready, c, ready_link);
	c->ready = false;
	LIST_REMOVE(c, link);
	close(c->fd);
	c->dead = true;
	LIST_INSERT_HEAD(&srv->dead, c, link);
	srv->n_conns--;
	listen_watch(srv);
	/* Freed at the next poll, which this makes sure comes. */
	if (write(srv->wake_fd, &one, sizeof(one)) < 0)
		return;
}

static void conn_reap(struct rpc_server *srv)
{
	struct rpc_conn *c;

	while ((c = LIST_FIRST(&srv->dead)) != NULL) {
		LIST_REMOVE(c, link);
		free(c->in);
		free(c->out);
		free(c);
	}
}

static void conn_accept(struct rpc_server *srv)
{
	while (srv->n_conns < RPC_MAX_CONNS) {
		struct rpc_conn *c;
		int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				app_log(srv->log, NVMFT_LOG_WARN, "JSON-RPC: accept: %s",
					strerror(errno));
			break;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			break;
		}
		c->srv = srv;
		c->fd = fd;
		c->moved_ms = now_ms();
		LIST_INSERT_HEAD(&srv->conns, c, link);
		srv->n_conns++;
		conn_watch(c);
		if (c->events == 0) {
			conn_close(c);
			break;
		}
	}
	listen_watch(srv);
}

/* Write what is queued.  false when the connection had to be closed. */
static bool conn_flush(struct rpc_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* The client is gone (EPIPE, ECONNRESET): nobody to answer. */
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
		c->moved_ms = now_ms();
	}
	if (c->out_off == c->out_len) {
		free(c->out);
		c->out = NULL;
		c->out_len = c->out_off = 0;
		if (c->closing || (c->eof && c->cur == NULL && c->in_off == c->in_len)) {
			conn_close(c);
			return false;
		}
	}
	conn_watch(c);
	return true;
}

/* Queue one response (a NUL-terminated text the connection takes over) and start writing it. */
static void conn_send(struct rpc_conn *c, char *text)
{
	size_t len = strlen(text);

	/* The flow rules keep at most one response queued. */
	free(c->out);
	c->out = text;
	c->out_len = len;
	c->out_off = 0;
	/* The client's turn to read starts now. */
	c->moved_ms = now_ms();
	conn_flush(c);
}

/* Reading may continue on @c: work through what it buffered, from rpc_server_poll(). */
static void conn_schedule(struct rpc_conn *c)
{
	uint64_t one = 1;

	if (c->ready)
		return;
	c->ready = true;
	TAILQ_INSERT_TAIL(&c->srv->ready, c, ready_link);
	if (write(c->srv->wake_fd, &one, sizeof(one)) < 0)
		return; /* only fails when the counter is full: a wake-up is pending anyway */
}

/* ---- Answers ---------------------------------------------------------------------- */

static void req_free(struct rpc_req *req)
{
	json_decref(req->root);
	free(req);
}

/* The request is answered: the connection may read its next one. */
static void req_finish(struct rpc_req *req, char *text)
{
	struct rpc_conn *c = req->conn;

	req_free(req);
	if (c == NULL || c->dead) {
		free(text);
		return;
	}
	c->cur = NULL;
	/* What it sent meanwhile (the next request) waited on us, not on it. */
	c->moved_ms = now_ms();
	if (text != NULL)
		conn_send(c, text);
	else
		conn_flush(c);
	if (!c->dead && c->in_off < c->in_len && c->out_len == 0 && !c->closing)
		conn_schedule(c);
}

/* A response object as text with its newline, or NULL when too large or out of memory. */
static char *response_text(json_t *resp)
{
	char *s = json_dumps(resp, JSON_COMPACT);
	size_t len;
	char *t;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	if (len > RPC_MAX_RESPONSE) {
		free(s);
		return NULL;
	}
	t = realloc(s, len + 2);
	if (t == NULL) {
		free(s);
		return NULL;
	}
	t[len] = '\n';
	t[len + 1] = '\0';
	return t;
}

static json_t *envelope(json_t *id)
{
	json_t *resp = json_object();

	if (resp == NULL)
		return NULL;
	json_object_set_new(resp, "jsonrpc", json_string("2.0"));
	json_object_set_new(resp, "id", id != NULL ? json_incref(id) : json_null());
	return resp;
}

static char *error_text(json_t *id, int code, const char *msg)
{
	json_t *resp = envelope(id);
	json_t *e = json_object();
	char *text = NULL;

	if (resp != NULL && e != NULL) {
		json_t *m = json_string(msg);

		/* Messages quote what clients sent; jansson refuses text that is not UTF-8. */
		json_object_set_new(e, "code", json_integer(code));
		json_object_set_new(e, "message", m != NULL ? m : json_string("Error"));
		json_object_set_new(resp, "error", e);
		e = NULL;
		text = response_text(resp);
	}
	json_decref(e);
	json_decref(resp);
	return text;
}

void rpc_req_result(struct rpc_req *req, json_t *result)
{
	json_t *resp;
	char *text = NULL;

	if (result == NULL) {
		rpc_req_error(req, RPC_ERR_INTERNAL, "Out of memory");
		return;
	}
	if (req->id == NULL || req->conn == NULL) {
		/* A notification: JSON-RPC answers no result. */
		json_decref(result);
		req_finish(req, NULL);
		return;
	}
	resp = envelope(req->id);
	if (resp != NULL && json_object_set_new(resp, "result", result) == 0)
		text = response_text(resp);
	else if (resp == NULL)
		json_decref(result);
	json_decref(resp);
	if (text == NULL) {
		rpc_req_error(req, RPC_ERR_INTERNAL, "Internal error: the response is too large");
		return;
	}
	req_finish(req, text);
}

void rpc_req_error(struct rpc_req *req, int code, const char *fmt, ...)
{
	char *msg = NULL;
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (req->conn != NULL)
		text = error_text(req->id, code, msg != NULL ? msg : "Error");
	free(msg);
	req_finish(req, text);
}

void rpc_req_drop(struct rpc_req *req)
{
	req_finish(req, NULL);
}

/* ---- Requests --------------------------------------------------------------------- */

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/*
 * Find the next complete JSON value in @c's input.  1: it is
 * [c->start, *end); 0: more bytes are needed; -1: no JSON value starts
 * like this.  The scanner only counts brackets outside strings; jansson
 * judges the rest.
 */
static int scan(struct rpc_conn *c, size_t *end)
{
	for (; c->pos < c->in_len; c->pos++) {
		char ch = c->in[c->pos];

		switch (c->mode) {
		case SCAN_IDLE:
			if (is_ws(ch)) {
				c->in_off = c->pos + 1;
				continue;
			}
			c->start = c->pos;
			if (ch == '{' || ch == '[') {
				c->mode = SCAN_NEST;
				c->depth = 1;
			} else if (ch == '"') {
				c->mode = SCAN_STRING;
			} else if (ch == '-' || (ch >= '0' && ch <= '9') || ch == 't' || ch == 'f' ||
				   ch == 'n') {
				c->mode = SCAN_SCALAR;
			} else {
				return -1;
			}
			c->in_str = c->mode == SCAN_STRING;
			c->esc = false;
			continue;
		case SCAN_SCALAR:
			if (is_ws(ch) || strchr(",:[]{}\"", ch) != NULL) {
				*end = c->pos;
				c->mode = SCAN_IDLE;
				return 1;
			}
			continue;
		case SCAN_NEST:
		case SCAN_STRING:
			break;
		}
		if (c->in_str) {
			if (c->esc)
				c->esc = false;
			else if (ch == '\\')
				c->esc = true;
			else if (ch == '"')
				c->in_str = false;
			if (c->in_str || c->mode == SCAN_NEST)
				continue;
		} else if (ch == '"') {
			c->in_str = true;
			continue;
		} else if (ch == '{' || ch == '[') {
			c->depth++;
			continue;
		} else if (ch == '}' || ch == ']') {
			if (--c->depth != 0)
				continue;
		} else {
			continue;
		}
		*end = c->pos + 1;
		c->pos++;
		c->mode = SCAN_IDLE;
		return 1;
	}
	return 0;
}

/* A request the envelope rules refuse: answered at once, like SPDK, id null unless it got that far. */
static void refuse(struct rpc_conn *c, json_t *id, int code, const char *msg, bool close_after)
{
	char *text = error_text(id, code, msg);

	c->closing = close_after;
	if (text == NULL) {
		conn_close(c);
		return;
	}
	conn_send(c, text);
}

static bool envelope_key(const char *key)
{
	return strcmp(key, "jsonrpc") == 0 || strcmp(key, "method") == 0 ||
	       strcmp(key, "params") == 0 || strcmp(key, "id") == 0;
}

/* Check the envelope of @root (taken) and hand the request to the handler. */
static void dispatch(struct rpc_conn *c, json_t *root, bool dup_key)
{
	json_t *version, *method, *id, *params;
	struct rpc_req *req;
	const char *key;
	json_t *v;

	if (json_is_array(root) || !json_is_object(root)) {
		/* Batches are not supported by SPDK either. */
		json_decref(root);
		refuse(c, NULL, RPC_ERR_INVALID_REQUEST, "Invalid request", false);
		return;
	}
	json_object_foreach(root, key, v) {
		if (!envelope_key(key)) {
			json_decref(root);
			refuse(c, NULL, RPC_ERR_INVALID_REQUEST, "Invalid request", false);
			return;
		}
	}
	version = json_object_get(root, "jsonrpc");
	method = json_object_get(root, "method");
	id = json_object_get(root, "id");
	params = json_object_get(root, "params");
	if ((version != NULL && (!json_is_string(version) ||
				 strcmp(json_string_value(version), "2.0") != 0)) ||
	    !json_is_string(method) ||
	    (id != NULL && !json_is_string(id) && !json_is_number(id) && !json_is_null(id))) {
		json_decref(root);
		refuse(c, NULL, RPC_ERR_INVALID_REQUEST, "Invalid request", false);
		return;
	}
	if (params != NULL && !json_is_null(params) && !json_is_object(params) &&
	    !json_is_array(params)) {
		json_incref(id);
		json_decref(root);
		refuse(c, id, RPC_ERR_INVALID_REQUEST, "Invalid request", false);
		json_decref(id);
		return;
	}
	req = calloc(1, sizeof(*req));
	if (req == NULL) {
		json_decref(root);
		refuse(c, NULL, RPC_ERR_INTERNAL, "Out of memory", false);
		return;
	}
	req->conn = c;
	req->root = root;
	req->id = json_is_null(id) ? NULL : id;
	req->method = json_string_value(method);
	req->params = json_is_null(params) ? NULL : params;
	req->dup_key = dup_key;
	c->cur = req;
	conn_watch(c);
	c->srv->handle(c->srv->handle_arg, req);
}

/* Parse the value [c->start, end) and act on it. */
static void take_value(struct rpc_conn *c, size_t end)
{
	const size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES;
	json_error_t jerr;
	json_t *root;
	bool dup = false;

	root = json_loadb(c->in + c->start, end - c->start, flags, &jerr);
	if (root == NULL && json_error_code(&jerr) == json_error_duplicate_key) {
		/* SPDK refuses repeated keys when it decodes; parse again to know the id. */
		dup = true;
		root = json_loadb(c->in + c->start, end - c->start, JSON_DECODE_ANY, &jerr);
	}
	c->in_off = end;
	if (root == NULL) {
		app_log(c->srv->log, NVMFT_LOG_INFO, "JSON-RPC: parse error: %s", jerr.text);
		refuse(c, NULL, RPC_ERR_PARSE, "Parse error", true);
		return;
	}
	dispatch(c, root, dup);
}

/*
 * Take complete requests while the connection is free for one.  Returns
 * false when @c was closed.
 */
static bool conn_parse(struct rpc_conn *c, unsigned int *budget)
{
	size_t end;
	int r;

	while (c->cur == NULL && c->out_len == 0 && !c->closing) {
		if (*budget == 0) {
			conn_schedule(c);
			break;
		}
		r = scan(c, &end);
		if (r == 0) {
			if (c->mode != SCAN_IDLE && c->in_len - c->start > RPC_MAX_REQUEST) {
				refuse(c, NULL, RPC_ERR_INVALID_REQUEST,
				       "Invalid request: larger than 16 MiB", true);
				return !c->dead;
			}
			break;
		}
		if (r < 0) {
			refuse(c, NULL, RPC_ERR_PARSE, "Parse error", true);
			return !c->dead;
		}
		(*budget)--;
		take_value(c, end);
		if (c->dead)
			return false;
	}
	if (c->eof && c->cur == NULL && c->out_len == 0 &&
	    (c->in_off == c->in_len || c->mode != SCAN_IDLE || c->closing)) {
		/* Half-closed and everything answered; a partial request can never finish. */
		conn_close(c);
		return false;
	}
	return true;
}

/* Room for RPC_READ_CHUNK more bytes; consumed bytes are dropped first. */
static int conn_reserve(struct rpc_conn *c)
{
	size_t keep = c->in_len - c->in_off;
	size_t need, cap;
	char *p;

	if (c->in_off > 0 && (c->in_off >= c->in_cap / 2 || keep == 0)) {
		memmove(c->in, c->in + c->in_off, keep);
		c->pos -= c->in_off;
		c->start = c->start >= c->in_off ? c->start - c->in_off : 0;
		c->in_len = keep;
		c->in_off = 0;
	}
	need = c->in_len + RPC_READ_CHUNK;
	if (need <= c->in_cap)
		return 0;
	cap = c->in_cap ? c->in_cap : RPC_READ_CHUNK;
	while (cap < need)
		cap *= 2;
	p = realloc(c->in, cap);
	if (p == NULL)
		return -ENOMEM;
	c->in = p;
	c->in_cap = cap;
	return 0;
}

static void conn_read(struct rpc_conn *c, unsigned int *budget)
{
	size_t got = 0;

	while (got < RPC_READ_CHUNK && !c->eof) {
		ssize_t n;

		if (conn_reserve(c) < 0) {
			refuse(c, NULL, RPC_ERR_INTERNAL, "Out of memory", true);
			return;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			conn_close(c);
			return;
		}
		if (n == 0) {
			c->eof = true;
			break;
		}
		c->in_len += (size_t)n;
		got += (size_t)n;
		c->moved_ms = now_ms();
		/* Stop reading once a whole request is in: the rest waits its turn. */
		if (c->cur == NULL) {
			if (!conn_parse(c, budget))
				return;
			if (c->cur != NULL || c->out_len != 0 || c->closing)
				break;
		}
	}
	if (!conn_parse(c, budget))
		return;
	conn_watch(c);
}

void rpc_server_poll(struct rpc_server *srv)
{
	struct epoll_event ev[32];
	unsigned int budget = RPC_POLL_BUDGET;
	struct rpc_conn *c;
	uint64_t v;
	int n;

	n = epoll_wait(srv->epfd, ev, 32, 0);
	for (int i = 0; i < n; i++) {
		void *p = ev[i].data.ptr;

		if (p == srv) {
			conn_accept(srv);
			continue;
		}
		if (p == &srv->wake_fd) {
			if (read(srv->wake_fd, &v, sizeof(v)) < 0)
				v = 0;
			continue;
		}
		if (p == &srv->timer_fd) {
			if (read(srv->timer_fd, &v, sizeof(v)) < 0)
				v = 0;
			stall_check(srv);
			continue;
		}
		c = p;
		/* An earlier event of this batch may have closed it (it is freed below). */
		if (c->dead)
			continue;
		if ((ev[i].events & EPOLLOUT) && !conn_flush(c))
			continue;
		if (ev[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
			if (c->cur == NULL && c->out_len == 0) {
				conn_read(c, &budget); /* takes what is left, then sees the end */
			} else {
				c->eof = true;
				conn_watch(c);
			}
			continue;
		}
		if (ev[i].events & EPOLLIN)
			conn_read(c, &budget);
	}
	/* Connections free again with requests buffered, oldest first. */
	while (budget > 0 && (c = TAILQ_FIRST(&srv->ready)) != NULL) {
		TAILQ_REMOVE(&srv->ready, c, ready_link);
		c->ready = false;
		if (conn_parse(c, &budget))
			conn_watch(c);
	}
	conn_reap(srv);
	v = 1;
	if (!TAILQ_EMPTY(&srv->ready) && write(srv->wake_fd, &v, sizeof(v)) < 0)
		return;
}
