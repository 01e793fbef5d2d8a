/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An application backend: a RAM disk whose I/O runs on worker threads.
 *
 * Shows the parts of the backend contract an application meets first:
 *  - the method table and nvmft_backend_new();
 *  - one channel per poll group, opened and closed on that group's thread;
 *  - submit() never blocks: it copies what the worker needs out of the
 *    request and queues it;
 *  - the worker completes from its own thread with nvmft_req_complete_remote(),
 *    and the completion is handed back to the poll group by the library;
 *  - errno values as completion status (-EILSEQ for a Compare mismatch).
 *
 * The rest of main() is the smallest target that serves it: TCP on
 * 127.0.0.1, one subsystem that admits any host, one poll group driven from
 * the same thread as the management side.
 *
 *   custom_backend [port [size_mib]]
 *   nvme connect -t tcp -a 127.0.0.1 -s 4420 -n nqn.2024-01.io.libnvmft.example:ram
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <nvmft/nvmft.h>

#define BLOCK_SIZE 4096u

struct ram_disk {
	uint8_t *mem;
	uint64_t num_blocks;
};

/* One queued request: everything the worker needs, taken on the channel thread. */
struct job {
	struct nvmft_req *req;
	enum nvmft_io_type type;
	uint64_t off;
	uint64_t len;
	const struct iovec *iov;
	int iovcnt;
	uint32_t nr_ranges;
	struct job *next;
};

struct ram_chan {
	struct ram_disk *disk;
	pthread_t worker;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail; /* under @lock */
	bool stop;                /* under @lock */
};

/* ---- the work, on the worker thread ------------------------------------- */

static int iov_copy(const struct iovec *iov, int iovcnt, uint8_t *flat, uint64_t len, bool to_iov)
{
	uint64_t done = 0;

	for (int i = 0; i < iovcnt && done < len; i++) {
		size_t n = iov[i].iov_len < len - done ? iov[i].iov_len : (size_t)(len - done);

		if (to_iov)
			memcpy(iov[i].iov_base, flat + done, n);
		else
			memcpy(flat + done, iov[i].iov_base, n);
		done += n;
	}
	return done == len ? 0 : -EFAULT;
}

static int iov_compare(const struct iovec *iov, int iovcnt, const uint8_t *flat, uint64_t len)
{
	uint64_t done = 0;

	for (int i = 0; i < iovcnt && done < len; i++) {
		size_t n = iov[i].iov_len < len - done ? iov[i].iov_len : (size_t)(len - done);

		if (memcmp(iov[i].iov_base, flat + done, n) != 0)
			return -EILSEQ;
		done += n;
	}
	return done == len ? 0 : -EFAULT;
}

static int run_job(struct ram_disk *d, struct job *j)
{
	uint64_t slba, nlb;

	switch (j->type) {
	case NVMFT_IO_READ:
		return iov_copy(j->iov, j->iovcnt, d->mem + j->off, j->len, true);
	case NVMFT_IO_WRITE:
		/* RAM: a write is as durable as it will ever be, FUA or not. */
		return iov_copy(j->iov, j->iovcnt, d->mem + j->off, j->len, false);
	case NVMFT_IO_COMPARE:
		return iov_compare(j->iov, j->iovcnt, d->mem + j->off, j->len);
	case NVMFT_IO_WRITE_ZEROES:
		memset(d->mem + j->off, 0, j->len);
		return 0;
	case NVMFT_IO_DEALLOCATE:
		for (uint32_t i = 0; i < j->nr_ranges; i++) {
			if (nvmft_req_get_range(j->req, i, &slba, &nlb) != 0)
				return -EINVAL;
			memset(d->mem + slba * BLOCK_SIZE, 0, nlb * BLOCK_SIZE);
		}
		return 0;
	default:
		return 0; /* Flush: nothing is cached */
	}
}

static void *worker_main(void *arg)
{
	struct ram_chan *ch = arg;
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&ch->lock);
		while (ch->head == NULL && !ch->stop)
			pthread_cond_wait(&ch->cond, &ch->lock);
		j = ch->head;
		if (j == NULL) {
			pthread_mutex_unlock(&ch->lock);
			return NULL;
		}
		ch->head = j->next;
		if (ch->head == NULL)
			ch->tail = NULL;
		pthread_mutex_unlock(&ch->lock);

		/* Any thread may complete; the library routes it to the right group. */
		nvmft_req_complete_remote(j->req, run_job(ch->disk, j));
		free(j);
	}
}

/* ---- the method table, on the poll group's thread ----------------------- */

