/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * DOC: controllers and queue pairs (introspection)
 *
 * Controllers and queue pairs are created by hosts (Fabrics Connect) and
 * live on poll groups, so the management thread only looks at them through
 * foreach calls: the handle passed to the callback is valid during the call
 * only, and only the getters below may be used on it.
 */
#ifndef NVMFT_CTRLR_H
#define NVMFT_CTRLR_H

#include <nvmft/common.h>
#include <nvmft/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return non-zero from an iteration callback to stop early. */
typedef int (*nvmft_ctrlr_iter_fn)(void *arg, const struct nvmft_ctrlr *ctrlr);
typedef int (*nvmft_qpair_iter_fn)(void *arg, const struct nvmft_qpair *qpair);

/**
 * nvmft_subsystem_foreach_ctrlr() - visit a subsystem's controllers
 * @ss: the subsystem
 * @fn: called for each live controller, under the subsystem's lock: it
 *      must not call management functions
 * @arg: passed to @fn
 *
 * Return: the first non-zero value @fn returned, or 0. Management thread.
 */
NVMFT_API int nvmft_subsystem_foreach_ctrlr(struct nvmft_subsystem *ss, nvmft_ctrlr_iter_fn fn,
					    void *arg);

/* Controller ID, and the host NQN and 16-byte host identifier given at Connect. */
NVMFT_API uint16_t nvmft_ctrlr_get_cntlid(const struct nvmft_ctrlr *ctrlr);
NVMFT_API const char *nvmft_ctrlr_get_hostnqn(const struct nvmft_ctrlr *ctrlr);
NVMFT_API void nvmft_ctrlr_get_hostid(const struct nvmft_ctrlr *ctrlr, uint8_t hostid[16]);
/* Keep-alive timeout in milliseconds, 0 when disabled. */
NVMFT_API uint32_t nvmft_ctrlr_get_kato_ms(const struct nvmft_ctrlr *ctrlr);
/* Queue pairs connected now, admin included. */
NVMFT_API uint32_t nvmft_ctrlr_get_num_qpairs(const struct nvmft_ctrlr *ctrlr);

/**
 * nvmft_ctrlr_foreach_qpair() - visit a controller's queue pairs
 * @ctrlr: a controller handed to an &nvmft_ctrlr_iter_fn
 * @fn: called for each connected queue pair, admin first, under the
 *      controller's lock
 * @arg: passed to @fn
 *
 * Return: the first non-zero value @fn returned, or 0.
 */
NVMFT_API int nvmft_ctrlr_foreach_qpair(const struct nvmft_ctrlr *ctrlr, nvmft_qpair_iter_fn fn,
					void *arg);

/* Queue ID (0 = admin) and entries (SQSIZE + 1). */
NVMFT_API uint16_t nvmft_qpair_get_qid(const struct nvmft_qpair *qpair);
NVMFT_API uint32_t nvmft_qpair_get_depth(const struct nvmft_qpair *qpair);
NVMFT_API enum nvmft_trtype nvmft_qpair_get_trtype(const struct nvmft_qpair *qpair);
/* Name of the poll group serving the queue pair, or NULL before assignment. */
NVMFT_API const char *nvmft_qpair_get_poll_group_name(const struct nvmft_qpair *qpair);

/**
 * nvmft_qpair_get_peer() - the host side of the connection
 * @qpair: the queue pair
 * @adrfam: receives the address family; may be NULL
 * @traddr: receives the address as text
 * @traddr_len: size of @traddr (64 is enough for any IP address)
 * @trsvcid: receives the port as text; may be NULL for no port
 * @trsvcid_len: size of @trsvcid
 *
 * Return: 0, -ENOSPC (buffer too small), -ENOTCONN.
 */
NVMFT_API int nvmft_qpair_get_peer(const struct nvmft_qpair *qpair, enum nvmft_adrfam *adrfam,
				   char *traddr, size_t traddr_len, char *trsvcid,
				   size_t trsvcid_len);

/* The listener the connection came in through, or NULL. */
NVMFT_API const struct nvmft_listener *nvmft_qpair_get_listener(const struct nvmft_qpair *qpair);

/**
 * struct nvmft_qpair_stats - counters of one queue pair
 * @size: set by the caller to sizeof(struct nvmft_qpair_stats)
 * @cmds: commands received
 * @errors: commands completed with an error status
 * @bytes_read: data sent to the host
 * @bytes_written: data received from the host
 * @outstanding: commands in flight now
 */
struct nvmft_qpair_stats {
	size_t size;
	uint64_t cmds;
	uint64_t errors;
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t outstanding;
};

/* Read a queue pair's counters (relaxed snapshot). Return 0 or -EINVAL. */
NVMFT_API int nvmft_qpair_get_stats(const struct nvmft_qpair *qpair, struct nvmft_qpair_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* NVMFT_CTRLR_H */
