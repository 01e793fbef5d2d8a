/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reads SPDK's saved-configuration JSON:
 *
 *   {"subsystems": [{"subsystem": "bdev", "config": [{"method": ..., "params": {...}}, ...]},
 *                   {"subsystem": "nvmf", "config": [...]}, ...]}
 *
 * Each method we support has a table of the parameters SPDK writes for it,
 * saying which we use, which carry no meaning here (ignored), and which we
 * accept only at their "feature off" value.  Anything else is refused by
 * name: silently dropping a setting someone relied on is worse than
 * refusing to start.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

/* Refuse configuration files larger than this before reading them. */
#define CONFIG_MAX_BYTES (16u << 20)

struct cfg_ctx {
	struct plan *plan;
	char *err;
	size_t errlen;
	const char *subsystem; /* "subsystem" of the current section */
	unsigned int entry;    /* 1-based index in its "config" array */
	const char *method;
	const char *prefix; /* "" or "listen_address." for nested objects */
	struct plan_origin origin;
	/* The failure is a feature libnvmft lacks, not a malformed parameter. */
	bool unsupported;
};

enum cfg_pkind {
	P_USE,	  /* read by the method's handler */
	P_IGNORE, /* any value accepted; no meaning here */
	P_FALSE,  /* accepted only as false */
	P_ZERO,	  /* accepted only as 0 */
	P_REFUSE, /* a feature libnvmft does not have */
};

struct cfg_param {
	const char *name;
	enum cfg_pkind kind;
};

static int cfg_fail(struct cfg_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cfg_fail(struct cfg_ctx *c, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return plan_fail(c->err, c->errlen, &c->origin, "%s", msg);
}

static int cfg_nomem(struct cfg_ctx *c)
{
	snprintf(c->err, c->errlen, "config: out of memory");
	return -ENOMEM;
}

/* Every key of @obj must be in @tab, and restricted ones must be "off". */
static int cfg_check_params(struct cfg_ctx *c, json_t *obj, const struct cfg_param *tab, size_t n)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		const struct cfg_param *p = NULL;

		for (size_t i = 0; i < n; i++)
			if (strcmp(tab[i].name, key) == 0)
				p = &tab[i];
		if (p == NULL)
			return cfg_fail(c, "unsupported parameter '%s%s'", c->prefix, key);
		switch (p->kind) {
		case P_FALSE:
			if (json_is_false(v))
				break;
			c->unsupported = json_is_true(v);
			return cfg_fail(c, "parameter '%s%s' is supported only as false",
					c->prefix, key);
		case P_ZERO:
			if (json_is_integer(v) && json_integer_value(v) == 0)
				break;
			c->unsupported = json_is_integer(v);
			return cfg_fail(c, "parameter '%s%s' is supported only as 0", c->prefix,
					key);
		case P_REFUSE:
			c->unsupported = true;
			return cfg_fail(c, "parameter '%s%s' is not supported", c->prefix, key);
		case P_USE:
		case P_IGNORE:
			break;
		}
	}
	return 0;
}

#define CHECK_PARAMS(c, obj, tab) \
	cfg_check_params((c), (obj), (tab), sizeof(tab) / sizeof((tab)[0]))

/* The getters leave *out alone when the key is absent and not required. */
static int cfg_u64(struct cfg_ctx *c, json_t *obj, const char *key, bool required, uint64_t min,
		   uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);
	json_int_t i;

	if (v == NULL) {
		if (required)
			return cfg_fail(c, "parameter '%s%s' is required", c->prefix, key);
		return 0;
	}
	i = json_is_integer(v) ? json_integer_value(v) : -1;
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return cfg_fail(c, "parameter '%s%s' must be an integer from %llu to %llu",
				c->prefix, key, (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)i;
	return 0;
}

static int cfg_u32(struct cfg_ctx *c, json_t *obj, const char *key, bool required, uint32_t min,
		   uint32_t max, uint32_t *out)
{
	uint64_t v = *out;
	int rc = cfg_u64(c, obj, key, required, min, max, &v);

	*out = (uint32_t)v;
	return rc;
}

static int cfg_str(struct cfg_ctx *c, json_t *obj, const char *key, bool required, const char **out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		if (required)
			return cfg_fail(c, "parameter '%s%s' is required", c->prefix, key);
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return cfg_fail(c, "parameter '%s%s' must be a non-empty string", c->prefix, key);
	*out = json_string_value(v);
	return 0;
}

static int cfg_bool(struct cfg_ctx *c, json_t *obj, const char *key, bool required, bool *out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		if (required)
			return cfg_fail(c, "parameter '%s%s' is required", c->prefix, key);
		return 0;
	}
	if (!json_is_boolean(v))
		return cfg_fail(c, "parameter '%s%s' must be true or false", c->prefix, key);
	*out = json_is_true(v);
	return 0;
}

/* Optional UUID; *has tells whether it was given. */
static int cfg_uuid(struct cfg_ctx *c, json_t *obj, const char *key, uint8_t out[16], bool *has)
{
	const char *s = NULL;
	int rc = cfg_str(c, obj, key, false, &s);

	if (rc < 0 || s == NULL)
		return rc;
	if (plan_parse_uuid(s, out) < 0)
		return cfg_fail(c, "parameter '%s%s' is not a UUID: '%s'", c->prefix, key, s);
	*has = true;
	return 0;
}

