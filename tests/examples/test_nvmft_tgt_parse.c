/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft-tgt's flag and config parsing, without starting a target: text in,
 * plan entries (or the exact error message) out.
 *
 * argv[1]: path of spdk_save_config.json, a save_config output as SPDK
 * writes it.  argv[2] and argv[3]: spdk_v25.09_save_config.json and
 * spdk_v25.09_spdk_tgt_save_config.json, what SPDK v25.09's nvmf_tgt and
 * spdk_tgt wrote for the same setup (two subsystems, host list, malloc and
 * null bdevs, IPv4, IPv6 and discovery listeners), committed unchanged.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "config.h"
#include "plan.h"

#define ERRLEN 1024

static const char *spdk_fixture_path;
static const char *v2509_nvmf_tgt_path;
static const char *v2509_spdk_tgt_path;

struct fx {
	struct plan plan;
	struct cli cli;
	char err[ERRLEN];
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	plan_init(&f->plan);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	plan_free(&f->plan);
	cli_free(&f->cli);
	free(f);
	return 0;
}

/* Config text alone, then the same validation main() runs. */
static int cfg(struct fx *f, const char *json)
{
	int rc = config_parse(json, strlen(json), &f->plan, f->err, ERRLEN);

	if (rc == 0)
		rc = cli_to_plan(&f->cli, &f->plan, f->err, ERRLEN);
	if (rc == 0)
		rc = plan_validate(&f->plan, f->err, ERRLEN);
	return rc;
}

static int cli_run(struct fx *f, const char *json, char **argv)
{
	int argc = 0, rc = 0;

	while (argv[argc] != NULL)
		argc++;
	rc = cli_parse(argc, argv, &f->cli, f->err, ERRLEN);
	if (rc == 0 && json != NULL)
		rc = config_parse(json, strlen(json), &f->plan, f->err, ERRLEN);
	if (rc == 0)
		rc = cli_to_plan(&f->cli, &f->plan, f->err, ERRLEN);
	if (rc == 0)
		rc = plan_validate(&f->plan, f->err, ERRLEN);
	return rc;
}

/* Flags after the program name; @json (or NULL) plays the -c file. */
#define CLI(f, json, ...) cli_run((f), (json), (char *[]){ "nvmft-tgt", __VA_ARGS__, NULL })

/* Wrap entries of one section in the top-level structure. */
#define SECTION(name, entries) \
	"{\"subsystems\":[{\"subsystem\":\"" name "\",\"config\":[" entries "]}]}"

#define MALLOC0                                                                                    \
	"{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"Malloc0\",\"num_blocks\":2048," \
	"\"block_size\":512}}"
#define SUBSYS1                                                                                     \
	"{\"method\":\"nvmf_create_subsystem\",\"params\":{\"nqn\":\"nqn.2016-06.io.spdk:cnode1\"," \
	"\"allow_any_host\":true}}"
#define LISTEN1                                                                             \
	"{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"                  \
	"\"nqn.2016-06.io.spdk:cnode1\",\"listen_address\":{\"trtype\":\"TCP\",\"adrfam\":" \
	"\"IPv4\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"4420\"}}}"

#define BDEV_ONE(e) SECTION("bdev", e)
#define NVMF_ONE(e) SECTION("nvmf", e)
#define NVMF_SECTION(e) SECTION("nvmf", e)
/* A discovery-only TCP listener, so that "nothing to listen on" does not hide a result. */
#define LISTEN_ANY                                                                              \
	"{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"                  \
	"\"nqn.2014-08.org.nvmexpress.discovery\",\"listen_address\":{\"trtype\":\"TCP\","   \
	"\"traddr\":\"127.0.0.1\",\"trsvcid\":\"0\"}}}"

/* bdev section + nvmf section with @nvmf_entries after subsystem and listener. */
#define TWO_SECTIONS(bdev_entries, nvmf_entries)                                   \
	"{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[" bdev_entries "]}," \
	"{\"subsystem\":\"nvmf\",\"config\":[" SUBSYS1 "," LISTEN1 nvmf_entries "]}]}"

static char *read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long len;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	assert_true(len > 0);
	rewind(fp);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	return buf;
}

/* ---- Small parsers ------------------------------------------------------ */

