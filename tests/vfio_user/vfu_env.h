/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An in-process target for the vfio-user scenario tests: a target with one
 * poll group, the vfio-user transport listening in a private directory, a
 * subsystem with one namespace behind the scriptable test backend.  The
 * test thread is the management thread, the group's thread and the client:
 * the client library pumps the target while it waits (vfuc_opts.pump).
 */
#ifndef NVMFT_VFU_ENV_H
#define NVMFT_VFU_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include <nvmft/nvmft.h>

#include "test_backend.h"
#include "vfu_client.h"

#define VE_NQN "nqn.2024-01.io.libnvmft:vfu"
#define VE_BLOCKS 8192u
#define VE_BS 512u
#define VE_MEM_IOVA 0x100000000ull
#define VE_MEM_SIZE (32u << 20)

struct ve {
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg;
	struct nvmft_transport *tr;
	struct nvmft_listener *l;
	struct nvmft_subsystem *ss;
	struct nvmft_backend *be;
	struct tb *tb;
	char *dir;
	char sock[256];
	uint32_t max_qpairs;
};

/* Bring the target up; @topts may be NULL (transport defaults). */
void ve_init(struct ve *e, const struct nvmft_transport_opts *topts);
/* Stop the group, free everything, check nothing of the transport is left. */
void ve_fini(struct ve *e);
/* Poll the target and the group once. */
void ve_pump(void *arg);
/* Poll @n times. */
void ve_pump_n(struct ve *e, int n);
/* Poll for @ms milliseconds (the group looks at sockets every 100 us at most). */
void ve_pump_ms(struct ve *e, int ms);
/* Poll until the subsystem has @n controllers; false after 5 s. */
bool ve_wait_ctrlrs(struct ve *e, int n);

/* A client on the socket, VERSION done (@json NULL: none). */
struct vfuc *ve_client(struct ve *e, const char *json);
/* ... with guest memory mapped and BAR0 set up too. */
struct vfuc *ve_client_mem(struct ve *e);
/* ... and the controller enabled with a 32-entry admin queue, 4 I/O queues allowed. */
struct vfuc *ve_client_nvme(struct ve *e);
/* ... and I/O queue pair 1 of @entries (interrupts off). */
struct vfuc *ve_client_io(struct ve *e, struct vfuc_q *q, uint16_t entries);

/* Connections the transport holds right now (admin and I/O queues). */
uint32_t ve_connections(const struct ve *e);
/* Controllers of the subsystem right now. */
int ve_ctrlrs(struct ve *e);
/* Status without phase bit for (sct, sc), as vfuc_status() returns it. */
static inline uint16_t ve_st(uint8_t sct, uint8_t sc, bool dnr)
{
	return (uint16_t)((dnr ? 0x4000u : 0) | (uint32_t)sct << 8 | sc);
}

#endif
