/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One soak host: a thread that owns a controller (an admin queue with a
 * keep-alive timeout and SOAK_IOQ I/O queues), a region of one namespace,
 * and per block the record of what the block may hold (soak.h).
 *
 * Every block written carries its LBA, the write's sequence number and
 * the host's ID in a header, and a body derived from all three, so a read
 * tells the exact version apart from any other version, another block's
 * data, or garbage.
 *
 * The loop: submit a batch on every I/O queue (reads and writes of 1-32
 * blocks, in-capsule or through R2T, now and then FUA or Flush), sometimes
 * cut a connection in the middle of it (FIN, RST, half a PDU, or the admin
 * queue and with it the controller), sometimes withhold keep-alives until
 * the target expires the controller, wait for what can complete, reconnect
 * what is gone, and answer the main thread's barriers and Flush requests.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "soak.h"
#include "tcp_host.h"

#define BLK_MAGIC 0x31424b4f534e564eull /* "NVSOKB1" */
#define HDR_LEN 32
#define CONNECT_WAIT_MS 30000
#define IO_QUEUE_ENTRIES (2 * SOAK_QD)
#define MAX_QID 64
#define IPO_QID 2 /* offsetof(struct nvmft_connect_cmd, qid) */
#define ST_CONNECT_INVALID NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM)

enum op { OP_READ, OP_WRITE, OP_FLUSH };

struct blk {
	uint32_t acked;      /* last acknowledged write; 0: never written (zeroes) */
	uint32_t lost;       /* a write whose completion was lost; 0: none */
	uint32_t lost_epoch; /* drain epoch when it was lost */
	uint32_t durable;    /* newest write a Flush or FUA covered */
	bool partial;        /* the lost write was cut inside its PDU: it must not land */
	bool busy;           /* a command on it is in flight */
};

struct cmd {
	bool used;
	enum op op;
	int cid;
	uint64_t lba;        /* in the region */
	uint32_t nlb;
	uint32_t seq;
	bool fua;
	uint32_t epoch;      /* drain epoch at submission */
	uint8_t *buf;
};

struct conn {
	struct th *th;
	uint16_t qid;
	struct cmd cmds[SOAK_QD];
};

struct soak_host {
	struct soak_host_cfg cfg;
	struct soak_ctl *ctl;
	pthread_t thread;
	struct blk *blk;
	uint32_t *snap;          /* acked when the Flush in flight was sent */
	bool flush_busy;
	uint32_t seq;
	uint32_t rng;
	char hostnqn[NVMF_NQN_SIZE];
	struct conn admin;
	struct conn io[SOAK_IOQ];
	uint16_t cntlid;
	uint16_t next_qid;
	/* The controller may be going away: the admin queue was cut, keep-alives withheld, a restart. */
	bool admin_cut;
	unsigned int admin_teardowns;
	uint64_t next_cut_ms;
	uint64_t next_ka_ms;
	uint64_t next_pause_ms;
	bool paused;
	uint64_t paused_since;
	unsigned int paused_teardowns; /* a restart during the pause is not an expiry */
	unsigned int seen_barrier;
	unsigned int seen_flush;
	unsigned int seen_restarts;
	bool dead;               /* gave up after a failure */
	atomic_bool done;        /* the thread is about to return */
	struct soak_stats st;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t rnd(struct soak_host *h)
{
	uint32_t x = h->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	h->rng = x;
	return x;
}

/* Around @mean_ms, between half and one and a half of it. */
static uint64_t jitter(struct soak_host *h, int mean_ms)
{
	return (uint64_t)mean_ms / 2 + rnd(h) % ((uint32_t)mean_ms + 1);
}

static void fail(struct soak_host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct soak_host *h, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# soak host %d: %s\n", h->cfg.id, msg);
	if (!h->dead)
		atomic_fetch_add(&h->ctl->failed, 1);
	h->dead = true;
}

/* ---- Block contents -------------------------------------------------------------------------- */

static uint64_t body_seed(const struct soak_host *h, uint64_t lba, uint32_t seq)
{
	return (lba + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)seq << 24 | (uint64_t)h->cfg.id) ^
	       0x5deece66dull;
}

