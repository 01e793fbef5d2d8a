/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the libFuzzer targets share: a cursor that turns the fuzzer's bytes
 * into values (reading past the end yields zeroes, so every input is
 * meaningful), a small PRNG for choices that should not cost input bytes,
 * invariant checks that abort with a message, a descriptor count for leak
 * checks, and the loop-transport environment of the command-level targets.
 *
 * A target is one LLVMFuzzerTestOneInput() in its own file.  The same file
 * links either with libFuzzer (-Dfuzz=true, clang) or with replay.c, which
 * runs every file of a corpus directory through it in a normal build.
 * doc/fuzzing.md has the targets, their input layouts and how to run them.
 */
#ifndef NVMFT_FUZZ_COMMON_H
#define NVMFT_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop_transport.h"
#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- Input cursor ----------------------------------------------------------------------- */

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline void fz_init(struct fz *f, const uint8_t *data, size_t size)
{
	f->p = data;
	f->n = size;
}

uint8_t fz_u8(struct fz *f);
uint16_t fz_u16(struct fz *f);
uint32_t fz_u32(struct fz *f);
uint64_t fz_u64(struct fz *f);
/* Copy up to @len bytes into @dst, zero the rest; returns the bytes that came from the input. */
size_t fz_take(struct fz *f, void *dst, size_t len);
/* Bytes left. */
static inline size_t fz_left(const struct fz *f)
{
	return f->n;
}

/* ---- PRNG (xorshift32): deterministic choices seeded from the input ----------------------- */

struct fz_rng {
	uint32_t s;
};

static inline void fz_rng_seed(struct fz_rng *r, uint32_t seed)
{
	r->s = seed ? seed : 0x9e3779b9u;
}

static inline uint32_t fz_rand(struct fz_rng *r)
{
	uint32_t x = r->s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	r->s = x;
	return x;
}

/* 1..@max */
static inline uint32_t fz_rand_1(struct fz_rng *r, uint32_t max)
{
	return max <= 1 ? 1 : 1 + fz_rand(r) % max;
}

/* ---- Invariants ------------------------------------------------------------------------- */

/* Print where and why, then abort(): libFuzzer records the input, replay fails the test. */
void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

#define FZ_CHECK(cond, ...)                                                \
	do {                                                               \
		if (!(cond))                                               \
			fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);   \
	} while (0)

/*
 * With FZ_TRACE set in the environment, print a line about what an input
 * did (commands and their statuses, bytes exchanged): for looking at what a
 * corpus file exercises.  Silent otherwise.
 */
void fz_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Open descriptors of the process (for leak checks around an iteration). */
int fz_count_fds(void);

/*
 * Walk @buf as a stream of NVMe/TCP PDUs (framed by PLEN) and rewrite
 * every header and data digest that the PDU's flags announce, so that
 * mutated PDUs get past digest checking and reach the code behind it.
 * Stops at the first PDU that cannot be framed.
 */
void fz_tcp_fix_digests(uint8_t *buf, size_t len);

/* ---- Loop-transport environment ----------------------------------------------------------- */

#define FZ_SUBNQN "nqn.2024-01.io.nvmft:fuzz"
#define FZ_SUBNQN2 "nqn.2024-01.io.nvmft:fuzz-closed"
#define FZ_HOSTNQN LT_HOSTNQN
#define FZ_HOSTNQN2 "nqn.2014-08.org.nvmexpress:uuid:0f0f0f0f-1111-4222-8333-444444444444"
/* Namespace 1: RAM; namespace 2 (when asked for): the scripted test backend. */
#define FZ_BLOCK 512u
#define FZ_BLOCKS 1024u

struct tb;

struct fz_env {
	struct lt_env lt;
	struct nvmft_subsystem *ss;   /* FZ_SUBNQN, any host, ns 1 (and 2) */
	struct nvmft_subsystem *ss2;  /* FZ_SUBNQN2, only FZ_HOSTNQN2, no namespace */
	struct tb *tb;                /* ns 2, or NULL */
	struct nvmft_backend *tb_be;  /* its backend (owned by the environment) */
	struct nvmft_ns *ns2;         /* namespace 2 as added at init */
	int fds_before;
};

struct fz_env_opts {
	int nr_pgs;            /* poll groups, 0 for 1 */
	bool test_ns;          /* add namespace 2 on the test backend */
	bool test_ns_poll;     /* complete its commands from channel_poll rather than inline */
	uint32_t tb_caps;      /* NVMFT_BACKEND_CAP_* it claims */
	bool qp_share;         /* the default per-queue-pair buffer share (else the whole pool) */
};

/* Build the environment; aborts on failure (setup is not under test). */
void fz_env_init(struct fz_env *e, const struct fz_env_opts *o);
/* Free everything and check that no descriptor leaked. */
void fz_env_fini(struct fz_env *e);

/*
 * A command completed (done), or was cut off because the queue pair died
 * under it (a Disconnect, a fatal error): anything else is a hang.
 */
void fz_check_completed(struct lt_qpair *q, const struct lt_cpl *c, const struct nvmft_cmd *cmd);

#endif
