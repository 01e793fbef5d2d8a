/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for lib/core/discovery.c: the discovery controller's command
 * set and the discovery log page, through the loop transport, plus the pure
 * log formatter.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <nvmft/nvmft.h>

#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/qpair.h"
#include "core/subsystem.h"
#include "core/target.h"
#include "core/transport.h"
#include "loop_transport.h"

#define HOST2 "nqn.2014-08.org.nvmexpress:uuid:99999999-2222-3333-4444-555555555555"
#define SS_A "nqn.2016-06.io.nvmft:disc-a"
#define SS_B "nqn.2016-06.io.nvmft:disc-b"
#define SS_C "nqn.2016-06.io.nvmft:disc-c"

#define ST_INVALID_OPCODE NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE)
#define ST_INVALID_FIELD NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_INVALID_LOG NVMFT_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_LOG_PAGE)
#define ST_SGL_LENGTH NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA)

#define HDR 1024u
#define ENT 1024u
#define LOOP_TRTYPE 254

struct fx {
	struct lt_env env;
	struct lt_qpair *dq;
	struct nvmft_ctrlr *ctrlr;
	uint8_t buf[16 * 1024];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(lt_env_init(&f->env, NULL), 0);
	f->dq = lt_connect_admin(&f->env, NVMFT_DISCOVERY_NQN, LT_HOSTNQN, NULL);
	assert_non_null(f->dq);
	f->ctrlr = lt_qpair_core(f->dq)->ctrlr;
	assert_true(nvmft_ctrlr_is_discovery(f->ctrlr));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	lt_env_fini(&f->env);
	free(f);
	return 0;
}

static struct nvmft_cmd mk(uint8_t opc, uint32_t nsid, uint32_t cdw10, uint32_t cdw11)
{
	struct nvmft_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = opc;
	c.nsid = htole32(nsid);
	c.cdw10 = htole32(cdw10);
	c.cdw11 = htole32(cdw11);
	return c;
}

static struct lt_cpl run(struct fx *f, const struct nvmft_cmd *c, uint32_t len)
{
	struct lt_cpl r;

	memset(f->buf, 0xa5, sizeof(f->buf));
	r = lt_cmd(f->dq, c, len ? f->buf : NULL, len);
	assert_true(r.done);
	return r;
}

/* Get Log Page 70h; @lsp in cdw10 bits 14:8, RAE bit 15 via @rae. */
static struct lt_cpl disc_log(struct fx *f, uint64_t offset, uint32_t len, uint8_t lsp, bool rae)
{
	uint32_t numd = len / 4 - 1;
	struct nvmft_cmd c = mk(nvme_admin_get_log_page, 0,
				NVME_LOG_LID_DISCOVER | (uint32_t)lsp << 8 | (rae ? 1u << 15 : 0) |
					(numd & 0xffff) << 16,
				numd >> 16);

	c.cdw12 = htole32((uint32_t)offset);
	c.cdw13 = htole32((uint32_t)(offset >> 32));
	return run(f, &c, len);
}

static const struct nvmf_discovery_log *hdr_of(const uint8_t *b)
{
	return (const struct nvmf_discovery_log *)b;
}

static const struct nvmf_disc_log_entry *ent_of(const uint8_t *b, unsigned int i)
{
	return (const struct nvmf_disc_log_entry *)(b + HDR + i * ENT);
}

static uint64_t genctr(struct fx *f)
{
	return atomic_load(&f->env.tgt->discovery_genctr);
}

static struct nvmft_subsystem *add_ss(struct fx *f, const char *nqn, bool any, struct nvmft_listener *l)
{
	struct nvmft_subsystem_opts so;
	struct nvmft_subsystem *ss;

	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = nqn;
	so.allow_any_host = any;
	assert_int_equal(nvmft_subsystem_new(f->env.tgt, &so, &ss), 0);
	if (l != NULL)
		assert_int_equal(nvmft_subsystem_add_listener(ss, l), 0);
	lt_env_settle(&f->env);
	return ss;
}

static struct nvmft_listener *add_listener(struct fx *f, const char *traddr, const char *svc)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4,
					.traddr = traddr, .trsvcid = svc };
	struct nvmft_listener *l;

	assert_int_equal(nvmft_listener_new(f->env.tr, &lo, &l), 0);
	lt_env_settle(&f->env);
	return l;
}