static void blk_fill(const struct soak_host *h, uint8_t *p, uint64_t lba, uint32_t seq)
{
	uint64_t x = body_seed(h, lba, seq);
	uint64_t hdr[4] = { htole64(BLK_MAGIC), htole64(lba),
			    htole64((uint64_t)(~seq) << 32 | seq), htole64((uint64_t)h->cfg.id) };

	memcpy(p, hdr, sizeof(hdr));
	for (uint32_t off = HDR_LEN; off < h->cfg.block_size; off += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + off, &x, 8);
	}
}

/* The sequence number a block holds (0: all zeroes), or -1 for anything that is not ours. */
static int64_t blk_decode(const struct soak_host *h, const uint8_t *p, uint64_t lba)
{
	uint64_t hdr[4], x;
	uint32_t seq;
	bool zero = true;

	for (uint32_t i = 0; i < h->cfg.block_size && zero; i++)
		zero = p[i] == 0;
	if (zero)
		return 0;
	memcpy(hdr, p, sizeof(hdr));
	seq = (uint32_t)le64toh(hdr[2]);
	if (le64toh(hdr[0]) != BLK_MAGIC || le64toh(hdr[1]) != lba ||
	    (uint32_t)(le64toh(hdr[2]) >> 32) != (uint32_t)~seq ||
	    le64toh(hdr[3]) != (uint64_t)h->cfg.id || seq == 0)
		return -1;
	x = body_seed(h, lba, seq);
	for (uint32_t off = HDR_LEN; off < h->cfg.block_size; off += 8) {
		uint64_t v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(&v, p + off, 8);
		if (v != x)
			return -1;
	}
	return seq;
}

/*
 * Check one block read back against its record.  A read sent after a drain
 * that finds the old version settles a lost write as never landed.
 */
static void blk_verify(struct soak_host *h, uint64_t lba, const uint8_t *p, uint32_t epoch)
{
	struct blk *b = &h->blk[lba];
	uint64_t abs = h->cfg.base + lba;
	int64_t found = blk_decode(h, p, abs);

	h->st.blocks_verified++;
	if (found >= 0 && b->lost != 0 && (uint32_t)found == b->lost) {
		if (b->partial) {
			h->st.violations++;
			fail(h, "LBA %llu: a write cut inside its PDU (seq %u) landed",
			     (unsigned long long)abs, b->lost);
		}
		h->st.lost_landed++;
		b->acked = b->lost;
		b->lost = 0;
		return;
	}
	if (found >= 0 && (uint32_t)found == b->acked) {
		if (b->lost != 0 && b->lost_epoch < epoch) {
			h->st.lost_dropped++;
			b->lost = 0;
		}
		return;
	}
	h->st.violations++;
	if (found < 0)
		fail(h, "LBA %llu: garbage (acknowledged seq %u, lost %u, durable %u; "
		     "starts %02x%02x%02x%02x)", (unsigned long long)abs, b->acked, b->lost,
		     b->durable, p[0], p[1], p[2], p[3]);
	else
		fail(h, "LBA %llu: seq %lld, but acknowledged %u (lost %u, durable %u)",
		     (unsigned long long)abs, (long long)found, b->acked, b->lost, b->durable);
}

/* ---- Connections ----------------------------------------------------------------------------- */

static bool conn_up(const struct conn *q)
{
	return q->th != NULL;
}

static void blk_range_busy(struct soak_host *h, uint64_t lba, uint32_t nlb, bool busy)
{
	for (uint32_t i = 0; i < nlb; i++)
		h->blk[lba + i].busy = busy;
}

/* Its completion never came: the write may or may not have landed. */
static void write_lost(struct soak_host *h, uint64_t lba, uint32_t nlb, uint32_t seq, bool partial)
{
	uint32_t epoch = atomic_load(&h->ctl->drain_epoch);

	h->st.lost_writes++;
	h->st.lost_blocks += nlb;
	for (uint32_t i = 0; i < nlb; i++) {
		struct blk *b = &h->blk[lba + i];

		b->lost = seq;
		b->lost_epoch = epoch;
		b->partial = partial;
		b->busy = false;
	}
}

static void cmd_finish(struct soak_host *h, struct cmd *c, int st);

