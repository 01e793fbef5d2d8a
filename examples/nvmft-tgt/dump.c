/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The running target's objects as SPDK's JSON shapes them (dump.h).  Key
 * order follows SPDK's output, so a diff against an SPDK target reads
 * easily; values come from the library's getters.  Where libnvmft has no
 * such thing the key is left out rather than filled with an invented value,
 * except where SPDK's meaning is "off" or "none" and that is exactly true
 * here (no metadata, no DIF, no QoS limits, no zoned bdevs).
 */
#include <stdio.h>
#include <string.h>

#include "dump.h"

const char *dump_adrfam_name(enum nvmft_adrfam adrfam)
{
	switch (adrfam) {
	case NVMFT_ADRFAM_IPV4:
		return "IPv4";
	case NVMFT_ADRFAM_IPV6:
		return "IPv6";
	case NVMFT_ADRFAM_INTRA_HOST:
		return "INTRA_HOST";
	}
	return "unknown";
}

json_t *dump_hex(const uint8_t *id, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";
	char buf[33];

	if (len > 16)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		buf[2 * i] = digits[id[i] >> 4];
		buf[2 * i + 1] = digits[id[i] & 0xf];
	}
	buf[2 * len] = '\0';
	return json_string(buf);
}

json_t *dump_uuid(const uint8_t uuid[16])
{
	char buf[37];

	state_uuid_str(uuid, buf);
	return json_string(buf);
}

static bool all_zero(const uint8_t *id, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (id[i] != 0)
			return false;
	return true;
}

json_t *dump_listen_address(const struct nvmft_listener *l)
{
	const struct nvmft_transport *tr = nvmft_listener_get_transport(l);
	const char *svc = nvmft_listener_get_trsvcid(l);

	return json_pack("{s:s, s:s, s:s, s:s}", "trtype",
			 nvmft_trtype_name(nvmft_transport_get_type(tr)), "adrfam",
			 dump_adrfam_name(nvmft_listener_get_adrfam(l)), "traddr",
			 nvmft_listener_get_traddr(l), "trsvcid", svc ? svc : "");
}

json_t *dump_transport(const struct nvmft_transport *tr)
{
	struct nvmft_transport_opts o = { .size = sizeof(o) };
	enum nvmft_trtype type = nvmft_transport_get_type(tr);
	json_t *j;

	nvmft_transport_get_opts(tr, &o, sizeof(o));
	/* SPDK counts I/O queue pairs; the library counts the admin queue too. */
	j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:b}", "trtype",
		      nvmft_trtype_name(type), "max_queue_depth", (json_int_t)o.max_queue_depth,
		      "max_io_qpairs_per_ctrlr", (json_int_t)o.max_qpairs_per_ctrlr - 1,
		      "in_capsule_data_size", (json_int_t)o.in_capsule_data_size, "max_io_size",
		      (json_int_t)o.max_io_size, "max_aq_depth", (json_int_t)o.max_aq_depth,
		      "dif_insert_or_strip", 0, "zcopy", 0);
	/* Each transport's own options follow, as SPDK's transports add them. */
	if (j != NULL && type == NVMFT_TRTYPE_TCP) {
		json_object_set_new(j, "c2h_success", json_boolean(o.c2h_success));
		/* Not SPDK's: written only when set, so SPDK can still read the rest. */
		if (o.tcp_congestion[0] != '\0')
			json_object_set_new(j, "tcp_congestion", json_string(o.tcp_congestion));
	}
	if (j != NULL && type == NVMFT_TRTYPE_RDMA) {
		json_object_set_new(j, "max_srq_depth", json_integer(o.max_srq_depth));
		json_object_set_new(j, "no_srq", json_boolean(o.no_srq));
	}
	return j;
}

struct app_bdev *dump_bdev_of(struct app_state *st, const struct nvmft_backend *be)
{
	struct app_bdev *b;

	TAILQ_FOREACH(b, &st->bdevs, link)
		if (b->be == be)
			return b;
	return NULL;
}