static int ram_channel_open(void *ctx, void **chan)
{
	struct ram_chan *ch = calloc(1, sizeof(*ch));
	int rc;

	if (ch == NULL)
		return -ENOMEM;
	ch->disk = ctx;
	pthread_mutex_init(&ch->lock, NULL);
	pthread_cond_init(&ch->cond, NULL);
	rc = pthread_create(&ch->worker, NULL, worker_main, ch);
	if (rc != 0) {
		pthread_cond_destroy(&ch->cond);
		pthread_mutex_destroy(&ch->lock);
		free(ch);
		return -rc;
	}
	*chan = ch;
	return 0;
}

static void ram_channel_close(void *ctx, void *chan)
{
	struct ram_chan *ch = chan;

	(void)ctx;
	/* The core closes a channel only once nothing is outstanding on it. */
	pthread_mutex_lock(&ch->lock);
	ch->stop = true;
	pthread_cond_signal(&ch->cond);
	pthread_mutex_unlock(&ch->lock);
	pthread_join(ch->worker, NULL);
	pthread_cond_destroy(&ch->cond);
	pthread_mutex_destroy(&ch->lock);
	free(ch);
}

static int ram_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	struct ram_disk *d = ctx;
	struct ram_chan *ch = chan;
	uint64_t slba = nvmft_req_get_offset_blocks(req);
	uint64_t nlb = nvmft_req_get_num_blocks(req);
	uint64_t r_slba, r_nlb;
	struct job *j;

	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM; /* not started: the core fails it as "not ready", retryable */
	j->req = req;
	j->type = nvmft_req_get_io_type(req);
	j->iov = nvmft_req_get_iovs(req, &j->iovcnt);
	j->nr_ranges = nvmft_req_get_range_count(req);

	/* The core checks ranges first; a backend still never trusts them. */
	if (j->type == NVMFT_IO_DEALLOCATE) {
		for (uint32_t i = 0; i < j->nr_ranges; i++) {
			if (nvmft_req_get_range(req, i, &r_slba, &r_nlb) != 0 ||
			    r_slba > d->num_blocks || r_nlb > d->num_blocks - r_slba) {
				free(j);
				return -ERANGE;
			}
		}
	} else if (j->type != NVMFT_IO_FLUSH) {
		if (slba > d->num_blocks || nlb > d->num_blocks - slba) {
			free(j);
			return -ERANGE;
		}
		j->off = slba * BLOCK_SIZE;
		j->len = nlb * BLOCK_SIZE;
	}

	pthread_mutex_lock(&ch->lock);
	if (ch->tail != NULL)
		ch->tail->next = j;
	else
		ch->head = j;
	ch->tail = j;
	pthread_cond_signal(&ch->cond);
	pthread_mutex_unlock(&ch->lock);
	return 0;
}

static void ram_destroy(void *ctx)
{
	struct ram_disk *d = ctx;

	munmap(d->mem, d->num_blocks * BLOCK_SIZE);
	free(d);
}

static const struct nvmft_backend_ops ram_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = ram_channel_open,
	.channel_close = ram_channel_close,
	.submit = ram_submit,
	/* Completions arrive as messages: no channel_poll or channel fd needed. */
	.destroy = ram_destroy,
};

