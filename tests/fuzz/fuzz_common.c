/* SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/poll_group.h"
#include "core/transport.h"
#include "transports/tcp/tcp_codec.h"
#include "fuzz_common.h"
#include "test_backend.h"

/* ---- Input cursor ----------------------------------------------------------------------- */

size_t fz_take(struct fz *f, void *dst, size_t len)
{
	size_t n = len < f->n ? len : f->n;

	if (n > 0)
		memcpy(dst, f->p, n);
	if (n < len)
		memset((uint8_t *)dst + n, 0, len - n);
	f->p += n;
	f->n -= n;
	return n;
}

uint8_t fz_u8(struct fz *f)
{
	uint8_t v;

	fz_take(f, &v, 1);
	return v;
}

uint16_t fz_u16(struct fz *f)
{
	uint8_t b[2];

	fz_take(f, b, sizeof(b));
	return (uint16_t)(b[0] | b[1] << 8);
}

uint32_t fz_u32(struct fz *f)
{
	uint8_t b[4];

	fz_take(f, b, sizeof(b));
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

uint64_t fz_u64(struct fz *f)
{
	uint64_t lo = fz_u32(f);

	return lo | (uint64_t)fz_u32(f) << 32;
}

/* ---- Invariants ------------------------------------------------------------------------- */

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n%s:%d: fuzz invariant failed: %s\n  ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

void fz_trace(const char *fmt, ...)
{
	va_list ap;

	if (getenv("FZ_TRACE") == NULL)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "fz: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

int fz_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	/* The directory stream's own descriptor was counted. */
	return n - 1;
}

void fz_tcp_fix_digests(uint8_t *buf, size_t len)
{
	size_t pos = 0;

	while (len - pos >= sizeof(struct nvmft_tcp_ch)) {
		uint8_t *p = buf + pos;
		uint8_t type = p[0], flags = p[1], hlen = p[2], pdo = p[3];
		uint32_t plen = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
				(uint32_t)p[7] << 24;
		uint32_t dg;

		if (plen < sizeof(struct nvmft_tcp_ch) || plen > len - pos)
			return;
		if (nvmft_tcp_type_has_digest(type)) {
			if ((flags & NVMFT_TCP_F_HDGST) && hlen >= sizeof(struct nvmft_tcp_ch) &&
			    (uint32_t)hlen + NVMFT_TCP_DIGEST_LEN <= plen) {
				dg = nvmft_tcp_digest(p, hlen);
				memcpy(p + hlen, &dg, sizeof(dg));
			}
			if ((flags & NVMFT_TCP_F_DDGST) && pdo != 0 &&
			    (uint32_t)pdo + NVMFT_TCP_DIGEST_LEN < plen) {
				dg = nvmft_tcp_digest(p + pdo, plen - pdo - NVMFT_TCP_DIGEST_LEN);
				memcpy(p + plen - NVMFT_TCP_DIGEST_LEN, &dg, sizeof(dg));
			}
		}
		pos += plen;
	}
}

/* ---- Loop-transport environment ----------------------------------------------------------- */

void fz_env_init(struct fz_env *e, const struct fz_env_opts *o)
{
	static const struct fz_env_opts dflt;
	struct nvmft_transport_opts to;
	struct lt_env_opts lo = { .nr_pgs = 1, .tr_opts = &to, .max_subsystems = 8 };
	struct nvmft_backend *be;
	int rc;

	if (o == NULL)
		o = &dflt;
	memset(e, 0, sizeof(*e));
	e->fds_before = fz_count_fds();
	/* Small limits: the fuzzer should reach them, and memory stays bounded. */
	nvmft_transport_opts_init(NVMFT_TRTYPE_TCP, &to, sizeof(to));
	to.max_queue_depth = 64;
	to.max_aq_depth = 32;
	to.max_qpairs_per_ctrlr = 4;
	to.max_io_size = 65536;
	to.buf_pool_bytes = 256 * 1024;
	if (!o->qp_share)
		to.max_qpair_buf_bytes = to.buf_pool_bytes;
	if (o->nr_pgs > 0)
		lo.nr_pgs = o->nr_pgs;
	rc = lt_env_init(&e->lt, &lo);
	FZ_CHECK(rc == 0, "lt_env_init: %d", rc);
	e->ss = lt_env_add_subsystem(&e->lt, FZ_SUBNQN, true);
	FZ_CHECK(e->ss != NULL, "subsystem");
	FZ_CHECK(lt_env_add_malloc_ns(&e->lt, e->ss, 1, FZ_BLOCKS, FZ_BLOCK) != NULL, "ns 1");
	if (o->test_ns) {
		rc = tb_new("fuzz-tb", FZ_BLOCKS, FZ_BLOCK, o->tb_caps,
			    o->test_ns_poll ? TB_POLL : TB_INLINE, &e->tb, &be);
		FZ_CHECK(rc == 0, "tb_new: %d", rc);
		e->tb_be = be;
		e->ns2 = lt_env_add_ns(&e->lt, e->ss, be, 2);
		FZ_CHECK(e->ns2 != NULL, "ns 2");
	}
	e->ss2 = lt_env_add_subsystem(&e->lt, FZ_SUBNQN2, false);
	FZ_CHECK(e->ss2 != NULL, "subsystem 2");
	FZ_CHECK(nvmft_subsystem_add_host(e->ss2, FZ_HOSTNQN2) == 0, "add host");
	/* lt_env_add_subsystem() moved env->ss; commands default to the first. */
	e->lt.ss = e->ss;
	lt_env_settle(&e->lt);
}

static void fz_stopped(void *arg, int status)
{
	(void)status;
	*(bool *)arg = true;
}

void fz_env_fini(struct fz_env *e)
{
	struct lt_env *env = &e->lt;
	struct nvmft_poll_group_stats st = { .size = sizeof(st) };
	int fds;

	/* Whatever the input left behind must drain by itself once the hosts are gone. */
	lt_env_settle(env);
	for (int i = 0; i < env->nr_pgs; i++) {
		bool stopped = false;
		int rc = nvmft_poll_group_stop(env->pg[i], fz_stopped, &stopped);

		FZ_CHECK(rc == 0, "poll group stop: %d", rc);
		for (int n = 0; n < 100000 && !stopped; n++) {
			nvmft_target_poll(env->tgt);
			nvmft_poll_group_poll(env->pg[i], 0);
		}
		FZ_CHECK(nvmft_poll_group_get_stats(env->pg[i], &st) == 0, "stats");
		FZ_CHECK(stopped, "poll group %d never stopped: %llu admin / %llu I/O qpairs, "
			 "%llu requests in backends", i,
			 (unsigned long long)st.current_admin_qpairs,
			 (unsigned long long)st.current_io_qpairs,
			 (unsigned long long)st.pending_bdev_io);
		FZ_CHECK(st.current_admin_qpairs == 0 && st.current_io_qpairs == 0 &&
			 st.pending_bdev_io == 0, "stopped group not idle");
		rc = nvmft_poll_group_free(env->pg[i]);
		FZ_CHECK(rc == 0, "poll group free: %d", rc);
	}
	nvmft_target_poll(env->tgt);
	nvmft_target_free(env->tgt);
	for (int i = 0; i < env->nr_owned; i++) {
		int rc = nvmft_backend_free(env->owned[i]);

		FZ_CHECK(rc == 0, "backend free: %d", rc);
	}
	fds = fz_count_fds();
	FZ_CHECK(fds == e->fds_before, "descriptors: %d before, %d after", e->fds_before, fds);
	memset(e, 0, sizeof(*e));
}

void fz_check_completed(struct lt_qpair *q, const struct lt_cpl *c, const struct nvmft_cmd *cmd)
{
	fz_trace("opcode %#x%s%#x nsid %u cdw10 %#x: %s status %#x", cmd->opcode,
		 cmd->opcode == NVMFT_OPC_FABRICS ? " fctype " : " flags ",
		 cmd->opcode == NVMFT_OPC_FABRICS ? ((const struct nvmft_fabrics_cmd *)cmd)->fctype
						  : cmd->flags,
		 le32toh(cmd->nsid),
		 le32toh(cmd->cdw10), c->done ? "done" : lt_qpair_is_dead(q) ? "qpair dead" : "HUNG",
		 c->status);
	if (c->done || lt_qpair_is_dead(q))
		return;
	fz_fail(__FILE__, __LINE__, "command completed",
		"hang: opcode %#x (byte 4 %#x) nsid %u cdw10 %#x cdw11 %#x cdw12 %#x flags %#x "
		"sgl type %#x never completed; %u outstanding on the qpair",
		cmd->opcode, ((const struct nvmft_fabrics_cmd *)cmd)->fctype, le32toh(cmd->nsid),
		le32toh(cmd->cdw10), le32toh(cmd->cdw11), le32toh(cmd->cdw12), cmd->flags,
		cmd->dptr.sgl1.unkeyed.type, lt_qpair_outstanding(q));
}