static int cfg_hex_id(struct cfg_ctx *c, json_t *obj, const char *key, uint8_t *out, size_t len,
		      bool *has)
{
	const char *s = NULL;
	int rc = cfg_str(c, obj, key, false, &s);

	if (rc < 0 || s == NULL)
		return rc;
	if (plan_parse_hex_id(s, out, len) < 0)
		return cfg_fail(c, "parameter '%s%s' must be %zu hex digits: '%s'", c->prefix, key,
				2 * len, s);
	*has = true;
	return 0;
}

static int cfg_dup(struct cfg_ctx *c, const char *s, char **out)
{
	if (s == NULL)
		return 0;
	*out = strdup(s);
	return *out == NULL ? cfg_nomem(c) : 0;
}

static int cfg_trtype(struct cfg_ctx *c, const char *s, enum nvmft_trtype *out)
{
	if (plan_parse_trtype(s, out) < 0)
		return cfg_fail(c, "transport type '%s' is not supported (TCP, RDMA or VFIOUSER)", s);
	return 0;
}

/* ---- bdev methods ------------------------------------------------------- */

static const struct cfg_param malloc_params[] = {
	{ "name", P_USE },
	{ "num_blocks", P_USE },
	{ "block_size", P_USE },
	{ "uuid", P_USE },
	{ "physical_block_size", P_IGNORE },
	{ "optimal_io_boundary", P_IGNORE },
	{ "numa_id", P_IGNORE },
	{ "md_size", P_ZERO },
	{ "dif_type", P_ZERO },
	{ "dif_is_head_of_md", P_IGNORE },
	{ "dif_pi_format", P_IGNORE },
	{ "md_interleave", P_IGNORE },
};

static const struct cfg_param null_params[] = {
	{ "name", P_USE },
	{ "num_blocks", P_USE },
	{ "block_size", P_USE },
	{ "uuid", P_USE },
	{ "physical_block_size", P_IGNORE },
	{ "md_size", P_ZERO },
	{ "dif_type", P_ZERO },
	{ "dif_is_head_of_md", P_IGNORE },
	{ "dif_pi_format", P_IGNORE },
	/* Performance hints for Identify Namespace; the built-in backends report none. */
	{ "preferred_write_granularity", P_IGNORE },
	{ "preferred_write_alignment", P_IGNORE },
	{ "optimal_write_size", P_IGNORE },
	{ "preferred_unmap_granularity", P_IGNORE },
	{ "preferred_unmap_alignment", P_IGNORE },
};

static int cfg_ram_or_null(struct cfg_ctx *c, json_t *params, enum plan_bdev_kind kind)
{
	const char *name = NULL;
	struct plan_bdev tmp = { .kind = kind };
	struct plan_bdev *b;
	int rc;

	rc = kind == PLAN_BDEV_RAM ? CHECK_PARAMS(c, params, malloc_params)
				   : CHECK_PARAMS(c, params, null_params);
	if (rc == 0)
		rc = cfg_str(c, params, "name", true, &name);
	if (rc == 0)
		rc = cfg_u64(c, params, "num_blocks", true, 1, UINT64_MAX, &tmp.num_blocks);
	if (rc == 0)
		rc = cfg_u32(c, params, "block_size", true, 1, UINT32_MAX, &tmp.block_size);
	if (rc == 0)
		rc = cfg_uuid(c, params, "uuid", tmp.uuid, &tmp.has_uuid);
	if (rc < 0)
		return rc;
	b = plan_add_bdev(c->plan);
	if (b == NULL)
		return cfg_nomem(c);
	*b = tmp;
	b->origin = c->origin;
	return cfg_dup(c, name, &b->name);
}

static int cfg_bdev_malloc(struct cfg_ctx *c, json_t *params)
{
	return cfg_ram_or_null(c, params, PLAN_BDEV_RAM);
}

static int cfg_bdev_null(struct cfg_ctx *c, json_t *params)
{
	return cfg_ram_or_null(c, params, PLAN_BDEV_NULL);
}

static const struct cfg_param uring_params[] = {
	{ "name", P_USE },
	{ "filename", P_USE },
	{ "block_size", P_USE },
	{ "uuid", P_USE },
};

/* bdev_aio_create describes the same thing; the uring backend serves it. */
static const struct cfg_param aio_params[] = {
	{ "name", P_USE },
	{ "filename", P_USE },
	{ "block_size", P_USE },
	{ "uuid", P_USE },
	{ "readonly", P_FALSE },
	{ "fallocate", P_IGNORE },
};

