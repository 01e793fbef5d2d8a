/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe/TCP transport driven over loopback sockets by the scripted host
 * of tests/common/tcp_host.h: the test thread is the host, the management
 * thread and the poll group's thread at once, and the host polls the target
 * whenever it would otherwise wait.
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <nvmft/nvmft.h>

#include "core/cmd.h"
#include "core/poll_group.h"
#include "core/target.h"
#include "core/transport.h"
#include "tcp_host.h"
#include "transports/tcp/tcp_codec.h"
#include "transports/tcp/tcp_internal.h"
#include "test_util.h"

#define SUBNQN "nqn.2024-01.io.nvmft:tcp-test"
#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:6b6f6e73-7461-6e74-696e-6f706c650000"
#define NS_BLOCKS 4096
#define BLOCK 512
#define SPIN 200000
#define MAX_HOSTS 16

struct env {
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	struct nvmft_subsystem *ss;
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	struct nvmft_backend *null_be; /* NSID 2 when a test adds it (add_null_ns()) */
	char port[32];
	struct th *hosts[MAX_HOSTS];
	int nhosts;
};

/* ---- Environment ---------------------------------------------------------------------------- */

static int env_pump(void *arg)
{
	struct env *e = arg;
	int a = nvmft_target_poll(e->tgt), b = nvmft_poll_group_poll(e->pg, 0);

	return (a > 0 ? a : 0) + (b > 0 ? b : 0);
}

static void env_poll(struct env *e)
{
	env_pump(e);
}

static void done_cb(void *arg, int status)
{
	*(int *)arg = status;
}

/* The next env_init() makes a group that says it is never slept on (setup_busy()). */
static bool env_busy_poll;

static int env_init(struct env *e, const struct nvmft_transport_opts *topts)
{
	struct nvmft_poll_group_opts po;
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4,
					.traddr = "127.0.0.1", .trsvcid = "0" };
	struct nvmft_subsystem_opts so;
	int added = 1;

	memset(e, 0, sizeof(*e));
	assert_int_equal(nvmft_target_new(NULL, &e->tgt), 0);
	nvmft_poll_group_opts_init(&po, sizeof(po));
	po.busy_poll = env_busy_poll;
	assert_int_equal(nvmft_poll_group_new(e->tgt, &po, &e->pg), 0);
	assert_int_equal(nvmft_transport_new(e->tgt, NVMFT_TRTYPE_TCP, topts, &e->tr), 0);
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &e->l), 0);
	snprintf(e->port, sizeof(e->port), "%s", nvmft_listener_get_trsvcid(e->l));
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = SUBNQN;
	so.allow_any_host = true;
	assert_int_equal(nvmft_subsystem_new(e->tgt, &so, &e->ss), 0);
	assert_int_equal(nvmft_subsystem_add_listener(e->ss, e->l), 0);
	assert_int_equal(nvmft_backend_malloc_new("tcp-test", NS_BLOCKS, BLOCK, &e->be), 0);
	assert_int_equal(nvmft_ns_add(e->ss, e->be, NULL, done_cb, &added, &e->ns), 0);
	for (int i = 0; i < SPIN && added == 1; i++)
		env_poll(e);
	assert_int_equal(added, 0);
	return 0;
}

static void stopped_cb(void *arg, int status)
{
	(void)status;
	*(bool *)arg = true;
}

static void env_fini(struct env *e)
{
	bool stopped = false;

	for (int i = 0; i < e->nhosts; i++)
		th_free(e->hosts[i]);
	e->nhosts = 0;
	if (e->tgt == NULL)
		return;
	nvmft_poll_group_stop(e->pg, stopped_cb, &stopped);
	for (int i = 0; i < SPIN && !stopped; i++)
		env_poll(e);
	nvmft_poll_group_free(e->pg);
	nvmft_target_poll(e->tgt);
	nvmft_target_free(e->tgt);
	nvmft_backend_free(e->be);
	if (e->null_be != NULL)
		nvmft_backend_free(e->null_be);
	memset(e, 0, sizeof(*e));
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return -1;
	env_init(e, NULL);
	*state = e;
	return 0;
}

static int setup_busy(void **state)
{
	int rc;

	env_busy_poll = true;
	rc = setup(state);
	env_busy_poll = false;
	return rc;
}

static int teardown(void **state)
{
	struct env *e = *state;

	env_fini(e);
	free(e);
	return 0;
}

static void env_reinit(struct env *e, const struct nvmft_transport_opts *o)
{
	env_fini(e);
	env_init(e, o);
}

/* Poll until @cond holds (or give up); returns whether it held. */
#define POLL_UNTIL(e, cond) TU_UNTIL(SPIN, cond, env_poll(e))

/* ---- Hosts ---------------------------------------------------------------------------------- */

static struct th *host_new(struct env *e)
{
	struct th_cfg cfg = { .pump = env_pump, .pump_arg = e, .hostnqn = HOSTNQN,
			      .subnqn = SUBNQN };
	struct th *h = NULL;

	assert_true(e->nhosts < MAX_HOSTS);
	assert_int_equal(th_connect("127.0.0.1", e->port, &cfg, &h), 0);
	e->hosts[e->nhosts++] = h;
	return h;
}

/* Close and forget the last host made. */
static void host_drop_last(struct env *e)
{
	th_free(e->hosts[--e->nhosts]);
}

static void sgl_incapsule(struct nvmft_cmd *c, uint32_t len)
{
	memset(&c->dptr, 0, sizeof(c->dptr));
	c->dptr.sgl1.unkeyed.length = htole32(len);
	c->dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_OFFSET;
}

static void sgl_transport(struct nvmft_cmd *c, uint32_t len)
{
	memset(&c->dptr, 0, sizeof(c->dptr));
	c->dptr.sgl1.unkeyed.length = htole32(len);
	c->dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK << 4 |
				    NVMFT_SGL_SUBTYPE_TRANSPORT;
}

/* Send a capsule as the test built it (CID and SGL included), untracked. */
static void send_cmd(struct th *h, const struct nvmft_cmd *cmd, const void *icd, uint32_t icd_len)
{
	uint8_t *buf = malloc(TH_PDU_SIZE(icd_len));

	assert_non_null(buf);
	/* The target may close on us: the tests check what it said. */
	(void)th_send(h, buf, th_build_cmd(h, buf, cmd, icd, icd_len, 0));
	free(buf);
}

/* Submit with the CID the test chose, its R2Ts left to the test. */
static void submit_manual(struct th *h, struct nvmft_cmd *c, const void *w, uint32_t len)
{
	struct th_io io = { .wdata = w, .wlen = len,
			    .flags = TH_IO_KEEP_CID | TH_IO_KEEP_SGL | TH_IO_MANUAL_R2T };

	assert_int_equal(th_submit(h, c, &io), le16toh(c->cid));
}

static struct nvmft_cmd rw_cmd(bool write, uint64_t slba, uint32_t nlb)
{
	return th_rw_cmd(write, 1, slba, nlb);
}

/* Run one command: in-capsule write data when @incapsule, else via R2T. */
static int host_run(struct th *h, struct nvmft_cmd *cmd, const void *wdata, uint32_t wlen,
		    bool incapsule, void *rdata, uint32_t rlen, struct nvmft_cpl *cpl)
{
	struct th_io io = { .wdata = wdata, .wlen = wlen, .rdata = rdata, .rlen = rlen,
			    .flags = incapsule ? TH_IO_INCAPSULE : 0 };

	return th_exec(h, cmd, &io, cpl);
}

/* ICReq, Connect on the admin queue and CC.EN = 1. */
static struct th *admin_up(struct env *e, uint8_t dgst, uint16_t *cntlid)
{
	struct th *h = host_new(e);

	assert_int_equal(th_icreq(h, 0, dgst, 0), 0);
	assert_int_equal(th_connect_admin(h, 31, cntlid), 0);
	assert_int_equal(th_prop_set(h, NVME_REG_CC, false, NVMFT_CC_EN | 6u << 16 | 4u << 20), 0);
	return h;
}

/* An I/O queue of @sqsize + 1 entries, after its controller's admin queue. */
static struct th *io_up_sq(struct env *e, uint8_t dgst, uint8_t hpda, uint32_t maxr2t,
			   uint8_t cattr, uint16_t sqsize)
{
	struct th_connect_args a = { .qid = 1, .sqsize = sqsize, .cattr = cattr };
	struct th *h;

	admin_up(e, dgst, &a.cntlid);
	h = host_new(e);
	assert_int_equal(th_icreq(h, hpda, dgst, maxr2t), 0);
	assert_int_equal(th_connect_raw(h, &a, NULL), 0);
	return h;
}

static struct th *io_up(struct env *e, uint8_t dgst, uint8_t hpda, uint32_t maxr2t,
			uint8_t cattr)
{
	return io_up_sq(e, dgst, hpda, maxr2t, cattr, 127);
}

/* Expect a C2HTermReq with @fes/@fei (echoing @hdr_len bytes of @sent), then the close. */
static void expect_term(struct th *h, uint16_t fes, uint32_t fei, const void *sent,
			size_t hdr_len)
{
	if (sent != NULL)
		TH_ASSERT_TERM_HDR(h, fes, fei, sent, hdr_len);
	else
		TH_ASSERT_TERM(h, fes, fei);
}

/* Write @len bytes at @slba (in-capsule or through R2T), read them back, compare. */
static void rw_check(struct th *h, uint64_t slba, uint32_t len, bool incapsule, uint32_t seed)
{
	uint8_t *w = malloc(len), *r = calloc(1, len);
	struct nvmft_cmd c = rw_cmd(true, slba, len / BLOCK);

	assert_non_null(w);
	assert_non_null(r);
	th_fill(w, len, seed);
	assert_int_equal(host_run(h, &c, w, len, incapsule, NULL, 0, NULL), 0);
	c = rw_cmd(false, slba, len / BLOCK);
	assert_int_equal(host_run(h, &c, NULL, 0, false, r, len, NULL), 0);
	assert_memory_equal(r, w, len);
	free(w);
	free(r);
}

