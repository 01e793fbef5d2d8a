/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VFIOUSER and RDMA transports over SPDK's JSON-RPC methods, through
 * the project's own clients:
 *   - vfio-user built by RPC alone (transport, subsystem, a null and a RAM
 *     namespace, a listener on a fresh directory), then a real vfio-user
 *     client (tests/vfio_user/vfu_client.c) on the socket doing verified
 *     I/O; the listener, controller, queue pairs and transport in SPDK's
 *     shapes; save_config loading back through load_config and -c to the
 *     same state, with a client connecting each time;
 *   - the vfio-user rules: SPDK's parameters, the options that are only
 *     accepted off, no port, one subsystem per socket, no discovery;
 *   - RDMA: with the transport built in, its options in and out (the
 *     machine has no RDMA device, so a listener fails and is refused
 *     cleanly, and everything without a listener is checked); without it,
 *     SPDK's answer for a transport it does not have, over RPC, in
 *     load_config and in -c.  Which of the two this libnvmft is, is asked
 *     of the library and printed; both are checked, never skipped.
 *
 * argv[1]: the nvmft-tgt binary.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <nvmft/transport.h>

#include "rpc_test_util.h"
#include "test_util.h"
#include "vfu_client.h"

#define VNQN "nqn.2019-07.io.spdk:cnode1"
#define VNQN2 "nqn.2019-07.io.spdk:cnode2"
#define RAM_BLOCKS 16384 /* 8 MiB of 512-byte blocks */

/* What rpc.py sends with every nvmf_create_transport (its flags' defaults). */
#define RPC_PY_DEFAULTS                                                                          \
	"\"zcopy\":false,\"c2h_success\":true,\"dif_insert_or_strip\":false,"                    \
	"\"no_wr_batching\":false,\"disable_mappable_bar0\":false,\"disable_adaptive_irq\":false," \
	"\"disable_shadow_doorbells\":false,\"disable_command_passthru\":false"

/* @got equals the JSON text @want (a new reference is taken from @got: not consumed). */
static void assert_json_text(json_t *got, const char *want, const char *what)
{
	json_error_t jerr;
	json_t *w = json_loads(want, 0, &jerr);

	if (w == NULL)
		fail_msg("bad test JSON for %s: %s", what, jerr.text);
	rt_assert_json_equal(got, w, what);
	json_decref(w);
}

/* The entries of save_config's nvmf section with @method and, if given, @key = @val. */
static json_t *saved_entries(json_t *saved, const char *method, const char *key, const char *val)
{
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(rt_get(saved, "subsystems.1.config"), i, e) {
		json_t *v = key ? rt_get(e, key) : NULL;

		if (strcmp(rt_gets(e, "method"), method) != 0)
			continue;
		if (key != NULL && (!json_is_string(v) || strcmp(json_string_value(v), val) != 0))
			continue;
		json_array_append(out, e);
	}
	return out;
}

/* A load_config call with @cfg as its parameters; the response. */
static json_t *load_config(struct rpc_client *c, json_t *cfg)
{
	json_t *r = NULL;

	assert_int_equal(rpc_client_call(c, "load_config", cfg, &r), 0);
	return r;
}

/* Write @j to @path. */
static void write_json(const char *path, json_t *j)
{
	assert_int_equal(json_dump_file(j, path, JSON_INDENT(1)), 0);
}

/* ---- The vfio-user client ------------------------------------------------------------------- */

/* Connect to the function at @sock and bring its controller up. */
static struct vfuc *vfu_up(const char *sock)
{
	struct vfuc_opts o = { .timeout_ms = 10000 };
	struct vfuc *c = NULL;

	assert_int_equal(vfuc_connect(sock, &o, &c), 0);
	assert_int_equal(vfuc_version(c, "{\"capabilities\":{\"max_msg_fds\":8}}"), 0);
	assert_int_equal(vfuc_mem_add(c, 0x100000000ull, 16u << 20), 0);
	assert_int_equal(vfuc_setup_bar0(c), 0);
	assert_int_equal(vfuc_nvme_enable(c, 32), 0);
	return c;
}

/*
 * Identify the controller (@nqn, CAP.MQES + 1 = @mqes) and namespace 2 (the
 * RAM bdev), one I/O queue pair: patterned data written to namespace 2 and
 * read back; namespace 1 (null) reads zeroes over a filled buffer and takes
 * writes.  The client stays connected: the caller looks at it over RPC.
 */
