/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vfio-user transport (lib/transports/vfio_user/) from its socket: a
 * target with a vfio-user listener in a private directory and a subsystem
 * with a RAM namespace (1) and one on the test backend (2, completing from
 * its poll or holding completions as the input says); one client (tests/vfio_user/vfu_client.c) that
 * optionally does the usual set-up (VERSION, guest memory DMA_MAP'd,
 * BAR0's doorbells mapped, the controller enabled, an I/O queue pair,
 * Doorbell Buffer Config, MSI-X eventfds) and then sends what the input
 * says: messages of any command, flags and payload with memfds and
 * eventfds attached, DMA maps and unmaps of pieces of several memfds,
 * region reads and writes (configuration space, BAR0 registers and
 * doorbells, BAR4), SET_IRQS, resets; and submission queue entries in
 * guest memory (admin and I/O, PRPs, PRP lists and SGLs the input lays out
 * in guest memory, pointers outside it), doorbells, and raw bytes written
 * over guest memory, queues included.  The server's socket is read by
 * calling the transport's receive routine directly after each message
 * (rather than waiting for the group's 100 us event check), so an input
 * is fast and deterministic.
 *
 * Checks:
 *  - every reply is well formed: a reply to the oldest unanswered command
 *    (replies come in order), same command, an error reply carries only an
 *    errno, a successful one the payload its command defines (VERSION: our
 *    version and capabilities JSON the server's own parser accepts; region
 *    reads: the access echoed and its bytes; region info: no more than the
 *    client has room for, and a descriptor only with BAR0's sparse area);
 *    commands with No_reply get none; every other command gets its reply,
 *    unless the server closed the socket, which it does only after a
 *    malformed header or a failed version negotiation;
 *  - a command whose data pointer lies outside every mapped region fails
 *    (the outside addresses are ones the input can never map);
 *    completions name a command that is outstanding on that queue; while
 *    the queues are left alone (no reset, no raw doorbells or register
 *    writes, no unmapped queue memory), every command but Asynchronous
 *    Event Requests completes;
 *  - memory mapped read-only is never written (the server maps it
 *    PROT_READ: a write faults);
 *  - after the client leaves, the connection and its controller go;
 *    teardown closes every descriptor the server received or made and
 *    unmaps every memfd mapping.
 *
 * Input: byte 0 set-up (bit 0: VERSION, guest memory, BAR0 and the
 * controller enabled with a 32-entry admin queue, else nothing; bit 1: and
 * I/O queue pair 1 of 16 entries; bit 2: doorbells through REGION_WRITE
 * instead of the mapped page; bit 3: Doorbell Buffer Config; bit 4: MSI-X
 * on with an eventfd per vector; bit 5: max_msg_fds 1 in the capabilities),
 * then records, at most 48, each an op byte (low 4 bits) and its fields:
 *   0 message: u16 command, flags byte, u16 length, the payload, fds byte
 *   1 VERSION: json choice byte, [u8 length, bytes]
 *   2 DMA_MAP: memfd byte, page, pages, IOVA choice byte, flags byte
 *   3 DMA_UNMAP: choice byte (a mapping made, everything, raw), [u64, u64]
 *   4 REGION_READ: region byte, u16 offset, u16 count
 *   5 REGION_WRITE: region byte, u16 offset, count byte, bytes
 *   6 SET_IRQS: index, flags, start, count, eventfds bytes
 *   7 DEVICE_RESET, or a single info command (device, region, IRQ): choice byte, arg
 *   8 admin SQE: 64 bytes, data pointer byte
 *   9 I/O SQE: kind byte, count byte, u16 LBA, data pointer byte
 *   10 bytes into guest memory: u16 offset (in 16-byte units), length byte, bytes
 *   11 doorbell: index byte, u16 value
 *   12 BAR0 register or config space write: choice byte, u32 value
 *   13 reap completions (and ring the head doorbells)
 *   14 poll (count byte; bit 7: namespace 2, the test backend, holds its
 *     completions (bit 6 clear) or stops holding them; bit 5: let held ones go)
 *   15 raw bytes on the socket: length byte, bytes (framing is lost)
 * Data pointer byte: bits 0-2 PRP at a page of the data area, PRP at an
 * odd offset, PRP list laid out by the harness (entries from the input),
 * SGL data block, SGL segment with descriptors from the input, pointer
 * outside mapped memory, raw (as in the SQE), PRP into a read-only map;
 * bits 3-7: the page.  A PRP list is a u16 place (8-byte units), a count
 * byte and u16 entries (offsets into the data area, in 16-byte
 * units); an SGL segment a u16 place (16-byte units), a count byte and the
 * 16-byte descriptors (addresses taken modulo the data area unless bit 0
 * of their byte 12 is set).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include <nvmft/nvmft.h>

#include "core/poll_group.h"
#include "core/transport.h"
#include "fuzz_common.h"
#include "test_backend.h"
#include "transports/vfio_user/vfu_internal.h"
#include "vfu_client.h"
#include "test_util.h"

#define MAX_RECORDS 48
#define NQ 4 /* queue identifiers, admin included */
#define SUBNQN "nqn.2024-01.io.nvmft:fuzz-vfu"
#define NS_BLOCKS 1024u
#define BLOCK 512u
#define GUEST_IOVA 0x100000000ull
#define GUEST_SIZE (1u << 20)
#define DATA_PAGES 64u /* the data area, carved from guest memory */
#define PG 4096u
#define OUTSIDE_IOVA (1ull << 44) /* never mapped: the input's IOVAs stay below 2^41 */
#define MEMFDS 2
#define MEMFD_SIZE (64u * 1024)
#define MAX_PENDING 128
#define MAX_TRACK 256

/* A command sent and not answered yet, with what its reply must look like. */
struct pending {
	uint16_t id;
	uint16_t cmd;
	uint32_t region; /* REGION_READ/WRITE */
	uint32_t count;
	uint64_t offset;
	uint32_t room; /* REGION_INFO: argsz */
	uint32_t index;
	uint16_t minor; /* VERSION */
};

/* Commands outstanding on a queue, by CID. */
struct qtrack {
	uint16_t cid[MAX_TRACK];
	bool must_fail[MAX_TRACK];
	bool aer[MAX_TRACK];
	uint32_t n;
	bool lost; /* the harness no longer knows what the queue holds */
};

struct vrun {
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	struct nvmft_subsystem *ss;
	struct nvmft_backend *be;
	struct nvmft_backend *tb_be; /* namespace 2: completes from its poll, or holds completions */
	struct tb *tb;
	char dir[64];
	char sock[96];
	int fds_before;
	struct vfuc *c;
	bool up; /* the controller was enabled by the set-up */
	bool have_io;
	struct vfuc_q ioq;
	uint64_t data_iova; /* DATA_PAGES pages of guest memory */
	uint8_t *data;
	int mfd[MEMFDS]; /* more memory the input maps where it likes */
	uint64_t map_iova[16], map_size[16];
	int nmaps;
	uint64_t ro_iova; /* a page mapped read-only, or 0 */
	struct pending pend[MAX_PENDING];
	uint32_t npend;
	bool untracked; /* framing lost: replies no longer matched */
	bool may_close; /* the server has a reason to close the socket */
	bool eof;
	bool no_outside; /* a raw DMA_MAP may have mapped anything */
	bool bus_master_off;
	struct qtrack aq, iq;
};

/* ---- The target ------------------------------------------------------------------------------ */

static void pump(void *arg)
{
	struct vrun *r = arg;
	struct vfu_tpg *tpg = nvmft_pg_transport(r->pg, r->tr)->tpg;
	struct vfu_conn *c;

	nvmft_target_poll(r->tgt);
	/* What epoll would report within 100 us: the client's messages. */
	c = tpg != NULL ? TAILQ_FIRST(&tpg->conns) : NULL;
	if (c != NULL && !c->dead && c->fd >= 0)
		vfu_conn_rx(c);
	nvmft_poll_group_poll(r->pg, 0);
}

static void log_fn(void *arg, enum nvmft_log_level level, const char *msg)
{
	(void)arg;
	(void)level;
	fz_trace("log: %s", msg);
}

static void ns_added(void *arg, int status)
{
	*(int *)arg = status;
}

static void env_init(struct vrun *r)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_INTRA_HOST };
	struct nvmft_transport_opts to;
	struct nvmft_subsystem_opts so;
	struct nvmft_target_opts tgo;
	struct nvmft_ns *ns;
	int rc, added = 1;

	r->fds_before = fz_count_fds();
	nvmft_target_opts_init(&tgo, sizeof(tgo));
	/* Formatted only when FZ_TRACE asks for it. */
	if (getenv("FZ_TRACE") != NULL) {
		tgo.log_fn = log_fn;
		tgo.log_level = NVMFT_LOG_DEBUG;
	}
	snprintf(r->dir, sizeof(r->dir), "/tmp/nvmft-fuzz-vfu.XXXXXX");
	FZ_CHECK(mkdtemp(r->dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(r->sock, sizeof(r->sock), "%s/cntrl", r->dir);
	FZ_CHECK(nvmft_target_new(&tgo, &r->tgt) == 0, "target");
	FZ_CHECK(nvmft_poll_group_new(r->tgt, NULL, &r->pg) == 0, "poll group");
	nvmft_transport_opts_init(NVMFT_TRTYPE_VFIOUSER, &to, sizeof(to));
	to.max_qpairs_per_ctrlr = NQ;
	to.max_queue_depth = 64;
	to.max_aq_depth = 32;
	to.max_io_size = 65536;
	to.buf_pool_bytes = 256 * 1024;
	rc = nvmft_transport_new(r->tgt, NVMFT_TRTYPE_VFIOUSER, &to, &r->tr);
	FZ_CHECK(rc == 0, "transport: %d", rc);
	lo.traddr = r->dir;
	rc = nvmft_listener_new(r->tr, &lo, &r->l);
	FZ_CHECK(rc == 0, "listener: %d", rc);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = SUBNQN;
	so.allow_any_host = true;
	FZ_CHECK(nvmft_subsystem_new(r->tgt, &so, &r->ss) == 0, "subsystem");
	FZ_CHECK(nvmft_subsystem_add_listener(r->ss, r->l) == 0, "add listener");
	FZ_CHECK(nvmft_backend_malloc_new("fuzz-vfu", NS_BLOCKS, BLOCK, &r->be) == 0, "backend");
	FZ_CHECK(nvmft_ns_add(r->ss, r->be, NULL, ns_added, &added, &ns) == 0, "ns add");
	for (int i = 0; i < 1000 && added == 1; i++)
		pump(r);
	FZ_CHECK(added == 0, "namespace: %d", added);
	FZ_CHECK(tb_new("fuzz-vfu-tb", NS_BLOCKS, BLOCK, 0, TB_POLL, &r->tb, &r->tb_be) == 0, "test backend");
	added = 1;
	FZ_CHECK(nvmft_ns_add(r->ss, r->tb_be, NULL, ns_added, &added, &ns) == 0, "ns 2 add");
	for (int i = 0; i < 1000 && added == 1; i++)
		pump(r);
	FZ_CHECK(added == 0, "namespace 2: %d", added);
	for (int i = 0; i < MEMFDS; i++) {
		r->mfd[i] = vfuc_memfd("fuzz-vfu-mem", MEMFD_SIZE, i == 0);
		FZ_CHECK(r->mfd[i] >= 0, "memfd: %d", r->mfd[i]);
	}
}

/* Mappings of memfds in this process (the server's of client memory, the client's own). */
static int memfd_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "/memfd:") != NULL)
			n++;
	fclose(f);
	return n;
}

