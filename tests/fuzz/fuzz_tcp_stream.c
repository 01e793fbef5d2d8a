/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The whole NVMe/TCP transport fed a byte stream from a hostile host.
 *
 * Each input builds a target with the public API (a poll group, the TCP
 * transport with a listener on 127.0.0.1, a subsystem that allows any host
 * with a RAM namespace), hands one end of a socketpair to the transport
 * (nvmft_tcp_adopt_fd()), writes the stream into the other end in pieces
 * whose sizes the input chooses, polling the target between pieces, then
 * closes its end and polls until the connection is gone, and tears the
 * target down.  So that mutations reach past the handshake, the input may
 * ask for a valid prefix: ICReq (digests as it says), then an admin
 * Connect, then CC.EN = 1; or ICReq and an I/O queue Connect to a
 * controller that a second, well-behaved host (tests/common/tcp_host.h)
 * set up first.
 *
 * Checks:
 *  - what the target sends is a well-formed controller-to-host stream:
 *    it is parsed as it arrives with the codec in the host role, and any
 *    malformed PDU, bad digest or data misalignment fails the run;
 *  - the target keeps reading: a host that cannot write for a long time
 *    although it reads everything the target sends is a hang;
 *  - once the host closed, the connection goes away; afterwards the poll
 *    group has no queue pair, no backend request, every pool buffer back,
 *    and no more pool memory than its bound;
 *  - teardown frees everything and leaks no descriptor (ASan/LSan and a
 *    descriptor count).
 *
 * Input: byte 0 (bits 0-2: prefix 0 none, 1 ICReq, 2 + admin Connect,
 * 3 + CC.EN, 4 ICReq + I/O Connect, 5-7 as 3; bit 3: header digest; bit 4:
 * data digest; bit 5: leave digests in the stream as they are rather than
 * fixing them; bit 6: shut down writing before closing; bit 7: read
 * nothing from the target until the end), byte 1 largest piece (mod 8:
 * 1, 2, 7, 64, 300, 1500, 9000, 70000 bytes), u32 seed of the piece sizes,
 * then the stream.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bsd/string.h>
#include <nvmft/nvmft.h>

#include "core/poll_group.h"
#include "core/transport.h"
#include "fuzz_common.h"
#include "tcp_host.h"
#include "transports/tcp/tcp_internal.h"

#define POOL_BYTES (512u * 1024)
#define STALL_ROUNDS 20000
#define CLOSE_ROUNDS 100000
#define HELPER_HOSTID "\x42\x42\x42\x42\x42\x42\x42\x42\x42\x42\x42\x42\x42\x42\x42\x42"

struct stream_env {
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	struct nvmft_subsystem *ss;
	struct nvmft_backend *be;
	struct th *helper;       /* the well-behaved host owning the controller, or NULL */
	uint16_t cntlid;
	int fd;                  /* our end of the socketpair, -1 once closed */
	int fds_before;

	/* The target's output, parsed as a host would. */
	struct nvmft_tcp_params hp;
	struct nvmft_tcp_rx hrx;
	uint8_t *sink;
	size_t out_bytes;
};

static int pump(void *arg)
{
	struct stream_env *e = arg;
	int work = 0, rc;

	rc = nvmft_target_poll(e->tgt);
	if (rc > 0)
		work += rc;
	rc = nvmft_poll_group_poll(e->pg, 0);
	if (rc > 0)
		work += rc;
	return work;
}

static void done_cb(void *arg, int status)
{
	*(int *)arg = status;
}

static void env_init(struct stream_env *e)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4,
					.traddr = "127.0.0.1", .trsvcid = "0" };
	struct nvmft_transport_opts to;
	struct nvmft_subsystem_opts so;
	struct nvmft_ns *ns;
	int rc, added = 1;

	memset(e, 0, sizeof(*e));
	e->fd = -1;
	e->fds_before = fz_count_fds();
	rc = nvmft_target_new(NULL, &e->tgt);
	FZ_CHECK(rc == 0, "target: %d", rc);
	rc = nvmft_poll_group_new(e->tgt, NULL, &e->pg);
	FZ_CHECK(rc == 0, "poll group: %d", rc);
	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &to, sizeof(to));
	/* Small limits, so the fuzzer runs into them. */
	to.max_queue_depth = 64;
	to.max_aq_depth = 32;
	to.max_qpairs_per_ctrlr = 4;
	to.max_io_size = 65536;
	to.buf_pool_bytes = POOL_BYTES;
	to.max_h2c_data = 8192;
	rc = nvmft_transport_new(e->tgt, NVMFT_TRTYPE_TCP, &to, &e->tr);
	FZ_CHECK(rc == 0, "transport: %d", rc);
	rc = nvmft_listener_new(e->tr, &lo, &e->l);
	FZ_CHECK(rc == 0, "listener: %d", rc);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = FZ_SUBNQN;
	so.allow_any_host = true;
	rc = nvmft_subsystem_new(e->tgt, &so, &e->ss);
	FZ_CHECK(rc == 0, "subsystem: %d", rc);
	FZ_CHECK(nvmft_subsystem_add_listener(e->ss, e->l) == 0, "subsystem listener");
	rc = nvmft_backend_malloc_new("fuzz-stream", FZ_BLOCKS, FZ_BLOCK, &e->be);
	FZ_CHECK(rc == 0, "backend: %d", rc);
	FZ_CHECK(nvmft_ns_add(e->ss, e->be, NULL, done_cb, &added, &ns) == 0, "ns add");
	for (int i = 0; i < 10000 && added == 1; i++)
		pump(e);
	FZ_CHECK(added == 0, "ns add completed with %d", added);
	e->sink = malloc(65536);
	FZ_CHECK(e->sink != NULL, "malloc");
}

