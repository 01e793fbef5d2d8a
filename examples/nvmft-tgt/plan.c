/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The plan's storage, its whole-plan validation, and the small text parsers
 * the config and the command line share.  No libnvmft calls here (see
 * plan.h), so the limits the library documents are repeated as checks: a
 * plan that passes should not fail in setup for a reason we could have
 * named earlier.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plan.h"

void plan_init(struct plan *p)
{
	memset(p, 0, sizeof(*p));
	plan_origin_set(&p->tr_override.origin, "command line", "");
}

void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n_bdevs; i++) {
		free(p->bdevs[i].name);
		free(p->bdevs[i].filename);
		free(p->bdevs[i].fault_rules);
	}
	for (size_t i = 0; i < p->n_subsys; i++) {
		free(p->subsys[i].nqn);
		free(p->subsys[i].serial_number);
		free(p->subsys[i].model_number);
	}
	for (size_t i = 0; i < p->n_allows; i++)
		free(p->allows[i].nqn);
	for (size_t i = 0; i < p->n_hosts; i++) {
		free(p->hosts[i].nqn);
		free(p->hosts[i].host);
	}
	for (size_t i = 0; i < p->n_listeners; i++) {
		free(p->listeners[i].nqn);
		free(p->listeners[i].traddr);
		free(p->listeners[i].trsvcid);
	}
	for (size_t i = 0; i < p->n_ns; i++) {
		free(p->ns[i].nqn);
		free(p->ns[i].bdev_name);
	}
	free(p->transports);
	free(p->bdevs);
	free(p->subsys);
	free(p->allows);
	free(p->hosts);
	free(p->listeners);
	free(p->ns);
	memset(p, 0, sizeof(*p));
}

/* Entries live in arrays, so a returned pointer is valid until the next add. */
#define PLAN_ADDER(fn, type, arr, cnt)                                \
	type *fn(struct plan *p)                                      \
	{                                                             \
		type *a = realloc(p->arr, (p->cnt + 1) * sizeof(*a)); \
		if (a == NULL)                                        \
			return NULL;                                  \
		p->arr = a;                                           \
		memset(&a[p->cnt], 0, sizeof(*a));                    \
		return &a[p->cnt++];                                  \
	}

PLAN_ADDER(plan_add_transport, struct plan_transport, transports, n_transports)
PLAN_ADDER(plan_add_bdev, struct plan_bdev, bdevs, n_bdevs)
PLAN_ADDER(plan_add_subsys, struct plan_subsys, subsys, n_subsys)
PLAN_ADDER(plan_add_allow, struct plan_allow, allows, n_allows)
PLAN_ADDER(plan_add_host, struct plan_host, hosts, n_hosts)
PLAN_ADDER(plan_add_listener, struct plan_listener, listeners, n_listeners)
PLAN_ADDER(plan_add_ns, struct plan_ns, ns, n_ns)

struct plan_subsys *plan_find_subsys(const struct plan *p, const char *nqn)
{
	for (size_t i = 0; i < p->n_subsys; i++)
		if (strcmp(p->subsys[i].nqn, nqn) == 0)
			return &p->subsys[i];
	return NULL;
}

struct plan_bdev *plan_find_bdev(const struct plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_bdevs; i++)
		if (strcmp(p->bdevs[i].name, name) == 0)
			return &p->bdevs[i];
	return NULL;
}

struct plan_transport *plan_find_transport(const struct plan *p, enum nvmft_trtype trtype)
{
	for (size_t i = 0; i < p->n_transports; i++)
		if (p->transports[i].trtype == trtype)
			return &p->transports[i];
	return NULL;
}

bool plan_uses_trtype(const struct plan *p, enum nvmft_trtype trtype)
{
	if (plan_find_transport(p, trtype) != NULL)
		return true;
	for (size_t i = 0; i < p->n_listeners; i++)
		if (p->listeners[i].trtype == trtype)
			return true;
	return false;
}