static void test_parse_size(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(plan_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(plan_parse_size("64M", &v), 0);
	assert_int_equal(v, 64ull << 20);
	assert_int_equal(plan_parse_size("1g", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(plan_parse_size("2KiB", &v), 0);
	assert_int_equal(v, 2048);
	assert_int_equal(plan_parse_size("3T", &v), 0);
	assert_int_equal(v, 3ull << 40);
	assert_int_equal(plan_parse_size("512B", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(plan_parse_size("", &v), -EINVAL);
	assert_int_equal(plan_parse_size("M", &v), -EINVAL);
	assert_int_equal(plan_parse_size("-1", &v), -EINVAL);
	assert_int_equal(plan_parse_size(" 1", &v), -EINVAL);
	assert_int_equal(plan_parse_size("12X", &v), -EINVAL);
	assert_int_equal(plan_parse_size("1MM", &v), -EINVAL);
	assert_int_equal(plan_parse_size("16777216T", &v), -ERANGE);
	assert_int_equal(plan_parse_size("99999999999999999999", &v), -ERANGE);
}

static void test_parse_ids(void **state)
{
	static const uint8_t uuid[16] = { 0x6f, 0x1c, 0x2a, 0xd0, 0x8e, 0x3b, 0x4b, 0x9a,
					  0x9c, 0x55, 0x1d, 0x2e, 0x3f, 0x40, 0x51, 0x62 };
	static const uint8_t eui[8] = { 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89 };
	uint8_t out[16];

	(void)state;
	assert_int_equal(plan_parse_uuid("6f1c2ad0-8e3b-4b9a-9c55-1d2e3f405162", out), 0);
	assert_memory_equal(out, uuid, 16);
	assert_int_equal(plan_parse_uuid("6F1C2AD0-8E3B-4B9A-9C55-1D2E3F405162", out), 0);
	assert_memory_equal(out, uuid, 16);
	assert_int_equal(plan_parse_uuid("6f1c2ad08e3b4b9a9c551d2e3f405162", out), -EINVAL);
	assert_int_equal(plan_parse_uuid("6f1c2ad0-8e3b-4b9a-9c55-1d2e3f40516g", out), -EINVAL);
	assert_int_equal(plan_parse_uuid("6f1c2ad0+8e3b-4b9a-9c55-1d2e3f405162", out), -EINVAL);
	assert_int_equal(plan_parse_hex_id("6F1C2AD08E3B4B9A9C551D2E3F405162", out, 16), 0);
	assert_memory_equal(out, uuid, 16);
	assert_int_equal(plan_parse_hex_id("abcdef01-23456789", out, 8), 0);
	assert_memory_equal(out, eui, 8);
	assert_int_equal(plan_parse_hex_id("abcdef0123456789aa", out, 8), -EINVAL);
	assert_int_equal(plan_parse_hex_id("abcdef012345678", out, 8), -EINVAL);
	assert_int_equal(plan_parse_hex_id("zbcdef0123456789", out, 8), -EINVAL);
}

static void test_parse_trtype(void **state)
{
	static const struct {
		const char *s;
		int rc;
		enum nvmft_trtype t;
	} cases[] = {
		{ "TCP", 0, NVMFT_TRTYPE_TCP },
		{ "tcp", 0, NVMFT_TRTYPE_TCP },
		{ "RDMA", 0, NVMFT_TRTYPE_RDMA },
		{ "rdma", 0, NVMFT_TRTYPE_RDMA },
		/* SPDK's name, any case, and the spelling of our flags. */
		{ "VFIOUSER", 0, NVMFT_TRTYPE_VFIOUSER },
		{ "vfiouser", 0, NVMFT_TRTYPE_VFIOUSER },
		{ "vfio-user", 0, NVMFT_TRTYPE_VFIOUSER },
		{ "VFIO-User", 0, NVMFT_TRTYPE_VFIOUSER },
		{ "vfio_user", -EINVAL, 0 },
		{ "vfio", -EINVAL, 0 },
		{ "PCIE", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum nvmft_trtype t = (enum nvmft_trtype)0;

		print_message("trtype '%s'\n", cases[i].s);
		assert_int_equal(plan_parse_trtype(cases[i].s, &t), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(t, cases[i].t);
	}
	assert_string_equal(plan_trtype_str(NVMFT_TRTYPE_VFIOUSER), "vfio-user");
	assert_string_equal(plan_trtype_str(NVMFT_TRTYPE_RDMA), "rdma");
}

/* ---- Command line ------------------------------------------------------- */

static void test_cli_defaults(void **state)
{
	struct fx *f = *state;
	char *argv[] = { "nvmft-tgt", NULL };

	assert_int_equal(cli_parse(1, argv, &f->cli, f->err, ERRLEN), 0);
	assert_int_equal(f->cli.threads, 1);
	assert_false(f->cli.busy_poll);
	assert_int_equal(f->cli.log_level, NVMFT_LOG_NOTICE);
	assert_null(f->cli.config_path);
	assert_int_equal(f->cli.n_items, 0);
	assert_int_equal(f->cli.tr.set, 0);
	assert_false(f->cli.help);
	assert_false(f->cli.version);
}

static void test_cli_simple(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(CLI(f, NULL, "-l", "tcp:127.0.0.1:4420", "--ns", "ram:64M"), 0);
	assert_int_equal(p->n_subsys, 1);
	assert_string_equal(p->subsys[0].nqn, PLAN_DEFAULT_NQN);
	assert_true(p->subsys[0].allow_any_host);
	assert_int_equal(p->subsys[0].max_namespaces, 32);
	assert_int_equal(p->n_listeners, 1);
	assert_null(p->listeners[0].nqn);
	assert_int_equal(p->listeners[0].trtype, NVMFT_TRTYPE_TCP);
	assert_int_equal(p->listeners[0].adrfam, NVMFT_ADRFAM_IPV4);
	assert_string_equal(p->listeners[0].traddr, "127.0.0.1");
	assert_string_equal(p->listeners[0].trsvcid, "4420");
	assert_int_equal(p->n_bdevs, 1);
	assert_string_equal(p->bdevs[0].name, "ram0");
	assert_int_equal(p->bdevs[0].kind, PLAN_BDEV_RAM);
	assert_int_equal(p->bdevs[0].block_size, 512);
	assert_int_equal(p->bdevs[0].num_blocks, 131072);
	assert_int_equal(p->n_ns, 1);
	assert_string_equal(p->ns[0].nqn, PLAN_DEFAULT_NQN);
	assert_string_equal(p->ns[0].bdev_name, "ram0");
	assert_int_equal(p->ns[0].nsid, 0);
	assert_int_equal(p->n_hosts, 0);
	assert_int_equal(p->n_transports, 0);
}

static void test_cli_ipv6_forms(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(CLI(f, NULL, "-l", "TCP:[::1]:4420", "--listen", "tcp:::1:4421", "-l",
			     "Tcp:fe80::1:0", "--ns", "null:1G"),
			 0);
	assert_int_equal(p->n_listeners, 3);
	assert_int_equal(p->listeners[0].adrfam, NVMFT_ADRFAM_IPV6);
	assert_string_equal(p->listeners[0].traddr, "::1");
	assert_string_equal(p->listeners[0].trsvcid, "4420");
	assert_int_equal(p->listeners[1].adrfam, NVMFT_ADRFAM_IPV6);
	assert_string_equal(p->listeners[1].traddr, "::1");
	assert_string_equal(p->listeners[1].trsvcid, "4421");
	assert_string_equal(p->listeners[2].traddr, "fe80::1");
	assert_string_equal(p->listeners[2].trsvcid, "0");
	assert_int_equal(p->bdevs[0].kind, PLAN_BDEV_NULL);
	assert_int_equal(p->bdevs[0].num_blocks, 2097152);
}

/* -n selects; flags after it attach to it; a listener before any -n is shared. */
static void test_cli_subsystem_rules(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(CLI(f, NULL, "-l", "tcp:0.0.0.0:4420", "-n", "nqn.2024-01.io.test:a",
			     "--ns", "ram:1M", "-n", "nqn.2024-01.io.test:b", "-l",
			     "tcp:127.0.0.1:4421", "--ns", "null:1G,bs=4096", "--allow-host",
			     "nqn.2024-01.io.test:host1"),
			 0);
	assert_int_equal(p->n_subsys, 2);
	assert_string_equal(p->subsys[0].nqn, "nqn.2024-01.io.test:a");
	assert_true(p->subsys[0].allow_any_host);
	assert_string_equal(p->subsys[1].nqn, "nqn.2024-01.io.test:b");
	assert_false(p->subsys[1].allow_any_host);
	assert_int_equal(p->n_listeners, 2);
	assert_null(p->listeners[0].nqn);
	assert_string_equal(p->listeners[1].nqn, "nqn.2024-01.io.test:b");
	assert_int_equal(p->n_bdevs, 2);
	assert_string_equal(p->bdevs[0].name, "ram0");
	assert_string_equal(p->bdevs[1].name, "null0");
	assert_int_equal(p->bdevs[1].block_size, 4096);
	assert_int_equal(p->bdevs[1].num_blocks, 262144);
	assert_string_equal(p->ns[0].nqn, "nqn.2024-01.io.test:a");
	assert_string_equal(p->ns[1].nqn, "nqn.2024-01.io.test:b");
	assert_int_equal(p->n_hosts, 1);
	assert_string_equal(p->hosts[0].nqn, "nqn.2024-01.io.test:b");
	assert_string_equal(p->hosts[0].host, "nqn.2024-01.io.test:host1");
}

/* --ns before any -n uses the default subsystem, even when -n follows. */
static void test_cli_default_then_named(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(CLI(f, NULL, "-l", "tcp:127.0.0.1:4420", "--ns", "ram:1M", "--ns",
			     "ram:2M,nsid=5,name=big", "-n", "nqn.2024-01.io.test:x", "--ns",
			     "ram:1M"),
			 0);
	assert_int_equal(p->n_subsys, 2);
	assert_string_equal(p->subsys[0].nqn, PLAN_DEFAULT_NQN);
	assert_string_equal(p->subsys[1].nqn, "nqn.2024-01.io.test:x");
	assert_string_equal(p->bdevs[0].name, "ram0");
	assert_string_equal(p->bdevs[1].name, "big");
	assert_string_equal(p->bdevs[2].name, "ram1");
	assert_int_equal(p->ns[1].nsid, 5);
	assert_string_equal(p->ns[2].nqn, "nqn.2024-01.io.test:x");
}

static void test_cli_file_ns(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(
		CLI(f, NULL, "-l", "tcp:127.0.0.1:4420", "--ns",
		    "file:/tmp/a,b.img,bs=4K,nsid=7,uuid=6f1c2ad0-8e3b-4b9a-9c55-1d2e3f405162",
		    "--ns", "FILE:/dev/sdz"),
		0);
	assert_int_equal(p->bdevs[0].kind, PLAN_BDEV_FILE);
	assert_string_equal(p->bdevs[0].filename, "/tmp/a,b.img");
	assert_string_equal(p->bdevs[0].name, "file0");
	assert_int_equal(p->bdevs[0].block_size, 4096);
	assert_int_equal(p->ns[0].nsid, 7);
	assert_true(p->ns[0].has_uuid);
	assert_int_equal(p->ns[0].uuid[0], 0x6f);
	assert_string_equal(p->bdevs[1].filename, "/dev/sdz");
	assert_int_equal(p->bdevs[1].block_size, 0);
	assert_string_equal(p->bdevs[1].name, "file1");
}

static void test_cli_flags(void **state)
{
	struct fx *f = *state;
	const struct plan_transport *t = &f->plan.tr_override;

	assert_int_equal(CLI(f, NULL, "-l", "tcp:127.0.0.1:4420", "-m", "4", "--busy-poll",
			     "--no-hdgst", "--ddgst", "--in-capsule-data-size", "8K",
			     "--max-io-size", "1M", "--max-queue-depth", "256", "--max-io-qpairs",
			     "3", "--log-level", "debug"),
			 0);
	assert_int_equal(f->cli.threads, 4);
	assert_true(f->cli.busy_poll);
	assert_int_equal(f->cli.log_level, NVMFT_LOG_DEBUG);
	assert_int_equal(t->set, PLAN_TR_HDGST | PLAN_TR_DDGST | PLAN_TR_IN_CAPSULE |
					 PLAN_TR_MAX_IO_SIZE | PLAN_TR_MAX_QUEUE_DEPTH |
					 PLAN_TR_MAX_QPAIRS);
	assert_false(t->hdgst);
	assert_true(t->ddgst);
	assert_int_equal(t->in_capsule_data_size, 8192);
	assert_int_equal(t->max_io_size, 1u << 20);
	assert_int_equal(t->max_queue_depth, 256);
	assert_int_equal(t->max_qpairs_per_ctrlr, 4);
	/* No subsystem from flags: a bare listener serves discovery only. */
	assert_int_equal(f->plan.n_subsys, 0);
}

/* --tcp-congestion, and its config key: TCP's, carried only when given. */
static void test_cli_tcp_congestion(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(CLI(f, NULL, "-l", "tcp:127.0.0.1:4420", "--tcp-congestion", "reno"), 0);
	assert_int_equal(p->tr_override.set, PLAN_TR_TCP_CONGESTION);
	assert_string_equal(p->tr_override.tcp_congestion, "reno");
	plan_free(&f->plan);
	plan_init(&f->plan);
	cli_free(&f->cli);
	assert_int_equal(cfg(f, NVMF_SECTION("{\"method\":\"nvmf_create_transport\",\"params\":"
					      "{\"trtype\":\"TCP\",\"tcp_congestion\":\"cubic\"}},"
					      LISTEN_ANY)),
			 0);
	assert_int_equal(p->transports[0].set, PLAN_TR_TCP_CONGESTION);
	assert_string_equal(p->transports[0].tcp_congestion, "cubic");
	plan_free(&f->plan);
	plan_init(&f->plan);
	assert_int_equal(cfg(f, NVMF_SECTION("{\"method\":\"nvmf_create_transport\",\"params\":"
					      "{\"trtype\":\"TCP\"}}," LISTEN_ANY)),
			 0);
	assert_int_equal(p->transports[0].set, 0);
	assert_string_equal(p->transports[0].tcp_congestion, "");
}

/* vfio-user's opt-in for memory files that can shrink: off unless asked. */
static void test_cli_vfio_user_unsealed(void **state)
{
	struct fx *f = *state;
	const struct plan_transport *t = &f->plan.tr_override;

	assert_int_equal(CLI(f, NULL, "-n", "nqn.2024-01.io.example:v", "-l", "vfio-user:/tmp/vfu-x",
			     "--ns", "null:1M"),
			 0);
	assert_false(t->set & PLAN_TR_ALLOW_UNSEALED);
	assert_false(t->allow_unsealed_mem);
	plan_free(&f->plan);
	plan_init(&f->plan);
	cli_free(&f->cli);
	assert_int_equal(CLI(f, NULL, "-n", "nqn.2024-01.io.example:v", "-l", "vfio-user:/tmp/vfu-x",
			     "--vfio-user-allow-unsealed", "--ns", "null:1M"),
			 0);
	assert_true(t->set & PLAN_TR_ALLOW_UNSEALED);
	assert_true(t->allow_unsealed_mem);
}

/* The RDMA flags: a transport option of every transport, read by RDMA's. */
static void test_cli_rdma(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;
	const struct plan_transport *t = &p->tr_override;

	assert_int_equal(CLI(f, NULL, "-l", "rdma:192.0.2.1:4420", "-l", "RDMA:[fe80::2]:0",
			     "--no-srq", "--max-srq-depth", "1024", "--ns", "ram:1M"),
			 0);
	assert_int_equal(t->set, PLAN_TR_NO_SRQ | PLAN_TR_MAX_SRQ_DEPTH);
	assert_true(t->no_srq);
	assert_int_equal(t->max_srq_depth, 1024);
	assert_int_equal(p->n_listeners, 2);
	assert_int_equal(p->listeners[0].trtype, NVMFT_TRTYPE_RDMA);
	assert_int_equal(p->listeners[0].adrfam, NVMFT_ADRFAM_IPV4);
	assert_string_equal(p->listeners[0].traddr, "192.0.2.1");
	assert_string_equal(p->listeners[0].trsvcid, "4420");
	assert_int_equal(p->listeners[1].trtype, NVMFT_TRTYPE_RDMA);
	assert_int_equal(p->listeners[1].adrfam, NVMFT_ADRFAM_IPV6);
	assert_string_equal(p->listeners[1].traddr, "fe80::2");
	assert_string_equal(p->listeners[1].trsvcid, "0");
	assert_true(plan_uses_trtype(p, NVMFT_TRTYPE_RDMA));
	assert_false(plan_uses_trtype(p, NVMFT_TRTYPE_TCP));
	/* The bounds of the library's shared receive queue. */
	plan_free(&f->plan);
	plan_init(&f->plan);
	cli_free(&f->cli);
	assert_int_equal(CLI(f, NULL, "-l", "rdma:0.0.0.0:4420", "--max-srq-depth", "16",
			     "--max-srq-depth", "65536"),
			 0);
	assert_int_equal(t->max_srq_depth, 65536);
	assert_false(t->no_srq);
	assert_int_equal(t->set, PLAN_TR_MAX_SRQ_DEPTH);
}

/* -l vfio-user:DIR: a directory, no port, SPDK's address shape. */
static void test_cli_vfio_user(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(CLI(f, NULL, "-l", "tcp:127.0.0.1:0", "-n", "nqn.2024-01.io.test:a",
			     "-l", "vfio-user:/var/run/nvmft/a", "--ns", "ram:1M", "-n",
			     "nqn.2024-01.io.test:b", "-l", "VFIOUSER:/var/run/nvmft/b", "--ns",
			     "null:1M", "-l", "vfio-user:/var/run/nvmft/b"),
			 0);
	assert_int_equal(p->n_listeners, 4);
	assert_int_equal(p->listeners[0].trtype, NVMFT_TRTYPE_TCP);
	for (size_t i = 1; i < 4; i++) {
		const struct plan_listener *l = &p->listeners[i];

		assert_int_equal(l->trtype, NVMFT_TRTYPE_VFIOUSER);
		/* SPDK's default family: what save_config writes, and SPDK takes. */
		assert_int_equal(l->adrfam, NVMFT_ADRFAM_IPV4);
		assert_string_equal(l->trsvcid, "");
	}
	assert_string_equal(p->listeners[1].traddr, "/var/run/nvmft/a");
	assert_string_equal(p->listeners[1].nqn, "nqn.2024-01.io.test:a");
	assert_string_equal(p->listeners[2].traddr, "/var/run/nvmft/b");
	assert_string_equal(p->listeners[2].nqn, "nqn.2024-01.io.test:b");
	/* The same directory for the same subsystem twice is one listener (setup.c). */
	assert_string_equal(p->listeners[3].traddr, "/var/run/nvmft/b");
	assert_true(plan_uses_trtype(p, NVMFT_TRTYPE_VFIOUSER));

	/* Before any -n, with the plan's only subsystem: that one. */
	plan_free(&f->plan);
	plan_init(&f->plan);
	cli_free(&f->cli);
	assert_int_equal(CLI(f, NULL, "-l", "vfio-user:rel/dir", "--ns", "ram:1M"), 0);
	assert_null(p->listeners[0].nqn);
	assert_string_equal(p->listeners[0].traddr, "rel/dir");
	assert_string_equal(p->subsys[0].nqn, PLAN_DEFAULT_NQN);
	/* A directory of 101 bytes: DIR/cntrl and its NUL fill sun_path exactly. */
	plan_free(&f->plan);
	plan_init(&f->plan);
	cli_free(&f->cli);
	{
		char arg[10 + 103] = "vfio-user:/", want[400];

		memset(arg + 11, 'd', 100);
		assert_int_equal(CLI(f, NULL, "-l", arg, "--ns", "ram:1M"), 0);
		assert_int_equal(strlen(p->listeners[0].traddr), 101);
		/* One more byte does not fit. */
		plan_free(&f->plan);
		plan_init(&f->plan);
		cli_free(&f->cli);
		arg[111] = 'd';
		snprintf(want, sizeof(want), "--listen %s: '%s' is not a usable socket directory",
			 arg, arg + 10);
		assert_int_equal(CLI(f, NULL, "-l", arg, "--ns", "ram:1M"), -EINVAL);
		assert_string_equal(f->err, want);
	}
}

static void test_cli_last_mode_wins(void **state)
{
	struct fx *f = *state;
	char *argv[] = { "nvmft-tgt", "--busy-poll", "--event", "--log-level", "4", "-h", NULL };

	assert_int_equal(cli_parse(6, argv, &f->cli, f->err, ERRLEN), 0);
	assert_false(f->cli.busy_poll);
	assert_int_equal(f->cli.log_level, NVMFT_LOG_WARN);
	assert_true(f->cli.help);
}

struct cli_error_case {
	const char *args[8];
	const char *msg;
};

static const struct cli_error_case cli_errors[] = {
	{ { "--ns", "ram:1000" },
	  "--ns ram:1000: size must be a positive multiple of the block size 512 "
	  "(K/M/G/T suffixes allowed)" },
	{ { "--ns", "ram:1M,bs=1000" },
	  "--ns ram:1M,bs=1000: bs must be a power of two from 512 to 65536" },
	{ { "--ns", "ram:1M,foo=1" },
	  "--ns ram:1M,foo=1: unknown option 'foo=1' (bs=, nsid=, uuid=, name=)" },
	{ { "--ns", "ram:1M,nsid=0" }, "--ns ram:1M,nsid=0: nsid must be a number from 1 to 4096" },
	{ { "--ns", "rom:1M" }, "--ns rom:1M: unknown kind 'rom' (ram, null or file)" },
	{ { "--ns", "ram" }, "--ns ram: expected ram:SIZE, null:SIZE or file:PATH" },
	{ { "--ns", "ram:0" },
	  "--ns ram:0: size must be a positive multiple of the block size 512 "
	  "(K/M/G/T suffixes allowed)" },
	{ { "-l", "tcp:127.0.0.1" }, "--listen tcp:127.0.0.1: expected TRTYPE:ADDR:PORT" },
	{ { "-l", "tcp:[::1]4420" }, "--listen tcp:[::1]4420: expected TRTYPE:ADDR:PORT" },
	{ { "-l", "udp:1.2.3.4:1" },
	  "--listen udp:1.2.3.4:1: transport type must be tcp, rdma or vfio-user" },
	{ { "-l", "rdma:192.0.2.1" }, "--listen rdma:192.0.2.1: expected TRTYPE:ADDR:PORT" },
	{ { "-l", "rdma:host:4420" }, "--listen rdma:host:4420: 'host' is not a numeric IPv4 address" },
	{ { "-l", "vfio-user:" }, "--listen vfio-user:: expected vfio-user:DIR" },
	{ { "-l", "vfiouser:" }, "--listen vfiouser:: expected vfio-user:DIR" },
	/* Two subsystems (the default one and a), one socket shared by both. */
	{ { "-l", "vfio-user:/tmp/v", "--ns", "ram:1M", "-n", "nqn.2024-01.io.test:a", "--ns",
	    "ram:1M" },
	  "--listen vfio-user:/tmp/v: a vfio-user listener belongs to one subsystem: give it "
	  "after -n NQN" },
	{ { "-n", "nqn.2024-01.io.test:a", "-l", "vfio-user:/tmp/v", "-n", "nqn.2024-01.io.test:b",
	    "-l", "vfio-user:/tmp/v" },
	  "--listen vfio-user:/tmp/v: /tmp/v serves another subsystem already" },
	{ { "--max-srq-depth", "15" }, "--max-srq-depth 15: expected a number from 16 to 65536" },
	{ { "--max-srq-depth", "65537" },
	  "--max-srq-depth 65537: expected a number from 16 to 65536" },
	{ { "--max-srq-depth", "4K" }, "--max-srq-depth 4K: expected a number from 16 to 65536" },
	{ { "--max-srq-depth" }, "option '--max-srq-depth' needs an argument" },
	{ { "--tcp-congestion", "" },
	  "--tcp-congestion : expected an algorithm name of 1 to 15 characters" },
	{ { "--tcp-congestion", "0123456789abcdef" },
	  "--tcp-congestion 0123456789abcdef: expected an algorithm name of 1 to 15 characters" },
	{ { "--no-srq=1" }, "option '--no-srq' takes no argument" },
	{ { "--busy-poll=yes" }, "option '--busy-poll' takes no argument" },
	{ { "-l", "tcp:localhost:4420" },
	  "--listen tcp:localhost:4420: 'localhost' is not a numeric IPv4 address" },
	{ { "-l", "tcp:127.0.0.1:70000" },
	  "--listen tcp:127.0.0.1:70000: '70000' is not a port number (0..65535)" },
	{ { "-l", "tcp:[::1]:x" }, "--listen tcp:[::1]:x: 'x' is not a port number (0..65535)" },
	{ { "-m", "0" }, "--threads 0: expected a number from 1 to 1024" },
	{ { "--threads", "two" }, "--threads two: expected a number from 1 to 1024" },
	{ { "--max-io-size", "2K" }, "--max-io-size 2K: expected a size from 4096 to 8388608" },
	{ { "--max-io-size", "12K" },
	  "command line: max_io_size 12288 must be a power of two from 4096 to 8388608" },
	{ { "--max-queue-depth", "1" }, "--max-queue-depth 1: expected a number from 2 to 65536" },
	{ { "--max-io-qpairs", "0" }, "--max-io-qpairs 0: expected a number from 1 to 65534" },
	{ { "--in-capsule-data-size", "65537" },
	  "--in-capsule-data-size 65537: expected a size from 0 to 65536" },
	{ { "--log-level", "loud" },
	  "--log-level loud: expected error, warning, notice, info or debug" },
	{ { "-c", "a.json", "-c", "b.json" }, "--config given twice" },
	{ { "stray" }, "unexpected argument 'stray' (try --help)" },
	{ { "--bogus" }, "unknown option '--bogus' (try --help)" },
	{ { "-x" }, "unknown option '-x' (try --help)" },
	{ { "-n" }, "option '-n' needs an argument" },
	{ { "--ns" }, "option '--ns' needs an argument" },
	{ { "-n", "nqn.2014-08.org.nvmexpress.discovery", "--ns", "ram:1M" },
	  "--nqn nqn.2014-08.org.nvmexpress.discovery: 'nqn.2014-08.org.nvmexpress.discovery' "
	  "is the discovery subsystem, which always exists" },
	{ { "-n", "tgt1", "--ns", "ram:1M" },
	  "--nqn tgt1: 'tgt1' is not an NQN (\"nqn.\" followed by at most 219 bytes)" },
	{ { "--allow-host", "nqn.2024-01.io.test:h", "--allow-host", "nqn.2024-01.io.test:h" },
	  "--allow-host nqn.2024-01.io.test:h: host 'nqn.2024-01.io.test:h' is added to "
	  "'nqn.2024-01.io.libnvmft:tgt' twice" },
	{ { "--allow-host", "h1" }, "--allow-host h1: host 'h1' is not an NQN" },
	{ { "--ns", "ram:1M,nsid=3", "--ns", "null:1M,nsid=3" },
	  "--ns null:1M,nsid=3: nsid 3 of 'nqn.2024-01.io.libnvmft:tgt' is used twice" },
	{ { "--ns", "ram:1M,name=d", "--ns", "null:1M,name=d" },
	  "--ns null:1M,name=d: bdev name 'd' is already used" },
};

static void test_cli_errors(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cli_errors) / sizeof(cli_errors[0]); i++) {
		const struct cli_error_case *c = &cli_errors[i];
		/* A listener keeps "nothing to listen on" from hiding the error. */
		char *argv[12] = { "nvmft-tgt", "-l", "tcp:127.0.0.1:4420" };
		int argc = 3;

		for (size_t j = 0; j < 8 && c->args[j] != NULL; j++)
			argv[argc++] = (char *)c->args[j];
		plan_free(&f->plan);
		plan_init(&f->plan);
		cli_free(&f->cli);
		f->err[0] = '\0';
		print_message("case %zu: %s\n", i, c->msg);
		assert_int_equal(cli_run(f, NULL, argv), -EINVAL);
		assert_string_equal(f->err, c->msg);
	}
}

static void test_cli_nothing_to_listen(void **state)
{
	struct fx *f = *state;

	assert_int_equal(CLI(f, NULL, "--ns", "ram:1M"), -EINVAL);
	assert_string_equal(f->err, "nothing to listen on: give -l/--listen or an "
				    "nvmf_subsystem_add_listener entry");
}

/* ---- JSON config -------------------------------------------------------- */

static void test_cfg_minimal(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(
		cfg(f, TWO_SECTIONS(MALLOC0,
				    ",{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
				    "\"nqn.2016-06.io.spdk:cnode1\",\"namespace\":{\"nsid\":40,"
				    "\"bdev_name\":\"Malloc0\"}}}")),
		0);
	assert_int_equal(p->n_bdevs, 1);
	assert_string_equal(p->bdevs[0].name, "Malloc0");
	assert_int_equal(p->bdevs[0].kind, PLAN_BDEV_RAM);
	assert_int_equal(p->bdevs[0].num_blocks, 2048);
	assert_int_equal(p->bdevs[0].block_size, 512);
	assert_false(p->bdevs[0].has_uuid);
	assert_int_equal(p->n_subsys, 1);
	assert_true(p->subsys[0].allow_any_host);
	assert_false(p->subsys[0].from_cli);
	assert_null(p->subsys[0].serial_number);
	/* No max_namespaces given: sized to the highest NSID. */
	assert_int_equal(p->subsys[0].max_namespaces, 40);
	assert_int_equal(p->n_listeners, 1);
	assert_string_equal(p->listeners[0].nqn, "nqn.2016-06.io.spdk:cnode1");
	assert_int_equal(p->ns[0].nsid, 40);
	assert_int_equal(p->n_transports, 0);
}

static void test_cfg_spdk_save_config(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;
	char *json = read_file(spdk_fixture_path);
	const struct plan_transport *t;
	int rc;

	rc = cfg(f, json);
	free(json);
	if (rc != 0)
		print_error("%s\n", f->err);
	assert_int_equal(rc, 0);
	assert_int_equal(p->max_subsystems, 1024);

	assert_int_equal(p->n_transports, 1);
	t = &p->transports[0];
	assert_int_equal(t->trtype, NVMFT_TRTYPE_TCP);
	assert_int_equal(t->set, PLAN_TR_MAX_QUEUE_DEPTH | PLAN_TR_MAX_AQ_DEPTH |
					 PLAN_TR_MAX_QPAIRS | PLAN_TR_IN_CAPSULE |
					 PLAN_TR_MAX_IO_SIZE | PLAN_TR_C2H_SUCCESS);
	assert_int_equal(t->max_queue_depth, 128);
	assert_int_equal(t->max_qpairs_per_ctrlr, 128); /* 127 I/O + admin */
	assert_int_equal(t->in_capsule_data_size, 4096);
	assert_int_equal(t->max_io_size, 131072);
	assert_int_equal(t->max_aq_depth, 128);
	assert_true(t->c2h_success);

	assert_int_equal(p->n_bdevs, 3);
	assert_string_equal(p->bdevs[0].name, "Malloc0");
	assert_int_equal(p->bdevs[0].num_blocks, 131072);
	assert_true(p->bdevs[0].has_uuid);
	assert_int_equal(p->bdevs[0].uuid[15], 0x62);
	assert_string_equal(p->bdevs[1].name, "Malloc1");
	assert_int_equal(p->bdevs[1].block_size, 4096);
	assert_string_equal(p->bdevs[2].name, "Null0");
	assert_int_equal(p->bdevs[2].kind, PLAN_BDEV_NULL);
	assert_int_equal(p->bdevs[2].num_blocks, 2097152);

	assert_int_equal(p->n_subsys, 2);
	assert_string_equal(p->subsys[0].nqn, "nqn.2016-06.io.spdk:cnode1");
	assert_string_equal(p->subsys[0].serial_number, "SPDK00000000000001");
	assert_string_equal(p->subsys[0].model_number, "SPDK bdev Controller");
	assert_true(p->subsys[0].allow_any_host);
	assert_int_equal(p->subsys[0].max_namespaces, 32);
	assert_int_equal(p->subsys[0].min_cntlid, 1);
	assert_int_equal(p->subsys[0].max_cntlid, 65519);
	assert_false(p->subsys[1].allow_any_host);
	assert_int_equal(p->subsys[1].max_namespaces, 8);
	assert_int_equal(p->subsys[1].min_cntlid, 100);
	assert_int_equal(p->subsys[1].max_cntlid, 199);

	assert_int_equal(p->n_listeners, 3);
	assert_string_equal(p->listeners[1].nqn, "nqn.2016-06.io.spdk:cnode2");
	assert_string_equal(p->listeners[2].nqn, PLAN_DISCOVERY_NQN);
	assert_string_equal(p->listeners[2].trsvcid, "8009");

	assert_int_equal(p->n_ns, 3);
	assert_int_equal(p->ns[0].nsid, 1);
	assert_true(p->ns[0].has_nguid);
	assert_int_equal(p->ns[0].nguid[0], 0x6f);
	assert_true(p->ns[0].has_uuid);
	assert_false(p->ns[0].has_eui64);
	assert_string_equal(p->ns[1].bdev_name, "Null0");
	assert_true(p->ns[1].has_eui64);
	assert_int_equal(p->ns[1].eui64[7], 0x89);
	assert_string_equal(p->ns[2].nqn, "nqn.2016-06.io.spdk:cnode2");

	assert_int_equal(p->n_hosts, 1);
	assert_string_equal(p->hosts[0].host,
			    "nqn.2014-08.org.nvmexpress:uuid:5b2a4e3c-6d7f-4a8b-9c0d-1e2f3a4b5c6d");
}

/* The plan SPDK v25.09's setup must give, whichever of its apps saved it. */
static void check_v2509_plan(const struct plan *p)
{
	static const uint8_t nguid5[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
					    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	static const uint8_t eui5[8] = { 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89 };
	static const uint8_t uuid5[16] = { 0x3d, 0x5e, 0x8f, 0x41, 0x2b, 0x6c, 0x4a, 0x7d,
					   0x9e, 0x1f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f };
	const struct plan_transport *t;

	assert_int_equal(p->max_subsystems, 1024);
	assert_int_equal(p->n_transports, 1);
	t = &p->transports[0];
	assert_int_equal(t->trtype, NVMFT_TRTYPE_TCP);
	assert_int_equal(t->set, PLAN_TR_MAX_QUEUE_DEPTH | PLAN_TR_MAX_AQ_DEPTH |
					 PLAN_TR_MAX_QPAIRS | PLAN_TR_IN_CAPSULE |
					 PLAN_TR_MAX_IO_SIZE | PLAN_TR_C2H_SUCCESS);
	assert_int_equal(t->max_queue_depth, 256);
	assert_int_equal(t->max_qpairs_per_ctrlr, 64); /* 63 I/O + admin */
	assert_int_equal(t->in_capsule_data_size, 8192);
	assert_int_equal(t->max_io_size, 262144);
	assert_int_equal(t->max_aq_depth, 64);
	assert_true(t->c2h_success);

	assert_int_equal(p->n_bdevs, 2);
	assert_string_equal(p->bdevs[0].name, "Malloc0");
	assert_int_equal(p->bdevs[0].kind, PLAN_BDEV_RAM);
	assert_int_equal(p->bdevs[0].num_blocks, 131072);
	assert_int_equal(p->bdevs[0].block_size, 512);
	assert_true(p->bdevs[0].has_uuid);
	assert_int_equal(p->bdevs[0].uuid[0], 0x6f);
	assert_string_equal(p->bdevs[1].name, "Null0");
	assert_int_equal(p->bdevs[1].kind, PLAN_BDEV_NULL);
	assert_int_equal(p->bdevs[1].num_blocks, 32768);
	assert_int_equal(p->bdevs[1].block_size, 4096);

	assert_int_equal(p->n_subsys, 2);
	assert_string_equal(p->subsys[0].nqn, "nqn.2016-06.io.spdk:cnode1");
	assert_string_equal(p->subsys[0].serial_number, "SPDK00000000000001");
	assert_string_equal(p->subsys[0].model_number, "SPDK bdev Controller");
	assert_true(p->subsys[0].allow_any_host);
	assert_int_equal(p->subsys[0].max_namespaces, 32);
	assert_string_equal(p->subsys[1].nqn, "nqn.2016-06.io.spdk:cnode2");
	assert_string_equal(p->subsys[1].serial_number, "SPDK00000000000002");
	assert_string_equal(p->subsys[1].model_number, "libnvmft fixture");
	assert_false(p->subsys[1].allow_any_host);
	assert_int_equal(p->subsys[1].max_namespaces, 8);
	assert_int_equal(p->subsys[1].min_cntlid, 1);
	assert_int_equal(p->subsys[1].max_cntlid, 1000);

	assert_int_equal(p->n_hosts, 2);
	assert_string_equal(p->hosts[0].nqn, "nqn.2016-06.io.spdk:cnode2");
	assert_string_equal(p->hosts[0].host, "nqn.2024-01.io.libnvmft:host2");
	assert_string_equal(p->hosts[1].host,
			    "nqn.2014-08.org.nvmexpress:uuid:0c5b1d5e-2c51-4c2f-9d8e-3a4c5b6d7e8f");

	/* Discovery first, as SPDK writes it; the IPv6 one only for cnode2. */
	assert_int_equal(p->n_listeners, 4);
	assert_string_equal(p->listeners[0].nqn, PLAN_DISCOVERY_NQN);
	assert_string_equal(p->listeners[1].nqn, "nqn.2016-06.io.spdk:cnode1");
	assert_int_equal(p->listeners[1].adrfam, NVMFT_ADRFAM_IPV4);
	assert_string_equal(p->listeners[1].traddr, "127.0.0.1");
	assert_string_equal(p->listeners[1].trsvcid, "44320");
	assert_string_equal(p->listeners[2].nqn, "nqn.2016-06.io.spdk:cnode2");
	assert_int_equal(p->listeners[2].adrfam, NVMFT_ADRFAM_IPV6);
	assert_string_equal(p->listeners[2].traddr, "::1");
	assert_string_equal(p->listeners[2].trsvcid, "44321");

	assert_int_equal(p->n_ns, 2);
	assert_int_equal(p->ns[0].nsid, 1);
	assert_string_equal(p->ns[0].bdev_name, "Malloc0");
	/* SPDK derives the NGUID from the bdev UUID and saves both. */
	assert_true(p->ns[0].has_nguid);
	assert_memory_equal(p->ns[0].nguid, p->bdevs[0].uuid, 16);
	assert_true(p->ns[0].has_uuid);
	assert_false(p->ns[0].has_eui64);
	assert_int_equal(p->ns[1].nsid, 5);
	assert_string_equal(p->ns[1].nqn, "nqn.2016-06.io.spdk:cnode2");
	assert_true(p->ns[1].has_nguid);
	assert_memory_equal(p->ns[1].nguid, nguid5, 16);
	assert_true(p->ns[1].has_eui64);
	assert_memory_equal(p->ns[1].eui64, eui5, 8);
	assert_true(p->ns[1].has_uuid);
	assert_memory_equal(p->ns[1].uuid, uuid5, 16);
}

static void load_v2509(struct fx *f, const char *path)
{
	char *json = read_file(path);
	int rc = cfg(f, json);

	free(json);
	if (rc != 0)
		print_error("%s: %s\n", path, f->err);
	assert_int_equal(rc, 0);
	check_v2509_plan(&f->plan);
}

static void test_cfg_v2509_nvmf_tgt(void **state)
{
	load_v2509(*state, v2509_nvmf_tgt_path);
}

/* spdk_tgt adds its iSCSI and SCSI sections to the same setup. */
static void test_cfg_v2509_spdk_tgt(void **state)
{
	load_v2509(*state, v2509_spdk_tgt_path);
}

/* What SPDK accepts but does not save, and settings left at SPDK's defaults. */
static void test_cfg_spdk_accepted(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(
		cfg(f, "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[" MALLOC0 "]},"
		       "{\"subsystem\":\"fsdev\",\"config\":[{\"method\":\"fsdev_set_opts\","
		       "\"params\":{\"fsdev_io_pool_size\":65535,\"fsdev_io_cache_size\":256}}]},"
		       "{\"subsystem\":\"keyring\",\"config\":[{\"method\":"
		       "\"keyring_linux_set_options\",\"params\":{\"enable\":false}}]},"
		       "{\"subsystem\":\"nvmf\",\"config\":["
		       "{\"method\":\"nvmf_set_config\",\"params\":{\"discovery_filter\":"
		       "\"match_any\",\"poll_groups_mask\":\"0x3\",\"admin_cmd_passthru\":"
		       "{\"identify_ctrlr\":false}}},"
		       "{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"TCP\","
		       "\"kas\":10,\"min_kato\":10000,\"disable_command_passthru\":true}},"
		       SUBSYS1 "," LISTEN1 ",{\"method\":\"nvmf_subsystem_add_ns\",\"params\":"
		       "{\"nqn\":\"nqn.2016-06.io.spdk:cnode1\",\"namespace\":{\"bdev_name\":"
		       "\"Malloc0\",\"hide_metadata\":true}}}]}]}"),
		0);
	/* Nothing but the trtype was set on the transport. */
	assert_int_equal(p->n_transports, 1);
	assert_int_equal(p->transports[0].set, 0);
	assert_int_equal(p->n_ns, 1);
}

/* rpc.py sends the options of every transport type with every call (false, unless asked). */
#define RPC_PY_TRANSPORT_DEFAULTS                                                          \
	"\"zcopy\":false,\"no_srq\":false,\"c2h_success\":true,"                           \
	"\"dif_insert_or_strip\":false,\"no_wr_batching\":false,"                           \
	"\"disable_mappable_bar0\":false,\"disable_adaptive_irq\":false,"                   \
	"\"disable_shadow_doorbells\":false,\"disable_command_passthru\":false"

#define VFU_SUBSYS                                                                          \
	"{\"method\":\"nvmf_create_subsystem\",\"params\":{\"nqn\":\"nqn.2019-07.io.spdk:" \
	"cnode1\",\"allow_any_host\":true}}"
#define VFU_LISTEN(dir, extra)                                                               \
	"{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"                 \
	"\"nqn.2019-07.io.spdk:cnode1\",\"listen_address\":{\"trtype\":\"VFIOUSER\","      \
	"\"traddr\":\"" dir "\"" extra "}}}"

/*
 * VFIOUSER as SPDK's save_config writes it (the generic options only), as
 * rpc.py sends it, and its listeners in every shape SPDK takes: without a
 * service id or family (rpc.py), with "0" (SPDK's tests) or "".
 */
static void test_cfg_vfio_user(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(
		cfg(f, NVMF_SECTION(
			       "{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":"
			       "\"VFIOUSER\",\"max_queue_depth\":256,\"max_io_qpairs_per_ctrlr\":"
			       "127,\"in_capsule_data_size\":0,\"max_io_size\":131072,"
			       "\"io_unit_size\":131072,\"max_aq_depth\":32,\"num_shared_buffers\":0,"
			       "\"buf_cache_size\":0,\"dif_insert_or_strip\":false,\"zcopy\":false,"
			       "\"abort_timeout_sec\":0,\"ack_timeout\":0,\"data_wr_pool_size\":0,"
			       "\"disable_compare\":false,\"enable_intr_mode_sq_spreading\":false,"
			       "\"disable_adaptive_irq\":true}}," VFU_SUBSYS
			       "," VFU_LISTEN("/var/run/vfu/a", "") "," VFU_LISTEN(
				       "/var/run/vfu/b", ",\"adrfam\":\"IPv4\",\"trsvcid\":\"0\"") ","
				       VFU_LISTEN("/var/run/vfu/c", ",\"adrfam\":\"ipv6\",\"trsvcid\":\"\""))),
		0);
	assert_int_equal(p->n_transports, 1);
	assert_int_equal(p->transports[0].trtype, NVMFT_TRTYPE_VFIOUSER);
	assert_int_equal(p->transports[0].set, PLAN_TR_MAX_QUEUE_DEPTH | PLAN_TR_MAX_QPAIRS |
						       PLAN_TR_IN_CAPSULE | PLAN_TR_MAX_IO_SIZE |
						       PLAN_TR_MAX_AQ_DEPTH);
	assert_int_equal(p->transports[0].max_qpairs_per_ctrlr, 128);
	assert_int_equal(p->transports[0].max_aq_depth, 32);
	assert_int_equal(p->n_listeners, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(p->listeners[i].trtype, NVMFT_TRTYPE_VFIOUSER);
	/* No service id: "", and SPDK's default family. */
	assert_string_equal(p->listeners[0].traddr, "/var/run/vfu/a");
	assert_string_equal(p->listeners[0].trsvcid, "");
	assert_int_equal(p->listeners[0].adrfam, NVMFT_ADRFAM_IPV4);
	assert_string_equal(p->listeners[1].trsvcid, "0");
	assert_int_equal(p->listeners[1].adrfam, NVMFT_ADRFAM_IPV4);
	assert_string_equal(p->listeners[2].trsvcid, "");
	assert_int_equal(p->listeners[2].adrfam, NVMFT_ADRFAM_IPV6);

	/* rpc.py's parameters, and the type in its other spellings. */
	plan_free(&f->plan);
	plan_init(&f->plan);
	assert_int_equal(cfg(f, NVMF_SECTION("{\"method\":\"nvmf_create_transport\",\"params\":"
					      "{\"trtype\":\"vfio-user\"," RPC_PY_TRANSPORT_DEFAULTS
					      "}}," VFU_SUBSYS ",{\"method\":\"nvmf_subsystem_add_"
					      "listener\",\"params\":{\"nqn\":\"nqn.2019-07.io."
					      "spdk:cnode1\",\"listen_address\":{\"trtype\":"
					      "\"vfiouser\",\"traddr\":\"/v\"}}}")),
			 0);
	assert_int_equal(p->transports[0].trtype, NVMFT_TRTYPE_VFIOUSER);
	/* c2h_success is TCP's: not carried to vfio-user's options. */
	assert_int_equal(p->transports[0].set, 0);
	assert_int_equal(p->listeners[0].trtype, NVMFT_TRTYPE_VFIOUSER);
}

/* RDMA's own options are used; the rest of SPDK's RDMA tuning is accepted. */
static void test_cfg_rdma(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(
		cfg(f, NVMF_SECTION(
			       "{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":"
			       "\"RDMA\",\"max_queue_depth\":128,\"max_io_qpairs_per_ctrlr\":127,"
			       "\"in_capsule_data_size\":4096,\"max_io_size\":131072,"
			       "\"io_unit_size\":8192,\"max_aq_depth\":128,\"num_shared_buffers\":"
			       "4095,\"buf_cache_size\":4294967295,\"dif_insert_or_strip\":false,"
			       "\"zcopy\":false,\"max_srq_depth\":2048,\"no_srq\":true,"
			       "\"num_cqe\":4096,\"acceptor_backlog\":100,\"no_wr_batching\":"
			       "false,\"abort_timeout_sec\":1,\"ack_timeout\":0,"
			       "\"data_wr_pool_size\":4095}}," SUBSYS1
			       ",{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"
			       "\"nqn.2016-06.io.spdk:cnode1\",\"listen_address\":{\"trtype\":"
			       "\"rdma\",\"adrfam\":\"IPv4\",\"traddr\":\"192.0.2.1\","
			       "\"trsvcid\":\"4420\"}}}")),
		0);
	assert_int_equal(p->transports[0].trtype, NVMFT_TRTYPE_RDMA);
	assert_true((p->transports[0].set & (PLAN_TR_NO_SRQ | PLAN_TR_MAX_SRQ_DEPTH)) ==
		    (PLAN_TR_NO_SRQ | PLAN_TR_MAX_SRQ_DEPTH));
	assert_int_equal(p->transports[0].max_srq_depth, 2048);
	assert_true(p->transports[0].no_srq);
	assert_int_equal(p->listeners[0].trtype, NVMFT_TRTYPE_RDMA);
	assert_string_equal(p->listeners[0].trsvcid, "4420");

	/* On TCP the RDMA and vfio-user options are someone else's: not used, not refused. */
	plan_free(&f->plan);
	plan_init(&f->plan);
	assert_int_equal(cfg(f, NVMF_SECTION("{\"method\":\"nvmf_create_transport\",\"params\":"
					      "{\"trtype\":\"TCP\",\"max_srq_depth\":1,"
					      "\"no_srq\":true,\"disable_compare\":true,"
					      "\"disable_mappable_bar0\":true}}," LISTEN_ANY)),
			 0);
	assert_int_equal(p->transports[0].set, 0);
	/* And the flags over a config's values, RDMA's included. */
	plan_free(&f->plan);
	plan_init(&f->plan);
	assert_int_equal(CLI(f,
			     NVMF_SECTION("{\"method\":\"nvmf_create_transport\",\"params\":"
					  "{\"trtype\":\"RDMA\",\"max_srq_depth\":2048}}"),
			     "-l", "rdma:192.0.2.1:4420", "--max-srq-depth", "64", "--no-srq"),
			 0);
	assert_int_equal(p->transports[0].max_srq_depth, 2048);
	assert_int_equal(p->tr_override.max_srq_depth, 64);
	assert_true(p->tr_override.no_srq);
}

/* Config first, then flags: -n picks the config's subsystem, -l is shared. */
static void test_cfg_plus_cli(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(CLI(f, TWO_SECTIONS(MALLOC0, ""), "-l", "tcp:127.0.0.1:4421", "-n",
			     "nqn.2016-06.io.spdk:cnode1", "--ns", "ram:1M", "--allow-host",
			     "nqn.2024-01.io.test:h"),
			 0);
	assert_int_equal(p->n_subsys, 1);
	/* The config said allow_any_host: flags add a host but do not close it. */
	assert_true(p->subsys[0].allow_any_host);
	assert_int_equal(p->n_listeners, 2);
	assert_null(p->listeners[1].nqn);
	assert_int_equal(p->n_bdevs, 2);
	assert_string_equal(p->ns[0].nqn, "nqn.2016-06.io.spdk:cnode1");
	assert_string_equal(p->hosts[0].nqn, "nqn.2016-06.io.spdk:cnode1");
}

static void test_cfg_more_methods(void **state)
{
	struct fx *f = *state;
	const struct plan *p = &f->plan;

	assert_int_equal(
		cfg(f,
		    TWO_SECTIONS(
			    "{\"method\":\"bdev_uring_create\",\"params\":{\"name\":\"U0\","
			    "\"filename\":\"/tmp/u0\",\"block_size\":4096,\"uuid\":"
			    "\"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9\"}},"
			    "{\"method\":\"bdev_aio_create\",\"params\":{\"name\":\"A0\","
			    "\"filename\":\"/dev/sdz\",\"readonly\":false}}",
			    ",{\"method\":\"nvmf_subsystem_allow_any_host\",\"params\":{\"nqn\":"
			    "\"nqn.2016-06.io.spdk:cnode1\",\"allow_any_host\":false}},"
			    "{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
			    "\"nqn.2016-06.io.spdk:cnode1\",\"namespace\":{\"bdev_name\":\"A0\"}}}")),
		0);
	assert_int_equal(p->bdevs[0].kind, PLAN_BDEV_FILE);
	assert_string_equal(p->bdevs[0].filename, "/tmp/u0");
	assert_int_equal(p->bdevs[0].block_size, 4096);
	assert_true(p->bdevs[0].has_uuid);
	assert_int_equal(p->bdevs[1].kind, PLAN_BDEV_FILE);
	assert_int_equal(p->bdevs[1].block_size, 0);
	assert_int_equal(p->n_allows, 1);
	assert_false(p->allows[0].allow);
	assert_int_equal(p->ns[0].nsid, 0);
}

static void test_cfg_empty_sections(void **state)
{
	struct fx *f = *state;

	/* Sections with nothing in them are fine whatever their name. */
	assert_int_equal(
		config_parse("{\"subsystems\":[{\"subsystem\":\"nbd\",\"config\":null},"
			     "{\"subsystem\":\"iscsi\",\"config\":[]},"
			     "{\"subsystem\":\"ublk\"}]}",
			     strlen("{\"subsystems\":[{\"subsystem\":\"nbd\",\"config\":null},"
				    "{\"subsystem\":\"iscsi\",\"config\":[]},"
				    "{\"subsystem\":\"ublk\"}]}"),
			     &f->plan, f->err, ERRLEN),
		0);
	assert_int_equal(f->plan.n_bdevs + f->plan.n_subsys + f->plan.n_listeners, 0);
}

struct cfg_error_case {
	const char *json;
	const char *msg;
};


static const struct cfg_error_case cfg_errors[] = {
	{ SECTION("bdev", "{\"method\":\"bdev_set_options\",\"params\":{}},"
			  "{\"method\":\"bdev_wait_for_examine\"},"
			  "{\"method\":\"bdev_lvol_create\",\"params\":{}}"),
	  "config: unsupported method 'bdev_lvol_create' (subsystem bdev, entry 3)" },
	{ SECTION("keyring", "{\"method\":\"keyring_file_add_key\",\"params\":{}}"),
	  "config: unsupported method 'keyring_file_add_key' (subsystem keyring, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_discovery_add_referral\",\"params\":{}}"),
	  "config: unsupported method 'nvmf_discovery_add_referral' (subsystem nvmf, entry 1)" },
	{ BDEV_ONE("{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"M\","
		   "\"num_blocks\":8,\"block_size\":512,\"foo\":1}}"),
	  "config: bdev_malloc_create: unsupported parameter 'foo' (subsystem bdev, entry 1)" },
	{ BDEV_ONE("{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"M\","
		   "\"block_size\":512}}"),
	  "config: bdev_malloc_create: parameter 'num_blocks' is required (subsystem bdev, entry 1)" },
	{ BDEV_ONE("{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"M\","
		   "\"num_blocks\":8,\"block_size\":\"512\"}}"),
	  "config: bdev_malloc_create: parameter 'block_size' must be an integer from 1 to "
	  "4294967295 (subsystem bdev, entry 1)" },
	{ BDEV_ONE("{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"M\","
		   "\"num_blocks\":-8,\"block_size\":512}}"),
	  "config: bdev_malloc_create: parameter 'num_blocks' must be an integer from 1 to "
	  "18446744073709551615 (subsystem bdev, entry 1)" },
	{ BDEV_ONE("{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"M\","
		   "\"num_blocks\":8,\"block_size\":512,\"md_size\":8}}"),
	  "config: bdev_malloc_create: parameter 'md_size' is supported only as 0 "
	  "(subsystem bdev, entry 1)" },
	{ BDEV_ONE("{\"method\":\"bdev_null_create\",\"params\":{\"name\":\"N\","
		   "\"num_blocks\":8,\"block_size\":512,\"dif_type\":1}}"),
	  "config: bdev_null_create: parameter 'dif_type' is supported only as 0 "
	  "(subsystem bdev, entry 1)" },
	{ BDEV_ONE("{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"M\","
		   "\"num_blocks\":8,\"block_size\":512,\"uuid\":\"nope\"}}"),
	  "config: bdev_malloc_create: parameter 'uuid' is not a UUID: 'nope' "
	  "(subsystem bdev, entry 1)" },
	{ BDEV_ONE("{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"\","
		   "\"num_blocks\":8,\"block_size\":512}}"),
	  "config: bdev_malloc_create: parameter 'name' must be a non-empty string "
	  "(subsystem bdev, entry 1)" },
	{ BDEV_ONE("{\"method\":\"bdev_aio_create\",\"params\":{\"name\":\"A\","
		   "\"filename\":\"/x\",\"readonly\":true}}"),
	  "config: bdev_aio_create: parameter 'readonly' is supported only as false "
	  "(subsystem bdev, entry 1)" },
	{ BDEV_ONE("{\"method\":\"bdev_uring_create\",\"params\":{\"name\":\"U\"}}"),
	  "config: bdev_uring_create: parameter 'filename' is required (subsystem bdev, entry 1)" },
	{ BDEV_ONE("{\"method\":\"bdev_malloc_create\"}"),
	  "config: bdev_malloc_create: \"params\" must be an object (subsystem bdev, entry 1)" },
	{ BDEV_ONE("[1]"),
	  "config: entry must be an object with a \"method\" string (subsystem bdev, entry 1)" },
	{ BDEV_ONE("{\"method\":\"bdev_set_options\",\"params\":{},\"id\":1}"),
	  "config: unexpected key 'id' in entry of method 'bdev_set_options' "
	  "(subsystem bdev, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"TCP\","
		   "\"dif_insert_or_strip\":true}}"),
	  "config: nvmf_create_transport: parameter 'dif_insert_or_strip' is supported only as "
	  "false (subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_set_config\",\"params\":{\"discovery_filter\":"
		   "\"transport,address\"}}"),
	  "config: nvmf_set_config: discovery_filter 'transport,address' is not supported: the "
	  "discovery log always lists every allowed subsystem (match_any) (subsystem nvmf, "
	  "entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_set_config\",\"params\":{\"admin_cmd_passthru\":"
		   "{\"identify_ctrlr\":true,\"vendor_specific\":false}}}"),
	  "config: nvmf_set_config: parameter 'admin_cmd_passthru.identify_ctrlr' is supported "
	  "only as false (subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_set_config\",\"params\":{\"admin_cmd_passthru\":"
		   "{\"get_log_page\":false}}}"),
	  "config: nvmf_set_config: unsupported parameter 'admin_cmd_passthru.get_log_page' "
	  "(subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_set_config\",\"params\":{\"admin_cmd_passthru\":"
		   "true}}"),
	  "config: nvmf_set_config: parameter 'admin_cmd_passthru' must be an object (subsystem "
	  "nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_set_config\",\"params\":{\"discovery_filter\":"
		   "\"match_any\",\"max_subsystems\":4}}"),
	  "config: nvmf_set_config: unsupported parameter 'max_subsystems' (subsystem nvmf, "
	  "entry 1)" },
	{ SECTION("vmd", "{\"method\":\"enable_vmd\",\"params\":{}}"),
	  "config: unsupported method 'enable_vmd' (subsystem vmd, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"FC\"}}"),
	  "config: nvmf_create_transport: transport type 'FC' is not supported (TCP, RDMA or "
	  "VFIOUSER) (subsystem nvmf, entry 1)" },
	/* vfio-user: what the library always does cannot be turned off. */
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"VFIOUSER\","
		   "\"disable_mappable_bar0\":true}}"),
	  "config: nvmf_create_transport: parameter 'disable_mappable_bar0' is supported only as "
	  "false (subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"vfio-user\","
		   "\"disable_shadow_doorbells\":true}}"),
	  "config: nvmf_create_transport: parameter 'disable_shadow_doorbells' is supported only "
	  "as false (subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"VFIOUSER\","
		   "\"disable_compare\":true}}"),
	  "config: nvmf_create_transport: parameter 'disable_compare' is supported only as false "
	  "(subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"VFIOUSER\","
		   "\"enable_intr_mode_sq_spreading\":1}}"),
	  "config: nvmf_create_transport: parameter 'enable_intr_mode_sq_spreading' is supported "
	  "only as false (subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"VFIOUSER\","
		   "\"disable_foo\":false}}"),
	  "config: nvmf_create_transport: unsupported parameter 'disable_foo' (subsystem nvmf, "
	  "entry 1)" },
	/* RDMA: the library's bounds of a shared receive queue. */
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"RDMA\","
		   "\"max_srq_depth\":8}}"),
	  "config: nvmf_create_transport: parameter 'max_srq_depth' must be an integer from 16 "
	  "to 65536 (subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"RDMA\","
		   "\"max_srq_depth\":65537}}"),
	  "config: nvmf_create_transport: parameter 'max_srq_depth' must be an integer from 16 "
	  "to 65536 (subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"RDMA\","
		   "\"no_srq\":\"yes\"}}"),
	  "config: nvmf_create_transport: parameter 'no_srq' must be true or false (subsystem "
	  "nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"RDMA\","
		   "\"dif_insert_or_strip\":true}}"),
	  "config: nvmf_create_transport: parameter 'dif_insert_or_strip' is supported only as "
	  "false (subsystem nvmf, entry 1)" },
	/* TCP: a congestion control name fits the kernel's 16 bytes. */
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"TCP\","
		   "\"tcp_congestion\":\"0123456789abcdef\"}}"),
	  "config: nvmf_create_transport: parameter 'tcp_congestion' must be at most 15 "
	  "characters (subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"TCP\","
		   "\"tcp_congestion\":1}}"),
	  "config: nvmf_create_transport: parameter 'tcp_congestion' must be a non-empty string "
	  "(subsystem nvmf, entry 1)" },
	/* vfio-user listeners. */
	{ NVMF_ONE(VFU_SUBSYS "," VFU_LISTEN("/v", ",\"trsvcid\":\"4420\"")),
	  "config: nvmf_subsystem_add_listener: a vfio-user socket has no port: trsvcid must be "
	  "\"\" or \"0\", not '4420' (subsystem nvmf, entry 2)" },
	{ NVMF_ONE(VFU_SUBSYS "," VFU_LISTEN("/v", ",\"trsvcid\":0")),
	  "config: nvmf_subsystem_add_listener: parameter 'listen_address.trsvcid' must be a "
	  "string (subsystem nvmf, entry 2)" },
	{ NVMF_ONE(VFU_SUBSYS "," VFU_LISTEN("", "")),
	  "config: nvmf_subsystem_add_listener: parameter 'listen_address.traddr' must be a "
	  "non-empty string (subsystem nvmf, entry 2)" },
	{ NVMF_ONE(VFU_SUBSYS "," VFU_LISTEN("/v", ",\"adrfam\":\"INTRA_HOST\"")),
	  "config: nvmf_subsystem_add_listener: address family 'INTRA_HOST' is not supported "
	  "(IPv4 or IPv6) (subsystem nvmf, entry 2)" },
	{ NVMF_ONE(VFU_SUBSYS ",{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"
			      "\"nqn.2014-08.org.nvmexpress.discovery\",\"listen_address\":{"
			      "\"trtype\":\"VFIOUSER\",\"traddr\":\"/v\"}}}"),
	  "config: nvmf_subsystem_add_listener: vfio-user serves no discovery subsystem "
	  "(subsystem nvmf, entry 2)" },
	{ NVMF_ONE(VFU_SUBSYS ",{\"method\":\"nvmf_create_subsystem\",\"params\":{\"nqn\":"
			      "\"nqn.2019-07.io.spdk:cnode2\",\"allow_any_host\":true}},"
			      VFU_LISTEN("/v", ",\"trsvcid\":\"0\"") ",{\"method\":"
			      "\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"
			      "\"nqn.2019-07.io.spdk:cnode2\",\"listen_address\":{\"trtype\":"
			      "\"VFIOUSER\",\"traddr\":\"/v\"}}}"),
	  "config: nvmf_subsystem_add_listener: /v serves another subsystem already (subsystem "
	  "nvmf, entry 4)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"TCP\","
		   "\"max_io_qpairs_per_ctrlr\":0}}"),
	  "config: nvmf_create_transport: parameter 'max_io_qpairs_per_ctrlr' must be an integer "
	  "from 1 to 65534 (subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"TCP\","
		   "\"max_io_size\":100000}}," LISTEN1),
	  "config: nvmf_create_transport: max_io_size 100000 must be a power of two from 4096 "
	  "to 8388608 (subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"TCP\"}},"
		   "{\"method\":\"nvmf_create_transport\",\"params\":{\"trtype\":\"tcp\"}}"),
	  "config: nvmf_create_transport: transport tcp is created twice (subsystem nvmf, entry 2)" },
	{ NVMF_ONE("{\"method\":\"nvmf_set_max_subsystems\",\"params\":{\"max_subsystems\":0}}"),
	  "config: nvmf_set_max_subsystems: parameter 'max_subsystems' must be an integer from 1 "
	  "to 65535 (subsystem nvmf, entry 1)" },
	{ NVMF_ONE(
		  "{\"method\":\"nvmf_set_max_subsystems\",\"params\":{\"max_subsystems\":1}}," SUBSYS1
		  "," LISTEN1),
	  "1 subsystems and the discovery subsystem exceed max_subsystems 1" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_subsystem\",\"params\":{\"nqn\":\"n\","
		   "\"ana_reporting\":true}}"),
	  "config: nvmf_create_subsystem: parameter 'ana_reporting' is supported only as false "
	  "(subsystem nvmf, entry 1)" },
	{ NVMF_ONE(SUBSYS1 "," SUBSYS1 "," LISTEN1),
	  "config: nvmf_create_subsystem: subsystem 'nqn.2016-06.io.spdk:cnode1' is created twice "
	  "(subsystem nvmf, entry 2)" },
	{ NVMF_ONE(
		  "{\"method\":\"nvmf_create_subsystem\",\"params\":{\"nqn\":"
		  "\"nqn.2016-06.io.spdk:cnode1\",\"serial_number\":\"123456789012345678901\"}}," LISTEN1),
	  "config: nvmf_create_subsystem: serial number must be 1 to 20 printable ASCII characters "
	  "(subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_subsystem\",\"params\":{\"nqn\":"
		   "\"nqn.2016-06.io.spdk:cnode1\",\"min_cntlid\":10,\"max_cntlid\":5}}," LISTEN1),
	  "config: nvmf_create_subsystem: controller ID range 10..5 is not within 1..65519 or is "
	  "empty (subsystem nvmf, entry 1)" },
	{ NVMF_ONE("{\"method\":\"nvmf_create_subsystem\",\"params\":{\"nqn\":"
		   "\"nqn.2016-06.io.spdk:cnode1\",\"max_cntlid\":65520}}"),
	  "config: nvmf_create_subsystem: parameter 'max_cntlid' must be an integer from 1 to "
	  "65519 (subsystem nvmf, entry 1)" },
	{ NVMF_ONE(LISTEN1),
	  "config: nvmf_subsystem_add_listener: unknown subsystem 'nqn.2016-06.io.spdk:cnode1' "
	  "(subsystem nvmf, entry 1)" },
	{ NVMF_ONE(SUBSYS1 ",{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"
			   "\"nqn.2016-06.io.spdk:cnode1\",\"listen_address\":{\"trtype\":\"TCP\","
			   "\"adrfam\":\"IB\",\"traddr\":\"1.2.3.4\",\"trsvcid\":\"4420\"}}}"),
	  "config: nvmf_subsystem_add_listener: address family 'IB' is not supported (IPv4 or "
	  "IPv6) (subsystem nvmf, entry 2)" },
	{ NVMF_ONE(SUBSYS1 ",{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"
			   "\"nqn.2016-06.io.spdk:cnode1\",\"listen_address\":{\"trtype\":\"TCP\","
			   "\"traddr\":\"1.2.3.4\",\"trsvcid\":\"4420\",\"priority\":1}}}"),
	  "config: nvmf_subsystem_add_listener: unsupported parameter "
	  "'listen_address.priority' (subsystem nvmf, entry 2)" },
	{ NVMF_ONE(SUBSYS1 ",{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"
			   "\"nqn.2016-06.io.spdk:cnode1\",\"listen_address\":{\"trtype\":\"TCP\","
			   "\"adrfam\":\"IPv6\",\"traddr\":\"1.2.3.4\",\"trsvcid\":\"4420\"}}}"),
	  "config: nvmf_subsystem_add_listener: '1.2.3.4' is not a numeric IPv6 address "
	  "(subsystem nvmf, entry 2)" },
	{ NVMF_ONE(SUBSYS1 ",{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"
			   "\"nqn.2016-06.io.spdk:cnode1\",\"listen_address\":{\"trtype\":\"TCP\","
			   "\"traddr\":\"1.2.3.4\",\"trsvcid\":4420}}}"),
	  "config: nvmf_subsystem_add_listener: parameter 'listen_address.trsvcid' must be a "
	  "non-empty string (subsystem nvmf, entry 2)" },
	{ NVMF_ONE(SUBSYS1
		   ",{\"method\":\"nvmf_subsystem_add_listener\",\"params\":{\"nqn\":"
		   "\"nqn.2016-06.io.spdk:cnode1\",\"listen_address\":{\"trtype\":\"TCP\","
		   "\"traddr\":\"1.2.3.4\",\"trsvcid\":\"4420\"},\"secure_channel\":true}}"),
	  "config: nvmf_subsystem_add_listener: parameter 'secure_channel' is supported only as "
	  "false (subsystem nvmf, entry 2)" },
	{ TWO_SECTIONS(MALLOC0, ",{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
				"\"nqn.2016-06.io.spdk:cnode1\",\"namespace\":{\"nsid\":1,"
				"\"bdev_name\":\"Malloc9\"}}}"),
	  "config: nvmf_subsystem_add_ns: unknown bdev 'Malloc9' (subsystem nvmf, entry 3)" },
	{ TWO_SECTIONS(MALLOC0, ",{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
				"\"nqn.2016-06.io.spdk:cnode9\",\"namespace\":{\"bdev_name\":"
				"\"Malloc0\"}}}"),
	  "config: nvmf_subsystem_add_ns: unknown subsystem 'nqn.2016-06.io.spdk:cnode9' "
	  "(subsystem nvmf, entry 3)" },
	{ TWO_SECTIONS(MALLOC0, ",{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
				"\"nqn.2016-06.io.spdk:cnode1\",\"namespace\":{\"bdev_name\":"
				"\"Malloc0\"}}},"
				"{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
				"\"nqn.2016-06.io.spdk:cnode1\",\"namespace\":{\"bdev_name\":"
				"\"Malloc0\"}}}"),
	  "config: nvmf_subsystem_add_ns: bdev 'Malloc0' already backs a namespace (one namespace "
	  "per bdev) (subsystem nvmf, entry 4)" },
	{ TWO_SECTIONS(MALLOC0 "," MALLOC0, ""),
	  "config: bdev_malloc_create: bdev name 'Malloc0' is already used (subsystem bdev, "
	  "entry 2)" },
	{ TWO_SECTIONS(MALLOC0, ",{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
				"\"nqn.2016-06.io.spdk:cnode1\",\"namespace\":{\"bdev_name\":"
				"\"Malloc0\",\"nguid\":\"1234\"}}}"),
	  "config: nvmf_subsystem_add_ns: parameter 'namespace.nguid' must be 32 hex digits: "
	  "'1234' (subsystem nvmf, entry 3)" },
	{ TWO_SECTIONS(MALLOC0, ",{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
				"\"nqn.2016-06.io.spdk:cnode1\",\"namespace\":{\"bdev_name\":"
				"\"Malloc0\",\"ptpl_file\":\"/var/ptpl\"}}}"),
	  "config: nvmf_subsystem_add_ns: parameter 'namespace.ptpl_file' is not supported "
	  "(subsystem nvmf, entry 3)" },
	{ TWO_SECTIONS(MALLOC0, ",{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
				"\"nqn.2016-06.io.spdk:cnode1\",\"namespace\":{\"bdev_name\":"
				"\"Malloc0\",\"no_auto_visible\":true}}}"),
	  "config: nvmf_subsystem_add_ns: parameter 'namespace.no_auto_visible' is supported only "
	  "as false (subsystem nvmf, entry 3)" },
	{ TWO_SECTIONS(MALLOC0, ",{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
				"\"nqn.2016-06.io.spdk:cnode1\",\"namespace\":\"Malloc0\"}}"),
	  "config: nvmf_subsystem_add_ns: parameter 'namespace' must be an object "
	  "(subsystem nvmf, entry 3)" },
	{ "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[" MALLOC0 "]},"
	  "{\"subsystem\":\"nvmf\",\"config\":[{\"method\":\"nvmf_create_subsystem\",\"params\":"
	  "{\"nqn\":\"nqn.2016-06.io.spdk:cnode1\",\"max_namespaces\":2}}," LISTEN1
	  ",{\"method\":\"nvmf_subsystem_add_ns\",\"params\":{\"nqn\":"
	  "\"nqn.2016-06.io.spdk:cnode1\",\"namespace\":{\"nsid\":3,\"bdev_name\":"
	  "\"Malloc0\"}}}]}]}",
	  "config: nvmf_subsystem_add_ns: nsid 3 is above max_namespaces 2 of "
	  "'nqn.2016-06.io.spdk:cnode1' (subsystem nvmf, entry 3)" },
	{ TWO_SECTIONS(MALLOC0, ",{\"method\":\"nvmf_subsystem_add_host\",\"params\":{\"nqn\":"
				"\"nqn.2016-06.io.spdk:cnode1\",\"host\":\"nqn.2024-01.io.test:h\","
				"\"psk\":\"key0\"}}"),
	  "config: nvmf_subsystem_add_host: parameter 'psk' is not supported (subsystem nvmf, "
	  "entry 3)" },
	{ NVMF_ONE("{\"method\":\"nvmf_subsystem_allow_any_host\",\"params\":{\"nqn\":"
		   "\"nqn.2016-06.io.spdk:cnode1\",\"allow_any_host\":1}}"),
	  "config: nvmf_subsystem_allow_any_host: parameter 'allow_any_host' must be true or false "
	  "(subsystem nvmf, entry 1)" },
	{ "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":{}}]}",
	  "config: \"config\" of subsystem bdev must be an array" },
	{ "{\"subsystems\":[{\"config\":[]}]}",
	  "config: subsystems[0] must be an object with a \"subsystem\" name" },
	{ "{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":[],\"x\":1}]}",
	  "config: unexpected key 'x' in subsystem bdev" },
	{ "[]", "config: the top level must be an object with a \"subsystems\" array" },
	{ "{\"subsystems\":[],\"version\":1}", "config: unexpected top-level key 'version'" },
};

