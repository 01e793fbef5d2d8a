/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vfio-user client and userspace NVMe driver of vfu_client.h.
 *
 * Written from the protocol specification and the NVMe base specification
 * (the PCIe parts: registers, queues, phase tags, doorbells, shadow
 * doorbells with EventIdx); nothing here knows the server's internals.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfu_client.h"

#define PAGE 4096u
/* The kernel's limit of descriptors per message (SCM_MAX_FD): tests send more than the server takes. */
#define VFUC_SEND_FDS_MAX 253

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Let the server run (pump), or sleep until @events or a short while.  -ETIMEDOUT past @deadline. */
static int wait_io(struct vfuc *c, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = c->fd, .events = events };
	uint64_t t = now_ms();

	if (t >= deadline)
		return -ETIMEDOUT;
	if (c->o.pump != NULL) {
		c->o.pump(c->o.pump_arg);
		return 0;
	}
	poll(&p, 1, events != 0 ? (int)(deadline - t < 100 ? deadline - t : 100) : 1);
	return 0;
}

static uint64_t deadline_of(const struct vfuc *c)
{
	return now_ms() + (uint64_t)c->o.timeout_ms;
}

int vfuc_connect(const char *path, const struct vfuc_opts *opts, struct vfuc **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vfuc *c;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	if (opts != NULL)
		c->o = *opts;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = 10000;
	c->mem_fd = -1;
	c->admin.efd = -1;
	c->admin.c = c;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, path);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) {
		int rc = -errno;

		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return rc;
	}
	*ret = c;
	return 0;
}

void vfuc_close(struct vfuc *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->db != NULL)
		munmap(c->db, c->db_len);
	if (c->mem != NULL)
		munmap(c->mem, c->mem_size);
	if (c->mem_fd >= 0)
		close(c->mem_fd);
	if (c->admin.efd >= 0)
		close(c->admin.efd);
	free(c);
}

/* ---- Messages -------------------------------------------------------------------------- */

static int send_all(struct vfuc *c, const struct iovec *iov_in, int niov, const int *fds, int nfds)
{
	struct iovec iov[4];
	uint64_t deadline = deadline_of(c);
	union {
		char buf[CMSG_SPACE(sizeof(int) * VFUC_SEND_FDS_MAX)];
		struct cmsghdr align;
	} ctl;
	bool fds_sent = nfds == 0;

	if (niov > 4 || nfds > VFUC_SEND_FDS_MAX)
		return -EINVAL;
	memcpy(iov, iov_in, sizeof(*iov) * (size_t)niov);
	while (niov > 0) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)niov };
		ssize_t n;

		if (!fds_sent) {
			struct cmsghdr *cm;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
		}
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			if (wait_io(c, POLLOUT, deadline) < 0)
				return -ETIMEDOUT;
			continue;
		}
		fds_sent = true;
		while (niov > 0 && (size_t)n >= iov[0].iov_len) {
			n -= (ssize_t)iov[0].iov_len;
			memmove(iov, iov + 1, sizeof(*iov) * (size_t)--niov);
		}
		if (niov > 0) {
			iov[0].iov_base = (uint8_t *)iov[0].iov_base + n;
			iov[0].iov_len -= (size_t)n;
		}
	}
	return 0;
}

int vfuc_send_bytes(struct vfuc *c, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	return send_all(c, &iov, 1, NULL, 0);
}

int vfuc_send_raw(struct vfuc *c, uint16_t cmd, uint32_t flags, const void *payload, size_t len,
		  const int *fds, int nfds)
{
	struct vfu_hdr h = {
		.msg_id = c->next_id++,
		.cmd = cmd,
		.msg_size = (uint32_t)(sizeof(h) + len),
		.flags = flags,
	};
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, len } };
	int rc = send_all(c, iov, len > 0 ? 2 : 1, fds, nfds);

	return rc < 0 ? rc : h.msg_id;
}

