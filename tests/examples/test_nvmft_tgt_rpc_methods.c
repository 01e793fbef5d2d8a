/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPDK's nvmf_* and bdev_* methods on nvmft-tgt, through the project's own
 * client:
 *   - the requests SPDK v25.09 answered in spdk_v25.09_rpc.json, replayed
 *     in the same state: the same error codes and messages, results of the
 *     same shape (less the keys doc/rpc.md lists as absent);
 *   - the seed scenario (one logical volume exported over TCP) with a host
 *     doing I/O, and the controllers, queue pairs and counters it leaves;
 *   - save_config loading back (load_config, and -c) to the same state;
 *   - load_config all or nothing, and of SPDK's own save_config output;
 *   - the errors the replay does not reach.
 *
 * argv[1]: the nvmft-tgt binary; argv[2]: spdk_v25.09_rpc.json; argv[3]:
 * spdk_v25.09_save_config.json (what SPDK's save_config wrote).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <nvmft/transport.h>

#include "rpc_test_util.h"
#include "test_util.h"
#include "tcp_host.h"

static const char *fixture_path;
static const char *saved_path;

#define LVOL "nqn.2024-01.io.excloud:storage.node.disk.lvol"
#define CNODE1 "nqn.2016-06.io.spdk:cnode1"

/* The state SPDK's capture was made in: a TCP transport and cnode1 with a null bdev. */
static void spdk_like_state(struct rpc_client *c, unsigned int port)
{
	rt_assert_true(rt_call(c, "nvmf_create_transport", "{\"trtype\":\"TCP\"}"));
	json_decref(rt_ok(c, "bdev_null_create",
			  "{\"name\":\"Null0\",\"num_blocks\":262144,\"block_size\":4096}"));
	rt_assert_true(rt_call(c, "nvmf_create_subsystem",
			       "{\"nqn\":\"" CNODE1 "\",\"allow_any_host\":true,"
			       "\"serial_number\":\"SPDK00000000000001\","
			       "\"model_number\":\"SPDK_Controller1\"}"));
	json_decref(rt_ok(c, "nvmf_subsystem_add_ns",
			  "{\"nqn\":\"" CNODE1 "\",\"namespace\":{\"bdev_name\":\"Null0\"}}"));
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_listener",
			       rt_fmt("{\"nqn\":\"" CNODE1 "\",\"listen_address\":{\"trtype\":\"tcp\","
				      "\"adrfam\":\"ipv4\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%u\"}}",
				      port)));
}

/* A host with its admin queue and one I/O queue on @port. */
static void host_up(const char *nqn, unsigned int port, struct th **admin, struct th **io)
{
	struct th_cfg cfg = { .timeout_ms = 20000, .subnqn = nqn };
	char p[16];
	uint16_t cntlid;

	snprintf(p, sizeof(p), "%u", port);
	assert_int_equal(th_connect("127.0.0.1", p, &cfg, admin), 0);
	TH_ASSERT_ST(*admin, th_admin_up(*admin, 0, &cntlid), 0);
	assert_int_equal(th_connect("127.0.0.1", p, &cfg, io), 0);
	assert_int_equal(th_icreq(*io, 0, 0, 0), 0);
	TH_ASSERT_ST(*io, th_connect_io(*io, 1, 31, cntlid), 0);
}

/* ---- Replaying SPDK's answers ---------------------------------------------------------- */

/* Keys SPDK has and nvmft-tgt leaves out (doc/rpc.md, "What differs"). */
static const char *const absent[] = {
	/* SPDK's shared buffer pool, socket layer and RDMA tuning */
	"io_unit_size", "num_shared_buffers", "buf_cache_size", "sock_priority",
	"abort_timeout_sec", "ack_timeout", "data_wr_pool_size",
	/* the git commit of the build */
	"commit",
	/* SPDK's DMA memory domains */
	"memory_domains",
	/* SPDK makes an NGUID out of the bdev's UUID; libnvmft reports none unless given */
	"nguid",
	NULL,
};

static void replace_port(json_t *j, const char *from, const char *to)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach(j, key, v) {
			if (strcmp(key, "trsvcid") == 0 && json_is_string(v) &&
			    strcmp(json_string_value(v), from) == 0)
				json_object_set_new(j, key, json_string(to));
			else
				replace_port(v, from, to);
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			replace_port(v, from, to);
	}
}