static struct vfuc *vfu_io(const char *sock, const char *nqn, uint32_t mqes, uint32_t seed,
			   struct vfuc_q *q)
{
	struct vfuc *c = vfu_up(sock);
	struct nvme_id_ctrl *id;
	struct nvme_id_ns *ns;
	uint64_t buf, w, r;
	uint8_t *p;

	/* The doorbells are in the mapped page: SPDK's disable_mappable_bar0 is off. */
	assert_non_null(c->db);
	assert_int_equal((c->cap & 0xffff) + 1, mqes);
	buf = vfuc_alloc(c, 4096, 4096);
	assert_int_equal(vfuc_identify(c, NVME_IDENTIFY_CNS_CTRL, 0, buf), 0);
	id = vfuc_va(c, buf);
	assert_memory_equal(id->subnqn, nqn, strlen(nqn) + 1);
	/* Shadow doorbells and Compare are offered (the options that would remove them are off). */
	assert_true(le16toh(id->oacs) & NVME_CTRL_OACS_DBBUF_CFG);
	assert_true(le16toh(id->oncs) & NVME_CTRL_ONCS_COMPARE);
	assert_int_equal(vfuc_identify(c, NVME_IDENTIFY_CNS_NS, 2, buf), 0);
	ns = vfuc_va(c, buf);
	assert_int_equal(le64toh(ns->nsze), RAM_BLOCKS);
	assert_int_equal(vfuc_set_num_queues(c, 1, 1), 0);
	assert_int_equal(vfuc_nvme_qpair(c, 1, 32, false, 0, q), 0);
	w = vfuc_alloc(c, 65536, 4096);
	r = vfuc_alloc(c, 65536, 4096);
	assert_true(w != 0 && r != 0);
	for (uint32_t i = 0; i < 16; i++) {
		uint64_t slba = (uint64_t)(seed * 1000 + i * 131) % (RAM_BLOCKS - 128);

		tu_fill_pattern(vfuc_va(c, w), 65536, seed + i);
		assert_int_equal(vfuc_rw(q, true, 2, slba, 128, 512, w), 0);
		memset(vfuc_va(c, r), 0, 65536);
		assert_int_equal(vfuc_rw(q, false, 2, slba, 128, 512, r), 0);
		assert_memory_equal(vfuc_va(c, r), vfuc_va(c, w), 65536);
	}
	p = vfuc_va(c, r);
	memset(p, 0xa5, 65536);
	assert_int_equal(vfuc_rw(q, false, 1, 64, 128, 512, r), 0);
	for (size_t i = 0; i < 65536; i++)
		if (p[i] != 0)
			fail_msg("null namespace: byte %zu reads %#x", i, p[i]);
	assert_int_equal(vfuc_rw(q, true, 1, 64, 128, 512, w), 0);
	return c;
}

/* ---- vfio-user built over JSON-RPC, connected to, saved and loaded ----------------------- */

/* The vfio-user part of the state, as an SPDK user builds it. */
static void vfu_build(struct rpc_client *c, const char *dir)
{
	rt_assert_true(rt_call(c, "nvmf_create_transport",
			       "{\"trtype\":\"VFIOUSER\",\"max_queue_depth\":64,"
			       "\"max_io_qpairs_per_ctrlr\":4," RPC_PY_DEFAULTS "}"));
	json_decref(rt_ok(c, "bdev_null_create",
			  "{\"name\":\"Null0\",\"num_blocks\":8192,\"block_size\":512}"));
	json_decref(rt_ok(c, "bdev_malloc_create",
			  "{\"name\":\"Ram0\",\"num_blocks\":16384,\"block_size\":512,"
			  "\"uuid\":\"0f4a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b\"}"));
	rt_assert_true(rt_call(c, "nvmf_create_subsystem",
			       "{\"nqn\":\"" VNQN "\",\"allow_any_host\":true,"
			       "\"serial_number\":\"VFU0001\",\"model_number\":\"vfio-user disk\"}"));
	json_decref(rt_ok(c, "nvmf_subsystem_add_ns",
			  "{\"nqn\":\"" VNQN "\",\"namespace\":{\"bdev_name\":\"Null0\",\"nsid\":1}}"));
	json_decref(rt_ok(c, "nvmf_subsystem_add_ns",
			  "{\"nqn\":\"" VNQN "\",\"namespace\":{\"bdev_name\":\"Ram0\",\"nsid\":2}}"));
	/* As SPDK's tests add it: -t VFIOUSER -a DIR -s 0 (no family: IPv4). */
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_listener",
			       rt_fmt("{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":\"VFIOUSER\","
				      "\"traddr\":\"%s\",\"trsvcid\":\"0\"}}",
				      dir)));
}