static void test_cfg_errors(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cfg_errors) / sizeof(cfg_errors[0]); i++) {
		plan_free(&f->plan);
		plan_init(&f->plan);
		f->err[0] = '\0';
		print_message("case %zu: %s\n", i, cfg_errors[i].msg);
		assert_int_equal(cfg(f, cfg_errors[i].json), -EINVAL);
		assert_string_equal(f->err, cfg_errors[i].msg);
	}
}

/* jansson words syntax errors; only our part of the message is asserted. */
static void test_cfg_syntax_errors(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cfg(f, "{\"subsystems\":["), -EINVAL);
	assert_memory_equal(f->err, "config: line 1, column ", 23);
	assert_non_null(strstr(f->err, "expected"));
	plan_free(&f->plan);
	plan_init(&f->plan);
	assert_int_equal(cfg(f, "{\"subsystems\":[],\n\"subsystems\":[]}"), -EINVAL);
	assert_memory_equal(f->err, "config: line 2, column ", 23);
	assert_non_null(strstr(f->err, "duplicate object key"));
}

static void test_cfg_load_file_missing(void **state)
{
	struct fx *f = *state;

	assert_int_equal(config_load_file("/nonexistent/nvmft-tgt.json", &f->plan, f->err, ERRLEN),
			 -ENOENT);
	assert_string_equal(f->err, "config: cannot read '/nonexistent/nvmft-tgt.json': No such "
				    "file or directory");
	assert_int_equal(config_load_file("/", &f->plan, f->err, ERRLEN), -EINVAL);
	assert_string_equal(f->err, "config: cannot read '/': not a regular file");
}

