/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcp_host.h"

#define TH_STAGE 65536
#define TH_DEFAULT_TIMEOUT_MS 10000
/* Rounds of CSTS polling after CC.EN before giving up. */
#define TH_RDY_TRIES 1000

struct th_cmd {
	bool used;
	bool done;
	bool success;            /* completed by C2HData SUCCESS */
	uint16_t cid;
	struct th_io io;
	struct nvmft_cpl cpl;
	uint32_t c2h_next;       /* DATAO the next C2HData must carry */
	int nr_r2t;
	int r2t_taken;           /* TH_IO_MANUAL_R2T: handed to the test */
	struct th_r2t r2t[TH_R2T_LOG];
};

struct th {
	int fd;
	struct th_cfg cfg;
	char hostnqn[NVMF_NQN_SIZE];
	char subnqn[NVMF_NQN_SIZE];
	struct nvmft_tcp_params p;
	struct nvmft_tcp_rx rx;
	struct nvmft_tcp_icresp icresp;
	uint16_t qid;
	uint16_t cntlid;
	uint16_t next_cid;
	struct th_split split;
	uint32_t rng;
	bool eof;
	uint8_t *stage;
	size_t stage_len;
	size_t stage_off;
	uint8_t *scratch;
	size_t scratch_cap;
	struct iovec dst;
	unsigned int nr_cmds;
	unsigned int violations;
	char why[200];
	struct th_cmd *cmds;     /* TH_MAX_CMDS, by CID modulo */
};

static void th_note(struct th *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void th_note(struct th *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->why, sizeof(h->why), fmt, ap);
	va_end(ap);
}

static void th_violation(struct th *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void th_violation(struct th *h, const char *fmt, ...)
{
	va_list ap;

	h->violations++;
	va_start(ap, fmt);
	vsnprintf(h->why, sizeof(h->why), fmt, ap);
	va_end(ap);
}

static int64_t th_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t th_deadline(const struct th *h)
{
	return th_now_ms() + h->cfg.timeout_ms;
}

/*
 * Nothing could be done on the socket: let the target run, then sleep
 * until @events or a short while.  TH_TIMEOUT once @deadline passed.
 */
static int th_idle(struct th *h, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = h->fd, .events = events };
	int64_t left = deadline - th_now_ms();
	int work = 0;

	if (left <= 0)
		return TH_TIMEOUT;
	if (h->cfg.pump != NULL)
		work = h->cfg.pump(h->cfg.pump_arg);
	if (work > 0)
		return 0;
	poll(&pfd, 1, h->cfg.pump != NULL ? 1 : (int)(left > 100 ? 100 : left));
	return 0;
}

/* ---- Lifetime ------------------------------------------------------------------------------- */

static int th_init(int fd, const struct th_cfg *cfg, struct th **ret)
{
	struct th *h = calloc(1, sizeof(*h));
	static const uint8_t zero[16];
	int one = 1, fl;

	if (h == NULL)
		return -ENOMEM;
	h->stage = malloc(TH_STAGE);
	h->cmds = calloc(TH_MAX_CMDS, sizeof(*h->cmds));
	if (h->stage == NULL || h->cmds == NULL) {
		free(h->stage);
		free(h->cmds);
		free(h);
		return -ENOMEM;
	}
	if (cfg != NULL)
		h->cfg = *cfg;
	if (h->cfg.timeout_ms <= 0)
		h->cfg.timeout_ms = TH_DEFAULT_TIMEOUT_MS;
	if (h->cfg.recv_chunk == 0 || h->cfg.recv_chunk > TH_STAGE)
		h->cfg.recv_chunk = TH_STAGE;
	snprintf(h->hostnqn, sizeof(h->hostnqn), "%s",
		 h->cfg.hostnqn ? h->cfg.hostnqn : TH_HOSTNQN);
	snprintf(h->subnqn, sizeof(h->subnqn), "%s", h->cfg.subnqn ? h->cfg.subnqn : "");
	h->cfg.hostnqn = h->hostnqn;
	h->cfg.subnqn = h->subnqn;
	if (memcmp(h->cfg.hostid, zero, sizeof(zero)) == 0) {
		/* Stable per NQN, so two hosts with one NQN are one host. */
		uint32_t x = nvmft_tcp_digest(h->hostnqn, strlen(h->hostnqn));

		for (size_t i = 0; i < sizeof(h->cfg.hostid); i++)
			h->cfg.hostid[i] = (uint8_t)(x >> (8 * (i % 4))) ^ (uint8_t)i;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	/* Fails harmlessly on a socketpair. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	h->fd = fd;
	h->next_cid = 1;
	h->rng = 0x9e3779b9u;
	nvmft_tcp_rx_init(&h->rx, NVMFT_TCP_ROLE_HOST, &h->p);
	*ret = h;
	return 0;
}

int th_adopt(int fd, const struct th_cfg *cfg, struct th **ret)
{
	if (fd < 0 || ret == NULL)
		return -EINVAL;
	return th_init(fd, cfg, ret);
}

int th_connect(const char *addr, const char *port, const struct th_cfg *cfg, struct th **ret)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
		.ai_socktype = SOCK_STREAM,
	};
	struct addrinfo *res = NULL;
	struct th *h = NULL;
	int fd, rc, err = 0;
	socklen_t elen = sizeof(err);
	int64_t deadline;

	if (getaddrinfo(addr, port, &hints, &res) != 0)
		return -EINVAL;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (cfg != NULL && cfg->rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cfg->rcvbuf, sizeof(cfg->rcvbuf));
	rc = th_init(fd, cfg, &h);
	if (rc < 0) {
		close(fd);
		goto out;
	}
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto fail;
	}
	/* The target accepts on its next poll; wait until the handshake is over. */
	deadline = th_deadline(h);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };

		if (poll(&pfd, 1, 0) == 1)
			break;
		rc = th_idle(h, POLLOUT, deadline);
		if (rc < 0)
			goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
		rc = err ? -err : -errno;
		goto fail;
	}
	*ret = h;
	rc = 0;
	goto out;