/* The connection is gone: complete what did complete, the rest is lost. */
static void conn_drop(struct soak_host *h, struct conn *q, bool reset)
{
	if (q->th == NULL)
		return;
	for (int i = 0; i < SOAK_QD; i++) {
		struct cmd *c = &q->cmds[i];

		if (!c->used)
			continue;
		if (th_done(q->th, c->cid)) {
			cmd_finish(h, c, th_wait(q->th, c->cid, NULL));
			continue;
		}
		c->used = false;
		if (c->op == OP_WRITE)
			write_lost(h, c->lba, c->nlb, c->seq, false);
		else if (c->op == OP_READ)
			blk_range_busy(h, c->lba, c->nlb, false);
		else
			h->flush_busy = false;
	}
	th_close(q->th, reset);
	th_free(q->th);
	q->th = NULL;
}

static void drop_all(struct soak_host *h, bool reset)
{
	for (int i = 0; i < SOAK_IOQ; i++)
		conn_drop(h, &h->io[i], reset);
	conn_drop(h, &h->admin, reset);
}

/* A TCP connection and ICReq, retried while the target is away (a restart). */
static int conn_open(struct soak_host *h, struct th **ret, uint32_t maxr2t)
{
	struct th_cfg cfg = { .timeout_ms = 10000, .hostnqn = h->hostnqn, .subnqn = h->cfg.subnqn };
	uint64_t end = now_ms() + CONNECT_WAIT_MS;
	char port[16];

	for (;;) {
		struct th *t = NULL;
		int rc;

		snprintf(port, sizeof(port), "%d", atomic_load(&h->ctl->port));
		rc = th_connect("127.0.0.1", port, &cfg, &t);
		if (rc == 0) {
			/* Any digests; they must not change a single byte. */
			rc = th_icreq(t, 0, (uint8_t)(rnd(h) % 4), maxr2t);
			if (rc == 0) {
				*ret = t;
				return 0;
			}
			th_free(t);
		}
		h->st.connect_retries++;
		if (now_ms() > end || atomic_load(&h->ctl->stop)) {
			fail(h, "cannot connect to port %s: %d", port, rc);
			return -1;
		}
		usleep(5000);
	}
}

static int admin_connect(struct soak_host *h)
{
	struct th_connect_args a = { .qid = 0, .sqsize = 31, .kato = SOAK_KATO_MS,
				     .cntlid = NVMFT_CNTLID_DYNAMIC };
	uint64_t end = now_ms() + CONNECT_WAIT_MS;

	for (;;) {
		struct nvmft_cpl cpl = { 0 };
		struct th *t;
		int st;

		if (conn_open(h, &t, 0) < 0)
			return -1;
		st = th_connect_raw(t, &a, &cpl);
		if (st == 0)
			st = th_enable(t);
		if (st == 0) {
			h->admin.th = t;
			h->admin.qid = 0;
			h->cntlid = th_cntlid(t);
			h->next_ka_ms = now_ms() + SOAK_KATO_MS / 3;
			h->admin_cut = false;
			h->admin_teardowns = atomic_load(&h->ctl->teardowns);
			return 0;
		}
		th_free(t);
		h->st.connect_retries++;
		/* Closed under us: a restart in progress. */
		if (st > 0 || now_ms() > end) {
			fail(h, "admin queue: Connect/enable failed: status 0x%x (IATTR %u IPO %u)", st,
			     cpl.invalid.iattr, le16toh(cpl.invalid.ipo));
			return -1;
		}
		usleep(5000);
	}
}

/* 0, 1: the controller is gone (start over), -1: failure. */
static int io_connect(struct soak_host *h, struct conn *q)
{
	for (int tries = 0; tries < MAX_QID; tries++) {
		struct th_connect_args a = { .sqsize = IO_QUEUE_ENTRIES - 1, .cntlid = h->cntlid };
		struct nvmft_cpl cpl;
		bool in_use = false;
		struct th *t;
		int st;

		a.qid = h->next_qid;
		h->next_qid = (uint16_t)(h->next_qid % MAX_QID + 1);
		for (int i = 0; i < SOAK_IOQ; i++)
			in_use = in_use || (conn_up(&h->io[i]) && h->io[i].qid == a.qid);
		if (in_use)
			continue;
		if (conn_open(h, &t, rnd(h) % 4) < 0)
			return -1;
		st = th_connect_raw(t, &a, &cpl);
		if (st == 0) {
			q->th = t;
			q->qid = a.qid;
			return 0;
		}
		th_free(t);
		/* A queue of the same ID still draining in the target: take another. */
		if (st == ST_CONNECT_INVALID && cpl.invalid.iattr == NVMFT_CONNECT_IATTR_CMD &&
		    le16toh(cpl.invalid.ipo) == IPO_QID) {
			h->st.connect_retries++;
			continue;
		}
		/* The controller went (keep-alive, restart) while we connected. */
		return 1;
	}
	fail(h, "no free queue ID");
	return -1;
}

