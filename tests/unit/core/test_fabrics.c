/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fabrics commands: Connect (every rejection), Property Get/Set, Disconnect,
 * the CC state machine, and what a controller that is not enabled (or is
 * shut down) refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ctrlr.h"
#include "core/qpair.h"
#include "loop_transport.h"

#define NQN "nqn.2024-01.io.example:fabrics"
#define HOST2 "nqn.2024-01.io.example:host2"

#define ST(sct, sc) NVMFT_STATUS(sct, sc)
#define ST_DNR(sct, sc) NVMFT_STATUS_DNR(sct, sc)
#define ST_SEQ ST_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR)
/* EN, IOSQES 6, IOCQES 4: what a Linux host writes. */
#define CC_ENABLE (1u | 6u << 16 | 4u << 20)

static int setup(void **state)
{
	static struct lt_env env;

	if (lt_env_init(&env, NULL) != 0)
		return -1;
	if (lt_env_add_subsystem(&env, NQN, true) == NULL)
		return -1;
	if (lt_env_add_malloc_ns(&env, env.ss, 1, 1024, 512) == NULL)
		return -1;
	*state = &env;
	return 0;
}

static int teardown(void **state)
{
	lt_env_fini(*state);
	return 0;
}

static void assert_invalid_param(struct lt_cpl r, uint8_t iattr, uint16_t ipo)
{
	assert_true(r.done);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM));
	assert_int_equal(r.cpl.invalid.iattr, iattr);
	assert_int_equal(le16toh(r.cpl.invalid.ipo), ipo);
}

static void test_connect_admin_ok(void **state)
{
	struct lt_env *env = *state;
	struct lt_qpair *q = lt_qpair_new(env, 0);
	uint64_t v;
	struct lt_cpl r = lt_connect_raw(q, 0, 31, 10000, 0xffff, NQN, LT_HOSTNQN);

	assert_true(r.done);
	assert_int_equal(r.status, 0);
	assert_true(le16toh(r.cpl.connect.cntlid) >= 1 && le16toh(r.cpl.connect.cntlid) <= 0xffef);
	assert_int_equal(le16toh(r.cpl.sqid), 0);

	r = lt_prop_get(q, NVME_REG_CAP, true, &v);
	assert_int_equal(r.status, 0);
	assert_int_equal(v & 0xffff, 127);        /* MQES: 128 entries */
	assert_true(v & (1ull << 37));            /* NVM command set */
	r = lt_prop_get(q, NVME_REG_VS, false, &v);
	assert_int_equal(r.status, 0);
	assert_int_equal(v, 0x00020000);
	r = lt_prop_get(q, NVME_REG_CSTS, false, &v);
	assert_int_equal(v & NVMFT_CSTS_RDY, 0);
	r = lt_prop_set(q, NVME_REG_CC, 1u | 6u << 16 | 4u << 20);
	assert_int_equal(r.status, 0);
	r = lt_prop_get(q, NVME_REG_CSTS, false, &v);
	assert_int_equal(v & NVMFT_CSTS_RDY, NVMFT_CSTS_RDY);
	r = lt_prop_get(q, NVME_REG_CC, false, &v);
	assert_int_equal(v, 1u | 6u << 16 | 4u << 20);
	lt_qpair_close(q);
}

