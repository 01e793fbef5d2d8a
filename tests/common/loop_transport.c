/* SPDX-License-Identifier: BSD-3-Clause */
/* The in-process test transport; see loop_transport.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "core/poll_group.h"
#include "core/qpair.h"
#include "core/req.h"
#include "core/target.h"
#include "core/transport.h"
#include "loop_transport.h"
#include "util/compiler.h"

#define LT_SLOTS 256
#define LT_POLL_LIMIT 200000

enum lt_slot_state {
	LT_SLOT_FREE,
	LT_SLOT_PENDING, /* submitted by the test, not yet seen by the transport */
	LT_SLOT_CORE,    /* handed to the core */
	LT_SLOT_DONE,    /* completion collected */
};

struct lt_slot {
	struct nvmft_req req;
	enum lt_slot_state state;
	void *data;       /* the test's buffer */
	void *h2c;        /* private copy of host data */
	uint32_t len;
	uint32_t c2h_len;
	bool parked;      /* answered, but the core keeps it for its backend (orphan) */
	struct lt_cpl result;
	TAILQ_ENTRY(lt_slot) link;
};

struct lt_qpair {
	struct nvmft_qpair qp;
	struct lt_env *env;
	struct lt_tpg *tpg;
	bool dead;    /* transport disconnected */
	bool freed;   /* the core freed it */
	uint16_t next_cid;
	struct lt_slot slots[LT_SLOTS];
	TAILQ_HEAD(, lt_slot) pending;
	TAILQ_ENTRY(lt_qpair) link;
};

struct lt_tpg {
	struct nvmft_poll_group *pg;
	TAILQ_HEAD(, lt_qpair) qpairs;
};

/* Every lt_qpair ever created, so tests can look at dead ones; freed at fini. */
struct lt_graveyard {
	struct lt_qpair **q;
	size_t n, cap;
};

static struct lt_qpair *lt_of(struct nvmft_qpair *qp)
{
	return nvmft_container_of(qp, struct lt_qpair, qp);
}

static struct lt_slot *slot_of(struct nvmft_req *req)
{
	return nvmft_container_of(req, struct lt_slot, req);
}

/* ---- Transport ops ----------------------------------------------------------------- */

static int lt_create(struct nvmft_transport *tr)
{
	tr->priv = calloc(1, sizeof(struct lt_graveyard));
	return tr->priv ? 0 : -ENOMEM;
}

static void lt_destroy(struct nvmft_transport *tr)
{
	struct lt_graveyard *g = tr->priv;

	for (size_t i = 0; i < g->n; i++) {
		free(g->q[i]);
	}
	free(g->q);
	free(g);
}

static int lt_listen(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	(void)tr;
	l->fd = -1;
	if (l->trsvcid[0] == '\0')
		strlcpy(l->trsvcid, "0", sizeof(l->trsvcid));
	return 0;
}

static void lt_stop_listen(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	(void)tr;
	(void)l;
}

static int lt_accept(struct nvmft_transport *tr, struct nvmft_listener *l)
{
	(void)tr;
	(void)l;
	return 0;
}

static void lt_cdata_init(struct nvmft_transport *tr, struct nvme_id_ctrl *cdata)
{
	cdata->ioccsz = htole32((64 + tr->opts.in_capsule_data_size) / 16);
	cdata->iorcsz = htole32(1);
	cdata->msdbd = 1;
	cdata->sgls = htole32(1u | 1u << 20);
}

static void lt_disc_entry(struct nvmft_listener *l, struct nvmf_disc_log_entry *e)
{
	(void)l;
	e->treq = 0;
}

static int lt_pg_create(struct nvmft_transport *tr, struct nvmft_poll_group *pg, void **tpgp)
{
	struct lt_tpg *tpg = calloc(1, sizeof(*tpg));

	(void)tr;
	if (tpg == NULL)
		return -ENOMEM;
	tpg->pg = pg;
	TAILQ_INIT(&tpg->qpairs);
	*tpgp = tpg;
	return 0;
}

static void lt_pg_destroy(void *tpg)
{
	free(tpg);
}