static void stopped_cb(void *arg, int status)
{
	(void)status;
	*(bool *)arg = true;
}

static void env_fini(struct vrun *r)
{
	bool stopped = false;
	int fds;

	/* The client is gone: so must be its function and controller. */
	for (int i = 0; i < 2000 && (atomic_load(&r->tr->num_connections) > 0 || tu_ctrlr_count(r->ss) > 0); i++)
		pump(r);
	FZ_CHECK(atomic_load(&r->tr->num_connections) == 0, "%u connections stay after the client left",
		 atomic_load(&r->tr->num_connections));
	FZ_CHECK(tu_ctrlr_count(r->ss) == 0, "%d controllers stay after the client left", tu_ctrlr_count(r->ss));
	FZ_CHECK(nvmft_poll_group_stop(r->pg, stopped_cb, &stopped) == 0, "stop");
	for (int i = 0; i < 100000 && !stopped; i++)
		pump(r);
	FZ_CHECK(stopped, "the poll group never stopped");
	FZ_CHECK(nvmft_poll_group_free(r->pg) == 0, "poll group free");
	nvmft_target_poll(r->tgt);
	nvmft_target_free(r->tgt);
	FZ_CHECK(nvmft_backend_free(r->be) == 0, "backend free");
	FZ_CHECK(nvmft_backend_free(r->tb_be) == 0, "test backend free");
	for (int i = 0; i < MEMFDS; i++)
		close(r->mfd[i]);
	unlink(r->sock);
	FZ_CHECK(rmdir(r->dir) == 0, "rmdir %s: %s", r->dir, strerror(errno));
	fds = fz_count_fds();
	FZ_CHECK(fds == r->fds_before, "descriptors: %d before, %d after", r->fds_before, fds);
	FZ_CHECK(memfd_maps() == 0, "%d memfd mappings stay", memfd_maps());
}

