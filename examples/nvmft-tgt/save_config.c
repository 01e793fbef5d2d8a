/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * save_config: the running target written as the method calls that build
 * it again, in SPDK's order and shapes (bdevs, then the nvmf section:
 * limits, transports, discovery listeners, then each subsystem with its
 * hosts, namespaces and listeners).  Only what config.c reads back is
 * written, plus the "off" values of SPDK features libnvmft lacks, which
 * config.c accepts at exactly those values.
 */
#include <string.h>

#include "dump.h"
#include "plan.h"
#include "save_config.h"

static int add_entry(json_t *cfg, const char *method, json_t *params)
{
	json_t *e = json_pack("{s:s, s:o}", "method", method, "params", params);

	return e == NULL ? -1 : json_array_append_new(cfg, e);
}

static json_t *bdev_section(struct app_state *st)
{
	json_t *cfg = json_array();
	struct app_bdev *b;

	if (cfg == NULL)
		return NULL;
	TAILQ_FOREACH(b, &st->bdevs, link) {
		if (json_array_append_new(cfg, dump_bdev_entry(b)) < 0)
			goto nomem;
	}
	/* SPDK ends the section with it; it waits for nothing here. */
	if (json_array_append_new(cfg, json_pack("{s:s}", "method", "bdev_wait_for_examine")) < 0)
		goto nomem;
	return cfg;
nomem:
	json_decref(cfg);
	return NULL;
}

static int add_listener_entry(json_t *cfg, const char *nqn, const struct nvmft_listener *l)
{
	return add_entry(cfg, "nvmf_subsystem_add_listener",
			 json_pack("{s:s, s:o, s:b}", "nqn", nqn, "listen_address",
				   dump_listen_address(l), "secure_channel", 0));
}

static int add_subsystem(struct app_state *st, json_t *cfg, struct nvmft_subsystem *ss)
{
	const char *nqn = nvmft_subsystem_get_nqn(ss);
	struct nvmft_listener *l;
	struct nvmft_ns *ns;
	const char *host;
	uint16_t lo, hi;
	int rc;

	nvmft_subsystem_get_cntlid_range(ss, &lo, &hi);
	rc = add_entry(cfg, "nvmf_create_subsystem",
		       json_pack("{s:s, s:b, s:s, s:s, s:I, s:i, s:i, s:b}", "nqn", nqn,
				 "allow_any_host", nvmft_subsystem_get_allow_any_host(ss),
				 "serial_number", nvmft_subsystem_get_serial_number(ss),
				 "model_number", nvmft_subsystem_get_model_number(ss),
				 "max_namespaces",
				 (json_int_t)nvmft_subsystem_get_max_namespaces(ss), "min_cntlid",
				 (int)lo, "max_cntlid", (int)hi, "ana_reporting", 0));
	for (unsigned int i = 0; rc == 0 && (host = nvmft_subsystem_get_host(ss, i)) != NULL; i++)
		rc = add_entry(cfg, "nvmf_subsystem_add_host",
			       json_pack("{s:s, s:s}", "nqn", nqn, "host", host));
	for (ns = nvmft_ns_get_first(ss); rc == 0 && ns != NULL; ns = nvmft_ns_get_next(ns)) {
		json_t *n = dump_ns(st, ns, false);

		if (n != NULL)
			json_object_set_new(n, "no_auto_visible", json_false());
		rc = add_entry(cfg, "nvmf_subsystem_add_ns",
			       json_pack("{s:s, s:o}", "nqn", nqn, "namespace", n));
	}
	for (unsigned int i = 0; rc == 0 && (l = nvmft_subsystem_get_listener(ss, i)) != NULL; i++)
		rc = add_listener_entry(cfg, nqn, l);
	return rc;
}

static json_t *nvmf_section(struct app_state *st)
{
	json_t *cfg = json_array();
	struct nvmft_transport *tr;
	struct nvmft_subsystem *ss;
	int rc;

	if (cfg == NULL)
		return NULL;
	rc = add_entry(cfg, "nvmf_set_max_subsystems",
		       json_pack("{s:I}", "max_subsystems", (json_int_t)st->max_subsystems));
	for (tr = nvmft_transport_get_first(st->tgt); rc == 0 && tr != NULL;
	     tr = nvmft_transport_get_next(tr))
		rc = add_entry(cfg, "nvmf_create_transport", dump_transport(tr));
	for (size_t i = 0; rc == 0 && i < st->n_held; i++)
		rc = add_listener_entry(cfg, PLAN_DISCOVERY_NQN, st->held[i]);
	for (ss = nvmft_subsystem_get_first(st->tgt); rc == 0 && ss != NULL;
	     ss = nvmft_subsystem_get_next(ss))
		if (nvmft_subsystem_get_type(ss) == NVMFT_SUBTYPE_NVM)
			rc = add_subsystem(st, cfg, ss);
	if (rc < 0) {
		json_decref(cfg);
		return NULL;
	}
	return cfg;
}

json_t *save_config_section(struct app_state *st, const char *name, bool *unknown)
{
	*unknown = false;
	if (strcmp(name, "bdev") == 0)
		return bdev_section(st);
	if (strcmp(name, "nvmf") == 0)
		return nvmf_section(st);
	*unknown = true;
	return NULL;
}

json_t *save_config_sections(void)
{
	return json_pack("[{s:s, s:[]}, {s:s, s:[s]}]", "subsystem", "bdev", "depends_on",
			 "subsystem", "nvmf", "depends_on", "bdev");
}

json_t *save_config(struct app_state *st)
{
	json_t *bdev = bdev_section(st);
	json_t *nvmf = nvmf_section(st);

	if (bdev == NULL || nvmf == NULL) {
		json_decref(bdev);
		json_decref(nvmf);
		return NULL;
	}
	return json_pack("{s:[{s:s, s:o}, {s:s, s:o}]}", "subsystems", "subsystem", "bdev",
			 "config", bdev, "subsystem", "nvmf", "config", nvmf);
}
