/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft-perf wire engine against a scripted controller on a socketpair:
 * what it sends is decoded and checked, what it receives is fed in pieces
 * down to one byte at a time, in copy and direct receive modes, with and
 * without digests.  Discard mode needs TCP (MSG_TRUNC discards on TCP
 * only), so its cases run over a loopback connection instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "perf.h"

#define DEPTH 4
#define BUFSZ 8192

struct fixture {
	struct perf_queue q;
	int peer;
	struct nvmft_tcp_params tp; /* the controller's view, for encoding */
	int ncompl;
	uint16_t last_cid;
	uint16_t last_status;
};

/* Case variants: receive mode and digests. */
struct variant {
	enum perf_rx_mode mode;
	bool dgst;
};

static const struct variant v_copy = { PERF_RX_COPY, false };
static const struct variant v_direct = { PERF_RX_DIRECT, false };
static const struct variant v_copy_dg = { PERF_RX_COPY, true };
static const struct variant v_direct_dg = { PERF_RX_DIRECT, true };

static void on_complete(struct perf_queue *q, struct perf_cmd *cmd, uint16_t status)
{
	struct fixture *f = q->owner;

	f->ncompl++;
	f->last_cid = cmd->cid;
	f->last_status = status;
	perf_cmd_put(q, cmd);
}

static int setup(void **state, const struct variant *v)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(perf_queue_init(&f->q, DEPTH, BUFSZ, 65536), 0);
	f->q.fd = sv[0];
	f->peer = sv[1];
	f->q.qid = 1;
	f->q.owner = f;
	f->q.complete = on_complete;
	f->q.rx_mode = v->mode;
	f->q.tp.ic_done = true;
	f->q.tp.hdgst = v->dgst;
	f->q.tp.ddgst = v->dgst;
	f->q.tp.maxh2cdata = 4096;
	f->q.icd_max = 4096;
	f->tp = f->q.tp;
	f->tp.icd_max = 8192;
	*state = f;
	return 0;
}