static void test_connect_rejections(void **state)
{
	struct lt_env *env = *state;
	struct lt_qpair *q = lt_qpair_new(env, 0);
	struct nvmft_connect_cmd c = { 0 };
	struct nvmf_connect_data d;
	struct lt_cpl r;

	/* Unknown subsystem: the subnqn field of the data is to blame. */
	r = lt_connect_raw(q, 0, 31, 0, 0xffff, "nqn.2024-01.io.example:nope", LT_HOSTNQN);
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_DATA, 256);
	/* Malformed NQNs. */
	r = lt_connect_raw(q, 0, 31, 0, 0xffff, "not-an-nqn", LT_HOSTNQN);
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_DATA, 256);
	r = lt_connect_raw(q, 0, 31, 0, 0xffff, NQN, "bogus host");
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_DATA, 512);
	/* Admin queue must ask for a dynamic controller. */
	r = lt_connect_raw(q, 0, 31, 0, 5, NQN, LT_HOSTNQN);
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_DATA, 16);
	/* Admin queue of fewer than 32 entries, or more than the transport allows. */
	r = lt_connect_raw(q, 0, 30, 0, 0xffff, NQN, LT_HOSTNQN);
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_CMD, 44);
	r = lt_connect_raw(q, 0, 4096, 0, 0xffff, NQN, LT_HOSTNQN);
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_CMD, 44);

	/* RECFMT other than 0. */
	memset(&d, 0, sizeof(d));
	strcpy(d.subsysnqn, NQN);
	strcpy(d.hostnqn, LT_HOSTNQN);
	d.cntlid = htole16(0xffff);
	c.opcode = NVMFT_OPC_FABRICS;
	c.fctype = NVMFT_FCTYPE_CONNECT;
	c.sqsize = htole16(31);
	c.recfmt = htole16(1);
	r = lt_cmd(q, (struct nvmft_cmd *)&c, &d, sizeof(d));
	assert_int_equal(r.status, ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_FORMAT));
	/* Connect data of the wrong length. */
	c.recfmt = 0;
	r = lt_cmd(q, (struct nvmft_cmd *)&c, &d, 512);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA));

	/* After all those failures the same queue still connects. */
	r = lt_connect_raw(q, 0, 31, 0, 0xffff, NQN, LT_HOSTNQN);
	assert_int_equal(r.status, 0);
	/* ...but only once. */
	r = lt_connect_raw(q, 0, 31, 0, 0xffff, NQN, LT_HOSTNQN);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR));
	lt_qpair_close(q);
}

static void test_command_before_connect(void **state)
{
	struct lt_env *env = *state;
	struct lt_qpair *q = lt_qpair_new(env, 0);
	uint8_t buf[4096];
	struct lt_cpl r;

	r = lt_identify(q, 1, 0, 0, buf);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR));
	r = lt_prop_get(q, NVME_REG_CAP, true, NULL);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR));
	lt_qpair_close(q);
	assert_true(lt_qpair_is_dead(q));
}

static void test_host_not_allowed(void **state)
{
	struct lt_env *env = *state;
	struct nvmft_subsystem *ss = lt_env_add_subsystem(env, "nqn.2024-01.io.example:closed", false);
	struct lt_qpair *q, *ok;
	struct lt_cpl r;

	assert_non_null(ss);
	assert_int_equal(nvmft_subsystem_add_host(ss, HOST2), 0);
	q = lt_qpair_new(env, 0);
	r = lt_connect_raw(q, 0, 31, 0, 0xffff, "nqn.2024-01.io.example:closed", LT_HOSTNQN);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST));
	/* The path stays fine: an allowed host connects through the same listener. */
	ok = lt_connect_admin(env, "nqn.2024-01.io.example:closed", HOST2, NULL);
	assert_non_null(ok);
	lt_qpair_close(q);
	lt_qpair_close(ok);
}

/*
 * SPDK's initiator sends an empty host NQN unless given one: an open
 * subsystem takes it (I/O queues included), a host list never matches it,
 * and a malformed non-empty one is still refused.
 */
static void test_empty_host_nqn(void **state)
{
	struct lt_env *env = *state;
	struct nvmft_subsystem *open_ss = lt_env_add_subsystem(env, "nqn.2024-01.io.example:open", true);
	struct nvmft_subsystem *closed = lt_env_add_subsystem(env, "nqn.2024-01.io.example:shut", false);
	struct lt_qpair *aq, *iq, *q;
	uint16_t cntlid;
	struct lt_cpl r;

	assert_non_null(open_ss);
	assert_non_null(closed);
	assert_int_equal(nvmft_subsystem_add_host(closed, HOST2), 0);
	aq = lt_connect_admin(env, "nqn.2024-01.io.example:open", "", &cntlid);
	assert_non_null(aq);
	iq = lt_qpair_new(env, 0);
	r = lt_connect_raw(iq, 1, 31, 0, cntlid, "nqn.2024-01.io.example:open", "");
	assert_int_equal(r.status, 0);
	q = lt_qpair_new(env, 0);
	r = lt_connect_raw(q, 0, 31, 0, 0xffff, "nqn.2024-01.io.example:shut", "");
	assert_int_equal(r.status, ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST));
	lt_qpair_close(q);
	q = lt_qpair_new(env, 0);
	r = lt_connect_raw(q, 0, 31, 0, 0xffff, "nqn.2024-01.io.example:open", "not-an-nqn");
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_DATA, 512);
	lt_qpair_close(q);
	lt_qpair_close(iq);
	lt_qpair_close(aq);
}