/* Nothing more for the host: neither buffered here nor waiting in the socket. */
static void assert_quiet(struct th *h)
{
	assert_true(th_quiet(h, 200));
}

/* ---- Listener and handshake ----------------------------------------------------------------- */

static void test_listener(void **state)
{
	struct env *e = *state;
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV6,
					.traddr = "::1", .trsvcid = "0" };
	struct nvmft_listener *l6 = NULL, *bad = NULL;
	int rc;

	/* Port "0" came back as the port actually bound. */
	assert_true(atoi(e->port) > 0);
	assert_string_not_equal(e->port, "0");
	rc = nvmft_listener_new(e->tr, &lo, &l6);
	if (rc == 0) {
		assert_true(atoi(nvmft_listener_get_trsvcid(l6)) > 0);
		nvmft_listener_destroy(l6, NULL, NULL);
	} else {
		/* No IPv6 on this machine. */
		assert_true(rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT);
	}
	lo.adrfam = NVMFT_ADRFAM_IPV4;
	lo.traddr = "localhost"; /* numeric addresses only */
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &bad), -EINVAL);
	lo.traddr = "::1"; /* family mismatch */
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &bad), -EINVAL);
	lo.traddr = "127.0.0.1";
	lo.trsvcid = e->port; /* taken by the first listener */
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &bad), -EEXIST);
	lo.traddr = "0.0.0.0";
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &bad), -EADDRINUSE);
	lo.adrfam = NVMFT_ADRFAM_INTRA_HOST;
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &bad), -EAFNOSUPPORT);
	assert_null(bad);
}

static void test_icreq_icresp(void **state)
{
	struct env *e = *state;
	struct nvmft_transport_opts o;
	struct nvmft_transport *tr;
	struct nvmft_target *tgt;
	struct th_pdu r;
	struct th *h;
	uint8_t buf[128];

	h = host_new(e);
	nvmft_tcp_enc_icreq(buf, 2, 3, 0);
	assert_int_equal(th_send(h, buf, sizeof(buf)), 0);
	assert_int_equal(th_recv(h, &r), NVMFT_TCP_ICRESP);
	assert_int_equal(r.h.ch.hlen, 128);
	assert_int_equal(le32toh(r.h.ch.plen), 128);
	assert_int_equal(le16toh(r.h.icresp.pfv), 0);
	assert_int_equal(r.h.icresp.cpda, 0);
	assert_int_equal(r.h.icresp.dgst, 3);
	assert_int_equal(le32toh(r.h.icresp.maxh2cdata), 131072);

	/* The defaults, and bad values for the TCP-specific ones. */
	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
	assert_int_equal(o.in_capsule_data_size, 4096);
	assert_true(o.c2h_success);
	assert_int_equal(o.max_h2c_data, 131072);
	assert_int_equal(o.digests, NVMFT_DIGEST_HEADER | NVMFT_DIGEST_DATA);
	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	o.max_h2c_data = 4098; /* not whole dwords */
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, &o, &tr), -EINVAL);
	o.max_h2c_data = 8192;
	o.digests = 4;
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, &o, &tr), -EINVAL);
	nvmft_target_free(tgt);
	/* Digests the transport does not allow are not granted. */
	o.digests = NVMFT_DIGEST_DATA;
	o.max_h2c_data = 8192;
	env_reinit(e, &o);
	h = host_new(e);
	assert_int_equal(th_send(h, buf, sizeof(buf)), 0);
	assert_int_equal(th_recv(h, &r), NVMFT_TCP_ICRESP);
	assert_int_equal(r.h.icresp.dgst, NVMFT_TCP_DGST_DATA);
	assert_int_equal(le32toh(r.h.icresp.maxh2cdata), 8192);
}

/* ---- Commands ------------------------------------------------------------------------------- */

static void test_identify(void **state)
{
	struct env *e = *state;
	struct nvme_id_ctrl id;
	struct th *h = admin_up(e, 0, NULL);

	memset(&id, 0xee, sizeof(id));
	assert_int_equal(th_identify(h, NVME_IDENTIFY_CNS_CTRL, 0, &id), 0);
	assert_int_equal(le32toh(id.ioccsz), (64 + 4096) / 16);
	assert_int_equal(le32toh(id.iorcsz), 1);
	assert_int_equal(le16toh(id.icdoff), 0);
	assert_int_equal(id.fcatt, 0);
	assert_int_equal(id.msdbd, 1);
	assert_int_equal(le32toh(id.sgls), 1u | NVME_CTRL_SGLS_OFFSET | NVME_CTRL_SGLS_TPORT);
	assert_memory_equal(id.subnqn, SUBNQN, sizeof(SUBNQN));
}

static void test_rw(void **state)
{
	struct env *e = *state;

	for (uint8_t dg = 0; dg < 4; dg += 3) {
		struct th *h = io_up(e, dg, 0, 0, 0);

		rw_check(h, 8, 4096, true, 1u + dg);
		rw_check(h, 100, 64 * 1024, false, 2u + dg);
		rw_check(h, 300, 128 * 1024, false, 3u + dg);
	}
}

/* MAXH2CDATA 8 KiB and MAXR2T 2: three R2Ts of 8 KiB in flight, then the rest. */
static void test_r2t_windows(void **state)
{
	struct env *e = *state;
	struct nvmft_transport_opts o;
	const uint32_t len = 40 * 1024;
	uint8_t *w = malloc(len), *r = malloc(len);
	struct th_r2t got[8];
	struct nvmft_cmd c;
	struct th *h;
	int cid, n = 0;

	assert_non_null(w);
	assert_non_null(r);
	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
	o.max_h2c_data = 8192;
	env_reinit(e, &o);
	h = io_up(e, 0, 0, 2, 0);
	th_fill(w, len, 3);
	c = rw_cmd(true, 0, len / BLOCK);
	cid = th_submit(h, &c, &(struct th_io){ .wdata = w, .wlen = len,
						 .flags = TH_IO_MANUAL_R2T });
	assert_true(cid >= 0);
	for (n = 0; n < 3; n++) {
		assert_int_equal(th_next_r2t(h, cid, &got[n]), 0);
		assert_int_equal(got[n].r2to, (uint32_t)n * 8192);
		assert_int_equal(got[n].r2tl, 8192);
	}
	/* No fourth R2T before data arrives. */
	assert_quiet(h);
	/* Answer one window: exactly one more R2T comes, and so on. */
	for (int k = 0; k < 5; k++) {
		assert_int_equal(th_send_h2c(h, cid, got[k].ttag, got[k].r2to, got[k].r2tl, 0), 0);
		if (k + 3 < 5) {
			assert_int_equal(th_next_r2t(h, cid, &got[k + 3]), 0);
			assert_int_equal(got[k + 3].r2to, (uint32_t)(k + 3) * 8192);
		}
	}
	assert_int_equal(th_wait(h, cid, NULL), 0);
	c = rw_cmd(false, 0, len / BLOCK);
	assert_int_equal(host_run(h, &c, NULL, 0, false, r, len, NULL), 0);
	assert_memory_equal(r, w, len);
	free(w);
	free(r);
}

/* @n successful responses, one for each CID from @cid0 on, in any order. */
static void expect_rsps(struct th *h, int n, uint16_t cid0)
{
	bool *seen = calloc((size_t)n, sizeof(*seen));
	struct th_pdu p;

	assert_non_null(seen);
	for (int i = 0; i < n; i++) {
		int k;

		assert_int_equal(th_recv(h, &p), NVMFT_TCP_RSP);
		assert_int_equal(nvmft_status_from_wire(p.h.rsp.cpl.status), 0);
		k = le16toh(p.h.rsp.cpl.cid) - cid0;
		assert_true(k >= 0 && k < n && !seen[k]);
		seen[k] = true;
	}
	free(seen);
}

/*
 * @n reads of @len bytes, the i-th at @slba + i * @step blocks with CID
 * @cid0 + i, sent in one write; returns the bytes sent.
 */
static size_t send_reads(struct th *h, int n, uint64_t slba, uint32_t step, uint32_t len,
			 uint16_t cid0)
{
	uint8_t *buf = malloc((size_t)n * NVMFT_TCP_HDR_AREA_MAX);
	size_t off = 0;

	assert_non_null(buf);
	for (int i = 0; i < n; i++) {
		struct nvmft_cmd c = rw_cmd(false, slba + (uint64_t)i * step, len / BLOCK);

		c.cid = htole16((uint16_t)(cid0 + i));
		sgl_transport(&c, len);
		off += th_build_cmd(h, buf + off, &c, NULL, 0, 0);
	}
	assert_int_equal(th_send(h, buf, off), 0);
	free(buf);
	return off;
}

/*
 * @n in-capsule writes of @len bytes, the i-th at @slba + i * @len / BLOCK
 * from @w + i * @stride with CID @cid0 + i, sent in one write; returns the
 * bytes sent.
 */
static size_t send_writes(struct th *h, int n, uint64_t slba, uint32_t len, const uint8_t *w,
			  size_t stride, uint16_t cid0)
{
	uint8_t *buf = malloc((size_t)n * TH_PDU_SIZE(len));
	size_t off = 0;

	assert_non_null(buf);
	for (int i = 0; i < n; i++) {
		struct nvmft_cmd c = rw_cmd(true, slba + (uint64_t)i * (len / BLOCK), len / BLOCK);

		c.cid = htole16((uint16_t)(cid0 + i));
		sgl_incapsule(&c, len);
		off += th_build_cmd(h, buf + off, &c, w + (size_t)i * stride, len, 0);
	}
	assert_int_equal(th_send(h, buf, off), 0);
	free(buf);
	return off;
}