void plan_origin_set(struct plan_origin *o, const char *what, const char *where)
{
	snprintf(o->what, sizeof(o->what), "%s", what);
	snprintf(o->where, sizeof(o->where), "%s", where);
}

int plan_fail(char *err, size_t errlen, const struct plan_origin *o, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s: %s%s", o->what, msg, o->where);
	return -EINVAL;
}

int plan_failf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- Validation --------------------------------------------------------- */

static bool is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

bool plan_block_size_valid(uint32_t bs)
{
	return is_pow2(bs) && bs >= 512 && bs <= 65536;
}

/* Only the shape; the library checks the full NQN grammar when it is used. */
static bool nqn_plausible(const char *nqn)
{
	size_t len = strlen(nqn);

	return len > 4 && len <= PLAN_NQN_MAX && strncmp(nqn, "nqn.", 4) == 0;
}

static bool ascii_printable(const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* The ranges of struct nvmft_transport_opts as documented in transport.h. */
static int validate_transport(const struct plan_transport *t, char *err, size_t errlen)
{
	const struct plan_origin *o = &t->origin;

	if ((t->set & PLAN_TR_MAX_QUEUE_DEPTH) &&
	    (t->max_queue_depth < 2 || t->max_queue_depth > 65536))
		return plan_fail(err, errlen, o, "max_queue_depth %u is outside 2..65536",
				 t->max_queue_depth);
	if ((t->set & PLAN_TR_MAX_AQ_DEPTH) && (t->max_aq_depth < 32 || t->max_aq_depth > 4096))
		return plan_fail(err, errlen, o, "max_aq_depth %u is outside 32..4096",
				 t->max_aq_depth);
	if ((t->set & PLAN_TR_MAX_QPAIRS) &&
	    (t->max_qpairs_per_ctrlr < 2 || t->max_qpairs_per_ctrlr > 65535))
		return plan_fail(err, errlen, o,
				 "%u I/O queue pairs per controller is outside 1..65534",
				 t->max_qpairs_per_ctrlr - 1);
	if ((t->set & PLAN_TR_IN_CAPSULE) && t->in_capsule_data_size > 65536)
		return plan_fail(err, errlen, o, "in_capsule_data_size %u is larger than 65536",
				 t->in_capsule_data_size);
	if ((t->set & PLAN_TR_MAX_IO_SIZE) &&
	    (!is_pow2(t->max_io_size) || t->max_io_size < 4096 || t->max_io_size > (8u << 20)))
		return plan_fail(err, errlen, o,
				 "max_io_size %u must be a power of two from 4096 to 8388608",
				 t->max_io_size);
	if ((t->set & PLAN_TR_MAX_SRQ_DEPTH) &&
	    (t->max_srq_depth < PLAN_SRQ_DEPTH_MIN || t->max_srq_depth > PLAN_SRQ_DEPTH_MAX))
		return plan_fail(err, errlen, o, "max_srq_depth %u is outside %u..%u",
				 t->max_srq_depth, PLAN_SRQ_DEPTH_MIN, PLAN_SRQ_DEPTH_MAX);
	return 0;
}

static int validate_bdev(const struct plan *p, size_t idx, char *err, size_t errlen)
{
	const struct plan_bdev *b = &p->bdevs[idx];
	const struct plan_origin *o = &b->origin;

	if (b->name == NULL || b->name[0] == '\0')
		return plan_fail(err, errlen, o, "bdev name is empty");
	for (size_t i = 0; i < idx; i++)
		if (strcmp(p->bdevs[i].name, b->name) == 0)
			return plan_fail(err, errlen, o, "bdev name '%s' is already used", b->name);
	if (b->kind == PLAN_BDEV_FILE) {
		if (b->filename == NULL || b->filename[0] == '\0')
			return plan_fail(err, errlen, o, "file name is empty");
		if (b->block_size != 0 && !plan_block_size_valid(b->block_size))
			return plan_fail(err, errlen, o,
					 "block size %u is not a power of two from 512 to 65536",
					 b->block_size);
		return 0;
	}
	if (!plan_block_size_valid(b->block_size))
		return plan_fail(err, errlen, o,
				 "block size %u is not a power of two from 512 to 65536",
				 b->block_size);
	if (b->num_blocks == 0)
		return plan_fail(err, errlen, o, "size is zero blocks");
	if (b->num_blocks > UINT64_MAX / b->block_size)
		return plan_fail(err, errlen, o, "size overflows 64 bits");
	return 0;
}

static int validate_subsys(const struct plan *p, size_t idx, char *err, size_t errlen)
{
	const struct plan_subsys *s = &p->subsys[idx];
	const struct plan_origin *o = &s->origin;
	uint32_t lo = s->min_cntlid ? s->min_cntlid : 1;
	uint32_t hi = s->max_cntlid ? s->max_cntlid : PLAN_CNTLID_MAX;

	if (!nqn_plausible(s->nqn))
		return plan_fail(err, errlen, o,
				 "'%s' is not an NQN (\"nqn.\" followed by at most 219 bytes)",
				 s->nqn);
	if (strcmp(s->nqn, PLAN_DISCOVERY_NQN) == 0)
		return plan_fail(err, errlen, o,
				 "'%s' is the discovery subsystem, which always exists", s->nqn);
	for (size_t i = 0; i < idx; i++)
		if (strcmp(p->subsys[i].nqn, s->nqn) == 0)
			return plan_fail(err, errlen, o, "subsystem '%s' is created twice", s->nqn);
	if (s->serial_number != NULL && !ascii_printable(s->serial_number, 20))
		return plan_fail(err, errlen, o,
				 "serial number must be 1 to 20 printable ASCII characters");
	if (s->model_number != NULL && !ascii_printable(s->model_number, 40))
		return plan_fail(err, errlen, o,
				 "model number must be 1 to 40 printable ASCII characters");
	if (s->max_namespaces > PLAN_MAX_NS_LIMIT)
		return plan_fail(err, errlen, o, "max_namespaces %u is larger than %u",
				 s->max_namespaces, PLAN_MAX_NS_LIMIT);
	if (lo > PLAN_CNTLID_MAX || hi > PLAN_CNTLID_MAX || lo > hi)
		return plan_fail(err, errlen, o,
				 "controller ID range %u..%u is not within 1..65519 or is empty",
				 lo, hi);
	return 0;
}

static int validate_host(const struct plan *p, size_t idx, char *err, size_t errlen)
{
	const struct plan_host *h = &p->hosts[idx];

	if (plan_find_subsys(p, h->nqn) == NULL)
		return plan_fail(err, errlen, &h->origin, "unknown subsystem '%s'", h->nqn);
	if (!nqn_plausible(h->host))
		return plan_fail(err, errlen, &h->origin, "host '%s' is not an NQN", h->host);
	for (size_t i = 0; i < idx; i++)
		if (strcmp(p->hosts[i].nqn, h->nqn) == 0 && strcmp(p->hosts[i].host, h->host) == 0)
			return plan_fail(err, errlen, &h->origin,
					 "host '%s' is added to '%s' twice", h->host, h->nqn);
	return 0;
}

int plan_check_vfu_address(const struct plan_listener *l, char *err, size_t errlen)
{
	if (l->traddr == NULL || l->traddr[0] == '\0' ||
	    strlen(l->traddr) + sizeof("/cntrl") > PLAN_SUN_PATH_MAX)
		return plan_fail(err, errlen, &l->origin, "'%s' is not a usable socket directory",
				 l->traddr ? l->traddr : "");
	if (l->trsvcid != NULL && l->trsvcid[0] != '\0' && strcmp(l->trsvcid, "0") != 0)
		return plan_fail(err, errlen, &l->origin,
				 "a vfio-user socket has no port: trsvcid must be \"\" or \"0\", "
				 "not '%s'",
				 l->trsvcid);
	if (l->nqn != NULL && strcmp(l->nqn, PLAN_DISCOVERY_NQN) == 0)
		return plan_fail(err, errlen, &l->origin, "vfio-user serves no discovery subsystem");
	return 0;
}

/*
 * A vfio-user socket is one PCI function of one subsystem (no discovery):
 * it must name that subsystem, or be the plan's only one, and a directory
 * serves a single subsystem.  The socket path (DIR/cntrl) must fit.
 */
static int validate_vfu_listener(const struct plan *p, const struct plan_listener *l, char *err,
				 size_t errlen)
{
	const char *nqn = l->nqn;
	int rc = plan_check_vfu_address(l, err, errlen);

	if (rc < 0)
		return rc;
	if (nqn == NULL && p->n_subsys != 1)
		return plan_fail(err, errlen, &l->origin,
				 "a vfio-user listener belongs to one subsystem: give it after -n NQN");
	if (nqn == NULL)
		nqn = p->subsys[0].nqn;
	for (const struct plan_listener *o = p->listeners; o < l; o++)
		if (o->trtype == NVMFT_TRTYPE_VFIOUSER && strcmp(o->traddr, l->traddr) == 0 &&
		    strcmp(o->nqn ? o->nqn : p->subsys[0].nqn, nqn) != 0)
			return plan_fail(err, errlen, &l->origin, "%s serves another subsystem already",
					 l->traddr);
	return 0;
}

static int validate_listener(const struct plan *p, const struct plan_listener *l, char *err,
			     size_t errlen)
{
	if (l->nqn != NULL && strcmp(l->nqn, PLAN_DISCOVERY_NQN) != 0 &&
	    plan_find_subsys(p, l->nqn) == NULL)
		return plan_fail(err, errlen, &l->origin, "unknown subsystem '%s'", l->nqn);
	if (l->trtype == NVMFT_TRTYPE_VFIOUSER)
		return validate_vfu_listener(p, l, err, errlen);
	if (l->adrfam != NVMFT_ADRFAM_IPV4 && l->adrfam != NVMFT_ADRFAM_IPV6)
		return plan_fail(err, errlen, &l->origin, "address family must be IPv4 or IPv6");
	if (l->traddr == NULL || !plan_addr_valid(l->adrfam, l->traddr))
		return plan_fail(err, errlen, &l->origin, "'%s' is not a numeric %s address",
				 l->traddr ? l->traddr : "",
				 l->adrfam == NVMFT_ADRFAM_IPV6 ? "IPv6" : "IPv4");
	if (l->trsvcid == NULL || !plan_port_valid(l->trsvcid))
		return plan_fail(err, errlen, &l->origin, "'%s' is not a port number (0..65535)",
				 l->trsvcid ? l->trsvcid : "");
	return 0;
}

static int validate_ns(const struct plan *p, size_t idx, char *err, size_t errlen)
{
	const struct plan_ns *n = &p->ns[idx];
	const struct plan_origin *o = &n->origin;
	const struct plan_subsys *s = plan_find_subsys(p, n->nqn);

	if (s == NULL)
		return plan_fail(err, errlen, o, "unknown subsystem '%s'", n->nqn);
	if (plan_find_bdev(p, n->bdev_name) == NULL)
		return plan_fail(err, errlen, o, "unknown bdev '%s'", n->bdev_name);
	if (s->max_namespaces != 0 && n->nsid > s->max_namespaces)
		return plan_fail(err, errlen, o, "nsid %u is above max_namespaces %u of '%s'",
				 n->nsid, s->max_namespaces, s->nqn);
	if (n->nsid > PLAN_MAX_NS_LIMIT)
		return plan_fail(err, errlen, o, "nsid %u is above %u", n->nsid, PLAN_MAX_NS_LIMIT);
	for (size_t i = 0; i < idx; i++) {
		const struct plan_ns *m = &p->ns[i];

		if (strcmp(m->bdev_name, n->bdev_name) == 0)
			return plan_fail(
				err, errlen, o,
				"bdev '%s' already backs a namespace (one namespace per bdev)",
				n->bdev_name);
		if (n->nsid != 0 && m->nsid == n->nsid && strcmp(m->nqn, n->nqn) == 0)
			return plan_fail(err, errlen, o, "nsid %u of '%s' is used twice", n->nsid,
					 n->nqn);
	}
	return 0;
}

/* Give subsystems without an explicit max_namespaces room for their namespaces. */
static int size_subsys(struct plan *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->n_subsys; i++) {
		struct plan_subsys *s = &p->subsys[i];
		uint32_t count = 0, highest = 0, need;

		for (size_t j = 0; j < p->n_ns; j++) {
			if (strcmp(p->ns[j].nqn, s->nqn) != 0)
				continue;
			count++;
			if (p->ns[j].nsid > highest)
				highest = p->ns[j].nsid;
		}
		need = count > highest ? count : highest;
		if (s->max_namespaces == 0)
			s->max_namespaces = need > PLAN_DEFAULT_MAX_NS ? need : PLAN_DEFAULT_MAX_NS;
		if (need > s->max_namespaces || need > PLAN_MAX_NS_LIMIT)
			return plan_fail(err, errlen, &s->origin,
					 "%u namespaces do not fit in max_namespaces %u", need,
					 s->max_namespaces);
	}
	return 0;
}

