/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fabrics Connect, command and data, through the loop transport: a series
 * of Connects (and other commands) on new or reused queue pairs against a
 * target with an open subsystem (ns 1 on RAM), a closed one that allows one
 * host, and the discovery subsystem.
 *
 * Checks: every command completes (or its queue pair dies); a Connect that
 * succeeds (only the first on a queue pair may) named a subsystem that exists and a host it allows, returns a
 * controller ID in range (the one asked for, for an I/O queue); nothing
 * but Connect succeeds on a queue pair that never connected; teardown
 * leaves nothing behind.
 *
 * Input: records, at most 8, each: byte flags (bits 0-1: 1 the last
 * queue pair again, else a new one; bit 2: force opcode 7Fh/Connect; bit 3: build the data
 * from a template and patch it, else take 1024 raw bytes; bit 4: enable
 * the controller after an admin Connect; bit 5: close the queue pair
 * afterwards; bits 6-7: data length 1024, 0, raw, 1023), the 64-byte SQE,
 * then the data: raw, or template choices (subsystem, host, controller
 * ID, host ID) and up to 8 (u16 offset, byte) patches.
 */
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "fuzz_common.h"

#define MAX_RECORDS 8
#define MAX_QPAIRS 8

struct conn_run {
	struct fz_env env;
	struct lt_qpair *q[MAX_QPAIRS];
	bool connected[MAX_QPAIRS];
	bool admin[MAX_QPAIRS];   /* connected as an admin queue */
	int nq;
	uint16_t last_cntlid;
};

static const char *const subnqns[] = {
	FZ_SUBNQN, FZ_SUBNQN2, NVMFT_DISCOVERY_NQN, "nqn.2024-01.io.nvmft:nobody",
};
static const char *const hostnqns[] = {
	FZ_HOSTNQN, FZ_HOSTNQN2, "nqn.2024-01.io.nvmft:host", "nqn.",
};

static void build_data(struct conn_run *r, struct fz *f, struct nvmf_connect_data *d)
{
	uint8_t sub = fz_u8(f), host = fz_u8(f), cmode = fz_u8(f), patches;
	uint16_t craw = fz_u16(f);

	memset(d, 0, sizeof(*d));
	strlcpy(d->subsysnqn, subnqns[sub % 4], sizeof(d->subsysnqn));
	strlcpy(d->hostnqn, hostnqns[host % 4], sizeof(d->hostnqn));
	switch (cmode % 3) {
	case 0:
		d->cntlid = htole16(NVMFT_CNTLID_DYNAMIC);
		break;
	case 1:
		d->cntlid = htole16(r->last_cntlid);
		break;
	default:
		d->cntlid = htole16(craw);
		break;
	}
	/* The host ID the loop transport's own Connect uses, or another one. */
	if (cmode & 0x80)
		memset(d->hostid, cmode, sizeof(d->hostid));
	else
		memcpy(d->hostid, LT_HOSTID, sizeof(d->hostid));
	patches = fz_u8(f) % 9;
	for (uint8_t i = 0; i < patches; i++) {
		uint16_t off = fz_u16(f) % sizeof(*d);

		((uint8_t *)d)[off] = fz_u8(f);
	}
}

/* Does a Connect with these fields have any business succeeding? */
static void check_success(const struct conn_run *r, const struct nvmft_connect_cmd *c,
			  const struct nvmf_connect_data *d, uint32_t len, const struct lt_cpl *res)
{
	char sub[sizeof(d->subsysnqn) + 1], host[sizeof(d->hostnqn) + 1];
	uint16_t cntlid = le16toh(res->cpl.connect.cntlid), qid = le16toh(c->qid);

	(void)r;
	FZ_CHECK(c->opcode == NVMFT_OPC_FABRICS && c->fctype == NVMFT_FCTYPE_CONNECT,
		 "opcode %#x fctype %#x succeeded on a queue pair that was never connected",
		 c->opcode, c->fctype);
	FZ_CHECK(len >= sizeof(*d), "Connect with %u bytes of data succeeded", len);
	memcpy(sub, d->subsysnqn, sizeof(d->subsysnqn));
	sub[sizeof(d->subsysnqn)] = '\0';
	memcpy(host, d->hostnqn, sizeof(d->hostnqn));
	host[sizeof(d->hostnqn)] = '\0';
	if (strcmp(sub, FZ_SUBNQN2) == 0)
		FZ_CHECK(strcmp(host, FZ_HOSTNQN2) == 0, "host %s let into %s", host, sub);
	else
		FZ_CHECK(strcmp(sub, FZ_SUBNQN) == 0 || strcmp(sub, NVMFT_DISCOVERY_NQN) == 0,
			 "Connect to unknown subsystem %s succeeded", sub);
	FZ_CHECK(cntlid >= NVMFT_CNTLID_MIN && cntlid <= NVMFT_CNTLID_MAX, "controller ID %#x",
		 cntlid);
	if (qid != 0)
		FZ_CHECK(cntlid == le16toh(d->cntlid), "I/O queue joined controller %#x, asked %#x",
			 cntlid, le16toh(d->cntlid));
	else
		FZ_CHECK(le16toh(d->cntlid) == NVMFT_CNTLID_DYNAMIC,
			 "admin Connect for controller %#x succeeded", le16toh(d->cntlid));
}