/* Many commands in one write, answered in whatever order they finish. */
static void test_pipelined(void **state)
{
	struct env *e = *state;
	enum { N = 24 };
	struct th *h = io_up(e, 3, 0, 0, 0);
	uint8_t w[N][BLOCK];
	struct th_pdu p;

	for (int i = 0; i < N; i++)
		th_fill(w[i], BLOCK, 100 + (uint32_t)i);
	send_writes(h, N, 1000, BLOCK, w[0], BLOCK, 100);
	expect_rsps(h, N, 100);
	/* Reads of all of it, also in one write. */
	send_reads(h, N, 1000, 1, BLOCK, 200);
	for (int i = 0; i < N; i++) {
		int cid;

		/* Nobody asked for this data: it lands in the host's scratch. */
		assert_int_equal(th_recv(h, &p), NVMFT_TCP_C2H_DATA);
		assert_false(p.ddgst_err);
		cid = le16toh(p.h.data.cccid) - 200;
		assert_true(cid >= 0 && cid < N);
		assert_int_equal(p.data_len, BLOCK);
		assert_memory_equal(p.data, w[cid], BLOCK);
		assert_int_equal(th_recv(h, &p), NVMFT_TCP_RSP);
		assert_int_equal(le16toh(p.h.rsp.cpl.cid), cid + 200);
	}
}

/* The whole conversation, one byte per send(), with and without digests. */
static void test_bytewise(void **state)
{
	struct env *e = *state;
	struct th_split one = { .mode = TH_SPLIT_FIXED, .chunk = 1, .pump_between = true };
	struct th *h;
	uint16_t cntlid;

	for (uint8_t dg = 0; dg < 4; dg += 3) {
		admin_up(e, dg, &cntlid);
		h = host_new(e);
		th_set_split(h, &one);
		assert_int_equal(th_icreq(h, 0, dg, 0), 0);
		assert_int_equal(th_connect_io(h, 1, 15, cntlid), 0);
		/* In-capsule, then through R2T (the H2CData one byte at a time too). */
		rw_check(h, 40, 2048, true, 5u + dg);
		rw_check(h, 80, 2048, false, 6u + dg);
	}
}

/* SQ flow control off: the read data itself says "success", no CapsuleResp. */
static void test_c2h_success_and_hpda(void **state)
{
	struct env *e = *state;
	uint8_t r[1024];
	struct nvmft_cmd c;
	struct th_pdu p;
	struct th *h;

	for (int off = 0; off < 2; off++) {
		/* Second round: header digests and HPDA 7 (data 32-byte aligned) too. */
		h = io_up(e, off ? 1 : 0, off ? 7 : 0, 0,
			  off ? NVMFT_CONNECT_CATTR_DISABLE_SQFLOW : 0);
		c = rw_cmd(false, 0, 2);
		c.cid = htole16(50);
		sgl_transport(&c, sizeof(r));
		send_cmd(h, &c, NULL, 0);
		assert_int_equal(th_recv(h, &p), NVMFT_TCP_C2H_DATA);
		assert_int_equal(p.h.ch.pdo, off ? 32 : 24);
		assert_true(p.h.ch.flags & NVMFT_TCP_F_DATA_LAST);
		assert_int_equal(!!(p.h.ch.flags & NVMFT_TCP_F_DATA_SUCCESS), off);
		if (!off) {
			assert_int_equal(th_recv(h, &p), NVMFT_TCP_RSP);
			assert_int_equal(le16toh(p.h.rsp.cpl.cid), 50);
		}
		/* The next PDU belongs to the next command. */
		c = rw_cmd(false, 0, 1);
		assert_int_equal(host_run(h, &c, NULL, 0, false, r, 512, NULL), 0);
	}
}

/* ---- Errors a command survives -------------------------------------------------------------- */

#define SGL_ERR(sc) NVMFT_STATUS_DNR(NVME_SCT_GENERIC, sc)

/* Send @c as built, with @icd_len bytes of @icd in the capsule; return its status. */
static int run_as_built(struct th *h, struct nvmft_cmd *c, const void *icd, uint32_t icd_len)
{
	struct th_io io = { .wdata = icd, .wlen = icd_len,
			    .flags = TH_IO_KEEP_CID | TH_IO_KEEP_SGL | TH_IO_INCAPSULE };

	return th_exec(h, c, &io, NULL);
}

static void test_sgl_errors(void **state)
{
	struct env *e = *state;
	struct th *h = io_up(e, 0, 0, 0, 0);
	uint8_t w[512] = { 0 };
	struct nvmft_cmd c;

	/* Keyed SGL (RDMA's). */
	c = rw_cmd(true, 0, 1);
	c.cid = htole16(70);
	c.dptr.sgl1.keyed.type = NVMFT_SGL_TYPE_KEYED_DATA_BLOCK << 4;
	c.dptr.sgl1.keyed.length[1] = 2;
	assert_int_equal(run_as_built(h, &c, NULL, 0), SGL_ERR(NVME_SC_SGL_INVALID_TYPE));
	/* In-capsule data at a non-zero offset. */
	c = rw_cmd(true, 0, 1);
	c.cid = htole16(71);
	sgl_incapsule(&c, sizeof(w));
	c.dptr.sgl1.addr = htole64(16);
	assert_int_equal(run_as_built(h, &c, w, sizeof(w)), SGL_ERR(NVME_SC_SGL_INVALID_OFFSET));
	/* SGL longer than the data in the capsule. */
	c = rw_cmd(true, 0, 2);
	c.cid = htole16(72);
	sgl_incapsule(&c, 1024);
	assert_int_equal(run_as_built(h, &c, w, sizeof(w)), SGL_ERR(NVME_SC_SGL_INVALID_DATA));
	/* Transport Data Block with a subtype other than "transport specific". */
	c = rw_cmd(false, 0, 1);
	c.cid = htole16(73);
	sgl_transport(&c, 512);
	c.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK << 4;
	assert_int_equal(run_as_built(h, &c, NULL, 0), SGL_ERR(0x17));
	/* In-capsule data for a read. */
	c = rw_cmd(false, 0, 1);
	c.cid = htole16(74);
	sgl_incapsule(&c, sizeof(w));
	assert_int_equal(run_as_built(h, &c, w, sizeof(w)), SGL_ERR(NVME_SC_SGL_INVALID_TYPE));
	/* The queue still works, and nothing else was sent. */
	rw_check(h, 0, BLOCK, true, 7);
	assert_quiet(h);
}

static void test_data_digest_errors(void **state)
{
	struct env *e = *state;
	const uint16_t transient = NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR);
	uint8_t w[8192], r[8192];
	struct nvmft_cmd c;
	struct th *h = io_up(e, 3, 0, 0, 0);

	th_fill(w, sizeof(w), 9);
	/* Bad in-capsule data, then bad H2CData. */
	c = rw_cmd(true, 200, 8);
	assert_int_equal(th_exec(h, &c, &(struct th_io){ .wdata = w, .wlen = 4096,
					.flags = TH_IO_INCAPSULE | TH_IO_BAD_DDGST }, NULL),
			 transient);
	c = rw_cmd(true, 200, 16);
	assert_int_equal(th_exec(h, &c, &(struct th_io){ .wdata = w, .wlen = sizeof(w),
					.flags = TH_IO_BAD_DDGST }, NULL),
			 transient);
	/* Nothing reached the namespace, and the connection goes on. */
	c = rw_cmd(false, 200, 16);
	memset(r, 0xff, sizeof(r));
	assert_int_equal(host_run(h, &c, NULL, 0, false, r, sizeof(r), NULL), 0);
	for (size_t i = 0; i < sizeof(r); i++)
		assert_int_equal(r[i], 0);
	rw_check(h, 200, sizeof(w), false, 10);
}

/* ---- Fatal errors: C2HTermReq with FES/FEI, then close -------------------------------------- */

/*
 * One malformed CapsuleCmd per connection: byte @off of the PDU xor'ed
 * with @x.  @hl is how much of the header the target had read when it gave
 * up, which its TermReq echoes back.
 */
static const struct fatal_case {
	const char *what;
	uint8_t dgst;
	uint32_t icd;
	size_t off;
	uint8_t x;
	uint16_t fes;
	uint32_t fei;   /* UINT32_MAX: the header digest received */
	size_t hl;
} fatal_cases[] = {
	{ "type CapsuleResp", 0, 0, 0, NVMFT_TCP_CMD ^ NVMFT_TCP_RSP, 1, 0, 8 },
	{ "flags LAST_PDU", 0, 0, 1, NVMFT_TCP_F_DATA_LAST, 1, 1, 8 },
	{ "hlen 24", 0, 0, 2, 72 ^ 24, 1, 2, 8 },
	{ "pdo 70", 0, 16, 3, 72 ^ 70, 1, 3, 72 },
	{ "plen 80", 0, 0, 4, 72 ^ 80, 1, 4, 72 },
	/* Before Connect the admin queue's 8 KiB limit applies. */
	{ "8 KiB + 4 in-capsule", 0, 8196, 0, 0, NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED, 0, 72 },
	{ "header digest", 1, 0, 72, 0x40, NVMFT_TCP_FES_HDGST_ERROR, UINT32_MAX, 76 },
};

static void test_fatal_header_fields(void **state)
{
	struct env *e = *state;
	static uint8_t buf[NVMFT_TCP_HDR_AREA_MAX + 9000];

	for (size_t i = 0; i < sizeof(fatal_cases) / sizeof(fatal_cases[0]); i++) {
		const struct fatal_case *fc = &fatal_cases[i];
		struct th *h = host_new(e);
		struct nvmft_cmd c;
		uint32_t fei = fc->fei;
		size_t n;

		assert_int_equal(th_icreq(h, 0, fc->dgst, 0), 0);
		memset(&c, 0, sizeof(c));
		c.opcode = nvme_admin_keep_alive;
		if (fc->icd)
			sgl_incapsule(&c, fc->icd);
		memset(buf, 0, sizeof(buf));
		n = nvmft_tcp_enc_cmd(buf, th_params(h), &c, fc->icd) + fc->icd;
		buf[fc->off] ^= fc->x;
		if (fei == UINT32_MAX) {
			memcpy(&fei, buf + 72, 4);
			fei = le32toh(fei);
		}
		(void)th_send(h, buf, n);
		expect_term(h, fc->fes, fei, buf, fc->hl);
		host_drop_last(e);
	}
	/* Every connection was cleaned up. */
	assert_true(POLL_UNTIL(e, e->tr->num_connections == 0));
}