/* ---- Messages and replies ---------------------------------------------------------------------- */

static bool readable(const struct vrun *r)
{
	struct pollfd p = { .fd = r->c->fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

static void check_reply(struct vrun *r, const struct vfu_hdr *h, const uint8_t *p, int n, int nfds)
{
	struct pending want;

	if (r->untracked) {
		fz_trace("reply id %u command %s flags %#x (not matched)", h->msg_id, vfu_cmd_name(h->cmd),
			 h->flags);
		return;
	}
	FZ_CHECK(r->npend > 0, "a reply (id %u, command %u) to nothing", h->msg_id, h->cmd);
	want = r->pend[0];
	memmove(&r->pend[0], &r->pend[1], sizeof(r->pend[0]) * --r->npend);
	fz_trace("reply id %u command %s flags %#x error %u, %d bytes, %d fds", h->msg_id,
		 vfu_cmd_name(h->cmd), h->flags, h->error, n, nfds);
	FZ_CHECK(h->msg_id == want.id && h->cmd == want.cmd, "reply %u/%u, the oldest command is %u/%u",
		 h->msg_id, h->cmd, want.id, want.cmd);
	FZ_CHECK((h->flags & ~(uint32_t)VFU_F_ERROR) == VFU_F_TYPE_REPLY, "reply flags %#x", h->flags);
	if (h->flags & VFU_F_ERROR) {
		FZ_CHECK(n == 0 && nfds == 0 && h->error != 0 && h->error < 4096,
			 "error reply with %d bytes, %d fds, errno %u", n, nfds, h->error);
		return;
	}
	FZ_CHECK(h->error == 0, "successful reply with errno %u", h->error);
	FZ_CHECK(nfds == 0 || (want.cmd == VFU_CMD_DEVICE_GET_REGION_INFO &&
			       want.index == VFIO_PCI_BAR0_REGION_INDEX && nfds == 1),
		 "%d descriptors with a reply to %s", nfds, vfu_cmd_name(want.cmd));
	switch (want.cmd) {
	case VFU_CMD_VERSION: {
		struct vfu_version v;
		struct vfu_caps caps;

		FZ_CHECK(n > (int)sizeof(v) && p[n - 1] == '\0', "VERSION reply of %d bytes", n);
		memcpy(&v, p, sizeof(v));
		FZ_CHECK(v.major == VFU_PROTO_MAJOR && v.minor <= VFU_PROTO_MINOR && v.minor <= want.minor,
			 "version %u.%u answering %u", v.major, v.minor, want.minor);
		vfu_caps_default(&caps);
		FZ_CHECK(vfu_caps_parse((const char *)p + sizeof(v), strlen((const char *)p + sizeof(v)),
					&caps) == 0,
			 "the server's own capabilities do not parse: %s", (const char *)p + sizeof(v));
		FZ_CHECK(strlen((const char *)p + sizeof(v)) == (size_t)n - sizeof(v) - 1,
			 "NUL inside the JSON");
		break;
	}
	case VFU_CMD_DMA_MAP:
	case VFU_CMD_DEVICE_SET_IRQS:
	case VFU_CMD_DEVICE_RESET:
		FZ_CHECK(n == 0, "%s reply of %d bytes", vfu_cmd_name(want.cmd), n);
		break;
	case VFU_CMD_DMA_UNMAP:
		FZ_CHECK(n == (int)sizeof(struct vfu_dma_unmap), "DMA_UNMAP reply of %d bytes", n);
		break;
	case VFU_CMD_DEVICE_GET_INFO: {
		struct vfu_device_info d;

		FZ_CHECK(n == (int)sizeof(d), "DEVICE_GET_INFO reply of %d bytes", n);
		memcpy(&d, p, sizeof(d));
		FZ_CHECK(d.num_regions == VFIO_PCI_NUM_REGIONS && d.num_irqs == VFIO_PCI_NUM_IRQS,
			 "device info");
		break;
	}
	case VFU_CMD_DEVICE_GET_REGION_INFO: {
		struct vfu_region_info ri;

		FZ_CHECK(n >= (int)sizeof(ri), "REGION_INFO reply of %d bytes", n);
		memcpy(&ri, p, sizeof(ri));
		FZ_CHECK(ri.index == want.index, "region info for %u, asked %u", ri.index, want.index);
		FZ_CHECK(n == (int)sizeof(ri) || (uint32_t)n <= want.room,
			 "REGION_INFO reply of %d bytes, room for %u", n, want.room);
		FZ_CHECK(nfds == 0 || n > (int)sizeof(ri), "a descriptor without its sparse area");
		if (ri.flags & VFIO_REGION_INFO_FLAG_CAPS)
			FZ_CHECK(ri.argsz >= ri.cap_offset + sizeof(struct vfu_cap_sparse1),
				 "cap offset %u, argsz %u", ri.cap_offset, ri.argsz);
		break;
	}
	case VFU_CMD_DEVICE_GET_IRQ_INFO:
		FZ_CHECK(n == (int)sizeof(struct vfu_irq_info), "IRQ_INFO reply of %d bytes", n);
		break;
	case VFU_CMD_REGION_READ:
	case VFU_CMD_REGION_WRITE: {
		struct vfu_region_access a;
		uint32_t len = want.cmd == VFU_CMD_REGION_READ ? want.count : 0;

		FZ_CHECK(n == (int)(sizeof(a) + len), "%s reply of %d bytes for %u", vfu_cmd_name(want.cmd),
			 n, want.count);
		memcpy(&a, p, sizeof(a));
		FZ_CHECK(a.offset == want.offset && a.region == want.region && a.count == want.count,
			 "access echoed as %u/%#llx/%u", a.region, (unsigned long long)a.offset, a.count);
		break;
	}
	default:
		FZ_CHECK(false, "a successful reply to %s", vfu_cmd_name(want.cmd));
	}
}

/* Read every reply there is now. */
static void collect(struct vrun *r)
{
	static uint8_t buf[VFU_MAX_MSG];

	while (!r->eof && readable(r)) {
		struct vfu_hdr h;
		int fds[VFU_MAX_MSG_FDS], nfds = 0;
		int n = vfuc_recv(r->c, &h, buf, sizeof(buf), fds, &nfds);

		if (n == -EPIPE || n == -ECONNRESET) {
			fz_trace("the server closed the socket");
			r->eof = true;
			FZ_CHECK(r->may_close, "the server closed the socket for no reason");
			break;
		}
		FZ_CHECK(n >= 0, "receiving a reply: %d", n);
		check_reply(r, &h, buf, n, nfds);
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
	}
}

static void settle(struct vrun *r, int polls)
{
	for (int i = 0; i < polls; i++) {
		pump(r);
		collect(r);
	}
}

/* Send one command; @p is recorded for checking its reply. */
static void send_msg(struct vrun *r, uint16_t cmd, uint32_t flags, const void *payload, size_t len,
		     const int *fds, int nfds, struct pending *p)
{
	struct pending none = { 0 };
	int id;

	if (r->eof)
		return;
	if (p == NULL)
		p = &none;
	id = vfuc_send_raw(r->c, cmd, flags, payload, len, fds, nfds);
	fz_trace("send id %d %s flags %#x, %zu bytes, %d fds", id, vfu_cmd_name(cmd), flags, len, nfds);
	if (id < 0) {
		FZ_CHECK(r->may_close, "sending: %d, and the server had no reason to close", id);
		r->eof = true;
		return;
	}
	/* Framing the server must refuse: it closes the socket (vfu_hdr_check()). */
	if ((flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_COMMAND ||
	    (flags & ~(uint32_t)(VFU_F_TYPE_MASK | VFU_F_NO_REPLY)) ||
	    sizeof(struct vfu_hdr) + len > VFU_MAX_MSG) {
		r->may_close = true;
		r->untracked = true;
	}
	if (!(flags & VFU_F_NO_REPLY) && !r->untracked) {
		FZ_CHECK(r->npend < MAX_PENDING, "pending");
		p->id = (uint16_t)id;
		p->cmd = cmd;
		r->pend[r->npend++] = *p;
	}
	settle(r, 3);
}

/* A command through the client library, while everything is well behaved. */
static void must(int rc, const char *what)
{
	FZ_CHECK(rc == 0, "%s: %d", what, rc);
}

/* ---- Set-up ------------------------------------------------------------------------------------- */

static void setup(struct vrun *r, uint8_t cfg)
{
	struct vfuc_opts o = { .pump = pump, .pump_arg = r, .timeout_ms = 2000, .trap_doorbells = cfg & 4 };
	struct vfuc *c;

	must(vfuc_connect(r->sock, &o, &r->c), "connect");
	c = r->c;
	/* Until the group takes the client, it is not read. */
	for (int i = 0;
	     i < 100 && TAILQ_EMPTY(&((struct vfu_tpg *)nvmft_pg_transport(r->pg, r->tr)->tpg)->conns); i++)
		pump(r);
	if (!(cfg & 1)) {
		/* Nothing negotiated: whatever the input sends first decides. */
		r->may_close = true;
		return;
	}
	must(vfuc_version(
		     c, cfg & 0x20 ? "{\"capabilities\":{\"max_msg_fds\":1}}"
				   : "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}"),
	     "version");
	must(vfuc_mem_add(c, GUEST_IOVA, GUEST_SIZE), "guest memory");
	must(vfuc_setup_bar0(c), "BAR0");
	must(vfuc_nvme_enable(c, 32), "enable");
	r->up = true;
	must(vfuc_set_num_queues(c, NQ - 1, NQ - 1), "number of queues");
	if (cfg & 0x10) {
		int efds[NQ];
		uint16_t flags;

		for (int i = 0; i < NQ; i++)
			efds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		must(vfuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX,
				   VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, NQ, efds, NQ),
		     "MSI-X eventfds");
		for (int i = 0; i < NQ; i++)
			close(efds[i]);
		must(vfuc_cfg_read(c, VFU_PCI_CAP_MSIX + PCI_MSIX_FLAGS, &flags, 2), "MSI-X flags");
		flags |= PCI_MSIX_FLAGS_ENABLE;
		must(vfuc_cfg_write(c, VFU_PCI_CAP_MSIX + PCI_MSIX_FLAGS, &flags, 2), "MSI-X on");
	}
	if (cfg & 2) {
		must(vfuc_nvme_qpair(c, 1, 16, cfg & 0x10, 1, &r->ioq), "I/O queue pair");
		r->have_io = true;
	}
	if (cfg & 8)
		must(vfuc_nvme_dbbuf(c), "Doorbell Buffer Config");
	r->data_iova = vfuc_alloc(c, (size_t)DATA_PAGES * PG, PG);
	FZ_CHECK(r->data_iova != 0, "data area");
	r->data = vfuc_va(c, r->data_iova);
}

/* ---- Operations ------------------------------------------------------------------------------------ */

static int fds_for(struct vrun *r, uint8_t sel, int *fds)
{
	int n = 0;

	switch (sel % 6) {
	case 1:
		fds[n++] = r->mfd[sel >> 7];
		break;
	case 2:
		fds[n++] = eventfd(0, EFD_CLOEXEC);
		break;
	case 3:
		fds[n++] = r->mfd[0];
		fds[n++] = r->mfd[1];
		break;
	case 4:
		for (int i = 0; i < 1 + (sel >> 3) % 8; i++)
			fds[n++] = eventfd(0, EFD_CLOEXEC);
		break;
	case 5: {
		/*
		 * A pipe: neither a file nor an eventfd.  (Not the client's own
		 * socket: the server would hold the client's end open, and never
		 * see it leave.)
		 */
		int p[2];

		FZ_CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe");
		close(p[1]);
		fds[n++] = p[0];
		break;
	}
	default:
		break;
	}
	return n;
}

static void close_made(const int *fds, int n, uint8_t sel)
{
	if (sel % 6 == 2 || sel % 6 == 4 || sel % 6 == 5)
		for (int i = 0; i < n; i++)
			close(fds[i]);
}

static void op_message(struct vrun *r, struct fz *f)
{
	static uint8_t payload[4096];
	uint16_t cmd = fz_u16(f) % 20;
	uint8_t fl = fz_u8(f), fsel;
	uint32_t flags = fl & 0x80 ? fl : fl & VFU_F_NO_REPLY;
	uint16_t len = fz_u16(f) % (sizeof(payload) + 1);
	int fds[16], n;
	struct pending p = { .minor = 0xffff };

	fz_take(f, payload, len);
	fsel = fz_u8(f);
	n = fds_for(r, fsel, fds);
	/* What the reply is checked against (the decoders decide whether it is an error). */
	if (len >= 16 && (cmd == VFU_CMD_REGION_READ || cmd == VFU_CMD_REGION_WRITE)) {
		struct vfu_region_access a;

		memcpy(&a, payload, sizeof(a));
		p.offset = a.offset;
		p.region = a.region;
		p.count = a.count;
	}
	if (len >= 12 && cmd == VFU_CMD_DEVICE_GET_REGION_INFO) {
		memcpy(&p.room, payload, 4);
		memcpy(&p.index, payload + 8, 4);
	}
	if (len >= 4 && cmd == VFU_CMD_VERSION)
		memcpy(&p.minor, payload + 2, 2);
	if (cmd == VFU_CMD_DMA_MAP)
		r->no_outside = true;
	if (cmd == VFU_CMD_REGION_WRITE || cmd == VFU_CMD_DMA_UNMAP || cmd == VFU_CMD_DEVICE_RESET) {
		r->aq.lost = true;
		r->iq.lost = true;
	}
	send_msg(r, cmd, flags, payload, len, fds, n, &p);
	close_made(fds, n, fsel);
}

static void op_version(struct vrun *r, struct fz *f)
{
	static const char *const jsons[] = {
		"{\"capabilities\":{\"max_msg_fds\":16}}",
		"{}",
		"{\"capabilities\":{\"max_data_xfer_size\":1.5}}",
		"{\"capabilities\":{\"migration\":{\"pgsize\":4096},\"twin_socket\":{\"supported\":true}}}",
		"[1,2]",
	};
	struct {
		struct vfu_version v;
		char json[300];
	} req = { .v = { VFU_PROTO_MAJOR, VFU_PROTO_MINOR } };
	struct pending p = { 0 };
	uint8_t sel = fz_u8(f);
	size_t jl;

	if (!(sel & 0x80)) {
		jl = strlen(jsons[sel % 5]) + 1;
		memcpy(req.json, jsons[sel % 5], jl);
	} else {
		jl = fz_u8(f);
		fz_take(f, req.json, jl);
	}
	if (sel & 1)
		req.v.minor = (uint16_t)(sel >> 1);
	p.minor = req.v.minor;
	send_msg(r, VFU_CMD_VERSION, 0, &req, sizeof(req.v) + jl, NULL, 0, &p);
}

static uint64_t iova_choice(struct vrun *r, uint8_t sel, struct fz *f)
{
	switch (sel & 3) {
	case 0: /* right after guest memory */
		return GUEST_IOVA + GUEST_SIZE + (uint64_t)(sel >> 2) * PG;
	case 1: /* low addresses */
		return (uint64_t)(sel >> 2) * PG;
	case 2: /* inside guest memory: overlaps */
		return GUEST_IOVA + (uint64_t)(sel >> 2) * PG;
	default:
		(void)r;
		return fz_u64(f) & ((1ull << 41) - 1) & ~(uint64_t)(sel & 0x80 ? 0 : PG - 1);
	}
}

static void op_dma_map(struct vrun *r, struct fz *f)
{
	struct vfu_dma_map m = { .argsz = sizeof(m) };
	uint8_t which = fz_u8(f), page = fz_u8(f), pages = fz_u8(f), isel = fz_u8(f), fl = fz_u8(f);
	int fd = which & 1 ? r->mfd[which >> 1 & 1] : r->c != NULL ? r->c->mem_fd : -1;

	m.offset = (uint64_t)(page % 32) * PG;
	m.size = (uint64_t)(pages % 17) * PG + (which & 0x80 ? 1 : 0);
	m.addr = iova_choice(r, isel, f);
	m.flags = fl & 0x1f;
	if (fd < 0)
		fd = r->mfd[0];
	send_msg(r, VFU_CMD_DMA_MAP, 0, &m, sizeof(m), &fd, which & 0x40 ? 0 : 1, NULL);
	if (r->nmaps < 16) {
		r->map_iova[r->nmaps] = m.addr;
		r->map_size[r->nmaps] = m.size;
		r->nmaps++;
	}
	/* A page only the device's reads may reach (the server maps it PROT_READ). */
	if ((m.flags & 3) == VFU_DMA_READ && m.size == PG && !(which & 0x40) && (m.addr & (PG - 1)) == 0)
		r->ro_iova = m.addr;
}

static void op_dma_unmap(struct vrun *r, struct fz *f)
{
	struct vfu_dma_unmap u = { .argsz = sizeof(u) };
	uint8_t sel = fz_u8(f);

	switch (sel % 4) {
	case 0:
		if (r->nmaps > 0) {
			u.addr = r->map_iova[sel / 4 % r->nmaps];
			u.size = r->map_size[sel / 4 % r->nmaps];
		}
		break;
	case 1:
		u.flags = VFU_UNMAP_ALL;
		break;
	case 2: /* guest memory itself: the queues lose their memory */
		u.addr = GUEST_IOVA;
		u.size = GUEST_SIZE;
		break;
	default:
		u.flags = sel >> 6;
		u.addr = fz_u64(f);
		u.size = fz_u64(f);
		break;
	}
	if (u.flags & VFU_UNMAP_ALL || u.addr == GUEST_IOVA) {
		r->aq.lost = true;
		r->iq.lost = true;
	}
	if (u.addr == r->ro_iova || (u.flags & VFU_UNMAP_ALL))
		r->ro_iova = 0;
	send_msg(r, VFU_CMD_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, NULL);
}

static void op_region(struct vrun *r, struct fz *f, bool write)
{
	static uint8_t buf[sizeof(struct vfu_region_access) + 4096];
	struct vfu_region_access a;
	uint8_t reg = fz_u8(f);
	struct pending p = { 0 };

	memset(&a, 0, sizeof(a));
	a.region = reg % 10;
	a.offset = fz_u16(f);
	if (reg & 0x10)
		a.offset += VFU_BAR0_DB_OFF;
	if (reg & 0x20)
		a.offset |= (uint64_t)fz_u8(f) << 32;
	if (write) {
		a.count = fz_u8(f) % 65;
		memset(buf + sizeof(a), 0, a.count);
		fz_take(f, buf + sizeof(a), a.count);
	} else {
		a.count = fz_u16(f) % 4097;
	}
	memcpy(buf, &a, sizeof(a));
	p.region = a.region;
	p.offset = a.offset;
	p.count = a.count;
	if (write && (a.region == VFIO_PCI_BAR0_REGION_INDEX || a.region == VFIO_PCI_CONFIG_REGION_INDEX)) {
		/* Registers, doorbells, bus mastering, FLR: the queues may not be what the harness thinks. */
		r->aq.lost = true;
		r->iq.lost = true;
	}
	send_msg(r, write ? VFU_CMD_REGION_WRITE : VFU_CMD_REGION_READ, 0, buf,
		 sizeof(a) + (write ? a.count : 0), NULL, 0, &p);
}

static void op_set_irqs(struct vrun *r, struct fz *f)
{
	struct {
		struct vfu_irq_set s;
		uint8_t bools[64];
	} m;
	uint8_t idx = fz_u8(f), fl = fz_u8(f), start = fz_u8(f), count = fz_u8(f), nfd = fz_u8(f);
	static const uint32_t datas[] = { VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_BOOL,
					  VFIO_IRQ_SET_DATA_EVENTFD };
	static const uint32_t actions[] = { VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_MASK,
					    VFIO_IRQ_SET_ACTION_UNMASK };
	int fds[16];
	size_t len = sizeof(m.s);
	int n = nfd % 9;

	memset(&m, 0, sizeof(m));
	m.s.argsz = sizeof(m.s);
	m.s.index = idx % 6;
	m.s.flags = fl & 0x80 ? fl : datas[fl % 3] | actions[fl >> 2 & 1 ? 0 : (fl >> 3) % 3];
	m.s.start = start % 8;
	m.s.count = count % 9;
	if ((m.s.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) == VFIO_IRQ_SET_DATA_BOOL) {
		memset(m.bools, nfd & 0x80 ? 1 : 0, m.s.count);
		len += m.s.count;
	}
	m.s.argsz = (uint32_t)len;
	for (int i = 0; i < n; i++)
		fds[i] = nfd & 0x40 ? r->mfd[0] : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	send_msg(r, VFU_CMD_DEVICE_SET_IRQS, 0, &m, len, fds, n, NULL);
	if (!(nfd & 0x40))
		for (int i = 0; i < n; i++)
			close(fds[i]);
}

static void op_misc(struct vrun *r, struct fz *f)
{
	uint8_t sel = fz_u8(f), arg = fz_u8(f);
	struct pending p = { 0 };

	switch (sel % 4) {
	case 0:
		r->aq.lost = true;
		r->iq.lost = true;
		send_msg(r, VFU_CMD_DEVICE_RESET, 0, NULL, 0, NULL, 0, NULL);
		break;
	case 1: {
		struct vfu_device_info d = { .argsz = arg & 1 ? sizeof(d) : arg };

		send_msg(r, VFU_CMD_DEVICE_GET_INFO, 0, &d, sizeof(d), NULL, 0, NULL);
		break;
	}
	case 2: {
		struct vfu_region_info ri = { .argsz = arg & 1 ? 64 : arg,
					      .index = (uint32_t)(sel >> 2) % 10 };

		p.room = ri.argsz;
		p.index = ri.index;
		send_msg(r, VFU_CMD_DEVICE_GET_REGION_INFO, 0, &ri, sizeof(ri), NULL, 0, &p);
		break;
	}
	default: {
		struct vfu_irq_info ii = { .argsz = sizeof(ii), .index = arg % 6 };

		send_msg(r, VFU_CMD_DEVICE_GET_IRQ_INFO, 0, &ii, sizeof(ii), NULL, 0, NULL);
		break;
	}
	}
}

/* ---- Queues in guest memory ------------------------------------------------------------------------ */

/*
 * Point @cmd's data at the data area as @sel says, for @len bytes; true
 * when the pointer lies outside everything mapped (the command must fail).
 */
static bool data_ptr(struct vrun *r, struct fz *f, struct nvmft_cmd *cmd, uint8_t sel, uint32_t len)
{
	uint32_t page = (uint32_t)(sel >> 3) % (DATA_PAGES / 2);
	uint64_t base = r->data_iova + (uint64_t)page * PG;

	switch (sel & 7) {
	case 0:
		cmd->dptr.prp.prp1 = htole64(base);
		cmd->dptr.prp.prp2 = htole64(base + PG);
		if (len > 2 * PG) {
			/* A list in the last page of the area, entries counting up from the next page. */
			uint64_t list = r->data_iova + (DATA_PAGES - 1) * (uint64_t)PG;
			uint64_t *e = (uint64_t *)(void *)(r->data + (DATA_PAGES - 1) * PG);

			for (uint32_t i = 0; i < 16; i++)
				e[i] = htole64(base + (uint64_t)(i + 1) * PG);
			cmd->dptr.prp.prp2 = htole64(list);
		}
		return false;
	case 1: /* an odd offset in the page */
		cmd->dptr.prp.prp1 = htole64(base + (fz_u16(f) & 0xfff));
		cmd->dptr.prp.prp2 = htole64(base + PG + (sel & 0x80 ? 8 : 0));
		return false;
	case 2: { /* a PRP list from the input, at an input-chosen place */
		uint32_t at = (uint32_t)fz_u16(f) * 8 % (DATA_PAGES * PG - 64);
		uint8_t n = fz_u8(f) % 8;

		cmd->dptr.prp.prp1 = htole64(base);
		cmd->dptr.prp.prp2 = htole64(r->data_iova + (at & ~7u));
		for (uint8_t i = 0; i < n; i++) {
			uint64_t e = r->data_iova + (uint64_t)fz_u16(f) * 16;

			memcpy(r->data + (at & ~7u) + i * 8u, &e, 8);
		}
		return false;
	}
	case 3: /* SGL: one data block */
		cmd->flags = (uint8_t)((cmd->flags & 0x3f) | NVMFT_CMD_PSDT_SGL_MPTR_CONTIG
								     << NVMFT_CMD_PSDT_SHIFT);
		memset(&cmd->dptr, 0, sizeof(cmd->dptr));
		cmd->dptr.sgl1.addr = htole64(base);
		cmd->dptr.sgl1.unkeyed.length = htole32(len);
		cmd->dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4;
		return false;
	case 4: { /* SGL: a (last) segment of descriptors from the input */
		uint32_t at = (uint32_t)fz_u16(f) * 16 % (DATA_PAGES * PG - 256);
		uint8_t n = fz_u8(f) % 8 + 1;

		cmd->flags =
			(uint8_t)((cmd->flags & 0x3f) | NVMFT_CMD_PSDT_SGL_MPTR_SGL << NVMFT_CMD_PSDT_SHIFT);
		memset(&cmd->dptr, 0, sizeof(cmd->dptr));
		cmd->dptr.sgl1.addr = htole64(r->data_iova + (at & ~15u));
		cmd->dptr.sgl1.unkeyed.length = htole32(n * 16u);
		cmd->dptr.sgl1.unkeyed.type =
			(uint8_t)((sel & 0x80 ? NVMFT_SGL_TYPE_SEGMENT : NVMFT_SGL_TYPE_LAST_SEGMENT) << 4);
		for (uint8_t i = 0; i < n; i++) {
			struct nvmft_sgl_desc d;

			fz_take(f, &d, sizeof(d));
			if (!(d.unkeyed.rsvd[0] & 1))
				d.addr = htole64(r->data_iova + (le64toh(d.addr) % (DATA_PAGES * PG)));
			memcpy(r->data + (at & ~15u) + i * 16u, &d, sizeof(d));
		}
		return false;
	}
	case 5: /* nowhere the client ever mapped */
		cmd->dptr.prp.prp1 = htole64(OUTSIDE_IOVA + (uint64_t)page * PG);
		cmd->dptr.prp.prp2 = htole64(OUTSIDE_IOVA + (uint64_t)(page + 1) * PG);
		return len > 0 && !r->no_outside;
	case 6:
		return false; /* as the SQE had it */
	default: /* a page only the device's reads may reach (writes fault, which the check is) */
		if (r->ro_iova != 0) {
			cmd->dptr.prp.prp1 = htole64(r->ro_iova);
			cmd->dptr.prp.prp2 = 0;
		}
		return false;
	}
}

/*
 * Write doorbell @idx: a store to the mapped page, or a REGION_WRITE whose
 * reply is collected like any other (never a call that waits for it: with
 * the framing lost, no reply may come).  A queue with a shadow doorbell
 * gets the value there too.
 */
static void ring_db(struct vrun *r, uint32_t idx, uint32_t v)
{
	struct {
		struct vfu_region_access a;
		uint32_t v;
	} m = { { .offset = VFU_BAR0_DB_OFF + idx * 4u, .region = VFIO_PCI_BAR0_REGION_INDEX, .count = 4 },
		v };
	struct pending p = { .region = m.a.region, .offset = m.a.offset, .count = 4 };

	if (idx >= 2 && idx < 2 * NQ && r->c->shadow != NULL)
		__atomic_store_n(&r->c->shadow[idx], v, __ATOMIC_RELEASE);
	if (r->c->db != NULL && !r->c->o.trap_doorbells) {
		__atomic_store_n((uint32_t *)(void *)r->c->db + idx, v, __ATOMIC_RELEASE);
		settle(r, 2);
		return;
	}
	send_msg(r, VFU_CMD_REGION_WRITE, 0, &m, sizeof(m.a) + sizeof(m.v), NULL, 0, &p);
}

static void track(struct qtrack *t, const struct nvmft_cmd *cmd, bool must_fail, bool aer)
{
	if (t->n == MAX_TRACK) {
		t->lost = true;
		return;
	}
	t->cid[t->n] = le16toh(cmd->cid);
	t->must_fail[t->n] = must_fail;
	t->aer[t->n] = aer;
	t->n++;
}

static void submit(struct vrun *r, struct vfuc_q *q, struct qtrack *t, struct nvmft_cmd *cmd, bool must_fail)
{
	/* A full queue: the entry would overwrite one the server has not fetched. */
	if ((uint16_t)((q->sq_tail + 1) % q->entries) == q->sq_head && !t->lost)
		return;
	vfuc_push(q, cmd);
	track(t, cmd, must_fail, q->qid == 0 && cmd->opcode == nvme_admin_async_event);
	fz_trace("queue %u: opcode %#x cid %u%s", q->qid, cmd->opcode, le16toh(cmd->cid),
		 must_fail ? " (must fail)" : "");
	ring_db(r, 2u * q->qid, q->sq_tail);
	settle(r, 1);
	fz_trace("namespace 2 holds %u commands", tb_held(r->tb));
}

static void op_admin_sqe(struct vrun *r, struct fz *f)
{
	struct nvmft_cmd cmd;
	uint8_t sel;
	bool out;

	fz_take(f, &cmd, sizeof(cmd));
	sel = fz_u8(f);
	if (!r->up)
		return;
	/* Identify is the admin command with data the harness knows the size of. */
	if ((sel & 7) == 5 && !(cmd.opcode & 0x80))
		cmd.opcode = nvme_admin_identify;
	cmd.flags &= 0x3f; /* admin commands take PRPs */
	out = data_ptr(r, f, &cmd, sel, NVME_IDENTIFY_DATA_SIZE);
	cmd.flags &= 0x3f;
	if (cmd.opcode != nvme_admin_identify)
		out = false;
	switch (cmd.opcode) {
	case nvme_admin_delete_sq:
	case nvme_admin_create_sq:
	case nvme_admin_delete_cq:
	case nvme_admin_create_cq:
	case nvme_admin_dbbuf:
	case nvme_admin_set_features:
		r->iq.lost = true;
		break;
	default:
		break;
	}
	submit(r, &r->c->admin, &r->aq, &cmd, out);
}

static void op_io_sqe(struct vrun *r, struct fz *f)
{
	static const uint8_t opcodes[] = {
		nvme_cmd_read,	       nvme_cmd_write, nvme_cmd_flush, nvme_cmd_compare,
		nvme_cmd_write_zeroes, nvme_cmd_dsm,   0x7e,	       0xff
	};
	struct nvmft_cmd cmd;
	uint8_t kind = fz_u8(f), nlb = fz_u8(f) % 16, sel;
	uint16_t slba = fz_u16(f);
	uint32_t len;
	bool out;

	sel = fz_u8(f);
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = opcodes[kind & 7];
	cmd.nsid = htole32(kind & 0x80 ? 2 : 1);
	cmd.cdw10 = htole32(slba % NS_BLOCKS);
	cmd.cdw12 = htole32(nlb);
	len = (nlb + 1u) * BLOCK;
	if (cmd.opcode == nvme_cmd_dsm) {
		cmd.cdw10 = htole32(nlb % 4);
		cmd.cdw11 = htole32(4); /* deallocate */
		len = (nlb % 4 + 1u) * 16;
	}
	if (!r->have_io)
		return;
	out = data_ptr(r, f, &cmd, sel, len);
	if (cmd.opcode == nvme_cmd_flush || cmd.opcode == nvme_cmd_write_zeroes || cmd.opcode >= 0x7e)
		out = false;
	submit(r, &r->ioq, &r->iq, &cmd, out);
}

static void check_cpl(struct vrun *r, struct vfuc_q *q, struct qtrack *t, const struct nvmft_cpl *cpl)
{
	uint16_t cid = le16toh(cpl->cid), st = vfuc_status(cpl);

	(void)r;
	fz_trace("queue %u: completion cid %u status %#x sqid %u", q->qid, cid, st, le16toh(cpl->sqid));
	if (t->lost)
		return;
	FZ_CHECK(le16toh(cpl->sqid) == q->qid, "completion on queue %u names SQ %u", q->qid,
		 le16toh(cpl->sqid));
	for (uint32_t i = 0; i < t->n; i++) {
		if (t->cid[i] != cid)
			continue;
		FZ_CHECK(!t->must_fail[i] || st != 0,
			 "queue %u: CID %u with data outside mapped memory succeeded", q->qid, cid);
		t->n--;
		t->cid[i] = t->cid[t->n];
		t->must_fail[i] = t->must_fail[t->n];
		t->aer[i] = t->aer[t->n];
		return;
	}
	FZ_CHECK(false, "queue %u: a completion for CID %u, which is not outstanding", q->qid, cid);
}

/* Take the completions there are and tell the controller (the head doorbell). */
static void reap(struct vrun *r, struct vfuc_q *q, struct qtrack *t)
{
	struct nvmft_cpl cpl;
	uint32_t idx = 2u * q->qid + 1;
	int n = 0;

	while (n < q->entries && vfuc_peek(q, &cpl)) {
		check_cpl(r, q, t, &cpl);
		n++;
	}
	if (n == 0 || r->eof)
		return;
	ring_db(r, idx, q->cq_head);
}

static void op_reap(struct vrun *r)
{
	if (!r->up)
		return;
	reap(r, &r->c->admin, &r->aq);
	if (r->have_io)
		reap(r, &r->ioq, &r->iq);
}

static void op_guest_write(struct vrun *r, struct fz *f)
{
	uint32_t off = (uint32_t)fz_u16(f) * 16 % GUEST_SIZE;
	uint8_t n = fz_u8(f);

	if (r->c == NULL || r->c->mem == NULL)
		return;
	if (off + n > GUEST_SIZE)
		n = (uint8_t)(GUEST_SIZE - off);
	fz_take(f, r->c->mem + off, n);
	/* Over a queue or the shadow doorbells: what they hold is the input's now. */
	if (r->c->mem_iova + off < r->data_iova) {
		r->aq.lost = true;
		r->iq.lost = true;
	}
}

static void op_doorbell(struct vrun *r, struct fz *f)
{
	uint8_t idx = fz_u8(f) % (2 * NQ + 2);
	uint16_t v = fz_u16(f);

	if (!r->up)
		return;
	r->aq.lost = true;
	r->iq.lost = true;
	ring_db(r, idx, v);
}

static void op_reg_write(struct vrun *r, struct fz *f)
{
	static const uint32_t regs[] = { NVME_REG_CC,  NVME_REG_CC,    NVME_REG_AQA,   NVME_REG_ASQ,
					 NVME_REG_ACQ, NVME_REG_INTMS, NVME_REG_INTMC, NVME_REG_CSTS };
	uint8_t sel = fz_u8(f);
	uint32_t v = fz_u32(f);
	struct {
		struct vfu_region_access a;
		uint32_t v;
	} m;
	struct pending p;

	memset(&m, 0, sizeof(m));
	m.a.count = 4;
	m.v = v;
	if (sel & 0x80) {
		/* Config space: command (bus mastering), MSI-X control, PCIe device control (FLR), PM. */
		static const uint32_t cfgs[] = { PCI_COMMAND, VFU_PCI_CAP_MSIX + PCI_MSIX_FLAGS,
						 VFU_PCI_CAP_EXP + PCI_EXP_DEVCTL,
						 VFU_PCI_CAP_PM + PCI_PM_CTRL };

		m.a.region = VFIO_PCI_CONFIG_REGION_INDEX;
		m.a.offset = cfgs[sel & 3];
		m.a.count = 2;
		if ((sel & 3) == 0)
			r->bus_master_off = !(v & PCI_COMMAND_MASTER);
	} else {
		m.a.region = VFIO_PCI_BAR0_REGION_INDEX;
		m.a.offset = regs[sel & 7];
		if ((sel & 7) == 1)
			m.v = sel & 8	 ? (1u | 6u << 16 | 4u << 20)
			      : sel & 16 ? (1u | 6u << 16 | 4u << 20 | 1u << 14)
					 : 0;
	}
	r->aq.lost = true;
	r->iq.lost = true;
	p = (struct pending){ .region = m.a.region, .offset = m.a.offset, .count = m.a.count };
	send_msg(r, VFU_CMD_REGION_WRITE, 0, &m, sizeof(m.a) + m.a.count, NULL, 0, &p);
}

static void op_raw_bytes(struct vrun *r, struct fz *f)
{
	uint8_t buf[256];
	uint8_t n = fz_u8(f);

	fz_take(f, buf, n);
	if (r->eof)
		return;
	/*
	 * The server now sees whatever framing these bytes make: it may close,
	 * replies are not matched, and what follows may write registers.
	 */
	r->untracked = true;
	r->may_close = true;
	r->aq.lost = true;
	r->iq.lost = true;
	if (vfuc_send_bytes(r->c, buf, n) < 0)
		r->eof = true;
	settle(r, 3);
}

static void record(struct vrun *r, struct fz *f)
{
	uint8_t op = fz_u8(f);

	switch (op & 0xf) {
	case 0:
		op_message(r, f);
		break;
	case 1:
		op_version(r, f);
		break;
	case 2:
		op_dma_map(r, f);
		break;
	case 3:
		op_dma_unmap(r, f);
		break;
	case 4:
		op_region(r, f, false);
		break;
	case 5:
		op_region(r, f, true);
		break;
	case 6:
		op_set_irqs(r, f);
		break;
	case 7:
		op_misc(r, f);
		break;
	case 8:
		op_admin_sqe(r, f);
		break;
	case 9:
		op_io_sqe(r, f);
		break;
	case 10:
		op_guest_write(r, f);
		break;
	case 11:
		op_doorbell(r, f);
		break;
	case 12:
		op_reg_write(r, f);
		break;
	case 13:
		op_reap(r);
		break;
	case 14: {
		uint8_t n = fz_u8(f);

		/* Namespace 2 holds its completions (requests stay in flight), or lets them go. */
		if (n & 0x80)
			tb_hold(r->tb, !(n & 0x40));
		if (n & 0x20)
			tb_release(r->tb);
		settle(r, n % 32 + 1);
		break;
	}
	default:
		op_raw_bytes(r, f);
		break;
	}
}

/* Everything sent has its answer, and, while the queues were left alone, every command its completion. */
static void final_checks(struct vrun *r)
{
	tb_hold(r->tb, false);
	tb_release(r->tb);
	for (int i = 0; i < 500 && !r->eof && r->npend > 0; i++)
		settle(r, 1);
	if (!r->eof && !r->untracked)
		FZ_CHECK(r->npend == 0, "%u commands never answered (oldest: id %u %s)", r->npend,
			 r->pend[0].id, vfu_cmd_name(r->pend[0].cmd));
	if (!r->up || r->eof || r->bus_master_off)
		return;
	for (int i = 0; i < 200; i++) {
		uint32_t open = 0;

		op_reap(r);
		for (uint32_t k = 0; k < r->aq.n; k++)
			open += !r->aq.aer[k];
		if (!r->iq.lost)
			open += r->iq.n;
		if (r->aq.lost || open == 0)
			return;
		if (i == 199)
			FZ_CHECK(false, "%u commands never completed (admin %u, I/O %u)", open, r->aq.n,
				 r->iq.n);
		settle(r, 2);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vrun *r = calloc(1, sizeof(*r));
	struct fz f;
	uint8_t cfg;

	FZ_CHECK(r != NULL, "calloc");
	fz_init(&f, data, size);
	cfg = fz_u8(&f);
	env_init(r);
	setup(r, cfg);
	for (int i = 0; i < MAX_RECORDS && fz_left(&f) > 0; i++)
		record(r, &f);
	final_checks(r);
	vfuc_close(r->c);
	env_fini(r);
	free(r);
	return 0;
}