static void check_vfu_shapes(struct rpc_client *c, const char *dir)
{
	char addr[512];
	json_t *j;

	snprintf(addr, sizeof(addr),
		 "{\"trtype\":\"VFIOUSER\",\"adrfam\":\"IPv4\",\"traddr\":\"%s\",\"trsvcid\":\"0\"}",
		 dir);
	j = rt_ok(c, "nvmf_subsystem_get_listeners", "{\"nqn\":\"" VNQN "\"}");
	assert_json_text(j, rt_fmt("[{\"address\":%s}]", addr), "nvmf_subsystem_get_listeners");
	json_decref(j);
	j = rt_ok(c, "nvmf_get_subsystems", "{\"nqn\":\"" VNQN "\"}");
	assert_json_text(rt_get(j, "0.listen_addresses"), rt_fmt("[%s]", addr), "listen_addresses");
	json_decref(j);
	/* SPDK's VFIOUSER transport adds no options of its own to the generic ones. */
	j = rt_ok(c, "nvmf_get_transports", "{\"trtype\":\"VFIOUSER\"}");
	assert_json_text(j,
			 "[{\"trtype\":\"VFIOUSER\",\"max_queue_depth\":64,"
			 "\"max_io_qpairs_per_ctrlr\":4,\"in_capsule_data_size\":0,"
			 "\"max_io_size\":131072,\"max_aq_depth\":32,\"dif_insert_or_strip\":false,"
			 "\"zcopy\":false}]",
			 "nvmf_get_transports VFIOUSER");
	json_decref(j);
}