json_t *dump_ns(struct app_state *st, const struct nvmft_ns *ns, bool with_name)
{
	const struct nvmft_backend *be = nvmft_ns_get_backend(ns);
	struct app_bdev *b = dump_bdev_of(st, be);
	uint8_t uuid[16], nguid[16], eui64[8];
	json_t *j;

	nvmft_ns_get_uuid(ns, uuid);
	nvmft_ns_get_nguid(ns, nguid);
	nvmft_ns_get_eui64(ns, eui64);
	j = json_pack("{s:I, s:s}", "nsid", (json_int_t)nvmft_ns_get_nsid(ns), "bdev_name",
		      b ? b->name : nvmft_backend_get_name(be));
	if (j == NULL)
		return NULL;
	/* "name" repeats bdev_name in nvmf_get_subsystems, as SPDK keeps it for old clients. */
	if (with_name)
		json_object_set(j, "name", json_object_get(j, "bdev_name"));
	if (!all_zero(nguid, sizeof(nguid)))
		json_object_set_new(j, "nguid", dump_hex(nguid, sizeof(nguid)));
	if (!all_zero(eui64, sizeof(eui64)))
		json_object_set_new(j, "eui64", dump_hex(eui64, sizeof(eui64)));
	if (!all_zero(uuid, sizeof(uuid)))
		json_object_set_new(j, "uuid", dump_uuid(uuid));
	return j;
}

/* The listeners hosts reach @ss through; for discovery, the ones held open for it. */
static json_t *dump_listeners(struct app_state *st, struct nvmft_subsystem *ss)
{
	json_t *a = json_array();
	struct nvmft_listener *l;

	if (a == NULL)
		return NULL;
	if (nvmft_subsystem_get_type(ss) == NVMFT_SUBTYPE_DISCOVERY) {
		for (size_t i = 0; i < st->n_held; i++)
			json_array_append_new(a, dump_listen_address(st->held[i]));
		return a;
	}
	for (unsigned int i = 0; (l = nvmft_subsystem_get_listener(ss, i)) != NULL; i++)
		json_array_append_new(a, dump_listen_address(l));
	return a;
}

json_t *dump_subsystem(struct app_state *st, struct nvmft_subsystem *ss)
{
	bool nvm = nvmft_subsystem_get_type(ss) == NVMFT_SUBTYPE_NVM;
	json_t *j, *hosts, *nss;
	struct nvmft_ns *ns;
	const char *host;
	uint16_t lo, hi;

	j = json_pack("{s:s, s:s, s:o, s:b}", "nqn", nvmft_subsystem_get_nqn(ss), "subtype",
		      nvm ? "NVMe" : "Discovery", "listen_addresses", dump_listeners(st, ss),
		      "allow_any_host", nvmft_subsystem_get_allow_any_host(ss));
	hosts = json_array();
	if (j == NULL || hosts == NULL) {
		json_decref(j);
		json_decref(hosts);
		return NULL;
	}
	for (unsigned int i = 0; (host = nvmft_subsystem_get_host(ss, i)) != NULL; i++)
		json_array_append_new(hosts, json_pack("{s:s}", "nqn", host));
	json_object_set_new(j, "hosts", hosts);
	if (!nvm)
		return j;
	nvmft_subsystem_get_cntlid_range(ss, &lo, &hi);
	json_object_set_new(j, "serial_number", json_string(nvmft_subsystem_get_serial_number(ss)));
	json_object_set_new(j, "model_number", json_string(nvmft_subsystem_get_model_number(ss)));
	json_object_set_new(j, "max_namespaces",
			    json_integer(nvmft_subsystem_get_max_namespaces(ss)));
	json_object_set_new(j, "min_cntlid", json_integer(lo));
	json_object_set_new(j, "max_cntlid", json_integer(hi));
	nss = json_array();
	for (ns = nvmft_ns_get_first(ss); nss != NULL && ns != NULL; ns = nvmft_ns_get_next(ns))
		json_array_append_new(nss, dump_ns(st, ns, true));
	json_object_set_new(j, "namespaces", nss);
	return j;
}

/* ---- bdevs --------------------------------------------------------------------------- */

