/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NVMe/TCP receive state machine (tcp_codec.h) on its own, fed a byte
 * stream in random pieces, either through nvmft_tcp_rx_feed() (the staging
 * path) or through nvmft_tcp_rx_want()/nvmft_tcp_rx_advance() (the readv
 * path), in either role, with and without digests.  Every event is checked
 * against the bytes that produced it:
 *  - a HEADER event ends exactly at the end of a header the codec's own
 *    validator accepts, with a correct header digest when one is on;
 *  - a PDU's bytes add up to its PLEN; PDU_DONE and DDGST_ERROR come only
 *    for a PDU with data, and say whether its data digest is right;
 *  - data lands in the destination given for it, byte for byte, and
 *    nowhere else (guard bytes around it stay untouched);
 *  - nvmft_tcp_rx_want() only ever points into the machine itself or into
 *    that destination;
 *  - after ERROR every call says ERROR again and consumes nothing.
 *
 * Input: byte 0 configuration (bit 0 host role, 1 connection already past
 * ICReq, 2 header digests, 3 data digests, 4 leave digests as they are
 * rather than fixing them, 5 readv path, 6 always give a data
 * destination, 7 answer ICReq/ICResp like the owner would), byte 1 CPDA,
 * byte 2 HPDA, u32 MAXH2CDATA, u32 in-capsule limit, u32 PRNG seed, then
 * the stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "transports/tcp/tcp_codec.h"
#include "util/crc32c.h"

#define GUARD 0xa5
#define MAX_DEST_IOV 4

struct pdu_expect {
	bool active;          /* a PDU with data is in progress */
	size_t start;         /* stream offset of its first byte */
	uint32_t plen;
	size_t data_off;      /* stream offset of its data */
	uint32_t data_len;
	bool ddgst;
	bool ddgst_ok;
	uint8_t *dest;        /* destination buffer, NULL when the data is discarded */
	size_t dest_size;
	size_t dest_off;
	struct iovec iov[MAX_DEST_IOV];
	int iovcnt;
};

struct rx_run {
	struct nvmft_tcp_rx rx;
	struct nvmft_tcp_params p;
	enum nvmft_tcp_role role;
	const uint8_t *s;     /* the stream */
	size_t len;
	size_t pos;           /* bytes consumed by the machine */
	uint8_t cfg;
	uint8_t cpda;
	uint32_t maxh2c;
	struct fz_rng rng;
	struct pdu_expect x;
	unsigned int pdus;
};

static bool in_range(const void *p, size_t n, const void *base, size_t size)
{
	const uint8_t *a = p, *b = base;

	return a >= b && n <= size && (size_t)(a - b) <= size - n;
}

/* A destination for @r->x's data: up to four pieces, at an offset, with guard bytes. */
static void give_dest(struct rx_run *r)
{
	struct pdu_expect *x = &r->x;
	size_t slack = fz_rand(&r->rng) % 16, cut[MAX_DEST_IOV + 1];
	int pieces = (int)fz_rand_1(&r->rng, MAX_DEST_IOV);
	struct iovec shorter;
	int rc;

	x->dest_off = fz_rand(&r->rng) % 8;
	x->dest_size = x->dest_off + x->data_len + slack;
	x->dest = malloc(x->dest_size);
	FZ_CHECK(x->dest != NULL, "malloc");
	memset(x->dest, GUARD, x->dest_size);
	/* Cut points in increasing order: the pieces cover the whole buffer. */
	cut[0] = 0;
	for (int i = 1; i < pieces; i++) {
		size_t c = fz_rand(&r->rng) % (x->dest_size + 1);

		cut[i] = c < cut[i - 1] ? cut[i - 1] : c;
	}
	cut[pieces] = x->dest_size;
	for (int i = 0; i < pieces; i++) {
		x->iov[i].iov_base = x->dest + cut[i];
		x->iov[i].iov_len = cut[i + 1] - cut[i];
	}
	x->iovcnt = pieces;

	/* One byte short never fits. */
	shorter.iov_base = x->dest;
	shorter.iov_len = x->dest_off + x->data_len - 1;
	rc = nvmft_tcp_rx_set_data_dest(&r->rx, &shorter, 1, x->dest_off);
	FZ_CHECK(rc == -EINVAL, "a destination one byte short was taken: %d", rc);
	rc = nvmft_tcp_rx_set_data_dest(&r->rx, x->iov, x->iovcnt, x->dest_off);
	FZ_CHECK(rc == 0, "set_data_dest(%d pieces, %zu bytes, off %zu) for %u bytes: %d",
		 x->iovcnt, x->dest_size, x->dest_off, x->data_len, rc);
}

