/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Entry points of the command families.  nvmft_req_init() routes a command
 * to one of the *_parse() functions, which validate it (opcode, fields,
 * transfer length), set req->execute and return 0, or return the NVMe
 * status to fail it with.  Execution always ends in nvmft_req_finish().
 *
 *   fabrics.c          Connect, Property Get/Set, Disconnect
 *   admin.c            admin opcode dispatch, Abort, Keep Alive, AER
 *   admin_identify.c   Identify (all CNS values a Linux host asks for)
 *   admin_log.c        Get Log Page
 *   admin_features.c   Get/Set Features
 *   discovery.c        the discovery controller's admin set and log page
 *   io.c               NVM command set I/O
 */
#ifndef NVMFT_CORE_CMD_H
#define NVMFT_CORE_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nvmft_ns;
struct nvmft_qpair;
struct nvmft_req;
struct nvmft_target;

uint16_t nvmft_fabrics_parse(struct nvmft_req *req);
uint16_t nvmft_admin_parse(struct nvmft_req *req);
uint16_t nvmft_discovery_parse(struct nvmft_req *req);
uint16_t nvmft_io_parse(struct nvmft_req *req);

/*
 * Hooks io.c needs from the core, for fused Compare and Write.  Both run on
 * the group thread:
 *  - nvmft_io_qpair_disconnect(): from nvmft_qpair_disconnect(); answers a
 *    fused first command that io.c holds while its second never came.
 *  - nvmft_io_req_release(): from nvmft_req_release() for a request with
 *    NVMFT_REQ_F_FUSED_FIRST or _SECOND set, before its flags are reset;
 *    unlinks it from its pair (the transport may release a half that never
 *    executed, e.g. when its data never arrived).
 *  - nvmft_io_fused_break(): from nvmft_req_init()/nvmft_req_reject() when a
 *    command on the queue of a waiting fused first half is refused before
 *    the I/O parser sees it: that command cannot be the second half, so the
 *    first is answered Missing Fused Command.
 * nvmft_io_ns_fini() frees io.c's per-namespace state; call it just before
 * a namespace is freed, when no I/O can reach it any more.
 */
void nvmft_io_qpair_disconnect(struct nvmft_qpair *qp);
void nvmft_io_req_release(struct nvmft_req *req);
void nvmft_io_fused_break(struct nvmft_req *req);
void nvmft_io_ns_fini(struct nvmft_ns *ns);

/* Admin helpers shared by the admin files. */
void nvmft_admin_identify(struct nvmft_req *req);
void nvmft_admin_get_log_page(struct nvmft_req *req);
void nvmft_admin_get_features(struct nvmft_req *req);
void nvmft_admin_set_features(struct nvmft_req *req);

/*
 * Build the discovery log page as @hostnqn sees it and copy bytes
 * [@offset, @offset + @len) of it to @dst (zeroes past its end).
 * Returns 0, -EINVAL (NULL @tgt/@hostnqn, or NULL @dst with @len) or -ENOMEM.
 * Any thread; takes the target and subsystem locks.
 */
int nvmft_discovery_log_read(struct nvmft_target *tgt, const char *hostnqn, uint64_t offset,
			     void *dst, size_t len);

/* Transfer length a Get Log Page / Identify / etc. command implies, in bytes. */
static inline uint32_t nvmft_cmd_log_page_len(uint32_t cdw10, uint32_t cdw11)
{
	uint32_t numdl = cdw10 >> 16;
	uint32_t numdu = cdw11 & 0xffff;

	return ((numdu << 16 | numdl) + 1) * 4;
}

/* ---- Shared by the admin files (admin_identify.c, admin_features.c, discovery.c) ---- */
struct nvmft_ctrlr;
struct nvmf_disc_log_entry;

/* Composite temperature thresholds in kelvin (Identify WCTEMP/CCTEMP, feature 04h default). */
#define NVMFT_WCTEMP_K 343
#define NVMFT_CCTEMP_K 373

/* Get/Set Features parse: FID, SEL, Save, NSID and transfer length. */
uint16_t nvmft_admin_features_parse(struct nvmft_req *req);
/*
 * Give a new controller's features (ctrlr->feat) their default values.
 * ctrlr.c calls it once max_qpairs, ss and tr are set.  Owner thread.
 */
void nvmft_admin_features_init(struct nvmft_ctrlr *ctrlr);
/*
 * Does any active namespace of the controller's subsystem have a volatile
 * write cache (Identify Controller VWC bit 0)?  Takes ss->lock.
 */
bool nvmft_admin_vwc_present(struct nvmft_ctrlr *ctrlr);

/*
 * Pure discovery log page formatter: the header (@genctr, @nr records,
 * RECFMT 0) followed by @entries, as one byte string of which bytes
 * [@offset, @offset + @len) go to @dst.  Bytes past the end of the log are
 * zero.  Returns the size of the whole log page.  No allocation, no locks.
 */
uint64_t nvmft_discovery_log_format(uint64_t genctr, const struct nvmf_disc_log_entry *entries,
				    uint64_t nr, uint64_t offset, void *dst, size_t len);

#endif
