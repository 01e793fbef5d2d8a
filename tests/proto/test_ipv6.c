/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Real sockets: a listener on [::1] next to the environment's 127.0.0.1
 * one.  Over IPv6 a host does ICReq, Connect, writes and reads, and finds
 * in the discovery log an entry with ADRFAM IPv6 and the port actually
 * bound.  Every accepted TCP socket, IPv4 or IPv6, has TCP_NODELAY set:
 * responses are small and latency-bound.
 *
 * Exits 77 (skipped; the test is registered with the exit-code protocol)
 * only when the machine has no IPv6 loopback.
 */
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto_env.h"

#define DISC_NQN "nqn.2014-08.org.nvmexpress.discovery"

static void assert_nodelay(const struct tcp_conn *c, int family)
{
	int v = 0;
	socklen_t len = sizeof(v);

	assert_non_null(c);
	assert_int_equal(c->peer.ss_family, family);
	assert_int_equal(getsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	assert_int_equal(v, 1);
}

/* The discovery log, read over the wire through the discovery controller at [::1]:@port. */
static struct nvmf_discovery_log *read_disc_log(struct penv *e, const char *port)
{
	enum { LEN = 16384 };
	struct th_connect_args a = { .qid = 0, .sqsize = 31, .cntlid = NVMFT_CNTLID_DYNAMIC,
				     .subnqn = DISC_NQN };
	struct nvmf_discovery_log *log = calloc(1, LEN);
	struct th *d = penv_host_addr(e, "::1", port);
	struct th_io io = { .rdata = log, .rlen = LEN };
	struct nvmft_cmd c;

	assert_non_null(log);
	assert_int_equal(th_icreq(d, 0, 0, 0), 0);
	TH_ASSERT_ST(d, th_connect_raw(d, &a, NULL), 0);
	TH_ASSERT_ST(d, th_enable(d), 0);
	memset(&c, 0, sizeof(c));
	c.opcode = nvme_admin_get_log_page;
	c.cdw10 = htole32(NVME_LOG_LID_DISCOVER | (LEN / 4 - 1) << 16);
	TH_ASSERT_ST(d, th_exec(d, &c, &io, NULL), 0);
	penv_drop(e, d);
	return log;
}

/* @field (@len bytes, ASCII padded with spaces, as the log writes it) holds @s. */
static bool field_is(const char *field, size_t len, const char *s)
{
	size_t n = strlen(s);

	if (n > len || memcmp(field, s, n) != 0)
		return false;
	for (size_t i = n; i < len; i++)
		if (field[i] != ' ' && field[i] != '\0')
			return false;
	return true;
}

static const struct nvmf_disc_log_entry *find_entry(const struct nvmf_discovery_log *log,
						    const char *subnqn, const char *traddr)
{
	for (uint64_t i = 0; i < le64toh(log->numrec); i++) {
		const struct nvmf_disc_log_entry *ent = &log->entries[i];

		if (field_is(ent->subnqn, sizeof(ent->subnqn), subnqn) &&
		    field_is(ent->traddr, sizeof(ent->traddr), traddr))
			return ent;
	}
	return NULL;
}

static void test_ipv6_loopback(void **state)
{
	struct penv *e = *state;
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV6,
					.traddr = "::1", .trsvcid = "0" };
	struct th_connect_args a = { .qid = 1, .sqsize = 63 };
	static uint8_t w[64 * 1024], r[64 * 1024];
	const struct nvmf_disc_log_entry *ent;
	struct nvmf_discovery_log *log;
	struct nvmft_listener *l6;
	struct penv_idle idle;
	char port[32];
	struct th *admin, *io;

	penv_count(e, &idle);
	assert_int_equal(nvmft_listener_new(e->tr, &lo, &l6), 0);
	assert_int_equal(nvmft_subsystem_add_listener(e->ss, l6), 0);
	snprintf(port, sizeof(port), "%s", nvmft_listener_get_trsvcid(l6));
	assert_true(atoi(port) > 0);

	admin = penv_host_addr(e, "::1", port);
	assert_int_equal(th_admin_up(admin, 3, &a.cntlid), 0);
	assert_nodelay(penv_conn(e, a.cntlid, 0), AF_INET6);
	io = penv_host_addr(e, "::1", port);
	assert_int_equal(th_icreq(io, 0, 3, 0), 0);
	TH_ASSERT_ST(io, th_connect_raw(io, &a, NULL), 0);
	assert_nodelay(penv_conn(e, a.cntlid, 1), AF_INET6);

	/* In-capsule, through R2T, read back. */
	th_fill(w, sizeof(w), 0x1276);
	TH_ASSERT_ST(io, th_rw(io, true, 1, 100, 8, w, 4096, TH_IO_INCAPSULE), 0);
	TH_ASSERT_ST(io, th_rw(io, true, 1, 108, (sizeof(w) - 4096) / PENV_BLOCK, w + 4096,
			       sizeof(w) - 4096, 0),
		     0);
	TH_ASSERT_ST(io, th_rw(io, false, 1, 100, sizeof(r) / PENV_BLOCK, r, sizeof(r), 0), 0);
	assert_memory_equal(r, w, sizeof(w));
	assert_int_equal(th_violations(io), 0);

	/* The log lists the subsystem at both addresses, each with its own family. */
	log = read_disc_log(e, port);
	ent = find_entry(log, PENV_SUBNQN, "::1");
	assert_non_null(ent);
	assert_int_equal(ent->trtype, NVMF_TRTYPE_TCP);
	assert_int_equal(ent->adrfam, NVMF_ADDR_FAMILY_IP6);
	assert_int_equal(ent->subtype, NVME_NQN_NVME);
	assert_true(field_is(ent->trsvcid, sizeof(ent->trsvcid), port));
	ent = find_entry(log, DISC_NQN, "::1");
	assert_non_null(ent);
	assert_int_equal(ent->adrfam, NVMF_ADDR_FAMILY_IP6);
	ent = find_entry(log, PENV_SUBNQN, "127.0.0.1");
	assert_non_null(ent);
	assert_int_equal(ent->adrfam, NVMF_ADDR_FAMILY_IP4);
	assert_true(field_is(ent->trsvcid, sizeof(ent->trsvcid), e->port));
	free(log);

	TH_ASSERT_HEALTHY(admin);
	penv_drop(e, io);
	penv_drop(e, admin);
	penv_assert_idle(e, &idle);
}

/* IPv4 loopback: the environment's own hosts, all accepted over TCP. */
static void test_nodelay_ipv4(void **state)
{
	struct penv *e = *state;
	struct th_connect_args a = { .qid = 1, .sqsize = 31 };
	struct th *io;

	penv_reinit(e, &(struct penv_opts){ .tcp = true });
	penv_admin(e, 0, &a.cntlid);
	assert_nodelay(penv_conn(e, a.cntlid, 0), AF_INET);
	io = penv_host(e);
	assert_int_equal(th_icreq(io, 0, 0, 0), 0);
	TH_ASSERT_ST(io, th_connect_raw(io, &a, NULL), 0);
	assert_nodelay(penv_conn(e, a.cntlid, 1), AF_INET);
	TH_ASSERT_HEALTHY(io);
}

/* Whether [::1] can be bound here: -EADDRNOTAVAIL (or no IPv6 at all) means no. */
static int ipv6_loopback(void)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, penv_setup, penv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ipv6_loopback),
		T(test_nodelay_ipv4),
	};
	int rc = ipv6_loopback();

	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
		printf("# skipped: no IPv6 loopback (%s)\n", strerror(-rc));
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