static void assert_spaced(const char *field, size_t size, const char *text)
{
	size_t n = strlen(text);

	assert_memory_equal(field, text, n);
	for (size_t i = n; i < size; i++)
		assert_int_equal(field[i], ' ');
}

static void assert_nul_padded(const char *field, size_t size, const char *text)
{
	size_t n = strlen(text);

	assert_memory_equal(field, text, n);
	for (size_t i = n; i < size; i++)
		assert_int_equal(field[i], 0);
}

static void check_entry(const struct nvmf_disc_log_entry *e, const struct nvmft_listener *l,
			uint8_t subtype, const char *subnqn)
{
	assert_int_equal(e->trtype, LOOP_TRTYPE);
	assert_int_equal(e->adrfam, l->adrfam);
	assert_int_equal(e->subtype, subtype);
	assert_int_equal(e->treq, 0); /* the loop transport's disc_entry sets it */
	assert_int_equal(le16toh(e->portid), l->portid);
	assert_int_equal(le16toh(e->cntlid), 0xffff);
	assert_int_equal(le16toh(e->asqsz), 128);
	if (subtype == NVME_NQN_CURR)
		assert_int_equal(le16toh(e->eflags),
				 NVMF_DISC_EFLAGS_DUPRETINFO | NVMF_DISC_EFLAGS_EPCSD);
	else
		assert_int_equal(le16toh(e->eflags), 0);
	assert_spaced(e->trsvcid, sizeof(e->trsvcid), l->trsvcid);
	assert_spaced(e->traddr, sizeof(e->traddr), l->traddr);
	assert_nul_padded(e->subnqn, sizeof(e->subnqn), subnqn);
	for (size_t i = 0; i < sizeof(e->rsvd12); i++)
		assert_int_equal(e->rsvd12[i], 0);
}

/* ---- The command set ------------------------------------------------------ */

static void test_unsupported_opcodes(void **state)
{
	struct fx *f = *state;
	const uint8_t opc[] = {
		nvme_admin_abort_cmd, nvme_admin_ns_mgmt, nvme_admin_ns_attach, nvme_admin_format_nvm,
		nvme_admin_fw_commit, nvme_admin_fw_download, nvme_admin_dev_self_test,
		nvme_admin_security_send, nvme_admin_security_recv, nvme_admin_sanitize_nvm,
		nvme_admin_create_sq, nvme_admin_delete_sq, nvme_admin_create_cq, nvme_admin_delete_cq,
		nvme_admin_dbbuf, nvme_admin_discovery_info_mgmt, nvme_admin_directive_send, 0xc0,
	};

	for (size_t i = 0; i < sizeof(opc); i++) {
		struct nvmft_cmd c = mk(opc[i], 0, 0, 0);

		assert_int_equal(run(f, &c, 0).status, ST_INVALID_OPCODE);
	}
}

static void test_identify(void **state)
{
	struct fx *f = *state;
	const struct nvme_id_ctrl *id = (const struct nvme_id_ctrl *)f->buf;
	const uint8_t other[] = { 0x00, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x1c, 0xff };
	struct nvmft_cmd c = mk(nvme_admin_identify, 0, NVME_IDENTIFY_CNS_CTRL, 0);
	struct lt_cpl r;

	r = lt_identify(f->dq, NVME_IDENTIFY_CNS_CTRL, 0, 0, f->buf);
	assert_int_equal(r.status, 0);
	assert_int_equal(id->cntrltype, NVME_CTRL_CNTRLTYPE_DISCOVERY);
	assert_int_equal(le32toh(id->nn), 0);
	assert_int_equal(le32toh(id->oaes), (uint32_t)NVME_CTRL_OAES_DL);
	assert_int_equal(id->lpa, NVME_CTRL_LPA_EXTENDED);
	assert_int_equal(id->cmic, 0);
	assert_int_equal(id->frmw, 0);
	assert_int_equal(le16toh(id->oncs), 0);
	assert_int_equal(le16toh(id->fuses), 0);
	assert_int_equal(id->vwc, 0);
	assert_int_equal(le16toh(id->kas), 1);
	assert_int_equal(id->aerl, 3);
	assert_int_equal(id->elpe, 15);
	assert_int_equal(le16toh(id->cntlid), f->ctrlr->cntlid);
	assert_string_equal(id->subnqn, NVMFT_DISCOVERY_NQN);
	assert_int_equal(le16toh(id->ofcs), NVME_CTRL_OFCS_DISCONNECT);

	for (size_t i = 0; i < sizeof(other); i++) {
		r = lt_identify(f->dq, other[i], 1, 0, f->buf);
		assert_int_equal(r.status, ST_INVALID_FIELD);
	}
	/* Same transfer length rule as on an I/O controller. */
	assert_int_equal(run(f, &c, 1024).status, ST_SGL_LENGTH);
}

