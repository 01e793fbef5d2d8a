/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An in-process transport for tests: it feeds SQEs (and data) straight to
 * the core and collects CQEs (and data) without any socket, so command
 * families can be tested end to end through nvmft_req_init(), buffer
 * allocation, execution, backends and completion.
 *
 * Everything runs on the calling test thread, which acts as both the
 * management thread and the thread of every poll group in the environment.
 *
 * Typical use:
 *	struct lt_env env;
 *	lt_env_init(&env, NULL);                         // target, loop transport, 1 poll group
 *	lt_env_add_subsystem(&env, NQN, true);          // NVM subsystem on the loop listener
 *	lt_env_add_malloc_ns(&env, env.ss, 1, 2048, 512);
 *	struct lt_qpair *aq = lt_connect_admin(&env, NQN, HOSTNQN, &cntlid); // Connect + CC.EN=1
 *	struct lt_qpair *iq = lt_connect_io(&env, NQN, HOSTNQN, cntlid, 1, 127);
 *	struct lt_cpl c = lt_io(iq, &cmd, buf, len);    // submit and wait for the completion
 *	lt_env_fini(&env);                              // disconnects and frees everything
 */
#ifndef NVMFT_TEST_LOOP_TRANSPORT_H
#define NVMFT_TEST_LOOP_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <nvmft/nvmft.h>

#include "spec/spec.h"

#define LT_MAX_PGS 4
#define LT_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"
#define LT_HOSTID "\x11\x11\x11\x11\x22\x22\x33\x33\x44\x44\x55\x55\x55\x55\x55\x55"

struct lt_qpair;

struct lt_env {
	struct nvmft_target *tgt;
	struct nvmft_transport *tr;
	struct nvmft_listener *listener;
	struct nvmft_poll_group *pg[LT_MAX_PGS];
	int nr_pgs;
	struct nvmft_subsystem *ss;  /* last subsystem added */
	int next_pg;                 /* round robin for new connections */
	struct nvmft_backend *owned[64]; /* freed by lt_env_fini() */
	int nr_owned;
};

struct lt_env_opts {
	int nr_pgs;                          /* default 1 */
	const struct nvmft_transport_opts *tr_opts; /* NULL for defaults */
	uint32_t max_subsystems;             /* 0 for the default */
	uint32_t drain_timeout_ms;           /* 0 for the default */
};

/* The result of one command. */
struct lt_cpl {
	struct nvmft_cpl cpl;  /* as on the wire (little-endian) */
	uint16_t status;       /* decoded: SC | SCT << 8 | ... without phase (NVMFT_STATUS layout) */
	bool done;             /* false: timed out (the command never completed) */
};

/* Returns 0 or -errno; asserts nothing, so tests may check failures. */
int lt_env_init(struct lt_env *env, const struct lt_env_opts *opts);
void lt_env_fini(struct lt_env *env);
/* Poll the target and every group once; returns work done. */
int lt_env_poll(struct lt_env *env);
/* Poll until nothing happens for a few rounds (bounded). */
void lt_env_settle(struct lt_env *env);

/* NVM subsystem reachable through the loop listener; sets env->ss. */
struct nvmft_subsystem *lt_env_add_subsystem(struct lt_env *env, const char *nqn, bool allow_any);
/* RAM namespace; waits until it is attached everywhere.  Returns the ns or NULL. */
struct nvmft_ns *lt_env_add_malloc_ns(struct lt_env *env, struct nvmft_subsystem *ss, uint32_t nsid,
				      uint64_t blocks, uint32_t block_size);
/* Attach any backend; waits for the add callback.  Returns the ns or NULL. */
struct nvmft_ns *lt_env_add_ns(struct lt_env *env, struct nvmft_subsystem *ss, struct nvmft_backend *be,
			       uint32_t nsid);
/*
 * Backends attached with lt_env_add_ns()/lt_env_add_malloc_ns() belong to
 * the environment and are freed by lt_env_fini().  Free one earlier with
 * this (returns what nvmft_backend_free() returned).
 */
int lt_env_free_backend(struct lt_env *env, struct nvmft_backend *be);
/* Remove and wait; returns the callback status. */
int lt_env_remove_ns(struct lt_env *env, struct nvmft_ns *ns);