fail:
	th_free(h);
out:
	freeaddrinfo(res);
	return rc;
}

void th_close(struct th *h, bool reset)
{
	if (h == NULL || h->fd < 0)
		return;
	if (reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(h->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(h->fd);
	h->fd = -1;
}

void th_set_timeout(struct th *h, int timeout_ms)
{
	h->cfg.timeout_ms = timeout_ms > 0 ? timeout_ms : TH_DEFAULT_TIMEOUT_MS;
}

void th_set_recv_chunk(struct th *h, size_t n)
{
	h->cfg.recv_chunk = n > 0 && n <= TH_STAGE ? n : TH_STAGE;
}

void th_free(struct th *h)
{
	if (h == NULL)
		return;
	th_close(h, false);
	free(h->stage);
	free(h->scratch);
	free(h->cmds);
	free(h);
}

/* ---- Byte stream ---------------------------------------------------------------------------- */

void th_set_split(struct th *h, const struct th_split *s)
{
	if (s == NULL) {
		memset(&h->split, 0, sizeof(h->split));
		return;
	}
	h->split = *s;
	if (s->mode == TH_SPLIT_RANDOM)
		h->rng = s->seed ? s->seed : 1;
}

static uint32_t th_rand(struct th *h)
{
	uint32_t x = h->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	h->rng = x;
	return x;
}

static size_t th_chunk(struct th *h, size_t done, size_t left)
{
	const struct th_split *s = &h->split;
	size_t n = left;

	switch (s->mode) {
	case TH_SPLIT_FIXED:
		n = s->chunk ? s->chunk : 1;
		break;
	case TH_SPLIT_RANDOM:
		n = 1 + th_rand(h) % (s->chunk ? s->chunk : 1);
		break;
	case TH_SPLIT_AT:
		if (done < s->at)
			n = s->at - done;
		break;
	default:
		break;
	}
	return n < left ? n : left;
}

/* Write all of one chunk, waiting for room as needed. */
static int th_write(struct th *h, const uint8_t *p, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n;

		if (h->fd < 0)
			return TH_CLOSED;
		n = send(h->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			th_note(h, "send: %s", strerror(errno));
			return TH_CLOSED;
		}
		if (th_idle(h, POLLOUT, deadline) < 0) {
			th_note(h, "timed out sending");
			return TH_TIMEOUT;
		}
	}
	return 0;
}

int th_send(struct th *h, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int64_t deadline = th_deadline(h);
	size_t done = 0;

	while (done < len) {
		size_t n = th_chunk(h, done, len - done);
		int rc = th_write(h, p + done, n, deadline);

		if (rc < 0)
			return rc;
		done += n;
		if (done < len && h->split.pump_between && h->cfg.pump != NULL)
			h->cfg.pump(h->cfg.pump_arg);
	}
	return 0;
}

/* More bytes into the stage.  0, or TH_* when none can come. */
static int th_fill_stage(struct th *h, int64_t deadline)
{
	for (;;) {
		ssize_t n;

		if (h->eof || h->fd < 0)
			return TH_CLOSED;
		n = recv(h->fd, h->stage, h->cfg.recv_chunk, MSG_DONTWAIT);
		if (n > 0) {
			h->stage_len = (size_t)n;
			h->stage_off = 0;
			return 0;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			h->eof = true;
			th_note(h, "connection closed by the target");
			return TH_CLOSED;
		}
		if (th_idle(h, POLLIN, deadline) < 0) {
			th_note(h, "timed out waiting for the target");
			return TH_TIMEOUT;
		}
	}
}

int th_recv_raw(struct th *h, void *buf, size_t len)
{
	int64_t deadline = th_deadline(h);
	uint8_t *p = buf;

	while (len > 0) {
		size_t n;
		int rc;

		if (h->stage_off == h->stage_len) {
			rc = th_fill_stage(h, deadline);
			if (rc < 0)
				return rc;
		}
		n = h->stage_len - h->stage_off;
		if (n > len)
			n = len;
		memcpy(p, h->stage + h->stage_off, n);
		h->stage_off += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* ---- PDUs ----------------------------------------------------------------------------------- */

/* Data and its digest after a header already in @buf at @off. */
static size_t th_put_data(const struct th *h, uint8_t *buf, size_t off, const void *data,
			  uint32_t len, bool bad)
{
	uint32_t dg;

	if (len == 0)
		return off;
	memcpy(buf + off, data, len);
	off += len;
	if (h->p.ddgst) {
		dg = nvmft_tcp_digest(data, len) ^ (bad ? htole32(1) : 0);
		memcpy(buf + off, &dg, sizeof(dg));
		off += sizeof(dg);
	}
	return off;
}

/* The header digest sits after the type's own header length, whatever HLEN says. */
static void th_spoil_hdgst(const struct th *h, uint8_t *pdu)
{
	if (h->p.hdgst && nvmft_tcp_type_has_digest(pdu[0]))
		pdu[nvmft_tcp_type_hlen(pdu[0])] ^= 0x80;
}

void th_fix_hdgst(const struct th *h, void *pdu)
{
	uint8_t *b = pdu;
	uint8_t hlen = nvmft_tcp_type_hlen(b[0]);

	if (h->p.hdgst && nvmft_tcp_type_has_digest(b[0])) {
		uint32_t dg = nvmft_tcp_digest(b, hlen);

		memcpy(b + hlen, &dg, sizeof(dg));
	}
}

size_t th_build_cmd(const struct th *h, void *buf, const struct nvmft_cmd *cmd, const void *icd,
		    uint32_t icd_len, unsigned int flags)
{
	size_t n = nvmft_tcp_enc_cmd(buf, &h->p, cmd, icd_len);

	if (flags & TH_F_BAD_HDGST)
		th_spoil_hdgst(h, buf);
	return th_put_data(h, buf, n, icd, icd_len, flags & TH_F_BAD_DDGST);
}

size_t th_build_h2c(const struct th *h, void *buf, uint16_t cccid, uint16_t ttag, uint32_t datao,
		    const void *data, uint32_t datal, unsigned int flags)
{
	size_t n = nvmft_tcp_enc_h2c_data(buf, &h->p, cccid, ttag, datao, datal,
					  flags & TH_F_LAST);

	if (flags & TH_F_BAD_HDGST)
		th_spoil_hdgst(h, buf);
	return th_put_data(h, buf, n, data, datal, flags & TH_F_BAD_DDGST);
}

static struct th_cmd *th_cmd_find(struct th *h, uint16_t cid)
{
	struct th_cmd *c = &h->cmds[cid % TH_MAX_CMDS];

	return c->used && c->cid == cid ? c : NULL;
}

static const struct th_cmd *th_cmd_find_const(const struct th *h, int cid)
{
	const struct th_cmd *c;

	if (cid < 0 || cid > UINT16_MAX)
		return NULL;
	c = &h->cmds[cid % TH_MAX_CMDS];
	return c->used && c->cid == cid ? c : NULL;
}

static uint8_t *th_scratch(struct th *h, size_t len)
{
	if (len > h->scratch_cap) {
		uint8_t *p = realloc(h->scratch, len);

		if (p == NULL)
			return NULL;
		h->scratch = p;
		h->scratch_cap = len;
	}
	return h->scratch;
}

/* A header with data arrived: decide where the data goes. */
static int th_data_dest(struct th *h, struct th_pdu *out)
{
	uint32_t dl = out->data_len;
	uint8_t *dst = NULL;

	if (out->type == NVMFT_TCP_C2H_DATA) {
		struct th_cmd *c = th_cmd_find(h, le16toh(out->h.data.cccid));
		uint64_t end = (uint64_t)le32toh(out->h.data.datao) + dl;

		if (c != NULL && c->io.rdata != NULL && end <= c->io.rlen)
			dst = (uint8_t *)c->io.rdata + le32toh(out->h.data.datao);
	}
	if (dst == NULL)
		dst = th_scratch(h, dl);
	if (dst == NULL)
		return -ENOMEM;
	h->dst.iov_base = dst;
	h->dst.iov_len = dl;
	out->data = dst;
	return nvmft_tcp_rx_set_data_dest(&h->rx, &h->dst, 1, 0);
}

int th_recv(struct th *h, struct th_pdu *out)
{
	int64_t deadline = th_deadline(h);

	memset(out, 0, sizeof(*out));
	out->type = -1;
	for (;;) {
		enum nvmft_tcp_rx_event ev;
		size_t used;
		int rc;

		if (h->stage_off == h->stage_len) {
			rc = th_fill_stage(h, deadline);
			if (rc < 0)
				return rc;
		}
		ev = nvmft_tcp_rx_feed(&h->rx, h->stage + h->stage_off, h->stage_len - h->stage_off,
				       &used);
		h->stage_off += used;
		switch (ev) {
		case NVMFT_TCP_RX_NEED_MORE:
			continue;
		case NVMFT_TCP_RX_ERROR:
			th_note(h, "malformed PDU from the target: FES %u FEI %u", h->rx.err.fes,
				h->rx.err.fei);
			return TH_BADPDU;
		case NVMFT_TCP_RX_HEADER:
			out->type = nvmft_tcp_rx_type(&h->rx);
			out->hdr_len = h->rx.hdr_total;
			out->data_len = nvmft_tcp_rx_data_len(&h->rx);
			memcpy(out->h.b, nvmft_tcp_rx_hdr(&h->rx), h->rx.hdr_total);
			if (out->data_len == 0)
				return out->type;
			if (th_data_dest(h, out) < 0)
				return -ENOMEM;
			continue;
		case NVMFT_TCP_RX_PDU_DONE:
		case NVMFT_TCP_RX_DDGST_ERROR:
			out->ddgst_err = ev == NVMFT_TCP_RX_DDGST_ERROR;
			return out->type;
		}
	}
}

bool th_quiet(struct th *h, int rounds)
{
	uint8_t b;

	for (int i = 0; i < rounds && h->cfg.pump != NULL; i++)
		h->cfg.pump(h->cfg.pump_arg);
	if (h->stage_off != h->stage_len)
		return false;
	return h->fd >= 0 && recv(h->fd, &b, 1, MSG_DONTWAIT | MSG_PEEK) < 0 &&
	       (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool th_readable(const struct th *h)
{
	struct pollfd pfd = { .fd = h->fd, .events = POLLIN };

	if (h->stage_off != h->stage_len)
		return true;
	return h->fd >= 0 && poll(&pfd, 1, 0) == 1;
}

/* ---- Routing -------------------------------------------------------------------------------- */

static void th_complete(struct th *h, struct th_cmd *c)
{
	c->done = true;
	h->nr_cmds--;
}

/* The end of the R2T range received for @c that holds offset @off; 0 when none does. */
static uint32_t th_r2t_end(const struct th_cmd *c, uint32_t off)
{
	int n = c->nr_r2t < TH_R2T_LOG ? c->nr_r2t : TH_R2T_LOG;

	for (int i = n - 1; i >= 0; i--)
		if (off >= c->r2t[i].r2to && off - c->r2t[i].r2to < c->r2t[i].r2tl)
			return c->r2t[i].r2to + c->r2t[i].r2tl;
	return 0;
}

int th_send_h2c(struct th *h, int cid, uint16_t ttag, uint32_t off, uint32_t len,
		unsigned int flags)
{
	struct th_cmd *c = cid >= 0 && cid <= UINT16_MAX ? th_cmd_find(h, (uint16_t)cid) : NULL;
	uint32_t max = h->p.maxh2cdata ? h->p.maxh2cdata : NVMFT_TCP_MIN_MAXH2CDATA;
	uint8_t *buf;
	int rc = 0;

	if (c == NULL || (uint64_t)off + len > c->io.wlen) {
		th_note(h, "H2CData outside command %d's write data", cid);
		return TH_UNEXPECTED;
	}
	buf = malloc(TH_PDU_SIZE(len < max ? len : max));
	if (buf == NULL)
		return -ENOMEM;
	while (len > 0 && rc == 0) {
		uint32_t l = len < max ? len : max;
		uint32_t wend = th_r2t_end(c, off);
		unsigned int f = flags;
		size_t n;

		/* LAST_PDU ends an R2T's range (or, with none known, this call's). */
		if ((wend ? off + l == wend : l == len) && !(c->io.flags & TH_IO_NO_LAST))
			f |= TH_F_LAST;
		if (c->io.flags & TH_IO_BAD_DDGST)
			f |= TH_F_BAD_DDGST;
		n = th_build_h2c(h, buf, c->cid, ttag, off, (const uint8_t *)c->io.wdata + off, l,
				 f);
		rc = th_send(h, buf, n);
		off += l;
		len -= l;
	}
	free(buf);
	return rc;
}

static void th_on_r2t(struct th *h, const struct th_pdu *p)
{
	const struct nvmft_tcp_r2t *r = &p->h.r2t;
	struct th_cmd *c = th_cmd_find(h, le16toh(r->cccid));
	struct th_r2t t = {
		.ttag = le16toh(r->ttag),
		.r2to = le32toh(r->r2to),
		.r2tl = le32toh(r->r2tl),
	};

	if (c == NULL || c->done || c->io.wlen == 0 || (uint64_t)t.r2to + t.r2tl > c->io.wlen) {
		th_violation(h, "R2T for CID %u at %u+%u fits no write", le16toh(r->cccid), t.r2to,
			     t.r2tl);
		return;
	}
	if (c->nr_r2t < TH_R2T_LOG)
		c->r2t[c->nr_r2t] = t;
	c->nr_r2t++;
	if (c->io.flags & TH_IO_MANUAL_R2T)
		return;
	th_send_h2c(h, c->cid, t.ttag, t.r2to, t.r2tl, 0);
}

static void th_on_c2h(struct th *h, const struct th_pdu *p)
{
	const struct nvmft_tcp_data *d = &p->h.data;
	struct th_cmd *c = th_cmd_find(h, le16toh(d->cccid));
	uint32_t datao = le32toh(d->datao);

	if (c == NULL || c->done || c->io.rdata == NULL) {
		th_violation(h, "C2HData for CID %u, which reads nothing", le16toh(d->cccid));
		return;
	}
	if (datao != c->c2h_next || (uint64_t)datao + p->data_len > c->io.rlen)
		th_violation(h, "C2HData for CID %u at %u+%u, expected %u of %u", c->cid, datao,
			     p->data_len, c->c2h_next, c->io.rlen);
	if (p->ddgst_err)
		th_violation(h, "C2HData for CID %u: data digest mismatch", c->cid);
	c->c2h_next = datao + p->data_len;
	if (d->ch.flags & NVMFT_TCP_F_DATA_SUCCESS) {
		memset(&c->cpl, 0, sizeof(c->cpl));
		c->cpl.cid = d->cccid;
		c->success = true;
		th_complete(h, c);
	}
}

static void th_on_rsp(struct th *h, const struct th_pdu *p)
{
	struct th_cmd *c = th_cmd_find(h, le16toh(p->h.rsp.cpl.cid));

	if (c == NULL || c->done) {
		th_violation(h, "CapsuleResp for CID %u, not outstanding",
			     le16toh(p->h.rsp.cpl.cid));
		return;
	}
	c->cpl = p->h.rsp.cpl;
	th_complete(h, c);
}

int th_process(struct th *h, struct th_pdu *p)
{
	int t = th_recv(h, p);

	switch (t) {
	case NVMFT_TCP_R2T:
		th_on_r2t(h, p);
		break;
	case NVMFT_TCP_C2H_DATA:
		th_on_c2h(h, p);
		break;
	case NVMFT_TCP_RSP:
		th_on_rsp(h, p);
		break;
	default:
		break;
	}
	return t;
}

/* ---- Commands ------------------------------------------------------------------------------- */

static void th_sgl(struct nvmft_cmd *cmd, const struct th_io *io)
{
	struct nvmft_sgl_desc *s = &cmd->dptr.sgl1;
	uint32_t len = io->wlen ? io->wlen : io->rlen;

	memset(s, 0, sizeof(*s));
	if (len == 0)
		return;
	s->unkeyed.length = htole32(len);
	if (io->wlen > 0 && (io->flags & TH_IO_INCAPSULE))
		s->unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_OFFSET;
	else
		s->unkeyed.type = NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK << 4 |
				  NVMFT_SGL_SUBTYPE_TRANSPORT;
}

int th_submit(struct th *h, struct nvmft_cmd *cmd, const struct th_io *io)
{
	static const struct th_io none;
	struct th_cmd *c = NULL;
	uint32_t icd_len;
	unsigned int f = 0;
	uint8_t *buf;
	uint16_t cid;
	size_t n;
	int rc;

	if (io == NULL)
		io = &none;
	if (io->flags & TH_IO_KEEP_CID) {
		cid = le16toh(cmd->cid);
		if (h->cmds[cid % TH_MAX_CMDS].used)
			return -EBUSY;
	} else {
		for (int i = 0; i < TH_MAX_CMDS; i++) {
			cid = h->next_cid++;
			if (!h->cmds[cid % TH_MAX_CMDS].used)
				break;
		}
		if (h->cmds[cid % TH_MAX_CMDS].used)
			return -EBUSY;
		cmd->cid = htole16(cid);
	}
	if (!(io->flags & TH_IO_KEEP_SGL))
		th_sgl(cmd, io);
	icd_len = (io->flags & TH_IO_INCAPSULE) ? io->wlen : 0;
	buf = malloc(TH_PDU_SIZE(icd_len));
	if (buf == NULL)
		return -ENOMEM;
	c = &h->cmds[cid % TH_MAX_CMDS];
	memset(c, 0, sizeof(*c));
	c->used = true;
	c->cid = cid;
	c->io = *io;
	h->nr_cmds++;
	if (io->flags & TH_IO_BAD_HDGST)
		f |= TH_F_BAD_HDGST;
	if (io->flags & TH_IO_BAD_DDGST)
		f |= TH_F_BAD_DDGST;
	n = th_build_cmd(h, buf, cmd, io->wdata, icd_len, f);
	rc = th_send(h, buf, n);
	free(buf);
	if (rc < 0) {
		c->used = false;
		h->nr_cmds--;
		return rc;
	}
	return cid;
}

bool th_done(const struct th *h, int cid)
{
	const struct th_cmd *c = th_cmd_find_const(h, cid);

	return c != NULL && c->done;
}

unsigned int th_outstanding(const struct th *h)
{
	return h->nr_cmds;
}

int th_wait(struct th *h, int cid, struct nvmft_cpl *cpl)
{
	struct th_cmd *c = cid >= 0 && cid <= UINT16_MAX ? th_cmd_find(h, (uint16_t)cid) : NULL;
	struct th_pdu p;
	int t;

	if (c == NULL) {
		th_note(h, "CID %d is not tracked", cid);
		return cid < 0 ? cid : TH_UNEXPECTED;
	}
	while (!c->done) {
		t = th_process(h, &p);
		if (t < 0)
			return t;
		if (t == NVMFT_TCP_C2H_TERM) {
			th_note(h, "C2HTermReq FES %u FEI %u while waiting for CID %d",
				le16toh(p.h.term.fes), le32toh(p.h.term.fei), cid);
			return TH_UNEXPECTED;
		}
		if (t != NVMFT_TCP_R2T && t != NVMFT_TCP_C2H_DATA && t != NVMFT_TCP_RSP) {
			th_violation(h, "PDU type %d while commands run", t);
			return TH_UNEXPECTED;
		}
	}
	if (cpl != NULL)
		*cpl = c->cpl;
	c->used = false;
	return c->success ? 0 : nvmft_status_from_wire(c->cpl.status);
}

int th_exec(struct th *h, struct nvmft_cmd *cmd, const struct th_io *io, struct nvmft_cpl *cpl)
{
	int cid = th_submit(h, cmd, io);

	return cid < 0 ? cid : th_wait(h, cid, cpl);
}

int th_wait_all(struct th *h)
{
	struct th_pdu p;

	while (h->nr_cmds > 0) {
		int t = th_process(h, &p);

		if (t < 0)
			return t;
		if (t != NVMFT_TCP_R2T && t != NVMFT_TCP_C2H_DATA && t != NVMFT_TCP_RSP) {
			th_violation(h, "PDU type %d while commands run", t);
			return TH_UNEXPECTED;
		}
	}
	return 0;
}

const struct th_r2t *th_r2ts(const struct th *h, int cid, int *n)
{
	const struct th_cmd *c = th_cmd_find_const(h, cid);

	*n = c ? (c->nr_r2t < TH_R2T_LOG ? c->nr_r2t : TH_R2T_LOG) : 0;
	return c ? c->r2t : NULL;
}

int th_next_r2t(struct th *h, int cid, struct th_r2t *r2t)
{
	struct th_cmd *c = cid >= 0 && cid <= UINT16_MAX ? th_cmd_find(h, (uint16_t)cid) : NULL;
	struct th_pdu p;

	if (c == NULL)
		return TH_UNEXPECTED;
	while (c->r2t_taken >= c->nr_r2t) {
		int t;

		if (c->done) {
			th_note(h, "CID %d completed while waiting for an R2T", cid);
			return TH_UNEXPECTED;
		}
		t = th_process(h, &p);
		if (t < 0)
			return t;
		if (t == NVMFT_TCP_C2H_TERM) {
			th_note(h, "C2HTermReq FES %u FEI %u while waiting for an R2T",
				le16toh(p.h.term.fes), le32toh(p.h.term.fei));
			return TH_UNEXPECTED;
		}
	}
	if (c->r2t_taken >= TH_R2T_LOG)
		return TH_UNEXPECTED;
	*r2t = c->r2t[c->r2t_taken++];
	return 0;
}

struct nvmft_cmd th_rw_cmd(bool write, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = write ? nvme_cmd_write : nvme_cmd_read;
	c.nsid = htole32(nsid);
	c.cdw10 = htole32((uint32_t)slba);
	c.cdw11 = htole32((uint32_t)(slba >> 32));
	c.cdw12 = htole32(nlb - 1);
	return c;
}

struct nvmft_cmd th_identify_cmd(uint8_t cns, uint32_t nsid)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_identify;
	c.nsid = htole32(nsid);
	c.cdw10 = htole32(cns);
	return c;
}

int th_rw(struct th *h, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf,
	  uint32_t len, unsigned int flags)
{
	struct nvmft_cmd c = th_rw_cmd(write, nsid, slba, nlb);
	struct th_io io = { .flags = flags };

	if (write) {
		io.wdata = buf;
		io.wlen = len;
	} else {
		io.rdata = buf;
		io.rlen = len;
	}
	return th_exec(h, &c, &io, NULL);
}

int th_identify(struct th *h, uint8_t cns, uint32_t nsid, void *buf4k)
{
	struct nvmft_cmd c = th_identify_cmd(cns, nsid);
	struct th_io io = { .rdata = buf4k, .rlen = NVME_IDENTIFY_DATA_SIZE };

	return th_exec(h, &c, &io, NULL);
}

int th_keep_alive(struct th *h)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_keep_alive;
	return th_exec(h, &c, NULL, NULL);
}

/* ---- Connection setup ----------------------------------------------------------------------- */

int th_send_icreq(struct th *h, uint16_t pfv, uint8_t hpda, uint8_t dgst, uint32_t maxr2t)
{
	uint8_t buf[NVMFT_TCP_ICREQ_LEN];
	uint16_t le = htole16(pfv);

	nvmft_tcp_enc_icreq(buf, hpda, dgst, maxr2t);
	memcpy(buf + offsetof(struct nvmft_tcp_icreq, pfv), &le, sizeof(le));
	/* C2H data alignment is checked against what we asked for. */
	h->p.hpda = hpda;
	return th_send(h, buf, sizeof(buf));
}

int th_recv_icresp(struct th *h)
{
	struct th_pdu p;
	int rc = th_recv(h, &p);

	if (rc < 0)
		return rc;
	if (rc != NVMFT_TCP_ICRESP) {
		th_note(h, "PDU type %d instead of ICResp", rc);
		return TH_UNEXPECTED;
	}
	h->icresp = p.h.icresp;
	nvmft_tcp_icresp_accept(&p.h.icresp, &h->p);
	return 0;
}

int th_icreq(struct th *h, uint8_t hpda, uint8_t dgst, uint32_t maxr2t)
{
	int rc = th_send_icreq(h, NVMFT_TCP_PFV_1_0, hpda, dgst, maxr2t);

	return rc < 0 ? rc : th_recv_icresp(h);
}

const struct nvmft_tcp_icresp *th_icresp(const struct th *h)
{
	return &h->icresp;
}

int th_connect_raw(struct th *h, const struct th_connect_args *a, struct nvmft_cpl *cpl)
{
	struct nvmft_connect_cmd c;
	struct nvmf_connect_data d;
	struct nvmft_cpl tmp;
	struct th_io io = { .wdata = &d, .wlen = sizeof(d), .flags = TH_IO_INCAPSULE };
	int st;

	memset(&c, 0, sizeof(c));
	memset(&d, 0, sizeof(d));
	c.opcode = NVMFT_OPC_FABRICS;
	c.fctype = NVMFT_FCTYPE_CONNECT;
	c.qid = htole16(a->qid);
	c.sqsize = htole16(a->sqsize);
	c.cattr = a->cattr;
	c.kato = htole32(a->kato);
	memcpy(d.hostid, a->hostid ? a->hostid : h->cfg.hostid, sizeof(d.hostid));
	d.cntlid = htole16(a->cntlid);
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", a->subnqn ? a->subnqn : h->cfg.subnqn);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", a->hostnqn ? a->hostnqn : h->cfg.hostnqn);
	st = th_exec(h, (struct nvmft_cmd *)&c, &io, &tmp);
	if (st == 0) {
		h->qid = a->qid;
		h->cntlid = le16toh(tmp.connect.cntlid);
	}
	if (cpl != NULL)
		*cpl = tmp;
	return st;
}

int th_connect_admin(struct th *h, uint16_t sqsize, uint16_t *cntlid)
{
	struct th_connect_args a = { .qid = 0, .sqsize = sqsize, .cntlid = NVMFT_CNTLID_DYNAMIC };
	int st = th_connect_raw(h, &a, NULL);

	if (st == 0 && cntlid != NULL)
		*cntlid = h->cntlid;
	return st;
}

int th_connect_io(struct th *h, uint16_t qid, uint16_t sqsize, uint16_t cntlid)
{
	struct th_connect_args a = { .qid = qid, .sqsize = sqsize, .cntlid = cntlid };

	return th_connect_raw(h, &a, NULL);
}

static struct nvmft_prop_cmd th_prop_cmd(uint8_t fctype, uint32_t offset, bool eight)
{
	struct nvmft_prop_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = NVMFT_OPC_FABRICS;
	c.fctype = fctype;
	c.attrib = eight ? NVMFT_PROP_SIZE_8 : NVMFT_PROP_SIZE_4;
	c.offset = htole32(offset);
	return c;
}

int th_prop_get(struct th *h, uint32_t offset, bool eight, uint64_t *val)
{
	struct nvmft_prop_cmd c = th_prop_cmd(NVMFT_FCTYPE_PROPERTY_GET, offset, eight);
	struct nvmft_cpl cpl;
	int st = th_exec(h, (struct nvmft_cmd *)&c, NULL, &cpl);

	if (st == 0 && val != NULL)
		*val = le64toh(cpl.u64);
	return st;
}

int th_prop_set(struct th *h, uint32_t offset, bool eight, uint64_t val)
{
	struct nvmft_prop_cmd c = th_prop_cmd(NVMFT_FCTYPE_PROPERTY_SET, offset, eight);

	c.value = htole64(val);
	return th_exec(h, (struct nvmft_cmd *)&c, NULL, NULL);
}

int th_enable(struct th *h)
{
	/* IOSQES 6 (64-byte SQEs), IOCQES 4 (16-byte CQEs), MPS 0 (4 KiB). */
	int st = th_prop_set(h, NVME_REG_CC, false, NVMFT_CC_EN | 6u << 16 | 4u << 20);

	for (int i = 0; i < TH_RDY_TRIES && st == 0; i++) {
		uint64_t csts = 0;

		st = th_prop_get(h, NVME_REG_CSTS, false, &csts);
		if (st == 0 && (csts & NVMFT_CSTS_RDY))
			return 0;
	}
	return st ? st : TH_TIMEOUT;
}

int th_admin_up(struct th *h, uint8_t dgst, uint16_t *cntlid)
{
	int st = th_icreq(h, 0, dgst, 0);

	if (st == 0)
		st = th_connect_admin(h, 31, cntlid);
	if (st == 0)
		st = th_enable(h);
	return st;
}

uint16_t th_qid(const struct th *h)
{
	return h->qid;
}

uint16_t th_cntlid(const struct th *h)
{
	return h->cntlid;
}

/* ---- Verdicts ------------------------------------------------------------------------------- */

int th_read_term(struct th *h, struct th_term *t)
{
	struct th_pdu p;
	int r;

	memset(t, 0, sizeof(*t));
	for (;;) {
		r = th_process(h, &p);
		if (r < 0)
			return r;
		if (r == NVMFT_TCP_C2H_TERM)
			break;
		t->skipped++;
	}
	t->fes = le16toh(p.h.term.fes);
	t->fei = le32toh(p.h.term.fei);
	t->hdr_len = p.data_len;
	if (p.data_len > 0)
		memcpy(t->hdr, p.data, p.data_len);
	r = th_recv(h, &p);
	t->closed = r == TH_CLOSED;
	if (r >= 0)
		th_violation(h, "PDU type %d after the C2HTermReq", r);
	return 0;
}

int th_expect_closed(struct th *h)
{
	struct th_pdu p;
	int r = th_recv(h, &p);

	if (r == TH_CLOSED)
		return 0;
	if (r >= 0) {
		th_note(h, "PDU type %d where a close was expected", r);
		return TH_UNEXPECTED;
	}
	return r;
}

int th_healthy(struct th *h)
{
	uint8_t buf[512];
	uint64_t csts;
	int st;

	if (h->fd < 0 || h->eof)
		return TH_CLOSED;
	if (h->qid == 0) {
		st = th_keep_alive(h);
		/* A controller not enabled yet rightly refuses Keep Alive: it still answers this. */
		if (st == NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR))
			st = th_prop_get(h, NVME_REG_CSTS, false, &csts);
	} else {
		st = th_rw(h, false, 1, 0, 1, buf, sizeof(buf), 0);
	}
	if (st == 0 && h->violations > 0)
		return TH_UNEXPECTED;
	return st;
}

unsigned int th_violations(const struct th *h)
{
	return h->violations;
}

const char *th_why(const struct th *h)
{
	return h->why;
}

const struct nvmft_tcp_err *th_rx_err(const struct th *h)
{
	return nvmft_tcp_rx_err(&h->rx);
}

struct nvmft_tcp_params *th_params(struct th *h)
{
	return &h->p;
}

int th_fd(const struct th *h)
{
	return h->fd;
}

void th_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *b = buf;
	uint32_t x = seed * 2654435761u | 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (uint8_t)x;
	}
}