static void test_fatal_sequence(void **state)
{
	struct env *e = *state;
	struct nvmft_tcp_params none = { 0 };
	struct nvmft_cmd c;
	uint8_t buf[128];
	struct th *h;

	/* A command before ICReq. */
	h = host_new(e);
	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_keep_alive;
	nvmft_tcp_enc_cmd(buf, &none, &c, 0);
	(void)th_send(h, buf, 72);
	expect_term(h, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0, buf, 8);
	/* A second ICReq. */
	h = host_new(e);
	assert_int_equal(th_icreq(h, 0, 0, 0), 0);
	nvmft_tcp_enc_icreq(buf, 0, 0, 0);
	(void)th_send(h, buf, 128);
	expect_term(h, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0, buf, 8);
	/* ICReq with PFV 1, and with HPDA 32. */
	h = host_new(e);
	nvmft_tcp_enc_icreq(buf, 0, 0, 0);
	buf[8] = 1;
	(void)th_send(h, buf, 128);
	expect_term(h, NVMFT_TCP_FES_UNSUPPORTED_PARAMETER, 8, buf, 128);
	h = host_new(e);
	nvmft_tcp_enc_icreq(buf, 32, 0, 0);
	(void)th_send(h, buf, 128);
	expect_term(h, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 10, buf, 128);
	/* H2CTermReq: the target just closes. */
	h = host_new(e);
	assert_int_equal(th_icreq(h, 0, 0, 0), 0);
	(void)th_send(h, buf, nvmft_tcp_enc_term(buf, NVMFT_TCP_H2C_TERM, 1, 0, NULL, 0));
	{
		struct th_pdu p;

		assert_int_equal(th_recv(h, &p), TH_CLOSED);
	}
	assert_true(POLL_UNTIL(e, e->tr->num_connections == 0));
}

enum h2c_bad {
	B_TTAG,
	B_CCCID,
	B_BEYOND,
	B_ORDER,
	B_TOO_BIG,
	B_NO_R2T,
};

static void h2c_case(struct env *e, enum h2c_bad b, uint16_t fes, uint32_t fei)
{
	struct nvmft_transport_opts o;
	struct th *h;
	struct nvmft_cmd c;
	struct th_r2t t;
	uint8_t buf[NVMFT_TCP_HDR_AREA_MAX + 16384];
	uint16_t ttag, cid = 90;
	uint32_t datao = 0, datal = 4096;
	size_t n;

	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
	o.max_h2c_data = 8192;
	env_reinit(e, &o);
	h = io_up(e, 0, 0, 0, 0);
	c = rw_cmd(true, 0, 16);
	c.cid = htole16(cid);
	sgl_transport(&c, 8192);
	submit_manual(h, &c, buf, 8192);
	assert_int_equal(th_next_r2t(h, cid, &t), 0);
	ttag = t.ttag;
	switch (b) {
	case B_TTAG:
		ttag = (uint16_t)(ttag + 40);
		break;
	case B_CCCID:
		cid = 91;
		break;
	case B_BEYOND:
		datao = 6144;
		break;
	case B_ORDER:
		datao = 512;
		break;
	case B_TOO_BIG:
		datal = 8196;
		break;
	case B_NO_R2T:
		/* A slot that exists but waits for no data. */
		ttag = (uint16_t)(ttag == 0 ? 1 : 0);
		break;
	}
	/* The host's own limit is the target's: encode with room for the oversized case. */
	th_params(h)->maxh2cdata = 16384;
	n = nvmft_tcp_enc_h2c_data(buf, th_params(h), cid, ttag, datao, datal, true);
	memset(buf + n, 0, datal);
	(void)th_send(h, buf, n + datal);
	expect_term(h, fes, fei, buf, 24);
}

static void test_fatal_h2c(void **state)
{
	struct env *e = *state;

	h2c_case(e, B_TTAG, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 10);
	h2c_case(e, B_CCCID, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 8);
	h2c_case(e, B_BEYOND, NVMFT_TCP_FES_DATA_OUT_OF_RANGE, 0);
	h2c_case(e, B_ORDER, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 12);
	h2c_case(e, B_TOO_BIG, NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED, 0);
	h2c_case(e, B_NO_R2T, NVMFT_TCP_FES_INVALID_HEADER_FIELD, 10);
}

/* More commands in flight than the queue has entries. */
static void test_queue_overflow(void **state)
{
	struct env *e = *state;
	struct th *h;
	uint16_t cntlid;
	struct th_r2t t;
	uint8_t buf[128], w[BLOCK] = { 0 };
	size_t n;

	admin_up(e, 0, &cntlid);
	h = host_new(e);
	assert_int_equal(th_icreq(h, 0, 0, 0), 0);
	/* 64 entries: more than the slots made at ICReq time. */
	assert_int_equal(th_connect_io(h, 1, 63, cntlid), 0);
	/* 64 writes hold their slots waiting for data (an R2T each)... */
	for (int i = 0; i < 64; i++) {
		struct nvmft_cmd c = rw_cmd(true, (uint64_t)i, 1);

		c.cid = htole16((uint16_t)(300 + i));
		sgl_transport(&c, BLOCK);
		submit_manual(h, &c, w, BLOCK);
		assert_int_equal(th_next_r2t(h, 300 + i, &t), 0);
	}
	/* ...so the 65th finds none. */
	{
		struct nvmft_cmd c = rw_cmd(true, 100, 1);

		c.cid = htole16(400);
		sgl_transport(&c, BLOCK);
		n = th_build_cmd(h, buf, &c, NULL, 0, 0);
		(void)th_send(h, buf, n);
	}
	expect_term(h, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR, 0, buf, 72);
	/* The requests waiting for data were given back. */
	assert_true(POLL_UNTIL(e, e->tr->num_connections == 1));
}

static bool pool_idle(struct env *e)
{
	const struct nvmft_buf_pool *pool = &e->pg->tr[e->tr->index].pool;

	return pool->nr_free == pool->nr_alloc;
}

/* The target side of an I/O queue @qid other than @not (white box). */
static struct tcp_conn *target_conn_except(struct env *e, uint16_t qid,
					   const struct tcp_conn *not)
{
	struct nvmft_qpair *qp;

	TAILQ_FOREACH(qp, &e->pg->qpairs, link)
		if (qp->qid == qid && qp->state == NVMFT_QPAIR_ACTIVE && tcp_conn_of(qp) != not)
			return tcp_conn_of(qp);
	return NULL;
}

/* The target side of the I/O queue @qid. */
static struct tcp_conn *target_conn(struct env *e, uint16_t qid)
{
	return target_conn_except(e, qid, NULL);
}

/* Bytes waiting in the target's socket. */
static int target_queued(const struct tcp_conn *tc)
{
	int queued = -1;

	assert_int_equal(ioctl(tc->fd, FIONREAD, &queued), 0);
	return queued;
}

/* The answers to send_reads(), in order: the i-th read's data is @w + i * @stride. */
static void expect_reads(struct th *h, int n, uint32_t len, uint16_t cid0, const uint8_t *w,
			 size_t stride)
{
	struct th_pdu p;

	for (int i = 0; i < n; i++) {
		assert_int_equal(th_recv(h, &p), NVMFT_TCP_C2H_DATA);
		assert_int_equal(le16toh(p.h.data.cccid), cid0 + i);
		assert_false(p.ddgst_err);
		assert_int_equal(p.data_len, len);
		assert_memory_equal(p.data, w + (size_t)i * stride, len);
		assert_int_equal(th_recv(h, &p), NVMFT_TCP_RSP);
		assert_int_equal(le16toh(p.h.rsp.cpl.cid), cid0 + i);
	}
}

/*
 * Reads pipelined faster than the host takes them, with a small send
 * buffer on the target's socket: sends stop part-way through PDUs, wait
 * for EPOLLOUT and resume at the exact byte, while the host reads a few
 * hundred bytes at a time.
 */