/* Make every connection whole again.  0 or -1. */
static int reconnect(struct soak_host *h)
{
	for (int round = 0; round < 20; round++) {
		bool again = false;

		if (!conn_up(&h->admin)) {
			drop_all(h, rnd(h) % 2);
			if (admin_connect(h) < 0)
				return -1;
			h->st.reconnects++;
		}
		for (int i = 0; i < SOAK_IOQ && !again; i++) {
			int rc;

			if (conn_up(&h->io[i]))
				continue;
			rc = io_connect(h, &h->io[i]);
			if (rc < 0)
				return -1;
			if (rc > 0) {
				conn_drop(h, &h->admin, false);
				again = true;
			} else {
				h->st.reconnects++;
			}
		}
		if (!again)
			return 0;
	}
	fail(h, "could not rebuild the controller");
	return -1;
}

/* ---- Commands -------------------------------------------------------------------------------- */

static bool ctrlr_going(const struct soak_host *h)
{
	return h->admin_cut || h->paused ||
	       atomic_load(&h->ctl->teardowns) != h->admin_teardowns;
}

static void cmd_finish(struct soak_host *h, struct cmd *c, int st)
{
	c->used = false;
	if (c->op == OP_FLUSH) {
		h->flush_busy = false;
		if (st == 0) {
			for (uint32_t i = 0; i < h->cfg.nblocks; i++)
				if (h->snap[i] > h->blk[i].durable)
					h->blk[i].durable = h->snap[i];
			return;
		}
	} else if (st == 0 && c->op == OP_WRITE) {
		for (uint32_t i = 0; i < c->nlb; i++) {
			struct blk *b = &h->blk[c->lba + i];

			b->acked = c->seq;
			b->busy = false;
			if (c->fua)
				b->durable = c->seq;
		}
		h->st.blocks_written += c->nlb;
		return;
	} else if (st == 0) {
		for (uint32_t i = 0; i < c->nlb; i++) {
			blk_verify(h, c->lba + i, c->buf + (size_t)i * h->cfg.block_size, c->epoch);
			h->blk[c->lba + i].busy = false;
		}
		return;
	}
	if (c->op == OP_WRITE)
		write_lost(h, c->lba, c->nlb, c->seq, false);
	else if (c->op == OP_READ)
		blk_range_busy(h, c->lba, c->nlb, false);
	if (st > 0 && st == NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR) && ctrlr_going(h)) {
		/* Its controller is being deleted and the queue is not closed yet. */
		h->st.rejected_dying++;
	} else if (st > 0) {
		/* No command here has a reason to fail. */
		h->st.errors++;
		fail(h, "%s LBA %llu+%u: status 0x%03x",
		     c->op == OP_WRITE ? "write" : c->op == OP_READ ? "read" : "flush",
		     (unsigned long long)(h->cfg.base + c->lba), c->nlb, st);
	}
}

/* A range nobody is using and that has no unsettled lost write; false if none was found. */
static bool pick_range(struct soak_host *h, uint32_t max_nlb, uint64_t *lba, uint32_t *nlb)
{
	for (int tries = 0; tries < 8; tries++) {
		/* Small ones half of the time. */
		uint32_t n = 1 + rnd(h) % (rnd(h) % 2 && max_nlb > 4 ? 4 : max_nlb);
		uint64_t l = rnd(h) % (h->cfg.nblocks - n + 1);
		bool ok = true;

		for (uint32_t i = 0; i < n && ok; i++)
			ok = !h->blk[l + i].busy && h->blk[l + i].lost == 0;
		if (ok) {
			*lba = l;
			*nlb = n;
			return true;
		}
	}
	return false;
}

