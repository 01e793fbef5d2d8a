/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/core/admin_identify.c, driven through the loop transport. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <nvmft/nvmft.h>
#include <nvmft/version.h>

#include "backends/backend.h"
#include "core/cmd.h"
#include "core/ctrlr.h"
#include "core/ns.h"
#include "core/qpair.h"
#include "core/transport.h"
#include "loop_transport.h"
#include "test_backend.h"

#define SS_NQN "nqn.2016-06.io.nvmft:identify"
#define SS_SN "SN-IDENT-0001"
#define SS_MN "nvmft identify test"

#define ST_INVALID_FIELD NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define ST_INVALID_NS NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS)
#define ST_SGL_LENGTH NVMFT_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA)

struct fx {
	struct lt_env env;
	struct nvmft_subsystem *ss;
	struct lt_qpair *aq;
	uint16_t cntlid;
	struct nvmft_ctrlr *ctrlr;
	uint8_t buf[4096];
	/* Backends this file attached itself; the application frees them after the target. */
	struct nvmft_backend *be[1100];
	size_t nr_be;
};

static void done_cb(void *arg, int status)
{
	*(int *)arg = status;
}

/* Add a namespace with options and wait until hosts can see it. */
static struct nvmft_ns *add_ns(struct fx *f, struct nvmft_backend *be, const struct nvmft_ns_opts *o)
{
	struct nvmft_ns *ns = NULL;
	int st = 1;

	assert_true(f->nr_be < sizeof(f->be) / sizeof(f->be[0]));
	f->be[f->nr_be++] = be;
	assert_int_equal(nvmft_ns_add(f->ss, be, o, done_cb, &st, &ns), 0);
	for (int i = 0; i < 100000 && st == 1; i++)
		lt_env_poll(&f->env);
	assert_int_equal(st, 0);
	lt_env_settle(&f->env);
	return ns;
}

static struct nvmft_ns *add_malloc(struct fx *f, uint32_t nsid, uint64_t blocks, uint32_t bs)
{
	struct nvmft_ns *ns = lt_env_add_malloc_ns(&f->env, f->ss, nsid, blocks, bs);

	assert_non_null(ns);
	return ns;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct nvmft_subsystem_opts so;

	assert_non_null(f);
	assert_int_equal(lt_env_init(&f->env, NULL), 0);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = SS_NQN;
	so.serial_number = SS_SN;
	so.model_number = SS_MN;
	so.allow_any_host = true;
	assert_int_equal(nvmft_subsystem_new(f->env.tgt, &so, &f->ss), 0);
	assert_int_equal(nvmft_subsystem_add_listener(f->ss, f->env.listener), 0);
	add_malloc(f, 1, 2048, 512);
	f->aq = lt_connect_admin(&f->env, SS_NQN, LT_HOSTNQN, &f->cntlid);
	assert_non_null(f->aq);
	f->ctrlr = lt_qpair_core(f->aq)->ctrlr;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	lt_env_fini(&f->env);
	for (size_t i = 0; i < f->nr_be; i++)
		assert_int_equal(nvmft_backend_free(f->be[i]), 0);
	free(f);
	return 0;
}