static void test_spdk_replay(void **state)
{
	const char *extra[] = { "-m", "1", NULL };
	struct th *admin, *io;
	struct rpc_client *c;
	json_error_t jerr;
	json_t *fixture, *e;
	char port_b[16];
	struct rt_tgt t;
	size_t i;

	(void)state;
	fixture = json_load_file(fixture_path, 0, &jerr);
	if (fixture == NULL)
		fail_msg("%s: %s", fixture_path, jerr.text);
	rt_up(&t, extra);
	c = rt_client(&t);
	{
		unsigned int pa = tu_free_port(AF_INET);

		spdk_like_state(c, pa);
		host_up(CNODE1, pa, &admin, &io);
	}
	snprintf(port_b, sizeof(port_b), "%u", tu_free_port(AF_INET));
	json_array_foreach(fixture, i, e) {
		json_t *req = json_deep_copy(json_object_get(e, "request"));
		json_t *want = json_object_get(e, "response");
		const char *method = rt_gets(req, "method");
		const char *trtype = json_string_value(rt_get(req, "params.trtype"));
		json_t *got, *params = json_object_get(req, "params");
		char *diff;

		/* A transport this libnvmft has built in is created, not refused: nothing to compare. */
		if (strcmp(method, "nvmf_create_transport") == 0 && trtype != NULL &&
		    ((strcmp(trtype, "RDMA") == 0 && rt_lib_has(NVMFT_TRTYPE_RDMA)) ||
		     (strcmp(trtype, "VFIOUSER") == 0 && rt_lib_has(NVMFT_TRTYPE_VFIOUSER)))) {
			json_decref(req);
			continue;
		}
		replace_port(params, "4613", port_b);
		assert_int_equal(rpc_client_call(c, method, params, &got), 0);
		print_message("# %s %s\n", method,
			      json_object_get(want, "error") ? "(an error)" : "");
		if (json_object_get(want, "error") != NULL) {
			/* Errors: the same code and the same message. */
			json_t *we = json_object_get(want, "error");

			rt_assert_err(got, (int)rt_geti(we, "code"), rt_gets(we, "message"));
			json_decref(req);
			continue;
		}
		diff = rt_shape_diff(json_object_get(got, "result"), json_object_get(want, "result"),
				     absent);
		if (diff != NULL)
			fail_msg("%s: %s", method, diff);
		if (!json_is_object(rt_get(want, "result")) && !json_is_array(rt_get(want, "result")))
			assert_true(json_equal(rt_get(got, "result"), rt_get(want, "result")));
		if (json_is_array(rt_get(want, "result")) &&
		    strcmp(method, "framework_get_subsystems") != 0)
			assert_int_equal(json_array_size(rt_get(got, "result")),
					 json_array_size(rt_get(want, "result")));
		json_decref(got);
		json_decref(req);
	}
	th_free(io);
	th_free(admin);
	rpc_client_close(c);
	json_decref(fixture);
	rt_down(&t);
}

/* ---- The seed scenario, with a host --------------------------------------------------- */