static void test_features(void **state)
{
	struct fx *f = *state;
	const uint8_t nvm_only[] = {
		NVME_FEAT_FID_ARBITRATION, NVME_FEAT_FID_POWER_MGMT, NVME_FEAT_FID_TEMP_THRESH,
		NVME_FEAT_FID_ERR_RECOVERY, NVME_FEAT_FID_VOLATILE_WC, NVME_FEAT_FID_NUM_QUEUES,
		NVME_FEAT_FID_IRQ_COALESCE, NVME_FEAT_FID_IRQ_CONFIG, NVME_FEAT_FID_WRITE_ATOMIC,
		NVME_FEAT_FID_HOST_BEHAVIOR, NVME_FEAT_FID_HOST_ID,
	};
	struct nvmft_cmd c;
	struct lt_cpl r;

	for (size_t i = 0; i < sizeof(nvm_only); i++) {
		c = mk(nvme_admin_get_features, 0, nvm_only[i], 1);
		assert_int_equal(run(f, &c, 0).status, ST_INVALID_FIELD);
		c = mk(nvme_admin_set_features, 0, nvm_only[i], 0);
		assert_int_equal(run(f, &c, 0).status, ST_INVALID_FIELD);
	}
	/* Discovery log change notices are the only kind. */
	c = mk(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, 0xffffffff);
	assert_int_equal(run(f, &c, 0).status, 0);
	c = mk(nvme_admin_get_features, 0, NVME_FEAT_FID_ASYNC_EVENT, 0);
	r = run(f, &c, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(r.cpl.dw0), 1u << 31);
	c = mk(nvme_admin_get_features, 0, NVME_FEAT_FID_ASYNC_EVENT | 3u << 8, 0);
	assert_int_equal(le32toh(run(f, &c, 0).cpl.dw0), 1u << 2);

	c = mk(nvme_admin_set_features, 0, NVME_FEAT_FID_KATO, 30000);
	assert_int_equal(run(f, &c, 0).status, 0);
	c = mk(nvme_admin_get_features, 0, NVME_FEAT_FID_KATO, 0);
	r = run(f, &c, 0);
	assert_int_equal(le32toh(r.cpl.dw0), 30000);
	assert_int_equal(f->ctrlr->kato_ms, 30000);
	c = mk(nvme_admin_set_features, 0, NVME_FEAT_FID_KATO, 0);
	assert_int_equal(run(f, &c, 0).status, 0);
}

static void test_keep_alive(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd c = mk(nvme_admin_keep_alive, 0, 0, 0);

	assert_int_equal(run(f, &c, 0).status, 0);
	assert_int_equal(run(f, &c, 8).status, ST_SGL_LENGTH);
}

static void test_aen_discovery_change(void **state)
{
	struct fx *f = *state;
	struct nvmft_cmd aec = mk(nvme_admin_set_features, 0, NVME_FEAT_FID_ASYNC_EVENT, 1u << 31);
	struct nvmft_cmd aer = mk(nvme_admin_async_event, 0, 0, 0);
	struct lt_cpl r;
	int tag;

	assert_int_equal(run(f, &aec, 0).status, 0);
	tag = lt_submit(f->dq, &aer, NULL, 0);
	assert_true(tag >= 0);
	lt_env_settle(&f->env);
	assert_false(lt_done(f->dq, tag));

	add_ss(f, SS_A, true, f->env.listener);
	r = lt_wait(f->dq, tag);
	assert_true(r.done);
	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(r.cpl.dw0), NVME_AER_NOTICE | NVME_AER_NOTICE_DISC_CHANGED << 8 |
						     NVME_LOG_LID_DISCOVER << 16);
	assert_true(f->ctrlr->aen_masked & NVMFT_AEN_DISC_CHANGED);
	/* Reading with RAE set keeps it masked; without, unmasks it. */
	assert_int_equal(disc_log(f, 0, HDR, 0, true).status, 0);
	assert_true(f->ctrlr->aen_masked & NVMFT_AEN_DISC_CHANGED);
	assert_int_equal(disc_log(f, 0, HDR, 0, false).status, 0);
	assert_false(f->ctrlr->aen_masked & NVMFT_AEN_DISC_CHANGED);
}