static uint16_t identify(struct fx *f, uint8_t cns, uint32_t nsid, uint8_t csi)
{
	struct lt_cpl c;

	memset(f->buf, 0xa5, sizeof(f->buf));
	c = lt_identify(f->aq, cns, nsid, csi, f->buf);
	assert_true(c.done);
	return c.status;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static void assert_padded(const char *field, size_t size, const char *text)
{
	size_t n = strlen(text);

	assert_memory_equal(field, text, n);
	for (size_t i = n; i < size; i++)
		assert_int_equal(field[i], ' ');
}

static void test_ctrl_fields(void **state)
{
	struct fx *f = *state;
	const struct nvme_id_ctrl *id = (const struct nvme_id_ctrl *)f->buf;

	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CTRL, 0, 0), 0);
	assert_int_equal(le16toh(id->vid), 0);
	assert_int_equal(le16toh(id->ssvid), 0);
	assert_padded(id->sn, sizeof(id->sn), SS_SN);
	assert_padded(id->mn, sizeof(id->mn), SS_MN);
	assert_padded(id->fr, sizeof(id->fr), NVMFT_VERSION_STRING);
	assert_int_equal(id->rab, 6);
	assert_int_equal(id->cmic, NVME_CTRL_CMIC_MULTI_PORT | NVME_CTRL_CMIC_MULTI_CTRL);
	assert_int_equal(id->mdts, 5); /* 128 KiB default = 32 pages of 4 KiB */
	assert_int_equal(le16toh(id->cntlid), f->cntlid);
	assert_int_equal(le32toh(id->ver), 0x00020000);
	assert_int_equal(le32toh(id->rtd3r), 0);
	assert_int_equal(le32toh(id->rtd3e), 0);
	assert_int_equal(le32toh(id->oaes), NVME_CTRL_OAES_NA);
	assert_int_equal(le32toh(id->ctratt), NVME_CTRL_CTRATT_128_ID);
	assert_int_equal(id->cntrltype, NVME_CTRL_CNTRLTYPE_IO);
	assert_int_equal(le16toh(id->oacs), 0);
	assert_int_equal(id->acl, 3);
	assert_int_equal(id->aerl, 3);
	assert_int_equal(id->frmw, 0x3);
	assert_int_equal(id->lpa, NVME_CTRL_LPA_CMD_EFFECTS | NVME_CTRL_LPA_EXTENDED);
	assert_int_equal(id->elpe, 15);
	assert_int_equal(id->npss, 0);
	assert_int_equal(le16toh(id->wctemp), NVMFT_WCTEMP_K);
	assert_int_equal(le16toh(id->cctemp), NVMFT_CCTEMP_K);
	assert_int_equal(le16toh(id->kas), 1);
	assert_int_equal(id->sqes, 0x66);
	assert_int_equal(id->cqes, 0x44);
	assert_int_equal(le16toh(id->maxcmd), f->ctrlr->max_io_depth);
	assert_int_equal(le32toh(id->nn), 32);
	assert_int_equal(le16toh(id->oncs), NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM |
						   NVME_CTRL_ONCS_WRITE_ZEROES);
	assert_int_equal(le16toh(id->fuses), NVME_CTRL_FUSES_COMPARE_AND_WRITE);
	/* Always present (bits 2:1 = 11b, flush-all supported): see nvmft_admin_vwc_present(). */
	assert_int_equal(id->vwc, NVME_CTRL_VWC_PRESENT | 3 << 1);
	assert_int_equal(le16toh(id->awun), 0);
	assert_int_equal(le16toh(id->awupf), 0);
	assert_string_equal(id->subnqn, SS_NQN);
	assert_true(all_zero(id->subnqn + strlen(SS_NQN), sizeof(id->subnqn) - strlen(SS_NQN)));
	assert_int_equal(le16toh(id->ofcs), NVME_CTRL_OFCS_DISCONNECT);
	/* The transport's part (loop transport: 4 KiB in-capsule data, SGL support). */
	assert_int_equal(le32toh(id->ioccsz), (64 + 4096) / 16);
	assert_int_equal(le32toh(id->iorcsz), 1);
	assert_int_equal(id->msdbd, 1);
	assert_int_not_equal(le32toh(id->sgls), 0);
	assert_int_equal(id->dctype, 0);
}

static void test_ctrl_matches_direct_call(void **state)
{
	struct fx *f = *state;
	struct nvme_id_ctrl direct;

	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CTRL, 0xffffffff, 0), 0);
	memset(&direct, 0xff, sizeof(direct));
	nvmft_ctrlr_identify(f->ctrlr, &direct);
	assert_memory_equal(&direct, f->buf, sizeof(direct));
}

static void test_ctrl_mdts(void **state)
{
	struct fx *f = *state;
	const struct nvme_id_ctrl *id = (const struct nvme_id_ctrl *)f->buf;
	static const struct {
		uint32_t max_io;
		uint8_t mdts;
	} t[] = {
		{ 8192, 1 }, { 12288, 1 }, { 16384, 2 }, { 1u << 20, 8 }, { 8u << 20, 11 },
		{ 4096, 1 }, /* one page is not expressible: the smallest limit is reported */
		{ 0, 0 },    /* no limit */
	};
	uint32_t saved = f->ctrlr->tr->opts.max_io_size;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		f->ctrlr->tr->opts.max_io_size = t[i].max_io;
		assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CTRL, 0, 0), 0);
		assert_int_equal(id->mdts, t[i].mdts);
	}
	f->ctrlr->tr->opts.max_io_size = saved;
}

