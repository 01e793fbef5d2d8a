/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One pthread per poll group.  The threads inherit the main thread's signal
 * mask, which blocks SIGINT and SIGTERM, so signals reach only the main
 * thread's signalfd.
 *
 * Event-driven threads sleep in their own epoll set holding the group's
 * descriptor and a wake eventfd.  nvmft_poll_group_wait() would sleep on
 * the group alone; the extra eventfd is what lets the main thread wake an
 * idle thread to tell it to stop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "threads.h"

struct pg_worker {
	struct pg_threads *pt;
	struct nvmft_poll_group *pg;
	pthread_t thread;
	bool started;
	int wake_fd; /* eventfd: the main thread has something to say */
	int epfd;    /* event-driven mode: group fd + wake_fd */
	atomic_bool stop_requested;
	bool stopped; /* set by the stop callback, on the worker's thread */
	atomic_int status;
};

struct pg_threads {
	const struct app_logger *log;
	bool busy_poll;
	int exit_fd; /* eventfd: one count per exited thread */
	unsigned int n;
	unsigned int n_started;
	unsigned int n_exited;
	struct pg_worker w[];
};

static void eventfd_add(int fd)
{
	uint64_t one = 1;

	/* Only fails when the counter would overflow, which a few adds never do. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

static uint64_t eventfd_take(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void worker_stopped(void *arg, int status)
{
	struct pg_worker *w = arg;

	if (status < 0)
		app_log(w->pt->log, NVMFT_LOG_WARN, "poll group %s stopped: %s",
			nvmft_poll_group_get_name(w->pg), strerror(-status));
	w->stopped = true;
}

/* Sleep until the group has work, its next deadline, or a wake-up. */
static int worker_wait(struct pg_worker *w)
{
	struct epoll_event ev[2];
	int timeout, n;

	timeout = nvmft_poll_group_get_timeout_ms(w->pg);
	if (timeout == 0)
		return 0;
	n = epoll_wait(w->epfd, ev, 2, timeout);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++)
		if (ev[i].data.fd == w->wake_fd)
			eventfd_take(w->wake_fd);
	return 0;
}

static void *worker_main(void *arg)
{
	struct pg_worker *w = arg;
	const char *name = nvmft_poll_group_get_name(w->pg);
	bool stopping = false;
	int rc = 0;

	while (!w->stopped) {
		if (!stopping && atomic_load(&w->stop_requested)) {
			/* Disconnects the group's hosts; the callback comes from a later poll. */
			rc = nvmft_poll_group_stop(w->pg, worker_stopped, w);
			if (rc < 0 && rc != -EALREADY) {
				app_log(w->pt->log, NVMFT_LOG_ERR, "poll group %s: stop failed: %s",
					name, strerror(-rc));
				break;
			}
			rc = 0;
			stopping = true;
		}
		rc = nvmft_poll_group_poll(w->pg, 0);
		if (rc == -ESHUTDOWN) {
			rc = 0;
			break;
		}
		if (rc < 0) {
			app_log(w->pt->log, NVMFT_LOG_ERR, "poll group %s: poll failed: %s", name,
				strerror(-rc));
			break;
		}
		if (rc > 0 || w->stopped || w->pt->busy_poll)
			continue;
		rc = worker_wait(w);
		if (rc < 0) {
			app_log(w->pt->log, NVMFT_LOG_ERR, "poll group %s: epoll_wait: %s", name,
				strerror(-rc));
			break;
		}
	}
	atomic_store(&w->status, rc < 0 ? rc : 0);
	eventfd_add(w->pt->exit_fd);
	return NULL;
}