static int ram_backend_new(const char *name, uint64_t size, struct nvmft_backend **ret)
{
	struct nvmft_backend_opts opts;
	struct ram_disk *d;
	int rc;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->num_blocks = size / BLOCK_SIZE;
	d->mem = mmap(NULL, d->num_blocks * BLOCK_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (d->mem == MAP_FAILED) {
		free(d);
		return -ENOMEM;
	}
	nvmft_backend_opts_init(&opts, sizeof(opts));
	opts.name = name;
	opts.block_size = BLOCK_SIZE;
	opts.num_blocks = d->num_blocks;
	opts.caps = NVMFT_BACKEND_CAP_FUA | NVMFT_BACKEND_CAP_WRITE_ZEROES |
		    NVMFT_BACKEND_CAP_DEALLOCATE | NVMFT_BACKEND_CAP_DEALLOC_ZEROES |
		    NVMFT_BACKEND_CAP_COMPARE;
	rc = nvmft_backend_new(&ram_ops, d, &opts, ret);
	if (rc < 0)
		ram_destroy(d); /* on failure the context is still ours */
	return rc;
}

/* ---- a minimal target --------------------------------------------------- */

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

struct wait {
	bool done;
	int status;
};

static void on_done(void *arg, int status)
{
	struct wait *w = arg;

	w->status = status;
	w->done = true;
}

static void log_stderr(void *arg, enum nvmft_log_level level, const char *msg)
{
	(void)arg;
	fprintf(stderr, "nvmft %s: %s\n", nvmft_log_level_name(level), msg);
}

/* Sleep until the target or the group has work, then serve both. */
static void serve_once(struct nvmft_target *tgt, struct nvmft_poll_group *pg)
{
	struct pollfd p[2] = {
		{ .fd = nvmft_target_get_fd(tgt), .events = POLLIN },
		{ .fd = nvmft_poll_group_get_fd(pg), .events = POLLIN },
	};
	int t1 = nvmft_target_get_timeout_ms(tgt);
	int t2 = nvmft_poll_group_get_timeout_ms(pg);
	int timeout = 200; /* also bounds how late a signal is noticed */

	if (t1 >= 0 && t1 < timeout)
		timeout = t1;
	if (t2 >= 0 && t2 < timeout)
		timeout = t2;
	poll(p, 2, timeout);
	nvmft_target_poll(tgt);
	nvmft_poll_group_poll(pg, 0);
}

int main(int argc, char **argv)
{
	const char *port = argc > 1 ? argv[1] : "4420";
	uint64_t size_mib = argc > 2 ? strtoull(argv[2], NULL, 0) : 1024;
	struct nvmft_target_opts topts;
	struct nvmft_transport_opts tropts;
	struct nvmft_listen_opts lopts;
	struct nvmft_subsystem_opts sopts;
	struct nvmft_target *tgt = NULL;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	struct nvmft_subsystem *ss;
	struct nvmft_poll_group *pg = NULL;
	struct nvmft_backend *be = NULL;
	struct nvmft_ns *ns;
	struct wait removed = { 0 }, stopped = { 0 };
	int rc;

	if (size_mib == 0 || size_mib > (1ull << 24)) {
		fprintf(stderr, "usage: %s [port [size_mib]]\n", argv[0]);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	nvmft_target_opts_init(&topts, sizeof(topts));
	topts.log_fn = log_stderr;
	topts.log_level = NVMFT_LOG_NOTICE;
	rc = nvmft_target_new(&topts, &tgt);
	if (rc < 0)
		goto out;

	rc = nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &tropts, sizeof(tropts));
	if (rc == 0)
		rc = nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, &tropts, &tr);
	if (rc < 0)
		goto out;
	memset(&lopts, 0, sizeof(lopts));
	lopts.size = sizeof(lopts);
	lopts.adrfam = NVMFT_ADRFAM_IPV4;
	lopts.traddr = "127.0.0.1";
	lopts.trsvcid = port;
	rc = nvmft_listener_new(tr, &lopts, &l);
	if (rc < 0)
		goto out;

	nvmft_subsystem_opts_init(&sopts, sizeof(sopts));
	sopts.nqn = "nqn.2024-01.io.libnvmft.example:ram";
	sopts.allow_any_host = true;
	rc = nvmft_subsystem_new(tgt, &sopts, &ss);
	if (rc == 0)
		rc = nvmft_subsystem_add_listener(ss, l);
	if (rc < 0)
		goto out;

	rc = nvmft_poll_group_new(tgt, NULL, &pg);
	if (rc < 0)
		goto out;

	rc = ram_backend_new("ram0", size_mib << 20, &be);
	if (rc == 0)
		rc = nvmft_ns_add(ss, be, NULL, NULL, NULL, &ns);
	if (rc < 0)
		goto out;

	printf("serving %llu MiB on %s:%s as %s\n", (unsigned long long)size_mib, lopts.traddr,
	       nvmft_listener_get_trsvcid(l), sopts.nqn);
	/* The ready line: a script waiting on a pipe (port 0) must see it now. */
	fflush(stdout);
	while (!stopping)
		serve_once(tgt, pg);

	/* Two-phase teardown: the namespace drains on every group first. */
	nvmft_ns_remove(ns, on_done, &removed);
	while (!removed.done)
		serve_once(tgt, pg);
	if (removed.status < 0)
		fprintf(stderr, "namespace removal: %s\n", strerror(-removed.status));
	nvmft_poll_group_stop(pg, on_done, &stopped);
	while (!stopped.done)
		serve_once(tgt, pg);
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "custom_backend: %s\n", strerror(-rc));
	if (pg != NULL)
		nvmft_poll_group_free(pg);
	nvmft_target_free(tgt);
	/* The namespace is gone (or was never added): the backend is ours to free. */
	if (be != NULL)
		nvmft_backend_free(be);
	return rc < 0 ? 1 : 0;
}