/* Exactly @len bytes; descriptors that come with them are appended to @fds. */
static int recv_exact(struct vfuc *c, void *buf, size_t len, int *fds, int *nfds, uint64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * VFU_MAX_MSG_FDS)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { (uint8_t *)buf + got, len - got };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		struct cmsghdr *cm;
		ssize_t n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			if (wait_io(c, POLLIN, deadline) < 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
			int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			for (int i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + (size_t)i * sizeof(int), sizeof(int));
				if (fds != NULL && *nfds < VFU_MAX_MSG_FDS)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
		}
		got += (size_t)n;
	}
	return 0;
}

int vfuc_recv(struct vfuc *c, struct vfu_hdr *h, void *buf, size_t cap, int *fds, int *nfds)
{
	uint64_t deadline = deadline_of(c);
	int dummy = 0, rc;
	size_t plen;

	if (nfds == NULL)
		nfds = &dummy;
	*nfds = 0;
	rc = recv_exact(c, h, sizeof(*h), fds, nfds, deadline);
	if (rc < 0)
		return rc;
	if (h->msg_size < sizeof(*h))
		return -EPROTO;
	plen = h->msg_size - sizeof(*h);
	if (plen > cap)
		return -EMSGSIZE;
	rc = recv_exact(c, buf, plen, fds, nfds, deadline);
	return rc < 0 ? rc : (int)plen;
}