static struct cmd *free_slot(struct conn *q)
{
	for (int i = 0; i < SOAK_QD; i++)
		if (!q->cmds[i].used)
			return &q->cmds[i];
	return NULL;
}

/* Submit @op on @q; the range is chosen unless @lba is given.  false if nothing was sent. */
static bool cmd_submit(struct soak_host *h, struct conn *q, enum op op, int64_t lba_in,
		       uint32_t nlb_in)
{
	struct cmd *c = free_slot(q);
	struct nvmft_cmd nc;
	struct th_io io = { 0 };
	uint32_t bs = h->cfg.block_size;
	uint64_t lba = 0;
	uint32_t nlb = 0;

	if (c == NULL)
		return false;
	if (op == OP_FLUSH) {
		if (h->flush_busy)
			return false;
		memset(&nc, 0, sizeof(nc));
		nc.opcode = nvme_cmd_flush;
		nc.nsid = htole32(1);
		for (uint32_t i = 0; i < h->cfg.nblocks; i++)
			h->snap[i] = h->blk[i].acked;
		h->flush_busy = true;
	} else {
		if (lba_in >= 0) {
			lba = (uint64_t)lba_in;
			nlb = nlb_in;
		} else if (!pick_range(h, SOAK_MAX_NLB, &lba, &nlb)) {
			return false;
		}
		nc = th_rw_cmd(op == OP_WRITE, 1, h->cfg.base + lba, nlb);
		c->fua = false;
		if (op == OP_WRITE) {
			c->seq = ++h->seq;
			for (uint32_t i = 0; i < nlb; i++)
				blk_fill(h, c->buf + (size_t)i * bs, h->cfg.base + lba + i, c->seq);
			io.wdata = c->buf;
			io.wlen = nlb * bs;
			if (io.wlen <= 4096 && rnd(h) % 2)
				io.flags = TH_IO_INCAPSULE;
			if (h->cfg.fua && rnd(h) % 8 == 0) {
				nc.cdw12 |= htole32(1u << 30);
				c->fua = true;
			}
		} else {
			io.rdata = c->buf;
			io.rlen = nlb * bs;
			memset(c->buf, 0xa5, io.rlen);
		}
		blk_range_busy(h, lba, nlb, true);
	}
	c->op = op;
	c->lba = lba;
	c->nlb = nlb;
	c->epoch = atomic_load(&h->ctl->drain_epoch);
	c->used = true;
	c->cid = th_submit(q->th, &nc, &io);
	if (c->cid >= 0) {
		if (op == OP_WRITE)
			h->st.writes++;
		else if (op == OP_READ)
			h->st.reads++;
		else
			h->st.flushes++;
		h->st.fua_writes += c->fua;
		return true;
	}
	/* Part of it may have gone out. */
	c->used = false;
	if (op == OP_WRITE)
		write_lost(h, lba, nlb, c->seq, false);
	else if (op == OP_READ)
		blk_range_busy(h, lba, nlb, false);
	else
		h->flush_busy = false;
	conn_drop(h, q, false);
	h->st.closed_by_target++;
	return false;
}

/* Wait for everything in flight on @q.  false when the connection went away. */
static bool conn_wait(struct soak_host *h, struct conn *q)
{
	for (int i = 0; i < SOAK_QD && conn_up(q); i++) {
		struct cmd *c = &q->cmds[i];
		int st;

		if (!c->used)
			continue;
		st = th_wait(q->th, c->cid, NULL);
		if (st >= 0) {
			cmd_finish(h, c, st);
			continue;
		}
		if (st == TH_TIMEOUT) {
			h->st.errors++;
			fail(h, "qid %u: no answer in 10 s (%s)", q->qid, th_why(q->th));
		}
		conn_drop(h, q, false);
		h->st.closed_by_target++;
		return false;
	}
	return conn_up(q);
}

/* ---- Cuts ------------------------------------------------------------------------------------ */