static void test_slow_reader(void **state)
{
	struct env *e = *state;
	enum { N = 16, LEN = 128 * 1024 };
	uint8_t *w = malloc(LEN);
	int small = 4096;
	struct tcp_conn *tc;
	struct th *h;

	assert_non_null(w);
	h = io_up(e, 3, 0, 0, 0);
	tc = target_conn(e, 1);
	assert_non_null(tc);
	assert_int_equal(setsockopt(tc->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	th_fill(w, LEN, 21);
	{
		struct nvmft_cmd c = rw_cmd(true, 512, LEN / BLOCK);

		assert_int_equal(host_run(h, &c, w, LEN, false, NULL, 0, NULL), 0);
	}
	send_reads(h, N, 512, 0, LEN, 700);
	/* Nobody reads: the socket fills and the target waits for room. */
	assert_true(POLL_UNTIL(e, tc->pollout));
	assert_false(TAILQ_EMPTY(&tc->txq));
	th_set_recv_chunk(h, 777);
	expect_reads(h, N, LEN, 700, w, 0);
	/* Everything went out: no backlog, no EPOLLOUT. */
	assert_true(POLL_UNTIL(e, !tc->pollout && TAILQ_EMPTY(&tc->txq)));
	free(w);
}

/*
 * More responses ready at once than one sendmsg() gathers: the flush goes
 * round again for the rest, in order, and nothing is sent twice or lost.
 */
static void test_gather_overflow(void **state)
{
	struct env *e = *state;
	/* Four entries per read (header, data, digest, CapsuleResp): 1,200. */
	enum { N = 300 };
	static_assert(N * 4 > 2 * TCP_TX_IOV, "three gathers at least");
	struct nvmft_transport_opts o;
	int big = 1 << 20;
	uint8_t *w = malloc((size_t)N * BLOCK);
	struct tcp_conn *tc;
	struct th *h;
	size_t n;

	assert_non_null(w);
	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
	o.max_queue_depth = 512;
	env_reinit(e, &o);
	h = io_up_sq(e, 3, 0, 0, 0, N - 1);
	tc = target_conn(e, 1);
	assert_non_null(tc);
	/* Room for all of it: the socket takes each gather whole. */
	assert_int_equal(setsockopt(tc->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	th_fill(w, (size_t)N * BLOCK, 33);
	/* Written in halves: all of it is more than one command may carry. */
	for (int i = 0; i < 2; i++) {
		struct nvmft_cmd c = rw_cmd(true, (uint64_t)i * N / 2, N / 2);

		assert_int_equal(host_run(h, &c, w + (size_t)i * N / 2 * BLOCK, N / 2 * BLOCK, false,
					  NULL, 0, NULL),
				 0);
	}
	n = send_reads(h, N, 0, 1, BLOCK, 1000);
	/* All of it waits in the target's socket... */
	assert_true(TU_UNTIL(SPIN, (size_t)target_queued(tc) >= n, (void)0));
	/* ...for one poll with the budget to take it: one flush answers all. */
	assert_true(nvmft_poll_group_poll(e->pg, 4 * N) >= N);
	assert_true(TAILQ_EMPTY(&tc->txq));
	assert_int_equal(tc->busy, 0);
	expect_reads(h, N, BLOCK, 1000, w, BLOCK);
	assert_false(tc->pollout);
	free(w);
}

/*
 * How much one staged read takes (white box): a backlog of small PDUs in
 * one read; after a large data PDU, only TCP_STAGE_SMALL, so that more
 * large data would mostly skip the stage.  Everything written arrives
 * intact either way.
 */
static void test_stage_reads(void **state)
{
	struct env *e = *state;
	enum { N = 48, BIG = 128 * 1024, HEAD = 8192 };
	uint8_t *w = malloc(BIG), *r = malloc(BIG), *pdu = malloc(TH_PDU_SIZE(BIG));
	struct nvmft_cmd c;
	struct tcp_conn *tc;
	struct th_r2t r2t;
	int room = 1 << 20;
	size_t n, hdr;
	struct th *h;

	assert_non_null(w);
	assert_non_null(r);
	assert_non_null(pdu);
	th_fill(w, BIG, 41);
	h = io_up(e, 0, 0, 0, 0);
	tc = target_conn(e, 1);
	assert_non_null(tc);
	/* Room for each batch in the target's socket before it reads any. */
	assert_int_equal(setsockopt(tc->fd, SOL_SOCKET, SO_RCVBUF, &room, sizeof(room)), 0);

	/* More than the small read, less than the stage; the i-th block holds w + i KiB. */
	n = send_writes(h, N, 2000, 4096, w, 1024, 300);
	assert_true(n > TCP_STAGE_SMALL && n <= TCP_STAGE_SIZE);
	assert_true(TU_UNTIL(SPIN, (size_t)target_queued(tc) >= n, (void)0));
	/* One PDU per pass: the reads, not the budget, decide what is taken. */
	(void)nvmft_poll_group_poll(e->pg, 1);
	assert_int_equal(target_queued(tc), 0);
	expect_rsps(h, N, 300);

	/* A write's data: its head staged with the header, the rest read directly. */
	c = rw_cmd(true, 0, BIG / BLOCK);
	c.cid = htole16(400);
	sgl_transport(&c, BIG);
	submit_manual(h, &c, w, BIG);
	assert_int_equal(th_next_r2t(h, 400, &r2t), 0);
	assert_int_equal(r2t.r2tl, BIG);
	hdr = th_build_h2c(h, pdu, 400, r2t.ttag, 0, w, BIG, TH_F_LAST) - BIG;
	assert_int_equal(th_send(h, pdu, hdr + HEAD), 0);
	assert_true(POLL_UNTIL(e, target_queued(tc) == 0 && tc->rx.data_got == HEAD));
	assert_int_equal(th_send(h, pdu + hdr + HEAD, BIG - HEAD), 0);
	n = send_writes(h, N, 2000, 4096, w, 1024, 500);
	assert_true(TU_UNTIL(SPIN, (size_t)target_queued(tc) >= BIG - HEAD + n, (void)0));
	(void)nvmft_poll_group_poll(e->pg, 1);
	assert_int_equal(target_queued(tc), n);
	/* The small read after it. */
	(void)nvmft_poll_group_poll(e->pg, 1);
	assert_int_equal(target_queued(tc), n - TCP_STAGE_SMALL);
	assert_int_equal(th_wait(h, 400, NULL), 0);
	expect_rsps(h, N, 500);
	c = rw_cmd(false, 0, BIG / BLOCK);
	assert_int_equal(host_run(h, &c, NULL, 0, false, r, BIG, NULL), 0);
	assert_memory_equal(r, w, BIG);
	/* The small writes, read back in halves: the i-th block holds w + i KiB. */
	for (int half = 0; half < 2; half++) {
		c = rw_cmd(false, 2000 + (uint64_t)half * N / 2 * 8, N / 2 * 8);
		assert_int_equal(host_run(h, &c, NULL, 0, false, r, N / 2 * 4096, NULL), 0);
		for (int i = 0; i < N / 2; i++)
			assert_memory_equal(r + (size_t)i * 4096,
					    w + (size_t)(half * N / 2 + i) * 1024, 4096);
	}
	free(pdu);
	free(r);
	free(w);
}

/* NSID 2, a null namespace: its reads come from memory nobody ever writes. */
static void add_null_ns(struct env *e)
{
	struct nvmft_ns *ns;
	int added = 1;

	assert_int_equal(nvmft_backend_null_new("tcp-null", NS_BLOCKS, BLOCK, &e->null_be), 0);
	assert_int_equal(nvmft_ns_add(e->ss, e->null_be, NULL, done_cb, &added, &ns), 0);
	assert_true(POLL_UNTIL(e, added != 1));
	assert_int_equal(added, 0);
	assert_int_equal(nvmft_ns_get_nsid(ns), 2);
}

/* add_null_ns(), then an I/O queue with digests @dgst; its target side in *@tc. */
static struct th *null_io_up(struct env *e, uint8_t dgst, struct tcp_conn **tc)
{
	struct th *h;

	add_null_ns(e);
	h = io_up(e, dgst, 0, 0, 0);
	*tc = target_conn(e, 1);
	assert_non_null(*tc);
	return h;
}

/* A read of @len bytes from @nsid with CID @cid, appended at @buf + *@off. */
static void add_read(struct th *h, uint8_t *buf, size_t *off, uint32_t nsid, uint64_t slba,
		     uint32_t len, uint16_t cid)
{
	struct nvmft_cmd c = th_rw_cmd(false, nsid, slba, len / BLOCK);

	c.cid = htole16(cid);
	sgl_transport(&c, len);
	*off += th_build_cmd(h, buf + *off, &c, NULL, 0, 0);
}

/* The next PDUs are @cid's C2HData of @len bytes equal to @want (NULL: zeroes) and its response. */
static void expect_read(struct th *h, uint16_t cid, uint32_t len, const uint8_t *want)
{
	struct th_pdu p;

	assert_int_equal(th_recv(h, &p), NVMFT_TCP_C2H_DATA);
	assert_int_equal(le16toh(p.h.data.cccid), cid);
	assert_false(p.ddgst_err);
	assert_int_equal(p.data_len, len);
	if (want != NULL)
		assert_memory_equal(p.data, want, len);
	else
		for (uint32_t i = 0; i < len; i++)
			assert_int_equal(p.data[i], 0);
	assert_int_equal(th_recv(h, &p), NVMFT_TCP_RSP);
	assert_int_equal(le16toh(p.h.rsp.cpl.cid), cid);
	assert_int_equal(nvmft_status_from_wire(p.h.rsp.cpl.status), 0);
}

/*
 * Large reads from memory nobody writes (the null backend) go into the
 * socket by reference, through the connection's pipe (white box:
 * tx_spliced counts their data bytes and nothing else); small ones and
 * the RAM backend's are copied.  Interleaved, with digests, into a send
 * buffer smaller than one read and a host reading 777 bytes at a time:
 * the target waits for room with data in the pipe, and every PDU arrives
 * whole and in order.
 */
static void test_spliced_reads(void **state)
{
	struct env *e = *state;
	enum { N = 6, BIG = 128 * 1024, SMALL = TCP_SPLICE_MIN - BLOCK };
	uint8_t *w = malloc(BIG), *buf = malloc(3 * N * NVMFT_TCP_HDR_AREA_MAX);
	int small = 4096;
	struct tcp_conn *tc;
	size_t off = 0;
	struct th *h;

	assert_non_null(w);
	assert_non_null(buf);
	h = null_io_up(e, 3, &tc);
	th_fill(w, BIG, 51);
	{
		struct nvmft_cmd c = rw_cmd(true, 512, BIG / BLOCK);

		assert_int_equal(host_run(h, &c, w, BIG, false, NULL, 0, NULL), 0);
	}
	assert_int_equal(tc->tx_spliced, 0);
	assert_int_equal(setsockopt(tc->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	for (int i = 0; i < N; i++) {
		add_read(h, buf, &off, 2, (uint64_t)i * 8, BIG, (uint16_t)(100 + 3 * i));
		add_read(h, buf, &off, 2, 0, SMALL, (uint16_t)(101 + 3 * i));
		add_read(h, buf, &off, 1, 512, BIG, (uint16_t)(102 + 3 * i));
	}
	assert_int_equal(th_send(h, buf, off), 0);
	/* Nobody reads: the socket fills and the target waits for room. */
	assert_true(POLL_UNTIL(e, tc->pollout));
	th_set_recv_chunk(h, 777);
	for (int i = 0; i < N; i++) {
		expect_read(h, (uint16_t)(100 + 3 * i), BIG, NULL);
		expect_read(h, (uint16_t)(101 + 3 * i), SMALL, NULL);
		expect_read(h, (uint16_t)(102 + 3 * i), BIG, w);
	}
	assert_true(POLL_UNTIL(e, !tc->pollout && TAILQ_EMPTY(&tc->txq)));
	assert_int_equal(tc->pipe_len, 0);
	assert_true(tc->pipe_rd >= 0);
	assert_int_equal(tc->tx_spliced, (uint64_t)N * BIG);
	assert_quiet(h);
	free(buf);
	free(w);
}

enum { PIPED_READS = 16, PIPED_LEN = 128 * 1024 };

/*
 * A null I/O queue whose target has spliced data waiting in its pipe:
 * PIPED_READS reads of PIPED_LEN from CID @cid0 on, into a 4 KiB send
 * buffer nobody reads from.  The target side in *@tc.
 */
static struct th *pipe_backed_up(struct env *e, uint16_t cid0, struct tcp_conn **tc)
{
	uint8_t *buf = malloc(PIPED_READS * NVMFT_TCP_HDR_AREA_MAX);
	struct th *h = null_io_up(e, 0, tc);
	int small = 4096;
	size_t off = 0;

	assert_non_null(buf);
	assert_int_equal(setsockopt((*tc)->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	for (int i = 0; i < PIPED_READS; i++)
		add_read(h, buf, &off, 2, 0, PIPED_LEN, (uint16_t)(cid0 + i));
	assert_int_equal(th_send(h, buf, off), 0);
	assert_true(POLL_UNTIL(e, (*tc)->pollout && (*tc)->pipe_len > 0));
	free(buf);
	return h;
}

/*
 * A fatal error while spliced data waits in the pipe: what the pipe holds
 * still goes first, the read it belongs to ends whole, nothing queued
 * after it starts, and the C2HTermReq follows.
 */
static void test_spliced_term(void **state)
{
	struct env *e = *state;
	uint8_t bad[NVMFT_TCP_HDR_AREA_MAX];
	struct nvmft_cmd c;
	struct tcp_conn *tc;
	struct th_pdu p;
	struct th *h = pipe_backed_up(e, 200, &tc);
	int r, whole = 0;
	size_t n;

	/* A CapsuleCmd whose type says CapsuleResp. */
	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_keep_alive;
	n = nvmft_tcp_enc_cmd(bad, th_params(h), &c, 0);
	bad[0] ^= NVMFT_TCP_CMD ^ NVMFT_TCP_RSP;
	assert_int_equal(th_send(h, bad, n), 0);
	assert_true(POLL_UNTIL(e, tc->terminating));
	th_set_recv_chunk(h, 4096);
	while ((r = th_recv(h, &p)) == NVMFT_TCP_C2H_DATA || r == NVMFT_TCP_RSP) {
		if (r == NVMFT_TCP_RSP)
			continue;
		assert_int_equal(le16toh(p.h.data.cccid), 200 + whole);
		assert_int_equal(p.data_len, PIPED_LEN);
		whole++;
	}
	assert_int_equal(r, NVMFT_TCP_C2H_TERM);
	assert_int_equal(le16toh(p.h.term.fes), NVMFT_TCP_FES_INVALID_HEADER_FIELD);
	assert_true(whole >= 1 && whole < PIPED_READS);
	assert_int_equal(th_expect_closed(h), 0);
	/* Gone, pipe and all; the admin queue stays. */
	assert_true(POLL_UNTIL(e, e->tr->num_connections == 1));
}

static volatile sig_atomic_t sigpipes;

static void count_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/*
 * The host closes while spliced data waits in the pipe: splice() into a
 * socket whose peer is gone fails with EPIPE and, unlike sendmsg() with
 * MSG_NOSIGNAL, raises SIGPIPE, which by default kills the process.  The
 * target must neither let it through nor leave it pending.
 */
static void test_spliced_peer_gone(void **state)
{
	struct env *e = *state;
	struct sigaction sa = { .sa_handler = count_sigpipe }, old_sa;
	static uint8_t sink[65536];
	struct tcp_conn *tc;
	sigset_t pending;
	struct th *h = pipe_backed_up(e, 400, &tc);
	int fd;

	/* Take in what arrived, then close: a FIN, the target's socket in CLOSE_WAIT. */
	fd = th_fd(h);
	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &sa, &old_sa), 0);
	sigpipes = 0;
	host_drop_last(e);
	/* What the target sends now is answered with a reset; what it sends after that, EPIPE. */
	for (int i = 0; i < 8 && !tc->dead; i++)
		tcp_conn_flush(tc);
	assert_int_equal(sigpipes, 0);
	assert_true(tc->dead);
	assert_int_equal(sigpending(&pending), 0);
	assert_false(sigismember(&pending, SIGPIPE));
	assert_int_equal(sigaction(SIGPIPE, &old_sa, NULL), 0);
	assert_true(POLL_UNTIL(e, e->tr->num_connections == 1));
}

/*
 * No descriptors left for a pipe: the connection copies its large reads
 * instead, and says nothing to the host about it.
 */
static void test_splice_no_pipe(void **state)
{
	struct env *e = *state;
	enum { BIG = 128 * 1024 };
	uint8_t *buf = malloc(2 * NVMFT_TCP_HDR_AREA_MAX);
	struct rlimit old, tight;
	struct tcp_conn *tc;
	size_t off = 0;
	struct th *h;
	int fd;

	assert_non_null(buf);
	h = null_io_up(e, 0, &tc);
	/* The next descriptor number is the last one allowed: a pipe needs two. */
	fd = dup(0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	tight = old;
	tight.rlim_cur = (rlim_t)fd + 1;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
	add_read(h, buf, &off, 2, 0, BIG, 300);
	add_read(h, buf, &off, 2, 64, BIG, 301);
	assert_int_equal(th_send(h, buf, off), 0);
	expect_read(h, 300, BIG, NULL);
	expect_read(h, 301, BIG, NULL);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_true(tc->no_splice);
	assert_true(tc->pipe_rd < 0);
	assert_int_equal(tc->tx_spliced, 0);
	free(buf);
}

/*
 * Work the sockets cannot announce (a response completed outside the
 * transport's poll) makes the group's descriptor readable, so a host
 * sleeping in epoll_wait() comes back to send it.
 */
static void test_kick_wakes_group(void **state)
{
	struct env *e = *state;
	struct epoll_event ev;
	struct tcp_conn *tc;
	int pgfd = nvmft_poll_group_get_fd(e->pg);

	io_up(e, 0, 0, 0, 0);
	tc = target_conn(e, 1);
	assert_non_null(tc);
	for (int i = 0; i < 100; i++)
		env_poll(e);
	assert_int_equal(epoll_wait(pgfd, &ev, 1, 0), 0);
	tcp_conn_want_flush(tc);
	assert_int_equal(epoll_wait(pgfd, &ev, 1, 0), 1);
	/* Once a poll did the work, the descriptor goes quiet again. */
	env_poll(e);
	assert_false(tc->on_flush);
	assert_int_equal(epoll_wait(pgfd, &ev, 1, 0), 0);
}

/* Whether @tc is still one of the group's queue pairs (without touching it). */
static bool conn_in_group(struct env *e, const struct tcp_conn *tc)
{
	struct nvmft_qpair *qp;

	TAILQ_FOREACH(qp, &e->pg->qpairs, link)
		if (tcp_conn_of(qp) == tc)
			return true;
	return false;
}

/* Whether the epoll set @epfd holds @fd (its fdinfo lists one "tfd:" line per entry). */
static bool epoll_watches(int epfd, int fd)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;
	int tfd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	f = fopen(path, "r");
	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd;
	fclose(f);
	return found;
}

/*
 * B sends one read, then A sends one before every poll: B's answer must be
 * on its way within TCP_HOT_POLLS polls.  Both hosts' commands are left to
 * be waited for; @buf (BLOCK bytes) takes the data.
 */
static void answered_while_busy(struct env *e, struct th *a, struct th *b, uint8_t *buf)
{
	struct th_io io = { .rdata = buf, .rlen = BLOCK };
	struct nvmft_cmd c = rw_cmd(false, 1, 1);
	int polls;

	assert_true(th_submit(b, &c, &io) >= 0);
	for (polls = 0; polls <= TCP_HOT_POLLS && !th_readable(b); polls++) {
		c = rw_cmd(false, 2, 1);
		assert_true(th_submit(a, &c, &io) >= 0);
		nvmft_poll_group_poll(e->pg, 0);
	}
	assert_true(th_readable(b));
}

/*
 * A group's only busy connection is read without asking epoll first; it
 * does not keep another connection waiting more than TCP_HOT_POLLS polls,
 * two busy connections put the group back on epoll alone, and a hot
 * connection that goes quiet is left to epoll again.
 */
static void test_hot_connection(void **state)
{
	struct env *e = *state;
	struct tcp_conn *ta;
	struct tcp_tpg *tpg;
	struct th *a, *b;
	uint8_t buf[BLOCK];

	a = io_up(e, 0, 0, 0, 0);
	ta = target_conn(e, 1);
	assert_non_null(ta);
	tpg = ta->tpg;
	assert_int_equal(th_rw(a, false, 1, 0, 1, buf, BLOCK, 0), 0);
	assert_ptr_equal(tpg->hot, ta);
	/* A group that may be slept on keeps every socket in its epoll set. */
	assert_false(ta->unwatched);
	assert_true(epoll_watches(tpg->set.epfd, ta->fd));
	b = io_up(e, 0, 0, 0, 0);
	assert_non_null(target_conn_except(e, 1, ta));
	/* A busy and B quiet: A is the hot one again. */
	for (int i = 0; i < 4 * TCP_HOT_IDLE && tpg->hot != ta; i++)
		assert_int_equal(th_rw(a, false, 1, 0, 1, buf, BLOCK, 0), 0);
	assert_ptr_equal(tpg->hot, ta);

	/* A sends before every poll; B's one command still gets its answer in time. */
	answered_while_busy(e, a, b, buf);
	/* epoll found both: no connection is hot while two are busy. */
	assert_null(tpg->hot);
	assert_int_equal(th_wait_all(b), 0);
	assert_int_equal(th_wait_all(a), 0);

	/* Hot, then quiet: after TCP_HOT_IDLE empty reads epoll has it again. */
	for (int i = 0; i < 4 * TCP_HOT_IDLE && tpg->hot != ta; i++)
		assert_int_equal(th_rw(a, false, 1, 0, 1, buf, BLOCK, 0), 0);
	assert_ptr_equal(tpg->hot, ta);
	for (int i = 0; i < 2 * TCP_HOT_IDLE && tpg->hot != NULL; i++)
		nvmft_poll_group_poll(e->pg, 0);
	assert_null(tpg->hot);
	/* And a hot connection that closes is forgotten. */
	for (int i = 0; i < 4 * TCP_HOT_IDLE && tpg->hot != ta; i++)
		assert_int_equal(th_rw(a, false, 1, 0, 1, buf, BLOCK, 0), 0);
	assert_ptr_equal(tpg->hot, ta);
	th_close(a, false);
	assert_true(POLL_UNTIL(e, !conn_in_group(e, ta)));
	assert_null(tpg->hot);
}

/* Read until @tc is hot; a busy-polled group then has it out of its epoll set. */
static void make_hot_unwatched(struct th *h, struct tcp_conn *tc)
{
	uint8_t buf[BLOCK];

	for (int i = 0; i < 4 * TCP_HOT_IDLE && tc->tpg->hot != tc; i++)
		assert_int_equal(th_rw(h, false, 1, 0, 1, buf, BLOCK, 0), 0);
	assert_ptr_equal(tc->tpg->hot, tc);
	assert_true(tc->unwatched);
	assert_false(epoll_watches(tc->tpg->set.epfd, tc->fd));
}

enum { UNW_READS = 15, UNW_LEN = 128 * 1024, UNW_RW_LBA = UNW_READS * UNW_LEN / BLOCK };

/*
 * In a group that is never slept on, the hot connection leaves the epoll
 * set (no wakeup per packet) and is served by direct reads alone; it goes
 * back in when another connection speaks, when its socket fills (EPOLLOUT
 * is needed), when it goes quiet, and a fatal error on it still ends with
 * a C2HTermReq and the close.  Nothing is lost at any of those steps.
 */
static void test_hot_unwatched(void **state)
{
	struct env *e = *state;
	uint8_t *cmds = malloc(UNW_READS * NVMFT_TCP_HDR_AREA_MAX), bad[NVMFT_TCP_HDR_AREA_MAX];
	struct tcp_conn *ta;
	struct tcp_tpg *tpg;
	struct nvmft_cmd c;
	uint8_t buf[BLOCK];
	struct th_pdu p;
	struct th *a, *b;
	int small = 4096;
	size_t off = 0, n;

	assert_non_null(cmds);
	a = io_up(e, 0, 0, 0, 0);
	ta = target_conn(e, 1);
	assert_non_null(ta);
	tpg = ta->tpg;
	/* (Connect alone may have made it hot.) */
	assert_true(ta->unwatched != epoll_watches(tpg->set.epfd, ta->fd));
	make_hot_unwatched(a, ta);
	/* Served by direct reads alone: writes through R2T and in capsules, read back. */
	for (uint32_t i = 0; i < 16; i++)
		rw_check(a, UNW_RW_LBA + i * 8, 4096, i & 1, i);
	assert_ptr_equal(tpg->hot, ta);
	assert_true(ta->unwatched);

	/* Another connection speaks: answered in time, and A is watched again. */
	b = io_up(e, 0, 0, 0, 0);
	make_hot_unwatched(a, ta);
	answered_while_busy(e, a, b, buf);
	assert_int_equal(th_wait_all(b), 0);
	assert_int_equal(th_wait_all(a), 0);
	assert_false(ta->unwatched);
	assert_true(epoll_watches(tpg->set.epfd, ta->fd));

	/* Its socket fills: back in the set with EPOLLOUT, and every read arrives whole. */
	make_hot_unwatched(a, ta);
	assert_int_equal(setsockopt(ta->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	for (int i = 0; i < UNW_READS; i++)
		add_read(a, cmds, &off, 1, (uint64_t)i * (UNW_LEN / BLOCK), UNW_LEN, (uint16_t)(300 + i));
	assert_int_equal(th_send(a, cmds, off), 0);
	assert_true(POLL_UNTIL(e, ta->pollout));
	assert_false(ta->unwatched);
	assert_null(tpg->hot);
	assert_true(epoll_watches(tpg->set.epfd, ta->fd));
	for (int i = 0; i < UNW_READS; i++)
		expect_read(a, (uint16_t)(300 + i), UNW_LEN, NULL);
	assert_true(POLL_UNTIL(e, !ta->pollout));

	/* Quiet: after TCP_HOT_IDLE empty reads it is epoll's again. */
	make_hot_unwatched(a, ta);
	for (int i = 0; i < 2 * TCP_HOT_IDLE && tpg->hot != NULL; i++)
		nvmft_poll_group_poll(e->pg, 0);
	assert_null(tpg->hot);
	assert_true(epoll_watches(tpg->set.epfd, ta->fd));

	/* A fatal error while unwatched: C2HTermReq, close, forgotten. */
	make_hot_unwatched(a, ta);
	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_keep_alive;
	n = nvmft_tcp_enc_cmd(bad, th_params(a), &c, 0);
	bad[0] ^= NVMFT_TCP_CMD ^ NVMFT_TCP_RSP;
	assert_int_equal(th_send(a, bad, n), 0);
	assert_int_equal(th_recv(a, &p), NVMFT_TCP_C2H_TERM);
	assert_int_equal(le16toh(p.h.term.fes), NVMFT_TCP_FES_INVALID_HEADER_FIELD);
	assert_int_equal(th_expect_closed(a), 0);
	assert_true(POLL_UNTIL(e, !conn_in_group(e, ta)));
	assert_null(tpg->hot);
	/* B was never touched by any of it. */
	assert_int_equal(th_rw(b, false, 1, 0, 1, buf, BLOCK, 0), 0);
	free(cmds);
}

/* The system's default as a name, from /proc (empty when unreadable). */
static void default_congestion(char *name, size_t len)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_congestion_control", "r");

	name[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(name, (int)len, f) == NULL)
		name[0] = '\0';
	name[strcspn(name, "\n")] = '\0';
	fclose(f);
}

static void conn_congestion(const struct tcp_conn *tc, char *name, socklen_t len)
{
	memset(name, 0, len);
	assert_int_equal(getsockopt(tc->fd, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
}

/* tcp_congestion is set on accepted connections; bad names fail nvmft_transport_new(). */
static void test_congestion_control(void **state)
{
	struct env *e = *state;
	struct nvmft_transport_opts o;
	struct nvmft_transport *tr = NULL;
	struct nvmft_target *tgt;
	char sys[32], got[32];

	/* Default: whatever the system's default is. */
	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
	assert_string_equal(o.tcp_congestion, "");
	default_congestion(sys, sizeof(sys));
	io_up(e, 0, 0, 0, 0);
	conn_congestion(target_conn(e, 1), got, sizeof(got));
	if (sys[0] != '\0')
		assert_string_equal(got, sys);

	/* Reno is always built in and allowed to everyone. */
	snprintf(o.tcp_congestion, sizeof(o.tcp_congestion), "reno");
	env_reinit(e, &o);
	io_up(e, 0, 0, 0, 0);
	conn_congestion(target_conn(e, 1), got, sizeof(got));
	assert_string_equal(got, "reno");
	rw_check(e->hosts[e->nhosts - 1], 8, 4096, true, 7);

	assert_int_equal(nvmft_target_new(NULL, &tgt), 0);
	snprintf(o.tcp_congestion, sizeof(o.tcp_congestion), "no-such-cc");
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, &o, &tr), -ENOENT);
	memset(o.tcp_congestion, 'x', sizeof(o.tcp_congestion)); /* not terminated */
	assert_int_equal(nvmft_transport_new(tgt, NVMFT_TRTYPE_TCP, &o, &tr), -EINVAL);
	assert_null(tr);
	nvmft_target_free(tgt);
}

/* Connect sets the I/O queue's in-capsule limit to the transport's (4 KiB). */
static void test_io_icd_limit(void **state)
{
	struct env *e = *state;
	struct th *h = io_up(e, 0, 0, 0, 0);
	uint8_t w[8192] = { 0 };
	uint8_t buf[NVMFT_TCP_HDR_AREA_MAX];
	struct nvmft_cmd c = rw_cmd(true, 0, 16);

	c.cid = htole16(600);
	sgl_incapsule(&c, sizeof(w));
	nvmft_tcp_enc_cmd(buf, th_params(h), &c, sizeof(w));
	send_cmd(h, &c, w, sizeof(w));
	expect_term(h, NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED, 0, buf, 72);
}

/*
 * A pool that holds one write at a time: the second write waits for
 * buffers, gets its R2T when the first one is done, and a third one still
 * waiting when the host leaves is given back.
 */
static void test_buffer_wait(void **state)
{
	struct env *e = *state;
	struct nvmft_transport_opts o;
	const uint32_t len = 128 * 1024;
	uint8_t *w = malloc(len), *r = malloc(len);
	struct nvmft_cmd c;
	struct th_pdu p1, p2;
	struct th *h;

	assert_non_null(w);
	assert_non_null(r);
	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &o, sizeof(o));
	o.buf_pool_bytes = len;
	env_reinit(e, &o);
	h = io_up(e, 0, 0, 0, 0);
	th_fill(w, len, 31);
	for (int i = 0; i < 3; i++) {
		c = rw_cmd(true, (uint64_t)i * (len / BLOCK), len / BLOCK);
		c.cid = htole16((uint16_t)(800 + i));
		sgl_transport(&c, len);
		submit_manual(h, &c, w, len);
	}
	/* Only the first gets an R2T. */
	assert_int_equal(th_process(h, &p1), NVMFT_TCP_R2T);
	assert_int_equal(le16toh(p1.h.r2t.cccid), 800);
	assert_quiet(h);
	assert_true(e->pg->stats.buf_waits >= 2);
	/* Its data in, it finishes, and the second one's turn comes. */
	assert_int_equal(th_send_h2c(h, 800, le16toh(p1.h.r2t.ttag), 0, len, 0), 0);
	assert_int_equal(th_process(h, &p2), NVMFT_TCP_RSP);
	assert_int_equal(le16toh(p2.h.rsp.cpl.cid), 800);
	assert_int_equal(nvmft_status_from_wire(p2.h.rsp.cpl.status), 0);
	assert_int_equal(th_process(h, &p2), NVMFT_TCP_R2T);
	assert_int_equal(le16toh(p2.h.r2t.cccid), 801);
	assert_int_equal(th_send_h2c(h, 801, le16toh(p2.h.r2t.ttag), 0, len, 0), 0);
	assert_int_equal(th_wait(h, 801, NULL), 0);
	/* The third has its R2T now; the host leaves without answering. */
	assert_int_equal(th_process(h, &p2), NVMFT_TCP_R2T);
	assert_int_equal(le16toh(p2.h.r2t.cccid), 802);
	c = rw_cmd(false, len / BLOCK, len / BLOCK);
	assert_int_equal(host_run(h, &c, NULL, 0, false, r, len, NULL), 0);
	assert_memory_equal(r, w, len);
	/* A fourth and fifth: one holds the pool waiting for data, one waits for the pool. */
	for (int i = 3; i < 5; i++) {
		c = rw_cmd(true, 0, len / BLOCK);
		c.cid = htole16((uint16_t)(800 + i));
		sgl_transport(&c, len);
		send_cmd(h, &c, NULL, 0);
	}
	for (int i = 0; i < 100; i++)
		env_poll(e);
	for (int i = 0; i < e->nhosts; i++)
		th_close(e->hosts[i], false);
	assert_true(POLL_UNTIL(e, e->tr->num_connections == 0 && TAILQ_EMPTY(&e->pg->qpairs)));
	assert_true(pool_idle(e));
	assert_true(TAILQ_EMPTY(&e->pg->tr[e->tr->index].buf_waiters));
	free(w);
	free(r);
}

/* ---- Teardown paths ------------------------------------------------------------------------- */

static void poll_then_close(struct env *e, struct th *h)
{
	for (int i = 0; i < 50; i++)
		env_poll(e);
	th_close(h, false);
}

static void test_peer_close_mid_transfer(void **state)
{
	struct env *e = *state;
	const uint32_t len = 64 * 1024;
	uint8_t *w = calloc(1, len), hdr[NVMFT_TCP_HDR_AREA_MAX];
	struct nvmft_cmd c;
	struct th_r2t t;
	struct th *h;

	assert_non_null(w);
	/* Half the write data, then gone. */
	h = io_up(e, 3, 0, 0, 0);
	c = rw_cmd(true, 0, len / BLOCK);
	c.cid = htole16(500);
	sgl_transport(&c, len);
	submit_manual(h, &c, w, len);
	assert_int_equal(th_next_r2t(h, 500, &t), 0);
	assert_int_equal(th_send(h, hdr, nvmft_tcp_enc_h2c_data(hdr, th_params(h), 500, t.ttag, 0,
								len, true)), 0);
	assert_int_equal(th_send(h, w, len / 2), 0);
	poll_then_close(e, h);
	/* Half a capsule, then gone. */
	h = io_up(e, 0, 0, 0, 0);
	c = rw_cmd(true, 0, 8);
	sgl_incapsule(&c, 4096);
	assert_int_equal(th_send(h, hdr, nvmft_tcp_enc_cmd(hdr, th_params(h), &c, 4096)), 0);
	assert_int_equal(th_send(h, w, 1000), 0);
	poll_then_close(e, h);
	/* Reads queued and never collected, then gone. */
	h = io_up(e, 0, 0, 0, 0);
	for (int i = 0; i < 8; i++) {
		c = rw_cmd(false, 0, len / BLOCK);
		c.cid = htole16((uint16_t)(510 + i));
		sgl_transport(&c, len);
		send_cmd(h, &c, NULL, 0);
	}
	poll_then_close(e, h);
	/* The admin connections too: everything goes, every buffer comes back. */
	for (int i = 0; i < e->nhosts; i++)
		th_close(e->hosts[i], false);
	assert_true(POLL_UNTIL(e, e->tr->num_connections == 0 && TAILQ_EMPTY(&e->pg->qpairs)));
	assert_true(pool_idle(e));
	free(w);
}

static void test_listener_destroy_drops(void **state)
{
	struct env *e = *state;
	struct th *h = io_up(e, 0, 0, 0, 0);
	int done = 1;
	struct th_pdu p;

	nvmft_listener_destroy(e->l, done_cb, &done);
	e->l = NULL;
	assert_int_equal(th_recv(h, &p), TH_CLOSED);
	assert_true(POLL_UNTIL(e, done == 0 && e->tr->num_connections == 0));
}

static void test_discovery_entry(void **state)
{
	struct env *e = *state;
	struct nvmf_discovery_log *log = calloc(1, 4096);
	struct nvmf_disc_log_entry *ent = NULL;

	assert_non_null(log);
	assert_int_equal(nvmft_discovery_log_read(e->tgt, HOSTNQN, 0, log, 4096), 0);
	assert_true(le64toh(log->numrec) >= 1);
	for (uint64_t i = 0; i < le64toh(log->numrec); i++)
		if (strncmp(log->entries[i].subnqn, SUBNQN, sizeof(SUBNQN)) == 0)
			ent = &log->entries[i];
	assert_non_null(ent);
	assert_int_equal(ent->trtype, NVMF_TRTYPE_TCP);
	assert_int_equal(ent->adrfam, NVMF_ADDR_FAMILY_IP4);
	assert_int_equal(ent->treq, NVMF_TREQ_NOT_REQUIRED | NVMF_TREQ_DISABLE_SQFLOW);
	assert_int_equal(ent->tsas.tcp.sectype, NVMF_TCP_SECTYPE_NONE);
	assert_memory_equal(ent->trsvcid, e->port, strlen(e->port));
	assert_memory_equal(ent->traddr, "127.0.0.1", 9);
	free(log);
}

/*
 * A fatal error cuts the send queue at a PDU boundary: of the request at
 * its head, the PDUs the socket has started on stay (the last one to be
 * finished), the rest go.  Checked at every boundary and one byte past it,
 * with and without digests.
 */
static void test_tx_trim(void **state)
{
	(void)state;
	for (int dg = 0; dg < 2; dg++) {
		size_t hl = dg ? 28 : 24, dd = dg ? 4 : 0, c2h = hl + 4096 + dd;
		const struct {
			size_t sent;
			uint8_t r2ts;
			bool c2h, rsp;
			size_t left;
		} cases[] = {
			{ 1, 1, false, false, hl - 1 },
			{ hl - 1, 1, false, false, 1 },
			{ hl, 1, false, false, 0 },
			{ hl + 1, 2, false, false, hl - 1 },
			{ 2 * hl, 2, false, false, 0 },
			{ 2 * hl + 1, 2, true, false, c2h - 1 },
			{ 2 * hl + c2h - 1, 2, true, false, 1 },
			{ 2 * hl + c2h, 2, true, false, 0 },
			{ 2 * hl + c2h + 1, 2, true, true, hl - 1 },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct tcp_conn c;
			struct tcp_req t;

			memset(&c, 0, sizeof(c));
			memset(&t, 0, sizeof(t));
			c.params.hdgst = dg;
			c.params.ddgst = dg;
			t.c = &c;
			t.r2t_pending = 2;
			t.tx_c2h = true;
			t.c2h_hdr_len = (uint8_t)hl;
			t.req.length = 4096;
			t.tx_rsp = true;
			assert_int_equal(tcp_req_tx_trim(&t, cases[i].sent), cases[i].left);
			assert_int_equal(t.r2t_pending, cases[i].r2ts);
			assert_int_equal(t.tx_c2h, cases[i].c2h);
			assert_int_equal(t.tx_rsp, cases[i].rsp);
		}
	}
	/* A lone response part-way out stays whole. */
	{
		struct tcp_conn c;
		struct tcp_req t;

		memset(&c, 0, sizeof(c));
		memset(&t, 0, sizeof(t));
		t.c = &c;
		t.tx_rsp = true;
		assert_int_equal(tcp_req_tx_trim(&t, 10), 14);
		assert_true(t.tx_rsp);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_listener),
		T(test_icreq_icresp),
		T(test_identify),
		T(test_rw),
		T(test_r2t_windows),
		T(test_pipelined),
		T(test_bytewise),
		T(test_c2h_success_and_hpda),
		T(test_sgl_errors),
		T(test_data_digest_errors),
		T(test_fatal_header_fields),
		T(test_fatal_sequence),
		T(test_fatal_h2c),
		T(test_queue_overflow),
		cmocka_unit_test(test_tx_trim),
		T(test_io_icd_limit),
		T(test_slow_reader),
		T(test_gather_overflow),
		T(test_stage_reads),
		T(test_spliced_reads),
		T(test_spliced_term),
		T(test_spliced_peer_gone),
		T(test_splice_no_pipe),
		T(test_kick_wakes_group),
		T(test_hot_connection),
		cmocka_unit_test_setup_teardown(test_hot_unwatched, setup_busy, teardown),
		T(test_congestion_control),
		T(test_buffer_wait),
		T(test_peer_close_mid_transfer),
		T(test_listener_destroy_drops),
		T(test_discovery_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