static void test_vfu_rpc_roundtrip(void **state)
{
	char *vdir = tu_mkdtemp(), dir[256], sock[300], cfgpath[160];
	const char *one[] = { "-m", "1", NULL };
	char lflag[300];
	/* The flag names the config's listener again, with "" for its "0": one socket. */
	const char *cargs[] = { "-r", RT_SOCK, "-c", cfgpath, "-n", VNQN, "-l", lflag, NULL };
	json_t *saved, *subs, *bdevs, *j, *again;
	struct rpc_client *c;
	struct vfuc_q q;
	struct vfuc *v;
	struct rt_tgt a, b;
	long long sum[4] = { 0 };

	(void)state;
	/* The directory does not exist yet: the listener makes it. */
	snprintf(dir, sizeof(dir), "%s/cnode1", vdir);
	snprintf(sock, sizeof(sock), "%s/cntrl", dir);
	snprintf(lflag, sizeof(lflag), "vfio-user:%s", dir);
	rt_up(&a, one);
	c = rt_client(&a);
	vfu_build(c, dir);
	check_vfu_shapes(c, dir);

	/* A client: a PCI function of the subsystem, doing I/O. */
	v = vfu_io(sock, VNQN, 64, 1, &q);
	j = rt_ok(c, "nvmf_subsystem_get_controllers", "{\"nqn\":\"" VNQN "\"}");
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(rt_gets(j, "0.cntrltype"), "io");
	/* A PCIe host names no host NQN: the function makes one up. */
	assert_memory_equal(rt_gets(j, "0.hostnqn"), "nqn.2014-08.org.nvmexpress:uuid:", 32);
	assert_int_equal(rt_geti(j, "0.num_io_qpairs"), 2);
	json_decref(j);
	j = rt_ok(c, "nvmf_subsystem_get_qpairs", "{\"nqn\":\"" VNQN "\"}");
	assert_int_equal(json_array_size(j), 2);
	for (size_t i = 0; i < 2; i++) {
		char key[48];

		snprintf(key, sizeof(key), "%zu.listen_address.trtype", i);
		assert_string_equal(rt_gets(j, key), "VFIOUSER");
		snprintf(key, sizeof(key), "%zu.listen_address.traddr", i);
		assert_string_equal(rt_gets(j, key), dir);
	}
	json_decref(j);
	j = rt_ok(c, "nvmf_get_stats", NULL);
	for (size_t i = 0; i < json_array_size(rt_get(j, "poll_groups")); i++) {
		json_t *g = json_array_get(rt_get(j, "poll_groups"), i);

		sum[0] += rt_geti(g, "current_admin_qpairs");
		sum[1] += rt_geti(g, "current_io_qpairs");
		sum[2] += rt_geti(g, "completed_nvme_io");
		assert_json_text(rt_get(g, "transports"), "[{\"trtype\":\"VFIOUSER\"}]", "transports");
	}
	assert_int_equal(sum[0], 1);
	assert_int_equal(sum[1], 1);
	/* 16 writes and 16 reads on the RAM namespace, a read and a write on the null one. */
	assert_int_equal(sum[2], 34);
	json_decref(j);
	vfuc_close(v);

	/* save_config: the transport and the listener as SPDK writes them. */
	saved = rt_ok(c, "save_config", NULL);
	j = saved_entries(saved, "nvmf_create_transport", "params.trtype", "VFIOUSER");
	assert_json_text(j,
			 "[{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"VFIOUSER\","
			 "\"max_queue_depth\":64,\"max_io_qpairs_per_ctrlr\":4,"
			 "\"in_capsule_data_size\":0,\"max_io_size\":131072,\"max_aq_depth\":32,"
			 "\"dif_insert_or_strip\":false,\"zcopy\":false}}]",
			 "save_config: VFIOUSER transport");
	json_decref(j);
	j = saved_entries(saved, "nvmf_subsystem_add_listener", "params.nqn", VNQN);
	assert_json_text(j,
			 rt_fmt("[{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":\"" VNQN
				"\",\"listen_address\":{\"trtype\":\"VFIOUSER\",\"adrfam\":\"IPv4\","
				"\"traddr\":\"%s\",\"trsvcid\":\"0\"},\"secure_channel\":false}}]",
				dir),
			 "save_config: vfio-user listener");
	json_decref(j);
	subs = rt_ok(c, "nvmf_get_subsystems", NULL);
	bdevs = rt_ok(c, "bdev_get_bdevs", NULL);
	rpc_client_close(c);
	rt_down(&a);
	/* The socket went with its listener. */
	assert_int_equal(access(sock, F_OK), -1);

	/* A fresh target loads it over JSON-RPC: the same state, and a client gets in. */
	rt_up(&b, one);
	c = rt_client(&b);
	rt_assert_true(load_config(c, saved));
	again = rt_ok(c, "save_config", NULL);
	rt_assert_json_equal(again, saved, "save_config after load_config");
	json_decref(again);
	again = rt_ok(c, "nvmf_get_subsystems", NULL);
	rt_assert_json_equal(again, subs, "nvmf_get_subsystems after load_config");
	json_decref(again);
	again = rt_ok(c, "bdev_get_bdevs", NULL);
	rt_assert_json_equal(again, bdevs, "bdev_get_bdevs after load_config");
	json_decref(again);
	check_vfu_shapes(c, dir);
	vfuc_close(vfu_io(sock, VNQN, 64, 2, &q));
	rpc_client_close(c);
	rt_down(&b);

	/* And as a -c file at start-up, the flags adding the same listener once more. */
	rt_mkdir(&b);
	snprintf(cfgpath, sizeof(cfgpath), "%s/saved.json", b.dir);
	write_json(cfgpath, saved);
	rt_start(&b, cargs);
	if (!rt_wait_ready(&b))
		fail_msg("nvmft-tgt -c saved.json did not start:\n%s", b.err);
	assert_non_null(strstr(b.out, rt_fmt("ready: listening on vfio-user %s (subsystem " VNQN ")",
					     dir)));
	c = rt_client(&b);
	again = rt_ok(c, "save_config", NULL);
	rt_assert_json_equal(again, saved, "save_config after -c");
	json_decref(again);
	vfuc_close(vfu_io(sock, VNQN, 64, 3, &q));
	rpc_client_close(c);
	rt_down(&b);

	json_decref(saved);
	json_decref(subs);
	json_decref(bdevs);
	tu_rmtree(vdir);
	free(vdir);
}

/* ---- vfio-user: the rules ------------------------------------------------------------------- */