static void lt_continue(struct lt_slot *s)
{
	struct nvmft_req *req = &s->req;

	if (req->xfer == NVMFT_XFER_H2C && s->h2c != NULL) {
		size_t off = 0;

		for (int i = 0; i < req->iovcnt; i++) {
			size_t l = NVMFT_MIN(req->iov[i].iov_len, (size_t)s->len - off);

			memcpy(req->iov[i].iov_base, (uint8_t *)s->h2c + off, l);
			off += l;
		}
	}
	nvmft_req_execute(req);
}

static void lt_start(struct lt_qpair *q, struct lt_slot *s)
{
	struct nvmft_req *req = &s->req;
	int rc;

	s->state = LT_SLOT_CORE;
	req->length = s->len;
	if (!nvmft_req_init(req))
		return;
	if (nvmft_req_needs_buffers(req)) {
		rc = nvmft_req_get_buffers(req);
		if (rc == -EAGAIN)
			return; /* lt_buffers_ready continues */
		if (rc < 0) {
			nvmft_req_finish(req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
			return;
		}
	}
	(void)q;
	lt_continue(s);
}

static int lt_pg_poll(void *tpgp, unsigned int budget)
{
	struct lt_tpg *tpg = tpgp;
	struct lt_qpair *q, *tmp;
	int n = 0;

	TAILQ_FOREACH_SAFE(q, &tpg->qpairs, link, tmp) {
		struct lt_slot *s;

		while (!q->dead && (unsigned int)n < budget && (s = TAILQ_FIRST(&q->pending)) != NULL) {
			TAILQ_REMOVE(&q->pending, s, link);
			lt_start(q, s);
			n++;
		}
	}
	return n;
}

static int lt_pg_add_qpair(void *tpgp, struct nvmft_qpair *qp)
{
	struct lt_tpg *tpg = tpgp;
	struct lt_qpair *q = lt_of(qp);

	q->tpg = tpg;
	TAILQ_INSERT_TAIL(&tpg->qpairs, q, link);
	return 0;
}

static void lt_qpair_disconnect(struct nvmft_qpair *qp)
{
	struct lt_qpair *q = lt_of(qp);

	q->dead = true;
	for (int i = 0; i < LT_SLOTS; i++) {
		struct lt_slot *s = &q->slots[i];

		if (s->state == LT_SLOT_PENDING) {
			TAILQ_REMOVE(&q->pending, s, link);
			s->state = LT_SLOT_FREE;
		} else if (s->state == LT_SLOT_CORE && s->req.state == NVMFT_REQ_WAIT_BUF) {
			/* The transport holds it: give it back now. */
			nvmft_req_cancel_buffer_wait(&s->req);
			nvmft_req_release(&s->req);
		}
	}
}

static void lt_qpair_free(struct nvmft_qpair *qp)
{
	struct lt_qpair *q = lt_of(qp);

	if (q->tpg != NULL)
		TAILQ_REMOVE(&q->tpg->qpairs, q, link);
	q->tpg = NULL;
	q->dead = true;
	q->freed = true;
	for (int i = 0; i < LT_SLOTS; i++) {
		free(q->slots[i].h2c);
		q->slots[i].h2c = NULL;
	}
}

static int lt_qpair_get_peer(const struct nvmft_qpair *qp, struct sockaddr_storage *ss)
{
	(void)qp;
	memset(ss, 0, sizeof(*ss));
	return -ENOTCONN;
}

static void lt_req_complete(struct nvmft_req *req)
{
	struct lt_slot *s = slot_of(req);
	struct lt_qpair *q = lt_of(req->qpair);

	if (!q->dead) {
		s->result.cpl = req->cpl;
		s->result.status = nvmft_status_from_wire(req->cpl.status);
		s->result.done = true;
		if (req->xfer == NVMFT_XFER_C2H && s->data != NULL && s->result.status == 0)
			s->c2h_len = (uint32_t)nvmft_req_copy_from_iov(req, 0, s->data, s->len);
		s->state = LT_SLOT_DONE;
	} else {
		s->state = LT_SLOT_FREE;
	}
	/* The result stays readable; only the slot waits for lt_req_recycle(). */
	if (!nvmft_req_release(req))
		s->parked = true;
}

static void lt_req_recycle(struct nvmft_req *req)
{
	slot_of(req)->parked = false;
}

static void lt_req_buffers_ready(struct nvmft_req *req)
{
	struct lt_slot *s = slot_of(req);

	if (lt_of(req->qpair)->dead) {
		nvmft_req_release(req);
		s->state = LT_SLOT_FREE;
		return;
	}
	if (req->iovcnt == 0) {
		nvmft_req_finish(req, NVMFT_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
		return;
	}
	lt_continue(s);
}

#define NVMFT_TRTYPE_LOOP_TEST ((enum nvmft_trtype)254)

static const struct nvmft_transport_ops lt_ops = {
	.type = NVMFT_TRTYPE_LOOP_TEST,
	.name = "LOOP",
	.caps = NVMFT_TR_CAP_ZCOPY_READ,
	.create = lt_create,
	.destroy = lt_destroy,
	.listen = lt_listen,
	.stop_listen = lt_stop_listen,
	.accept = lt_accept,
	.cdata_init = lt_cdata_init,
	.disc_entry = lt_disc_entry,
	.pg_create = lt_pg_create,
	.pg_destroy = lt_pg_destroy,
	.pg_poll = lt_pg_poll,
	.pg_add_qpair = lt_pg_add_qpair,
	.qpair_disconnect = lt_qpair_disconnect,
	.qpair_free = lt_qpair_free,
	.qpair_get_peer = lt_qpair_get_peer,
	.req_complete = lt_req_complete,
	.req_buffers_ready = lt_req_buffers_ready,
	.req_recycle = lt_req_recycle,
};

/* ---- Environment ------------------------------------------------------------------ */

static struct nvmft_poll_group *lt_assign(void *arg, const struct nvmft_qpair *qp)
{
	struct lt_env *env = arg;

	(void)qp;
	if (env->nr_pgs == 0)
		return NULL;
	return env->pg[env->next_pg % env->nr_pgs];
}

int lt_env_init(struct lt_env *env, const struct lt_env_opts *opts)
{
	struct nvmft_target_opts to;
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_INTRA_HOST,
					.traddr = "loop", .trsvcid = "1" };
	int nr = opts && opts->nr_pgs ? opts->nr_pgs : 1;
	int rc;

	memset(env, 0, sizeof(*env));
	if (nr > LT_MAX_PGS)
		return -EINVAL;
	nvmft_target_opts_init(&to, sizeof(to));
	to.assign_fn = lt_assign;
	to.assign_arg = env;
	if (opts && opts->max_subsystems)
		to.max_subsystems = opts->max_subsystems;
	if (opts && opts->drain_timeout_ms)
		to.drain_timeout_ms = opts->drain_timeout_ms;
	rc = nvmft_target_new(&to, &env->tgt);
	if (rc < 0)
		return rc;
	for (int i = 0; i < nr; i++) {
		rc = nvmft_poll_group_new(env->tgt, NULL, &env->pg[i]);
		if (rc < 0)
			return rc;
		env->nr_pgs++;
	}
	rc = nvmft_transport_new_ops(env->tgt, &lt_ops, opts ? opts->tr_opts : NULL, &env->tr);
	if (rc < 0)
		return rc;
	rc = nvmft_listener_new(env->tr, &lo, &env->listener);
	if (rc < 0)
		return rc;
	lt_env_settle(env);
	return 0;
}

int lt_env_poll(struct lt_env *env)
{
	int n = 0;

	n += nvmft_target_poll(env->tgt);
	for (int i = 0; i < env->nr_pgs; i++) {
		int rc = nvmft_poll_group_poll(env->pg[i], 0);

		if (rc > 0)
			n += rc;
	}
	return n;
}

void lt_env_settle(struct lt_env *env)
{
	int idle = 0;

	for (int i = 0; i < LT_POLL_LIMIT && idle < 3; i++)
		idle = lt_env_poll(env) == 0 ? idle + 1 : 0;
}

static void lt_stopped(void *arg, int status)
{
	(void)status;
	*(bool *)arg = true;
}

void lt_env_fini(struct lt_env *env)
{
	bool stopped[LT_MAX_PGS] = { false };

	if (env->tgt == NULL)
		return;
	for (int i = 0; i < env->nr_pgs; i++)
		nvmft_poll_group_stop(env->pg[i], lt_stopped, &stopped[i]);
	for (int n = 0; n < LT_POLL_LIMIT; n++) {
		bool all = true;

		nvmft_target_poll(env->tgt);
		for (int i = 0; i < env->nr_pgs; i++) {
			if (!stopped[i]) {
				nvmft_poll_group_poll(env->pg[i], 0);
				all = false;
			}
		}
		if (all)
			break;
	}
	for (int i = 0; i < env->nr_pgs; i++)
		nvmft_poll_group_free(env->pg[i]);
	nvmft_target_poll(env->tgt);
	nvmft_target_free(env->tgt);
	for (int i = 0; i < env->nr_owned; i++)
		nvmft_backend_free(env->owned[i]);
	memset(env, 0, sizeof(*env));
}

struct lt_wait_cb {
	bool done;
	int status;
};

static void lt_wait_done(void *arg, int status)
{
	struct lt_wait_cb *w = arg;

	w->done = true;
	w->status = status;
}

static int lt_wait_cb(struct lt_env *env, struct lt_wait_cb *w)
{
	for (int i = 0; i < LT_POLL_LIMIT && !w->done; i++)
		lt_env_poll(env);
	return w->done ? w->status : -ETIMEDOUT;
}

struct nvmft_subsystem *lt_env_add_subsystem(struct lt_env *env, const char *nqn, bool allow_any)
{
	struct nvmft_subsystem_opts so;
	struct nvmft_subsystem *ss;

	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = nqn;
	so.allow_any_host = allow_any;
	if (nvmft_subsystem_new(env->tgt, &so, &ss) < 0)
		return NULL;
	if (nvmft_subsystem_add_listener(ss, env->listener) < 0)
		return NULL;
	env->ss = ss;
	return ss;
}

struct nvmft_ns *lt_env_add_ns(struct lt_env *env, struct nvmft_subsystem *ss, struct nvmft_backend *be,
			       uint32_t nsid)
{
	struct nvmft_ns_opts no;
	struct lt_wait_cb w = { 0 };
	struct nvmft_ns *ns;

	nvmft_ns_opts_init(&no, sizeof(no));
	no.nsid = nsid;
	if (env->nr_owned < (int)(sizeof(env->owned) / sizeof(env->owned[0])))
		env->owned[env->nr_owned++] = be;
	if (nvmft_ns_add(ss, be, &no, lt_wait_done, &w, &ns) < 0)
		return NULL;
	if (lt_wait_cb(env, &w) != 0)
		return NULL;
	lt_env_settle(env);
	return ns;
}

struct nvmft_ns *lt_env_add_malloc_ns(struct lt_env *env, struct nvmft_subsystem *ss, uint32_t nsid,
				      uint64_t blocks, uint32_t block_size)
{
	struct nvmft_backend *be;
	char name[32];

	snprintf(name, sizeof(name), "lt-malloc-%u-%u", ss ? nvmft_subsystem_get_max_namespaces(ss) : 0, nsid);
	if (nvmft_backend_malloc_new(name, blocks, block_size, &be) < 0)
		return NULL;
	return lt_env_add_ns(env, ss, be, nsid);
}

int lt_env_free_backend(struct lt_env *env, struct nvmft_backend *be)
{
	int rc = nvmft_backend_free(be);

	if (rc == 0) {
		for (int i = 0; i < env->nr_owned; i++) {
			if (env->owned[i] == be) {
				env->owned[i] = env->owned[--env->nr_owned];
				break;
			}
		}
	}
	return rc;
}

int lt_env_remove_ns(struct lt_env *env, struct nvmft_ns *ns)
{
	struct lt_wait_cb w = { 0 };

	nvmft_ns_remove(ns, lt_wait_done, &w);
	return lt_wait_cb(env, &w);
}

/* ---- Connections ------------------------------------------------------------------- */

struct lt_qpair *lt_qpair_new(struct lt_env *env, int pg_idx)
{
	struct lt_graveyard *g = env->tr->priv;
	struct lt_qpair *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		struct lt_qpair **a = realloc(g->q, cap * sizeof(*a));

		if (a == NULL) {
			free(q);
			return NULL;
		}
		g->q = a;
		g->cap = cap;
	}
	g->q[g->n++] = q;
	nvmft_qpair_init(&q->qp, env->tr, env->listener);
	q->env = env;
	TAILQ_INIT(&q->pending);
	for (int i = 0; i < LT_SLOTS; i++)
		q->slots[i].req.qpair = &q->qp;
	if (pg_idx >= 0)
		env->next_pg = pg_idx;
	nvmft_target_accepted(env->tgt, &q->qp);
	if (pg_idx < 0)
		env->next_pg++;
	lt_env_settle(env);
	return q;
}

