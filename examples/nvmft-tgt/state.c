/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The running target's state as nvmft-tgt keeps it (state.h): taking over
 * what start-up built, the listeners discovery holds, and shutdown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "fault_backend.h"
#include "state.h"

void state_init(struct app_state *st, const struct app_logger *log)
{
	memset(st, 0, sizeof(*st));
	st->log = log;
	TAILQ_INIT(&st->bdevs);
}

int state_random_uuid(uint8_t uuid[16])
{
	if (getrandom(uuid, 16, 0) != 16)
		return -EIO;
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40); /* version 4 */
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	return 0;
}

void state_uuid_str(const uint8_t u[16], char buf[37])
{
	snprintf(buf, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
		 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

int state_fill_uuids(struct plan *plan)
{
	for (size_t i = 0; i < plan->n_bdevs; i++) {
		struct plan_bdev *b = &plan->bdevs[i];

		if (b->has_uuid)
			continue;
		if (state_random_uuid(b->uuid) < 0)
			return -EIO;
		b->has_uuid = true;
	}
	return 0;
}

int state_parse_trtype(const char *name, enum nvmft_trtype *out)
{
	static const enum nvmft_trtype all[] = { NVMFT_TRTYPE_TCP, NVMFT_TRTYPE_RDMA,
						 NVMFT_TRTYPE_VFIOUSER };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcasecmp(name, nvmft_trtype_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	/* The spellings configurations and flags also take ("vfio-user"). */
	return plan_parse_trtype(name, out);
}

/* ---- Listeners discovery keeps open ---------------------------------------------- */

bool state_held(const struct app_state *st, const struct nvmft_listener *l)
{
	for (size_t i = 0; i < st->n_held; i++)
		if (st->held[i] == l)
			return true;
	return false;
}

int state_hold(struct app_state *st, struct nvmft_listener *l)
{
	struct nvmft_listener **a;

	if (state_held(st, l))
		return 0;
	if (st->n_held == st->cap_held) {
		size_t cap = st->cap_held ? 2 * st->cap_held : 8;

		a = realloc(st->held, cap * sizeof(*a));
		if (a == NULL)
			return -ENOMEM;
		st->held = a;
		st->cap_held = cap;
	}
	st->held[st->n_held++] = l;
	return 0;
}

bool state_unhold(struct app_state *st, const struct nvmft_listener *l)
{
	for (size_t i = 0; i < st->n_held; i++) {
		if (st->held[i] == l) {
			st->held[i] = st->held[--st->n_held];
			return true;
		}
	}
	return false;
}

bool state_listener_used(struct app_state *st, const struct nvmft_listener *l)
{
	struct nvmft_subsystem *ss;

	if (state_held(st, l))
		return true;
	for (ss = nvmft_subsystem_get_first(st->tgt); ss; ss = nvmft_subsystem_get_next(ss)) {
		struct nvmft_listener *x;

		for (unsigned int i = 0; (x = nvmft_subsystem_get_listener(ss, i)) != NULL; i++)
			if (x == l)
				return true;
	}
	return false;
}

/* ---- Start-up and shutdown -------------------------------------------------------- */

static int adopt_bdev(struct app_state *st, const struct plan_bdev *p, struct nvmft_backend *be)
{
	struct app_bdev *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	b->name = strdup(p->name);
	b->filename = p->filename ? strdup(p->filename) : NULL;
	if (b->name == NULL || (p->filename != NULL && b->filename == NULL)) {
		free(b->name);
		free(b->filename);
		free(b);
		return -ENOMEM;
	}
	b->kind = p->kind;
	b->fault = p->fault_rules != NULL;
	/* The backend's own geometry: a file's block size may have come from the device. */
	b->num_blocks = nvmft_backend_get_num_blocks(be);
	b->block_size = nvmft_backend_get_block_size(be);
	memcpy(b->uuid, p->uuid, sizeof(b->uuid));
	b->be = be;
	TAILQ_INSERT_TAIL(&st->bdevs, b, link);
	return 0;
}

int state_adopt(struct app_state *st, struct app_target *at)
{
	const struct plan *p = at->plan;
	struct nvmft_target_opts topts;
	struct nvmft_transport *tr;
	int rc;

	st->tgt = at->tgt;
	st->tr_override = p->tr_override;
	nvmft_target_opts_init(&topts, sizeof(topts));
	st->max_subsystems = p->max_subsystems ? p->max_subsystems : topts.max_subsystems;
	for (size_t i = 0; i < p->n_bdevs; i++) {
		if (at->backends[i] == NULL)
			continue;
		rc = adopt_bdev(st, &p->bdevs[i], at->backends[i]);
		if (rc < 0)
			return rc;
		at->backends[i] = NULL; /* ours to free now */
	}
	/* A listener with no subsystem serves discovery alone: -l without -n, or the config's. */
	for (tr = nvmft_transport_get_first(st->tgt); tr; tr = nvmft_transport_get_next(tr)) {
		struct nvmft_listener *l;

		for (l = nvmft_listener_get_first(tr); l; l = nvmft_listener_get_next(l)) {
			if (state_listener_used(st, l))
				continue;
			rc = state_hold(st, l);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

void state_stop(struct app_state *st)
{
	struct app_bdev *b;

	st->stopping = true;
	TAILQ_FOREACH(b, &st->bdevs, link) {
		struct fault_backend *fb;

		if (!b->fault)
			continue;
		fb = fault_backend_of(b->be);
		/* No new fault, and what a hang rule holds goes on: the groups can stop. */
		fault_backend_set_rules(fb, NULL, NULL, 0);
		fault_backend_release(fb);
	}
}

void state_free(struct app_state *st)
{
	struct app_bdev *b;

	while ((b = TAILQ_FIRST(&st->bdevs)) != NULL) {
		int rc = nvmft_backend_free(b->be);

		if (rc < 0)
			app_log(st->log, NVMFT_LOG_ERR, "bdev %s: cannot be freed: %s", b->name,
				strerror(-rc));
		TAILQ_REMOVE(&st->bdevs, b, link);
		free(b->name);
		free(b->filename);
		free(b);
	}
	free(st->held);
	st->held = NULL;
	st->n_held = st->cap_held = 0;
}
