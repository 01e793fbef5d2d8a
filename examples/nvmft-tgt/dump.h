/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON views of the running target's objects in the shapes SPDK's RPCs
 * and save_config write them, read back from the library (and, for bdevs,
 * from the state).  Shared by the query methods and save_config, so a
 * transport or a namespace looks the same in both.  Every function returns
 * a new reference, or NULL when out of memory.  Management thread.
 */
#ifndef NVMFT_TGT_DUMP_H
#define NVMFT_TGT_DUMP_H

#include <jansson.h>

#include "state.h"

/* "IPv4", "IPv6", "INTRA_HOST": SPDK's names. */
const char *dump_adrfam_name(enum nvmft_adrfam adrfam);

/* {"trtype", "adrfam", "traddr", "trsvcid"} of a listener. */
json_t *dump_listen_address(const struct nvmft_listener *l);

/* nvmf_create_transport's parameters as the transport runs with them. */
json_t *dump_transport(const struct nvmft_transport *tr);

/* One element of nvmf_get_subsystems. */
json_t *dump_subsystem(struct app_state *st, struct nvmft_subsystem *ss);

/*
 * nvmf_subsystem_add_ns's "namespace" object: nsid, bdev_name, identifiers;
 * @with_name adds "name" as nvmf_get_subsystems has it.
 */
json_t *dump_ns(struct app_state *st, const struct nvmft_ns *ns, bool with_name);

/* The bdev backing @be, or NULL. */
struct app_bdev *dump_bdev_of(struct app_state *st, const struct nvmft_backend *be);

/* One element of bdev_get_bdevs. */
json_t *dump_bdev(const struct app_bdev *b);

/* The save_config entry {"method": ..., "params": ...} that creates @b again. */
json_t *dump_bdev_entry(const struct app_bdev *b);

/* @len bytes as upper-case hex, as SPDK writes NGUID and EUI-64. */
json_t *dump_hex(const uint8_t *id, size_t len);

/* A JSON string of a UUID, lower case. */
json_t *dump_uuid(const uint8_t uuid[16]);

#endif /* NVMFT_TGT_DUMP_H */
