/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Poll group threads: the program, not the library, owns them.  Each thread
 * drives exactly one poll group, either busy-polling or sleeping in epoll on
 * the group's descriptor.  Life cycle, all calls from the management (main)
 * thread:
 *
 *   pg_threads_new()   create the poll groups (no threads yet)
 *   pg_threads_run()   start one thread per group
 *   pg_threads_stop()  ask every thread to stop its group and finish
 *   pg_threads_reap()  when pg_threads_get_fd() is readable: count exits
 *   pg_threads_free()  join the threads and free the poll groups
 */
#ifndef NVMFT_TGT_THREADS_H
#define NVMFT_TGT_THREADS_H

#include <stdbool.h>

#include <nvmft/nvmft.h>

#include "app.h"

struct pg_threads;

/*
 * Create @n poll groups named pg0..pg<n-1> on @tgt.  Return 0 or -errno
 * (then nothing is left behind).
 */
int pg_threads_new(struct nvmft_target *tgt, unsigned int n, bool busy_poll,
		   const struct app_logger *log, struct pg_threads **ret);

/*
 * Start the threads.  On failure the threads already started keep running
 * and must be stopped like the others; returns -errno.
 */
int pg_threads_run(struct pg_threads *pt);

/* Ask every running thread to stop; idempotent. */
void pg_threads_stop(struct pg_threads *pt);

/* Readable (EPOLLIN) when a thread has exited. */
int pg_threads_get_fd(const struct pg_threads *pt);

/*
 * Account for exited threads.  Return 0, or the -errno of a thread whose
 * poll group failed (the program should then shut down).
 */
int pg_threads_reap(struct pg_threads *pt);

/* Whether every started thread has exited. */
bool pg_threads_all_exited(const struct pg_threads *pt);

/*
 * Join the threads (call after pg_threads_stop()) and free the poll groups.
 * Return 0, or -EBUSY when a group could not be freed: the target must then
 * not be freed either.  @pt is freed in both cases; NULL is accepted.
 */
int pg_threads_free(struct pg_threads *pt);

#endif /* NVMFT_TGT_THREADS_H */