static void test_other_logs(void **state)
{
	struct fx *f = *state;
	const uint8_t bad[] = { NVME_LOG_LID_SUPPORTED_LOG_PAGES, NVME_LOG_LID_SMART,
				NVME_LOG_LID_FW_SLOT, NVME_LOG_LID_CHANGED_NS, NVME_LOG_LID_CMD_EFFECTS,
				0x71, 0xff };
	struct lt_cpl r;

	/* The error log exists on discovery controllers too. */
	r = lt_get_log(f->dq, NVME_LOG_LID_ERROR, 0, 0, f->buf, 1024);
	assert_int_equal(r.status, 0);
	for (size_t i = 0; i < sizeof(bad); i++) {
		r = lt_get_log(f->dq, bad[i], 0, 0, f->buf, 512);
		assert_int_equal(r.status, ST_INVALID_LOG);
	}
}

/* ---- The discovery log page ------------------------------------------------ */

static void test_log_no_subsystems(void **state)
{
	struct fx *f = *state;
	const struct nvmf_discovery_log *h = hdr_of(f->buf);
	struct lt_cpl r;

	r = disc_log(f, 0, HDR + ENT, 0, false);
	assert_int_equal(r.status, 0);
	assert_int_equal(le64toh(h->genctr), genctr(f));
	assert_int_equal(le64toh(h->numrec), 1);
	assert_int_equal(le16toh(h->recfmt), 0);
	for (size_t i = 0; i < sizeof(h->rsvd14); i++)
		assert_int_equal(h->rsvd14[i], 0);
	/* The discovery subsystem itself, on the one listener. */
	check_entry(ent_of(f->buf, 0), f->env.listener, NVME_NQN_CURR, NVMFT_DISCOVERY_NQN);
}

static void test_log_many(void **state)
{
	struct fx *f = *state;
	struct nvmft_listener *l2 = add_listener(f, "192.0.2.10", "4420");
	struct nvmft_listener *l3 = add_listener(f, "192.0.2.11", "4421");
	struct nvmft_subsystem *a, *b, *c;
	const struct nvmf_discovery_log *h = hdr_of(f->buf);

	a = add_ss(f, SS_A, true, f->env.listener);
	assert_int_equal(nvmft_subsystem_add_listener(a, l2), 0);
	b = add_ss(f, SS_B, false, l2); /* nobody allowed yet */
	c = add_ss(f, SS_C, true, l3);
	(void)c;

	assert_int_equal(disc_log(f, 0, HDR + 8 * ENT, 0, false).status, 0);
	assert_int_equal(le64toh(h->numrec), 6);
	check_entry(ent_of(f->buf, 0), f->env.listener, NVME_NQN_CURR, NVMFT_DISCOVERY_NQN);
	check_entry(ent_of(f->buf, 1), l2, NVME_NQN_CURR, NVMFT_DISCOVERY_NQN);
	check_entry(ent_of(f->buf, 2), l3, NVME_NQN_CURR, NVMFT_DISCOVERY_NQN);
	check_entry(ent_of(f->buf, 3), f->env.listener, NVME_NQN_NVME, SS_A);
	check_entry(ent_of(f->buf, 4), l2, NVME_NQN_NVME, SS_A);
	check_entry(ent_of(f->buf, 5), l3, NVME_NQN_NVME, SS_C);
	/* Beyond NUMREC the host's buffer is zero filled. */
	for (size_t i = HDR + 6 * ENT; i < HDR + 8 * ENT; i++)
		assert_int_equal(f->buf[i], 0);

	/* Allowing this host adds B's entry; another host still does not see it. */
	assert_int_equal(nvmft_subsystem_add_host(b, LT_HOSTNQN), 0);
	lt_env_settle(&f->env);
	assert_int_equal(disc_log(f, 0, HDR + 8 * ENT, 0, false).status, 0);
	assert_int_equal(le64toh(h->numrec), 7);
	check_entry(ent_of(f->buf, 5), l2, NVME_NQN_NVME, SS_B);
	check_entry(ent_of(f->buf, 6), l3, NVME_NQN_NVME, SS_C);

	memset(f->buf, 0xa5, sizeof(f->buf));
	assert_int_equal(nvmft_discovery_log_read(f->env.tgt, HOST2, 0, f->buf, HDR + 8 * ENT), 0);
	assert_int_equal(le64toh(h->numrec), 6);
	check_entry(ent_of(f->buf, 5), l3, NVME_NQN_NVME, SS_C);
	for (size_t i = HDR + 6 * ENT; i < HDR + 8 * ENT; i++)
		assert_int_equal(f->buf[i], 0);
}