static void stopped_cb(void *arg, int status)
{
	(void)status;
	*(bool *)arg = true;
}

static uint64_t connections(const struct stream_env *e)
{
	return atomic_load(&e->tr->num_connections);
}

static void env_fini(struct stream_env *e)
{
	struct nvmft_poll_group_stats st = { .size = sizeof(st) };
	const struct nvmft_buf_pool *pool = &e->pg->tr[e->tr->index].pool;
	bool stopped = false;
	int rc;

	FZ_CHECK(nvmft_poll_group_get_stats(e->pg, &st) == 0, "stats");
	FZ_CHECK(st.current_admin_qpairs == 0 && st.current_io_qpairs == 0 &&
		 st.pending_bdev_io == 0,
		 "idle group holds %llu admin / %llu I/O qpairs, %llu backend requests",
		 (unsigned long long)st.current_admin_qpairs,
		 (unsigned long long)st.current_io_qpairs,
		 (unsigned long long)st.pending_bdev_io);
	FZ_CHECK(pool->nr_free == pool->nr_alloc &&
		 TAILQ_EMPTY(&e->pg->tr[e->tr->index].buf_waiters),
		 "pool: %u chunks out, waiters %d", pool->nr_alloc - pool->nr_free,
		 !TAILQ_EMPTY(&e->pg->tr[e->tr->index].buf_waiters));
	FZ_CHECK(st.buf_bytes <= POOL_BYTES, "pool holds %llu bytes, bound %u",
		 (unsigned long long)st.buf_bytes, POOL_BYTES);
	FZ_CHECK(nvmft_poll_group_stop(e->pg, stopped_cb, &stopped) == 0, "stop");
	for (int i = 0; i < 10000 && !stopped; i++)
		pump(e);
	FZ_CHECK(stopped, "poll group did not stop");
	rc = nvmft_poll_group_free(e->pg);
	FZ_CHECK(rc == 0, "poll group free: %d", rc);
	nvmft_target_poll(e->tgt);
	nvmft_target_free(e->tgt);
	FZ_CHECK(nvmft_backend_free(e->be) == 0, "backend free");
	free(e->sink);
	rc = fz_count_fds();
	FZ_CHECK(rc == e->fds_before, "descriptors: %d before, %d after", e->fds_before, rc);
}

/* Check what the target sent with the codec in the host role. */
static void parse_output(struct stream_env *e, const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t used = 0;
		enum nvmft_tcp_rx_event ev = nvmft_tcp_rx_feed(&e->hrx, p, n, &used);

		if (ev == NVMFT_TCP_RX_ERROR) {
			const struct nvmft_tcp_err *err = nvmft_tcp_rx_err(&e->hrx);

			fz_fail(__FILE__, __LINE__, "well-formed target output",
				"the target sent a malformed PDU after %zu bytes: FES %u FEI %u "
				"(type %#x)", e->out_bytes, err->fes, err->fei,
				nvmft_tcp_rx_type(&e->hrx));
		}
		FZ_CHECK(ev != NVMFT_TCP_RX_DDGST_ERROR, "the target sent a wrong data digest");
		if (ev == NVMFT_TCP_RX_HEADER) {
			const struct nvmft_tcp_ch *ch = nvmft_tcp_rx_hdr(&e->hrx);

			if (ch->type == NVMFT_TCP_ICRESP)
				nvmft_tcp_icresp_accept(nvmft_tcp_rx_hdr(&e->hrx), &e->hp);
			if (ch->type == NVMFT_TCP_RSP) {
				const struct nvmft_tcp_rsp *rsp = nvmft_tcp_rx_hdr(&e->hrx);

				fz_trace("response cid %u status %#x", le16toh(rsp->cpl.cid),
					 nvmft_status_from_wire(rsp->cpl.status));
			} else {
				fz_trace("PDU type %#x plen %u", ch->type, le32toh(ch->plen));
			}
		}
		p += used;
		n -= used;
		e->out_bytes += used;
	}
}