static int cfg_file_bdev(struct cfg_ctx *c, json_t *params, bool aio)
{
	const char *name = NULL, *filename = NULL;
	struct plan_bdev tmp = { .kind = PLAN_BDEV_FILE };
	struct plan_bdev *b;
	int rc;

	rc = aio ? CHECK_PARAMS(c, params, aio_params) : CHECK_PARAMS(c, params, uring_params);
	if (rc == 0)
		rc = cfg_str(c, params, "name", true, &name);
	if (rc == 0)
		rc = cfg_str(c, params, "filename", true, &filename);
	if (rc == 0)
		rc = cfg_u32(c, params, "block_size", false, 0, UINT32_MAX, &tmp.block_size);
	if (rc == 0)
		rc = cfg_uuid(c, params, "uuid", tmp.uuid, &tmp.has_uuid);
	if (rc < 0)
		return rc;
	b = plan_add_bdev(c->plan);
	if (b == NULL)
		return cfg_nomem(c);
	*b = tmp;
	b->origin = c->origin;
	rc = cfg_dup(c, name, &b->name);
	return rc < 0 ? rc : cfg_dup(c, filename, &b->filename);
}

static int cfg_bdev_uring(struct cfg_ctx *c, json_t *params)
{
	return cfg_file_bdev(c, params, false);
}

static int cfg_bdev_aio(struct cfg_ctx *c, json_t *params)
{
	return cfg_file_bdev(c, params, true);
}

/* ---- nvmf methods ------------------------------------------------------- */

/*
 * nvmf_create_transport takes the options of every transport type, as
 * SPDK's does: each transport reads its own and SPDK ignores the others'
 * (and rpc.py sends the RDMA, TCP and vfio-user ones with every call).  The
 * table says what a parameter means for the transport it belongs to;
 * cfg_create_transport() applies the rules that depend on the type.
 */
static const struct cfg_param transport_params[] = {
	{ "trtype", P_USE },
	{ "max_queue_depth", P_USE },
	{ "max_io_qpairs_per_ctrlr", P_USE },
	{ "max_qpairs_per_ctrlr", P_USE },
	{ "in_capsule_data_size", P_USE },
	{ "max_io_size", P_USE },
	{ "max_aq_depth", P_USE },
	{ "dif_insert_or_strip", P_FALSE },
	/*
	 * SPDK's shared buffer pool; libnvmft gives each poll group a bounded
	 * pool of its own and sizes buffers per command.
	 */
	{ "io_unit_size", P_IGNORE },
	{ "num_shared_buffers", P_IGNORE },
	{ "buf_cache_size", P_IGNORE },
	{ "zcopy", P_IGNORE },
	{ "abort_timeout_sec", P_IGNORE },
	{ "acceptor_poll_rate", P_IGNORE },
	{ "tgt_name", P_IGNORE },
	/*
	 * Accepted by SPDK's nvmf_create_transport but not written by
	 * save_config.  The library's keep-alive timer has 100 ms granularity
	 * (KAS 1) and keeps the KATO the host asks for, so kas and min_kato
	 * only ever made SPDK coarser or more lenient; there is no command
	 * passthrough to disable.
	 */
	{ "kas", P_IGNORE },
	{ "min_kato", P_IGNORE },
	{ "disable_command_passthru", P_IGNORE },
	/*
	 * TCP: c2h_success is used; the socket layer's tuning (priority, the
	 * TCP user timeout SPDK calls ack_timeout) and its pool of control
	 * messages have no equivalent.
	 */
	{ "c2h_success", P_USE },
	/* libnvmft's own (nvmft-tgt --tcp-congestion); SPDK has no such key. */
	{ "tcp_congestion", P_USE },
	{ "sock_priority", P_IGNORE },
	{ "ack_timeout", P_IGNORE },
	{ "control_msg_num", P_IGNORE },
	/*
	 * RDMA: max_srq_depth and no_srq are used.  num_cqe sizes SPDK's
	 * completion queue with no_srq; libnvmft's grows as queue pairs join.
	 * acceptor_backlog is the rdma_listen() backlog, which the library
	 * fixes.  no_wr_batching and data_wr_pool_size tune how SPDK posts and
	 * pools its work requests; the library gives each queue pair room for
	 * every work request its commands can have at once.
	 */
	{ "max_srq_depth", P_USE },
	{ "no_srq", P_USE },
	{ "num_cqe", P_IGNORE },
	{ "acceptor_backlog", P_IGNORE },
	{ "no_wr_batching", P_IGNORE },
	{ "data_wr_pool_size", P_IGNORE },
	/*
	 * vfio-user: the library always offers BAR0 doorbells in a mappable
	 * area, shadow doorbells (Doorbell Buffer Config) and Compare, and keeps
	 * every queue of a function on one poll group; the four that would
	 * turn one of these off or spread queues are accepted only as false
	 * for VFIOUSER (cfg_create_transport()).  disable_adaptive_irq: SPDK
	 * holds I/O queue interrupts back while it polls; interrupts here fire
	 * at most once per queue per poll, either value is the same to a host.
	 */
	{ "disable_mappable_bar0", P_IGNORE },
	{ "disable_shadow_doorbells", P_IGNORE },
	{ "disable_compare", P_IGNORE },
	{ "enable_intr_mode_sq_spreading", P_IGNORE },
	{ "disable_adaptive_irq", P_IGNORE },
};

/* vfio-user options that turn off what the library always does: false only. */
static const char *const vfu_false_only[] = {
	"disable_mappable_bar0",
	"disable_shadow_doorbells",
	"disable_compare",
	"enable_intr_mode_sq_spreading",
};