static void test_seed_scenario(void **state)
{
	const char *extra[] = { "-m", "2", NULL };
	static uint8_t w[4096], r[4096];
	struct th *admin, *io;
	struct sockaddr_in me;
	socklen_t mlen = sizeof(me);
	struct rpc_client *c;
	unsigned int port;
	json_t *j, *g;
	struct rt_tgt t;
	long long sum[5] = { 0 };

	(void)state;
	rt_up(&t, extra);
	c = rt_client(&t);
	/* What a storage node does for one logical volume. */
	rt_assert_true(rt_call(c, "nvmf_create_transport", "{\"trtype\":\"TCP\"}"));
	j = rt_ok(c, "bdev_malloc_create",
		  "{\"name\":\"abcd-uuid\",\"num_blocks\":131072,\"block_size\":512,"
		  "\"uuid\":\"2b1c52e8-6f6a-4f3c-bd57-0f2a7d9a1e11\"}");
	assert_string_equal(json_string_value(j), "abcd-uuid");
	json_decref(j);
	rt_assert_true(rt_call(c, "nvmf_create_subsystem",
			       "{\"nqn\":\"" LVOL "\",\"allow_any_host\":true,"
			       "\"serial_number\":\"EXC0001\",\"model_number\":\"excloud lvol\"}"));
	/* Port 0: the kernel picks; the listener reports the port it got. */
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_listener",
			       "{\"nqn\":\"" LVOL "\",\"listen_address\":{\"trtype\":\"TCP\","
			       "\"adrfam\":\"IPv4\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"0\"}}"));
	j = rt_ok(c, "nvmf_subsystem_add_ns",
		  "{\"nqn\":\"" LVOL "\",\"namespace\":{\"bdev_name\":\"abcd-uuid\"}}");
	assert_int_equal(json_integer_value(j), 1);
	json_decref(j);
	j = rt_ok(c, "nvmf_subsystem_get_listeners", "{\"nqn\":\"" LVOL "\"}");
	port = (unsigned int)strtoul(rt_gets(j, "0.address.trsvcid"), NULL, 10);
	assert_true(port > 0);
	json_decref(j);
	j = rt_ok(c, "nvmf_get_subsystems", "{\"nqn\":\"" LVOL "\"}");
	/* The namespace reports its bdev's UUID, as SPDK's do. */
	assert_string_equal(rt_gets(j, "0.namespaces.0.uuid"), "2b1c52e8-6f6a-4f3c-bd57-0f2a7d9a1e11");
	assert_string_equal(rt_gets(j, "0.namespaces.0.bdev_name"), "abcd-uuid");
	json_decref(j);

	/* A host connects and does 8 writes and 8 reads on its I/O queue. */
	host_up(LVOL, port, &admin, &io);
	for (int i = 0; i < 8; i++) {
		th_fill(w, sizeof(w), (uint32_t)i);
		TH_ASSERT_ST(io, th_rw(io, true, 1, (uint64_t)i * 8, 8, w, sizeof(w), 0), 0);
		TH_ASSERT_ST(io, th_rw(io, false, 1, (uint64_t)i * 8, 8, r, sizeof(r), 0), 0);
		assert_memory_equal(w, r, sizeof(w));
	}

	j = rt_ok(c, "nvmf_subsystem_get_controllers", "{\"nqn\":\"" LVOL "\"}");
	assert_int_equal(json_array_size(j), 1);
	assert_int_equal(rt_geti(j, "0.cntlid"), th_cntlid(admin));
	assert_string_equal(rt_gets(j, "0.hostnqn"), TH_HOSTNQN);
	assert_string_equal(rt_gets(j, "0.cntrltype"), "io");
	/* Admin queue included, as SPDK counts it. */
	assert_int_equal(rt_geti(j, "0.num_io_qpairs"), 2);
	json_decref(j);

	j = rt_ok(c, "nvmf_subsystem_get_qpairs", "{\"nqn\":\"" LVOL "\"}");
	assert_int_equal(json_array_size(j), 2);
	assert_int_equal(getsockname(th_fd(io), (struct sockaddr *)&me, &mlen), 0);
	for (size_t i = 0; i < 2; i++) {
		char key[32];
		long long qid;

		snprintf(key, sizeof(key), "%zu.qid", i);
		qid = rt_geti(j, key);
		assert_true(qid == 0 || qid == 1);
		snprintf(key, sizeof(key), "%zu.state", i);
		assert_string_equal(rt_gets(j, key), "enabled");
		snprintf(key, sizeof(key), "%zu.listen_address.trsvcid", i);
		assert_int_equal(strtoul(rt_gets(j, key), NULL, 10), port);
		snprintf(key, sizeof(key), "%zu.peer_address.traddr", i);
		assert_string_equal(rt_gets(j, key), "127.0.0.1");
		if (qid == 1) {
			snprintf(key, sizeof(key), "%zu.peer_address.trsvcid", i);
			assert_int_equal(strtoul(rt_gets(j, key), NULL, 10), ntohs(me.sin_port));
		}
	}
	json_decref(j);

	/* The library's own counters, summed over the two poll groups. */
	j = rt_ok(c, "nvmf_get_stats", NULL);
	assert_int_equal(json_array_size(rt_get(j, "poll_groups")), 2);
	for (size_t i = 0; (g = json_array_get(rt_get(j, "poll_groups"), i)) != NULL; i++) {
		sum[0] += rt_geti(g, "admin_qpairs");
		sum[1] += rt_geti(g, "io_qpairs");
		sum[2] += rt_geti(g, "current_io_qpairs");
		sum[3] += rt_geti(g, "completed_nvme_io");
		sum[4] += rt_geti(g, "pending_bdev_io");
		assert_string_equal(rt_gets(g, "transports.0.trtype"), "TCP");
	}
	assert_int_equal(sum[0], 1);
	assert_int_equal(sum[1], 1);
	assert_int_equal(sum[2], 1);
	/* The I/O queue's Connect and its 16 commands; the admin queue's do not count. */
	assert_int_equal(sum[3], 1 + 16);
	assert_int_equal(sum[4], 0);
	json_decref(j);

	j = rt_ok(c, "bdev_get_bdevs", "{\"name\":\"abcd-uuid\"}");
	assert_true(json_is_true(rt_get(j, "0.claimed")));
	assert_string_equal(rt_gets(j, "0.claim_type"), "exclusive_write");
	json_decref(j);
	/* The UUID is an alias of the name. */
	j = rt_ok(c, "bdev_get_bdevs", "{\"name\":\"2b1c52e8-6f6a-4f3c-bd57-0f2a7d9a1e11\"}");
	assert_string_equal(rt_gets(j, "0.name"), "abcd-uuid");
	json_decref(j);

	/* The namespace goes while the host is connected; the host's next I/O is refused. */
	rt_assert_true(rt_call(c, "nvmf_subsystem_remove_ns", rt_fmt("{\"nqn\":\"%s\",\"nsid\":1}", LVOL)));
	assert_int_not_equal(th_rw(io, false, 1, 0, 8, r, sizeof(r), 0), 0);
	j = rt_ok(c, "nvmf_subsystem_add_ns",
		  "{\"nqn\":\"" LVOL "\",\"namespace\":{\"bdev_name\":\"abcd-uuid\",\"nsid\":1}}");
	assert_int_equal(json_integer_value(j), 1);
	json_decref(j);
	TH_ASSERT_ST(io, th_rw(io, false, 1, 0, 8, r, sizeof(r), 0), 0);
	th_fill(w, sizeof(w), 0);
	assert_memory_equal(w, r, sizeof(w));

	/* Deleting the subsystem with the host connected: answered once it is gone. */
	rt_assert_true(rt_call(c, "nvmf_delete_subsystem", "{\"nqn\":\"" LVOL "\"}"));
	assert_int_equal(th_expect_closed(io), 0);
	assert_int_equal(th_expect_closed(admin), 0);
	j = rt_ok(c, "nvmf_get_subsystems", NULL);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);
	/* Its listener was its alone: the port is closed. */
	{
		struct th_cfg cfg = { .timeout_ms = 2000 };
		struct th *h = NULL;
		char p[16];

		snprintf(p, sizeof(p), "%u", port);
		assert_int_not_equal(th_connect("127.0.0.1", p, &cfg, &h), 0);
	}
	j = rt_ok(c, "bdev_get_bdevs", "{\"name\":\"abcd-uuid\"}");
	assert_false(json_is_true(rt_get(j, "0.claimed")));
	json_decref(j);
	rt_assert_true(rt_call(c, "bdev_malloc_delete", "{\"name\":\"abcd-uuid\"}"));
	th_free(io);
	th_free(admin);
	rpc_client_close(c);
	rt_down(&t);
}

/* ---- save_config and load_config ------------------------------------------------------- */