int plan_check(struct plan *p, char *err, size_t errlen)
{
	int rc;

	if (p->max_subsystems != 0 && p->max_subsystems > 65535)
		return plan_failf(err, errlen, "max_subsystems %u is larger than 65535",
				  p->max_subsystems);
	if (p->max_subsystems != 0 && p->n_subsys + 1 > p->max_subsystems)
		return plan_failf(
			err, errlen,
			"%zu subsystems and the discovery subsystem exceed max_subsystems %u",
			p->n_subsys, p->max_subsystems);
	rc = validate_transport(&p->tr_override, err, errlen);
	for (size_t i = 0; rc == 0 && i < p->n_transports; i++) {
		rc = validate_transport(&p->transports[i], err, errlen);
		for (size_t j = 0; rc == 0 && j < i; j++)
			if (p->transports[j].trtype == p->transports[i].trtype)
				rc = plan_fail(err, errlen, &p->transports[i].origin,
					       "transport %s is created twice",
					       plan_trtype_str(p->transports[i].trtype));
	}
	for (size_t i = 0; rc == 0 && i < p->n_bdevs; i++)
		rc = validate_bdev(p, i, err, errlen);
	for (size_t i = 0; rc == 0 && i < p->n_subsys; i++)
		rc = validate_subsys(p, i, err, errlen);
	for (size_t i = 0; rc == 0 && i < p->n_allows; i++)
		if (plan_find_subsys(p, p->allows[i].nqn) == NULL)
			rc = plan_fail(err, errlen, &p->allows[i].origin, "unknown subsystem '%s'",
				       p->allows[i].nqn);
	for (size_t i = 0; rc == 0 && i < p->n_hosts; i++)
		rc = validate_host(p, i, err, errlen);
	for (size_t i = 0; rc == 0 && i < p->n_listeners; i++)
		rc = validate_listener(p, &p->listeners[i], err, errlen);
	for (size_t i = 0; rc == 0 && i < p->n_ns; i++)
		rc = validate_ns(p, i, err, errlen);
	if (rc == 0)
		rc = size_subsys(p, err, errlen);
	return rc;
}