void lt_qpair_close(struct lt_qpair *q)
{
	if (!q->freed && q->qp.pg != NULL)
		nvmft_qpair_disconnect(&q->qp);
	lt_env_settle(q->env);
}

bool lt_qpair_is_dead(const struct lt_qpair *q)
{
	return q->dead;
}

uint32_t lt_qpair_outstanding(const struct lt_qpair *q)
{
	return q->qp.outstanding;
}

struct nvmft_qpair *lt_qpair_core(struct lt_qpair *q)
{
	return &q->qp;
}

int lt_submit(struct lt_qpair *q, const struct nvmft_cmd *cmd, void *data, uint32_t len)
{
	for (int i = 0; i < LT_SLOTS; i++) {
		struct lt_slot *s = &q->slots[i];

		if (s->state != LT_SLOT_FREE || s->parked)
			continue;
		memset(&s->result, 0, sizeof(s->result));
		s->req.cmd = *cmd;
		s->req.cmd.cid = htole16(q->next_cid++);
		s->data = data;
		s->len = len;
		s->c2h_len = 0;
		free(s->h2c);
		s->h2c = NULL;
		if (len > 0 && data != NULL && (cmd->opcode == NVMFT_OPC_FABRICS
						 ? (((const struct nvmft_fabrics_cmd *)cmd)->fctype & 3) == 1
						 : (cmd->opcode & 3) == 1)) {
			s->h2c = malloc(len);
			if (s->h2c == NULL)
				return -ENOMEM;
			memcpy(s->h2c, data, len);
		}
		s->state = LT_SLOT_PENDING;
		TAILQ_INSERT_TAIL(&q->pending, s, link);
		return i;
	}
	return -EBUSY;
}

