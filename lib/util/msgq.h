/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Multi-producer, single-consumer message queue with an eventfd, the only
 * way threads talk to a poll group or to the management thread.
 *
 * Messages are intrusive (embed struct nvmft_msg), so posting never
 * allocates.  Producers are lock-free (one atomic exchange); the consumer
 * drains in FIFO order.  The eventfd is written only on the transition from
 * "nothing signalled" so a busy producer does not make a syscall per message.
 */
#ifndef NVMFT_UTIL_MSGQ_H
#define NVMFT_UTIL_MSGQ_H

#include <stdbool.h>

struct nvmft_msg;
typedef void (*nvmft_msg_fn)(struct nvmft_msg *msg);

struct nvmft_msg {
	struct nvmft_msg *_Atomic next;
	nvmft_msg_fn fn;
};

struct nvmft_msgq {
	struct nvmft_msg *_Atomic head; /* producers swap themselves in here */
	struct nvmft_msg *tail;         /* consumer side */
	struct nvmft_msg stub;
	_Atomic bool signalled;
	int efd;
};

/* Return 0 or -errno (eventfd). */
int nvmft_msgq_init(struct nvmft_msgq *q);
/* Messages still queued are dropped; their owners must not care. */
void nvmft_msgq_fini(struct nvmft_msgq *q);
/* Any thread.  @msg must stay valid until its fn runs. */
void nvmft_msgq_post(struct nvmft_msgq *q, struct nvmft_msg *msg, nvmft_msg_fn fn);
/* Consumer thread.  Runs up to @budget messages (0 = all queued); returns how many ran. */
unsigned int nvmft_msgq_drain(struct nvmft_msgq *q, unsigned int budget);
/* Consumer thread: true when a message may be waiting. */
bool nvmft_msgq_pending(struct nvmft_msgq *q);

static inline int nvmft_msgq_fd(const struct nvmft_msgq *q)
{
	return q->efd;
}

#endif