/* Sets @bit in t->set when @key is present. */
static int cfg_tr_u32(struct cfg_ctx *c, json_t *params, const char *key, uint32_t bit,
		      struct plan_transport *t, uint32_t *field)
{
	if (json_object_get(params, key) == NULL)
		return 0;
	t->set |= bit;
	return cfg_u32(c, params, key, true, 0, UINT32_MAX, field);
}

static int cfg_tcp_congestion(struct cfg_ctx *c, json_t *params, struct plan_transport *t)
{
	const char *v = NULL;
	int rc = cfg_str(c, params, "tcp_congestion", true, &v);

	if (rc < 0)
		return rc;
	if (strlen(v) >= sizeof(t->tcp_congestion))
		return cfg_fail(c, "parameter '%stcp_congestion' must be at most %zu characters",
				c->prefix, sizeof(t->tcp_congestion) - 1);
	snprintf(t->tcp_congestion, sizeof(t->tcp_congestion), "%s", v);
	return 0;
}

/* The options only one transport type reads, for that type. */
static int cfg_tr_specific(struct cfg_ctx *c, json_t *params, struct plan_transport *t)
{
	int rc = 0;

	switch (t->trtype) {
	case NVMFT_TRTYPE_TCP:
		if (json_object_get(params, "c2h_success") != NULL) {
			t->set |= PLAN_TR_C2H_SUCCESS;
			rc = cfg_bool(c, params, "c2h_success", true, &t->c2h_success);
		}
		if (rc == 0 && json_object_get(params, "tcp_congestion") != NULL) {
			t->set |= PLAN_TR_TCP_CONGESTION;
			rc = cfg_tcp_congestion(c, params, t);
		}
		break;
	case NVMFT_TRTYPE_RDMA:
		if (json_object_get(params, "max_srq_depth") != NULL) {
			t->set |= PLAN_TR_MAX_SRQ_DEPTH;
			rc = cfg_u32(c, params, "max_srq_depth", true, PLAN_SRQ_DEPTH_MIN,
				     PLAN_SRQ_DEPTH_MAX, &t->max_srq_depth);
		}
		if (rc == 0 && json_object_get(params, "no_srq") != NULL) {
			t->set |= PLAN_TR_NO_SRQ;
			rc = cfg_bool(c, params, "no_srq", true, &t->no_srq);
		}
		break;
	case NVMFT_TRTYPE_VFIOUSER:
		for (size_t i = 0; rc == 0 && i < sizeof(vfu_false_only) / sizeof(vfu_false_only[0]);
		     i++) {
			json_t *v = json_object_get(params, vfu_false_only[i]);

			if (v == NULL || json_is_false(v))
				continue;
			c->unsupported = json_is_true(v);
			rc = cfg_fail(c, "parameter '%s' is supported only as false",
				      vfu_false_only[i]);
		}
		break;
	}
	return rc;
}

static int cfg_create_transport(struct cfg_ctx *c, json_t *params)
{
	struct plan_transport t = { 0 };
	struct plan_transport *dst;
	const char *trtype = NULL;
	uint32_t io_qpairs = 0;
	int rc;

	rc = CHECK_PARAMS(c, params, transport_params);
	if (rc == 0)
		rc = cfg_str(c, params, "trtype", true, &trtype);
	if (rc == 0)
		rc = cfg_trtype(c, trtype, &t.trtype);
	if (rc == 0)
		rc = cfg_tr_u32(c, params, "max_queue_depth", PLAN_TR_MAX_QUEUE_DEPTH, &t,
				&t.max_queue_depth);
	if (rc == 0)
		rc = cfg_tr_u32(c, params, "max_aq_depth", PLAN_TR_MAX_AQ_DEPTH, &t,
				&t.max_aq_depth);
	if (rc == 0)
		rc = cfg_tr_u32(c, params, "in_capsule_data_size", PLAN_TR_IN_CAPSULE, &t,
				&t.in_capsule_data_size);
	if (rc == 0)
		rc = cfg_tr_u32(c, params, "max_io_size", PLAN_TR_MAX_IO_SIZE, &t, &t.max_io_size);
	if (rc == 0)
		rc = cfg_tr_u32(c, params, "max_qpairs_per_ctrlr", PLAN_TR_MAX_QPAIRS, &t,
				&t.max_qpairs_per_ctrlr);
	/* SPDK counts I/O queue pairs only; the library counts the admin queue too. */
	if (rc == 0 && json_object_get(params, "max_io_qpairs_per_ctrlr") != NULL) {
		rc = cfg_u32(c, params, "max_io_qpairs_per_ctrlr", true, 1, 65534, &io_qpairs);
		t.set |= PLAN_TR_MAX_QPAIRS;
		t.max_qpairs_per_ctrlr = io_qpairs + 1;
	}
	if (rc == 0)
		rc = cfg_tr_specific(c, params, &t);
	if (rc < 0)
		return rc;
	dst = plan_add_transport(c->plan);
	if (dst == NULL)
		return cfg_nomem(c);
	*dst = t;
	dst->origin = c->origin;
	return 0;
}