/* A connection, not yet connected (for testing Connect itself).  @pg_idx -1: round robin. */
struct lt_qpair *lt_qpair_new(struct lt_env *env, int pg_idx);
/* Disconnect from the host side (like a socket closing) and wait until the target freed it. */
void lt_qpair_close(struct lt_qpair *q);
bool lt_qpair_is_dead(const struct lt_qpair *q);

/* Send Fabrics Connect with the given fields; returns the completion. */
struct lt_cpl lt_connect_raw(struct lt_qpair *q, uint16_t qid, uint16_t sqsize, uint32_t kato_ms,
			     uint16_t cntlid, const char *subnqn, const char *hostnqn);
/* Connect an admin queue and enable the controller (CC.EN = 1); NULL on failure. */
struct lt_qpair *lt_connect_admin(struct lt_env *env, const char *subnqn, const char *hostnqn,
				  uint16_t *cntlid);
/* Connect an I/O queue; NULL on failure. */
struct lt_qpair *lt_connect_io(struct lt_env *env, const char *subnqn, const char *hostnqn,
			       uint16_t cntlid, uint16_t qid, uint16_t sqsize);

/*
 * Submit @cmd (CID is filled in) and wait for its completion.  H2C commands
 * send @len bytes from @data; C2H commands receive up to @len bytes into
 * @data.  The SGL length is @len.
 */
struct lt_cpl lt_cmd(struct lt_qpair *q, const struct nvmft_cmd *cmd, void *data, uint32_t len);

/* Asynchronous variant: returns a tag, then lt_wait(tag) / lt_done(tag). */
int lt_submit(struct lt_qpair *q, const struct nvmft_cmd *cmd, void *data, uint32_t len);
bool lt_done(struct lt_qpair *q, int tag);
struct lt_cpl lt_wait(struct lt_qpair *q, int tag);
/* Bytes of C2H data the command delivered. */
uint32_t lt_data_len(struct lt_qpair *q, int tag);

/* Convenience builders. */
struct lt_cpl lt_prop_get(struct lt_qpair *q, uint32_t offset, bool eight, uint64_t *val);
struct lt_cpl lt_prop_set(struct lt_qpair *q, uint32_t offset, uint64_t val);
struct lt_cpl lt_identify(struct lt_qpair *q, uint8_t cns, uint32_t nsid, uint8_t csi, void *buf);
struct lt_cpl lt_get_log(struct lt_qpair *q, uint8_t lid, uint32_t nsid, uint64_t offset, void *buf,
			 uint32_t len);
struct lt_cpl lt_rw(struct lt_qpair *q, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf,
		    uint32_t len);

/* How many requests of the qpair are outstanding in the core. */
uint32_t lt_qpair_outstanding(const struct lt_qpair *q);
/* The core qpair (for white-box checks). */
struct nvmft_qpair *lt_qpair_core(struct lt_qpair *q);

#define LT_STATUS(sct, sc) NVMFT_STATUS(sct, sc)

/* ---- Additions for the object-model tests (test_target, test_qpair, ...) ---- */

/*
 * lt_env_init() with the caller's target options used as they are: a NULL
 * @to->assign_fn leaves the target's own round robin in charge (pg_idx of
 * lt_qpair_new() is then ignored).
 */
int lt_env_init_tgt(struct lt_env *env, const struct lt_env_opts *opts,
		    const struct nvmft_target_opts *to);
/*
 * lt_qpair_new() through listener @l (NULL: env->listener).  With @settle
 * false the assignment message is left queued on the poll group.
 */
struct lt_qpair *lt_qpair_new_on(struct lt_env *env, int pg_idx, struct nvmft_listener *l,
				 bool settle);
/* The core has freed the queue pair (the transport's qpair_free ran). */
bool lt_qpair_is_freed(const struct lt_qpair *q);
/* lt_connect_raw() with a Connect CATTR byte (e.g. NVMFT_CONNECT_CATTR_DISABLE_SQFLOW). */
struct lt_cpl lt_connect_raw_cattr(struct lt_qpair *q, uint16_t qid, uint16_t sqsize, uint32_t kato_ms,
				   uint16_t cntlid, const char *subnqn, const char *hostnqn,
				   uint8_t cattr);

#endif