static void on_header(struct rx_run *r)
{
	const struct nvmft_tcp_ch *ch = nvmft_tcp_rx_hdr(&r->rx);
	uint8_t type = ch->type;
	uint32_t hdr_total = r->rx.hdr_total, plen = le32toh(ch->plen), dl = 0;
	size_t start;
	struct nvmft_tcp_err err = { 0 };
	union {
		uint64_t align;
		uint8_t b[NVMFT_TCP_RX_HDR_MAX];
	} copy;
	uint16_t fes;

	FZ_CHECK(!r->x.active, "HEADER while the data of the previous PDU was still expected");
	FZ_CHECK(hdr_total >= ch->hlen && hdr_total <= NVMFT_TCP_RX_HDR_MAX && r->pos >= hdr_total,
		 "header of %u bytes at stream offset %zu", hdr_total, r->pos);
	start = r->pos - hdr_total;
	FZ_CHECK(memcmp(nvmft_tcp_rx_hdr(&r->rx), r->s + start, hdr_total) == 0,
		 "the header held is not the header received");
	/* The validator agrees, on a copy, and with the same data length. */
	memcpy(copy.b, r->s + start, hdr_total);
	fes = nvmft_tcp_validate(r->role, &r->p, copy.b, &dl, &err);
	FZ_CHECK(fes == 0, "HEADER for a header the validator rejects (FES %u FEI %u)", fes,
		 err.fei);
	FZ_CHECK(dl == nvmft_tcp_rx_data_len(&r->rx), "data length %u, validator says %u",
		 nvmft_tcp_rx_data_len(&r->rx), dl);
	if (hdr_total > ch->hlen) {
		uint32_t dg = nvmft_tcp_digest(r->s + start, ch->hlen);

		FZ_CHECK(r->p.hdgst && memcmp(&dg, r->s + start + ch->hlen, 4) == 0,
			 "header digest accepted but wrong");
	}
	r->pdus++;
	if (dl == 0) {
		FZ_CHECK(r->pos - start == plen, "PDU without data: %zu bytes consumed, PLEN %u",
			 r->pos - start, plen);
		/* Nothing to land: a destination is refused. */
		FZ_CHECK(nvmft_tcp_rx_set_data_dest(&r->rx, NULL, 0, 0) == -EINVAL,
			 "destination taken for a PDU without data");
	} else {
		struct pdu_expect *x = &r->x;
		bool term = type == NVMFT_TCP_H2C_TERM || type == NVMFT_TCP_C2H_TERM;

		memset(x, 0, sizeof(*x));
		x->active = true;
		x->start = start;
		x->plen = plen;
		x->data_off = start + (term ? ch->hlen : ch->pdo);
		x->data_len = dl;
		x->ddgst = (ch->flags & NVMFT_TCP_F_DDGST) != 0;
		FZ_CHECK(x->data_off + dl + (x->ddgst ? 4u : 0u) == start + plen,
			 "data [%zu, +%u) and digest do not end at PLEN %u", x->data_off - start,
			 dl, plen);
		if (x->ddgst && start + plen <= r->len) {
			uint32_t dg = nvmft_tcp_digest(r->s + x->data_off, dl);

			x->ddgst_ok = memcmp(&dg, r->s + x->data_off + dl, 4) == 0;
		}
		if ((r->cfg & 0x40) || fz_rand(&r->rng) % 4 != 0)
			give_dest(r);
	}
	/* The owner's side of connection setup. */
	if (r->cfg & 0x80) {
		if (type == NVMFT_TCP_ICREQ && r->role == NVMFT_TCP_ROLE_CTRLR) {
			struct nvmft_tcp_ic_offer offer = {
				.digests = (uint8_t)(r->cfg >> 2 & 3),
				.cpda = r->cpda,
				.maxh2cdata = r->maxh2c,
			};
			struct nvmft_tcp_icresp resp;

			nvmft_tcp_icreq_accept(nvmft_tcp_rx_hdr(&r->rx), &offer, &r->p, &resp);
		} else if (type == NVMFT_TCP_ICRESP && r->role == NVMFT_TCP_ROLE_HOST) {
			nvmft_tcp_icresp_accept(nvmft_tcp_rx_hdr(&r->rx), &r->p);
		}
	}
}