bool lt_done(struct lt_qpair *q, int tag)
{
	return q->slots[tag].state == LT_SLOT_DONE;
}

struct lt_cpl lt_wait(struct lt_qpair *q, int tag)
{
	struct lt_slot *s = &q->slots[tag];
	struct lt_cpl r = { .done = false };

	for (int i = 0; i < LT_POLL_LIMIT && s->state != LT_SLOT_DONE && !q->dead; i++)
		lt_env_poll(q->env);
	if (s->state == LT_SLOT_DONE) {
		r = s->result;
		s->state = LT_SLOT_FREE;
	}
	return r;
}

uint32_t lt_data_len(struct lt_qpair *q, int tag)
{
	return q->slots[tag].c2h_len;
}

struct lt_cpl lt_cmd(struct lt_qpair *q, const struct nvmft_cmd *cmd, void *data, uint32_t len)
{
	struct lt_cpl none = { .done = false };
	int tag = lt_submit(q, cmd, data, len);

	if (tag < 0)
		return none;
	return lt_wait(q, tag);
}

struct lt_cpl lt_connect_raw(struct lt_qpair *q, uint16_t qid, uint16_t sqsize, uint32_t kato_ms,
			     uint16_t cntlid, const char *subnqn, const char *hostnqn)
{
	struct nvmft_connect_cmd c = { 0 };
	struct nvmf_connect_data d;

	memset(&d, 0, sizeof(d));
	c.opcode = NVMFT_OPC_FABRICS;
	c.fctype = NVMFT_FCTYPE_CONNECT;
	c.qid = htole16(qid);
	c.sqsize = htole16(sqsize);
	c.kato = htole32(kato_ms);
	memcpy(d.hostid, LT_HOSTID, 16);
	d.cntlid = htole16(cntlid);
	if (subnqn)
		strlcpy(d.subsysnqn, subnqn, sizeof(d.subsysnqn));
	if (hostnqn)
		strlcpy(d.hostnqn, hostnqn, sizeof(d.hostnqn));
	return lt_cmd(q, (const struct nvmft_cmd *)&c, &d, sizeof(d));
}