static void test_vfu_rpc_rules(void **state)
{
	char *vdir = tu_mkdtemp(), dir[256], dir2[256], sock[300], longdir[200];
	struct rpc_client *c;
	struct rt_tgt t;
	json_t *j;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/a", vdir);
	snprintf(dir2, sizeof(dir2), "%s/b", vdir);
	snprintf(sock, sizeof(sock), "%s/cntrl", dir);
	rt_up(&t, NULL);
	c = rt_client(&t);
	rt_assert_true(rt_call(c, "nvmf_create_subsystem",
			       "{\"nqn\":\"" VNQN "\",\"allow_any_host\":true}"));
	rt_assert_true(rt_call(c, "nvmf_create_subsystem",
			       "{\"nqn\":\"" VNQN2 "\",\"allow_any_host\":true}"));
	/* No transport yet: no listener, and nothing to report. */
	rt_err(c, "nvmf_subsystem_add_listener",
	       rt_fmt("{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":\"VFIOUSER\","
		      "\"traddr\":\"%s\"}}",
		      dir),
	       -32602, "Invalid parameters");
	rt_err(c, "nvmf_get_transports", "{\"trtype\":\"VFIOUSER\"}", -19, "No such device");
	/* Options that would turn off what the library always does: only as false. */
	rt_err(c, "nvmf_create_transport", "{\"trtype\":\"VFIOUSER\",\"disable_mappable_bar0\":true}",
	       -32602,
	       "nvmf_create_transport: parameter 'disable_mappable_bar0' is supported only as false");
	rt_err(c, "nvmf_create_transport", "{\"trtype\":\"VFIOUSER\",\"disable_compare\":true}",
	       -32602, "nvmf_create_transport: parameter 'disable_compare' is supported only as false");
	rt_err(c, "nvmf_create_transport",
	       "{\"trtype\":\"VFIOUSER\",\"enable_intr_mode_sq_spreading\":true}", -32602,
	       "nvmf_create_transport: parameter 'enable_intr_mode_sq_spreading' is supported only "
	       "as false");
	rt_err(c, "nvmf_create_transport", "{\"trtype\":\"VFIOUSER\",\"bogus\":1}", -32602,
	       "Invalid parameters");
	/* max_io_size above the vfio-user pool's 1 MiB: the pool grows to hold a command. */
	rt_assert_true(rt_call(c, "nvmf_create_transport",
			       "{\"trtype\":\"vfio-user\",\"max_io_size\":2097152,"
			       "\"disable_compare\":false,\"enable_intr_mode_sq_spreading\":false,"
			       "\"disable_adaptive_irq\":true," RPC_PY_DEFAULTS "}"));
	rt_err(c, "nvmf_create_transport", "{\"trtype\":\"VFIOUSER\"}", -32603,
	       "Transport type 'VFIOUSER' already exists");
	j = rt_ok(c, "nvmf_get_transports", "{\"trtype\":\"vfiouser\"}");
	assert_string_equal(rt_gets(j, "0.trtype"), "VFIOUSER");
	assert_int_equal(rt_geti(j, "0.max_io_size"), 2097152);
	json_decref(j);

	/* Addresses: a directory, no port, not discovery, one that can be made. */
	rt_err(c, "nvmf_subsystem_add_listener",
	       rt_fmt("{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":\"VFIOUSER\","
		      "\"traddr\":\"%s\",\"trsvcid\":\"4420\"}}",
		      dir),
	       -32602, "Invalid parameters");
	rt_err(c, "nvmf_subsystem_add_listener",
	       rt_fmt("{\"nqn\":\"nqn.2014-08.org.nvmexpress.discovery\",\"listen_address\":"
		      "{\"trtype\":\"VFIOUSER\",\"traddr\":\"%s\"}}",
		      dir),
	       -32602, "Invalid parameters");
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	rt_err(c, "nvmf_subsystem_add_listener",
	       rt_fmt("{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":\"VFIOUSER\","
		      "\"traddr\":\"%s\"}}",
		      longdir),
	       -32602, "Invalid parameters");
	rt_err(c, "nvmf_subsystem_add_listener",
	       "{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":\"VFIOUSER\","
	       "\"traddr\":\"/nonexistent/nvmft/a\"}}",
	       -32602, "Invalid parameters");
	assert_int_equal(mkdir(dir2, 0755), 0);
	{
		char f[300];

		/* A file where the socket would go is not taken away. */
		snprintf(f, sizeof(f), "%s/cntrl", dir2);
		rt_make_file(f, 0);
		rt_err(c, "nvmf_subsystem_add_listener",
		       rt_fmt("{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":\"VFIOUSER\","
			      "\"traddr\":\"%s\"}}",
			      dir2),
		       -32602, "Invalid parameters");
		assert_int_equal(access(f, F_OK), 0);
	}
	j = rt_ok(c, "nvmf_subsystem_get_listeners", "{\"nqn\":\"" VNQN "\"}");
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);

	/* rpc.py's shape: no service id, no family. */
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_listener",
			       rt_fmt("{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":\"VFIOUSER\","
				      "\"traddr\":\"%s\"}}",
				      dir)));
	assert_int_equal(access(sock, F_OK), 0);
	j = rt_ok(c, "nvmf_subsystem_get_listeners", "{\"nqn\":\"" VNQN "\"}");
	assert_json_text(j,
			 rt_fmt("[{\"address\":{\"trtype\":\"VFIOUSER\",\"adrfam\":\"IPv4\","
				"\"traddr\":\"%s\",\"trsvcid\":\"\"}}]",
				dir),
			 "listener without a service id");
	json_decref(j);
	/* "" and "0" name the same directory: already there. */
	rt_err(c, "nvmf_subsystem_add_listener",
	       rt_fmt("{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":\"VFIOUSER\","
		      "\"traddr\":\"%s\",\"trsvcid\":\"0\"}}",
		      dir),
	       -32602, "Invalid parameters");
	/* One subsystem per socket. */
	rt_err(c, "nvmf_subsystem_add_listener",
	       rt_fmt("{\"nqn\":\"" VNQN2 "\",\"listen_address\":{\"trtype\":\"VFIOUSER\","
		      "\"traddr\":\"%s\"}}",
		      dir),
	       -32602, "Invalid parameters");
	j = rt_ok(c, "nvmf_subsystem_get_listeners", "{\"nqn\":\"" VNQN2 "\"}");
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	/* A client of the socket is a function of the first subsystem. */
	{
		struct vfuc *v = vfu_up(sock);
		uint64_t buf = vfuc_alloc(v, 4096, 4096);

		assert_int_equal(vfuc_identify(v, NVME_IDENTIFY_CNS_CTRL, 0, buf), 0);
		assert_string_equal((const char *)((struct nvme_id_ctrl *)vfuc_va(v, buf))->subnqn,
				    VNQN);
		/* Removing the listener takes the function away (its socket closes). */
		rt_assert_true(rt_call(c, "nvmf_subsystem_remove_listener",
				       rt_fmt("{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":"
					      "\"VFIOUSER\",\"adrfam\":\"IPv4\",\"traddr\":\"%s\","
					      "\"trsvcid\":\"0\"}}",
					      dir)));
		assert_true(vfuc_wait_eof(v));
		vfuc_close(v);
	}
	assert_int_equal(access(sock, F_OK), -1);
	rt_err(c, "nvmf_subsystem_remove_listener",
	       rt_fmt("{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":\"VFIOUSER\","
		      "\"traddr\":\"%s\"}}",
		      dir),
	       -32602, "Invalid parameters");
	/* Free again: the second subsystem may have it now; deleting that closes it. */
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_listener",
			       rt_fmt("{\"nqn\":\"" VNQN2 "\",\"listen_address\":{\"trtype\":\"VFIOUSER\","
				      "\"traddr\":\"%s\"}}",
				      dir)));
	assert_int_equal(access(sock, F_OK), 0);
	rt_assert_true(rt_call(c, "nvmf_delete_subsystem", "{\"nqn\":\"" VNQN2 "\"}"));
	assert_int_equal(access(sock, F_OK), -1);

	/* load_config is checked whole against the rule: nothing of it is built. */
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_listener",
			       rt_fmt("{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":\"VFIOUSER\","
				      "\"traddr\":\"%s\"}}",
				      dir)));
	j = rt_call(c, "load_config",
		    rt_fmt("{\"subsystems\":[{\"subsystem\":\"nvmf\",\"config\":["
			   "{\"method\":\"nvmf_create_subsystem\",\"params\":{\"nqn\":\"" VNQN2 "\"}},"
			   "{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":\"" VNQN2
			   "\",\"listen_address\":{\"trtype\":\"VFIOUSER\",\"traddr\":\"%s\","
			   "\"trsvcid\":\"0\"}}}]}]}",
			   dir));
	assert_int_equal(rt_geti(j, "error.code"), -32602);
	assert_non_null(strstr(rt_gets(j, "error.message"), "serves another subsystem already"));
	json_decref(j);
	j = rt_ok(c, "nvmf_get_subsystems", NULL);
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
	rpc_client_close(c);
	rt_down(&t);
	tu_rmtree(vdir);
	free(vdir);
}