static void test_log_port_local(void **state)
{
	struct fx *f = *state;
	struct nvmft_listener *l2 = add_listener(f, "192.0.2.10", "4420");
	struct nvmft_subsystem *a = add_ss(f, SS_A, true, f->env.listener);
	const struct nvmf_discovery_log *h = hdr_of(f->buf);

	assert_int_equal(nvmft_subsystem_add_listener(a, l2), 0);
	add_ss(f, SS_C, true, l2);
	/* PLEO: only what the port this host came in on offers. */
	assert_int_equal(disc_log(f, 0, HDR + 4 * ENT, NVMF_LOG_DISC_LSP_PLEO, false).status, 0);
	assert_int_equal(le64toh(h->numrec), 2);
	check_entry(ent_of(f->buf, 0), f->env.listener, NVME_NQN_CURR, NVMFT_DISCOVERY_NQN);
	check_entry(ent_of(f->buf, 1), f->env.listener, NVME_NQN_NVME, SS_A);
	assert_int_equal(disc_log(f, 0, HDR + 4 * ENT, 0, false).status, 0);
	assert_int_equal(le64toh(h->numrec), 5);
}

static void test_log_excludes_deleting(void **state)
{
	struct fx *f = *state;
	struct nvmft_subsystem *a = add_ss(f, SS_A, true, f->env.listener);
	const struct nvmf_discovery_log *h = hdr_of(f->buf);

	assert_int_equal(disc_log(f, 0, HDR + 2 * ENT, 0, false).status, 0);
	assert_int_equal(le64toh(h->numrec), 2);
	a->state = NVMFT_SS_DELETING;
	assert_int_equal(disc_log(f, 0, HDR + 2 * ENT, 0, false).status, 0);
	assert_int_equal(le64toh(h->numrec), 1);
	assert_int_equal(ent_of(f->buf, 0)->subtype, NVME_NQN_CURR);
	a->state = NVMFT_SS_ACTIVE;
}

static void test_log_excludes_pcie_transports(void **state)
{
	struct fx *f = *state;
	struct nvmft_transport fake = *f->env.tr;
	struct nvmft_transport_ops ops = *f->env.tr->ops;
	struct nvmft_listener l;
	const struct nvmf_discovery_log *h = hdr_of(f->buf);

	/* A vfio-user style transport has listeners but nothing a Fabrics host can connect to. */
	ops.caps |= NVMFT_TR_CAP_PCIE;
	fake.ops = &ops;
	TAILQ_INIT(&fake.listeners);
	memset(&l, 0, sizeof(l));
	l.tr = &fake;
	strcpy(l.traddr, "/var/run/vfio-user");
	TAILQ_INSERT_TAIL(&fake.listeners, &l, link);
	TAILQ_INSERT_TAIL(&f->env.tgt->tr_list, &fake, link);
	assert_int_equal(disc_log(f, 0, HDR + 2 * ENT, 0, false).status, 0);
	TAILQ_REMOVE(&f->env.tgt->tr_list, &fake, link);
	assert_int_equal(le64toh(h->numrec), 1);
}