struct lt_cpl lt_prop_get(struct lt_qpair *q, uint32_t offset, bool eight, uint64_t *val)
{
	struct nvmft_prop_cmd c = { 0 };
	struct lt_cpl r;

	c.opcode = NVMFT_OPC_FABRICS;
	c.fctype = NVMFT_FCTYPE_PROPERTY_GET;
	c.attrib = eight ? NVMFT_PROP_SIZE_8 : NVMFT_PROP_SIZE_4;
	c.offset = htole32(offset);
	r = lt_cmd(q, (const struct nvmft_cmd *)&c, NULL, 0);
	if (val)
		*val = le64toh(r.cpl.u64);
	return r;
}

struct lt_cpl lt_prop_set(struct lt_qpair *q, uint32_t offset, uint64_t val)
{
	struct nvmft_prop_cmd c = { 0 };

	c.opcode = NVMFT_OPC_FABRICS;
	c.fctype = NVMFT_FCTYPE_PROPERTY_SET;
	c.attrib = NVMFT_PROP_SIZE_4;
	c.offset = htole32(offset);
	c.value = htole64(val);
	return lt_cmd(q, (const struct nvmft_cmd *)&c, NULL, 0);
}

struct lt_qpair *lt_connect_admin(struct lt_env *env, const char *subnqn, const char *hostnqn,
				  uint16_t *cntlid)
{
	struct lt_qpair *q = lt_qpair_new(env, -1);
	struct lt_cpl r;
	uint64_t csts = 0;

	if (q == NULL)
		return NULL;
	r = lt_connect_raw(q, 0, 31, 0, NVMFT_CNTLID_DYNAMIC, subnqn, hostnqn);
	if (!r.done || r.status != 0)
		return NULL;
	if (cntlid)
		*cntlid = le16toh(r.cpl.connect.cntlid);
	/* CC: EN, IOSQES 6, IOCQES 4 */
	r = lt_prop_set(q, NVME_REG_CC, 1u | 6u << 16 | 4u << 20);
	if (!r.done || r.status != 0)
		return NULL;
	r = lt_prop_get(q, NVME_REG_CSTS, false, &csts);
	if (!r.done || r.status != 0 || !(csts & NVMFT_CSTS_RDY))
		return NULL;
	return q;
}