/* ---- RDMA ---------------------------------------------------------------------------------- */

/* An RDMA transport's options as SPDK shows them (generic ones, then RDMA's own). */
#define RDMA_SHOWN                                                                             \
	"{\"trtype\":\"RDMA\",\"max_queue_depth\":128,\"max_io_qpairs_per_ctrlr\":127,"         \
	"\"in_capsule_data_size\":4096,\"max_io_size\":131072,\"max_aq_depth\":128,"            \
	"\"dif_insert_or_strip\":false,\"zcopy\":false,\"max_srq_depth\":%u,\"no_srq\":%s}"

/*
 * Stop, exit 0, and no error or warning on stderr but those about the RDMA
 * device this machine lacks (the listener that could not open).
 */
static void down_allowing_no_device(struct rt_tgt *t)
{
	int rc = rt_stop(t);

	assert_int_equal(rc, 0);
	for (const char *p = t->err; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		char line[1024];

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + (p[len] == '\n');
		if (strstr(line, ": error: ") == NULL && strstr(line, ": warning: ") == NULL)
			continue;
		print_message("# stderr: %s\n", line);
		if (strcasestr(line, "rdma") == NULL)
			fail_msg("an error other than the missing RDMA device: %s", line);
	}
	assert_null(strstr(t->err, "runtime error"));
	assert_null(strstr(t->err, "Sanitizer"));
	rt_rmdir(t);
}