static void enable(struct lt_qpair *q)
{
	struct lt_cpl c = lt_prop_set(q, NVME_REG_CC, 1u | 6u << 16 | 4u << 20);

	FZ_CHECK(c.done || lt_qpair_is_dead(q), "Property Set CC never completed");
}

static void record(struct conn_run *r, struct fz *f)
{
	uint8_t flags = fz_u8(f);
	union {
		struct nvmft_cmd cmd;
		struct nvmft_connect_cmd c;
	} sqe;
	struct nvmf_connect_data d;
	uint32_t len;
	struct lt_cpl res;
	int idx;

	fz_take(f, &sqe, sizeof(sqe));
	if (flags & 4) {
		sqe.c.opcode = NVMFT_OPC_FABRICS;
		sqe.c.fctype = NVMFT_FCTYPE_CONNECT;
	}
	if (flags & 8)
		build_data(r, f, &d);
	else
		fz_take(f, &d, sizeof(d));
	switch (flags >> 6) {
	case 0:
		len = sizeof(d);
		break;
	case 1:
		len = 0;
		break;
	case 2:
		len = fz_u16(f) % (2 * sizeof(d) + 1);
		break;
	default:
		len = sizeof(d) - 1;
		break;
	}

	if ((flags & 3) == 1 && r->nq > 0) {
		idx = r->nq - 1;
	} else {
		if (r->nq == MAX_QPAIRS)
			return;
		idx = r->nq++;
		r->q[idx] = lt_qpair_new(&r->env.lt, 0);
		FZ_CHECK(r->q[idx] != NULL, "qpair");
	}
	if (lt_qpair_is_dead(r->q[idx]))
		return;
	{
		/* Data longer than the structure: the rest is whatever follows in the input. */
		uint8_t *buf = calloc(1, len ? len : 1);

		FZ_CHECK(buf != NULL, "calloc");
		memcpy(buf, &d, len < sizeof(d) ? len : sizeof(d));
		if (len > sizeof(d))
			fz_take(f, buf + sizeof(d), len - sizeof(d));
		res = lt_cmd(r->q[idx], &sqe.cmd, len ? buf : NULL, len);
		free(buf);
	}
	/* An AER on an enabled admin queue waits for an event: parked, not hung. */
	if (!res.done && r->admin[idx] && sqe.cmd.opcode == nvme_admin_async_event &&
	    !(sqe.cmd.flags & 3))
		return;
	fz_check_completed(r->q[idx], &res, &sqe.cmd);
	if (!res.done)
		return;
	if (res.status == 0 && r->connected[idx])
		FZ_CHECK(sqe.c.opcode != NVMFT_OPC_FABRICS || sqe.c.fctype != NVMFT_FCTYPE_CONNECT,
			 "a second Connect on a connected queue pair succeeded");
	if (res.status == 0 && !r->connected[idx]) {
		check_success(r, &sqe.c, &d, len, &res);
		r->connected[idx] = true;
		if (le16toh(sqe.c.qid) == 0) {
			r->admin[idx] = true;
			r->last_cntlid = le16toh(res.cpl.connect.cntlid);
			if (flags & 0x10)
				enable(r->q[idx]);
		}
	}
	if (flags & 0x20)
		lt_qpair_close(r->q[idx]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conn_run *r = calloc(1, sizeof(*r));
	struct fz f;

	FZ_CHECK(r != NULL, "calloc");
	fz_init(&f, data, size);
	fz_env_init(&r->env, NULL);
	for (int i = 0; i < MAX_RECORDS && fz_left(&f) > 0; i++)
		record(r, &f);
	for (int i = r->nq - 1; i >= 0; i--)
		lt_qpair_close(r->q[i]);
	fz_env_fini(&r->env);
	free(r);
	return 0;
}