static void test_ctrl_vwc(void **state)
{
	struct fx *f = *state;
	const struct nvme_id_ctrl *id = (const struct nvme_id_ctrl *)f->buf;
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	struct tb *tb;

	assert_int_equal(tb_new("vwc", 64, 512, NVMFT_BACKEND_CAP_FLUSH, TB_INLINE, &tb, &be), 0);
	ns = add_ns(f, be, NULL);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CTRL, 0, 0), 0);
	assert_int_equal(id->vwc, NVME_CTRL_VWC_PRESENT | 3 << 1);
	assert_true(nvmft_admin_vwc_present(f->ctrlr));
	/*
	 * Still present with no cached namespace: a host reads Identify once and
	 * must keep flushing namespaces added later.
	 */
	assert_int_equal(lt_env_remove_ns(&f->env, ns), 0);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CTRL, 0, 0), 0);
	assert_int_equal(id->vwc, NVME_CTRL_VWC_PRESENT | 3 << 1);
	assert_true(nvmft_admin_vwc_present(f->ctrlr));
}

static void test_ns_fields(void **state)
{
	struct fx *f = *state;
	const struct nvme_id_ns *id = (const struct nvme_id_ns *)f->buf;
	uint8_t cap[16] = { 0 };
	uint64_t bytes = 2048ull * 512;

	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS, 1, 0), 0);
	assert_int_equal(le64toh(id->nsze), 2048);
	assert_int_equal(le64toh(id->ncap), 2048);
	assert_int_equal(le64toh(id->nuse), 2048);
	/* RAM: deallocation supported and reads zeroes afterwards; no optimal I/O size. */
	assert_int_equal(id->nsfeat, NVME_NS_FEAT_THIN);
	assert_int_equal(id->nlbaf, 0);
	assert_int_equal(id->flbas, 0);
	assert_int_equal(id->mc, 0);
	assert_int_equal(id->dpc, 0);
	assert_int_equal(id->dps, 0);
	assert_int_equal(id->nmic, NVME_NS_NMIC_SHARED);
	assert_int_equal(id->dlfeat, NVME_NS_DLFEAT_RB_ALL_0S | NVME_NS_DLFEAT_WRITE_ZEROES);
	assert_int_equal(le16toh(id->npwg), 0);
	assert_int_equal(le16toh(id->noiob), 0);
	assert_int_equal(id->nsattr, 0);
	for (int i = 0; i < 8; i++)
		cap[i] = (uint8_t)(bytes >> (8 * i));
	assert_memory_equal(id->nvmcap, cap, 16);
	assert_int_equal(id->lbaf[0].ds, 9);
	assert_int_equal(le16toh(id->lbaf[0].ms), 0);
	assert_true(all_zero(&id->lbaf[1], sizeof(id->lbaf) - sizeof(id->lbaf[0])));
}

static void test_ns_geometry_and_ids(void **state)
{
	struct fx *f = *state;
	const struct nvme_id_ns *id = (const struct nvme_id_ns *)f->buf;
	const uint8_t eui[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	const uint8_t nguid[16] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
				    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };
	struct nvmft_backend *be;
	struct nvmft_ns_opts o;
	uint8_t cap[16] = { 0 };

	struct nvmft_ns *ns;

	/* 4 KiB blocks, no deallocation, an optimal I/O size of 8 blocks, the largest size. */
	assert_int_equal(nvmft_backend_null_new("geo", (1ull << 52) - 1, 4096, &be), 0);
	be->caps = 0;
	be->optimal_io_blocks = 8;
	nvmft_ns_opts_init(&o, sizeof(o));
	o.nsid = 5;
	memcpy(o.eui64, eui, 8);
	memcpy(o.nguid, nguid, 16);
	o.read_only = true;
	ns = add_ns(f, be, &o);

	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS, 5, 0), 0);
	assert_int_equal(le64toh(id->nsze), (1ull << 52) - 1);
	assert_int_equal(id->lbaf[0].ds, 12);
	assert_int_equal(id->nsfeat, NVME_NS_FEAT_IO_OPT);
	assert_int_equal(le16toh(id->npwg), 7);
	assert_int_equal(le16toh(id->npwa), 7);
	assert_int_equal(le16toh(id->npdg), 7);
	assert_int_equal(le16toh(id->npda), 7);
	assert_int_equal(le16toh(id->nows), 7);
	assert_int_equal(le16toh(id->noiob), 8);
	assert_int_equal(id->dlfeat, 0);
	assert_int_equal(id->nsattr, NVME_NS_NSATTR_WRITE_PROTECTED);
	assert_memory_equal(id->eui64, eui, 8);
	assert_memory_equal(id->nguid, nguid, 16);
	memset(cap + 1, 0xff, 7);
	cap[1] = 0xf0; /* (2^52 - 1) * 2^12 = 2^64 - 2^12 */
	assert_memory_equal(id->nvmcap, cap, 16);

	/* NVMCAP is 128 bits wide: a (hypothetical) 2^64-byte namespace carries into byte 8. */
	ns->num_blocks = 1ull << 52;
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS, 5, 0), 0);
	memset(cap, 0, sizeof(cap));
	cap[8] = 1;
	assert_memory_equal(id->nvmcap, cap, 16);
	ns->num_blocks = (1ull << 52) - 1;
}