static int worker_init(struct pg_threads *pt, struct pg_worker *w, struct nvmft_target *tgt,
		       unsigned int idx)
{
	struct nvmft_poll_group_opts opts;
	struct epoll_event ev = { .events = EPOLLIN };
	char name[16];
	int rc;

	w->pt = pt;
	w->wake_fd = -1;
	w->epfd = -1;
	atomic_init(&w->stop_requested, false);
	atomic_init(&w->status, 0);
	nvmft_poll_group_opts_init(&opts, sizeof(opts));
	snprintf(name, sizeof(name), "pg%u", idx);
	opts.name = name;
	opts.busy_poll = pt->busy_poll;
	rc = nvmft_poll_group_new(tgt, &opts, &w->pg);
	if (rc < 0)
		return rc;
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake_fd < 0)
		return -errno;
	if (pt->busy_poll)
		return 0;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;
	ev.data.fd = nvmft_poll_group_get_fd(w->pg);
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
		return -errno;
	ev.data.fd = w->wake_fd;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
		return -errno;
	return 0;
}

static void worker_fini(struct pg_worker *w, int *rc)
{
	int r;

	if (w->pg != NULL) {
		r = nvmft_poll_group_free(w->pg);
		if (r < 0) {
			app_log(w->pt->log, NVMFT_LOG_ERR, "poll group %s: cannot be freed: %s",
				nvmft_poll_group_get_name(w->pg), strerror(-r));
			if (*rc == 0)
				*rc = r;
		}
	}
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->epfd >= 0)
		close(w->epfd);
}

int pg_threads_new(struct nvmft_target *tgt, unsigned int n, bool busy_poll,
		   const struct app_logger *log, struct pg_threads **ret)
{
	struct pg_threads *pt;
	int rc = 0;

	pt = calloc(1, sizeof(*pt) + n * sizeof(pt->w[0]));
	if (pt == NULL)
		return -ENOMEM;
	pt->log = log;
	pt->busy_poll = busy_poll;
	pt->exit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pt->exit_fd < 0)
		rc = -errno;
	for (unsigned int i = 0; rc == 0 && i < n; i++) {
		pt->n++;
		rc = worker_init(pt, &pt->w[i], tgt, i);
	}
	if (rc < 0) {
		pg_threads_free(pt);
		return rc;
	}
	*ret = pt;
	return 0;
}

int pg_threads_run(struct pg_threads *pt)
{
	for (unsigned int i = 0; i < pt->n; i++) {
		struct pg_worker *w = &pt->w[i];
		char name[24];
		int rc;

		rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc != 0)
			return -rc;
		w->started = true;
		pt->n_started++;
		snprintf(name, sizeof(name), "nvmft-pg%u", i);
		name[15] = '\0'; /* the kernel keeps 15 characters */
		pthread_setname_np(w->thread, name);
	}
	return 0;
}

void pg_threads_stop(struct pg_threads *pt)
{
	for (unsigned int i = 0; i < pt->n; i++) {
		struct pg_worker *w = &pt->w[i];

		if (!w->started || atomic_exchange(&w->stop_requested, true))
			continue;
		eventfd_add(w->wake_fd);
	}
}

int pg_threads_get_fd(const struct pg_threads *pt)
{
	return pt->exit_fd;
}

int pg_threads_reap(struct pg_threads *pt)
{
	pt->n_exited += (unsigned int)eventfd_take(pt->exit_fd);
	for (unsigned int i = 0; i < pt->n; i++) {
		int status = atomic_load(&pt->w[i].status);

		if (status < 0)
			return status;
	}
	return 0;
}

bool pg_threads_all_exited(const struct pg_threads *pt)
{
	return pt->n_exited >= pt->n_started;
}

int pg_threads_free(struct pg_threads *pt)
{
	int rc = 0;

	if (pt == NULL)
		return 0;
	for (unsigned int i = 0; i < pt->n; i++)
		if (pt->w[i].started)
			pthread_join(pt->w[i].thread, NULL);
	for (unsigned int i = 0; i < pt->n; i++)
		worker_fini(&pt->w[i], &rc);
	if (pt->exit_fd >= 0)
		close(pt->exit_fd);
	free(pt);
	return rc;
}