static int cfg_set_max_subsystems(struct cfg_ctx *c, json_t *params)
{
	static const struct cfg_param tab[] = { { "max_subsystems", P_USE } };
	int rc = CHECK_PARAMS(c, params, tab);

	return rc < 0 ? rc
		      : cfg_u32(c, params, "max_subsystems", true, 1, 65535,
				&c->plan->max_subsystems);
}

static const struct cfg_param subsystem_params[] = {
	{ "nqn", P_USE },
	{ "serial_number", P_USE },
	{ "model_number", P_USE },
	{ "allow_any_host", P_USE },
	{ "max_namespaces", P_USE },
	{ "min_cntlid", P_USE },
	{ "max_cntlid", P_USE },
	{ "ana_reporting", P_FALSE },
	{ "passthrough", P_FALSE },
	{ "enable_nssr", P_FALSE },
	{ "max_discard_size_kib", P_IGNORE },
	{ "max_write_zeroes_size_kib", P_IGNORE },
	{ "tgt_name", P_IGNORE },
};

static int cfg_create_subsystem(struct cfg_ctx *c, json_t *params)
{
	const char *nqn = NULL, *sn = NULL, *mn = NULL;
	struct plan_subsys tmp = { 0 };
	struct plan_subsys *s;
	uint32_t lo = 0, hi = 0;
	int rc;

	rc = CHECK_PARAMS(c, params, subsystem_params);
	if (rc == 0)
		rc = cfg_str(c, params, "nqn", true, &nqn);
	if (rc == 0)
		rc = cfg_str(c, params, "serial_number", false, &sn);
	if (rc == 0)
		rc = cfg_str(c, params, "model_number", false, &mn);
	if (rc == 0)
		rc = cfg_bool(c, params, "allow_any_host", false, &tmp.allow_any_host);
	/* SPDK writes 0 for "no limit given"; plan_validate() then sizes it. */
	if (rc == 0)
		rc = cfg_u32(c, params, "max_namespaces", false, 0, PLAN_MAX_NS_LIMIT,
			     &tmp.max_namespaces);
	if (rc == 0)
		rc = cfg_u32(c, params, "min_cntlid", false, 1, PLAN_CNTLID_MAX, &lo);
	if (rc == 0)
		rc = cfg_u32(c, params, "max_cntlid", false, 1, PLAN_CNTLID_MAX, &hi);
	if (rc < 0)
		return rc;
	tmp.min_cntlid = (uint16_t)lo;
	tmp.max_cntlid = (uint16_t)hi;
	s = plan_add_subsys(c->plan);
	if (s == NULL)
		return cfg_nomem(c);
	*s = tmp;
	s->origin = c->origin;
	rc = cfg_dup(c, nqn, &s->nqn);
	if (rc == 0)
		rc = cfg_dup(c, sn, &s->serial_number);
	if (rc == 0)
		rc = cfg_dup(c, mn, &s->model_number);
	return rc;
}

static const struct cfg_param listener_params[] = {
	{ "nqn", P_USE },
	{ "listen_address", P_USE },
	{ "secure_channel", P_FALSE },
	{ "sock_impl", P_IGNORE },
	{ "ana_state", P_IGNORE },
	{ "tgt_name", P_IGNORE },
};

static const struct cfg_param address_params[] = {
	{ "trtype", P_USE },
	{ "adrfam", P_USE },
	{ "traddr", P_USE },
	{ "trsvcid", P_USE },
};

/*
 * A vfio-user address is a directory: SPDK takes it without a service id
 * (rpc.py leaves it out) or with "0", and stores what it was given.
 */
static int cfg_vfu_trsvcid(struct cfg_ctx *c, json_t *addr, const char **trsvcid)
{
	json_t *v = json_object_get(addr, "trsvcid");

	*trsvcid = "";
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return cfg_fail(c, "parameter '%strsvcid' must be a string", c->prefix);
	*trsvcid = json_string_value(v);
	return 0;
}

static int cfg_address(struct cfg_ctx *c, json_t *addr, struct plan_listener *l,
		       const char **traddr, const char **trsvcid)
{
	const char *trtype = NULL, *adrfam = NULL;
	int rc;

	c->prefix = "listen_address.";
	rc = CHECK_PARAMS(c, addr, address_params);
	if (rc == 0)
		rc = cfg_str(c, addr, "trtype", true, &trtype);
	if (rc == 0)
		rc = cfg_trtype(c, trtype, &l->trtype);
	if (rc == 0)
		rc = cfg_str(c, addr, "adrfam", false, &adrfam);
	if (rc == 0)
		rc = cfg_str(c, addr, "traddr", true, traddr);
	if (rc == 0 && l->trtype == NVMFT_TRTYPE_VFIOUSER)
		rc = cfg_vfu_trsvcid(c, addr, trsvcid);
	else if (rc == 0)
		rc = cfg_str(c, addr, "trsvcid", true, trsvcid);
	if (rc < 0)
		return rc;
	/* A path has no family: SPDK's default, IPv4, as SPDK reports it. */
	if (adrfam == NULL && l->trtype == NVMFT_TRTYPE_VFIOUSER)
		l->adrfam = NVMFT_ADRFAM_IPV4;
	else if (adrfam == NULL)
		l->adrfam = strchr(*traddr, ':') ? NVMFT_ADRFAM_IPV6 : NVMFT_ADRFAM_IPV4;
	else if (strcasecmp(adrfam, "ipv4") == 0)
		l->adrfam = NVMFT_ADRFAM_IPV4;
	else if (strcasecmp(adrfam, "ipv6") == 0)
		l->adrfam = NVMFT_ADRFAM_IPV6;
	else
		return cfg_fail(c, "address family '%s' is not supported (IPv4 or IPv6)", adrfam);
	c->prefix = "";
	return 0;
}

