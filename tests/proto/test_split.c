/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Odd splits of the byte stream: the target must parse a PDU whatever
 * write() boundaries it arrives in.  Every command PDU of Connect,
 * Identify, an in-capsule write, an R2T write (its H2CData too) and a read
 * goes out one byte per write, cut in two at every byte, and in random
 * chunks, with and without digests; the target is polled at every
 * boundary, so it really sees each piece on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_env.h"

#define DATA_LEN 1024u
#define NLB (DATA_LEN / PENV_BLOCK)

static const uint8_t digests[] = { 0, NVMFT_TCP_DGST_HDR | NVMFT_TCP_DGST_DATA };

/*
 * The four commands on @io (Identify on @admin), under whatever split is
 * set on both, each checked for its status and its data.
 */
static void run_commands(struct th *admin, struct th *io, uint64_t lba, uint32_t seed)
{
	uint8_t w[DATA_LEN], r[DATA_LEN], id[NVME_IDENTIFY_DATA_SIZE];
	const struct nvme_id_ctrl *ctrl = (const void *)id;

	memset(id, 0xee, sizeof(id));
	assert_int_equal(th_identify(admin, NVME_IDENTIFY_CNS_CTRL, 0, id), 0);
	assert_memory_equal(ctrl->subnqn, PENV_SUBNQN, sizeof(PENV_SUBNQN));
	/* In-capsule write, read back. */
	th_fill(w, sizeof(w), seed);
	assert_int_equal(th_rw(io, true, 1, lba, NLB, w, sizeof(w), TH_IO_INCAPSULE), 0);
	memset(r, 0, sizeof(r));
	assert_int_equal(th_rw(io, false, 1, lba, NLB, r, sizeof(r), 0), 0);
	assert_memory_equal(r, w, sizeof(w));
	/* Through R2T, read back. */
	th_fill(w, sizeof(w), seed + 1);
	assert_int_equal(th_rw(io, true, 1, lba, NLB, w, sizeof(w), 0), 0);
	memset(r, 0, sizeof(r));
	assert_int_equal(th_rw(io, false, 1, lba, NLB, r, sizeof(r), 0), 0);
	assert_memory_equal(r, w, sizeof(w));
	assert_int_equal(th_violations(admin), 0);
	assert_int_equal(th_violations(io), 0);
}

/* The whole conversation, ICReq and Connect included, one byte per write. */
static void test_bytewise(void **state)
{
	struct penv *e = *state;
	struct th_split one = { .mode = TH_SPLIT_FIXED, .chunk = 1, .pump_between = true };

	for (size_t d = 0; d < sizeof(digests); d++) {
		struct th *admin = penv_host(e), *io = penv_host(e);
		uint16_t cntlid;

		th_set_split(admin, &one);
		th_set_split(io, &one);
		assert_int_equal(th_admin_up(admin, digests[d], &cntlid), 0);
		assert_int_equal(th_icreq(io, 0, digests[d], 0), 0);
		assert_int_equal(th_connect_io(io, 1, 31, cntlid), 0);
		run_commands(admin, io, 64 + 16 * d, 10 + (uint32_t)d);
	}
}

/* Random chunks of 1..@max bytes, from many seeds. */
static void test_random_chunks(void **state)
{
	struct penv *e = *state;
	static const size_t maxes[] = { 3, 17, 100, 1500 };

	for (size_t d = 0; d < sizeof(digests); d++) {
		for (uint32_t seed = 1; seed <= 8; seed++) {
			struct th_split s = {
				.mode = TH_SPLIT_RANDOM,
				.chunk = maxes[seed % 4],
				.seed = seed * 7919u + (uint32_t)d,
				.pump_between = true,
			};
			struct th *admin = penv_host(e), *io = penv_host(e);
			uint16_t cntlid;

			th_set_split(admin, &s);
			s.seed++;
			th_set_split(io, &s);
			assert_int_equal(th_admin_up(admin, digests[d], &cntlid), 0);
			assert_int_equal(th_icreq(io, 0, digests[d], 0), 0);
			assert_int_equal(th_connect_io(io, 1, 31, cntlid), 0);
			run_commands(admin, io, 128 + 2 * seed, seed);
			penv_drop(e, io);
			penv_drop(e, admin);
		}
	}
}

