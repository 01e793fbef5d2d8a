/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * (a) Backend errors reach hosts as the NVMe status doc/backends.md
 * promises, for every errno class and every command that reaches a backend
 * (Read, Write, Flush, Write Zeroes, Dataset Management, Compare), whichever
 * way the backend reports them: refusing the request in submit, completing
 * it with the error inside submit (after doing half of it), or completing
 * it later from its channel's timer.  Over real TCP to a target on its own
 * threads (two poll groups), from two hosts at once, then a check that
 * nothing is left behind.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stress_env.h"

#define M(sc) NVMFT_STATUS(NVME_SCT_MEDIA, sc)
#define G(sc) NVMFT_STATUS(NVME_SCT_GENERIC, sc)
#define DNR NVME_SC_DNR

enum cmdk { K_READ, K_WRITE, K_FLUSH, K_WZ, K_DSM, K_COMPARE, K_NR };

static const char *const kname[K_NR] = { "read", "write", "flush", "wz", "dsm", "compare" };

static const struct {
	const char *err;
	uint16_t st_write; /* Write, Write Zeroes, Deallocate, Flush */
	uint16_t st_read;  /* Read, Compare */
} table[] = {
	{ "EIO", M(NVME_SC_WRITE_FAULT), M(NVME_SC_READ_ERROR) },
	{ "EILSEQ", M(NVME_SC_COMPARE_FAILED) | DNR, M(NVME_SC_COMPARE_FAILED) | DNR },
	{ "ENOSPC", G(NVME_SC_CAP_EXCEEDED) | DNR, G(NVME_SC_CAP_EXCEEDED) | DNR },
	{ "EROFS", G(NVME_SC_NS_WRITE_PROTECTED) | DNR, G(NVME_SC_NS_WRITE_PROTECTED) | DNR },
	{ "EPERM", G(NVME_SC_NS_WRITE_PROTECTED) | DNR, G(NVME_SC_NS_WRITE_PROTECTED) | DNR },
	{ "EACCES", G(NVME_SC_NS_WRITE_PROTECTED) | DNR, G(NVME_SC_NS_WRITE_PROTECTED) | DNR },
	{ "EAGAIN", G(NVME_SC_NS_NOT_READY), G(NVME_SC_NS_NOT_READY) },
	{ "EBUSY", G(NVME_SC_NS_NOT_READY), G(NVME_SC_NS_NOT_READY) },
	{ "ENOMEM", G(NVME_SC_NS_NOT_READY), G(NVME_SC_NS_NOT_READY) },
	{ "ENODEV", G(NVME_SC_NS_NOT_READY) | DNR, G(NVME_SC_NS_NOT_READY) | DNR },
	{ "ENXIO", G(NVME_SC_NS_NOT_READY) | DNR, G(NVME_SC_NS_NOT_READY) | DNR },
	{ "ERANGE", G(NVME_SC_LBA_RANGE) | DNR, G(NVME_SC_LBA_RANGE) | DNR },
	{ "EFAULT", G(NVME_SC_DATA_XFER_ERROR), G(NVME_SC_DATA_XFER_ERROR) },
	{ "EOPNOTSUPP", G(NVME_SC_INVALID_FIELD) | DNR, G(NVME_SC_INVALID_FIELD) | DNR },
	{ "ETIMEDOUT", G(NVME_SC_ABORT_REQ), G(NVME_SC_ABORT_REQ) },
	{ "ECANCELED", G(NVME_SC_ABORT_REQ), G(NVME_SC_ABORT_REQ) },
	{ "EINVAL", G(NVME_SC_INTERNAL), G(NVME_SC_INTERNAL) },
	{ "E2BIG", G(NVME_SC_INTERNAL), G(NVME_SC_INTERNAL) },
	{ "EPROTO", G(NVME_SC_INTERNAL), G(NVME_SC_INTERNAL) },
};
#define NR_ERRS (sizeof(table) / sizeof(table[0]))

/* How the backend reports the error. */
static const struct {
	const char *action;
	const char *cond;
} modes[] = {
	{ "fail", "" },            /* submit returns the errno */
	{ "fail", "@after=2ms" },  /* completed later, from channel_poll */
	{ "short", "" },           /* completed inside submit, after doing half */
};