static void test_listener_not_in_subsystem(void **state)
{
	struct lt_env *env = *state;
	struct nvmft_subsystem_opts so;
	struct nvmft_subsystem *ss;
	struct lt_qpair *q;
	struct lt_cpl r;

	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = "nqn.2024-01.io.example:nolistener";
	so.allow_any_host = true;
	assert_int_equal(nvmft_subsystem_new(env->tgt, &so, &ss), 0);
	q = lt_qpair_new(env, 0);
	r = lt_connect_raw(q, 0, 31, 0, 0xffff, so.nqn, LT_HOSTNQN);
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_DATA, 256);
	lt_qpair_close(q);
}

static void test_io_connect(void **state)
{
	struct lt_env *env = *state;
	struct lt_qpair *aq, *q, *iq;
	uint16_t cntlid;
	struct lt_cpl r;

	/* Controller not enabled yet: I/O queues must wait. */
	aq = lt_qpair_new(env, 0);
	r = lt_connect_raw(aq, 0, 31, 0, 0xffff, NQN, LT_HOSTNQN);
	assert_int_equal(r.status, 0);
	cntlid = le16toh(r.cpl.connect.cntlid);
	q = lt_qpair_new(env, 0);
	r = lt_connect_raw(q, 1, 127, 0, cntlid, NQN, LT_HOSTNQN);
	assert_int_equal(r.status, ST(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR));
	assert_int_equal(lt_prop_set(aq, NVME_REG_CC, 1u | 6u << 16 | 4u << 20).status, 0);

	/* Wrong controller, wrong host, bad qid, bad size. */
	r = lt_connect_raw(q, 1, 127, 0, (uint16_t)(cntlid + 100), NQN, LT_HOSTNQN);
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_DATA, 16);
	r = lt_connect_raw(q, 1, 127, 0, cntlid, NQN, HOST2);
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_DATA, 512);
	r = lt_connect_raw(q, 500, 127, 0, cntlid, NQN, LT_HOSTNQN);
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_CMD, 42);
	r = lt_connect_raw(q, 1, 0, 0, cntlid, NQN, LT_HOSTNQN);
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_CMD, 44);
	r = lt_connect_raw(q, 1, 128, 0, cntlid, NQN, LT_HOSTNQN);
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_CMD, 44);

	r = lt_connect_raw(q, 1, 127, 0, cntlid, NQN, LT_HOSTNQN);
	assert_int_equal(r.status, 0);
	assert_int_equal(le16toh(r.cpl.connect.cntlid), cntlid);
	/* The same queue ID twice. */
	iq = lt_qpair_new(env, 0);
	r = lt_connect_raw(iq, 1, 127, 0, cntlid, NQN, LT_HOSTNQN);
	assert_invalid_param(r, NVMFT_CONNECT_IATTR_CMD, 42);
	/* Property commands belong to the admin queue. */
	r = lt_prop_get(q, NVME_REG_CAP, true, NULL);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));

	/* Disconnect: not on the admin queue; on an I/O queue it ends that queue only. */
	{
		struct nvmft_disconnect_cmd dc = { 0 };

		dc.opcode = NVMFT_OPC_FABRICS;
		dc.fctype = NVMFT_FCTYPE_DISCONNECT;
		r = lt_cmd(aq, (struct nvmft_cmd *)&dc, NULL, 0);
		assert_int_equal(r.status, ST_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_DISCONNECT_INVALID_QTYPE));
		r = lt_cmd(q, (struct nvmft_cmd *)&dc, NULL, 0);
		assert_int_equal(r.status, 0);
		lt_env_settle(env);
		assert_true(lt_qpair_is_dead(q));
		assert_false(lt_qpair_is_dead(aq));
	}
	/* The queue ID is free again. */
	r = lt_connect_raw(iq, 1, 127, 0, cntlid, NQN, LT_HOSTNQN);
	assert_int_equal(r.status, 0);

	/* Closing the admin queue takes the I/O queues with it. */
	lt_qpair_close(aq);
	assert_true(lt_qpair_is_dead(iq));
}