/* Half of an in-capsule write's PDU, then the connection goes. */
static void cut_inside_pdu(struct soak_host *h, struct conn *q)
{
	uint32_t bs = h->cfg.block_size, max = 4096 / bs;
	uint8_t *buf;
	struct nvmft_cmd nc;
	uint64_t lba;
	uint32_t nlb, seq;
	uint8_t data[4096];
	size_t n;

	if (max == 0 || !pick_range(h, max, &lba, &nlb))
		return;
	buf = malloc(TH_PDU_SIZE(4096));
	if (buf == NULL)
		return;
	seq = ++h->seq;
	for (uint32_t i = 0; i < nlb; i++)
		blk_fill(h, data + (size_t)i * bs, h->cfg.base + lba + i, seq);
	nc = th_rw_cmd(true, 1, h->cfg.base + lba, nlb);
	nc.cid = htole16(0xfffe);
	nc.dptr.sgl1.unkeyed.length = htole32(nlb * bs);
	nc.dptr.sgl1.unkeyed.type = NVMFT_SGL_TYPE_DATA_BLOCK << 4 | NVMFT_SGL_SUBTYPE_OFFSET;
	n = th_build_cmd(q->th, buf, &nc, data, nlb * bs, 0);
	/* Anything short of the whole PDU; it must never run. */
	th_send(q->th, buf, 1 + rnd(h) % (n - 1));
	write_lost(h, lba, nlb, seq, true);
	free(buf);
}

/* Cut one connection while commands are in flight on it. */
static void cut(struct soak_host *h)
{
	int which = (int)(rnd(h) % (SOAK_IOQ + 1)); /* SOAK_IOQ: the admin queue */
	struct conn *q = which == SOAK_IOQ ? &h->admin : &h->io[which];
	uint32_t kind = rnd(h) % 3;
	struct th_pdu p;

	if (!conn_up(q))
		return;
	/* Let a few PDUs through first, so the cut lands anywhere in a command. */
	for (uint32_t k = rnd(h) % 4; k > 0 && th_outstanding(q->th) > 0; k--)
		if (th_process(q->th, &p) < 0)
			break;
	if (which == SOAK_IOQ) {
		h->st.cut_admin++;
		h->admin_cut = true;
		kind = kind == 2 ? 0 : kind;
	} else if (kind == 2) {
		h->st.cut_partial++;
		cut_inside_pdu(h, q);
	}
	if (kind == 1)
		h->st.cut_rst++;
	else if (kind == 0)
		h->st.cut_fin++;
	conn_drop(h, q, kind == 1 || (kind == 2 && rnd(h) % 2));
}

/* ---- Phases of the loop ---------------------------------------------------------------------- */

static void batch(struct soak_host *h)
{
	uint64_t now = now_ms();

	for (int i = 0; i < SOAK_IOQ; i++) {
		struct conn *q = &h->io[i];
		uint32_t n = 1 + rnd(h) % SOAK_QD;

		for (uint32_t k = 0; k < n && conn_up(q); k++) {
			uint32_t r = rnd(h) % 100;
			enum op op = r < 55 ? OP_WRITE : OP_READ;

			if (h->cfg.fua && r == 99)
				op = OP_FLUSH;
			cmd_submit(h, q, op, -1, 0);
		}
	}
	if (now >= h->next_cut_ms && !h->paused) {
		cut(h);
		h->next_cut_ms = now + jitter(h, h->cfg.cut_every_ms);
	}
	for (int i = 0; i < SOAK_IOQ; i++)
		if (conn_up(&h->io[i]))
			conn_wait(h, &h->io[i]);
}

/*
 * Before reconnecting: while keep-alives are withheld, queues the target
 * closed mean it expired the controller (unless the target restarted).
 */
static void ka_check_expired(struct soak_host *h)
{
	uint64_t now = now_ms();
	bool lost = !conn_up(&h->admin);

	if (!h->paused)
		return;
	for (int i = 0; i < SOAK_IOQ; i++)
		lost = lost || !conn_up(&h->io[i]);
	if (lost) {
		if (atomic_load(&h->ctl->teardowns) == h->paused_teardowns)
			h->st.ka_expired++;
		h->paused = false;
		conn_drop(h, &h->admin, false);
	} else if (now - h->paused_since > 4 * SOAK_KATO_MS + 10000) {
		h->st.errors++;
		fail(h, "controller %u not expired %llu ms after the last Keep Alive", h->cntlid,
		     (unsigned long long)(now - h->paused_since));
	}
}

