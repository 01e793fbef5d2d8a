/* SPDX-License-Identifier: BSD-3-Clause */
/* nvmft-perf command line: transport IDs, sizes, CPU lists, cross-flag checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "perf.h"

static char err[256];

/* Parse a NULL-terminated list of arguments (argv[0] is added). */
static int parse(struct perf_opts *o, ...)
{
	char *argv[64];
	int argc = 0;
	va_list ap;
	char *a;

	argv[argc++] = (char *)"nvmft-perf";
	va_start(ap, o);
	while ((a = va_arg(ap, char *)) != NULL && argc < 63)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	perf_opts_init(o);
	return perf_opts_parse(o, argc, argv, err, sizeof(err));
}

static void test_defaults(void **state)
{
	struct perf_opts o;

	(void)state;
	assert_int_equal(parse(&o, "-a", "127.0.0.1", NULL), PERF_OPTS_OK);
	assert_string_equal(o.traddr, "127.0.0.1");
	assert_string_equal(o.trsvcid, "4420");
	assert_int_equal(o.nsid, 1);
	assert_int_equal(o.queues, 1);
	assert_int_equal(o.qd, 32);
	assert_int_equal(o.io_size, 4096);
	assert_int_equal(o.workload, PERF_WL_RANDREAD);
	assert_true(o.time_s == 10);
	assert_int_equal(o.count, 0);
	assert_int_equal(o.threads, 1);
	assert_int_equal(o.kato_ms, 10000);
	assert_false(o.hdgst);
	assert_false(o.ddgst);
	assert_int_equal(o.poll_mode, PERF_POLL_AUTO);
	assert_string_equal(o.subnqn, "");
	assert_int_equal(parse(&o, "-a", "h", "--poll", "scan", NULL), PERF_OPTS_OK);
	assert_int_equal(o.poll_mode, PERF_POLL_SCAN);
	assert_int_equal(parse(&o, "-a", "h", "--poll", "epoll", NULL), PERF_OPTS_OK);
	assert_int_equal(o.poll_mode, PERF_POLL_EPOLL);
	assert_int_equal(parse(&o, "-a", "h", "--rx-mode", "discard", "-H", NULL), PERF_OPTS_OK);
	assert_int_equal(o.rx_mode, PERF_RX_DISCARD);
}