static void test_cfg_load_file(void **state)
{
	struct fx *f = *state;

	assert_int_equal(config_load_file(spdk_fixture_path, &f->plan, f->err, ERRLEN), 0);
	assert_int_equal(f->plan.n_bdevs, 3);
	assert_int_equal(f->plan.n_subsys, 2);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_ids),
		cmocka_unit_test(test_parse_trtype),
		cmocka_unit_test_setup_teardown(test_cli_defaults, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_simple, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_ipv6_forms, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_subsystem_rules, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_default_then_named, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_file_ns, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_flags, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_tcp_congestion, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_vfio_user_unsealed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_rdma, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_vfio_user, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_last_mode_wins, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_errors, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_nothing_to_listen, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_minimal, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_spdk_save_config, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_v2509_nvmf_tgt, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_v2509_spdk_tgt, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_spdk_accepted, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_vfio_user, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_rdma, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_plus_cli, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_more_methods, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_empty_sections, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_errors, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_syntax_errors, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_load_file_missing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cfg_load_file, fx_setup, fx_teardown),
	};

	if (argc < 4) {
		fprintf(stderr, "usage: %s SPDK_SAVE_CONFIG_JSON V25.09_NVMF_TGT V25.09_SPDK_TGT\n",
			argv[0]);
		return 1;
	}
	spdk_fixture_path = argv[1];
	v2509_nvmf_tgt_path = argv[2];
	v2509_spdk_tgt_path = argv[3];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
