/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVM I/O commands on two I/O queues of one controller (loop transport,
 * two poll groups, so the queues and the admin queue are spread over
 * both): Read, Write, Flush, Write Zeroes, Dataset Management, Compare,
 * fused Compare and Write, and raw opcodes, on namespace 1 (RAM) and
 * namespace 2 (the test backend, told by the input to fail commands, to
 * complete inline or from its poll, and which capabilities to claim).
 * Commands run one at a time or in batches of up to 32 in flight.
 *
 * Checks:
 *  - every command completes (a fused first half waits for the next
 *    command of its queue, as the specification says; only that one may
 *    be outstanding, and only until the queue's next command);
 *  - namespace 1 keeps a shadow copy: a read or compare run on its own
 *    returns exactly what completed writes left there (blocks touched by
 *    failed or overlapping batched writes, or deallocated, are "unknown"),
 *    and a compare fails exactly when the data differs.
 *
 * Input: byte 0 test-backend capabilities, byte 1 (bit 0: complete from
 * poll; bit 1: each queue pair gets the transport's default share of the
 * buffer pool, else the whole pool), then records, at most 64, each: byte kind (bits 0-2: read,
 * write, flush, write zeroes, DSM, compare, fused pair, raw opcode; bit 3:
 * namespace 2; bit 4: raw NSID; bit 5: keep the LBA range inside the
 * namespace; bit 6: batch; bit 7: second I/O queue), byte mode (bits 0-1:
 * length as implied, raw, implied +/- a little; bit 2: data from the
 * input, else a pattern; bit 3: keep raw FUSE/CDW12 bits; bit 4: FUA;
 * bit 5: script a backend failure first; bit 6: fused halves disagree;
 * bit 7: Write Zeroes deallocates), the 64-byte SQE, u16 raw length, for a
 * failure script 3 bytes (type, errno, count), then data when from input.
 * A script byte with bit 7 set is a management step instead, racing the
 * I/O (bits 4-6: hold the test backend's completions, pause the subsystem,
 * let go of both, remove namespace 2, add it back); commands issued while
 * something holds them back go out as a batch, and everything is let go
 * before waiting for them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "test_backend.h"

#define MAX_RECORDS 64
#define MAX_BATCH 32
#define MAX_LEN 65536u
#define NR_IOQ 2

static const int errs[] = { -EIO, -ENOSPC, -EILSEQ, -ENOMEM, -EAGAIN, -EINVAL, -ERANGE,
			    -EOPNOTSUPP, -ETIMEDOUT, -ENODEV, -EROFS, -EBUSY };

struct inflight {
	struct lt_qpair *q;
	int tag;
	struct nvmft_cmd cmd;
	uint8_t *buf;
	uint32_t len;
	bool fused_first;
	bool alone;      /* nothing else was in flight: the shadow checks apply */
};

/* Management operations that race the I/O; each runs to its callback in the background. */
struct mgmt {
	struct nvmft_ns *ns2;   /* namespace 2 while attached */
	int pause_st;           /* 1 while a pause runs, then its status */
	bool pausing;
	bool paused;
	int remove_st;          /* 1 while a removal of namespace 2 runs */
	bool removing;
	bool held;              /* the test backend holds its completions */
};

struct io_run {
	struct fz_env env;
	struct mgmt m;
	struct lt_qpair *aq;
	struct lt_qpair *ioq[NR_IOQ];
	struct inflight fl[MAX_RECORDS * 2];
	int nfl;
	struct fz_rng rng;
	uint8_t *shadow;    /* namespace 1 as completed writes left it */
	uint8_t *known;     /* per block: the shadow is exact */
};

static uint64_t cmd_slba(const struct nvmft_cmd *c)
{
	return (uint64_t)le32toh(c->cdw11) << 32 | le32toh(c->cdw10);
}

static uint32_t cmd_nlb(const struct nvmft_cmd *c)
{
	return (le32toh(c->cdw12) & 0xffff) + 1;
}

static bool range_ok(uint64_t slba, uint64_t nlb)
{
	return slba < FZ_BLOCKS && nlb <= FZ_BLOCKS - slba;
}

static void mark_unknown(struct io_run *r, uint64_t slba, uint64_t nlb)
{
	for (uint64_t b = slba; b < slba + nlb && b < FZ_BLOCKS; b++)
		r->known[b] = 0;
}

/* The blocks a successful DSM deallocated become unknown (reads may return anything). */
static void dsm_unknown(struct io_run *r, const struct nvmft_cmd *c, const uint8_t *buf,
			uint32_t len)
{
	uint32_t nr = (le32toh(c->cdw10) & 0xff) + 1;

	for (uint32_t i = 0; i < nr && (i + 1) * 16 <= len; i++) {
		uint32_t n;
		uint64_t s;

		memcpy(&n, buf + i * 16 + 4, 4);
		memcpy(&s, buf + i * 16 + 8, 8);
		n = le32toh(n);
		s = le64toh(s);
		if (s < FZ_BLOCKS)
			mark_unknown(r, s, n < FZ_BLOCKS ? n : FZ_BLOCKS);
	}
}

static bool is_ns1(const struct nvmft_cmd *c)
{
	return le32toh(c->nsid) == 1;
}

/* Before a write-like command goes out in a batch: nothing it touches is known any more. */
static void batch_write_begin(struct io_run *r, const struct nvmft_cmd *c)
{
	if (!is_ns1(c))
		return;
	switch (c->opcode) {
	case nvme_cmd_write:
	case nvme_cmd_write_zeroes:
		if (range_ok(cmd_slba(c), cmd_nlb(c)))
			mark_unknown(r, cmd_slba(c), cmd_nlb(c));
		break;
	case nvme_cmd_dsm:
		/* Ranges are in the data: handled at completion, and by the held map now. */
		memset(r->known, 0, FZ_BLOCKS);
		break;
	default:
		break;
	}
}

/* A command that ran alone completed: check it against the shadow, then update it. */
static void shadow_done(struct io_run *r, const struct nvmft_cmd *c, const uint8_t *buf,
			uint32_t len, const struct lt_cpl *res, bool batched)
{
	uint64_t slba = cmd_slba(c), nlb = cmd_nlb(c);
	bool ok = res->done && res->status == 0;

	if (!is_ns1(c) || !res->done)
		return;
	if (c->opcode == nvme_cmd_dsm) {
		dsm_unknown(r, c, buf, len);
		return;
	}
	if (!range_ok(slba, nlb))
		return;
	switch (c->opcode) {
	case nvme_cmd_write:
		if (ok && !batched && len == nlb * FZ_BLOCK) {
			memcpy(r->shadow + slba * FZ_BLOCK, buf, len);
			memset(r->known + slba, 1, nlb);
		} else {
			mark_unknown(r, slba, nlb);
		}
		break;
	case nvme_cmd_write_zeroes:
		if (ok && !batched) {
			memset(r->shadow + slba * FZ_BLOCK, 0, nlb * FZ_BLOCK);
			/* With DEAC the blocks are deallocated: zeroes are what this RAM reads back. */
			memset(r->known + slba, 1, nlb);
		} else {
			mark_unknown(r, slba, nlb);
		}
		break;
	case nvme_cmd_read:
		if (!ok || batched || len != nlb * FZ_BLOCK)
			break;
		for (uint64_t b = 0; b < nlb; b++)
			if (r->known[slba + b])
				FZ_CHECK(memcmp(buf + b * FZ_BLOCK, r->shadow + (slba + b) * FZ_BLOCK,
						FZ_BLOCK) == 0,
					 "read of block %llu returned other data than was written",
					 (unsigned long long)(slba + b));
		break;
	case nvme_cmd_compare: {
		bool all_known = true, equal = true;

		if (batched || len != nlb * FZ_BLOCK || (c->flags & 3))
			break;
		for (uint64_t b = 0; b < nlb; b++) {
			if (!r->known[slba + b]) {
				all_known = false;
				continue;
			}
			if (memcmp(buf + b * FZ_BLOCK, r->shadow + (slba + b) * FZ_BLOCK, FZ_BLOCK))
				equal = false;
		}
		if (ok)
			FZ_CHECK(equal, "compare succeeded on data that differs");
		else if (res->status == NVMFT_STATUS(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED) ||
			 res->status == NVMFT_STATUS_DNR(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED))
			FZ_CHECK(!all_known || !equal, "compare failed on equal data");
		break;
	}
	default:
		break;
	}
}

static void fill_data(struct io_run *r, struct fz *f, uint8_t mode, uint8_t *buf, uint32_t len)
{
	if (mode & 4) {
		fz_take(f, buf, len);
		return;
	}
	/* A pattern, or (now and then) what the shadow holds, so compares can match. */
	if (len % FZ_BLOCK == 0 && fz_rand(&r->rng) % 2) {
		uint64_t b = fz_rand(&r->rng) % FZ_BLOCKS;

		for (uint32_t o = 0; o < len; o += FZ_BLOCK, b = (b + 1) % FZ_BLOCKS)
			memcpy(buf + o, r->shadow + b * FZ_BLOCK, FZ_BLOCK);
		return;
	}
	/* Cheap but distinct: a random fill byte per block, and a random word at its start. */
	for (uint32_t o = 0; o < len; o += FZ_BLOCK) {
		uint32_t n = len - o < FZ_BLOCK ? len - o : FZ_BLOCK, w = fz_rand(&r->rng);

		memset(buf + o, (int)(w >> 24), n);
		memcpy(buf + o, &w, n < 4 ? n : 4);
	}
}

static uint32_t implied_len(const struct nvmft_cmd *c)
{
	switch (c->opcode) {
	case nvme_cmd_read:
	case nvme_cmd_write:
	case nvme_cmd_compare:
		return cmd_nlb(c) * FZ_BLOCK;
	case nvme_cmd_dsm:
		return ((le32toh(c->cdw10) & 0xff) + 1) * 16;
	default:
		return 0;
	}
}

static void mgmt_cb(void *arg, int status)
{
	*(int *)arg = status;
}

/* Poll until *@st is no longer 1; the callback must come (nothing is held any more). */
static void mgmt_wait(struct io_run *r, int *st, const char *what)
{
	for (int i = 0; i < 200000 && *st == 1; i++)
		lt_env_poll(&r->env.lt);
	FZ_CHECK(*st != 1, "hang: %s never completed", what);
}

/* Whatever holds commands back (held completions, a pause) lets go, so they can finish. */
static void mgmt_unblock(struct io_run *r)
{
	struct mgmt *m = &r->m;
	int st = 1, rc;

	if (m->held) {
		tb_hold(r->env.tb, false);
		tb_release(r->env.tb);
		m->held = false;
	}
	if (m->pausing) {
		mgmt_wait(r, &m->pause_st, "subsystem pause");
		FZ_CHECK(m->pause_st == 0, "pause completed with %d", m->pause_st);
		m->pausing = false;
		m->paused = true;
	}
	if (m->paused) {
		rc = nvmft_subsystem_resume(r->env.ss, mgmt_cb, &st);
		FZ_CHECK(rc == 0, "resume: %d", rc);
		mgmt_wait(r, &st, "subsystem resume");
		FZ_CHECK(st == 0, "resume completed with %d", st);
		m->paused = false;
	}
}

static bool mgmt_blocking(const struct io_run *r)
{
	return r->m.held || r->m.pausing || r->m.paused;
}

/* One management step: @op high nibble says which. */
static void mgmt_step(struct io_run *r, uint8_t op)
{
	struct mgmt *m = &r->m;
	int st = 1, rc;

	switch (op >> 4 & 7) {
	case 0:
		if (!m->held && !m->pausing && !m->paused) {
			m->held = true;
			tb_hold(r->env.tb, true);
		}
		break;
	case 1:
		if (!m->pausing && !m->paused) {
			m->pause_st = 1;
			rc = nvmft_subsystem_pause(r->env.ss, mgmt_cb, &m->pause_st);
			FZ_CHECK(rc == 0, "pause: %d", rc);
			m->pausing = true;
		}
		break;
	case 2:
		mgmt_unblock(r);
		break;
	case 3:
		if (m->ns2 != NULL) {
			m->remove_st = 1;
			nvmft_ns_remove(m->ns2, mgmt_cb, &m->remove_st);
			m->ns2 = NULL;
			m->removing = true;
		}
		break;
	case 4:
		if (m->ns2 == NULL) {
			struct nvmft_ns_opts no;

			if (m->removing) {
				mgmt_unblock(r);
				mgmt_wait(r, &m->remove_st, "namespace removal");
				FZ_CHECK(m->remove_st == 0, "removal completed with %d", m->remove_st);
				m->removing = false;
			}
			nvmft_ns_opts_init(&no, sizeof(no));
			no.nsid = 2;
			rc = nvmft_ns_add(r->env.ss, r->env.tb_be, &no, mgmt_cb, &st, &m->ns2);
			FZ_CHECK(rc == 0, "ns add: %d", rc);
			mgmt_wait(r, &st, "namespace add");
			FZ_CHECK(st == 0, "ns add completed with %d", st);
		}
		break;
	default:
		break;
	}
}

static void wait_one(struct io_run *r, struct inflight *x)
{
	struct lt_cpl res = lt_wait(x->q, x->tag);

	fz_check_completed(x->q, &res, &x->cmd);
	shadow_done(r, &x->cmd, x->buf, x->len, &res, !x->alone);
	free(x->buf);
	x->buf = NULL;
}

/*
 * Wait for everything in flight, except a fused first half that is the
 * last command of its queue: it waits for that queue's next command.
 */
static void drain(struct io_run *r)
{
	int keep = 0;

	mgmt_unblock(r);
	for (int i = 0; i < r->nfl; i++) {
		struct inflight *x = &r->fl[i];
		bool last = true;

		for (int j = i + 1; j < r->nfl; j++)
			if (r->fl[j].q == x->q)
				last = false;
		if (x->fused_first && last && !lt_qpair_is_dead(x->q)) {
			lt_env_settle(&r->env.lt);
			if (!lt_done(x->q, x->tag)) {
				r->fl[keep++] = *x;
				continue;
			}
		}
		wait_one(r, x);
	}
	r->nfl = keep;
}

static void submit(struct io_run *r, struct lt_qpair *q, const struct nvmft_cmd *cmd, uint8_t *buf,
		   uint32_t len, bool alone)
{
	struct inflight *x;

	if (r->nfl >= (int)(sizeof(r->fl) / sizeof(r->fl[0])) || lt_qpair_is_dead(q)) {
		free(buf);
		return;
	}
	x = &r->fl[r->nfl++];
	x->q = q;
	x->cmd = *cmd;
	x->buf = buf;
	x->len = len;
	x->fused_first = (cmd->flags & 3) == 1;
	x->alone = alone;
	if (!alone)
		batch_write_begin(r, cmd);
	x->tag = lt_submit(q, cmd, buf, len);
	FZ_CHECK(x->tag >= 0, "no slot");
	fz_trace("submit q%d tag %d: opcode %#x flags %#x nsid %u slba %llu nlb %u len %u%s",
		 q == r->ioq[0] ? 1 : 2, x->tag, cmd->opcode, cmd->flags, le32toh(cmd->nsid),
		 (unsigned long long)cmd_slba(cmd), cmd_nlb(cmd), len, alone ? " alone" : "");
}

static void record(struct io_run *r, struct fz *f)
{
	uint8_t kind = fz_u8(f), mode = fz_u8(f);
	struct nvmft_cmd cmd, second;
	struct lt_qpair *q = r->ioq[kind >> 7];
	uint16_t raw_len;
	uint32_t len, cdw12;
	uint8_t *buf;
	bool batched = kind & 0x40, pair = false;
	static const uint8_t ops[] = { nvme_cmd_read, nvme_cmd_write, nvme_cmd_flush,
				       nvme_cmd_write_zeroes, nvme_cmd_dsm, nvme_cmd_compare,
				       nvme_cmd_compare };

	fz_take(f, &cmd, sizeof(cmd));
	raw_len = fz_u16(f);
	if (mode & 0x20) {
		uint8_t t = fz_u8(f), e = fz_u8(f), n = fz_u8(f);

		if (t & 0x80)
			mgmt_step(r, t);
		else
			tb_fail_next(r->env.tb, (enum nvmft_io_type)(t % 7), errs[e % 12], n % 4);
	}
	/* Held back by a pause or the backend: such commands cannot be waited for one by one. */
	if (mgmt_blocking(r))
		batched = true;
	if ((kind & 7) != 7)
		cmd.opcode = ops[kind & 7];
	if (!(kind & 0x10))
		cmd.nsid = htole32(kind & 8 ? 2 : 1);
	cdw12 = le32toh(cmd.cdw12);
	if (!(mode & 8)) {
		cmd.flags = 0;
		/* Keep NLB; drop PRINFO, reserved and DEAC/FUA unless asked. */
		cdw12 &= 0xffff;
		if (mode & 0x10)
			cdw12 |= 1u << 30;
		if ((mode & 0x80) && cmd.opcode == nvme_cmd_write_zeroes)
			cdw12 |= 1u << 25;
		if (cmd.opcode == nvme_cmd_dsm) {
			cmd.cdw10 = htole32(le32toh(cmd.cdw10) & 0xff);
			cmd.cdw11 = htole32(le32toh(cmd.cdw11) & 7);
		}
	}
	if (kind & 0x20) {
		uint32_t nlb = 1 + (cdw12 & 0xffff) % 128;
		uint64_t slba = cmd_slba(&cmd) % FZ_BLOCKS;

		if (slba + nlb > FZ_BLOCKS)
			slba = FZ_BLOCKS - nlb;
		cdw12 = (cdw12 & ~0xffffu) | (nlb - 1);
		if (cmd.opcode != nvme_cmd_dsm) {
			cmd.cdw10 = htole32((uint32_t)slba);
			cmd.cdw11 = htole32((uint32_t)(slba >> 32));
		}
	}
	cmd.cdw12 = htole32(cdw12);
	len = implied_len(&cmd);
	switch (mode & 3) {
	case 1:
		len = raw_len % (MAX_LEN + 1);
		break;
	case 2:
		len = (raw_len & 1) ? len + (raw_len >> 1) % 513 : len - (raw_len >> 1) % (len + 1);
		break;
	default:
		break;
	}
	if ((kind & 7) == 6) {
		/* Compare and Write: the first half here, the write right behind it. */
		pair = true;
		cmd.flags = (cmd.flags & ~3) | 1;
		second = cmd;
		second.opcode = nvme_cmd_write;
		second.flags = (second.flags & ~3) | 2;
		if (mode & 0x40)
			second.cdw10 = htole32(le32toh(second.cdw10) + 1);
	}
	buf = calloc(1, len ? len : 1);
	FZ_CHECK(buf != NULL, "calloc");
	if (cmd.opcode == nvme_cmd_dsm && !(mode & 4)) {
		/* Ranges that mostly land inside the namespace. */
		for (uint32_t i = 0; i + 16 <= len; i += 16) {
			uint32_t n = htole32(fz_rand(&r->rng) % 64);
			uint64_t s = htole64(fz_rand(&r->rng) % (FZ_BLOCKS + 8));

			memcpy(buf + i + 4, &n, 4);
			memcpy(buf + i + 8, &s, 8);
		}
	} else if ((cmd.opcode & 3) == 1) {
		fill_data(r, f, mode, buf, len);
	}
	if (!batched)
		drain(r);
	submit(r, q, &cmd, buf, len, !batched && !pair && r->nfl == 0);
	if (pair) {
		uint8_t *wbuf = calloc(1, len ? len : 1);

		FZ_CHECK(wbuf != NULL, "calloc");
		fill_data(r, f, mode, wbuf, len);
		submit(r, q, &second, wbuf, len, false);
		if (is_ns1(&cmd) && range_ok(cmd_slba(&cmd), cmd_nlb(&cmd)))
			mark_unknown(r, cmd_slba(&cmd), cmd_nlb(&cmd));
	}
	if (!batched || r->nfl >= MAX_BATCH)
		drain(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct io_run *r = calloc(1, sizeof(*r));
	struct fz_env_opts eo = { .test_ns = true, .nr_pgs = 2 };
	uint16_t cntlid = 0;
	struct fz f;
	uint8_t cfg;

	FZ_CHECK(r != NULL, "calloc");
	fz_init(&f, data, size);
	/* Not ZCOPY_READ: the test backend does not supply read buffers of its own. */
	eo.tb_caps = fz_u8(&f) & 0x7f & ~(uint32_t)NVMFT_BACKEND_CAP_ZCOPY_READ;
	cfg = fz_u8(&f);
	eo.test_ns_poll = cfg & 1;
	eo.qp_share = cfg & 2;
	fz_rng_seed(&r->rng, (uint32_t)size);
	r->shadow = calloc(FZ_BLOCKS, FZ_BLOCK);
	r->known = malloc(FZ_BLOCKS);
	FZ_CHECK(r->shadow != NULL && r->known != NULL, "calloc");
	/* A new RAM namespace reads as zeroes. */
	memset(r->known, 1, FZ_BLOCKS);
	fz_env_init(&r->env, &eo);
	r->m.ns2 = r->env.ns2;
	r->aq = lt_connect_admin(&r->env.lt, FZ_SUBNQN, FZ_HOSTNQN, &cntlid);
	FZ_CHECK(r->aq != NULL, "admin queue");
	for (int i = 0; i < NR_IOQ; i++) {
		r->ioq[i] = lt_connect_io(&r->env.lt, FZ_SUBNQN, FZ_HOSTNQN, cntlid, (uint16_t)(i + 1),
					  63);
		FZ_CHECK(r->ioq[i] != NULL, "I/O queue %d", i + 1);
	}
	for (int i = 0; i < MAX_RECORDS && fz_left(&f) > 0; i++)
		record(r, &f);
	drain(r);
	if (r->m.removing) {
		mgmt_wait(r, &r->m.remove_st, "namespace removal");
		FZ_CHECK(r->m.remove_st == 0, "removal completed with %d", r->m.remove_st);
	}
	for (int i = 0; i < NR_IOQ; i++)
		lt_qpair_close(r->ioq[i]);
	lt_qpair_close(r->aq);
	for (int i = 0; i < r->nfl; i++)
		free(r->fl[i].buf);
	fz_env_fini(&r->env);
	free(r->known);
	free(r->shadow);
	free(r);
	return 0;
}