static int cfg_add_listener(struct cfg_ctx *c, json_t *params)
{
	const char *nqn = NULL, *traddr = NULL, *trsvcid = NULL;
	struct plan_listener tmp = { 0 };
	struct plan_listener *l;
	json_t *addr;
	int rc;

	rc = CHECK_PARAMS(c, params, listener_params);
	if (rc == 0)
		rc = cfg_str(c, params, "nqn", true, &nqn);
	if (rc < 0)
		return rc;
	addr = json_object_get(params, "listen_address");
	if (!json_is_object(addr))
		return cfg_fail(c, "parameter 'listen_address' must be an object");
	rc = cfg_address(c, addr, &tmp, &traddr, &trsvcid);
	if (rc < 0)
		return rc;
	l = plan_add_listener(c->plan);
	if (l == NULL)
		return cfg_nomem(c);
	*l = tmp;
	l->origin = c->origin;
	rc = cfg_dup(c, nqn, &l->nqn);
	if (rc == 0)
		rc = cfg_dup(c, traddr, &l->traddr);
	if (rc == 0)
		rc = cfg_dup(c, trsvcid, &l->trsvcid);
	return rc;
}

static const struct cfg_param add_ns_params[] = {
	{ "nqn", P_USE },
	{ "namespace", P_USE },
	{ "tgt_name", P_IGNORE },
};

static const struct cfg_param namespace_params[] = {
	{ "nsid", P_USE },
	{ "bdev_name", P_USE },
	{ "uuid", P_USE },
	{ "nguid", P_USE },
	{ "eui64", P_USE },
	{ "anagrpid", P_IGNORE },
	/* Metadata is never there to hide: bdevs are accepted only with md_size 0. */
	{ "hide_metadata", P_IGNORE },
	{ "no_auto_visible", P_FALSE },
	{ "ptpl_file", P_REFUSE },
};

static int cfg_add_ns(struct cfg_ctx *c, json_t *params)
{
	const char *nqn = NULL, *bdev = NULL;
	struct plan_ns tmp = { 0 };
	struct plan_ns *n;
	json_t *ns;
	int rc;

	rc = CHECK_PARAMS(c, params, add_ns_params);
	if (rc == 0)
		rc = cfg_str(c, params, "nqn", true, &nqn);
	if (rc < 0)
		return rc;
	ns = json_object_get(params, "namespace");
	if (!json_is_object(ns))
		return cfg_fail(c, "parameter 'namespace' must be an object");
	c->prefix = "namespace.";
	rc = CHECK_PARAMS(c, ns, namespace_params);
	if (rc == 0)
		rc = cfg_u32(c, ns, "nsid", false, 0, PLAN_MAX_NS_LIMIT, &tmp.nsid);
	if (rc == 0)
		rc = cfg_str(c, ns, "bdev_name", true, &bdev);
	if (rc == 0)
		rc = cfg_uuid(c, ns, "uuid", tmp.uuid, &tmp.has_uuid);
	if (rc == 0)
		rc = cfg_hex_id(c, ns, "nguid", tmp.nguid, sizeof(tmp.nguid), &tmp.has_nguid);
	if (rc == 0)
		rc = cfg_hex_id(c, ns, "eui64", tmp.eui64, sizeof(tmp.eui64), &tmp.has_eui64);
	if (rc < 0)
		return rc;
	c->prefix = "";
	n = plan_add_ns(c->plan);
	if (n == NULL)
		return cfg_nomem(c);
	*n = tmp;
	n->origin = c->origin;
	rc = cfg_dup(c, nqn, &n->nqn);
	return rc < 0 ? rc : cfg_dup(c, bdev, &n->bdev_name);
}

static const struct cfg_param add_host_params[] = {
	{ "nqn", P_USE },
	{ "host", P_USE },
	{ "psk", P_REFUSE },
	{ "dhchap_key", P_REFUSE },
	{ "dhchap_ctrlr_key", P_REFUSE },
	{ "tgt_name", P_IGNORE },
};

static int cfg_add_host(struct cfg_ctx *c, json_t *params)
{
	const char *nqn = NULL, *host = NULL;
	struct plan_host *h;
	int rc;

	rc = CHECK_PARAMS(c, params, add_host_params);
	if (rc == 0)
		rc = cfg_str(c, params, "nqn", true, &nqn);
	if (rc == 0)
		rc = cfg_str(c, params, "host", true, &host);
	if (rc < 0)
		return rc;
	h = plan_add_host(c->plan);
	if (h == NULL)
		return cfg_nomem(c);
	h->origin = c->origin;
	rc = cfg_dup(c, nqn, &h->nqn);
	return rc < 0 ? rc : cfg_dup(c, host, &h->host);
}