static void test_properties(void **state)
{
	struct lt_env *env = *state;
	struct lt_qpair *aq = lt_connect_admin(env, NQN, LT_HOSTNQN, NULL);
	struct nvmft_prop_cmd c = { 0 };
	uint64_t v;
	struct lt_cpl r;

	assert_non_null(aq);
	/* CAP is 8 bytes; reading it as 4 is the wrong size. */
	r = lt_prop_get(aq, NVME_REG_CAP, false, &v);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
	r = lt_prop_get(aq, NVME_REG_CAP + 4, false, &v);
	assert_int_equal(r.status, 0);
	assert_int_equal(v, 1u << 5); /* CSS bit 37 seen from the upper half */
	r = lt_prop_get(aq, 0x50, false, &v);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
	r = lt_prop_get(aq, NVME_REG_CSTS, true, &v);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
	/* Only CC is writable. */
	r = lt_prop_set(aq, NVME_REG_CSTS, 0);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
	r = lt_prop_set(aq, NVME_REG_VS, 0);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
	/* Reserved size encoding. */
	c.opcode = NVMFT_OPC_FABRICS;
	c.fctype = NVMFT_FCTYPE_PROPERTY_GET;
	c.attrib = 3;
	c.offset = htole32(NVME_REG_VS);
	r = lt_cmd(aq, (struct nvmft_cmd *)&c, NULL, 0);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
	/* Unknown fabrics command type. */
	c.fctype = 0x22;
	r = lt_cmd(aq, (struct nvmft_cmd *)&c, NULL, 0);
	assert_int_equal(r.status, ST_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE));
	/* Page sizes other than 4 KiB make the controller fail (CSTS.CFS). */
	r = lt_prop_set(aq, NVME_REG_CC, 0);
	assert_int_equal(r.status, 0);
	r = lt_prop_set(aq, NVME_REG_CC, 1u | 1u << 7);
	assert_int_equal(r.status, 0);
	lt_prop_get(aq, NVME_REG_CSTS, false, &v);
	assert_int_equal(v & (NVMFT_CSTS_CFS | NVMFT_CSTS_RDY), NVMFT_CSTS_CFS);
	lt_qpair_close(aq);
}

static void test_reset_and_shutdown(void **state)
{
	struct lt_env *env = *state;
	uint16_t cntlid;
	struct lt_qpair *aq = lt_connect_admin(env, NQN, LT_HOSTNQN, &cntlid);
	struct lt_qpair *iq;
	uint64_t v;

	assert_non_null(aq);
	iq = lt_connect_io(env, NQN, LT_HOSTNQN, cntlid, 1, 31);
	assert_non_null(iq);
	/* CC.EN 1 -> 0: I/O queues go, RDY drops, the admin queue stays. */
	assert_int_equal(lt_prop_set(aq, NVME_REG_CC, 0).status, 0);
	lt_env_settle(env);
	assert_true(lt_qpair_is_dead(iq));
	assert_false(lt_qpair_is_dead(aq));
	lt_prop_get(aq, NVME_REG_CSTS, false, &v);
	assert_int_equal(v & NVMFT_CSTS_RDY, 0);
	/* Enable again and reconnect the same queue ID. */
	assert_int_equal(lt_prop_set(aq, NVME_REG_CC, 1u | 6u << 16 | 4u << 20).status, 0);
	iq = lt_connect_io(env, NQN, LT_HOSTNQN, cntlid, 1, 31);
	assert_non_null(iq);
	/* Normal shutdown: SHST goes to complete once the I/O queues are gone. */
	assert_int_equal(lt_prop_set(aq, NVME_REG_CC, 1u | 6u << 16 | 4u << 20 | 1u << 14).status, 0);
	lt_env_settle(env);
	assert_true(lt_qpair_is_dead(iq));
	lt_prop_get(aq, NVME_REG_CSTS, false, &v);
	assert_int_equal(v & NVMFT_CSTS_SHST_MASK, NVMFT_CSTS_SHST_CMPLT);
	lt_qpair_close(aq);
}

static void test_keep_alive_expiry(void **state)
{
	struct lt_env *env = *state;
	struct lt_qpair *q = lt_qpair_new(env, 0);
	struct nvmft_cmd ka = { .opcode = nvme_admin_keep_alive };
	struct lt_cpl r = lt_connect_raw(q, 0, 31, 200, 0xffff, NQN, LT_HOSTNQN);

	assert_int_equal(r.status, 0);
	/* Keep Alive is an admin command: only an enabled controller takes it. */
	assert_int_equal(lt_prop_set(q, NVME_REG_CC, CC_ENABLE).status, 0);
	/* Keep Alives within the timeout keep it alive... */
	for (int i = 0; i < 5; i++) {
		usleep(60 * 1000);
		r = lt_cmd(q, &ka, NULL, 0);
		assert_int_equal(r.status, 0);
	}
	assert_false(lt_qpair_is_dead(q));
	/* ...silence for longer than KATO ends the controller (bounded wait). */
	for (int i = 0; i < 300 && !lt_qpair_is_dead(q); i++) {
		usleep(10 * 1000);
		lt_env_poll(env);
	}
	assert_true(lt_qpair_is_dead(q));
}