/* Everything save_config can express, over every kind of bdev and listener. */
static void build_state(struct rpc_client *c, const char *file, unsigned int p1, unsigned int p2,
			unsigned int p3)
{
	rt_assert_true(rt_call(c, "nvmf_create_transport",
			       "{\"trtype\":\"TCP\",\"in_capsule_data_size\":8192,"
			       "\"max_io_qpairs_per_ctrlr\":16,\"max_queue_depth\":64,"
			       "\"c2h_success\":false}"));
	json_decref(rt_ok(c, "bdev_malloc_create",
			  "{\"name\":\"M0\",\"num_blocks\":2048,\"block_size\":512,"
			  "\"uuid\":\"6f1c2ad0-8e3b-4b9a-9c55-1d2e3f405162\"}"));
	json_decref(rt_ok(c, "bdev_null_create",
			  "{\"name\":\"N0\",\"num_blocks\":1024,\"block_size\":4096}"));
	json_decref(rt_ok(c, "bdev_uring_create",
			  rt_fmt("{\"name\":\"U0\",\"filename\":\"%s\",\"block_size\":4096}", file)));
	json_decref(rt_ok(c, "bdev_malloc_create", "{\"num_blocks\":64,\"block_size\":4096}"));
	rt_assert_true(rt_call(c, "nvmf_create_subsystem",
			       "{\"nqn\":\"nqn.2024-01.io.test:s1\",\"allow_any_host\":true,"
			       "\"serial_number\":\"S1\",\"model_number\":\"model one\","
			       "\"max_namespaces\":8,\"min_cntlid\":5,\"max_cntlid\":100}"));
	rt_assert_true(rt_call(c, "nvmf_create_subsystem", "{\"nqn\":\"nqn.2024-01.io.test:s2\"}"));
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_host",
			       "{\"nqn\":\"nqn.2024-01.io.test:s2\",\"host\":\"nqn.2024-01.io.test:h1\"}"));
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_host",
			       "{\"nqn\":\"nqn.2024-01.io.test:s2\",\"host\":\"nqn.2024-01.io.test:h2\"}"));
	json_decref(rt_ok(c, "nvmf_subsystem_add_ns",
			  "{\"nqn\":\"nqn.2024-01.io.test:s1\",\"namespace\":{\"bdev_name\":\"M0\","
			  "\"nsid\":3,\"nguid\":\"0123456789ABCDEF0123456789ABCDEF\","
			  "\"eui64\":\"ABCDEF0123456789\"}}"));
	json_decref(rt_ok(c, "nvmf_subsystem_add_ns",
			  "{\"nqn\":\"nqn.2024-01.io.test:s2\",\"namespace\":{\"bdev_name\":\"N0\","
			  "\"uuid\":\"0d7e1f4a-1e2b-4c3d-8e9f-a0b1c2d3e4f5\"}}"));
	json_decref(rt_ok(c, "nvmf_subsystem_add_ns",
			  "{\"nqn\":\"nqn.2024-01.io.test:s2\",\"namespace\":{\"bdev_name\":\"U0\"}}"));
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_listener",
			       rt_fmt("{\"nqn\":\"nqn.2024-01.io.test:s1\",\"listen_address\":{\"trtype\":"
				      "\"TCP\",\"adrfam\":\"IPv4\",\"traddr\":\"127.0.0.1\",\"trsvcid\":"
				      "\"%u\"}}", p1)));
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_listener",
			       rt_fmt("{\"nqn\":\"nqn.2024-01.io.test:s1\",\"listen_address\":{\"trtype\":"
				      "\"TCP\",\"adrfam\":\"IPv6\",\"traddr\":\"::1\",\"trsvcid\":\"%u\"}}",
				      p2)));
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_listener",
			       rt_fmt("{\"nqn\":\"nqn.2024-01.io.test:s2\",\"listen_address\":{\"trtype\":"
				      "\"TCP\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%u\"}}", p1)));
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_listener",
			       rt_fmt("{\"nqn\":\"nqn.2014-08.org.nvmexpress.discovery\","
				      "\"listen_address\":{\"trtype\":\"TCP\",\"adrfam\":\"IPv4\","
				      "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%u\"}}", p3)));
}

static void test_save_load_roundtrip(void **state)
{
	unsigned int p1 = tu_free_port(AF_INET), p2 = tu_free_port(AF_INET), p3 = tu_free_port(AF_INET);
	json_t *saved, *subs, *bdevs, *again, *j;
	struct rpc_client *c;
	struct rt_tgt a, b;
	char file[128], cfgpath[128];
	const char *args[] = { "-r", RT_SOCK, "-c", cfgpath, NULL };

	(void)state;
	rt_up(&a, NULL);
	snprintf(file, sizeof(file), "%s/u0.img", a.dir);
	rt_make_file(file, 1u << 20);
	c = rt_client(&a);
	build_state(c, file, p1, p2, p3);
	saved = rt_ok(c, "save_config", NULL);
	subs = rt_ok(c, "nvmf_get_subsystems", NULL);
	bdevs = rt_ok(c, "bdev_get_bdevs", NULL);
	/* SPDK's section shapes: bdev, then nvmf. */
	assert_string_equal(rt_gets(saved, "subsystems.0.subsystem"), "bdev");
	assert_string_equal(rt_gets(saved, "subsystems.1.subsystem"), "nvmf");
	/* framework_get_config answers each section the same (SPDK's rpc.py save_config). */
	j = rt_ok(c, "framework_get_config", "{\"name\":\"nvmf\"}");
	rt_assert_json_equal(j, rt_get(saved, "subsystems.1.config"), "framework_get_config nvmf");
	json_decref(j);
	rpc_client_close(c);
	assert_int_equal(rt_stop(&a), 0);

	/* A fresh target loads it over JSON-RPC and ends up the same. */
	rt_up(&b, NULL);
	c = rt_client(&b);
	j = json_pack("{s:s, s:s, s:I, s:O}", "jsonrpc", "2.0", "method", "load_config", "id",
		      (json_int_t)1, "params", saved);
	{
		char *text = json_dumps(j, JSON_COMPACT);
		json_t *r;

		assert_int_equal(rpc_client_send(c, text, strlen(text)), 0);
		free(text);
		assert_int_equal(rpc_client_recv(c, &r), 0);
		rt_assert_true(r);
	}
	json_decref(j);
	again = rt_ok(c, "save_config", NULL);
	rt_assert_json_equal(again, saved, "save_config after load_config");
	json_decref(again);
	again = rt_ok(c, "nvmf_get_subsystems", NULL);
	rt_assert_json_equal(again, subs, "nvmf_get_subsystems after load_config");
	json_decref(again);
	again = rt_ok(c, "bdev_get_bdevs", NULL);
	rt_assert_json_equal(again, bdevs, "bdev_get_bdevs after load_config");
	json_decref(again);
	rpc_client_close(c);
	rt_down(&b);

	/* And as a -c file at start-up. */
	rt_mkdir(&b);
	snprintf(cfgpath, sizeof(cfgpath), "%s/saved.json", b.dir);
	assert_int_equal(json_dump_file(saved, cfgpath, JSON_INDENT(2)), 0);
	rt_start(&b, args);
	assert_true(rt_wait_ready(&b));
	c = rt_client(&b);
	again = rt_ok(c, "save_config", NULL);
	rt_assert_json_equal(again, saved, "save_config after -c");
	json_decref(again);
	rpc_client_close(c);
	assert_int_equal(rt_stop(&b), 0);
	rt_rmdir(&b);
	rt_rmdir(&a);
	json_decref(saved);
	json_decref(subs);
	json_decref(bdevs);
}