static void test_ns_inactive_and_invalid(void **state)
{
	struct fx *f = *state;

	/* In range but no namespace: a zero-filled structure. */
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS, 2, 0), 0);
	assert_true(all_zero(f->buf, sizeof(f->buf)));
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS, 32, 0), 0);
	assert_true(all_zero(f->buf, sizeof(f->buf)));
	/* 0, past NN, and FFFFFFFFh without Namespace Management. */
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS, 0, 0), ST_INVALID_NS);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS, 33, 0), ST_INVALID_NS);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS, 0xfffffffe, 0), ST_INVALID_NS);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS, 0xffffffff, 0), ST_INVALID_NS);
}

static void test_ns_removed_is_inactive(void **state)
{
	struct fx *f = *state;
	struct nvmft_ns *ns = add_malloc(f, 9, 16, 512);
	const __le32 *list = (const __le32 *)f->buf;

	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS, 9, 0), 0);
	assert_int_equal(le64toh(((const struct nvme_id_ns *)f->buf)->nsze), 16);
	assert_int_equal(lt_env_remove_ns(&f->env, ns), 0);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS, 9, 0), 0);
	assert_true(all_zero(f->buf, sizeof(f->buf)));
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0), 0);
	assert_int_equal(le32toh(list[0]), 1);
	assert_int_equal(le32toh(list[1]), 0);
}

static void check_list(const uint8_t *buf, const uint32_t *want, size_t n)
{
	const __le32 *list = (const __le32 *)buf;

	for (size_t i = 0; i < n; i++)
		assert_int_equal(le32toh(list[i]), want[i]);
	assert_true(all_zero(list + n, 4096 - n * 4));
}

static void test_active_list(void **state)
{
	struct fx *f = *state;
	const uint32_t all[] = { 1, 3, 7, 32 };

	add_malloc(f, 7, 8, 512);
	add_malloc(f, 3, 8, 512);
	add_malloc(f, 32, 8, 512);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0), 0);
	check_list(f->buf, all, 4);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 1, 0), 0);
	check_list(f->buf, all + 1, 3);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 4, 0), 0);
	check_list(f->buf, all + 2, 2);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 32, 0), 0);
	check_list(f->buf, all, 0);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 1000, 0), 0);
	check_list(f->buf, all, 0);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0xfffffffe, 0), ST_INVALID_NS);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0xffffffff, 0), ST_INVALID_NS);

	/* CNS 07h: the same list for the NVM command set, nothing for others. */
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_NS_ACTIVE_LIST, 2, NVME_CSI_NVM), 0);
	check_list(f->buf, all + 1, 3);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_NS_ACTIVE_LIST, 0, NVME_CSI_ZNS),
			 ST_INVALID_FIELD);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_NS_ACTIVE_LIST, 0xffffffff, NVME_CSI_NVM),
			 ST_INVALID_NS);
}