static void rdma_built_in(void)
{
	const char *flags[] = { "--max-srq-depth", "512", NULL };
	char cfgpath[160];
	const char *cargs[] = { "-r", RT_SOCK, "-c", cfgpath, NULL };
	struct rpc_client *c;
	struct rt_tgt a, b;
	json_t *j, *saved, *trs;

	rt_up(&a, NULL);
	c = rt_client(&a);
	/* Out of the library's range: the parameters do not decode. */
	rt_err(c, "nvmf_create_transport", "{\"trtype\":\"RDMA\",\"max_srq_depth\":8}", -32602,
	       "Invalid parameters");
	rt_err(c, "nvmf_create_transport", "{\"trtype\":\"RDMA\",\"no_srq\":1}", -32602,
	       "Invalid parameters");
	/* rpc.py's defaults and SPDK's other RDMA tuning are taken; the two options are used. */
	rt_assert_true(rt_call(c, "nvmf_create_transport",
			       "{\"trtype\":\"rdma\",\"max_srq_depth\":2048,\"no_srq\":true,"
			       "\"num_cqe\":1024,\"acceptor_backlog\":100,\"data_wr_pool_size\":"
			       "4095,\"zcopy\":false,\"c2h_success\":true,\"dif_insert_or_strip\":"
			       "false,\"no_wr_batching\":false,\"disable_mappable_bar0\":false,"
			       "\"disable_adaptive_irq\":false,\"disable_shadow_doorbells\":false,"
			       "\"disable_command_passthru\":false}"));
	rt_err(c, "nvmf_create_transport", "{\"trtype\":\"RDMA\"}", -32603,
	       "Transport type 'RDMA' already exists");
	j = rt_ok(c, "nvmf_get_transports", "{\"trtype\":\"RDMA\"}");
	assert_json_text(j, rt_fmt("[" RDMA_SHOWN "]", 2048, "true"), "nvmf_get_transports RDMA");
	json_decref(j);
	/* This machine has no RDMA device: a listener cannot open, the transport stays. */
	rt_assert_true(rt_call(c, "nvmf_create_subsystem", "{\"nqn\":\"" VNQN "\"}"));
	rt_err(c, "nvmf_subsystem_add_listener",
	       "{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":\"RDMA\",\"adrfam\":\"IPv4\","
	       "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"0\"}}",
	       -32602, "Invalid parameters");
	j = rt_ok(c, "nvmf_subsystem_get_listeners", "{\"nqn\":\"" VNQN "\"}");
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	j = rt_ok(c, "nvmf_get_transports", "{\"trtype\":\"RDMA\"}");
	assert_json_text(j, rt_fmt("[" RDMA_SHOWN "]", 2048, "true"), "RDMA after a failed listener");
	json_decref(j);
	/* A subsystem nobody can reach would only bring a warning to -c below. */
	rt_assert_true(rt_call(c, "nvmf_delete_subsystem", "{\"nqn\":\"" VNQN "\"}"));
	saved = rt_ok(c, "save_config", NULL);
	j = saved_entries(saved, "nvmf_create_transport", NULL, NULL);
	assert_json_text(rt_get(j, "0.params"), rt_fmt(RDMA_SHOWN, 2048, "true"), "save_config RDMA");
	json_decref(j);
	trs = rt_ok(c, "nvmf_get_transports", NULL);
	rpc_client_close(c);
	down_allowing_no_device(&a);

	/* load_config and -c build the same transport. */
	rt_up(&b, NULL);
	c = rt_client(&b);
	rt_assert_true(load_config(c, saved));
	j = rt_ok(c, "nvmf_get_transports", NULL);
	rt_assert_json_equal(j, trs, "nvmf_get_transports after load_config");
	json_decref(j);
	j = rt_ok(c, "save_config", NULL);
	rt_assert_json_equal(j, saved, "save_config after load_config");
	json_decref(j);
	rpc_client_close(c);
	rt_down(&b);
	rt_mkdir(&b);
	snprintf(cfgpath, sizeof(cfgpath), "%s/saved.json", b.dir);
	write_json(cfgpath, saved);
	rt_start(&b, cargs);
	if (!rt_wait_ready(&b))
		fail_msg("nvmft-tgt -c did not start:\n%s", b.err);
	c = rt_client(&b);
	j = rt_ok(c, "nvmf_get_transports", NULL);
	rt_assert_json_equal(j, trs, "nvmf_get_transports after -c");
	json_decref(j);
	rpc_client_close(c);
	rt_down(&b);

	/* The flags go over a call's values, for a transport created by RPC too. */
	rt_up(&b, flags);
	c = rt_client(&b);
	rt_assert_true(rt_call(c, "nvmf_create_transport", "{\"trtype\":\"RDMA\",\"max_srq_depth\":64}"));
	j = rt_ok(c, "nvmf_get_transports", NULL);
	assert_json_text(j, rt_fmt("[" RDMA_SHOWN "]", 512, "false"), "RDMA with --max-srq-depth 512");
	json_decref(j);
	rpc_client_close(c);
	rt_down(&b);
	json_decref(trs);
	json_decref(saved);
}