static int cfg_allow_any_host(struct cfg_ctx *c, json_t *params)
{
	static const struct cfg_param tab[] = {
		{ "nqn", P_USE },
		{ "allow_any_host", P_USE },
		{ "tgt_name", P_IGNORE },
	};
	const char *nqn = NULL;
	struct plan_allow *a;
	bool allow = false;
	int rc;

	rc = CHECK_PARAMS(c, params, tab);
	if (rc == 0)
		rc = cfg_str(c, params, "nqn", true, &nqn);
	if (rc == 0)
		rc = cfg_bool(c, params, "allow_any_host", true, &allow);
	if (rc < 0)
		return rc;
	a = plan_add_allow(c->plan);
	if (a == NULL)
		return cfg_nomem(c);
	a->allow = allow;
	a->origin = c->origin;
	return cfg_dup(c, nqn, &a->nqn);
}

static const struct cfg_param set_config_params[] = {
	{ "discovery_filter", P_USE },
	{ "admin_cmd_passthru", P_USE },
	/* Where SPDK runs its poll groups; nvmft-tgt has -m. */
	{ "poll_groups_mask", P_IGNORE },
	/* Algorithms DH-HMAC-CHAP may use; without host keys it never runs. */
	{ "dhchap_digests", P_IGNORE },
	{ "dhchap_dhgroups", P_IGNORE },
	/* Older SPDK releases wrote these; the library accepts on its own schedule. */
	{ "acceptor_poll_rate", P_IGNORE },
	{ "conn_sched", P_IGNORE },
};

static const struct cfg_param passthru_params[] = {
	{ "identify_ctrlr", P_FALSE },
	{ "vendor_specific", P_FALSE },
};

/*
 * Target-wide settings.  SPDK writes its defaults here; the two that would
 * change what hosts see (a filtered discovery log, Identify answered by a
 * physical drive) have no equivalent and are refused unless off.
 */
static int cfg_set_config(struct cfg_ctx *c, json_t *params)
{
	const char *filter = NULL;
	json_t *passthru;
	int rc;

	rc = CHECK_PARAMS(c, params, set_config_params);
	if (rc == 0)
		rc = cfg_str(c, params, "discovery_filter", false, &filter);
	if (rc < 0)
		return rc;
	c->unsupported = filter != NULL && strcmp(filter, "match_any") != 0;
	if (c->unsupported)
		return cfg_fail(c, "discovery_filter '%s' is not supported: the discovery log "
			        "always lists every allowed subsystem (match_any)", filter);
	passthru = json_object_get(params, "admin_cmd_passthru");
	if (passthru == NULL)
		return 0;
	if (!json_is_object(passthru))
		return cfg_fail(c, "parameter 'admin_cmd_passthru' must be an object");
	c->prefix = "admin_cmd_passthru.";
	rc = CHECK_PARAMS(c, passthru, passthru_params);
	c->prefix = "";
	return rc;
}

/* ---- Dispatch ----------------------------------------------------------- */

typedef int (*cfg_method_fn)(struct cfg_ctx *c, json_t *params);

struct cfg_method {
	const char *name;
	cfg_method_fn fn; /* NULL: accepted and ignored with any parameters */
};

static const struct cfg_method cfg_methods[] = {
	{ "bdev_malloc_create", cfg_bdev_malloc },
	{ "bdev_null_create", cfg_bdev_null },
	{ "bdev_uring_create", cfg_bdev_uring },
	{ "bdev_aio_create", cfg_bdev_aio },
	{ "nvmf_create_transport", cfg_create_transport },
	{ "nvmf_set_max_subsystems", cfg_set_max_subsystems },
	{ "nvmf_create_subsystem", cfg_create_subsystem },
	{ "nvmf_subsystem_add_listener", cfg_add_listener },
	{ "nvmf_subsystem_add_ns", cfg_add_ns },
	{ "nvmf_subsystem_add_host", cfg_add_host },
	{ "nvmf_subsystem_allow_any_host", cfg_allow_any_host },
	{ "nvmf_set_config", cfg_set_config },
	/* Tuning of SPDK machinery that libnvmft does not have. */
	{ "iobuf_set_options", NULL },
	{ "sock_set_default_impl", NULL },
	{ "sock_impl_set_options", NULL },
	{ "accel_set_options", NULL },
	{ "bdev_set_options", NULL },
	{ "bdev_wait_for_examine", NULL },
	{ "bdev_nvme_set_options", NULL },
	{ "bdev_nvme_set_hotplug", NULL },
	{ "bdev_raid_set_options", NULL },
	{ "bdev_iscsi_set_options", NULL },
	{ "nvmf_set_crdt", NULL },
	{ "framework_set_scheduler", NULL },
	{ "iscsi_set_options", NULL },
	{ "fsdev_set_opts", NULL },
	{ "keyring_linux_set_options", NULL },
};

static const struct cfg_method *cfg_find_method(const char *name)
{
	for (size_t i = 0; i < sizeof(cfg_methods) / sizeof(cfg_methods[0]); i++)
		if (strcmp(cfg_methods[i].name, name) == 0)
			return &cfg_methods[i];
	return NULL;
}

