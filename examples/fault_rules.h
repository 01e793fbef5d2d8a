/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault rules: what the fault backend (fault_backend.h) does to which
 * requests, as plain data, and their text form.  Parsing calls no libnvmft
 * function, so nvmft-tgt's flag parser can check rules before anything runs.
 *
 * Text form: items separated by commas, each one of
 *
 *   fail=TYPES[:ERRNO][@COND...]    complete with ERRNO (default EIO), doing nothing
 *   short=TYPES[:ERRNO][@COND...]   do the first half of a read/write, then ERRNO
 *   delay=TYPES:DURATION[@COND...]  hold DURATION, then pass the request on
 *   hang=TYPES[:DURATION][@COND...] hold until released (or DURATION), then pass on
 *   seed=N                          seed of the rate draws (default 1)
 *
 * TYPES: read, write, flush, wz (write-zeroes), dsm (deallocate), compare or
 * any, joined with '+'.  ERRNO: a name (EIO, ENOSPC, ...) or a number.
 * DURATION: milliseconds, with an optional "ms" or "s" suffix.
 * COND: rate=P (probability 0..1, or N%), nth=N (only the Nth matching
 * request), count=N (at most N times), lba=A-B / lba=A+N / lba=A (the
 * request's blocks meet that inclusive range), after=DURATION (fail and
 * short only: hold that long first, then complete from the channel's timer).
 *
 * The first rule that matches a request decides what happens to it.
 */
#ifndef NVMFT_EXAMPLE_FAULT_RULES_H
#define NVMFT_EXAMPLE_FAULT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAULT_MAX_RULES 16
/* Longest DURATION accepted: an hour. */
#define FAULT_MAX_MS 3600000u

enum fault_action {
	FAULT_FAIL = 1,
	FAULT_SHORT,
	FAULT_DELAY,
	FAULT_HANG,
};

/* Bit of an enum nvmft_io_type in &struct fault_rule.types. */
#define FAULT_TYPE_BIT(t) (1u << (t))

struct fault_rule {
	enum fault_action action;
	uint32_t types;     /* FAULT_TYPE_BIT()s */
	int err;            /* FAIL, SHORT: a negative errno */
	uint32_t ms;        /* DELAY; HANG: 0 = until released; FAIL, SHORT: after= */
	uint64_t lba_first; /* inclusive range the request's blocks must meet */
	uint64_t lba_last;
	bool has_lba;
	uint64_t nth;       /* 0: every match */
	uint64_t count;     /* 0: no limit */
	bool has_rate;
	uint64_t rate;      /* fires when a uniform 64-bit draw is below it... */
	bool rate_always;   /* ...or always (P = 1) */
};

struct fault_rules {
	unsigned int n;
	uint64_t seed;
	struct fault_rule rule[FAULT_MAX_RULES];
};

/* Empty rule set, seed 1. */
void fault_rules_init(struct fault_rules *r);

/*
 * Parse a comma-separated list of items and append them to @r.  Return 0,
 * or -EINVAL / -ENOSPC (more than FAULT_MAX_RULES) with a message in @err.
 * @r is unchanged on failure.  An empty or NULL @spec adds nothing.
 */
int fault_rules_parse(struct fault_rules *r, const char *spec, char *err, size_t errlen);

/*
 * Whether @item (one comma-separated piece) looks like a fault item
 * ("fail=", "short=", "delay=", "hang=", "seed="), so a caller that mixes
 * them with options of its own can tell them apart.
 */
bool fault_rules_is_item(const char *item);

/* "EIO" for -EIO (or EIO); NULL for errnos without a name here. */
const char *fault_errno_name(int err);

#endif /* NVMFT_EXAMPLE_FAULT_RULES_H */