/* Keep-alives, or a pause that lets the target expire the controller. */
static void keep_alive(struct soak_host *h)
{
	uint64_t now = now_ms();

	if (h->paused || !conn_up(&h->admin))
		return;
	if (h->cfg.ka_pause_every_ms > 0 && now >= h->next_pause_ms) {
		h->paused = true;
		h->paused_since = now;
		h->paused_teardowns = atomic_load(&h->ctl->teardowns);
		h->st.ka_pauses++;
		h->next_pause_ms = now + jitter(h, h->cfg.ka_pause_every_ms);
		return;
	}
	if (now >= h->next_ka_ms) {
		if (th_keep_alive(h->admin.th) != 0) {
			conn_drop(h, &h->admin, false);
			h->st.closed_by_target++;
		}
		h->next_ka_ms = now + SOAK_KATO_MS / 3;
	}
}

/* Read @lba..@lba+@nlb on an I/O queue (reconnecting as needed) and check it.  0 or -1. */
static int read_check(struct soak_host *h, uint64_t lba, uint32_t nlb)
{
	for (int tries = 0; tries < 10; tries++) {
		struct conn *q = &h->io[0];

		if (reconnect(h) < 0)
			return -1;
		if (cmd_submit(h, q, OP_READ, (int64_t)lba, nlb) && conn_wait(h, q))
			return 0;
	}
	fail(h, "cannot read LBA %llu+%u", (unsigned long long)(h->cfg.base + lba), nlb);
	return -1;
}

/* Settle lost writes the target can no longer be running. */
static void settle(struct soak_host *h)
{
	uint32_t epoch = atomic_load(&h->ctl->drain_epoch);

	for (uint32_t i = 0; i < h->cfg.nblocks && !h->dead; i++) {
		struct blk *b = &h->blk[i];

		if (b->lost != 0 && b->lost_epoch < epoch) {
			/* Busy and lost are exclusive: the read may take it. */
			read_check(h, i, 1);
		}
	}
}

/* Read back the whole region. */
static void verify_all(struct soak_host *h, bool after_restart)
{
	uint64_t before = h->st.violations;

	h->st.full_verifies++;
	for (uint32_t i = 0; i < h->cfg.nblocks && !h->dead; i += SOAK_MAX_NLB) {
		uint32_t n = h->cfg.nblocks - i < SOAK_MAX_NLB ? h->cfg.nblocks - i : SOAK_MAX_NLB;
		bool skip = false;

		for (uint32_t k = 0; k < n; k++)
			skip = skip || h->blk[i + k].lost != 0;
		if (skip) {
			for (uint32_t k = 0; k < n && !h->dead; k++)
				if (h->blk[i + k].lost == 0)
					read_check(h, i + k, 1);
			continue;
		}
		if (read_check(h, i, n) < 0)
			return;
	}
	if (after_restart && h->st.violations == before)
		for (uint32_t i = 0; i < h->cfg.nblocks; i++)
			h->st.durable_checked += h->blk[i].durable != 0 &&
						 h->blk[i].durable == h->blk[i].acked;
}

/* The main thread's Flush request: everything acknowledged so far must outlive the target. */
static void flush_point(struct soak_host *h, unsigned int gen)
{
	for (int tries = 0; tries < 10 && !h->dead; tries++) {
		struct conn *q = &h->io[0];

		if (reconnect(h) < 0)
			return;
		if (cmd_submit(h, q, OP_FLUSH, -1, 0) && conn_wait(h, q) && !h->flush_busy)
			break;
	}
	h->seen_flush = gen;
	atomic_fetch_add(&h->ctl->flushed, 1);
}

/* Close everything, wait for the drain, then settle.  Returns true on the last barrier. */
static bool barrier(struct soak_host *h, unsigned int gen)
{
	struct soak_ctl *ctl = h->ctl;
	bool final;

	h->st.barriers++;
	drop_all(h, rnd(h) % 2);
	h->paused = false;
	atomic_fetch_add(&ctl->arrived, 1);
	while (atomic_load(&ctl->released) != gen)
		usleep(1000);
	h->seen_barrier = gen;
	final = atomic_load(&ctl->final);
	if (reconnect(h) < 0)
		return true;
	settle(h);
	if (final)
		verify_all(h, h->seen_restarts != atomic_load(&ctl->restarts));
	return final;
}

