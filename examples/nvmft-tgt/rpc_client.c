/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON-RPC client (rpc_client.h).  Non-blocking socket, poll() with a
 * deadline for every wait, so a server that stops answering makes a call
 * fail rather than hang.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rpc_client.h"

struct rpc_client {
	int fd;
	int timeout_ms;
	long long next_id;
	char *buf;
	size_t len;
	size_t cap;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rpc_client_connect(const char *path, int timeout_ms, struct rpc_client **ret)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	long long deadline = now_ms() + timeout_ms;
	struct rpc_client *c;
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			break;
		rc = -errno;
		close(fd);
		if ((rc != -ENOENT && rc != -ECONNREFUSED) || now_ms() >= deadline)
			return rc;
		poll(NULL, 0, 20);
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	c->next_id = 1;
	*ret = c;
	return 0;
}

void rpc_client_close(struct rpc_client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

int rpc_client_fd(const struct rpc_client *c)
{
	return c->fd;
}

void rpc_client_set_timeout(struct rpc_client *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

static int wait_fd(struct rpc_client *c, short events, long long deadline)
{
	struct pollfd p = { .fd = c->fd, .events = events };
	long long left = deadline - now_ms();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(&p, 1, (int)left);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

int rpc_client_send(struct rpc_client *c, const void *buf, size_t len)
{
	long long deadline = now_ms() + c->timeout_ms;
	const char *p = buf;
	int rc;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return errno == ECONNRESET ? -EPIPE : -errno;
		rc = wait_fd(c, POLLOUT, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int rpc_client_recv(struct rpc_client *c, json_t **resp)
{
	long long deadline = now_ms() + c->timeout_ms;
	json_error_t jerr;
	char *nl;
	int rc;

	while ((nl = c->len ? memchr(c->buf, '\n', c->len) : NULL) == NULL) {
		ssize_t n;

		if (c->cap - c->len < 65536) {
			size_t cap = c->cap ? 2 * c->cap : 65536;
			char *b = realloc(c->buf, cap);

			if (b == NULL)
				return -ENOMEM;
			c->buf = b;
			c->cap = cap;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return -EPIPE;
		rc = wait_fd(c, POLLIN, deadline);
		if (rc < 0)
			return rc;
	}
	*resp = json_loadb(c->buf, (size_t)(nl - c->buf), 0, &jerr);
	c->len -= (size_t)(nl + 1 - c->buf);
	memmove(c->buf, nl + 1, c->len);
	return *resp != NULL ? 0 : -EPROTO;
}

int rpc_client_call(struct rpc_client *c, const char *method, json_t *params, json_t **resp)
{
	long long id = c->next_id++;
	json_t *req = json_pack("{s:s, s:s, s:I}", "jsonrpc", "2.0", "method", method, "id",
				(json_int_t)id);
	char *text;
	int rc;

	if (req == NULL)
		return -ENOMEM;
	if (params != NULL)
		json_object_set(req, "params", params);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (text == NULL)
		return -ENOMEM;
	rc = rpc_client_send(c, text, strlen(text));
	free(text);
	while (rc == 0) {
		json_t *r;

		rc = rpc_client_recv(c, &r);
		if (rc < 0)
			break;
		/* An answer to an earlier notification's error has id null: skip it. */
		if (json_integer_value(json_object_get(r, "id")) == id) {
			*resp = r;
			return 0;
		}
		json_decref(r);
	}
	return rc;
}