/* load_config with @cfg (a JSON text) must fail with @code, mentioning @needle. */
static void load_fails(struct rpc_client *c, const char *cfg, int code, const char *needle)
{
	json_t *r = rt_call(c, "load_config", cfg);
	const char *msg = json_string_value(rt_get(r, "error.message"));

	if (rt_geti(r, "error.code") != code || msg == NULL || strstr(msg, needle) == NULL)
		fail_msg("load_config: want %d with '%s', got %s", code, needle,
			 json_dumps(r, JSON_COMPACT));
	json_decref(r);
}

static void test_load_all_or_nothing(void **state)
{
	unsigned int busy_port, p1 = tu_free_port(AF_INET);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	json_t *before, *after;
	struct rpc_client *c;
	struct rt_tgt t;
	int fd;

	(void)state;
	rt_up(&t, NULL);
	c = rt_client(&t);
	rt_assert_true(rt_call(c, "nvmf_create_transport", "{\"trtype\":\"TCP\"}"));
	json_decref(rt_ok(c, "bdev_null_create", "{\"name\":\"X\",\"num_blocks\":8,\"block_size\":512}"));
	rt_assert_true(rt_call(c, "nvmf_create_subsystem", "{\"nqn\":\"nqn.2024-01.io.test:have\"}"));
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_listener",
			       rt_fmt("{\"nqn\":\"nqn.2024-01.io.test:have\",\"listen_address\":{"
				      "\"trtype\":\"TCP\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%u\"}}",
				      p1)));
	before = rt_ok(c, "save_config", NULL);

	/* Refused before anything is touched: a reference to nothing. */
	load_fails(c,
		   "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":"
		   "\"bdev_malloc_create\",\"params\":{\"name\":\"Y\",\"num_blocks\":8,"
		   "\"block_size\":512}}]},{\"subsystem\":\"nvmf\",\"config\":[{\"method\":"
		   "\"nvmf_create_subsystem\",\"params\":{\"nqn\":\"nqn.2024-01.io.test:new\"}},"
		   "{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
		   "\"nqn.2024-01.io.test:new\",\"namespace\":{\"bdev_name\":\"Z\"}}}]}]}",
		   -32602, "unknown bdev 'Z'");
	/* A clash with what runs. */
	load_fails(c,
		   "{\"subsystems\":[{\"subsystem\":\"nvmf\",\"config\":[{\"method\":"
		   "\"nvmf_create_subsystem\",\"params\":{\"nqn\":\"nqn.2024-01.io.test:have\"}}]}]}",
		   -32602, "created twice");
	/* The bdev that backs a namespace cannot back another. */
	json_decref(rt_ok(c, "nvmf_subsystem_add_ns",
			  "{\"nqn\":\"nqn.2024-01.io.test:have\",\"namespace\":{\"bdev_name\":\"X\"}}"));
	json_decref(before);
	before = rt_ok(c, "save_config", NULL);
	load_fails(c,
		   "{\"subsystems\":[{\"subsystem\":\"nvmf\",\"config\":[{\"method\":"
		   "\"nvmf_create_subsystem\",\"params\":{\"nqn\":\"nqn.2024-01.io.test:new\"}},"
		   "{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
		   "\"nqn.2024-01.io.test:new\",\"namespace\":{\"bdev_name\":\"X\"}}}]}]}",
		   -32602, "already backs a namespace");
	load_fails(c, "{\"subsystems\":[{\"subsystem\":\"nvmf\",\"config\":[{\"method\":"
		      "\"nvmf_set_max_subsystems\",\"params\":{\"max_subsystems\":7}}]}]}",
		   -32602, "can only be set at start-up");
	load_fails(c, "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":"
		      "\"bdev_lvol_create\",\"params\":{}}]}]}",
		   -32602, "unsupported method 'bdev_lvol_create'");

	/* Fails while being built (the port is taken): everything built is undone. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 1), 0);
	{
		socklen_t len = sizeof(sin);

		assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
		busy_port = ntohs(sin.sin_port);
	}
	load_fails(c,
		   rt_fmt("{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":"
			  "\"bdev_malloc_create\",\"params\":{\"name\":\"Y\",\"num_blocks\":8,"
			  "\"block_size\":512}}]},{\"subsystem\":\"nvmf\",\"config\":["
			  "{\"method\":\"nvmf_create_subsystem\",\"params\":{\"nqn\":"
			  "\"nqn.2024-01.io.test:new\",\"allow_any_host\":true}},"
			  "{\"method\":\"nvmf_subsystem_add_host\",\"params\":{\"nqn\":"
			  "\"nqn.2024-01.io.test:have\",\"host\":\"nqn.2024-01.io.test:h\"}},"
			  "{\"method\":\"nvmf_subsystem_allow_any_host\",\"params\":{\"nqn\":"
			  "\"nqn.2024-01.io.test:have\",\"allow_any_host\":true}},"
			  "{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
			  "\"nqn.2024-01.io.test:new\",\"namespace\":{\"bdev_name\":\"Y\"}}},"
			  "{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"
			  "\"nqn.2024-01.io.test:new\",\"listen_address\":{\"trtype\":\"TCP\","
			  "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%u\"}}},"
			  "{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"
			  "\"nqn.2024-01.io.test:new\",\"listen_address\":{\"trtype\":\"TCP\","
			  "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%u\"}}}]}]}",
			  p1, busy_port),
		   -32603, "Address already in use");
	close(fd);
	/* A file that does not open fails the first step. */
	load_fails(c, "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":"
		      "\"bdev_uring_create\",\"params\":{\"name\":\"U\",\"filename\":"
		      "\"/nonexistent/nvmft.img\"}}]}]}",
		   -32603, "cannot open");
	after = rt_ok(c, "save_config", NULL);
	rt_assert_json_equal(after, before, "save_config after failed loads");
	json_decref(after);
	/* Not a configuration at all. */
	rt_err(c, "load_config", NULL, -32602, NULL);
	rt_err(c, "load_config", "{\"subsystems\":5}", -32602, NULL);

	/* And a good one goes in whole. */
	rt_assert_true(rt_call(c, "load_config",
			       "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[{\"method\":"
			       "\"bdev_malloc_create\",\"params\":{\"name\":\"Y\",\"num_blocks\":8,"
			       "\"block_size\":512}}]},{\"subsystem\":\"nvmf\",\"config\":[{\"method\":"
			       "\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
			       "\"nqn.2024-01.io.test:have\",\"namespace\":{\"bdev_name\":\"Y\","
			       "\"nsid\":7}}}]}]}"));
	after = rt_ok(c, "nvmf_get_subsystems", "{\"nqn\":\"nqn.2024-01.io.test:have\"}");
	assert_int_equal(json_array_size(rt_get(after, "0.namespaces")), 2);
	assert_int_equal(rt_geti(after, "0.namespaces.1.nsid"), 7);
	json_decref(after);
	json_decref(before);
	rpc_client_close(c);
	rt_down(&t);
}