static void test_cntlid_range(void **state)
{
	struct lt_env *env = *state;
	struct nvmft_subsystem_opts so;
	struct nvmft_subsystem *ss;
	struct lt_qpair *a, *b, *c;
	uint16_t id1, id2;

	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = "nqn.2024-01.io.example:two-ctrlrs";
	so.allow_any_host = true;
	so.min_cntlid = 10;
	so.max_cntlid = 11;
	assert_int_equal(nvmft_subsystem_new(env->tgt, &so, &ss), 0);
	assert_int_equal(nvmft_subsystem_add_listener(ss, env->listener), 0);
	a = lt_connect_admin(env, so.nqn, LT_HOSTNQN, &id1);
	b = lt_connect_admin(env, so.nqn, LT_HOSTNQN, &id2);
	assert_non_null(a);
	assert_non_null(b);
	assert_true(id1 >= 10 && id1 <= 11 && id2 >= 10 && id2 <= 11 && id1 != id2);
	/* No ID left: Controller Busy. */
	c = lt_qpair_new(env, 0);
	assert_int_equal(lt_connect_raw(c, 0, 31, 0, 0xffff, so.nqn, LT_HOSTNQN).status,
			 ST(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_CTRL_BUSY));
	lt_qpair_close(a);
	assert_int_equal(lt_connect_raw(c, 0, 31, 0, 0xffff, so.nqn, LT_HOSTNQN).status, 0);
	lt_qpair_close(b);
	lt_qpair_close(c);
}

/* Identify, Get Log Page, Keep Alive and AER on @q; each must end with @want. */
static void assert_admin_cmds(struct lt_qpair *q, uint16_t want)
{
	struct nvmft_cmd ka = { .opcode = nvme_admin_keep_alive };
	uint8_t buf[4096];
	struct lt_cpl r;

	r = lt_identify(q, NVME_IDENTIFY_CNS_CTRL, 0, 0, buf);
	assert_true(r.done);
	assert_int_equal(r.status, want);
	r = lt_get_log(q, NVME_LOG_LID_ERROR, 0xffffffff, 0, buf, 64);
	assert_true(r.done);
	assert_int_equal(r.status, want);
	r = lt_cmd(q, &ka, NULL, 0);
	assert_true(r.done);
	assert_int_equal(r.status, want);
}

/*
 * Before CC.EN = 1 and CSTS.RDY = 1, and after a reset or a shutdown, only
 * Fabrics commands are processed: the rest end with Command Sequence Error
 * and DNR.
 */