static void test_log_genctr(void **state)
{
	struct fx *f = *state;
	const struct nvmf_discovery_log *h = hdr_of(f->buf);
	uint64_t g0, g1;

	assert_int_equal(disc_log(f, 0, HDR, 0, false).status, 0);
	g0 = le64toh(h->genctr);
	assert_int_equal(g0, genctr(f));
	/* Unchanged content, unchanged counter. */
	assert_int_equal(disc_log(f, 0, HDR, 0, false).status, 0);
	assert_int_equal(le64toh(h->genctr), g0);
	add_ss(f, SS_A, true, f->env.listener);
	assert_int_equal(disc_log(f, 0, HDR, 0, false).status, 0);
	g1 = le64toh(h->genctr);
	assert_true(g1 > g0);
	assert_int_equal(g1, genctr(f));
	assert_int_equal(le64toh(h->numrec), 2);
}

static void test_log_windows(void **state)
{
	struct fx *f = *state;
	static uint8_t whole[HDR + 4 * ENT];
	const uint64_t offs[] = { 4, 8, 1020, 1024, 1028, 2044, 2048, 3000, 4092, 5116 };
	const uint32_t lens[] = { 4, 8, 12, 1024, 2048 };
	const uint64_t odd[] = { 1, 3, 1023, 1025, 2047, 3001, 5119 };
	struct nvmft_listener *l2 = add_listener(f, "192.0.2.10", "4420");
	struct nvmft_subsystem *a = add_ss(f, SS_A, true, f->env.listener);
	uint64_t size;

	assert_int_equal(nvmft_subsystem_add_listener(a, l2), 0);
	lt_env_settle(&f->env);
	/* 2 discovery entries + 2 for A: 5 KiB. */
	size = HDR + 4 * ENT;
	assert_int_equal(disc_log(f, 0, (uint32_t)size, 0, false).status, 0);
	memcpy(whole, f->buf, size);
	assert_int_equal(le64toh(hdr_of(whole)->numrec), 4);

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			uint64_t in = offs[i] < size ? size - offs[i] : 0;
			uint64_t n = lens[j] < in ? lens[j] : in;

			assert_int_equal(disc_log(f, offs[i], lens[j], 0, false).status, 0);
			assert_memory_equal(f->buf, whole + offs[i], n);
			for (uint64_t k = n; k < lens[j]; k++)
				assert_int_equal(f->buf[k], 0);
		}
	}
	/* At the very end: nothing but zeroes.  Past it, or misaligned, or by index: refused. */
	assert_int_equal(disc_log(f, size, 64, 0, false).status, 0);
	for (int k = 0; k < 64; k++)
		assert_int_equal(f->buf[k], 0);
	assert_int_equal(disc_log(f, size + 4, 64, 0, false).status, ST_INVALID_FIELD);
	assert_int_equal(disc_log(f, 1ull << 40, 64, 0, false).status, ST_INVALID_FIELD);
	assert_int_equal(disc_log(f, UINT64_MAX - 3, 4, 0, false).status, ST_INVALID_FIELD);
	assert_int_equal(disc_log(f, 2, 64, 0, false).status, ST_INVALID_FIELD);
	{
		uint32_t numd = 64 / 4 - 1;
		struct nvmft_cmd c = mk(nvme_admin_get_log_page, 0,
					NVME_LOG_LID_DISCOVER | numd << 16, 0);

		c.cdw14 = htole32(1u << 23); /* OT */
		assert_int_equal(run(f, &c, 64).status, ST_INVALID_FIELD);
		assert_int_equal(run(f, &c, 60).status, ST_SGL_LENGTH);
	}

	/* The library call takes any byte offset, aligned or not. */
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		uint64_t n = size - odd[i] < 100 ? size - odd[i] : 100;

		memset(f->buf, 0xa5, 100);
		assert_int_equal(nvmft_discovery_log_read(f->env.tgt, LT_HOSTNQN, odd[i], f->buf, 100),
				 0);
		assert_memory_equal(f->buf, whole + odd[i], n);
		for (uint64_t k = n; k < 100; k++)
			assert_int_equal(f->buf[k], 0);
	}
	memset(f->buf, 0xa5, 16);
	assert_int_equal(nvmft_discovery_log_read(f->env.tgt, LT_HOSTNQN, UINT64_MAX, f->buf, 16), 0);
	for (int k = 0; k < 16; k++)
		assert_int_equal(f->buf[k], 0);
	assert_int_equal(nvmft_discovery_log_read(f->env.tgt, LT_HOSTNQN, 0, NULL, 0), 0);
	assert_int_equal(nvmft_discovery_log_read(NULL, LT_HOSTNQN, 0, f->buf, 4), -EINVAL);
	assert_int_equal(nvmft_discovery_log_read(f->env.tgt, NULL, 0, f->buf, 4), -EINVAL);
	assert_int_equal(nvmft_discovery_log_read(f->env.tgt, LT_HOSTNQN, 0, NULL, 4), -EINVAL);
}