static int reply_of(struct vfuc *c, int id, uint16_t cmd, void *rep, size_t cap, int *rfds, int *rnfds)
{
	struct vfu_hdr h;
	int n = vfuc_recv(c, &h, rep, cap, rfds, rnfds);

	if (n < 0)
		return n;
	if (h.msg_id != (uint16_t)id || h.cmd != cmd || (h.flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_REPLY)
		return -EPROTO;
	if (h.flags & VFU_F_ERROR)
		return h.error != 0 ? -(int)h.error : -EIO;
	return n;
}

int vfuc_call(struct vfuc *c, uint16_t cmd, const void *req, size_t len, const int *fds, int nfds, void *rep,
	      size_t cap, int *rfds, int *rnfds)
{
	int id = vfuc_send_raw(c, cmd, 0, req, len, fds, nfds);

	if (id < 0)
		return id;
	return reply_of(c, id, cmd, rep, cap, rfds, rnfds);
}

bool vfuc_wait_eof(struct vfuc *c)
{
	uint64_t deadline = deadline_of(c);
	uint8_t b[256];

	for (;;) {
		ssize_t n = recv(c->fd, b, sizeof(b), 0);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
		if (n < 0 && wait_io(c, POLLIN, deadline) < 0)
			return false;
	}
}

int vfuc_version(struct vfuc *c, const char *json)
{
	struct {
		struct vfu_version v;
		char json[512];
	} req = { .v = { VFU_PROTO_MAJOR, VFU_PROTO_MINOR } }, rep;
	size_t jl = json != NULL ? strlen(json) + 1 : 0;
	int n;

	if (jl > sizeof(req.json))
		return -E2BIG;
	if (jl > 0)
		memcpy(req.json, json, jl);
	n = vfuc_call(c, VFU_CMD_VERSION, &req, sizeof(req.v) + jl, NULL, 0, &rep, sizeof(rep), NULL, NULL);
	if (n < 0)
		return n;
	if (n < (int)sizeof(rep.v) || rep.v.major != VFU_PROTO_MAJOR)
		return -EPROTO;
	c->minor = rep.v.minor;
	memset(c->server_caps, 0, sizeof(c->server_caps));
	if (n > (int)sizeof(rep.v))
		memcpy(c->server_caps, rep.json,
		       (size_t)n - sizeof(rep.v) < sizeof(c->server_caps) - 1 ? (size_t)n - sizeof(rep.v)
									      : sizeof(c->server_caps) - 1);
	return 0;
}

int vfuc_dma_map(struct vfuc *c, int fd, uint64_t offset, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct vfu_dma_map m = {
		.argsz = sizeof(m), .flags = flags, .offset = offset, .addr = iova, .size = size
	};

	return vfuc_call(c, VFU_CMD_DMA_MAP, &m, sizeof(m), &fd, fd >= 0 ? 1 : 0, NULL, 0, NULL, NULL);
}

int vfuc_dma_unmap_start(struct vfuc *c, uint64_t iova, uint64_t size)
{
	struct vfu_dma_unmap u = { .argsz = sizeof(u), .addr = iova, .size = size };

	return vfuc_send_raw(c, VFU_CMD_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0);
}

int vfuc_dma_unmap_reply(struct vfuc *c, int id)
{
	struct vfu_dma_unmap u;
	int n = reply_of(c, id, VFU_CMD_DMA_UNMAP, &u, sizeof(u), NULL, NULL);

	return n < 0 ? n : 0;
}

int vfuc_dma_unmap(struct vfuc *c, uint64_t iova, uint64_t size)
{
	int id = vfuc_dma_unmap_start(c, iova, size);

	return id < 0 ? id : vfuc_dma_unmap_reply(c, id);
}

int vfuc_region_read(struct vfuc *c, uint32_t region, uint64_t off, void *buf, uint32_t len)
{
	struct vfu_region_access a = { .offset = off, .region = region, .count = len };
	uint8_t *rep = malloc(sizeof(a) + len);
	int n;

	if (rep == NULL)
		return -ENOMEM;
	n = vfuc_call(c, VFU_CMD_REGION_READ, &a, sizeof(a), NULL, 0, rep, sizeof(a) + len, NULL, NULL);
	if (n >= 0 && n != (int)(sizeof(a) + len))
		n = -EPROTO;
	if (n >= 0)
		memcpy(buf, rep + sizeof(a), len);
	free(rep);
	return n < 0 ? n : 0;
}

int vfuc_region_write(struct vfuc *c, uint32_t region, uint64_t off, const void *buf, uint32_t len)
{
	struct vfu_region_access a = { .offset = off, .region = region, .count = len };
	uint8_t *req = malloc(sizeof(a) + len);
	struct vfu_region_access rep;
	int n;

	if (req == NULL)
		return -ENOMEM;
	memcpy(req, &a, sizeof(a));
	memcpy(req + sizeof(a), buf, len);
	n = vfuc_call(c, VFU_CMD_REGION_WRITE, req, sizeof(a) + len, NULL, 0, &rep, sizeof(rep), NULL, NULL);
	free(req);
	return n < 0 ? n : 0;
}

int vfuc_set_irqs(struct vfuc *c, uint32_t index, uint32_t flags, uint32_t start, uint32_t count,
		  const int *fds, int nfds)
{
	struct vfu_irq_set s = {
		.argsz = sizeof(s), .flags = flags, .index = index, .start = start, .count = count
	};

	return vfuc_call(c, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), fds, nfds, NULL, 0, NULL, NULL);
}

/* ---- Memory --------------------------------------------------------------------------- */

