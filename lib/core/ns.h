/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Namespace internals.  Immutable after creation except @visible and
 * @removing (management thread, read by groups under the subsystem lock
 * for Identify lists).  Each poll group reaches the backend through its own
 * struct nvmft_pg_ns.
 */
#ifndef NVMFT_CORE_NS_H
#define NVMFT_CORE_NS_H

#include <stdbool.h>
#include <stdint.h>

#include <nvmft/ns.h>

#include "util/msgq.h"

struct nvmft_backend;
struct nvmft_io_lock_tbl;
struct nvmft_subsystem;

struct nvmft_ns {
	struct nvmft_subsystem *ss;
	struct nvmft_backend *be;
	uint32_t nsid;
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint8_t eui64[8];
	bool read_only;
	/* Copies of the backend geometry for the I/O path. */
	uint32_t block_size;
	uint8_t block_shift;
	uint64_t num_blocks;
	uint32_t caps;
	/* Hosts see it (Identify, active list) once every group attached it. */
	bool visible;
	bool removing;
	/* The management side holds one reference, each attached group one. */
	uint32_t _Atomic refs;
	int remove_status;
	struct nvmft_msg msg; /* last reference dropped on a group thread */
	nvmft_done_fn add_cb;
	void *add_arg;
	nvmft_done_fn remove_cb;
	void *remove_arg;
	/* io.c and io_range_lock.c; freed by nvmft_io_ns_fini(). */
	uint32_t _Atomic io_locks;       /* LBA range locks in the table: writes look there */
	struct nvmft_io_lock_tbl *_Atomic io_lock_tbl; /* made by the first lock */
	void *_Atomic io_zeroes;         /* read-only zero pages for emulated Write Zeroes */
};

void nvmft_ns_ref(struct nvmft_ns *ns);
/* Drop a reference; the last one releases the backend on the management thread. */
void nvmft_ns_unref(struct nvmft_ns *ns);
/* Target teardown: free without messages (no poll group exists). */
void nvmft_ns_free_now(struct nvmft_ns *ns);

#endif