/* Read (and check) whatever the target sent; false once it closed. */
static bool drain_output(struct stream_env *e)
{
	for (;;) {
		ssize_t r = recv(e->fd, e->sink, 65536, MSG_DONTWAIT);

		if (r > 0) {
			parse_output(e, e->sink, (size_t)r);
			continue;
		}
		if (r == 0)
			return false;
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
	}
}

/* Poll until the target has nothing more to do (bounded). */
static void settle(struct stream_env *e, bool read)
{
	int idle = 0;

	for (int i = 0; i < 2000 && idle < 3; i++) {
		idle = pump(e) == 0 ? idle + 1 : 0;
		if (read)
			drain_output(e);
	}
}

/* ---- The valid prefix ------------------------------------------------------------------------ */

struct prefix {
	uint8_t *b;
	size_t len, cap;
};

static void put(struct prefix *px, const void *p, size_t n)
{
	FZ_CHECK(px->len + n <= px->cap, "prefix overflow");
	memcpy(px->b + px->len, p, n);
	px->len += n;
}

/* A capsule with @icd bytes of in-capsule data, as the host parameters @p want it. */
static void put_cmd(struct prefix *px, const struct nvmft_tcp_params *p, struct nvmft_cmd *cmd,
		    const void *icd, uint32_t icd_len)
{
	uint8_t hdr[NVMFT_TCP_HDR_AREA_MAX];
	size_t n;

	if (icd_len > 0) {
		cmd->dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_OFFSET;
		cmd->dptr.sgl1.unkeyed.length = htole32(icd_len);
	}
	n = nvmft_tcp_enc_cmd(hdr, p, cmd, icd_len);
	put(px, hdr, n);
	if (icd_len > 0) {
		put(px, icd, icd_len);
		if (p->ddgst) {
			uint32_t dg = nvmft_tcp_digest(icd, icd_len);

			put(px, &dg, sizeof(dg));
		}
	}
}

static void build_prefix(struct stream_env *e, uint8_t cfg, struct prefix *px)
{
	uint8_t kind = cfg & 7, dgst = cfg >> 3 & 3;
	struct nvmft_tcp_params p = { .ic_done = true, .hdgst = dgst & 1, .ddgst = dgst & 2 };
	uint8_t icreq[NVMFT_TCP_ICREQ_LEN];
	struct nvmft_connect_cmd cc = { 0 };
	struct nvmft_prop_cmd ps = { 0 };
	struct nvmf_connect_data d;

	if (kind == 0)
		return;
	put(px, icreq, nvmft_tcp_enc_icreq(icreq, 0, dgst, 0));
	if (kind == 1)
		return;
	memset(&d, 0, sizeof(d));
	strlcpy(d.subsysnqn, FZ_SUBNQN, sizeof(d.subsysnqn));
	strlcpy(d.hostnqn, TH_HOSTNQN, sizeof(d.hostnqn));
	cc.opcode = NVMFT_OPC_FABRICS;
	cc.fctype = NVMFT_FCTYPE_CONNECT;
	cc.cid = htole16(0xfff0);
	if (kind == 4) {
		memcpy(d.hostid, HELPER_HOSTID, sizeof(d.hostid));
		d.cntlid = htole16(e->cntlid);
		cc.qid = htole16(1);
		cc.sqsize = htole16(63);
	} else {
		memset(d.hostid, 0x5a, sizeof(d.hostid));
		d.cntlid = htole16(NVMFT_CNTLID_DYNAMIC);
		cc.sqsize = htole16(31);
	}
	put_cmd(px, &p, (struct nvmft_cmd *)&cc, &d, sizeof(d));
	if (kind == 2 || kind == 4)
		return;
	ps.opcode = NVMFT_OPC_FABRICS;
	ps.fctype = NVMFT_FCTYPE_PROPERTY_SET;
	ps.cid = htole16(0xfff1);
	ps.offset = htole32(NVME_REG_CC);
	ps.value = htole64(1u | 6u << 16 | 4u << 20);
	put_cmd(px, &p, (struct nvmft_cmd *)&ps, NULL, 0);
}

/* ---- The run ---------------------------------------------------------------------------------- */