struct lt_qpair *lt_connect_io(struct lt_env *env, const char *subnqn, const char *hostnqn,
			       uint16_t cntlid, uint16_t qid, uint16_t sqsize)
{
	struct lt_qpair *q = lt_qpair_new(env, -1);
	struct lt_cpl r;

	if (q == NULL)
		return NULL;
	r = lt_connect_raw(q, qid, sqsize, 0, cntlid, subnqn, hostnqn);
	if (!r.done || r.status != 0)
		return NULL;
	return q;
}

struct lt_cpl lt_identify(struct lt_qpair *q, uint8_t cns, uint32_t nsid, uint8_t csi, void *buf)
{
	struct nvmft_cmd c = { 0 };

	c.opcode = nvme_admin_identify;
	c.nsid = htole32(nsid);
	c.cdw10 = htole32(cns);
	c.cdw11 = htole32((uint32_t)csi << 24);
	return lt_cmd(q, &c, buf, 4096);
}

struct lt_cpl lt_get_log(struct lt_qpair *q, uint8_t lid, uint32_t nsid, uint64_t offset, void *buf,
			 uint32_t len)
{
	struct nvmft_cmd c = { 0 };
	uint32_t numd = len / 4 - 1;

	c.opcode = nvme_admin_get_log_page;
	c.nsid = htole32(nsid);
	c.cdw10 = htole32(lid | (numd & 0xffff) << 16);
	c.cdw11 = htole32(numd >> 16);
	c.cdw12 = htole32((uint32_t)offset);
	c.cdw13 = htole32((uint32_t)(offset >> 32));
	return lt_cmd(q, &c, buf, len);
}