int vfuc_memfd(const char *name, size_t size, bool seal)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), rc;

	if (fd < 0)
		return -errno;
	/* Sealed at its size, as QEMU seals guest RAM. */
	if (ftruncate(fd, (off_t)size) < 0 || (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int vfuc_mem_add(struct vfuc *c, uint64_t iova, size_t size)
{
	int fd = vfuc_memfd("vfuc-guest", size, !c->o.unsealed_mem), rc;

	if (fd < 0)
		return fd;
	c->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c->mem == MAP_FAILED) {
		rc = -errno;
		c->mem = NULL;
		close(fd);
		return rc;
	}
	c->mem_fd = fd;
	c->mem_iova = iova;
	c->mem_size = size;
	c->mem_brk = 0;
	return vfuc_dma_map(c, fd, 0, iova, size, VFU_DMA_READ | VFU_DMA_WRITE);
}

uint64_t vfuc_alloc(struct vfuc *c, size_t size, size_t align)
{
	size_t at = (c->mem_brk + align - 1) / align * align;

	if (at + size > c->mem_size)
		return 0;
	c->mem_brk = at + size;
	memset(c->mem + at, 0, size);
	return c->mem_iova + at;
}

/* ---- The function -------------------------------------------------------------------- */

int vfuc_setup_bar0(struct vfuc *c)
{
	struct {
		struct vfu_region_info ri;
		uint8_t caps[256];
	} rep;
	struct vfu_region_info req = { .argsz = sizeof(rep), .index = VFIO_PCI_BAR0_REGION_INDEX };
	int fds[VFU_MAX_MSG_FDS], nfds = 0;
	int n = vfuc_call(c, VFU_CMD_DEVICE_GET_REGION_INFO, &req, sizeof(req), NULL, 0, &rep, sizeof(rep),
			  fds, &nfds);

	if (n < 0)
		return n;
	c->bar0_size = rep.ri.size;
	if ((rep.ri.flags & VFIO_REGION_INFO_FLAG_CAPS) && nfds == 1 && !c->o.trap_doorbells &&
	    rep.ri.cap_offset >= sizeof(rep.ri) &&
	    rep.ri.cap_offset + sizeof(struct vfu_cap_sparse1) <= (size_t)n) {
		struct vfu_cap_sparse1 sp;

		memcpy(&sp, (uint8_t *)&rep + rep.ri.cap_offset, sizeof(sp));
		if (sp.hdr.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP && sp.nr_areas >= 1) {
			void *p = mmap(NULL, sp.area.size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0],
				       (off_t)(rep.ri.offset + sp.area.offset));

			if (p != MAP_FAILED) {
				c->db = p;
				c->db_len = sp.area.size;
				c->db_area_off = sp.area.offset;
			}
		}
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (c->db_area_off == 0)
		c->db_area_off = 0x1000;
	return 0;
}

int vfuc_cfg_read(struct vfuc *c, uint32_t off, void *buf, uint32_t len)
{
	return vfuc_region_read(c, VFIO_PCI_CONFIG_REGION_INDEX, off, buf, len);
}

int vfuc_cfg_write(struct vfuc *c, uint32_t off, const void *buf, uint32_t len)
{
	return vfuc_region_write(c, VFIO_PCI_CONFIG_REGION_INDEX, off, buf, len);
}

int vfuc_reg_read32(struct vfuc *c, uint32_t off, uint32_t *v)
{
	return vfuc_region_read(c, VFIO_PCI_BAR0_REGION_INDEX, off, v, 4);
}

int vfuc_reg_write32(struct vfuc *c, uint32_t off, uint32_t v)
{
	return vfuc_region_write(c, VFIO_PCI_BAR0_REGION_INDEX, off, &v, 4);
}

int vfuc_reg_read64(struct vfuc *c, uint32_t off, uint64_t *v)
{
	return vfuc_region_read(c, VFIO_PCI_BAR0_REGION_INDEX, off, v, 8);
}

/* ---- NVMe ---------------------------------------------------------------------------------- */

static int wait_csts(struct vfuc *c, uint32_t mask, uint32_t want, uint32_t *csts)
{
	uint64_t deadline = deadline_of(c);
	int rc;

	for (;;) {
		rc = vfuc_reg_read32(c, NVME_REG_CSTS, csts);
		if (rc < 0)
			return rc;
		if ((*csts & mask) == want)
			return 0;
		if (*csts & NVMFT_CSTS_CFS)
			return -EIO;
		if (wait_io(c, 0, deadline) < 0)
			return -ETIMEDOUT;
	}
}

int vfuc_nvme_disable(struct vfuc *c)
{
	uint32_t cc, csts;
	int rc = vfuc_reg_read32(c, NVME_REG_CC, &cc);

	if (rc < 0)
		return rc;
	rc = vfuc_reg_write32(c, NVME_REG_CC, cc & ~1u);
	if (rc < 0)
		return rc;
	rc = wait_csts(c, NVMFT_CSTS_RDY, 0, &csts);
	return rc == -EIO ? 0 : rc; /* a failed controller is disabled too */
}

int vfuc_nvme_enable(struct vfuc *c, uint16_t aq_entries)
{
	struct vfuc_q *q = &c->admin;
	uint16_t cmd;
	uint32_t csts;
	int rc;

	rc = vfuc_cfg_read(c, PCI_COMMAND, &cmd, 2);
	if (rc < 0)
		return rc;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	rc = vfuc_cfg_write(c, PCI_COMMAND, &cmd, 2);
	if (rc == 0)
		rc = vfuc_reg_read64(c, NVME_REG_CAP, &c->cap);
	if (rc == 0)
		rc = vfuc_nvme_disable(c);
	if (rc < 0)
		return rc;
	q->c = c;
	q->qid = 0;
	q->entries = aq_entries;
	q->sq_iova = vfuc_alloc(c, (size_t)aq_entries * 64, PAGE);
	q->cq_iova = vfuc_alloc(c, (size_t)aq_entries * 16, PAGE);
	if (q->sq_iova == 0 || q->cq_iova == 0)
		return -ENOMEM;
	q->sq = vfuc_va(c, q->sq_iova);
	q->cq = vfuc_va(c, q->cq_iova);
	q->sq_tail = q->cq_head = 0;
	q->phase = 1;
	/* 64-bit registers as two 32-bit writes, low half first, as Linux does. */
	if ((rc = vfuc_reg_write32(c, NVME_REG_AQA, (uint32_t)(aq_entries - 1) * 0x10001u)) < 0 ||
	    (rc = vfuc_reg_write32(c, NVME_REG_ASQ, (uint32_t)q->sq_iova)) < 0 ||
	    (rc = vfuc_reg_write32(c, NVME_REG_ASQ + 4, (uint32_t)(q->sq_iova >> 32))) < 0 ||
	    (rc = vfuc_reg_write32(c, NVME_REG_ACQ, (uint32_t)q->cq_iova)) < 0 ||
	    (rc = vfuc_reg_write32(c, NVME_REG_ACQ + 4, (uint32_t)(q->cq_iova >> 32))) < 0)
		return rc;
	/* IOSQES 6, IOCQES 4, 4 KiB pages, NVM command set, round robin. */
	rc = vfuc_reg_write32(c, NVME_REG_CC, 1u | 6u << 16 | 4u << 20);
	if (rc < 0)
		return rc;
	return wait_csts(c, NVMFT_CSTS_RDY, NVMFT_CSTS_RDY, &csts);
}

int vfuc_doorbell(struct vfuc *c, uint32_t idx, uint32_t v)
{
	c->mmio_doorbells++;
	if (c->db != NULL && !c->o.trap_doorbells) {
		__atomic_store_n((uint32_t *)(void *)c->db + idx, v, __ATOMIC_RELEASE);
		return 0;
	}
	return vfuc_reg_write32(c, (uint32_t)c->db_area_off + idx * 4, v);
}

/* The EventIdx rule: ring the register only if the new value passed the controller's mark. */
static bool need_event(uint16_t ev, uint16_t v, uint16_t old)
{
	return (uint16_t)(v - ev - 1) < (uint16_t)(v - old);
}

static int ring(struct vfuc *c, uint16_t qid, bool cq, uint16_t v, uint16_t old)
{
	uint32_t idx = 2u * qid + (cq ? 1 : 0);

	if (qid != 0 && c->shadow != NULL) {
		__atomic_store_n(&c->shadow[idx], v, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!need_event((uint16_t)__atomic_load_n(&c->eventidx[idx], __ATOMIC_ACQUIRE), v, old))
			return 0;
	}
	return vfuc_doorbell(c, idx, v);
}

void vfuc_push(struct vfuc_q *q, struct nvmft_cmd *cmd)
{
	cmd->cid = htole16(q->next_cid++);
	memcpy(&q->sq[q->sq_tail], cmd, sizeof(*cmd));
	q->sq_tail = (uint16_t)((q->sq_tail + 1) % q->entries);
}

int vfuc_ring(struct vfuc_q *q)
{
	/* The old value matters for EventIdx: everything pushed since the last ring is new. */
	uint16_t old = q->sq_rung;

	q->sq_rung = q->sq_tail;
	return ring(q->c, q->qid, false, q->sq_tail, old);
}

int vfuc_submit(struct vfuc_q *q, struct nvmft_cmd *cmd)
{
	vfuc_push(q, cmd);
	return vfuc_ring(q);
}

int vfuc_reap(struct vfuc_q *q, struct nvmft_cpl *out)
{
	uint64_t deadline = deadline_of(q->c);
	uint16_t old = q->cq_head;

	while (!vfuc_peek(q, out)) {
		if (wait_io(q->c, 0, deadline) < 0)
			return -ETIMEDOUT;
	}
	return ring(q->c, q->qid, true, q->cq_head, old);
}

int vfuc_sync(struct vfuc_q *q, struct nvmft_cmd *cmd, struct nvmft_cpl *cpl)
{
	struct nvmft_cpl tmp;
	int rc;

	if (cpl == NULL)
		cpl = &tmp;
	rc = vfuc_submit(q, cmd);
	if (rc < 0)
		return rc;
	do {
		rc = vfuc_reap(q, cpl);
		if (rc < 0)
			return rc;
	} while (cpl->cid != cmd->cid);
	return vfuc_status(cpl);
}

int vfuc_identify(struct vfuc *c, uint8_t cns, uint32_t nsid, uint64_t iova)
{
	struct nvmft_cmd cmd = { .opcode = nvme_admin_identify, .nsid = htole32(nsid) };

	cmd.dptr.prp.prp1 = htole64(iova);
	cmd.cdw10 = htole32(cns);
	return vfuc_sync(&c->admin, &cmd, NULL);
}

int vfuc_set_num_queues(struct vfuc *c, uint16_t nsq, uint16_t ncq)
{
	struct nvmft_cmd cmd = { .opcode = nvme_admin_set_features };

	cmd.cdw10 = htole32(NVME_FEAT_FID_NUM_QUEUES);
	cmd.cdw11 = htole32((uint32_t)(ncq - 1) << 16 | (uint32_t)(nsq - 1));
	return vfuc_sync(&c->admin, &cmd, NULL);
}

int vfuc_nvme_qpair(struct vfuc *c, uint16_t qid, uint16_t entries, bool ien, uint16_t iv, struct vfuc_q *q)
{
	struct nvmft_cmd cmd = { .opcode = nvme_admin_create_cq };
	int st;

	memset(q, 0, sizeof(*q));
	q->c = c;
	q->qid = qid;
	q->entries = entries;
	q->phase = 1;
	q->efd = -1;
	q->sq_iova = vfuc_alloc(c, (size_t)entries * 64, PAGE);
	q->cq_iova = vfuc_alloc(c, (size_t)entries * 16, PAGE);
	if (q->sq_iova == 0 || q->cq_iova == 0)
		return -ENOMEM;
	q->sq = vfuc_va(c, q->sq_iova);
	q->cq = vfuc_va(c, q->cq_iova);
	cmd.dptr.prp.prp1 = htole64(q->cq_iova);
	cmd.cdw10 = htole32((uint32_t)(entries - 1) << 16 | qid);
	cmd.cdw11 = htole32((uint32_t)iv << 16 | (ien ? 2u : 0u) | 1u);
	st = vfuc_sync(&c->admin, &cmd, NULL);
	if (st != 0)
		return st;
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_admin_create_sq;
	cmd.dptr.prp.prp1 = htole64(q->sq_iova);
	cmd.cdw10 = htole32((uint32_t)(entries - 1) << 16 | qid);
	cmd.cdw11 = htole32((uint32_t)qid << 16 | 1u);
	return vfuc_sync(&c->admin, &cmd, NULL);
}

int vfuc_nvme_delete_qpair(struct vfuc *c, struct vfuc_q *q)
{
	struct nvmft_cmd cmd = { .opcode = nvme_admin_delete_sq };
	int st;

	cmd.cdw10 = htole32(q->qid);
	st = vfuc_sync(&c->admin, &cmd, NULL);
	if (st != 0)
		return st;
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_admin_delete_cq;
	cmd.cdw10 = htole32(q->qid);
	return vfuc_sync(&c->admin, &cmd, NULL);
}

int vfuc_nvme_dbbuf(struct vfuc *c)
{
	struct nvmft_cmd cmd = { .opcode = nvme_admin_dbbuf };
	uint64_t sh = vfuc_alloc(c, PAGE, PAGE), ev = vfuc_alloc(c, PAGE, PAGE);
	int st;

	if (sh == 0 || ev == 0)
		return -ENOMEM;
	cmd.dptr.prp.prp1 = htole64(sh);
	cmd.dptr.prp.prp2 = htole64(ev);
	st = vfuc_sync(&c->admin, &cmd, NULL);
	if (st == 0) {
		c->shadow = vfuc_va(c, sh);
		c->eventidx = vfuc_va(c, ev);
	}
	return st;
}

int vfuc_prps(struct vfuc *c, struct nvmft_cmd *cmd, uint64_t iova, uint32_t len)
{
	uint32_t first = PAGE - (uint32_t)(iova & (PAGE - 1));
	uint32_t left, n, per = PAGE / 8, pages;
	uint64_t list, data;
	uint64_t *e;

	cmd->dptr.prp.prp1 = htole64(iova);
	cmd->dptr.prp.prp2 = 0;
	if (len <= first)
		return 0;
	left = len - first;
	data = iova + first;
	if (left <= PAGE) {
		cmd->dptr.prp.prp2 = htole64(data);
		return 0;
	}
	n = (left + PAGE - 1) / PAGE;
	/* Each list page holds per - 1 entries and a pointer to the next, the last one per. */
	pages = n <= per ? 1 : 1 + (n - per + per - 2) / (per - 1);
	list = vfuc_alloc(c, (size_t)pages * PAGE, PAGE);
	if (list == 0)
		return -ENOMEM;
	cmd->dptr.prp.prp2 = htole64(list);
	e = vfuc_va(c, list);
	for (uint32_t i = 0, slot = 0; i < n; slot++) {
		if (slot % per == per - 1 && n - i > 1) {
			e[slot] = htole64(list + (uint64_t)(slot + 1) * 8);
			continue;
		}
		e[slot] = htole64(data + (uint64_t)i * PAGE);
		i++;
	}
	return 0;
}

int vfuc_rw(struct vfuc_q *q, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb, uint32_t bs,
	    uint64_t iova)
{
	struct nvmft_cmd cmd = { .opcode = write ? nvme_cmd_write : nvme_cmd_read, .nsid = htole32(nsid) };
	int rc = vfuc_prps(q->c, &cmd, iova, nlb * bs);

	if (rc < 0)
		return rc;
	cmd.cdw10 = htole32((uint32_t)slba);
	cmd.cdw11 = htole32((uint32_t)(slba >> 32));
	cmd.cdw12 = htole32(nlb - 1);
	return vfuc_sync(q, &cmd, NULL);
}