static void rdma_not_built(void)
{
	const char *cargs[] = { "-r", RT_SOCK, "-c", NULL, NULL };
	char cfgpath[160];
	struct rpc_client *c;
	struct rt_tgt t;
	json_t *j;

	rt_up(&t, NULL);
	c = rt_client(&t);
	/* SPDK's answer for a transport type it has nothing for, whatever the options. */
	rt_err(c, "nvmf_create_transport", "{\"trtype\":\"RDMA\"}", -32602,
	       "Invalid transport type 'RDMA'");
	rt_err(c, "nvmf_create_transport", "{\"trtype\":\"rdma\",\"max_srq_depth\":8}", -32602,
	       "Invalid transport type 'rdma'");
	rt_err(c, "nvmf_get_transports", "{\"trtype\":\"RDMA\"}", -19, "No such device");
	rt_assert_true(rt_call(c, "nvmf_create_subsystem", "{\"nqn\":\"" VNQN "\"}"));
	rt_err(c, "nvmf_subsystem_add_listener",
	       "{\"nqn\":\"" VNQN "\",\"listen_address\":{\"trtype\":\"RDMA\",\"adrfam\":\"IPv4\","
	       "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"0\"}}",
	       -32602, "Invalid parameters");
	j = rt_call(c, "load_config",
		    "{\"subsystems\":[{\"subsystem\":\"nvmf\",\"config\":[{\"method\":"
		    "\"nvmf_create_transport\",\"params\":{\"trtype\":\"RDMA\",\"no_srq\":true}}]}]}");
	assert_int_equal(rt_geti(j, "error.code"), -32602);
	assert_non_null(strstr(rt_gets(j, "error.message"),
			       "transport RDMA is not built into this libnvmft"));
	json_decref(j);
	/* Still serving, nothing half made. */
	j = rt_ok(c, "nvmf_get_transports", NULL);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	rpc_client_close(c);
	rt_down(&t);

	/* A -c file naming RDMA stops start-up with the reason (exit 1: start-up failed). */
	rt_mkdir(&t);
	snprintf(cfgpath, sizeof(cfgpath), "%s/rdma.json", t.dir);
	cargs[3] = cfgpath;
	j = json_loads("{\"subsystems\":[{\"subsystem\":\"nvmf\",\"config\":[{\"method\":"
		       "\"nvmf_create_transport\",\"params\":{\"trtype\":\"RDMA\","
		       "\"max_srq_depth\":1024}}]}]}",
		       0, NULL);
	write_json(cfgpath, j);
	json_decref(j);
	rt_start(&t, cargs);
	assert_false(rt_wait_ready(&t));
	assert_int_equal(rt_wait_exit(&t), 1);
	assert_non_null(strstr(t.err, "transport rdma is not built into this libnvmft"));
	assert_null(strstr(t.err, "Sanitizer"));
	rt_rmdir(&t);
}

static void test_rdma_rpc(void **state)
{
	(void)state;
	if (rt_lib_has(NVMFT_TRTYPE_RDMA)) {
		print_message("# libnvmft has the RDMA transport: its options over RPC\n");
		rdma_built_in();
	} else {
		print_message("# libnvmft has no RDMA transport: SPDK's answers for it\n");
		rdma_not_built();
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vfu_rpc_roundtrip),
		cmocka_unit_test(test_vfu_rpc_rules),
		cmocka_unit_test(test_rdma_rpc),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s NVMFT_TGT\n", argv[0]);
		return 2;
	}
	rt_tgt_path = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