/* More than 1024 namespaces: the list stops at 1024 entries and continues after the last. */
static void test_active_list_limit(void **state)
{
	struct fx *f = *state;
	struct nvmft_subsystem_opts so;
	struct nvmft_subsystem *big;
	struct lt_qpair *aq;
	const __le32 *list = (const __le32 *)f->buf;
	struct lt_cpl c;

	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = "nqn.2016-06.io.nvmft:many";
	so.max_namespaces = 1100;
	so.allow_any_host = true;
	assert_int_equal(nvmft_subsystem_new(f->env.tgt, &so, &big), 0);
	assert_int_equal(nvmft_subsystem_add_listener(big, f->env.listener), 0);
	for (uint32_t nsid = 1; nsid <= 1030; nsid++) {
		struct nvmft_backend *be;
		char name[32];
		struct nvmft_ns_opts o;
		struct nvmft_ns *ns;
		int st = 1;

		snprintf(name, sizeof(name), "null-%u", nsid);
		assert_int_equal(nvmft_backend_null_new(name, 8, 512, &be), 0);
		f->be[f->nr_be++] = be;
		nvmft_ns_opts_init(&o, sizeof(o));
		o.nsid = nsid;
		assert_int_equal(nvmft_ns_add(big, be, &o, done_cb, &st, &ns), 0);
		for (int i = 0; i < 100000 && st == 1; i++)
			lt_env_poll(&f->env);
		assert_int_equal(st, 0);
	}
	lt_env_settle(&f->env);
	aq = lt_connect_admin(&f->env, so.nqn, LT_HOSTNQN, NULL);
	assert_non_null(aq);
	c = lt_identify(aq, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0, f->buf);
	assert_int_equal(c.status, 0);
	for (uint32_t i = 0; i < 1024; i++)
		assert_int_equal(le32toh(list[i]), i + 1);
	c = lt_identify(aq, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 1024, 0, f->buf);
	assert_int_equal(c.status, 0);
	for (uint32_t i = 0; i < 6; i++)
		assert_int_equal(le32toh(list[i]), 1025 + i);
	assert_int_equal(le32toh(list[6]), 0);
}

struct desc {
	uint8_t nidt, nidl;
	const uint8_t *nid;
};

/* Walk a descriptor list and return the number of descriptors, checking the terminator. */
static size_t parse_descs(const uint8_t *buf, struct desc *out, size_t max)
{
	size_t off = 0, n = 0;

	while (off + 4 <= 4096 && buf[off + 1] != 0) {
		assert_true(n < max);
		out[n].nidt = buf[off];
		out[n].nidl = buf[off + 1];
		out[n].nid = buf + off + 4;
		assert_int_equal(buf[off + 2], 0);
		assert_int_equal(buf[off + 3], 0);
		off += 4 + buf[off + 1];
		n++;
	}
	assert_true(all_zero(buf + off, 4096 - off));
	return n;
}

static void test_desc_list(void **state)
{
	struct fx *f = *state;
	const uint8_t eui[8] = { 0xe0, 1, 2, 3, 4, 5, 6, 7 };
	const uint8_t nguid[16] = { 0x90, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	const uint8_t uuid[16] = { 0x40, 1, 2, 3, 4, 5, 0x46, 7, 0x88, 9, 10, 11, 12, 13, 14, 15 };
	struct nvmft_backend *be;
	struct nvmft_ns_opts o;
	struct desc d[8];
	uint8_t got_uuid[16];
	size_t n;

	assert_int_equal(nvmft_backend_malloc_new("ids", 8, 512, &be), 0);
	nvmft_ns_opts_init(&o, sizeof(o));
	o.nsid = 4;
	memcpy(o.eui64, eui, 8);
	memcpy(o.nguid, nguid, 16);
	memcpy(o.uuid, uuid, 16);
	add_ns(f, be, &o);

	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_DESC_LIST, 4, 0), 0);
	n = parse_descs(f->buf, d, 8);
	assert_int_equal(n, 4);
	assert_int_equal(d[0].nidt, NVME_NIDT_EUI64);
	assert_int_equal(d[0].nidl, 8);
	assert_memory_equal(d[0].nid, eui, 8);
	assert_int_equal(d[1].nidt, NVME_NIDT_NGUID);
	assert_int_equal(d[1].nidl, 16);
	assert_memory_equal(d[1].nid, nguid, 16);
	assert_int_equal(d[2].nidt, NVME_NIDT_UUID);
	assert_int_equal(d[2].nidl, 16);
	assert_memory_equal(d[2].nid, uuid, 16);
	assert_int_equal(d[3].nidt, NVME_NIDT_CSI);
	assert_int_equal(d[3].nidl, 1);
	assert_int_equal(d[3].nid[0], NVME_CSI_NVM);

	/* Namespace 1 got a generated UUID and nothing else: UUID then CSI. */
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_DESC_LIST, 1, 0), 0);
	n = parse_descs(f->buf, d, 8);
	assert_int_equal(n, 2);
	assert_int_equal(d[0].nidt, NVME_NIDT_UUID);
	nvmft_ns_get_uuid(nvmft_ns_find(f->ss, 1), got_uuid);
	assert_memory_equal(d[0].nid, got_uuid, 16);
	assert_int_equal(d[1].nidt, NVME_NIDT_CSI);

	/* Only active namespaces have descriptors. */
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_DESC_LIST, 2, 0), ST_INVALID_NS);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_DESC_LIST, 0, 0), ST_INVALID_NS);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_NS_DESC_LIST, 0xffffffff, 0), ST_INVALID_NS);
}