int plan_validate(struct plan *p, char *err, size_t errlen)
{
	int rc = plan_check(p, err, errlen);

	if (rc == 0 && p->n_listeners == 0)
		rc = plan_failf(err, errlen,
				"nothing to listen on: give -l/--listen or an "
				"nvmf_subsystem_add_listener entry");
	return rc;
}

/* ---- Parsers ------------------------------------------------------------ */

/* Digits only: strtoull alone would take signs and leading blanks. */
static int parse_u64_prefix(const char *s, uint64_t *out, const char **end)
{
	char *e;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &e, 10);
	if (errno == ERANGE)
		return -ERANGE;
	*end = e;
	return 0;
}

int plan_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	const char *end, *u;
	uint64_t v;
	unsigned int shift = 0;
	int rc;

	rc = parse_u64_prefix(s, &v, &end);
	if (rc < 0)
		return rc;
	if (*end != '\0' && (u = strchr(units, toupper((unsigned char)*end))) != NULL) {
		shift = 10 * (unsigned int)(u - units + 1);
		end++;
		if (*end == 'i')
			end++;
	}
	if (*end == 'B')
		end++;
	if (*end != '\0')
		return -EINVAL;
	if (shift != 0 && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int plan_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	const char *end;
	uint64_t v;
	int rc;

	rc = parse_u64_prefix(s, &v, &end);
	if (rc < 0)
		return rc;
	if (*end != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

int plan_parse_trtype(const char *s, enum nvmft_trtype *out)
{
	if (strcasecmp(s, "tcp") == 0)
		*out = NVMFT_TRTYPE_TCP;
	else if (strcasecmp(s, "rdma") == 0)
		*out = NVMFT_TRTYPE_RDMA;
	else if (strcasecmp(s, "vfiouser") == 0 || strcasecmp(s, "vfio-user") == 0)
		*out = NVMFT_TRTYPE_VFIOUSER; /* SPDK's "VFIOUSER", and our flags' spelling */
	else
		return -EINVAL;
	return 0;
}

const char *plan_trtype_str(enum nvmft_trtype trtype)
{
	switch (trtype) {
	case NVMFT_TRTYPE_TCP:
		return "tcp";
	case NVMFT_TRTYPE_RDMA:
		return "rdma";
	case NVMFT_TRTYPE_VFIOUSER:
		return "vfio-user";
	}
	return "unknown";
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int plan_parse_uuid(const char *s, uint8_t out[16])
{
	uint8_t b[16];
	size_t n = 0;

	if (strlen(s) != 36)
		return -EINVAL;
	for (size_t i = 0; i < 36;) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i++] != '-')
				return -EINVAL;
			continue;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		b[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	memcpy(out, b, sizeof(b));
	return 0;
}

int plan_parse_hex_id(const char *s, uint8_t *out, size_t len)
{
	uint8_t b[16];
	size_t nibbles = 0;

	if (len > sizeof(b))
		return -EINVAL;
	memset(b, 0, sizeof(b));
	for (; *s != '\0'; s++) {
		int v;

		if (*s == '-')
			continue;
		v = hexval(*s);
		if (v < 0 || nibbles == 2 * len)
			return -EINVAL;
		b[nibbles / 2] |= (uint8_t)(nibbles % 2 ? v : v << 4);
		nibbles++;
	}
	if (nibbles != 2 * len)
		return -EINVAL;
	memcpy(out, b, len);
	return 0;
}

bool plan_port_valid(const char *s)
{
	uint32_t port;

	return plan_parse_u32(s, 0, 65535, &port) == 0;
}

bool plan_addr_valid(enum nvmft_adrfam adrfam, const char *traddr)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (adrfam == NVMFT_ADRFAM_IPV4)
		return inet_pton(AF_INET, traddr, buf) == 1;
	if (adrfam == NVMFT_ADRFAM_IPV6)
		return inet_pton(AF_INET6, traddr, buf) == 1;
	return false;
}