static void *host_main(void *arg)
{
	struct soak_host *h = arg;
	struct soak_ctl *ctl = h->ctl;
	uint64_t now = now_ms();

	h->next_cut_ms = now + jitter(h, h->cfg.cut_every_ms);
	/* The first pause early, so that every run sees controllers expire. */
	h->next_pause_ms = now + 500 + rnd(h) % 1000;
	while (!h->dead) {
		unsigned int gen = atomic_load(&ctl->barrier);
		unsigned int restarts;

		if (gen != h->seen_barrier) {
			if (barrier(h, gen))
				break;
			continue;
		}
		ka_check_expired(h);
		if (reconnect(h) < 0)
			break;
		restarts = atomic_load(&ctl->restarts);
		if (restarts != h->seen_restarts) {
			/* A new target on the same files: everything must be there. */
			h->seen_restarts = restarts;
			h->paused = false;
			settle(h);
			verify_all(h, true);
			continue;
		}
		gen = atomic_load(&ctl->flush_req);
		if (gen != h->seen_flush) {
			flush_point(h, gen);
			continue;
		}
		keep_alive(h);
		if (!conn_up(&h->admin))
			continue;
		batch(h);
	}
	drop_all(h, false);
	if (h->dead) {
		/* Do not hold the others at a barrier. */
		while (!atomic_load(&ctl->stop)) {
			unsigned int gen = atomic_load(&ctl->barrier);

			if (gen != h->seen_barrier) {
				atomic_fetch_add(&ctl->arrived, 1);
				h->seen_barrier = gen;
			}
			if (atomic_load(&ctl->flush_req) != h->seen_flush) {
				h->seen_flush = atomic_load(&ctl->flush_req);
				atomic_fetch_add(&ctl->flushed, 1);
			}
			usleep(1000);
		}
	}
	atomic_store(&h->done, true);
	return NULL;
}

bool soak_host_done(const struct soak_host *h)
{
	return atomic_load(&h->done);
}

int soak_host_start(const struct soak_host_cfg *cfg, struct soak_host **ret)
{
	struct soak_host *h = calloc(1, sizeof(*h));
	size_t bufsz = (size_t)SOAK_MAX_NLB * cfg->block_size;

	if (h == NULL)
		return -ENOMEM;
	h->cfg = *cfg;
	h->ctl = cfg->ctl;
	h->rng = cfg->seed ? cfg->seed : 1;
	h->next_qid = 1;
	h->blk = calloc(cfg->nblocks, sizeof(*h->blk));
	h->snap = calloc(cfg->nblocks, sizeof(*h->snap));
	if (h->blk == NULL || h->snap == NULL)
		goto nomem;
	for (int q = 0; q < SOAK_IOQ; q++)
		for (int i = 0; i < SOAK_QD; i++)
			if ((h->io[q].cmds[i].buf = malloc(bufsz)) == NULL)
				goto nomem;
	snprintf(h->hostnqn, sizeof(h->hostnqn),
		 "nqn.2014-08.org.nvmexpress:uuid:50a4b0a7-0000-4000-8000-%012x", cfg->id);
	if (pthread_create(&h->thread, NULL, host_main, h) != 0)
		goto nomem;
	*ret = h;
	return 0;
nomem:
	for (int q = 0; q < SOAK_IOQ; q++)
		for (int i = 0; i < SOAK_QD; i++)
			free(h->io[q].cmds[i].buf);
	free(h->blk);
	free(h->snap);
	free(h);
	return -ENOMEM;
}

void soak_host_join(struct soak_host *h, struct soak_stats *sum)
{
	uint64_t *d = (uint64_t *)sum;
	const uint64_t *s = (const uint64_t *)&h->st;

	pthread_join(h->thread, NULL);
	for (size_t i = 0; i < sizeof(*sum) / sizeof(uint64_t); i++)
		d[i] += s[i];
	for (int q = 0; q < SOAK_IOQ; q++)
		for (int i = 0; i < SOAK_QD; i++)
			free(h->io[q].cmds[i].buf);
	free(h->blk);
	free(h->snap);
	free(h);
}
