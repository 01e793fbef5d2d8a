/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection setup and the admin queue, done the way standard NVMe/TCP
 * hosts do it so any target accepts it:
 *
 *   TCP connect, ICReq/ICResp (digests, CPDA, MAXH2CDATA)
 *   Fabrics Connect, admin queue: SQSIZE 31, SQ flow control disabled,
 *     KATO, dynamic controller ID
 *   Property Get CAP, Property Set CC (EN, 64/16-byte entries), wait for
 *     CSTS.RDY within CAP.TO
 *   Identify Controller (MDTS, IOCCSZ, SGLS, KAS), Set Features Number of
 *     Queues, Identify Namespace (size, LBA format)
 *   per I/O queue: TCP connect, ICReq, Connect with the controller ID
 *   at the end: CC.SHN normal shutdown, wait for CSTS.SHST complete
 *
 * Without a subsystem NQN, the discovery controller at the same address is
 * asked first (Get Log Page 70h) and the first NVM subsystem reachable over
 * TCP is used.  Its address is reported but not used: the discovery log of a
 * target behind a port forward names addresses this host cannot reach.
 *
 * Everything here is synchronous: submit one command through the wire
 * engine, then poll() the socket until it completes or the timeout passes.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "perf.h"
#include "util/compiler.h"

#define ADMIN_DEPTH 4
#define ADMIN_ICD 8192 /* in-capsule data every NVMe/TCP controller takes on admin queues */
#define SETUP_RBUF (64 * 1024)

