/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The core must not close a backend channel from inside that channel's own
 * channel_poll() (it once did).
 *
 * A namespace is being removed and waits for its last request, which sits
 * in a backend that completes from channel_poll() (as the uring backend
 * does); the host's connection is gone, so the transport releases the
 * request as soon as it is completed.  nvmft_req_complete() -> finish ->
 * release -> nvmft_pg_io_done() -> nvmft_pg_ns_detach() -> channel_close(),
 * all while the backend is still in its poll loop: the backend frees the
 * channel and then touches it (uring_channel_poll() peeks the freed ring;
 * the fault backend did the same until it learnt to defer the free).
 * doc/threading.md promises "a completion never starts other work on the
 * spot"; the channel's close is such work.
 *
 * This canary backend does not crash: it counts closes that arrive while
 * one of its methods is running and defers the free.  The test asserts that
 * there are none: the core detaches drained namespaces from its poll loop.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loop_transport.h"

#define NQN "nqn.2024-01.io.nvmft:reentrant-close"

struct canary {
	unsigned int closes;
	unsigned int closes_inside; /* channel_close while a method of that channel ran */
	bool complete;              /* complete held requests at the next poll */
};

struct canary_chan {
	struct canary *c;
	struct nvmft_req *held[8];
	unsigned int n;
	bool in_method;
	bool close_pending;
};

static int c_open(void *ctx, void **chan)
{
	struct canary_chan *ch = calloc(1, sizeof(*ch));

	if (ch == NULL)
		return -ENOMEM;
	ch->c = ctx;
	*chan = ch;
	return 0;
}

static void c_close(void *ctx, void *chan)
{
	struct canary_chan *ch = chan;

	ch->c->closes++;
	if (ch->in_method) {
		ch->c->closes_inside++;
		ch->close_pending = true;
		return;
	}
	free(ch);
}

static int c_submit(void *ctx, void *chan, struct nvmft_req *req)
{
	struct canary_chan *ch = chan;

	if (ch->n == 8)
		return -EBUSY;
	ch->held[ch->n++] = req;
	return 0;
}

static int c_poll(void *ctx, void *chan, unsigned int budget)
{
	struct canary_chan *ch = chan;
	unsigned int n = 0;

	if (!ch->c->complete)
		return 0;
	ch->in_method = true;
	/* Complete one by one and keep using the channel, as a real poll loop does. */
	while (ch->n > 0 && n < budget) {
		struct nvmft_req *req = ch->held[--ch->n];

		nvmft_req_complete(req, 0);
		n++;
	}
	ch->in_method = false;
	if (ch->close_pending)
		free(ch);
	return (int)n;
}

static const struct nvmft_backend_ops canary_ops = {
	.version = NVMFT_BACKEND_OPS_V1,
	.channel_open = c_open,
	.channel_close = c_close,
	.submit = c_submit,
	.channel_poll = c_poll,
};

static void removed(void *arg, int status)
{
	*(int *)arg = status;
}

static void test_no_close_inside_channel_poll(void **state)
{
	struct canary c = { 0 };
	struct lt_env env;
	struct nvmft_backend_opts o;
	struct nvmft_backend *be;
	struct nvmft_ns *ns;
	struct lt_qpair *aq, *iq;
	struct nvmft_cmd cmd;
	uint8_t buf[512] = { 1 };
	uint16_t cntlid;
	int rm = 1, tag;

	assert_int_equal(lt_env_init(&env, NULL), 0);
	assert_non_null(lt_env_add_subsystem(&env, NQN, true));
	nvmft_backend_opts_init(&o, sizeof(o));
	o.name = "canary";
	o.num_blocks = 64;
	assert_int_equal(nvmft_backend_new(&canary_ops, &c, &o, &be), 0);
	ns = lt_env_add_ns(&env, env.ss, be, 1);
	assert_non_null(ns);
	aq = lt_connect_admin(&env, NQN, LT_HOSTNQN, &cntlid);
	assert_non_null(aq);
	iq = lt_connect_io(&env, NQN, LT_HOSTNQN, cntlid, 1, 31);
	assert_non_null(iq);

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_cmd_write;
	cmd.nsid = htole32(1);
	tag = lt_submit(iq, &cmd, buf, sizeof(buf));
	assert_true(tag >= 0);
	lt_env_settle(&env);
	/* The host goes away; the request stays in the backend; the namespace is removed. */
	lt_qpair_close(iq);
	nvmft_ns_remove(ns, removed, &rm);
	lt_env_settle(&env);
	assert_int_equal(rm, 1);

	/* The backend completes from its poll: the core must not close the channel in there. */
	c.complete = true;
	for (int i = 0; i < 100000 && rm == 1; i++)
		lt_env_poll(&env);
	assert_int_equal(rm, 0);
	assert_int_equal(c.closes, 1);
	assert_int_equal(c.closes_inside, 0);
	(void)aq;
	lt_env_fini(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_close_inside_channel_poll),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