static void test_admin_needs_enabled_controller(void **state)
{
	struct lt_env *env = *state;
	struct lt_qpair *q = lt_qpair_new(env, 0);
	struct nvmft_cmd aer = { .opcode = nvme_admin_async_event };
	uint64_t v;
	struct lt_cpl r;

	assert_int_equal(lt_connect_raw(q, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, NQN, LT_HOSTNQN).status, 0);
	assert_admin_cmds(q, ST_SEQ);
	/* An AER is refused too, not parked for a controller that is not running. */
	r = lt_cmd(q, &aer, NULL, 0);
	assert_true(r.done);
	assert_int_equal(r.status, ST_SEQ);
	/* Fabrics commands still work. */
	assert_int_equal(lt_prop_get(q, NVME_REG_CSTS, false, &v).status, 0);
	assert_int_equal(v, 0);

	/* Enabled: the same commands succeed. */
	assert_int_equal(lt_prop_set(q, NVME_REG_CC, CC_ENABLE).status, 0);
	assert_admin_cmds(q, 0);

	/* Reset (CC.EN 1 -> 0): refused again, and again accepted once re-enabled. */
	assert_int_equal(lt_prop_set(q, NVME_REG_CC, 0).status, 0);
	lt_env_settle(env);
	assert_admin_cmds(q, ST_SEQ);
	assert_int_equal(lt_prop_set(q, NVME_REG_CC, CC_ENABLE).status, 0);
	assert_admin_cmds(q, 0);

	/* Shutdown: RDY stays 1, but a shut-down controller runs nothing until a reset. */
	assert_int_equal(lt_prop_set(q, NVME_REG_CC, CC_ENABLE | NVME_CC_SHN_NORMAL << 14).status, 0);
	lt_env_settle(env);
	assert_int_equal(lt_prop_get(q, NVME_REG_CSTS, false, &v).status, 0);
	assert_int_equal(v & (NVMFT_CSTS_RDY | NVMFT_CSTS_SHST_MASK), NVMFT_CSTS_RDY | NVMFT_CSTS_SHST_CMPLT);
	assert_admin_cmds(q, ST_SEQ);
	/* A controller that failed to enable (CSTS.CFS, no RDY) refuses them as well. */
	assert_int_equal(lt_prop_set(q, NVME_REG_CC, 0).status, 0);
	lt_env_settle(env);
	assert_int_equal(lt_prop_set(q, NVME_REG_CC, 1u).status, 0); /* IOSQES/IOCQES 0 */
	assert_int_equal(lt_prop_get(q, NVME_REG_CSTS, false, &v).status, 0);
	assert_int_equal(v & (NVMFT_CSTS_RDY | NVMFT_CSTS_CFS), NVMFT_CSTS_CFS);
	assert_admin_cmds(q, ST_SEQ);
	lt_qpair_close(q);
}

/* The discovery controller follows the same rule. */
static void test_discovery_needs_enabled_controller(void **state)
{
	struct lt_env *env = *state;
	struct lt_qpair *q = lt_qpair_new(env, 0);
	uint8_t buf[4096];

	assert_int_equal(lt_connect_raw(q, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, NVMFT_DISCOVERY_NQN,
					LT_HOSTNQN).status, 0);
	assert_int_equal(lt_get_log(q, NVME_LOG_LID_DISCOVER, 0, 0, buf, 1024).status, ST_SEQ);
	assert_int_equal(lt_identify(q, NVME_IDENTIFY_CNS_CTRL, 0, 0, buf).status, ST_SEQ);
	assert_int_equal(lt_prop_set(q, NVME_REG_CC, CC_ENABLE).status, 0);
	assert_int_equal(lt_get_log(q, NVME_LOG_LID_DISCOVER, 0, 0, buf, 1024).status, 0);
	assert_int_equal(lt_identify(q, NVME_IDENTIFY_CNS_CTRL, 0, 0, buf).status, 0);
	lt_qpair_close(q);
}

/* A peer that never sends Connect loses its connection at the deadline; one that does keeps it. */
static void test_connect_deadline(void **state)
{
	struct nvmft_target_opts to;
	struct lt_env env;
	struct lt_qpair *idle, *ok;

	(void)state;
	nvmft_target_opts_init(&to, sizeof(to));
	to.connect_timeout_ms = 100;
	assert_int_equal(lt_env_init_tgt(&env, NULL, &to), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	idle = lt_qpair_new(&env, 0);
	ok = lt_connect_admin(&env, NQN, LT_HOSTNQN, NULL);
	assert_non_null(ok);
	for (int i = 0; i < 300 && !lt_qpair_is_dead(idle); i++) {
		usleep(10 * 1000);
		lt_env_poll(&env);
	}
	assert_true(lt_qpair_is_dead(idle));
	/* Well past the deadline, the connected queue still works. */
	assert_int_equal(lt_cmd(ok, &(struct nvmft_cmd){ .opcode = nvme_admin_keep_alive }, NULL, 0).status, 0);
	assert_false(lt_qpair_is_dead(ok));
	to.connect_timeout_ms = 0;
	{
		struct nvmft_target *t = (struct nvmft_target *)0x1;

		assert_int_equal(nvmft_target_new(&to, &t), -EINVAL);
		assert_ptr_equal(t, (struct nvmft_target *)0x1);
	}
	lt_env_fini(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connect_admin_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_rejections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_before_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_host_nqn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_not_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listener_not_in_subsystem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_properties, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_and_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cntlid_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_needs_enabled_controller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discovery_needs_enabled_controller, setup, teardown),
		cmocka_unit_test(test_connect_deadline),
	};

	return cmocka_run_group_tests_name("fabrics", tests, NULL, NULL);
}