static json_t *io_types(const struct app_bdev *b)
{
	uint32_t caps = nvmft_backend_get_caps(b->be);
	/* SPDK's I/O types in SPDK's order, and whether the backend does each. */
	const struct {
		const char *name;
		bool yes;
	} t[] = {
		{ "read", true },
		{ "write", true },
		{ "unmap", caps & NVMFT_BACKEND_CAP_DEALLOCATE },
		{ "flush", caps & NVMFT_BACKEND_CAP_FLUSH },
		{ "reset", false },
		{ "nvme_admin", false },
		{ "nvme_io", false },
		{ "nvme_io_md", false },
		{ "write_zeroes", caps & NVMFT_BACKEND_CAP_WRITE_ZEROES },
		{ "zcopy", caps & NVMFT_BACKEND_CAP_ZCOPY_READ },
		{ "get_zone_info", false },
		{ "zone_management", false },
		{ "zone_append", false },
		{ "compare", caps & NVMFT_BACKEND_CAP_COMPARE },
		/* The core fuses Compare and Write itself on any backend that compares. */
		{ "compare_and_write", caps & NVMFT_BACKEND_CAP_COMPARE },
		{ "abort", false },
		{ "seek_hole", false },
		{ "seek_data", false },
		{ "copy", false },
		{ "nvme_iov_md", false },
		{ "nvme_nssr", false },
	};
	json_t *j = json_object();

	for (size_t i = 0; j != NULL && i < sizeof(t) / sizeof(t[0]); i++)
		json_object_set_new(j, t[i].name, json_boolean(t[i].yes));
	return j;
}

json_t *dump_bdev(const struct app_bdev *b)
{
	bool claimed = nvmft_backend_get_ns(b->be) != NULL;
	json_t *j;

	/* preferred_* and optimal_write_size: the backends give no such hints (0: none). */
	j = json_pack("{s:s, s:[o], s:s, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:o, "
		      "s:{s:i, s:i, s:i, s:i}, s:b}",
		      "name", b->name, "aliases", dump_uuid(b->uuid), "product_name",
		      bdev_product_name(b), "block_size", (json_int_t)b->block_size, "num_blocks",
		      (json_int_t)b->num_blocks, "preferred_write_alignment", 0,
		      "preferred_write_granularity", 0, "optimal_write_size", 0,
		      "preferred_unmap_alignment", 0, "preferred_unmap_granularity", 0, "uuid",
		      dump_uuid(b->uuid), "assigned_rate_limits", "rw_ios_per_sec", 0,
		      "rw_mbytes_per_sec", 0, "r_mbytes_per_sec", 0, "w_mbytes_per_sec", 0,
		      "claimed", claimed);
	if (j == NULL)
		return NULL;
	/* A namespace claims its bdev for writing, as SPDK's nvmf subsystem does. */
	if (claimed)
		json_object_set_new(j, "claim_type", json_string("exclusive_write"));
	json_object_set_new(j, "zoned", json_false());
	json_object_set_new(j, "supported_io_types", io_types(b));
	if (b->kind == PLAN_BDEV_FILE && !b->fault)
		json_object_set_new(j, "driver_specific",
				    json_pack("{s:{s:s}}", "uring", "filename", b->filename));
	else
		json_object_set_new(j, "driver_specific", json_object());
	return j;
}

json_t *dump_bdev_entry(const struct app_bdev *b)
{
	const char *method;
	json_t *p;

	/*
	 * A fault-injection bdev is saved as its store: the configuration
	 * format has no fault rules, and what a host reads back is the same.
	 */
	switch (b->kind) {
	case PLAN_BDEV_RAM:
		method = "bdev_malloc_create";
		p = json_pack("{s:s, s:I, s:I, s:I, s:o, s:i, s:i, s:i, s:b, s:i}", "name", b->name,
			      "num_blocks", (json_int_t)b->num_blocks, "block_size",
			      (json_int_t)b->block_size, "physical_block_size",
			      (json_int_t)b->block_size, "uuid", dump_uuid(b->uuid),
			      "optimal_io_boundary", 0, "md_size", 0, "dif_type", 0,
			      "dif_is_head_of_md", 0, "dif_pi_format", 0);
		break;
	case PLAN_BDEV_NULL:
		method = "bdev_null_create";
		p = json_pack("{s:s, s:I, s:I, s:I, s:i, s:i, s:b, s:i, s:o}", "name", b->name,
			      "num_blocks", (json_int_t)b->num_blocks, "block_size",
			      (json_int_t)b->block_size, "physical_block_size",
			      (json_int_t)b->block_size, "md_size", 0, "dif_type", 0,
			      "dif_is_head_of_md", 0, "dif_pi_format", 0, "uuid", dump_uuid(b->uuid));
		break;
	case PLAN_BDEV_FILE:
	default:
		method = "bdev_uring_create";
		p = json_pack("{s:s, s:I, s:s, s:o}", "name", b->name, "block_size",
			      (json_int_t)b->block_size, "filename", b->filename ? b->filename : "",
			      "uuid", dump_uuid(b->uuid));
		break;
	}
	if (p == NULL)
		return NULL;
	return json_pack("{s:s, s:o}", "method", method, "params", p);
}