static void test_trid(void **state)
{
	struct perf_opts o;

	(void)state;
	assert_int_equal(parse(&o, "-r",
			       "trtype:TCP adrfam:IPv4 traddr:10.0.0.1 trsvcid:4421 "
			       "subnqn:nqn.2016-06.io.spdk:cnode1 ns:3 hostnqn:nqn.x:h", NULL),
			 PERF_OPTS_OK);
	assert_string_equal(o.traddr, "10.0.0.1");
	assert_string_equal(o.trsvcid, "4421");
	assert_string_equal(o.subnqn, "nqn.2016-06.io.spdk:cnode1");
	assert_string_equal(o.hostnqn, "nqn.x:h");
	assert_int_equal(o.nsid, 3);
	assert_int_equal(o.adrfam, AF_INET);

	assert_int_equal(parse(&o, "-r", "trtype:rdma traddr:1.2.3.4", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "-r: trtype 'rdma' is not supported (tcp only)");
	assert_int_equal(parse(&o, "-r", "traddr:1.2.3.4 color:blue", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "-r: unknown key 'color'");
	assert_int_equal(parse(&o, "-r", "traddr:1.2.3.4 trsvcid:70000", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "-r: trsvcid '70000' is not a port");
	assert_int_equal(parse(&o, "-r", "traddr", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "-r: 'traddr' is not key:value");
	assert_int_equal(parse(&o, "-r", "adrfam:IPX traddr:1.2.3.4", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "-r: adrfam 'IPX' is not IPv4 or IPv6");
}

static void test_sizes(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(perf_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(perf_parse_size("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(perf_parse_size("128KiB", &v), 0);
	assert_int_equal(v, 131072);
	assert_int_equal(perf_parse_size("1G", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(perf_parse_size("2TB", &v), 0);
	assert_int_equal(v, 2ull << 40);
	assert_int_equal(perf_parse_size("4q", &v), -EINVAL);
	assert_int_equal(perf_parse_size("k", &v), -EINVAL);
	assert_int_equal(perf_parse_size("-1", &v), -EINVAL);
	assert_int_equal(perf_parse_size("4kx", &v), -EINVAL);
	assert_int_equal(perf_parse_size("99999999999999999999", &v), -ERANGE);
	assert_int_equal(perf_parse_size("20000000T", &v), -ERANGE);
}

static void test_cores(void **state)
{
	int cores[PERF_MAX_CORES];
	uint32_t n = 0;

	(void)state;
	assert_int_equal(perf_parse_cores("1", false, cores, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cores[0], 1);
	assert_int_equal(perf_parse_cores("0,2-4", false, cores, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(cores[0], 0);
	assert_int_equal(cores[3], 4);
	assert_int_equal(perf_parse_cores("0x6", true, cores, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cores[0], 1);
	assert_int_equal(cores[1], 2);
	assert_int_equal(perf_parse_cores("10000000000000000", true, cores, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cores[0], 64);
	assert_int_equal(perf_parse_cores("0x0", true, cores, &n), -EINVAL);
	assert_int_equal(perf_parse_cores("3-1", false, cores, &n), -EINVAL);
	assert_int_equal(perf_parse_cores("1,,2", false, cores, &n), -EINVAL);
	assert_int_equal(perf_parse_cores("0xg", true, cores, &n), -EINVAL);
	assert_int_equal(perf_parse_cores("5000", false, cores, &n), -ERANGE);
}

static void test_workload_flags(void **state)
{
	struct perf_opts o;

	(void)state;
	assert_int_equal(parse(&o, "-a", "h", "-w", "randrw", "-M", "70", "-o", "128k", "-q", "8",
			       "--queues", "4", "--core", "0-1", "--count", "1000", "--verify",
			       "-H", "-I", "--size", "64M", "--warmup", "0.5", "--json", NULL),
			 PERF_OPTS_OK);
	assert_int_equal(o.workload, PERF_WL_RANDRW);
	assert_int_equal(o.rwmix, 70);
	assert_int_equal(o.io_size, 131072);
	assert_int_equal(o.qd, 8);
	assert_int_equal(o.queues, 4);
	assert_int_equal(o.threads, 2);
	assert_int_equal(o.count, 1000);
	assert_true(o.time_s == 0);
	assert_true(o.verify && o.hdgst && o.ddgst && o.json);
	assert_int_equal(o.size, 64ull << 20);
	assert_true(o.warmup_s == 0.5);
	assert_true(perf_workload_has_reads(&o));
	assert_true(perf_workload_has_writes(&o));
	o.rwmix = 100;
	assert_false(perf_workload_has_writes(&o));
}

static void test_bad_flags(void **state)
{
	struct perf_opts o;

	(void)state;
	assert_int_equal(parse(&o, "-t", "1", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "no target address: give -a ADDR or -r 'traddr:...'");
	assert_int_equal(parse(&o, "-a", "h", "-t", "1", "--count", "5", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "-t and --count exclude each other");
	assert_int_equal(parse(&o, "-a", "h", "-w", "randread", "-M", "50", NULL),
			 PERF_OPTS_ERROR);
	assert_string_equal(err, "-M applies to the rw and randrw workloads only");
	assert_int_equal(parse(&o, "-a", "h", "-w", "trim", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "-w: 'trim' is not read, write, randread, randwrite, rw or randrw");
	assert_int_equal(parse(&o, "-a", "h", "-q", "0", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "-q: '0' is not a queue depth 1..4096");
	assert_int_equal(parse(&o, "-a", "h", "--threads", "3", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "3 threads for 1 queues: every thread needs a queue");
	assert_int_equal(parse(&o, "-a", "h", "--queues", "2", "--count", "1", NULL),
			 PERF_OPTS_ERROR);
	assert_string_equal(err, "--count 1 is less than --queues 2");
	assert_int_equal(parse(&o, "-a", "h", "--rx-mode", "zero", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "--rx-mode: 'zero' is not auto, copy, direct or discard");
	assert_int_equal(parse(&o, "-a", "h", "--rx-mode", "discard", "--verify", NULL),
			 PERF_OPTS_ERROR);
	assert_string_equal(err, "--rx-mode discard never reads the payload: it excludes --verify");
	assert_int_equal(parse(&o, "-a", "h", "--rx-mode", "discard", "-I", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err,
			    "--rx-mode discard never reads the payload: it excludes data digests (-I)");
	assert_int_equal(parse(&o, "-a", "h", "--poll", "spin", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "--poll: 'spin' is not auto, scan or epoll");
	assert_int_equal(parse(&o, "-a", "h", "--bogus", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "unknown option '--bogus' (see --help)");
	assert_int_equal(parse(&o, "-a", "h", "-q", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "option '-q' needs an argument");
	assert_int_equal(parse(&o, "-a", "h", "extra", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "unexpected argument 'extra'");
	assert_int_equal(parse(&o, "-a", "h", "-o", "0", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "-o: '0' is not a size of 1 byte .. 1 GiB");
	assert_int_equal(parse(&o, "-a", "h", "-c", "0x0", NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "-c: '0x0' is not a hex CPU mask");
}

static void test_nqn_length(void **state)
{
	struct perf_opts o;
	char nqn[300];

	(void)state;
	memset(nqn, 'a', sizeof(nqn));
	nqn[223] = '\0';
	assert_int_equal(parse(&o, "-a", "h", "-n", nqn, NULL), PERF_OPTS_OK);
	assert_int_equal(strlen(o.subnqn), 223);
	nqn[223] = 'a';
	nqn[224] = '\0';
	assert_int_equal(parse(&o, "-a", "h", "-n", nqn, NULL), PERF_OPTS_ERROR);
	assert_string_equal(err, "-n: NQN is empty or longer than 223 bytes");
}

static void test_ns_count_and_idle(void **state)
{
	struct perf_opts o;

	(void)state;
	assert_int_equal(parse(&o, "-a", "h", NULL), PERF_OPTS_OK);
	assert_int_equal(o.ns_count, 1);
	assert_false(o.idle);
	assert_int_equal(parse(&o, "-a", "h", "-N", "3", "--ns-count", "256", NULL), PERF_OPTS_OK);
	assert_int_equal(o.nsid, 3);
	assert_int_equal(o.ns_count, 256);
	assert_int_equal(parse(&o, "-a", "h", "--ns-count", "0", NULL), PERF_OPTS_ERROR);
	assert_int_equal(parse(&o, "-a", "h", "--ns-count", "1025", NULL), PERF_OPTS_ERROR);
	assert_int_equal(parse(&o, "-a", "h", "--ns-count", "2", "--verify", NULL), PERF_OPTS_ERROR);
	assert_non_null(strstr(err, "--verify"));
	assert_int_equal(parse(&o, "-a", "h", "-N", "4294967294", "--ns-count", "2", NULL),
			 PERF_OPTS_ERROR);
	assert_int_equal(parse(&o, "-a", "h", "--idle", "-t", "2", "--queues", "4", NULL),
			 PERF_OPTS_OK);
	assert_true(o.idle);
	assert_int_equal(parse(&o, "-a", "h", "--idle", "--count", "10", NULL), PERF_OPTS_ERROR);
	assert_int_equal(parse(&o, "-a", "h", "--idle", "--verify", NULL), PERF_OPTS_ERROR);
	assert_int_equal(parse(&o, "-a", "h", "--idle", "--warmup", "1", NULL), PERF_OPTS_ERROR);
	assert_non_null(strstr(err, "--idle"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_trid),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_cores),
		cmocka_unit_test(test_workload_flags),
		cmocka_unit_test(test_bad_flags),
		cmocka_unit_test(test_nqn_length),
		cmocka_unit_test(test_ns_count_and_idle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
