/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A scriptable RAM backend for tests: fail chosen commands with an errno,
 * hold completions until the test releases them (a "hung" device), or
 * complete them from another thread.  Counts what it was asked to do.
 */
#ifndef NVMFT_TEST_BACKEND_H
#define NVMFT_TEST_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include <nvmft/backend.h>

struct tb;

enum tb_mode {
	TB_INLINE,  /* complete inside submit */
	TB_POLL,    /* complete from channel_poll */
	TB_THREAD,  /* complete from a helper thread via nvmft_req_complete_remote() */
};

/* Create; @caps are NVMFT_BACKEND_CAP_* the backend claims.  Returns 0 or -errno. */
int tb_new(const char *name, uint64_t blocks, uint32_t block_size, uint32_t caps, enum tb_mode mode,
	   struct tb **tbp, struct nvmft_backend **bep);
/* Fail the next @count commands of @type (0 = any) with @err. */
void tb_fail_next(struct tb *tb, enum nvmft_io_type type, int err, int count);
/* Hold every completion until tb_release() (hold = true), or stop holding. */
void tb_hold(struct tb *tb, bool hold);
/* Complete held commands (on the calling thread, which must be their group's). Returns how many. */
int tb_release(struct tb *tb);
/* Commands of @type (0 = all) submitted so far. */
unsigned int tb_count(const struct tb *tb, enum nvmft_io_type type);
/* Commands held right now. */
unsigned int tb_held(const struct tb *tb);
/* Channels open right now. */
int tb_channels(const struct tb *tb);
/* The RAM behind the backend. */
uint8_t *tb_data(struct tb *tb);
/* Flags of the last command of @type. */
uint32_t tb_last_flags(const struct tb *tb, enum nvmft_io_type type);

/* Offset (blocks) of the @idx-th held command, in submission order; UINT64_MAX past the end. */
uint64_t tb_held_lba(const struct tb *tb, unsigned int idx);

#endif
