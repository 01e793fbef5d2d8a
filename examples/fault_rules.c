/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The text form of fault rules (fault_rules.h).  Only the enum values of
 * <nvmft/backend.h> are used: no library call, so the flag parser of
 * nvmft-tgt links this without libnvmft.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nvmft/backend.h>

#include "fault_rules.h"

#define ALL_TYPES                                                                                  \
	(FAULT_TYPE_BIT(NVMFT_IO_READ) | FAULT_TYPE_BIT(NVMFT_IO_WRITE) |                          \
	 FAULT_TYPE_BIT(NVMFT_IO_FLUSH) | FAULT_TYPE_BIT(NVMFT_IO_WRITE_ZEROES) |                  \
	 FAULT_TYPE_BIT(NVMFT_IO_DEALLOCATE) | FAULT_TYPE_BIT(NVMFT_IO_COMPARE))

static const struct {
	const char *name;
	int err;
} errnos[] = {
	{ "EIO", EIO },	      { "EILSEQ", EILSEQ },	{ "ENOSPC", ENOSPC },
	{ "EROFS", EROFS },   { "EPERM", EPERM },	{ "EACCES", EACCES },
	{ "EAGAIN", EAGAIN }, { "EBUSY", EBUSY },	{ "ENOMEM", ENOMEM },
	{ "ENODEV", ENODEV }, { "ENXIO", ENXIO },	{ "ERANGE", ERANGE },
	{ "EFAULT", EFAULT }, { "EOPNOTSUPP", EOPNOTSUPP }, { "ETIMEDOUT", ETIMEDOUT },
	{ "ECANCELED", ECANCELED }, { "EINVAL", EINVAL }, { "E2BIG", E2BIG },
	{ "EPROTO", EPROTO },
};

static const struct {
	const char *name;
	uint32_t bits;
} type_names[] = {
	{ "read", FAULT_TYPE_BIT(NVMFT_IO_READ) },
	{ "write", FAULT_TYPE_BIT(NVMFT_IO_WRITE) },
	{ "flush", FAULT_TYPE_BIT(NVMFT_IO_FLUSH) },
	{ "wz", FAULT_TYPE_BIT(NVMFT_IO_WRITE_ZEROES) },
	{ "write-zeroes", FAULT_TYPE_BIT(NVMFT_IO_WRITE_ZEROES) },
	{ "dsm", FAULT_TYPE_BIT(NVMFT_IO_DEALLOCATE) },
	{ "deallocate", FAULT_TYPE_BIT(NVMFT_IO_DEALLOCATE) },
	{ "compare", FAULT_TYPE_BIT(NVMFT_IO_COMPARE) },
	{ "any", ALL_TYPES },
};

static const struct {
	const char *name;
	enum fault_action action;
} actions[] = {
	{ "fail", FAULT_FAIL },
	{ "short", FAULT_SHORT },
	{ "delay", FAULT_DELAY },
	{ "hang", FAULT_HANG },
};

void fault_rules_init(struct fault_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->seed = 1;
}

const char *fault_errno_name(int err)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].err == err)
			return errnos[i].name;
	return NULL;
}

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A whole decimal number; no sign, no junk. */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' ? -EINVAL : 0;
}

/* "250", "250ms", "2s". */
static int parse_ms(const char *s, uint32_t *out)
{
	char num[32];
	size_t n = strspn(s, "0123456789");
	uint64_t v, mul = 1;

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	if (strcmp(s + n, "s") == 0)
		mul = 1000;
	else if (s[n] != '\0' && strcmp(s + n, "ms") != 0)
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_u64(num, &v) < 0 || v > FAULT_MAX_MS / mul)
		return -EINVAL;
	*out = (uint32_t)(v * mul);
	return 0;
}

static int parse_errno(const char *s, int *out)
{
	uint64_t v;

	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++) {
		if (strcasecmp(s, errnos[i].name) == 0) {
			*out = -errnos[i].err;
			return 0;
		}
	}
	if (s[0] == '-')
		s++;
	if (parse_u64(s, &v) < 0 || v == 0 || v > 4095)
		return -EINVAL;
	*out = -(int)v;
	return 0;
}

/* "read", "read+write": no empty names, so "read+" is refused. */
static int parse_types(char *s, uint32_t *out)
{
	uint32_t bits = 0;

	for (;;) {
		char *plus = strchr(s, '+');
		size_t i;

		if (plus != NULL)
			*plus = '\0';
		for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
			if (strcasecmp(s, type_names[i].name) == 0)
				break;
		if (i == sizeof(type_names) / sizeof(type_names[0]))
			return -EINVAL;
		bits |= type_names[i].bits;
		if (plus == NULL)
			break;
		*plus = '+';
		s = plus + 1;
	}
	*out = bits;
	return 0;
}

/* "0.01", "1", "5%". */
static int parse_rate(const char *s, struct fault_rule *r)
{
	char *end;
	double p;

	errno = 0;
	p = strtod(s, &end);
	if (errno != 0 || end == s)
		return -EINVAL;
	if (*end == '%') {
		p /= 100.0;
		end++;
	}
	/* Written so that NaN fails too. */
	if (*end != '\0' || !(p >= 0.0 && p <= 1.0))
		return -EINVAL;
	r->has_rate = true;
	r->rate_always = p >= 1.0;
	/* 2^64 * p, kept below 2^64. */
	r->rate = r->rate_always ? UINT64_MAX : (uint64_t)(p * 18446744073709551616.0);
	return 0;
}