/* The whole log, in pieces the size of a small host buffer, reassembles to the same bytes. */
static void test_log_segmented_reads(void **state)
{
	struct fx *f = *state;
	static uint8_t whole[HDR + 3 * ENT], pieces[HDR + 3 * ENT];

	add_ss(f, SS_A, true, f->env.listener);
	add_ss(f, SS_C, true, f->env.listener);
	assert_int_equal(disc_log(f, 0, sizeof(whole), 0, false).status, 0);
	memcpy(whole, f->buf, sizeof(whole));
	for (uint32_t off = 0; off < sizeof(pieces); off += 256) {
		assert_int_equal(disc_log(f, off, 256, 0, false).status, 0);
		memcpy(pieces + off, f->buf, 256);
	}
	assert_memory_equal(whole, pieces, sizeof(whole));
}

/* ---- The pure formatter ----------------------------------------------------- */

static void test_format_pure(void **state)
{
	static struct nvmf_disc_log_entry e[3];
	static uint8_t out[HDR + 4 * ENT];
	const struct nvmf_discovery_log *h = hdr_of(out);
	uint64_t size;

	(void)state;
	for (int i = 0; i < 3; i++)
		memset(&e[i], 0x10 + i, sizeof(e[i]));

	memset(out, 0xee, sizeof(out));
	size = nvmft_discovery_log_format(42, NULL, 0, 0, out, sizeof(out));
	assert_int_equal(size, HDR);
	assert_int_equal(le64toh(h->genctr), 42);
	assert_int_equal(le64toh(h->numrec), 0);
	for (size_t i = 16; i < sizeof(out); i++)
		assert_int_equal(out[i], 0);

	memset(out, 0xee, sizeof(out));
	size = nvmft_discovery_log_format(7, e, 3, 0, out, sizeof(out));
	assert_int_equal(size, HDR + 3 * ENT);
	assert_int_equal(le64toh(h->genctr), 7);
	assert_int_equal(le64toh(h->numrec), 3);
	assert_memory_equal(out + HDR, e, 3 * ENT);
	for (size_t i = HDR + 3 * ENT; i < sizeof(out); i++)
		assert_int_equal(out[i], 0);

	/* Straddling header and entry, and entry and entry. */
	size = nvmft_discovery_log_format(7, e, 3, HDR - 8, out, 16);
	assert_int_equal(size, HDR + 3 * ENT);
	for (int i = 0; i < 8; i++)
		assert_int_equal(out[i], 0);
	for (int i = 8; i < 16; i++)
		assert_int_equal(out[i], 0x10);
	nvmft_discovery_log_format(7, e, 3, HDR + ENT - 2, out, 4);
	assert_int_equal(out[0], 0x10);
	assert_int_equal(out[1], 0x10);
	assert_int_equal(out[2], 0x11);
	assert_int_equal(out[3], 0x11);
	/* The first byte of the generation counter alone. */
	nvmft_discovery_log_format(0x0102030405060708ull, e, 3, 0, out, 1);
	assert_int_equal(out[0], 0x08);

	/* Offsets at or past the end (including near 2^64) only zero the buffer. */
	memset(out, 0xee, 64);
	nvmft_discovery_log_format(7, e, 3, HDR + 3 * ENT, out, 64);
	for (int i = 0; i < 64; i++)
		assert_int_equal(out[i], 0);
	memset(out, 0xee, 64);
	nvmft_discovery_log_format(7, e, 3, UINT64_MAX - 10, out, 64);
	for (int i = 0; i < 64; i++)
		assert_int_equal(out[i], 0);
	/* Zero length touches nothing. */
	out[0] = 0xee;
	assert_int_equal(nvmft_discovery_log_format(7, e, 3, 0, out, 0), HDR + 3 * ENT);
	assert_int_equal(out[0], 0xee);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unsupported_opcodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aen_discovery_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_no_subsystems, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_port_local, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_excludes_deleting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_excludes_pcie_transports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_genctr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_segmented_reads, setup, teardown),
		cmocka_unit_test(test_format_pure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