/* SPDK v25.09's own save_config output goes in through load_config, as through -c. */
static void test_load_spdk_saved(void **state)
{
	char p4[16], p6[16];
	struct rpc_client *c;
	json_t *cfg, *r, *j;
	json_error_t jerr;
	struct rt_tgt t;
	char *text;

	(void)state;
	cfg = json_load_file(saved_path, 0, &jerr);
	if (cfg == NULL)
		fail_msg("%s: %s", saved_path, jerr.text);
	snprintf(p4, sizeof(p4), "%u", tu_free_port(AF_INET));
	snprintf(p6, sizeof(p6), "%u", tu_free_port(AF_INET));
	replace_port(cfg, "44320", p4);
	replace_port(cfg, "44321", p6);
	rt_up(&t, NULL);
	c = rt_client(&t);
	j = json_pack("{s:s, s:s, s:I, s:o}", "jsonrpc", "2.0", "method", "load_config", "id",
		      (json_int_t)1, "params", cfg);
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_int_equal(rpc_client_send(c, text, strlen(text)), 0);
	free(text);
	assert_int_equal(rpc_client_recv(c, &r), 0);
	rt_assert_true(r);
	r = rt_ok(c, "nvmf_get_subsystems", "{\"nqn\":\"nqn.2016-06.io.spdk:cnode2\"}");
	assert_string_equal(rt_gets(r, "0.serial_number"), "SPDK00000000000002");
	assert_int_equal(json_array_size(rt_get(r, "0.listen_addresses")), 2);
	json_decref(r);
	r = rt_ok(c, "nvmf_get_transports", NULL);
	assert_int_equal(rt_geti(r, "0.in_capsule_data_size"), 8192);
	json_decref(r);
	/* Loading it again clashes with itself, and changes nothing. */
	j = rt_ok(c, "save_config", NULL);
	r = rt_call(c, "save_config", NULL);
	json_decref(r);
	{
		json_t *again = json_load_file(saved_path, 0, &jerr);

		replace_port(again, "44320", p4);
		replace_port(again, "44321", p6);
		assert_int_equal(rpc_client_call(c, "load_config", again, &r), 0);
		json_decref(again);
		assert_int_equal(rt_geti(r, "error.code"), -32602);
		json_decref(r);
	}
	r = rt_ok(c, "save_config", NULL);
	rt_assert_json_equal(r, j, "save_config after a refused load");
	json_decref(r);
	json_decref(j);
	rpc_client_close(c);
	rt_down(&t);
}

/* ---- Errors the replay does not reach ------------------------------------------------------- */