static void on_data_end(struct rx_run *r, enum nvmft_tcp_rx_event ev)
{
	struct pdu_expect *x = &r->x;

	FZ_CHECK(x->active, "event %d without a PDU with data", ev);
	FZ_CHECK(r->pos == x->start + x->plen, "PDU ended after %zu bytes, PLEN %u",
		 r->pos - x->start, x->plen);
	if (x->ddgst)
		FZ_CHECK((ev == NVMFT_TCP_RX_PDU_DONE) == x->ddgst_ok,
			 "data digest %s but event %d", x->ddgst_ok ? "right" : "wrong", ev);
	else
		FZ_CHECK(ev == NVMFT_TCP_RX_PDU_DONE, "DDGST_ERROR without a data digest");
	if (x->dest != NULL) {
		FZ_CHECK(memcmp(x->dest + x->dest_off, r->s + x->data_off, x->data_len) == 0,
			 "data landed wrong");
		for (size_t i = 0; i < x->dest_off; i++)
			FZ_CHECK(x->dest[i] == GUARD, "write before the destination offset");
		for (size_t i = x->dest_off + x->data_len; i < x->dest_size; i++)
			FZ_CHECK(x->dest[i] == GUARD, "write past the data");
	}
	free(x->dest);
	memset(x, 0, sizeof(*x));
}

static void on_error(struct rx_run *r)
{
	const struct nvmft_tcp_err *err = nvmft_tcp_rx_err(&r->rx);
	struct iovec iov[2];
	size_t len = 0, used = 1;
	int cnt = -1;

	FZ_CHECK(err->fes >= NVMFT_TCP_FES_INVALID_HEADER_FIELD &&
		 err->fes <= NVMFT_TCP_FES_UNSUPPORTED_PARAMETER, "FES %u", err->fes);
	nvmft_tcp_rx_err_hdr(&r->rx, &len);
	FZ_CHECK(len <= NVMFT_TCP_RX_HDR_MAX, "offending header of %zu bytes", len);
	/* Sticky. */
	FZ_CHECK(nvmft_tcp_rx_feed(&r->rx, "x", 1, &used) == NVMFT_TCP_RX_ERROR && used == 0,
		 "feed after an error");
	FZ_CHECK(nvmft_tcp_rx_want(&r->rx, iov, 2, &cnt) == 0, "want after an error");
	FZ_CHECK(nvmft_tcp_rx_advance(&r->rx, 1) == NVMFT_TCP_RX_ERROR, "advance after an error");
}

/* The readv path: ask where bytes go, copy a piece of the stream there, advance. */
static enum nvmft_tcp_rx_event step_readv(struct rx_run *r, size_t chunk)
{
	struct iovec iov[8];
	int max = (int)fz_rand_1(&r->rng, 8), cnt = -1;
	size_t want = nvmft_tcp_rx_want(&r->rx, iov, max, &cnt), sum = 0, copied = 0;

