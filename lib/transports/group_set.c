/* SPDX-License-Identifier: BSD-3-Clause */
/* A transport's epoll set and kick on one poll group (group_set.h). */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/poll_group.h"
#include "transports/group_set.h"

int nvmft_group_set_open(struct nvmft_group_set *s, struct nvmft_poll_group *pg, void *kick_tag,
			 void *watch_tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = kick_tag };
	int rc;

	s->kicked = false;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->epfd < 0 || s->kick_fd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->kick_fd, &ev) < 0) {
		rc = -errno;
		goto err;
	}
	rc = nvmft_pg_watch_fd(pg, s->epfd, EPOLLIN, watch_tag);
	if (rc < 0)
		goto err;
	return 0;
err:
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->kick_fd >= 0)
		close(s->kick_fd);
	s->epfd = -1;
	s->kick_fd = -1;
	return rc;
}

void nvmft_group_set_close(struct nvmft_group_set *s, struct nvmft_poll_group *pg)
{
	nvmft_pg_unwatch_fd(pg, s->epfd);
	close(s->kick_fd);
	close(s->epfd);
}

void nvmft_group_set_kick(struct nvmft_group_set *s)
{
	uint64_t one = 1;

	if (s->kicked)
		return;
	s->kicked = true;
	if (write(s->kick_fd, &one, sizeof(one)) < 0) {
		/* Only EAGAIN (counter saturated) is possible: already readable. */
	}
}

void nvmft_group_set_unkick(struct nvmft_group_set *s)
{
	uint64_t v;

	if (read(s->kick_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: someone read it already. */
	}
	s->kicked = false;
}