/* "A-B", "A+N" or "A": blocks A..B inclusive. */
static int parse_lba(const char *s, struct fault_rule *r)
{
	char a[32];
	size_t n = strspn(s, "0123456789");
	uint64_t first, x;

	if (n == 0 || n >= sizeof(a))
		return -EINVAL;
	memcpy(a, s, n);
	a[n] = '\0';
	if (parse_u64(a, &first) < 0)
		return -EINVAL;
	if (s[n] == '\0') {
		x = first;
	} else if (s[n] == '-') {
		if (parse_u64(s + n + 1, &x) < 0 || x < first)
			return -EINVAL;
	} else if (s[n] == '+') {
		if (parse_u64(s + n + 1, &x) < 0 || x == 0 || x - 1 > UINT64_MAX - first)
			return -EINVAL;
		x = first + (x - 1);
	} else {
		return -EINVAL;
	}
	r->has_lba = true;
	r->lba_first = first;
	r->lba_last = x;
	return 0;
}

static int parse_cond(struct fault_rule *r, char *c, const char *item, char *err, size_t errlen)
{
	char *val = strchr(c, '=');
	int rc = -EINVAL;

	if (val == NULL)
		return bad(err, errlen, "%s: condition '%s' needs a value", item, c);
	*val++ = '\0';
	if (strcmp(c, "rate") == 0) {
		rc = parse_rate(val, r);
	} else if (strcmp(c, "nth") == 0) {
		rc = parse_u64(val, &r->nth);
		if (rc == 0 && r->nth == 0)
			rc = -EINVAL;
	} else if (strcmp(c, "count") == 0) {
		rc = parse_u64(val, &r->count);
		if (rc == 0 && r->count == 0)
			rc = -EINVAL;
	} else if (strcmp(c, "lba") == 0) {
		rc = parse_lba(val, r);
	} else if (strcmp(c, "after") == 0) {
		if (r->action != FAULT_FAIL && r->action != FAULT_SHORT)
			return bad(err, errlen, "%s: after= only goes with fail and short", item);
		rc = parse_ms(val, &r->ms);
	} else {
		return bad(err, errlen,
			   "%s: unknown condition '%s' (rate=, nth=, count=, lba=, after=)", item,
			   c);
	}
	if (rc < 0)
		return bad(err, errlen, "%s: bad value '%s' for %s=", item, val, c);
	return 0;
}

/* One "action=TYPES[:ARG][@COND...]" item. */
static int parse_rule(struct fault_rule *r, char *s, const char *item, char *err, size_t errlen)
{
	char *eq = strchr(s, '='), *arg, *conds, *save = NULL;
	size_t i;

	*eq = '\0';
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(s, actions[i].name) == 0)
			break;
	memset(r, 0, sizeof(*r));
	r->action = actions[i].action;
	r->err = -EIO;
	s = eq + 1;
	conds = strchr(s, '@');
	if (conds != NULL)
		*conds++ = '\0';
	arg = strchr(s, ':');
	if (arg != NULL)
		*arg++ = '\0';
	if (parse_types(s, &r->types) < 0)
		return bad(err, errlen,
			   "%s: '%s' is not a request type (read, write, flush, wz, dsm, compare, "
			   "any, joined with +)",
			   item, s);
	switch (r->action) {
	case FAULT_FAIL:
	case FAULT_SHORT:
		if (arg != NULL && parse_errno(arg, &r->err) < 0)
			return bad(err, errlen, "%s: '%s' is not an errno (EIO, ENOSPC, ... or 1..4095)",
				   item, arg);
		break;
	case FAULT_DELAY:
		if (arg == NULL || parse_ms(arg, &r->ms) < 0 || r->ms == 0)
			return bad(err, errlen, "%s: delay needs a duration (e.g. 5ms, 1s)", item);
		break;
	case FAULT_HANG:
		if (arg != NULL && (parse_ms(arg, &r->ms) < 0 || r->ms == 0))
			return bad(err, errlen, "%s: '%s' is not a duration (e.g. 100ms, 2s)", item,
				   arg);
		break;
	}
	for (char *c = conds ? strtok_r(conds, "@", &save) : NULL; c != NULL;
	     c = strtok_r(NULL, "@", &save)) {
		int rc = parse_cond(r, c, item, err, errlen);

		if (rc < 0)
			return rc;
	}
	return 0;
}

bool fault_rules_is_item(const char *item)
{
	static const char *const keys[] = { "fail=", "short=", "delay=", "hang=", "seed=" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strncmp(item, keys[i], strlen(keys[i])) == 0)
			return true;
	return false;
}

int fault_rules_parse(struct fault_rules *r, const char *spec, char *err, size_t errlen)
{
	struct fault_rules tmp;
	char *copy, *save = NULL;
	int rc = 0;

	if (r == NULL)
		return -EINVAL;
	if (spec == NULL || spec[0] == '\0')
		return 0;
	copy = strdup(spec);
	if (copy == NULL)
		return -ENOMEM;
	tmp = *r;
	for (char *it = strtok_r(copy, ",", &save); it != NULL && rc == 0;
	     it = strtok_r(NULL, ",", &save)) {
		char item[128];

		snprintf(item, sizeof(item), "%s", it);
		if (!fault_rules_is_item(it)) {
			rc = bad(err, errlen, "'%s' is not a fault rule (fail=, short=, delay=, hang=, "
					      "seed=)",
				 item);
		} else if (strncmp(it, "seed=", 5) == 0) {
			if (parse_u64(it + 5, &tmp.seed) < 0)
				rc = bad(err, errlen, "%s: seed must be a number", item);
		} else if (tmp.n == FAULT_MAX_RULES) {
			bad(err, errlen, "more than %d fault rules", FAULT_MAX_RULES);
			rc = -ENOSPC;
		} else {
			rc = parse_rule(&tmp.rule[tmp.n], it, item, err, errlen);
			if (rc == 0)
				tmp.n++;
		}
	}
	free(copy);
	if (rc == 0)
		*r = tmp;
	return rc;
}
