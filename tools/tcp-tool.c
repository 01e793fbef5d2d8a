/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcp-tool.h"

uint64_t tt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int tt_pin(int core)
{
	cpu_set_t set;

	if (core < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(core, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static int resolve(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len,
		   bool passive)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) }, *res;
	char svc[8];
	int rc;

	snprintf(svc, sizeof(svc), "%u", port);
	rc = getaddrinfo(addr, svc, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "cannot resolve %s: %s\n", addr ? addr : "*", gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void tune(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int tt_listen(const char *addr, uint16_t port, uint16_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (resolve(addr, port, &ss, &len, true))
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4) < 0) {
		fprintf(stderr, "cannot listen on %s port %u: %s\n", addr ? addr : "*", port,
			strerror(errno));
		close(fd);
		return -1;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
					       ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int tt_accept(int lfd, int timeout_ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0)
		tune(fd);
	return fd;
}

int tt_connect(const char *addr, uint16_t port, int timeout_ms)
{
	struct sockaddr_storage ss;
	struct pollfd p;
	socklen_t len;
	int fd, err = 0;

	if (resolve(addr, port, &ss, &len, false))
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	tune(fd);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		socklen_t elen = sizeof(err);

		if (errno != EINPROGRESS)
			goto fail;
		p.fd = fd;
		p.events = POLLOUT;
		if (poll(&p, 1, timeout_ms) != 1) {
			errno = ETIMEDOUT;
			goto fail;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
		if (err) {
			errno = err;
			goto fail;
		}
	}
	return fd;
fail:
	fprintf(stderr, "cannot connect to %s port %u: %s\n", addr, port, strerror(errno));
	close(fd);
	return -1;
}

int tt_send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tt_recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, p + got, len - got, MSG_DONTWAIT);

		if (n == 0)
			return got == 0 ? 1 : -1;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

static double tv(const struct timeval *t)
{
	return (double)t->tv_sec + (double)t->tv_usec / 1e6;
}

void tt_cpu_start(struct tt_cpu *c)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	c->user_s = tv(&ru.ru_utime);
	c->sys_s = tv(&ru.ru_stime);
	c->wall_s = (double)tt_now_ns() / 1e9;
}

void tt_cpu_stop(struct tt_cpu *c)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	c->user_s = tv(&ru.ru_utime) - c->user_s;
	c->sys_s = tv(&ru.ru_stime) - c->sys_s;
	c->wall_s = (double)tt_now_ns() / 1e9 - c->wall_s;
}

double tt_cpu_pct(const struct tt_cpu *c)
{
	return c->wall_s > 0 ? (c->user_s + c->sys_s) / c->wall_s * 100.0 : 0.0;
}

bool tt_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool tt_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return false;
	*out = v;
	return true;
}