static void test_csi_ns_and_ctrl(void **state)
{
	struct fx *f = *state;

	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_NS, 1, NVME_CSI_NVM), 0);
	assert_true(all_zero(f->buf, sizeof(f->buf)));
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_NS, 2, NVME_CSI_NVM), 0);
	assert_true(all_zero(f->buf, sizeof(f->buf)));
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_NS, 0, NVME_CSI_NVM), ST_INVALID_NS);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_NS, 1, NVME_CSI_ZNS), ST_INVALID_FIELD);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_NS, 1, NVME_CSI_KV), ST_INVALID_FIELD);

	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_CTRL, 0, NVME_CSI_NVM), 0);
	assert_true(all_zero(f->buf, sizeof(f->buf)));
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_CTRL, 0, NVME_CSI_ZNS), ST_INVALID_FIELD);
}

static void test_indep_ns(void **state)
{
	struct fx *f = *state;
	const struct nvme_id_independent_id_ns *id = (const struct nvme_id_independent_id_ns *)f->buf;
	struct nvmft_backend *be;
	struct nvmft_ns_opts o;

	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_INDEPENDENT_ID_NS, 1, 0), 0);
	assert_int_equal(id->nmic, NVME_NS_NMIC_SHARED);
	assert_int_equal(id->nstat, 1);
	assert_int_equal(id->nsattr, 0);
	assert_int_equal(id->nsfeat, 0);
	assert_true(all_zero(id->rsvd15, sizeof(id->rsvd15)));

	assert_int_equal(nvmft_backend_malloc_new("ro", 8, 512, &be), 0);
	nvmft_ns_opts_init(&o, sizeof(o));
	o.nsid = 6;
	o.read_only = true;
	add_ns(f, be, &o);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_INDEPENDENT_ID_NS, 6, 0), 0);
	assert_int_equal(id->nsattr, NVME_NS_NSATTR_WRITE_PROTECTED);

	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_INDEPENDENT_ID_NS, 2, 0), 0);
	assert_true(all_zero(f->buf, sizeof(f->buf)));
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_INDEPENDENT_ID_NS, 0, 0), ST_INVALID_NS);
	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_CSI_INDEPENDENT_ID_NS, 0xffffffff, 0),
			 ST_INVALID_NS);
}

static void test_iocs(void **state)
{
	struct fx *f = *state;
	const struct nvme_id_iocs *id = (const struct nvme_id_iocs *)f->buf;

	assert_int_equal(identify(f, NVME_IDENTIFY_CNS_COMMAND_SET_STRUCTURE, 0, 0), 0);
	assert_int_equal(le64toh(id->iocsc[0]), 1);
	assert_true(all_zero(&id->iocsc[1], sizeof(id->iocsc) - sizeof(id->iocsc[0])));
}

static void test_unknown_cns(void **state)
{
	struct fx *f = *state;
	const uint8_t bad[] = { 0x04, 0x09, 0x0a, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
				0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1d, 0x20, 0xff };

	for (size_t i = 0; i < sizeof(bad); i++)
		assert_int_equal(identify(f, bad[i], 1, 0), ST_INVALID_FIELD);
}

static void test_wrong_length(void **state)
{
	struct fx *f = *state;
	const uint32_t lens[] = { 0, 4, 512, 4092, 4100, 8192 };
	struct nvmft_cmd c = { 0 };
	static uint8_t big[8192];

	c.opcode = nvme_admin_identify;
	c.cdw10 = htole32(NVME_IDENTIFY_CNS_CTRL);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct lt_cpl r = lt_cmd(f->aq, &c, big, lens[i]);

		assert_true(r.done);
		assert_int_equal(r.status, ST_SGL_LENGTH);
	}
	/* The length is checked before the CNS. */
	c.cdw10 = htole32(0xff);
	assert_int_equal(lt_cmd(f->aq, &c, big, 512).status, ST_SGL_LENGTH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ctrl_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_matches_direct_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_mdts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_vwc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ns_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ns_geometry_and_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ns_inactive_and_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ns_removed_is_inactive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_list_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_desc_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csi_ns_and_ctrl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indep_ns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iocs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_cns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_length, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
