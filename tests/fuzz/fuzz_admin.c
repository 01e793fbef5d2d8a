/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Admin commands on a connected, enabled controller (loop transport): of
 * the NVM subsystem (namespaces 1 on RAM and 2 on the test backend) or,
 * when the input says so, of the discovery subsystem.
 *
 * Every command must complete; the exceptions the specification allows
 * are Asynchronous Event Requests, which wait for an event (they are
 * submitted without waiting, and complete or stay parked), and commands
 * cut off because the admin queue went away (Disconnect, CC changes the
 * host is entitled to).  A command that neither completes nor loses its
 * queue is a hang and fails the run.  Identify Controller must describe the
 * controller it was asked on.
 *
 * Input: byte 0 (bit 0: discovery controller; bit 1: a second controller
 * connected alongside), then records, at most 48: byte flags (bit 0:
 * opcode from the table of admin opcodes, else the raw one; bit 1: data
 * length the command implies, else from the record; bit 2: NSID from
 * {0, 1, 2, 3, FFFFFFFFh}; bits 3-5: length choice; bit 6: clear FUSE and
 * PSDT), the 64-byte SQE, u16 length, then for host-to-controller commands
 * that many data bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "core/cmd.h"
#include "fuzz_common.h"

#define MAX_RECORDS 48
#define MAX_LEN 65536u

static const uint8_t admin_opcodes[] = {
	0x06, 0x02, 0x0a, 0x09, 0x0c, 0x18, 0x08, 0x7f, 0x7f, 0x00, 0x01,
	0x04, 0x05, 0x0d, 0x10, 0x11, 0x15, 0x19, 0x1a, 0x7c, 0x80, 0x84, 0xc0,
};
static const uint8_t fctypes[] = { 0x00, 0x01, 0x04, 0x04, 0x05, 0x06, 0x08, 0x7f };
static const uint32_t nsids[] = { 0, 1, 2, 3, 0xffffffffu };
static const uint32_t lens[] = { 0, 16, 512, 1024, 4096, 8192, 3, 4097 };

struct admin_run {
	struct fz_env env;
	struct lt_qpair *aq;
	struct lt_qpair *other;
	const char *subnqn;
	uint16_t cntlid;
	uint16_t cntlid2;
	unsigned int aers;
};

/* What the command's own fields say it transfers, when the harness knows. */
static uint32_t implied_len(const struct nvmft_cmd *cmd, uint32_t fallback)
{
	switch (cmd->opcode) {
	case 0x06: /* Identify */
		return 4096;
	case 0x02: { /* Get Log Page: NUMD is 0's based, in dwords */
		uint64_t len = nvmft_cmd_log_page_len(le32toh(cmd->cdw10), le32toh(cmd->cdw11));

		return len <= MAX_LEN ? (uint32_t)len : fallback;
	}
	case 0x0c: /* AER */
	case 0x18: /* Keep Alive */
	case 0x08: /* Abort */
		return 0;
	default:
		return fallback;
	}
}

static bool is_h2c(const struct nvmft_cmd *cmd)
{
	uint8_t x = cmd->opcode == NVMFT_OPC_FABRICS ? ((const struct nvmft_fabrics_cmd *)cmd)->fctype
						      : cmd->opcode;

	return (x & 3) == 1;
}

static void record(struct admin_run *r, struct fz *f)
{
	uint8_t flags = fz_u8(f);
	struct nvmft_cmd cmd;
	uint16_t raw_len;
	uint32_t len;
	uint8_t *buf;
	struct lt_cpl res;
	struct lt_qpair *q = r->aq;

	fz_take(f, &cmd, sizeof(cmd));
	raw_len = fz_u16(f);
	if (flags & 1) {
		cmd.opcode = admin_opcodes[cmd.opcode % sizeof(admin_opcodes)];
		if (cmd.opcode == NVMFT_OPC_FABRICS)
			((struct nvmft_fabrics_cmd *)&cmd)->fctype =
				fctypes[((struct nvmft_fabrics_cmd *)&cmd)->fctype % sizeof(fctypes)];
	}
	if (flags & 4)
		cmd.nsid = htole32(nsids[le32toh(cmd.nsid) % 5]);
	if (flags & 0x40)
		cmd.flags = 0;
	len = lens[flags >> 3 & 7];
	if ((flags >> 3 & 7) == 6)
		len = raw_len % (MAX_LEN + 1);
	if (flags & 2)
		len = implied_len(&cmd, len);
	buf = calloc(1, len ? len : 1);
	FZ_CHECK(buf != NULL, "calloc");
	if (is_h2c(&cmd))
		fz_take(f, buf, len);
	/* Commands for the other controller's admin queue, now and then. */
	if (r->other != NULL && (raw_len & 0x8000) && !(flags & 2))
		q = r->other;
	if (lt_qpair_is_dead(q)) {
		free(buf);
		return;
	}

	if (cmd.opcode == 0x0c && !(cmd.flags & 3)) {
		/* AER: parked until an event; never waited for. */
		int tag = lt_submit(q, &cmd, NULL, 0);

		FZ_CHECK(tag >= 0, "no slot for an AER");
		r->aers++;
		lt_env_settle(&r->env.lt);
		if (lt_done(q, tag))
			lt_wait(q, tag);
		free(buf);
		return;
	}
	res = lt_cmd(q, &cmd, len ? buf : NULL, len);
	fz_check_completed(q, &res, &cmd);
	/* Identify Controller describes the controller the queue belongs to. */
	if (res.done && res.status == 0 && cmd.opcode == 0x06 && (le32toh(cmd.cdw10) & 0xff) == 1 &&
	    len >= sizeof(struct nvme_id_ctrl)) {
		const struct nvme_id_ctrl *id = (const void *)buf;
		const char *nqn = q == r->other ? FZ_SUBNQN2 : r->subnqn;

		FZ_CHECK(le16toh(id->cntlid) == (q == r->other ? r->cntlid2 : r->cntlid),
			 "Identify Controller reports CNTLID %#x", le16toh(id->cntlid));
		FZ_CHECK(strncmp(id->subnqn, nqn, sizeof(id->subnqn)) == 0,
			 "Identify Controller reports SUBNQN %.256s", id->subnqn);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct admin_run *r = calloc(1, sizeof(*r));
	struct fz_env_opts eo = { .test_ns = true, .tb_caps = 0x1f };
	struct fz f;
	uint8_t cfg;

	FZ_CHECK(r != NULL, "calloc");
	fz_init(&f, data, size);
	cfg = fz_u8(&f);
	fz_env_init(&r->env, &eo);
	r->subnqn = cfg & 1 ? NVMFT_DISCOVERY_NQN : FZ_SUBNQN;
	r->aq = lt_connect_admin(&r->env.lt, r->subnqn, FZ_HOSTNQN, &r->cntlid);
	FZ_CHECK(r->aq != NULL, "admin queue");
	if (cfg & 2) {
		r->other = lt_connect_admin(&r->env.lt, FZ_SUBNQN2, FZ_HOSTNQN2, &r->cntlid2);
		FZ_CHECK(r->other != NULL, "second admin queue");
	}
	for (int i = 0; i < MAX_RECORDS && fz_left(&f) > 0; i++)
		record(r, &f);
	if (r->other != NULL)
		lt_qpair_close(r->other);
	lt_qpair_close(r->aq);
	fz_env_fini(&r->env);
	free(r);
	return 0;
}