static void start_helper(struct stream_env *e)
{
	struct th_cfg cfg = { .pump = pump, .pump_arg = e, .subnqn = FZ_SUBNQN };
	int sv[2], rc;

	memcpy(cfg.hostid, HELPER_HOSTID, sizeof(cfg.hostid));
	FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	FZ_CHECK(nvmft_tcp_adopt_fd(e->l, sv[1]) == 0, "adopt");
	FZ_CHECK(th_adopt(sv[0], &cfg, &e->helper) == 0, "helper");
	rc = th_admin_up(e->helper, 0, &e->cntlid);
	FZ_CHECK(rc == 0, "helper admin queue: %d (%s)", rc, th_why(e->helper));
}

/* Write all of @buf in pieces, polling between them; false once the target closed. */
static void feed(struct stream_env *e, const uint8_t *buf, size_t len, size_t piece_max,
		 uint32_t seed, bool read)
{
	struct fz_rng rng;
	size_t pos = 0;
	int stalled = 0;

	fz_rng_seed(&rng, seed);
	while (pos < len) {
		size_t n = fz_rand_1(&rng, (uint32_t)piece_max);
		ssize_t w;

		if (n > len - pos)
			n = len - pos;
		w = send(e->fd, buf + pos, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			/*
			 * The target has not read what we sent.  A reader that stays
			 * behind is fine for a while; when ours reads nothing, it has to
			 * read now or both ends wait for each other.
			 */
			if (++stalled > STALL_ROUNDS / 2)
				read = true;
			FZ_CHECK(stalled < STALL_ROUNDS,
				 "hang: the target stopped reading (%zu of %zu bytes written)", pos,
				 len);
			pump(e);
			if (read && !drain_output(e))
				return;
			continue;
		}
		if (w <= 0) {
			fz_trace("the target closed after %zu of %zu bytes", pos, len);
			return;
		}
		stalled = 0;
		pos += (size_t)w;
		for (int i = 0; i < 4 && pump(e) > 0; i++)
			;
		if (read && !drain_output(e))
			return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t piece_max[] = { 1, 2, 7, 64, 300, 1500, 9000, 70000 };
	struct stream_env *e = calloc(1, sizeof(*e));
	struct prefix px = { 0 };
	struct fz f;
	uint8_t cfg, kind;
	size_t pm, body;
	uint32_t seed;
	int sv[2], i;

	FZ_CHECK(e != NULL, "calloc");
	fz_init(&f, data, size);
	cfg = fz_u8(&f);
	pm = piece_max[fz_u8(&f) % 8];
	seed = fz_u32(&f);
	kind = cfg & 7;
	if (kind > 4)
		kind = 3;
	cfg = (uint8_t)((cfg & ~7) | kind);

	env_init(e);
	if (kind == 4)
		start_helper(e);

	/* The stream: the prefix, then the input with its digests fixed (unless told not to). */
	body = fz_left(&f);
	px.cap = 4096 + body;
	px.b = malloc(px.cap);
	FZ_CHECK(px.b != NULL, "malloc");
	build_prefix(e, cfg, &px);
	fz_take(&f, px.b + px.len, body);
	if (!(cfg & 0x20))
		fz_tcp_fix_digests(px.b + px.len, body);
	px.len += body;

	/* The host role sees the ICResp that answers the first ICReq (its HPDA sets C2H alignment). */
	if (px.len >= NVMFT_TCP_ICREQ_LEN && px.b[0] == NVMFT_TCP_ICREQ)
		e->hp.hpda = px.b[10] & 31;
	nvmft_tcp_rx_init(&e->hrx, NVMFT_TCP_ROLE_HOST, &e->hp);

	FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	FZ_CHECK(nvmft_tcp_adopt_fd(e->l, sv[1]) == 0, "adopt");
	e->fd = sv[0];
	settle(e, true);
	feed(e, px.b, px.len, pm, seed, !(cfg & 0x80));
	settle(e, true);
	drain_output(e);

	/* The host goes away; so must the connection. */
	if (cfg & 0x40) {
		shutdown(e->fd, SHUT_WR);
		settle(e, true);
	}
	close(e->fd);
	e->fd = -1;
	for (i = 0; i < CLOSE_ROUNDS && connections(e) > (e->helper ? 1u : 0u); i++)
		pump(e);
	FZ_CHECK(connections(e) == (e->helper ? 1u : 0u),
		 "hang: the connection outlived its host (%llu connections)",
		 (unsigned long long)connections(e));
	if (e->helper != NULL) {
		/* The helper's controller lost nothing: it still answers. */
		i = th_healthy(e->helper);
		FZ_CHECK(i == 0, "the other host's admin queue stopped working: %d (%s)", i,
			 th_why(e->helper));
		th_free(e->helper);
		for (i = 0; i < CLOSE_ROUNDS && connections(e) > 0; i++)
			pump(e);
		FZ_CHECK(connections(e) == 0, "helper connection stayed");
	}
	settle(e, false);
	env_fini(e);
	free(px.b);
	free(e);
	return 0;
}