	FZ_CHECK(cnt >= 1 && cnt <= max, "want gave %d entries for %d", cnt, max);
	FZ_CHECK(want > 0, "want asks for nothing on a live machine");
	for (int i = 0; i < cnt; i++) {
		bool inside = in_range(iov[i].iov_base, iov[i].iov_len, &r->rx, sizeof(r->rx)) ||
			      (r->x.dest != NULL &&
			       in_range(iov[i].iov_base, iov[i].iov_len, r->x.dest, r->x.dest_size));

		FZ_CHECK(inside, "want points outside the machine and the destination");
		sum += iov[i].iov_len;
	}
	FZ_CHECK(sum == want, "want: entries add up to %zu, returned %zu", sum, want);
	chunk = chunk < want ? chunk : want;
	for (int i = 0; i < cnt && copied < chunk; i++) {
		size_t m = iov[i].iov_len < chunk - copied ? iov[i].iov_len : chunk - copied;

		memcpy(iov[i].iov_base, r->s + r->pos + copied, m);
		copied += m;
	}
	r->pos += copied;
	return nvmft_tcp_rx_advance(&r->rx, copied);
}

static enum nvmft_tcp_rx_event step_feed(struct rx_run *r, size_t chunk)
{
	size_t used = SIZE_MAX;
	enum nvmft_tcp_rx_event ev = nvmft_tcp_rx_feed(&r->rx, r->s + r->pos, chunk, &used);

	FZ_CHECK(used <= chunk, "consumed %zu of %zu", used, chunk);
	FZ_CHECK(ev != NVMFT_TCP_RX_NEED_MORE || used == chunk,
		 "NEED_MORE with %zu of %zu bytes left", chunk - used, chunk);
	r->pos += used;
	return ev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunk_max[] = { 1, 3, 8, 24, 129, 1000, 70000 };
	struct rx_run *r = calloc(1, sizeof(*r));
	struct fz f;
	uint8_t *stream;
	size_t cmax;

	FZ_CHECK(r != NULL, "calloc");
	fz_init(&f, data, size);
	r->cfg = fz_u8(&f);
	r->role = r->cfg & 1 ? NVMFT_TCP_ROLE_HOST : NVMFT_TCP_ROLE_CTRLR;
	r->cpda = fz_u8(&f) & 31;
	r->p.hpda = fz_u8(&f) & 31;
	r->maxh2c = fz_u32(&f);
	r->p.icd_max = fz_u32(&f) % (65536 + 8193);
	fz_rng_seed(&r->rng, fz_u32(&f));
	cmax = chunk_max[fz_rand(&r->rng) % (sizeof(chunk_max) / sizeof(chunk_max[0]))];
	if (r->cfg & 2) {
		r->p.ic_done = true;
		r->p.hdgst = r->cfg & 4;
		r->p.ddgst = r->cfg & 8;
		r->p.cpda = r->cpda;
		r->p.maxh2cdata = r->maxh2c;
		r->p.maxr2t = 0;
	}
	r->len = fz_left(&f);
	stream = malloc(r->len ? r->len : 1);
	FZ_CHECK(stream != NULL, "malloc");
	fz_take(&f, stream, r->len);
	if (!(r->cfg & 0x10))
		fz_tcp_fix_digests(stream, r->len);
	r->s = stream;

	nvmft_tcp_rx_init(&r->rx, r->role, &r->p);
	while (r->pos < r->len) {
		size_t chunk = fz_rand_1(&r->rng, (uint32_t)cmax);
		enum nvmft_tcp_rx_event ev;

		if (chunk > r->len - r->pos)
			chunk = r->len - r->pos;
		ev = (r->cfg & 0x20) ? step_readv(r, chunk) : step_feed(r, chunk);
		if (ev == NVMFT_TCP_RX_ERROR) {
			on_error(r);
			break;
		}
		if (ev == NVMFT_TCP_RX_HEADER)
			on_header(r);
		else if (ev == NVMFT_TCP_RX_PDU_DONE || ev == NVMFT_TCP_RX_DDGST_ERROR)
			on_data_end(r, ev);
		else
			FZ_CHECK(ev == NVMFT_TCP_RX_NEED_MORE, "unknown event %d", ev);
	}
	free(r->x.dest);
	free(stream);
	free(r);
	return 0;
}