static int cfg_entry(struct cfg_ctx *c, json_t *entry)
{
	const struct cfg_method *m;
	json_t *method = json_object_get(entry, "method");
	json_t *params = json_object_get(entry, "params");
	char where[48];
	const char *key;
	json_t *v;

	snprintf(where, sizeof(where), " (subsystem %s, entry %u)", c->subsystem, c->entry);
	plan_origin_set(&c->origin, "config", where);
	if (!json_is_object(entry) || !json_is_string(method))
		return cfg_fail(c, "entry must be an object with a \"method\" string");
	c->method = json_string_value(method);
	json_object_foreach(entry, key, v) {
		if (strcmp(key, "method") != 0 && strcmp(key, "params") != 0)
			return cfg_fail(c, "unexpected key '%s' in entry of method '%s'", key,
					c->method);
	}
	m = cfg_find_method(c->method);
	if (m == NULL)
		return cfg_fail(c, "unsupported method '%s'", c->method);
	if (m->fn == NULL)
		return 0;
	snprintf(c->origin.what, sizeof(c->origin.what), "config: %s", c->method);
	if (!json_is_object(params))
		return cfg_fail(c, "\"params\" must be an object");
	c->prefix = "";
	return m->fn(c, params);
}

static int cfg_section(struct cfg_ctx *c, json_t *sec, size_t idx)
{
	json_t *name = json_object_get(sec, "subsystem");
	json_t *config = json_object_get(sec, "config");
	json_t *entry;
	const char *key;
	size_t i;
	json_t *v;
	int rc;

	if (!json_is_object(sec) || !json_is_string(name))
		return plan_failf(c->err, c->errlen,
				  "config: subsystems[%zu] must be an object with a \"subsystem\" "
				  "name",
				  idx);
	c->subsystem = json_string_value(name);
	json_object_foreach(sec, key, v) {
		if (strcmp(key, "subsystem") != 0 && strcmp(key, "config") != 0)
			return plan_failf(c->err, c->errlen,
					  "config: unexpected key '%s' in subsystem %s", key,
					  c->subsystem);
	}
	/* SPDK writes "config": null or [] for subsystems with nothing to say. */
	if (config == NULL || json_is_null(config))
		return 0;
	if (!json_is_array(config))
		return plan_failf(c->err, c->errlen,
				  "config: \"config\" of subsystem %s must be an array",
				  c->subsystem);
	json_array_foreach(config, i, entry) {
		c->entry = (unsigned int)i + 1;
		rc = cfg_entry(c, entry);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int config_parse_json(json_t *root, struct plan *plan, char *err, size_t errlen)
{
	struct cfg_ctx c = { .plan = plan, .err = err, .errlen = errlen, .prefix = "" };
	json_t *sections, *sec;
	const char *key;
	size_t i;
	json_t *v;
	int rc;

	sections = json_object_get(root, "subsystems");
	if (!json_is_object(root) || !json_is_array(sections))
		return plan_failf(
			err, errlen,
			"config: the top level must be an object with a \"subsystems\" array");
	json_object_foreach(root, key, v) {
		if (strcmp(key, "subsystems") != 0)
			return plan_failf(err, errlen, "config: unexpected top-level key '%s'", key);
	}
	json_array_foreach(sections, i, sec) {
		rc = cfg_section(&c, sec, i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int config_parse(const char *text, size_t len, struct plan *plan, char *err, size_t errlen)
{
	json_t *root;
	json_error_t jerr;
	int rc;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return plan_failf(err, errlen, "config: line %d, column %d: %s", jerr.line,
				  jerr.column, jerr.text);
	rc = config_parse_json(root, plan, err, errlen);
	json_decref(root);
	return rc;
}

int config_parse_method(const char *method, json_t *params, struct plan *plan, char *err,
			size_t errlen)
{
	struct cfg_ctx c = { .plan = plan, .err = err, .errlen = errlen, .prefix = "" };
	const struct cfg_method *m = cfg_find_method(method);
	char what[160];
	int rc;

	if (m == NULL) {
		snprintf(err, errlen, "unsupported method '%s'", method);
		return -ENOENT;
	}
	if (m->fn == NULL)
		return 0;
	snprintf(what, sizeof(what), "%s", method);
	plan_origin_set(&c.origin, what, "");
	c.method = method;
	if (!json_is_object(params))
		return plan_fail(err, errlen, &c.origin, "\"params\" must be an object");
	rc = m->fn(&c, params);
	if (rc == -EINVAL && c.unsupported)
		rc = -EOPNOTSUPP;
	return rc;
}

const char *config_method(size_t idx, bool *ignored)
{
	if (idx >= sizeof(cfg_methods) / sizeof(cfg_methods[0]))
		return NULL;
	*ignored = cfg_methods[idx].fn == NULL;
	return cfg_methods[idx].name;
}

int config_load_file(const char *path, struct plan *plan, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > CONFIG_MAX_BYTES) {
		rc = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			goto fail;
		}
		len += (size_t)n;
	}
	close(fd);
	rc = config_parse(buf, len, plan, err, errlen);
	free(buf);
	return rc;
fail:
	snprintf(err, errlen, "config: cannot read '%s': %s", path,
		 rc == -EINVAL ? "not a regular file" : strerror(-rc));
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}
