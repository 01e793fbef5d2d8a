/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A transport's descriptors on one poll group: its own epoll set (sockets,
 * completion channels, ...) that sits in the group's set, plus an eventfd
 * "kick" in it for work no descriptor announces (completions queued from
 * a callback, bytes already staged), so an event-driven host polls again.
 * Everything here runs on the group's thread.
 */
#ifndef NVMFT_TRANSPORTS_GROUP_SET_H
#define NVMFT_TRANSPORTS_GROUP_SET_H

#include <stdbool.h>

struct nvmft_poll_group;

struct nvmft_group_set {
	int epfd;
	int kick_fd;
	bool kicked; /* kick_fd is readable, or will be: no second write */
};

/*
 * Make the set and its kick (reported by epoll with data.ptr @kick_tag) and
 * watch the set from @pg under @watch_tag.  Returns 0 or -errno; on failure
 * nothing is left open.
 */
int nvmft_group_set_open(struct nvmft_group_set *s, struct nvmft_poll_group *pg, void *kick_tag,
			 void *watch_tag);
/* Stop @pg watching the set, close everything. */
void nvmft_group_set_close(struct nvmft_group_set *s, struct nvmft_poll_group *pg);
/* Make the set readable so the group is polled again. */
void nvmft_group_set_kick(struct nvmft_group_set *s);
/* epoll reported @kick_tag: take the kick back. */
void nvmft_group_set_unkick(struct nvmft_group_set *s);

#endif /* NVMFT_TRANSPORTS_GROUP_SET_H */