struct fx {
	struct senv e;
	struct shost h; /* closed by the teardown, even after a failure */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct senv_opts o = { .nr_ns = 1 };

	assert_non_null(f);
	senv_init(&f->e, &o);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sh_close(&f->h);
	senv_assert_idle(&f->e);
	senv_fini(&f->e);
	free(f);
	return 0;
}

/* One command of kind @k on blocks [@lba, @lba + @nlb); its status or TH_*. */
static int run_cmd(struct th *q, enum cmdk k, uint64_t lba, uint32_t nlb, uint8_t *buf)
{
	struct nvme_dsm_range *r = (struct nvme_dsm_range *)buf;
	struct th_io io = { 0 };
	struct nvmft_cmd c;

	switch (k) {
	case K_READ:
	case K_WRITE:
		return sh_rw(q, k == K_WRITE, 1, lba, nlb, buf);
	case K_COMPARE:
		c = th_rw_cmd(false, 1, lba, nlb);
		c.opcode = nvme_cmd_compare;
		io.wdata = buf;
		io.wlen = nlb * SENV_BLOCK;
		return th_exec(q, &c, &io, NULL);
	case K_FLUSH:
		memset(&c, 0, sizeof(c));
		c.opcode = nvme_cmd_flush;
		c.nsid = htole32(1);
		return th_exec(q, &c, NULL, NULL);
	case K_WZ:
		c = th_rw_cmd(true, 1, lba, nlb);
		c.opcode = nvme_cmd_write_zeroes;
		return th_exec(q, &c, NULL, NULL);
	case K_DSM:
		memset(r, 0, sizeof(*r));
		r->slba = htole64(lba);
		r->nlb = htole32(nlb);
		memset(&c, 0, sizeof(c));
		c.opcode = nvme_cmd_dsm;
		c.nsid = htole32(1);
		c.cdw11 = htole32(NVME_DSMGMT_AD);
		io.wdata = r;
		io.wlen = sizeof(*r);
		io.flags = TH_IO_INCAPSULE;
		return th_exec(q, &c, &io, NULL);
	default:
		return -EINVAL;
	}
}

static uint16_t expected(enum cmdk k, size_t e)
{
	return k == K_READ || k == K_COMPARE ? table[e].st_read : table[e].st_write;
}

/* Every errno for one command kind, through both I/O queues (each on its own group). */
static void one_kind(struct fx *f, struct shost *h, enum cmdk k)
{
	uint8_t *buf = malloc(64 * 1024);
	unsigned int n = 0;

	assert_non_null(buf);
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		for (size_t e = 0; e < NR_ERRS; e++) {
			char rules[128];
			struct th *q = h->io[n++ % h->nio];
			/* Sizes that need R2T for writes and several C2HData PDUs for reads. */
			uint32_t nlb = (k == K_READ || k == K_WRITE) ? 64 : 8;
			int st;

			snprintf(rules, sizeof(rules), "%s=%s:%s%s", modes[m].action, kname[k],
				 table[e].err, modes[m].cond);
			senv_rules(&f->e, 1, rules);
			sh_pattern(buf, 0, nlb, 1);
			if (k == K_READ)
				memset(buf, 0xee, nlb * SENV_BLOCK);
			st = run_cmd(q, k, 128, nlb, buf);
			if (st != expected(k, e))
				fail_msg("%s: status 0x%x, expected 0x%x (%s)", rules, st,
					 expected(k, e), th_why(q));
			/* A failed read hands the host no data, even one the backend half did. */
			if (k == K_READ)
				for (uint32_t i = 0; i < nlb * SENV_BLOCK; i++)
					if (buf[i] != 0xee)
						fail_msg("%s: read data arrived at byte %u", rules, i);
		}
	}
	senv_rules(&f->e, 1, NULL);
	/* The queues survived every error (Write Zeroes and Deallocate cleared the blocks). */
	sh_pattern(buf, 0, 8, 1);
	assert_int_equal(sh_rw(h->io[0], true, 1, 128, 8, buf), 0);
	for (unsigned int i = 0; i < h->nio; i++) {
		assert_int_equal(run_cmd(h->io[i], k, 128, 8, buf), 0);
		assert_int_equal(th_violations(h->io[i]), 0);
	}
	free(buf);
}