/*
 * Every command PDU cut in two at every byte: the first part, a poll of
 * the target, then the rest.  One queue pair per digest setting carries
 * them all; the cut applies to every PDU sent (H2CData included).
 */
static void test_every_cut(void **state)
{
	struct penv *e = *state;

	for (size_t d = 0; d < sizeof(digests); d++) {
		struct th *admin = penv_host(e), *io = penv_host(e);
		/* The longest PDU: a write capsule with its data and both digests. */
		size_t longest = NVMFT_TCP_CMD_HLEN + 4 + DATA_LEN + 4;
		uint16_t cntlid;

		assert_int_equal(th_admin_up(admin, digests[d], &cntlid), 0);
		assert_int_equal(th_icreq(io, 0, digests[d], 0), 0);
		assert_int_equal(th_connect_io(io, 1, 31, cntlid), 0);
		for (size_t at = 1; at < longest; at++) {
			struct th_split s = { .mode = TH_SPLIT_AT, .at = at, .pump_between = true };

			th_set_split(admin, &s);
			th_set_split(io, &s);
			run_commands(admin, io, 256 + (at % 64) * NLB, (uint32_t)(at * 3 + d));
		}
	}
}

/* ICReq and Connect cut in two at every byte, each on a new connection. */
static void test_every_cut_connect(void **state)
{
	struct penv *e = *state;
	struct penv_idle idle;

	penv_count(e, &idle);
	for (size_t d = 0; d < sizeof(digests); d++) {
		size_t connect_len = NVMFT_TCP_CMD_HLEN + sizeof(struct nvmf_connect_data) +
				     (digests[d] ? 8 : 0);

		for (size_t at = 1; at < connect_len; at++) {
			struct th_split s = { .mode = TH_SPLIT_AT, .at = at, .pump_between = true };
			struct th *h = penv_host(e);
			uint16_t cntlid = 0;

			th_set_split(h, &s);
			assert_int_equal(th_icreq(h, 0, digests[d], 0), 0);
			assert_int_equal(th_connect_admin(h, 31, &cntlid), 0);
			assert_true(cntlid >= NVMFT_CNTLID_MIN && cntlid <= NVMFT_CNTLID_MAX);
			TH_ASSERT_HEALTHY(h);
			penv_drop(e, h);
		}
	}
	/* Every one of those controllers went away with its connection. */
	penv_assert_idle(e, &idle);
}

/* The same conversation over loopback TCP, byte by byte and in random chunks. */
static void test_tcp_socket(void **state)
{
	struct penv *e = *state;
	struct th_split one = { .mode = TH_SPLIT_FIXED, .chunk = 1, .pump_between = true };
	struct th_split rnd = { .mode = TH_SPLIT_RANDOM, .chunk = 64, .seed = 99,
				.pump_between = true };

	for (size_t d = 0; d < sizeof(digests); d++) {
		struct th *admin = penv_host_tcp(e, 0), *io = penv_host_tcp(e, 0);
		uint16_t cntlid;

		th_set_split(admin, d ? &rnd : &one);
		th_set_split(io, d ? &rnd : &one);
		assert_int_equal(th_admin_up(admin, digests[d], &cntlid), 0);
		assert_int_equal(th_icreq(io, 0, digests[d], 0), 0);
		assert_int_equal(th_connect_io(io, 1, 31, cntlid), 0);
		run_commands(admin, io, 512 + 16 * d, 77 + (uint32_t)d);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, penv_setup, penv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_bytewise),
		T(test_random_chunks),
		T(test_every_cut),
		T(test_every_cut_connect),
		T(test_tcp_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