static void test_method_errors(void **state)
{
	struct rpc_client *c;
	struct rt_tgt t;
	json_t *j;
	char file[128];

	(void)state;
	rt_up(&t, NULL);
	c = rt_client(&t);
	/* Before a transport exists a listener cannot be added (SPDK: the same). */
	rt_assert_true(rt_call(c, "nvmf_create_subsystem", "{\"nqn\":\"nqn.2024-01.io.test:e\"}"));
	rt_err(c, "nvmf_subsystem_add_listener",
	       "{\"nqn\":\"nqn.2024-01.io.test:e\",\"listen_address\":{\"trtype\":\"TCP\","
	       "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"0\"}}",
	       -32602, "Invalid parameters");
	rt_err(c, "nvmf_create_transport", "{\"trtype\":\"FC\"}", -32602,
	       "Invalid transport type 'FC'");
	rt_err(c, "nvmf_create_transport", "{}", -32602, "Invalid parameters");
	/* A congestion control the kernel lacks: SPDK's text, and load_config names it. */
	rt_err(c, "nvmf_create_transport", "{\"trtype\":\"TCP\",\"tcp_congestion\":\"nosuchcc\"}",
	       -32603, "Transport type 'TCP' create failed");
	load_fails(c,
		   "{\"subsystems\":[{\"subsystem\":\"nvmf\",\"config\":[{\"method\":"
		   "\"nvmf_create_transport\",\"params\":{\"trtype\":\"TCP\","
		   "\"tcp_congestion\":\"nosuchcc\"}}]}]}",
		   -32603, "cannot create transport tcp: congestion control 'nosuchcc': No such file");
	rt_assert_true(rt_call(c, "nvmf_create_transport",
			       "{\"trtype\":\"tcp\",\"tgt_name\":\"nvmf_tgt\"}"));
	rt_err(c, "nvmf_get_subsystems", "{\"tgt_name\":\"other\"}", -32603,
	       "Unable to find a target.");
	rt_err(c, "nvmf_get_transports", "{\"trtype\":\"bogus\"}", -19, "No such device");
	/* Subsystem parameters: SPDK's texts; features libnvmft lacks say so. */
	rt_err(c, "nvmf_create_subsystem",
	       "{\"nqn\":\"nqn.2024-01.io.test:f\",\"serial_number\":\"012345678901234567890\"}",
	       -32602, "Invalid SN 012345678901234567890");
	rt_err(c, "nvmf_create_subsystem",
	       "{\"nqn\":\"nqn.2024-01.io.test:f\",\"min_cntlid\":10,\"max_cntlid\":5}", -32602,
	       "Invalid cntlid range [10-5]");
	rt_err(c, "nvmf_create_subsystem", "{\"nqn\":\"not-an-nqn\"}", -32603,
	       "Unable to create subsystem not-an-nqn");
	rt_err(c, "nvmf_create_subsystem",
	       "{\"nqn\":\"nqn.2024-01.io.test:f\",\"ana_reporting\":true}", -32602,
	       "nvmf_create_subsystem: parameter 'ana_reporting' is supported only as false");
	rt_err(c, "nvmf_delete_subsystem", "{\"nqn\":\"nqn.2014-08.org.nvmexpress.discovery\"}",
	       -32602, "Invalid parameters");
	/* Namespaces. */
	json_decref(rt_ok(c, "bdev_malloc_create", "{\"name\":\"B\",\"num_blocks\":8,\"block_size\":512}"));
	rt_err(c, "nvmf_subsystem_add_ns",
	       "{\"nqn\":\"nqn.2014-08.org.nvmexpress.discovery\",\"namespace\":{\"bdev_name\":\"B\"}}",
	       -32602, "Invalid parameters");
	rt_err(c, "nvmf_subsystem_add_ns",
	       "{\"nqn\":\"nqn.2024-01.io.test:e\",\"namespace\":{\"bdev_name\":\"B\","
	       "\"ptpl_file\":\"/tmp/x\"}}",
	       -32602, "nvmf_subsystem_add_ns: parameter 'namespace.ptpl_file' is not supported");
	rt_err(c, "nvmf_subsystem_add_ns",
	       "{\"nqn\":\"nqn.2024-01.io.test:e\",\"namespace\":{\"bdev_name\":\"B\",\"nsid\":40}}",
	       -32602, "Invalid parameters");
	j = rt_ok(c, "nvmf_subsystem_add_ns",
		  "{\"nqn\":\"nqn.2024-01.io.test:e\",\"namespace\":{\"bdev_name\":\"B\",\"nsid\":32}}");
	assert_int_equal(json_integer_value(j), 32);
	json_decref(j);
	rt_err(c, "nvmf_subsystem_remove_ns", "{\"nqn\":\"nqn.2024-01.io.test:e\",\"nsid\":\"1\"}",
	       -32602, "Invalid parameters");
	/* Hosts. */
	rt_err(c, "nvmf_subsystem_add_host",
	       "{\"nqn\":\"nqn.2024-01.io.test:e\",\"host\":\"nqn.2024-01.io.test:h\","
	       "\"dhchap_key\":\"key0\"}",
	       -32602, "nvmf_subsystem_add_host: parameter 'dhchap_key' is not supported");
	rt_assert_true(rt_call(c, "nvmf_subsystem_add_host",
			       "{\"nqn\":\"nqn.2024-01.io.test:e\",\"host\":\"nqn.2024-01.io.test:h\"}"));
	rt_err(c, "nvmf_subsystem_add_host",
	       "{\"nqn\":\"nqn.2024-01.io.test:e\",\"host\":\"nqn.2024-01.io.test:h\"}", -32603,
	       "Internal error");
	rt_assert_true(rt_call(c, "nvmf_subsystem_allow_any_host",
			       "{\"nqn\":\"nqn.2024-01.io.test:e\",\"allow_any_host\":true}"));
	rt_err(c, "nvmf_subsystem_allow_any_host", "{\"nqn\":\"nqn.2024-01.io.test:e\"}", -32602,
	       "Invalid parameters");
	j = rt_ok(c, "nvmf_get_subsystems", "{\"nqn\":\"nqn.2024-01.io.test:e\"}");
	assert_true(json_is_true(rt_get(j, "0.allow_any_host")));
	assert_string_equal(rt_gets(j, "0.hosts.0.nqn"), "nqn.2024-01.io.test:h");
	json_decref(j);
	/* Listeners. */
	rt_err(c, "nvmf_subsystem_remove_listener",
	       "{\"nqn\":\"nqn.2024-01.io.test:e\",\"listen_address\":{\"trtype\":\"TCP\","
	       "\"traddr\":\"127.0.0.1\",\"trsvcid\":\"4420\"}}",
	       -32602, "Invalid parameters");
	rt_err(c, "nvmf_subsystem_add_listener",
	       "{\"nqn\":\"nqn.2024-01.io.test:e\",\"listen_address\":{\"trtype\":\"TCP\","
	       "\"traddr\":\"localhost\",\"trsvcid\":\"4420\"}}",
	       -32602, "Invalid parameters");
	rt_err(c, "nvmf_subsystem_add_listener",
	       "{\"nqn\":\"nqn.2024-01.io.test:e\",\"secure_channel\":true,\"listen_address\":"
	       "{\"trtype\":\"TCP\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"0\"}}",
	       -32602, "nvmf_subsystem_add_listener: parameter 'secure_channel' is supported only as false");
	/* Settings fixed at start-up, SPDK tuning accepted without effect. */
	rt_assert_true(rt_call(c, "nvmf_set_max_subsystems", "{\"max_subsystems\":1024}"));
	rt_err(c, "nvmf_set_max_subsystems", "{\"max_subsystems\":5}", -1, NULL);
	rt_assert_true(rt_call(c, "nvmf_set_config", "{\"discovery_filter\":\"match_any\"}"));
	rt_err(c, "nvmf_set_config", "{\"discovery_filter\":\"transport\"}", -32602, NULL);
	rt_assert_true(rt_call(c, "iobuf_set_options", "{\"small_pool_count\":8192}"));
	rt_assert_true(rt_call(c, "bdev_wait_for_examine", NULL));
	rt_err(c, "framework_get_subsystems", "{}", -32602,
	       "'framework_get_subsystems' requires no arguments");
	rt_err(c, "framework_get_config", NULL, -32602, "Invalid arguments");
	/* bdevs. */
	j = rt_ok(c, "bdev_malloc_create", "{\"num_blocks\":8,\"block_size\":512}");
	assert_string_equal(json_string_value(j), "Malloc0");
	json_decref(j);
	j = rt_ok(c, "bdev_malloc_create", "{\"num_blocks\":8,\"block_size\":4096}");
	assert_string_equal(json_string_value(j), "Malloc1");
	json_decref(j);
	rt_err(c, "bdev_malloc_create", "{\"name\":\"Z\",\"num_blocks\":0,\"block_size\":512}", -22,
	       "Invalid argument");
	rt_err(c, "bdev_malloc_create", "{\"name\":\"Z\",\"num_blocks\":8,\"block_size\":512,"
	       "\"md_size\":8}", -95, "bdev_malloc_create: parameter 'md_size' is supported only as 0");
	rt_err(c, "bdev_null_create", "{\"num_blocks\":8,\"block_size\":512}", -32603,
	       "spdk_json_decode_object failed");
	rt_err(c, "bdev_uring_create", "{\"name\":\"U\",\"filename\":\"/nonexistent/x\"}", -32603,
	       "Unable to create URING bdev.");
	snprintf(file, sizeof(file), "%s/u.img", t.dir);
	rt_make_file(file, 256u << 10);
	j = rt_ok(c, "bdev_uring_create", rt_fmt("{\"name\":\"U\",\"filename\":\"%s\"}", file));
	assert_string_equal(json_string_value(j), "U");
	json_decref(j);
	j = rt_ok(c, "bdev_get_bdevs", "{\"name\":\"U\"}");
	assert_string_equal(rt_gets(j, "0.product_name"), "URING bdev");
	assert_string_equal(rt_gets(j, "0.driver_specific.uring.filename"), file);
	assert_int_equal(rt_geti(j, "0.block_size") * rt_geti(j, "0.num_blocks"), 256 << 10);
	json_decref(j);
	rt_err(c, "bdev_get_bdevs", "{\"name\":5}", -32603, "spdk_json_decode_object failed");
	/* A delete of the wrong kind finds nothing, as in SPDK. */
	rt_err(c, "bdev_null_delete", "{\"name\":\"U\"}", -19, "No such device");
	rt_err(c, "bdev_malloc_delete", "{}", -32603, "spdk_json_decode_object failed");
	/* Deleting a bdev in use takes its namespace away first. */
	rt_assert_true(rt_call(c, "bdev_malloc_delete", "{\"name\":\"B\"}"));
	j = rt_ok(c, "nvmf_get_subsystems", "{\"nqn\":\"nqn.2024-01.io.test:e\"}");
	assert_int_equal(json_array_size(rt_get(j, "0.namespaces")), 0);
	json_decref(j);
	rt_assert_true(rt_call(c, "bdev_uring_delete", "{\"name\":\"U\"}"));
	rpc_client_close(c);
	rt_down(&t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spdk_replay),
		cmocka_unit_test(test_seed_scenario),
		cmocka_unit_test(test_save_load_roundtrip),
		cmocka_unit_test(test_load_all_or_nothing),
		cmocka_unit_test(test_load_spdk_saved),
		cmocka_unit_test(test_method_errors),
	};

	if (argc < 4) {
		fprintf(stderr, "usage: %s NVMFT_TGT SPDK_RPC_FIXTURE SPDK_SAVED_CONFIG\n", argv[0]);
		return 2;
	}
	rt_tgt_path = argv[1];
	fixture_path = argv[2];
	saved_path = argv[3];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