struct lt_cpl lt_rw(struct lt_qpair *q, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf,
		    uint32_t len)
{
	struct nvmft_cmd c = { 0 };

	c.opcode = write ? nvme_cmd_write : nvme_cmd_read;
	c.nsid = htole32(nsid);
	c.cdw10 = htole32((uint32_t)slba);
	c.cdw11 = htole32((uint32_t)(slba >> 32));
	c.cdw12 = htole32(nlb - 1);
	return lt_cmd(q, &c, buf, len);
}

/* ---- Additions for the object-model tests --------------------------------------------- */

int lt_env_init_tgt(struct lt_env *env, const struct lt_env_opts *opts,
		    const struct nvmft_target_opts *to)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_INTRA_HOST,
					.traddr = "loop", .trsvcid = "1" };
	int nr = opts && opts->nr_pgs ? opts->nr_pgs : 1;
	int rc;

	memset(env, 0, sizeof(*env));
	if (nr > LT_MAX_PGS)
		return -EINVAL;
	rc = nvmft_target_new(to, &env->tgt);
	if (rc < 0)
		return rc;
	for (int i = 0; i < nr; i++) {
		rc = nvmft_poll_group_new(env->tgt, NULL, &env->pg[i]);
		if (rc < 0)
			return rc;
		env->nr_pgs++;
	}
	rc = nvmft_transport_new_ops(env->tgt, &lt_ops, opts ? opts->tr_opts : NULL, &env->tr);
	if (rc < 0)
		return rc;
	rc = nvmft_listener_new(env->tr, &lo, &env->listener);
	if (rc < 0)
		return rc;
	lt_env_settle(env);
	return 0;
}

struct lt_qpair *lt_qpair_new_on(struct lt_env *env, int pg_idx, struct nvmft_listener *l,
				 bool settle)
{
	struct lt_graveyard *g = env->tr->priv;
	struct lt_qpair *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		struct lt_qpair **a = realloc(g->q, cap * sizeof(*a));

		if (a == NULL) {
			free(q);
			return NULL;
		}
		g->q = a;
		g->cap = cap;
	}
	g->q[g->n++] = q;
	nvmft_qpair_init(&q->qp, env->tr, l != NULL ? l : env->listener);
	q->env = env;
	TAILQ_INIT(&q->pending);
	for (int i = 0; i < LT_SLOTS; i++)
		q->slots[i].req.qpair = &q->qp;
	if (pg_idx >= 0)
		env->next_pg = pg_idx;
	nvmft_target_accepted(env->tgt, &q->qp);
	if (pg_idx < 0)
		env->next_pg++;
	if (settle)
		lt_env_settle(env);
	return q;
}

bool lt_qpair_is_freed(const struct lt_qpair *q)
{
	return q->freed;
}

struct lt_cpl lt_connect_raw_cattr(struct lt_qpair *q, uint16_t qid, uint16_t sqsize, uint32_t kato_ms,
				   uint16_t cntlid, const char *subnqn, const char *hostnqn,
				   uint8_t cattr)
{
	struct nvmft_connect_cmd c = { 0 };
	struct nvmf_connect_data d;

	memset(&d, 0, sizeof(d));
	c.opcode = NVMFT_OPC_FABRICS;
	c.fctype = NVMFT_FCTYPE_CONNECT;
	c.qid = htole16(qid);
	c.sqsize = htole16(sqsize);
	c.cattr = cattr;
	c.kato = htole32(kato_ms);
	memcpy(d.hostid, LT_HOSTID, 16);
	d.cntlid = htole16(cntlid);
	if (subnqn)
		strlcpy(d.subsysnqn, subnqn, sizeof(d.subsysnqn));
	if (hostnqn)
		strlcpy(d.hostnqn, hostnqn, sizeof(d.hostnqn));
	return lt_cmd(q, (const struct nvmft_cmd *)&c, &d, sizeof(d));
}