static void test_status_per_errno(void **state)
{
	struct fx *f = *state;
	struct shost *h = &f->h;
	struct fault_stats st;
	uint8_t buf[8 * 512];

	assert_int_equal(sh_connect(&f->e, NULL, 2, 32, h), 0);
	/* Compare needs data that matches, so it can only fail where the rule says. */
	sh_pattern(buf, 0, 8, 1);
	assert_int_equal(sh_rw(h->io[0], true, 1, 128, 8, buf), 0);
	for (int k = 0; k < K_NR; k++)
		one_kind(f, h, (enum cmdk)k);
	st = senv_fstats(&f->e, 1);
	assert_int_equal(st.held_now, 0);
	/* Fail modes 1 and 2 per errno and kind, short for every kind. */
	assert_int_equal(st.failed, 2 * NR_ERRS * K_NR);
	assert_int_equal(st.shortened, NR_ERRS * K_NR);
}

/* Two hosts, each on its own blocks, with errors at a rate on both: every command either
 * succeeds with the right data or fails with Write Fault / Unrecovered Read Error. */
struct worker {
	struct senv *e;
	uint64_t base;
	unsigned int rounds;
	unsigned int ok, failed;
	char why[160];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t *wbuf = malloc(32 * SENV_BLOCK), *rbuf = malloc(32 * SENV_BLOCK);
	uint32_t gen_ok[16] = { 0 };
	struct shost h;
	int st;

	st = sh_connect(w->e, NULL, 1, 64, &h);
	if (st != 0) {
		snprintf(w->why, sizeof(w->why), "connect: %d", st);
		goto out;
	}
	for (unsigned int i = 0; i < w->rounds && w->why[0] == '\0'; i++) {
		unsigned int slot = i % 16;
		uint64_t lba = w->base + slot * 32;

		sh_pattern(wbuf, lba, 32, i + 1);
		st = sh_rw(h.io[0], true, 1, lba, 32, wbuf);
		if (st == 0) {
			gen_ok[slot] = i + 1;
			w->ok++;
		} else if (st == M(NVME_SC_WRITE_FAULT)) {
			/* Half the blocks may be new: that slot's content is unknown now. */
			gen_ok[slot] = 0;
			w->failed++;
		} else {
			snprintf(w->why, sizeof(w->why), "write: status %d (%s)", st, th_why(h.io[0]));
			break;
		}
		st = sh_rw(h.io[0], false, 1, lba, 32, rbuf);
		if (st == M(NVME_SC_READ_ERROR)) {
			w->failed++;
			continue;
		}
		if (st != 0) {
			snprintf(w->why, sizeof(w->why), "read: status %d (%s)", st, th_why(h.io[0]));
			break;
		}
		w->ok++;
		if (gen_ok[slot] != 0) {
			sh_pattern(wbuf, lba, 32, gen_ok[slot]);
			if (memcmp(wbuf, rbuf, 32 * SENV_BLOCK) != 0)
				snprintf(w->why, sizeof(w->why), "slot %u: data of a good write is gone",
					 slot);
		}
	}
	if (w->why[0] == '\0' && th_violations(h.io[0]) != 0)
		snprintf(w->why, sizeof(w->why), "protocol violation: %s", th_why(h.io[0]));
	sh_close(&h);
out:
	free(wbuf);
	free(rbuf);
	return NULL;
}

static void test_errors_at_a_rate(void **state)
{
	struct fx *f = *state;
	struct worker w[2];
	pthread_t t[2];

	senv_rules(&f->e, 1, "short=write:EIO@rate=0.1,fail=read:EIO@rate=0.1,"
			     "fail=write:EIO@rate=0.05@after=1ms,seed=42");
	for (int i = 0; i < 2; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].e = &f->e;
		w[i].base = 1024 + (uint64_t)i * 1024;
		w[i].rounds = 150 * senv_scale();
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		if (w[i].why[0] != '\0')
			fail_msg("host %d: %s", i, w[i].why);
		assert_true(w[i].ok > 0);
		assert_true(w[i].failed > 0);
		print_message("# host %d: %u ok %u failed\n", i, w[i].ok, w[i].failed);
	}
	senv_rules(&f->e, 1, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_per_errno, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_at_a_rate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