/* A connected pair over 127.0.0.1, both ends non-blocking, no Nagle. */
static void tcp_pair(int sv[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(sv[0] >= 0);
	assert_int_equal(connect(sv[0], (struct sockaddr *)&a, sizeof(a)), 0);
	sv[1] = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	assert_true(sv[1] >= 0);
	close(l);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(setsockopt(sv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
}

static int setup_discard(void **state)
{
	static const struct variant v_discard = { PERF_RX_DISCARD, false };
	struct fixture *f;
	int sv[2];

	setup(state, &v_discard);
	f = *state;
	close(f->q.fd);
	close(f->peer);
	tcp_pair(sv);
	f->q.fd = sv[0];
	f->peer = sv[1];
	return 0;
}

static int setup_copy(void **state) { return setup(state, &v_copy); }
static int setup_direct(void **state) { return setup(state, &v_direct); }
static int setup_copy_dg(void **state) { return setup(state, &v_copy_dg); }
static int setup_direct_dg(void **state) { return setup(state, &v_direct_dg); }

static int teardown(void **state)
{
	struct fixture *f = *state;

	perf_queue_free(&f->q);
	close(f->peer);
	free(f);
	return 0;
}

/* Read exactly @len bytes the host sent. */
static void peer_read(struct fixture *f, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(f->peer, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);

		assert_true(n > 0);
		got += (size_t)n;
	}
}

static void peer_expect_nothing(struct fixture *f)
{
	uint8_t b;

	assert_int_equal(recv(f->peer, &b, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* Send @len bytes to the host @chunk at a time, polling after each piece. */
static void peer_feed(struct fixture *f, const void *buf, size_t len, size_t chunk)
{
	const uint8_t *p = buf;

	while (len > 0) {
		size_t n = len < chunk ? len : chunk;
		uint64_t now = 0;

		assert_int_equal(send(f->peer, p, n, 0), (ssize_t)n);
		/* Direct mode may need more than one call to take a piece apart. */
		for (int i = 0; i < 4; i++)
			assert_true(perf_queue_poll_rx(&f->q, &now) >= 0);
		p += n;
		len -= n;
	}
}

/* A controller-to-host PDU stream under construction. */
struct stream {
	uint8_t b[65536];
	size_t len;
};

static void put_c2h(struct fixture *f, struct stream *s, uint16_t cid, uint32_t off,
		    const uint8_t *data, uint32_t len, uint8_t flags)
{
	s->len += nvmft_tcp_enc_c2h_data(s->b + s->len, &f->tp, cid, off, len, flags);
	memcpy(s->b + s->len, data, len);
	s->len += len;
	if (f->tp.ddgst) {
		uint32_t d = nvmft_tcp_digest(data, len);

		memcpy(s->b + s->len, &d, 4);
		s->len += 4;
	}
}

static void put_rsp(struct fixture *f, struct stream *s, uint16_t cid, uint16_t status)
{
	struct nvmft_cpl cpl;

	memset(&cpl, 0, sizeof(cpl));
	cpl.cid = htole16(cid);
	cpl.sqid = htole16(1);
	cpl.status = nvmft_status_to_wire(status);
	s->len += nvmft_tcp_enc_rsp(s->b + s->len, &f->tp, &cpl);
}

static struct perf_cmd *submit(struct fixture *f, bool read, uint32_t len, uint8_t fill)
{
	struct perf_cmd *cmd = perf_cmd_get(&f->q);
	struct nvmft_cmd sqe;

	assert_non_null(cmd);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = read ? nvme_cmd_read : nvme_cmd_write;
	sqe.nsid = htole32(1);
	cmd->len = len;
	cmd->to_host = read;
	if (!read)
		memset(cmd->buf, fill, len);
	assert_true(perf_queue_submit(&f->q, cmd, &sqe, 0));
	assert_int_equal(perf_queue_flush(&f->q), 0);
	return cmd;
}

/* Read one command capsule (no in-capsule data) and check it. */
static void expect_capsule(struct fixture *f, uint16_t cid, uint8_t sgl_type, uint32_t len,
			   uint32_t icd)
{
	union {
		uint64_t align;
		uint8_t b[256];
		struct nvmft_tcp_cmd cmd;
	} h;
	uint32_t hdr = NVMFT_TCP_CMD_HLEN + (f->tp.hdgst ? 4 : 0), data_len = 0;
	struct nvmft_tcp_err err;

	peer_read(f, h.b, hdr);
	assert_int_equal(nvmft_tcp_validate(NVMFT_TCP_ROLE_CTRLR, &f->tp, h.b, &data_len, &err),
			 0);
	assert_int_equal(h.cmd.ch.type, NVMFT_TCP_CMD);
	assert_int_equal(data_len, icd);
	assert_int_equal(le16toh(h.cmd.cmd.cid), cid);
	assert_int_equal(h.cmd.cmd.flags, 0x40);
	assert_int_equal(h.cmd.cmd.dptr.sgl1.unkeyed.type, sgl_type);
	assert_int_equal(le32toh(h.cmd.cmd.dptr.sgl1.unkeyed.length), len);
	if (f->tp.hdgst) {
		uint32_t d = nvmft_tcp_digest(h.b, NVMFT_TCP_CMD_HLEN), got;

		memcpy(&got, h.b + NVMFT_TCP_CMD_HLEN, 4);
		assert_int_equal(got, d);
	}
}

static void fill_pattern(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* A read answered by two C2HData PDUs, the last with SUCCESS: no CapsuleResp. */
static void test_read_success_flag_bytewise(void **state)
{
	struct fixture *f = *state;
	static struct stream s;
	static uint8_t data[BUFSZ];
	struct perf_cmd *cmd = submit(f, true, BUFSZ, 0);

	expect_capsule(f, cmd->cid, 0x5a, BUFSZ, 0);
	fill_pattern(data, sizeof(data), 3);
	s.len = 0;
	put_c2h(f, &s, cmd->cid, 0, data, 4096, 0);
	put_c2h(f, &s, cmd->cid, 4096, data + 4096, 4096,
		NVMFT_TCP_F_DATA_LAST | NVMFT_TCP_F_DATA_SUCCESS);
	peer_feed(f, s.b, s.len - 1, 1);
	assert_int_equal(f->ncompl, 0);
	peer_feed(f, s.b + s.len - 1, 1, 1);
	assert_int_equal(f->ncompl, 1);
	assert_int_equal(f->last_status, 0);
	assert_memory_equal(f->q.cmds[f->last_cid].buf, data, BUFSZ);
	assert_int_equal(f->q.outstanding, 0);
	assert_int_equal(f->q.nfree, DEPTH);
	assert_false(f->q.failed);
}

/* C2HData without SUCCESS, then a CapsuleResp; several reads in one burst. */
static void test_read_then_rsp_batched(void **state)
{
	struct fixture *f = *state;
	static struct stream s;
	static uint8_t data[4][1024];
	uint16_t cids[4];

	for (int i = 0; i < 4; i++) {
		cids[i] = submit(f, true, 1024, 0)->cid;
		expect_capsule(f, cids[i], 0x5a, 1024, 0);
	}
	s.len = 0;
	for (int i = 0; i < 4; i++) {
		fill_pattern(data[i], 1024, (uint8_t)(i * 40));
		put_c2h(f, &s, cids[i], 0, data[i], 1024, NVMFT_TCP_F_DATA_LAST);
		put_rsp(f, &s, cids[i], i == 2 ? NVMFT_STATUS(0, 0x80) : 0);
	}
	peer_feed(f, s.b, s.len, s.len);
	assert_int_equal(f->ncompl, 4);
	assert_int_equal(f->q.outstanding, 0);
	for (int i = 0; i < 4; i++)
		assert_memory_equal(f->q.cmds[cids[i]].buf, data[i], 1024);
	/* The last one completed is cid 3; cid 2 failed with LBA Out of Range. */
	assert_int_equal(f->last_status, 0);
}

/*
 * Discard mode: the payload is accounted for but never lands in the
 * buffer, whether it arrived with its header or was left to MSG_TRUNC;
 * fed a byte at a time and then whole, with a CapsuleResp behind it.
 */
static void test_read_discard(void **state)
{
	struct fixture *f = *state;
	static struct stream s;
	static uint8_t data[BUFSZ];
	struct perf_cmd *cmd;

	for (int round = 0; round < 2; round++) {
		cmd = submit(f, true, BUFSZ, 0);
		expect_capsule(f, cmd->cid, 0x5a, BUFSZ, 0);
		memset(cmd->buf, 0xa5, BUFSZ);
		fill_pattern(data, sizeof(data), 9);
		s.len = 0;
		put_c2h(f, &s, cmd->cid, 0, data, 4096, 0);
		put_c2h(f, &s, cmd->cid, 4096, data + 4096, 4096, NVMFT_TCP_F_DATA_LAST);
		put_rsp(f, &s, cmd->cid, 0);
		f->q.rx_discard_bytes = 0;
		peer_feed(f, s.b, s.len - 1, round == 0 ? 1 : s.len - 1);
		assert_int_equal(f->ncompl, round);
		peer_feed(f, s.b + s.len - 1, 1, 1);
		assert_int_equal(f->ncompl, round + 1);
		assert_int_equal(f->last_status, 0);
		assert_int_equal(f->q.rx_discard_bytes, BUFSZ);
		assert_int_equal(f->q.rx_copy_bytes + f->q.rx_direct_bytes, 0);
		for (size_t i = 0; i < BUFSZ; i++)
			assert_int_equal(f->q.cmds[f->last_cid].buf[i], 0xa5);
		assert_int_equal(f->q.outstanding, 0);
		assert_false(f->q.failed);
	}
}

static void test_rsp_error_status(void **state)
{
	struct fixture *f = *state;
	struct stream *s = calloc(1, sizeof(*s));
	struct perf_cmd *cmd = submit(f, false, 512, 0xaa);
	char sbuf[160];

	assert_non_null(s);
	put_rsp(f, s, cmd->cid, NVMFT_STATUS_DNR(0, 0x80));
	peer_feed(f, s->b, s->len, 7);
	assert_int_equal(f->ncompl, 1);
	assert_int_equal(f->last_status, NVMFT_STATUS_DNR(0, 0x80));
	assert_string_equal(perf_status_str(f->last_status, nvme_cmd_write, false, sbuf,
					    sizeof(sbuf)),
			    "status 0x4080: SCT 0h SC 80h (LBA Out of Range), DNR");
	free(s);
}

/* Write data that fits goes in the capsule, with its digest when on. */
static void test_write_in_capsule(void **state)
{
	struct fixture *f = *state;
	static uint8_t got[4096 + 8];
	struct perf_cmd *cmd = submit(f, false, 4096, 0x5c);
	uint8_t want[4096];

	expect_capsule(f, cmd->cid, 0x01, 4096, 4096);
	peer_read(f, got, 4096 + (f->tp.ddgst ? 4 : 0));
	memset(want, 0x5c, sizeof(want));
	assert_memory_equal(got, want, 4096);
	if (f->tp.ddgst) {
		uint32_t d = nvmft_tcp_digest(want, 4096);

		assert_memory_equal(got + 4096, &d, 4);
	}
	peer_expect_nothing(f);
}

/* Larger writes wait for R2T and go out as H2CData of at most MAXH2CDATA. */
static void test_write_r2t(void **state)
{
	struct fixture *f = *state;
	struct stream *s = calloc(1, sizeof(*s));
	struct perf_cmd *cmd = submit(f, false, BUFSZ, 0);
	union {
		uint64_t align;
		uint8_t b[128];
		struct nvmft_tcp_data d;
	} h;
	static uint8_t data[4096 + 4];
	uint32_t hdr = NVMFT_TCP_DATA_HLEN + (f->tp.hdgst ? 4 : 0);
	struct nvmft_tcp_err err;

	assert_non_null(s);
	fill_pattern(cmd->buf, BUFSZ, 9);
	expect_capsule(f, cmd->cid, 0x5a, BUFSZ, 0);
	peer_expect_nothing(f);
	s->len = nvmft_tcp_enc_r2t(s->b, &f->tp, cmd->cid, 0x77, 0, BUFSZ);
	peer_feed(f, s->b, s->len, 3);
	assert_int_equal(perf_queue_flush(&f->q), 0);
	for (uint32_t off = 0; off < BUFSZ; off += 4096) {
		uint32_t data_len = 0;

		peer_read(f, h.b, hdr);
		assert_int_equal(nvmft_tcp_validate(NVMFT_TCP_ROLE_CTRLR, &f->tp, h.b, &data_len,
						    &err), 0);
		assert_int_equal(h.d.ch.type, NVMFT_TCP_H2C_DATA);
		assert_int_equal(le16toh(h.d.cccid), cmd->cid);
		assert_int_equal(le16toh(h.d.ttag), 0x77);
		assert_int_equal(le32toh(h.d.datao), off);
		assert_int_equal(le32toh(h.d.datal), 4096);
		assert_int_equal(!!(h.d.ch.flags & NVMFT_TCP_F_DATA_LAST), off + 4096 == BUFSZ);
		peer_read(f, data, 4096 + (f->tp.ddgst ? 4 : 0));
		assert_memory_equal(data, cmd->buf + off, 4096);
	}
	peer_expect_nothing(f);
	s->len = 0;
	put_rsp(f, s, cmd->cid, 0);
	peer_feed(f, s->b, s->len, s->len);
	assert_int_equal(f->ncompl, 1);
	assert_int_equal(f->last_status, 0);
	assert_null(f->q.h2c_head);
	free(s);
}

/* A data digest that does not match fails the command, not the connection. */
static void test_ddgst_mismatch(void **state)
{
	struct fixture *f = *state;
	static struct stream s;
	static uint8_t data[2048];
	struct perf_cmd *cmd = submit(f, true, 2048, 0);

	expect_capsule(f, cmd->cid, 0x5a, 2048, 0);
	s.len = 0;
	put_c2h(f, &s, cmd->cid, 0, data, 2048, NVMFT_TCP_F_DATA_LAST);
	s.b[s.len - 1] ^= 0xff;
	put_rsp(f, &s, cmd->cid, 0);
	peer_feed(f, s.b, s.len, 100);
	assert_int_equal(f->ncompl, 1);
	assert_int_equal(f->last_status, PERF_STATUS_XFER);
	assert_false(f->q.failed);
}

static void test_rsp_without_data(void **state)
{
	struct fixture *f = *state;
	static struct stream s;
	struct perf_cmd *cmd = submit(f, true, 2048, 0);

	expect_capsule(f, cmd->cid, 0x5a, 2048, 0);
	s.len = 0;
	put_rsp(f, &s, cmd->cid, 0);
	peer_feed(f, s.b, s.len, s.len);
	assert_int_equal(f->ncompl, 1);
	assert_int_equal(f->last_status, PERF_STATUS_XFER);
}

/* Data for a command that is not outstanding: fatal, and the host says so with H2CTermReq. */
static void test_c2h_unknown_cccid(void **state)
{
	struct fixture *f = *state;
	static struct stream s;
	static uint8_t data[512];
	union {
		uint64_t align;
		struct nvmft_tcp_term t;
	} term;
	uint64_t now = 0;

	s.len = 0;
	put_c2h(f, &s, 3, 0, data, 512, NVMFT_TCP_F_DATA_LAST);
	assert_int_equal(send(f->peer, s.b, s.len, 0), (ssize_t)s.len);
	assert_int_equal(perf_queue_poll_rx(&f->q, &now), -1);
	assert_true(f->q.failed);
	assert_non_null(strstr(f->q.err, "C2HData for no outstanding read, CCCID (3)"));
	peer_read(f, &term, sizeof(term.t));
	assert_int_equal(term.t.ch.type, NVMFT_TCP_H2C_TERM);
	assert_int_equal(le16toh(term.t.fes), NVMFT_TCP_FES_INVALID_HEADER_FIELD);
	assert_int_equal(le32toh(term.t.fei), NVMFT_TCP_FEI_CCCID);
}

static void test_c2h_past_end(void **state)
{
	struct fixture *f = *state;
	static struct stream s;
	static uint8_t data[4096];
	struct perf_cmd *cmd = submit(f, true, 2048, 0);
	uint64_t now = 0;

	expect_capsule(f, cmd->cid, 0x5a, 2048, 0);
	s.len = 0;
	put_c2h(f, &s, cmd->cid, 0, data, 4096, NVMFT_TCP_F_DATA_LAST);
	assert_int_equal(send(f->peer, s.b, s.len, 0), (ssize_t)s.len);
	assert_int_equal(perf_queue_poll_rx(&f->q, &now), -1);
	assert_non_null(strstr(f->q.err, "past the end of the transfer"));
}

/* A bad header digest: the stream cannot be trusted any more. */
static void test_hdgst_mismatch(void **state)
{
	struct fixture *f = *state;
	static struct stream s;
	union {
		uint64_t align;
		struct nvmft_tcp_term t;
	} term;
	struct perf_cmd *cmd = submit(f, true, 512, 0);
	uint64_t now = 0;

	expect_capsule(f, cmd->cid, 0x5a, 512, 0);
	s.len = 0;
	put_rsp(f, &s, cmd->cid, 0);
	s.b[NVMFT_TCP_RSP_HLEN] ^= 1;
	assert_int_equal(send(f->peer, s.b, s.len, 0), (ssize_t)s.len);
	assert_int_equal(perf_queue_poll_rx(&f->q, &now), -1);
	assert_int_equal(f->ncompl, 0);
	assert_non_null(strstr(f->q.err, "header digest mismatch"));
	peer_read(f, &term, sizeof(term.t));
	assert_int_equal(term.t.ch.type, NVMFT_TCP_H2C_TERM);
	assert_int_equal(le16toh(term.t.fes), NVMFT_TCP_FES_HDGST_ERROR);
}

static void test_term_from_target(void **state)
{
	struct fixture *f = *state;
	uint8_t pdu[NVMFT_TCP_TERM_MAX_LEN];
	size_t n = nvmft_tcp_enc_term(pdu, NVMFT_TCP_C2H_TERM, NVMFT_TCP_FES_PDU_SEQUENCE_ERROR,
				      0, "12345678", 8);
	uint64_t now = 0;

	assert_int_equal(send(f->peer, pdu, n, 0), (ssize_t)n);
	assert_int_equal(perf_queue_poll_rx(&f->q, &now), -1);
	assert_string_equal(f->q.err, "the target ended the connection with C2HTermReq: "
			    "FES 2 (PDU Sequence Error), FEI 0x0");
}

static void test_peer_closed(void **state)
{
	struct fixture *f = *state;
	uint64_t now = 0;

	assert_int_equal(perf_queue_poll_rx(&f->q, &now), 0);
	shutdown(f->peer, SHUT_WR);
	assert_int_equal(perf_queue_poll_rx(&f->q, &now), -1);
	assert_string_equal(f->q.err, "the target closed the connection (qid 1)");
}

static void test_status_strings(void **state)
{
	char b[160];

	(void)state;
	assert_string_equal(perf_status_str(NVMFT_STATUS(1, 0x82), NVMFT_OPC_FABRICS, true, b,
					    sizeof(b)),
			    "status 0x0182: SCT 1h SC 82h (Connect Invalid Parameters)");
	assert_string_equal(perf_status_str(NVMFT_STATUS(1, 0x02), nvme_admin_identify, true, b,
					    sizeof(b)),
			    "status 0x0102: SCT 1h SC 02h (Invalid Queue Size)");
	assert_string_equal(perf_status_str(NVMFT_STATUS(0, 0x0b), nvme_cmd_read, false, b,
					    sizeof(b)),
			    "status 0x000b: SCT 0h SC 0bh (Invalid Namespace or Format)");
	assert_string_equal(perf_status_str(NVMFT_STATUS(2, 0x81), nvme_cmd_read, false, b,
					    sizeof(b)),
			    "status 0x0281: SCT 2h SC 81h (Media and Data Integrity Error)");
}

#define VARIANTS(t)                                                                  \
	cmocka_unit_test_setup_teardown(t, setup_copy, teardown),                    \
	cmocka_unit_test_setup_teardown(t, setup_direct, teardown),                  \
	cmocka_unit_test_setup_teardown(t, setup_copy_dg, teardown),                 \
	cmocka_unit_test_setup_teardown(t, setup_direct_dg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		VARIANTS(test_read_success_flag_bytewise),
		VARIANTS(test_read_then_rsp_batched),
		VARIANTS(test_rsp_error_status),
		VARIANTS(test_write_in_capsule),
		VARIANTS(test_write_r2t),
		cmocka_unit_test_setup_teardown(test_read_discard, setup_discard, teardown),
		cmocka_unit_test_setup_teardown(test_ddgst_mismatch, setup_copy_dg, teardown),
		cmocka_unit_test_setup_teardown(test_ddgst_mismatch, setup_direct_dg, teardown),
		cmocka_unit_test_setup_teardown(test_rsp_without_data, setup_copy, teardown),
		cmocka_unit_test_setup_teardown(test_hdgst_mismatch, setup_copy_dg, teardown),
		cmocka_unit_test_setup_teardown(test_c2h_unknown_cccid, setup_copy, teardown),
		cmocka_unit_test_setup_teardown(test_c2h_past_end, setup_direct, teardown),
		cmocka_unit_test_setup_teardown(test_term_from_target, setup_copy, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closed, setup_copy, teardown),
		cmocka_unit_test(test_status_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
