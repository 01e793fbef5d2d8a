/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Vyukov's intrusive MPSC queue.  A producer publishes with one exchange on
 * @head and then links the previous node to itself; the consumer may see the
 * gap between the two steps and then simply stops early (the message is
 * picked up on the next drain, and the eventfd stays signalled for it).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/msgq.h"

int nvmft_msgq_init(struct nvmft_msgq *q)
{
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0)
		return -errno;
	atomic_store_explicit(&q->stub.next, NULL, memory_order_relaxed);
	atomic_store_explicit(&q->head, &q->stub, memory_order_relaxed);
	q->tail = &q->stub;
	atomic_store_explicit(&q->signalled, false, memory_order_relaxed);
	return 0;
}

void nvmft_msgq_fini(struct nvmft_msgq *q)
{
	if (q->efd >= 0)
		close(q->efd);
	q->efd = -1;
}

static void msgq_push(struct nvmft_msgq *q, struct nvmft_msg *msg)
{
	struct nvmft_msg *prev;

	atomic_store_explicit(&msg->next, NULL, memory_order_relaxed);
	prev = atomic_exchange_explicit(&q->head, msg, memory_order_acq_rel);
	atomic_store_explicit(&prev->next, msg, memory_order_release);
}

void nvmft_msgq_post(struct nvmft_msgq *q, struct nvmft_msg *msg, nvmft_msg_fn fn)
{
	uint64_t one = 1;

	msg->fn = fn;
	msgq_push(q, msg);
	if (!atomic_exchange_explicit(&q->signalled, true, memory_order_acq_rel)) {
		/* EAGAIN means the counter is already non-zero: still readable. */
		ssize_t rc = write(q->efd, &one, sizeof(one));
		(void)rc;
	}
}

/* Pop one message, or NULL when empty or a producer is mid-publish. */
static struct nvmft_msg *msgq_pop(struct nvmft_msgq *q)
{
	struct nvmft_msg *tail = q->tail;
	struct nvmft_msg *next = atomic_load_explicit(&tail->next, memory_order_acquire);

	if (tail == &q->stub) {
		if (next == NULL)
			return NULL;
		q->tail = next;
		tail = next;
		next = atomic_load_explicit(&next->next, memory_order_acquire);
	}
	if (next != NULL) {
		q->tail = next;
		return tail;
	}
	if (tail != atomic_load_explicit(&q->head, memory_order_acquire))
		return NULL; /* a producer is between its two steps */
	msgq_push(q, &q->stub);
	next = atomic_load_explicit(&tail->next, memory_order_acquire);
	if (next != NULL) {
		q->tail = next;
		return tail;
	}
	return NULL;
}

static bool msgq_empty(struct nvmft_msgq *q)
{
	return q->tail == &q->stub && atomic_load_explicit(&q->head, memory_order_acquire) == &q->stub &&
	       atomic_load_explicit(&q->stub.next, memory_order_acquire) == NULL;
}

bool nvmft_msgq_pending(struct nvmft_msgq *q)
{
	return atomic_load_explicit(&q->signalled, memory_order_acquire);
}

unsigned int nvmft_msgq_drain(struct nvmft_msgq *q, unsigned int budget)
{
	struct nvmft_msg *msg;
	unsigned int n = 0;
	uint64_t cnt;

	if (!atomic_load_explicit(&q->signalled, memory_order_acquire))
		return 0;
	/*
	 * Clear the signal before looking: a post that lands after this point
	 * signals again, so no message is left behind with a quiet eventfd.
	 */
	if (read(q->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		return 0;
	atomic_store_explicit(&q->signalled, false, memory_order_seq_cst);
	while (budget == 0 || n < budget) {
		msg = msgq_pop(q);
		if (msg == NULL)
			break;
		n++;
		msg->fn(msg);
	}
	/* Stopped on budget or on a half-published message: come back soon. */
	if (!msgq_empty(q) && !atomic_exchange_explicit(&q->signalled, true, memory_order_acq_rel)) {
		uint64_t one = 1;
		ssize_t rc = write(q->efd, &one, sizeof(one));

		(void)rc;
	}
	return n;
}