static void perr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void perr(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PERF_NAME ": error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void pnote(const struct perf_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void pnote(const struct perf_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->opts.json)
		return;
	fprintf(stderr, PERF_NAME ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int timeout_ms(const struct perf_ctx *ctx)
{
	return (int)(ctx->opts.timeout_s * 1000.0);
}

static void sync_complete(struct perf_queue *q, struct perf_cmd *cmd, uint16_t status)
{
	(void)q;
	cmd->cpl.status = htole16((uint16_t)(status << 1));
	cmd->done = true;
}

static int resolve(struct perf_ctx *ctx)
{
	struct addrinfo hints = {
		.ai_family = ctx->opts.adrfam,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV,
	}, *res;
	int rc = getaddrinfo(ctx->opts.traddr, ctx->opts.trsvcid, &hints, &res);

	if (rc != 0) {
		perr("cannot resolve %s port %s: %s", ctx->opts.traddr, ctx->opts.trsvcid,
		     gai_strerror(rc));
		return -1;
	}
	memcpy(&ctx->addr, res->ai_addr, res->ai_addrlen);
	ctx->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Non-blocking TCP connection with TCP_NODELAY, within the timeout. */
static int tcp_open(struct perf_ctx *ctx, struct perf_queue *q)
{
	int fd = socket(ctx->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, err = 0;
	socklen_t elen = sizeof(err);
	struct pollfd p;

	if (fd < 0)
		return perf_queue_fail(q, "socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ctx->addr, ctx->addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto fail;
		}
		p.fd = fd;
		p.events = POLLOUT;
		if (poll(&p, 1, timeout_ms(ctx)) != 1) {
			err = ETIMEDOUT;
			goto fail;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
		if (err)
			goto fail;
	}
	q->fd = fd;
	return 0;
fail:
	close(fd);
	return perf_queue_fail(q, "cannot connect to %s port %s: %s", ctx->opts.traddr,
			       ctx->opts.trsvcid, strerror(err));
}

/* Wait for the socket (receive, and send while output is queued), then move data. */
static int sync_wait(struct perf_ctx *ctx, struct perf_queue *q, uint64_t deadline_ns)
{
	struct pollfd p = { .fd = q->fd, .events = POLLIN };
	uint64_t now = perf_mono_ns(), t;
	int ms;

	if (perf_queue_flush(q))
		return -1;
	if (perf_queue_tx_pending(q))
		p.events |= POLLOUT;
	if (now >= deadline_ns)
		return perf_queue_fail(q, "no answer from the target within %.1f s",
				       ctx->opts.timeout_s);
	ms = (int)((deadline_ns - now + 999999) / 1000000);
	if (poll(&p, 1, ms) < 0 && errno != EINTR)
		return perf_queue_fail(q, "poll: %s", strerror(errno));
	t = perf_ticks();
	return perf_queue_poll_rx(q, &t) < 0 ? -1 : 0;
}

/* ICReq/ICResp: digests as asked, HPDA 0, MAXR2T 0 (one R2T per command). */
static int ic_exchange(struct perf_ctx *ctx, struct perf_queue *q)
{
	uint8_t dgst = (ctx->opts.hdgst ? NVMFT_TCP_DGST_HDR : 0) |
		       (ctx->opts.ddgst ? NVMFT_TCP_DGST_DATA : 0);
	uint64_t deadline = perf_mono_ns() + (uint64_t)(ctx->opts.timeout_s * 1e9);
	uint8_t *p = q->stage;
	size_t n = nvmft_tcp_enc_icreq(p, 0, dgst, 0);

	q->stage_len = n;
	q->iov[0].iov_base = p;
	q->iov[0].iov_len = n;
	q->iov_cnt = 1;
	q->iov_idx = 0;
	memset(&q->tp, 0, sizeof(q->tp));
	while (!q->tp.ic_done)
		if (sync_wait(ctx, q, deadline))
			return -1;
	if (ctx->opts.hdgst && !q->tp.hdgst)
		return perf_queue_fail(q, "the target did not agree to header digests");
	if (ctx->opts.ddgst && !q->tp.ddgst)
		return perf_queue_fail(q, "the target did not agree to data digests");
	if (q->tp.hdgst != ctx->opts.hdgst || q->tp.ddgst != ctx->opts.ddgst)
		return perf_queue_fail(q, "the target turned on digests that were not asked for");
	q->icd_max = ADMIN_ICD;
	return 0;
}

/*
 * Run one command to completion.  @data (of @len bytes) is the data buffer
 * for the transfer in the direction @to_host says.  Returns 0 with the NVMe
 * status in *@status, or -1 when the connection failed (q->err).
 */
static int sync_exec(struct perf_ctx *ctx, struct perf_queue *q, struct nvmft_cmd *sqe,
		     void *data, uint32_t len, bool to_host, uint16_t *status,
		     struct nvmft_cpl *cpl)
{
	uint64_t deadline = perf_mono_ns() + (uint64_t)(ctx->opts.timeout_s * 1e9);
	perf_complete_fn saved = q->complete;
	struct perf_cmd *cmd = perf_cmd_get(q);
	uint8_t *saved_buf;
	int rc = 0;

	if (cmd == NULL)
		return perf_queue_fail(q, "no free command slot for an admin command");
	saved_buf = cmd->buf;
	cmd->buf = data;
	cmd->len = len;
	cmd->to_host = to_host;
	q->complete = sync_complete;
	if (!perf_queue_submit(q, cmd, sqe, perf_ticks())) {
		rc = perf_queue_fail(q, "transmit area full during setup");
		goto out;
	}
	while (!cmd->done) {
		rc = sync_wait(ctx, q, deadline);
		if (rc)
			goto out;
	}
	*status = nvmft_status_from_wire(cmd->cpl.status);
	if (cpl)
		*cpl = cmd->cpl;
out:
	q->complete = saved;
	cmd->buf = saved_buf;
	if (cmd->done || !q->failed)
		perf_cmd_put(q, cmd);
	return rc;
}

static int exec_ok(struct perf_ctx *ctx, struct perf_queue *q, const char *what,
		   struct nvmft_cmd *sqe, void *data, uint32_t len, bool to_host,
		   struct nvmft_cpl *cpl)
{
	char sbuf[160];
	uint16_t status;

	if (sync_exec(ctx, q, sqe, data, len, to_host, &status, cpl)) {
		perr("%s on qid %u: %s", what, q->qid, q->err);
		return -1;
	}
	if (status != 0) {
		perr("%s on qid %u failed: %s", what, q->qid,
		     perf_status_str(status, sqe->opcode, q->admin, sbuf, sizeof(sbuf)));
		return -1;
	}
	return 0;
}

static void connect_data(const struct perf_ctx *ctx, const char *subnqn, uint16_t cntlid,
			 struct nvmf_connect_data *d)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->hostid, ctx->ctrlr.hostid, sizeof(d->hostid));
	d->cntlid = htole16(cntlid);
	snprintf(d->subsysnqn, sizeof(d->subsysnqn), "%s", subnqn);
	snprintf(d->hostnqn, sizeof(d->hostnqn), "%s", ctx->ctrlr.hostnqn);
}

static int fabrics_connect(struct perf_ctx *ctx, struct perf_queue *q, const char *subnqn,
			   uint16_t qid, uint16_t sqsize, uint32_t kato, uint16_t cntlid,
			   uint16_t *cntlid_out)
{
	struct nvmf_connect_data data;
	struct nvmft_cmd sqe;
	struct nvmft_connect_cmd *c = (struct nvmft_connect_cmd *)&sqe;
	struct nvmft_cpl cpl;
	char sbuf[160];
	uint16_t status;

	connect_data(ctx, subnqn, cntlid, &data);
	memset(&sqe, 0, sizeof(sqe));
	c->opcode = NVMFT_OPC_FABRICS;
	c->fctype = NVMFT_FCTYPE_CONNECT;
	c->qid = htole16(qid);
	c->sqsize = htole16(sqsize);
	/* Without SQ flow control a target may end reads with C2HData SUCCESS. */
	c->cattr = NVMFT_CONNECT_CATTR_DISABLE_SQFLOW;
	c->kato = htole32(kato);
	if (sync_exec(ctx, q, &sqe, &data, sizeof(data), false, &status, &cpl)) {
		perr("Connect of qid %u: %s", qid, q->err);
		return -1;
	}
	if (status != 0) {
		perr("Connect of qid %u to %s failed: %s", qid, subnqn,
		     perf_status_str(status, NVMFT_OPC_FABRICS, qid == 0, sbuf, sizeof(sbuf)));
		/* Compare SCT and SC only: DNR, More and CRD vary. */
		if ((status & 0x7ff) ==
		    NVMFT_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM))
			fprintf(stderr, PERF_NAME ": the target rejects the %s at byte %u%s\n",
				cpl.invalid.iattr ? "Connect data" : "Connect command",
				le16toh(cpl.invalid.ipo),
				cpl.invalid.iattr && le16toh(cpl.invalid.ipo) == 256 ?
				" (subsystem NQN: unknown or not offered on this port)" : "");
		return -1;
	}
	q->qid = qid;
	q->connected = true;
	if (cntlid_out)
		*cntlid_out = le16toh(cpl.connect.cntlid);
	return 0;
}

static int prop_get(struct perf_ctx *ctx, struct perf_queue *q, uint32_t off, bool eight,
		    uint64_t *val)
{
	struct nvmft_cmd sqe;
	struct nvmft_prop_cmd *c = (struct nvmft_prop_cmd *)&sqe;
	struct nvmft_cpl cpl;

	memset(&sqe, 0, sizeof(sqe));
	c->opcode = NVMFT_OPC_FABRICS;
	c->fctype = NVMFT_FCTYPE_PROPERTY_GET;
	c->attrib = eight ? NVMFT_PROP_SIZE_8 : NVMFT_PROP_SIZE_4;
	c->offset = htole32(off);
	if (exec_ok(ctx, q, "Property Get", &sqe, NULL, 0, true, &cpl))
		return -1;
	*val = eight ? le64toh(cpl.u64) : le32toh(cpl.dw0);
	return 0;
}

static int prop_set(struct perf_ctx *ctx, struct perf_queue *q, uint32_t off, uint32_t val)
{
	struct nvmft_cmd sqe;
	struct nvmft_prop_cmd *c = (struct nvmft_prop_cmd *)&sqe;

	memset(&sqe, 0, sizeof(sqe));
	c->opcode = NVMFT_OPC_FABRICS;
	c->fctype = NVMFT_FCTYPE_PROPERTY_SET;
	c->attrib = NVMFT_PROP_SIZE_4;
	c->offset = htole32(off);
	c->value = htole64(val);
	return exec_ok(ctx, q, "Property Set", &sqe, NULL, 0, false, NULL);
}

/* Poll CSTS until (CSTS & mask) == want, within CAP.TO (500 ms units). */
static int wait_csts(struct perf_ctx *ctx, struct perf_queue *q, uint32_t mask, uint32_t want,
		     const char *what)
{
	uint64_t to_ms = NVME_CAP_TO(ctx->ctrlr.cap) * 500ull, csts = 0;
	uint64_t deadline;

	if (to_ms == 0)
		to_ms = 500;
	deadline = perf_mono_ns() + to_ms * 1000000ull;
	for (;;) {
		if (prop_get(ctx, q, NVME_REG_CSTS, false, &csts))
			return -1;
		if (csts & NVMFT_CSTS_CFS) {
			perr("controller fatal status (CSTS 0x%" PRIx64 ") while waiting for %s",
			     csts, what);
			return -1;
		}
		if ((csts & mask) == want)
			return 0;
		if (perf_mono_ns() > deadline) {
			perr("controller not %s within CAP.TO (%" PRIu64 " ms), CSTS 0x%" PRIx64,
			     what, to_ms, csts);
			return -1;
		}
		usleep(1000);
	}
}

/* Connect an admin queue to @subnqn and enable the controller. */
static int admin_open(struct perf_ctx *ctx, struct perf_queue *q, const char *subnqn,
		      uint32_t kato)
{
	struct perf_ctrlr *c = &ctx->ctrlr;
	uint32_t cc;

	if (perf_queue_init(q, ADMIN_DEPTH, 0, SETUP_RBUF)) {
		perr("out of memory");
		return -1;
	}
	q->complete = sync_complete;
	q->admin = true;
	if (tcp_open(ctx, q) || ic_exchange(ctx, q)) {
		perr("%s", q->err);
		return -1;
	}
	if (fabrics_connect(ctx, q, subnqn, 0, 31, kato, NVMFT_CNTLID_DYNAMIC, &c->cntlid))
		return -1;
	if (prop_get(ctx, q, NVME_REG_CAP, true, &c->cap))
		return -1;
	if (prop_get(ctx, q, NVME_REG_VS, false, &(uint64_t){ 0 }))
		return -1;
	cc = NVMFT_CC_EN | NVME_CC_CSS_NVM << NVME_CC_CSS_SHIFT | 6u << NVME_CC_IOSQES_SHIFT |
	     4u << NVME_CC_IOCQES_SHIFT;
	if (prop_set(ctx, q, NVME_REG_CC, cc))
		return -1;
	return wait_csts(ctx, q, NVMFT_CSTS_RDY, NVMFT_CSTS_RDY, "ready");
}

static void admin_close(struct perf_ctx *ctx, struct perf_queue *q)
{
	uint64_t cc = 0;

	/* Shut down only a controller this queue brought up. */
	if (q->connected && !q->failed && prop_get(ctx, q, NVME_REG_CC, false, &cc) == 0 &&
	    (cc & NVMFT_CC_EN)) {
		cc &= ~((uint64_t)NVME_CC_SHN_MASK << NVME_CC_SHN_SHIFT);
		cc |= (uint64_t)NVME_CC_SHN_NORMAL << NVME_CC_SHN_SHIFT;
		if (prop_set(ctx, q, NVME_REG_CC, (uint32_t)cc) == 0)
			wait_csts(ctx, q, NVMFT_CSTS_SHST_MASK, NVMFT_CSTS_SHST_CMPLT,
				  "shut down");
	}
	if (q->fd >= 0)
		shutdown(q->fd, SHUT_RDWR);
	perf_queue_free(q);
}

static int get_log_page(struct perf_ctx *ctx, struct perf_queue *q, uint8_t lid, void *buf,
			uint32_t len, uint64_t off)
{
	struct nvmft_cmd sqe;
	uint32_t numd = len / 4 - 1;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_get_log_page;
	sqe.cdw10 = htole32(lid | (numd & 0xffff) << 16);
	sqe.cdw11 = htole32(numd >> 16);
	sqe.cdw12 = htole32((uint32_t)off);
	sqe.cdw13 = htole32((uint32_t)(off >> 32));
	return exec_ok(ctx, q, "Get Log Page", &sqe, buf, len, true, NULL);
}

static void fixed_str(char *dst, size_t cap, const char *src, size_t len)
{
	while (len > 0 && (src[len - 1] == ' ' || src[len - 1] == '\0'))
		len--;
	snprintf(dst, cap, "%.*s", (int)len, src);
}

/* Discovery log entries read per Get Log Page, and the most looked at. */
#define DISC_CHUNK 4
#define DISC_MAX_ENTRIES 1024

/* Pick the first NVM subsystem reachable over TCP from the discovery log. */
static int discover(struct perf_ctx *ctx)
{
	struct perf_queue dq;
	struct nvmf_discovery_log *hdr = NULL;
	struct nvmf_disc_log_entry *e = NULL;
	char addr[NVMF_TRADDR_SIZE + 1], svc[NVMF_TRSVCID_SIZE + 1];
	uint64_t numrec = 0;
	int rc = -1;

	pnote(ctx, "no subsystem NQN given: asking the discovery controller at %s port %s",
	      ctx->opts.traddr, ctx->opts.trsvcid);
	if (admin_open(ctx, &dq, NVMFT_DISCOVERY_NQN, 0))
		goto out;
	hdr = calloc(1, sizeof(*hdr));
	e = calloc(DISC_CHUNK, sizeof(*e));
	if (hdr == NULL || e == NULL ||
	    get_log_page(ctx, &dq, NVME_LOG_LID_DISCOVER, hdr, sizeof(*hdr), 0))
		goto out;
	numrec = NVMFT_MIN(le64toh(hdr->numrec), (uint64_t)DISC_MAX_ENTRIES);
	for (uint64_t i = 0; i < numrec && rc; i += DISC_CHUNK) {
		uint32_t n = (uint32_t)NVMFT_MIN(numrec - i, (uint64_t)DISC_CHUNK);

		if (get_log_page(ctx, &dq, NVME_LOG_LID_DISCOVER, e, n * sizeof(*e),
				 sizeof(*hdr) + i * sizeof(*e)))
			goto out;
		for (uint32_t k = 0; k < n; k++) {
			if (e[k].subtype != NVME_NQN_NVME || e[k].trtype != NVMF_TRTYPE_TCP)
				continue;
			memcpy(ctx->ctrlr.subnqn, e[k].subnqn, sizeof(e[k].subnqn));
			ctx->ctrlr.subnqn[sizeof(ctx->ctrlr.subnqn) - 1] = '\0';
			fixed_str(addr, sizeof(addr), e[k].traddr, sizeof(e[k].traddr));
			fixed_str(svc, sizeof(svc), e[k].trsvcid, sizeof(e[k].trsvcid));
			pnote(ctx, "discovered %s (listed at %s port %s; connecting to %s port %s)",
			      ctx->ctrlr.subnqn, addr, svc, ctx->opts.traddr, ctx->opts.trsvcid);
			ctx->ctrlr.disc_used = true;
			rc = 0;
			break;
		}
	}
	if (rc)
		perr("the discovery log of %s port %s lists no NVM subsystem over TCP "
		     "(%" PRIu64 " entries looked at)", ctx->opts.traddr, ctx->opts.trsvcid,
		     numrec);
out:
	free(hdr);
	free(e);
	admin_close(ctx, &dq);
	return rc;
}

static int identify(struct perf_ctx *ctx, uint8_t cns, uint32_t nsid, void *buf)
{
	struct nvmft_cmd sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_identify;
	sqe.nsid = htole32(nsid);
	sqe.cdw10 = htole32(cns);
	return exec_ok(ctx, &ctx->ctrlr.admin, cns == NVME_IDENTIFY_CNS_CTRL ?
		       "Identify Controller" : "Identify Namespace", &sqe, buf, 4096, true, NULL);
}

static int ctrlr_identify(struct perf_ctx *ctx, struct nvme_id_ctrl *id)
{
	struct perf_ctrlr *c = &ctx->ctrlr;
	uint32_t mps = 1u << (12 + NVME_CAP_MPSMIN(c->cap));

	if (identify(ctx, NVME_IDENTIFY_CNS_CTRL, 0, id))
		return -1;
	c->mdts_bytes = id->mdts ? (id->mdts >= 20 ? UINT32_MAX : mps << id->mdts) : 0;
	c->ioccsz_bytes = le32toh(id->ioccsz) * 16;
	c->sgls = le32toh(id->sgls);
	c->kas_ms = (uint16_t)(le16toh(id->kas) * 100);
	c->maxcmd = le16toh(id->maxcmd);
	fixed_str(c->mn, sizeof(c->mn), id->mn, sizeof(id->mn));
	fixed_str(c->sn, sizeof(c->sn), id->sn, sizeof(id->sn));
	fixed_str(c->fr, sizeof(c->fr), id->fr, sizeof(id->fr));
	return 0;
}

/*
 * Every namespace in use must be active and share one LBA format without
 * metadata; the usable size is the smallest of them.
 */
static int ns_identify(struct perf_ctx *ctx, struct nvme_id_ns *ns)
{
	struct perf_ctrlr *c = &ctx->ctrlr;
	const struct perf_opts *o = &ctx->opts;

	for (uint32_t i = 0; i < o->ns_count; i++) {
		uint32_t nsid = o->nsid + i;
		uint64_t blocks;
		uint32_t lba_size;
		uint8_t fmt;

		if (identify(ctx, NVME_IDENTIFY_CNS_NS, nsid, ns))
			return -1;
		blocks = le64toh(ns->nsze);
		if (blocks == 0) {
			perr("namespace %u is not active on %s", nsid, c->subnqn);
			return -1;
		}
		fmt = (ns->flbas & NVME_NS_FLBAS_LOWER_MASK) |
		      ((ns->flbas & NVME_NS_FLBAS_HIGHER_MASK) >> 1);
		if (ns->lbaf[fmt].ds < 9 || ns->lbaf[fmt].ds > 30 || le16toh(ns->lbaf[fmt].ms) != 0) {
			perr("namespace %u uses LBA format %u (data size 2^%u, %u metadata bytes): "
			     "not supported", nsid, fmt, ns->lbaf[fmt].ds, le16toh(ns->lbaf[fmt].ms));
			return -1;
		}
		lba_size = 1u << ns->lbaf[fmt].ds;
		if (i > 0 && lba_size != c->lba_size) {
			perr("namespace %u has %u-byte blocks, namespace %u %u-byte ones: --ns-count "
			     "needs one block size", nsid, lba_size, o->nsid, c->lba_size);
			return -1;
		}
		c->lba_size = lba_size;
		if (i == 0 || blocks < c->ns_blocks)
			c->ns_blocks = blocks;
	}
	return 0;
}

static int set_num_queues(struct perf_ctx *ctx)
{
	struct nvmft_cmd sqe;
	struct nvmft_cpl cpl;
	uint32_t n = ctx->opts.queues - 1;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_set_features;
	sqe.cdw10 = htole32(NVME_FEAT_FID_NUM_QUEUES);
	sqe.cdw11 = htole32(n | n << 16);
	if (exec_ok(ctx, &ctx->ctrlr.admin, "Set Features (Number of Queues)", &sqe, NULL, 0,
		    false, &cpl))
		return -1;
	/* Both counts come back 0's based; a controller may grant fewer. */
	ctx->ctrlr.nsqa = NVMFT_MIN(le32toh(cpl.dw0) & 0xffff, le32toh(cpl.dw0) >> 16) + 1;
	if (ctx->ctrlr.nsqa < ctx->opts.queues) {
		perr("the controller grants %u I/O queues, %u asked for", ctx->ctrlr.nsqa,
		     ctx->opts.queues);
		return -1;
	}
	return 0;
}

static int make_hostnqn(struct perf_ctx *ctx)
{
	struct perf_ctrlr *c = &ctx->ctrlr;
	uint8_t *u = c->hostid;

	if (getrandom(u, 16, 0) != 16) {
		perr("getrandom: %s", strerror(errno));
		return -1;
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	if (ctx->opts.hostnqn[0]) {
		snprintf(c->hostnqn, sizeof(c->hostnqn), "%s", ctx->opts.hostnqn);
		return 0;
	}
	snprintf(c->hostnqn, sizeof(c->hostnqn),
		 "nqn.2014-08.org.nvmexpress:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8],
		 u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

int perf_ctrlr_setup(struct perf_ctx *ctx)
{
	struct perf_ctrlr *c = &ctx->ctrlr;
	void *idbuf;
	int rc = -1;

	c->admin.fd = -1;
	if (make_hostnqn(ctx) || resolve(ctx))
		return -1;
	if (ctx->opts.subnqn[0])
		snprintf(c->subnqn, sizeof(c->subnqn), "%s", ctx->opts.subnqn);
	else if (discover(ctx))
		return -1;
	c->kato_ms = ctx->opts.kato_ms;
	if (admin_open(ctx, &c->admin, c->subnqn, c->kato_ms))
		return -1;
	idbuf = aligned_alloc(4096, 4096);
	if (idbuf == NULL) {
		perr("out of memory");
		return -1;
	}
	if (ctrlr_identify(ctx, idbuf) || set_num_queues(ctx) || ns_identify(ctx, idbuf))
		goto out;
	if (ctx->opts.qd > NVME_CAP_MQES(c->cap) + 1u) {
		perr("queue depth %u is more than the controller's CAP.MQES allows (%u)",
		     ctx->opts.qd, (unsigned int)NVME_CAP_MQES(c->cap) + 1);
		goto out;
	}
	if (c->mdts_bytes && ctx->opts.io_size > c->mdts_bytes) {
		perr("I/O size %u is more than the controller's MDTS allows (%u bytes)",
		     ctx->opts.io_size, c->mdts_bytes);
		goto out;
	}
	if (ctx->opts.io_size % c->lba_size) {
		perr("I/O size %u is not a multiple of the LBA size %u", ctx->opts.io_size,
		     c->lba_size);
		goto out;
	}
	rc = 0;
out:
	free(idbuf);
	return rc;
}

int perf_io_queue_connect(struct perf_ctx *ctx, struct perf_queue *q, uint16_t qid)
{
	struct perf_ctrlr *c = &ctx->ctrlr;
	/* SQSIZE is 0's based and at least 1; up to qd commands are outstanding. */
	uint16_t sqsize = (uint16_t)(ctx->opts.qd > 1 ? ctx->opts.qd - 1 : 1);
	perf_complete_fn saved = q->complete;
	int rc;

	q->qid = qid;
	q->complete = sync_complete;
	if (tcp_open(ctx, q) || ic_exchange(ctx, q)) {
		perr("I/O queue %u: %s", qid, q->err);
		q->complete = saved;
		return -1;
	}
	rc = fabrics_connect(ctx, q, c->subnqn, qid, sqsize, 0, c->cntlid, NULL);
	q->complete = saved;
	if (rc)
		return -1;
	/* From now on the capsule limit is the controller's IOCCSZ. */
	q->icd_max = ctx->opts.no_icd || c->ioccsz_bytes <= 64 ? 0 : c->ioccsz_bytes - 64;
	return 0;
}

int perf_keep_alive(struct perf_ctx *ctx)
{
	struct nvmft_cmd sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_keep_alive;
	return exec_ok(ctx, &ctx->ctrlr.admin, "Keep Alive", &sqe, NULL, 0, false, NULL);
}

void perf_ctrlr_shutdown(struct perf_ctx *ctx)
{
	admin_close(ctx, &ctx->ctrlr.admin);
}
