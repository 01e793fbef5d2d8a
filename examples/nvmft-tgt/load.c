/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * load_config on a running target (load.h): check everything, then build
 * step by step, with an undo log to take it all down again on failure.
 *
 * The job is a small state machine.  Each step either finishes at once or
 * starts one asynchronous library call and waits for its callback; the
 * callback may come before the call returns, so job_run() is the only
 * place that advances, and a callback that arrives while it runs only
 * marks the wait over.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "config.h"
#include "load.h"
#include "save_config.h"

enum load_step {
	STEP_BDEVS,
	STEP_SUBSYS,
	STEP_ALLOWS,
	STEP_HOSTS,
	STEP_NS,
	STEP_TRANSPORTS,
	STEP_LISTENERS,
	STEP_END,
};

enum undo_kind {
	UNDO_BDEV,
	UNDO_SUBSYS,
	UNDO_ALLOW,
	UNDO_HOST,
	UNDO_NS,
	UNDO_LISTENER,
};

struct undo {
	enum undo_kind kind;
	struct app_bdev *bdev;
	struct nvmft_subsystem *ss;
	struct nvmft_ns *ns;
	struct nvmft_listener *l;
	const char *host; /* in the job's plan */
	bool allow;	  /* allow_any_host before */
};

/* Where the running target's entries end in the plan: the rest is new. */
struct load_base {
	size_t transports, bdevs, subsys, allows, hosts, listeners, ns;
};

struct load_job {
	struct app_state *st;
	struct plan plan;
	struct load_base base;
	enum load_step step;
	size_t idx;
	bool undoing;
	bool waiting; /* an asynchronous call is out */
	bool running; /* inside job_run() */
	int status;
	char msg[768];
	char tr_note[96]; /* transports created, which cannot be undone */
	struct undo *undo;
	size_t n_undo;
	size_t cap_undo;
	load_done_fn done;
	void *arg;
};

static void job_run(struct load_job *j);

static void job_fail(struct load_job *j, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void job_fail(struct load_job *j, int rc, const char *fmt, ...)
{
	va_list ap;

	if (j->status != 0)
		return;
	j->status = rc;
	va_start(ap, fmt);
	vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
	va_end(ap);
}

static int undo_push(struct load_job *j, struct undo u)
{
	if (j->n_undo == j->cap_undo) {
		size_t cap = j->cap_undo ? 2 * j->cap_undo : 16;
		struct undo *a = realloc(j->undo, cap * sizeof(*a));

		if (a == NULL)
			return -ENOMEM;
		j->undo = a;
		j->cap_undo = cap;
	}
	j->undo[j->n_undo++] = u;
	return 0;
}

/* An asynchronous step (or undo) finished. */
static void job_resume(void *arg, int status)
{
	struct load_job *j = arg;

	j->waiting = false;
	if (status < 0 && !j->undoing && j->step == STEP_NS) {
		/* A failed attach took its namespace down by itself: nothing to undo for it. */
		j->n_undo--;
		job_fail(j, status, "namespace %zu of the configuration did not attach: %s",
			 j->idx - j->base.ns, strerror(-status));
	} else if (status < 0 && !j->undoing) {
		job_fail(j, status, "%s", strerror(-status));
	} else if (status < 0) {
		app_log(j->st->log, NVMFT_LOG_WARN, "load_config: undoing a step: %s",
			strerror(-status));
	}
	job_run(j);
}

/* ---- Building --------------------------------------------------------------------- */

static void step_bdev(struct load_job *j)
{
	struct app_bdev *b;
	char err[384];
	int rc;

	rc = bdev_create(j->st, &j->plan.bdevs[j->idx], &b, err, sizeof(err));
	if (rc < 0) {
		job_fail(j, rc, "%s: %s", j->plan.bdevs[j->idx].origin.what, err);
		return;
	}
	if (undo_push(j, (struct undo){ .kind = UNDO_BDEV, .bdev = b }) < 0) {
		bdev_destroy(j->st, b);
		job_fail(j, -ENOMEM, "out of memory");
	}
}

static void step_subsys(struct load_job *j)
{
	struct nvmft_subsystem *ss;
	char err[384];
	int rc;

	rc = apply_subsys(j->st, &j->plan.subsys[j->idx], &ss, err, sizeof(err));
	if (rc < 0) {
		job_fail(j, rc, "%s: %s", j->plan.subsys[j->idx].origin.what, err);
		return;
	}
	if (undo_push(j, (struct undo){ .kind = UNDO_SUBSYS, .ss = ss }) < 0) {
		nvmft_subsystem_destroy(ss, NULL, NULL);
		job_fail(j, -ENOMEM, "out of memory");
	}
}

static void step_allow(struct load_job *j)
{
	const struct plan_allow *a = &j->plan.allows[j->idx];
	struct nvmft_subsystem *ss = nvmft_subsystem_find(j->st->tgt, a->nqn);
	bool old = nvmft_subsystem_get_allow_any_host(ss);

	if (undo_push(j, (struct undo){ .kind = UNDO_ALLOW, .ss = ss, .allow = old }) < 0) {
		job_fail(j, -ENOMEM, "out of memory");
		return;
	}
	nvmft_subsystem_set_allow_any_host(ss, a->allow);
}

static void step_host(struct load_job *j)
{
	const struct plan_host *h = &j->plan.hosts[j->idx];
	struct nvmft_subsystem *ss = nvmft_subsystem_find(j->st->tgt, h->nqn);
	int rc;

	if (undo_push(j, (struct undo){ .kind = UNDO_HOST, .ss = ss, .host = h->host }) < 0) {
		job_fail(j, -ENOMEM, "out of memory");
		return;
	}
	rc = nvmft_subsystem_add_host(ss, h->host);
	if (rc < 0) {
		j->n_undo--;
		job_fail(j, rc, "%s: cannot allow host '%s': %s", h->origin.what, h->host,
			 strerror(-rc));
	}
}

static void step_ns(struct load_job *j)
{
	char err[384];
	struct nvmft_ns *ns;
	int rc;

	if (undo_push(j, (struct undo){ .kind = UNDO_NS }) < 0) {
		job_fail(j, -ENOMEM, "out of memory");
		return;
	}
	j->waiting = true;
	rc = apply_ns(j->st, &j->plan.ns[j->idx], job_resume, j, &ns, err, sizeof(err));
	if (rc < 0) {
		j->waiting = false;
		j->n_undo--;
		job_fail(j, rc, "%s: %s", j->plan.ns[j->idx].origin.what, err);
		return;
	}
	/* The callback cannot have come yet: it runs from nvmft_target_poll(). */
	j->undo[j->n_undo - 1].ns = ns;
}

static void note_transport(struct load_job *j, enum nvmft_trtype trtype)
{
	size_t len = strlen(j->tr_note);

	snprintf(j->tr_note + len, sizeof(j->tr_note) - len, "%s%s", len ? ", " : "",
		 nvmft_trtype_name(trtype));
}

static void step_transport(struct load_job *j)
{
	const struct plan_transport *t = &j->plan.transports[j->idx];
	char err[384];
	int rc;

	rc = apply_transport(j->st, t->trtype, t, NULL, err, sizeof(err));
	if (rc < 0)
		job_fail(j, rc, "%s: %s", t->origin.what, err);
	else
		note_transport(j, t->trtype);
}

static void step_listener(struct load_job *j)
{
	const struct plan_listener *pl = &j->plan.listeners[j->idx];
	struct nvmft_subsystem *ss = NULL;
	struct nvmft_listener *l;
	char err[384];
	bool created;
	int rc;

	/* A listener brings its transport along, as at start-up. */
	if (nvmft_transport_find(j->st->tgt, pl->trtype) == NULL) {
		rc = apply_transport(j->st, pl->trtype, NULL, NULL, err, sizeof(err));
		if (rc < 0) {
			job_fail(j, rc, "%s: %s", pl->origin.what, err);
			return;
		}
		note_transport(j, pl->trtype);
	}
	rc = apply_listener(j->st, pl, &l, &created, err, sizeof(err));
	if (rc == -EEXIST)
		return; /* listed twice, as save_config writes shared addresses: one listener */
	if (rc < 0) {
		job_fail(j, rc, "%s: %s", pl->origin.what, err);
		return;
	}
	if (strcmp(pl->nqn, PLAN_DISCOVERY_NQN) != 0)
		ss = nvmft_subsystem_find(j->st->tgt, pl->nqn);
	if (undo_push(j, (struct undo){ .kind = UNDO_LISTENER, .ss = ss, .l = l }) < 0) {
		j->waiting = true;
		job_fail(j, -ENOMEM, "out of memory");
		apply_unlisten(j->st, ss, l, job_resume, j);
	}
}

/* Entries of each step: [first new one, count). */
static bool step_range(struct load_job *j, size_t *first, size_t *count)
{
	const struct plan *p = &j->plan;

	switch (j->step) {
	case STEP_BDEVS:
		*first = j->base.bdevs, *count = p->n_bdevs;
		return true;
	case STEP_SUBSYS:
		*first = j->base.subsys, *count = p->n_subsys;
		return true;
	case STEP_ALLOWS:
		*first = j->base.allows, *count = p->n_allows;
		return true;
	case STEP_HOSTS:
		*first = j->base.hosts, *count = p->n_hosts;
		return true;
	case STEP_NS:
		*first = j->base.ns, *count = p->n_ns;
		return true;
	case STEP_TRANSPORTS:
		*first = j->base.transports, *count = p->n_transports;
		return true;
	case STEP_LISTENERS:
		*first = j->base.listeners, *count = p->n_listeners;
		return true;
	case STEP_END:
		break;
	}
	return false;
}

/* Do the next entry; false when there is none left. */
static bool build_next(struct load_job *j)
{
	static void (*const fn[])(struct load_job *) = {
		[STEP_BDEVS] = step_bdev,	  [STEP_SUBSYS] = step_subsys,
		[STEP_ALLOWS] = step_allow,	  [STEP_HOSTS] = step_host,
		[STEP_NS] = step_ns,		  [STEP_TRANSPORTS] = step_transport,
		[STEP_LISTENERS] = step_listener,
	};
	size_t first, count;

	while (step_range(j, &first, &count)) {
		if (j->idx < first)
			j->idx = first;
		if (j->idx < count) {
			fn[j->step](j);
			j->idx++;
			return true;
		}
		j->step++;
		j->idx = 0;
	}
	return false;
}

/* ---- Taking down ------------------------------------------------------------------ */

static void undo_next(struct load_job *j)
{
	struct undo u = j->undo[--j->n_undo];
	int rc;

	switch (u.kind) {
	case UNDO_LISTENER:
		j->waiting = true;
		apply_unlisten(j->st, u.ss, u.l, job_resume, j);
		break;
	case UNDO_NS:
		j->waiting = true;
		nvmft_ns_remove(u.ns, job_resume, j);
		break;
	case UNDO_HOST:
		j->waiting = true;
		if (nvmft_subsystem_remove_host(u.ss, u.host, job_resume, j) < 0)
			j->waiting = false;
		break;
	case UNDO_ALLOW:
		nvmft_subsystem_set_allow_any_host(u.ss, u.allow);
		break;
	case UNDO_SUBSYS:
		j->waiting = true;
		if (nvmft_subsystem_destroy(u.ss, job_resume, j) < 0)
			j->waiting = false;
		break;
	case UNDO_BDEV:
		rc = bdev_destroy(j->st, u.bdev);
		if (rc < 0)
			app_log(j->st->log, NVMFT_LOG_WARN,
				"load_config: bdev %s stays: its backend is still busy",
				u.bdev->name);
		break;
	}
}

/* ---- The job --------------------------------------------------------------------- */

static void job_finish(struct load_job *j)
{
	if (j->status < 0 && j->tr_note[0] != '\0') {
		size_t len = strlen(j->msg);

		snprintf(j->msg + len, sizeof(j->msg) - len,
			 " (everything else was undone; transport %s, created meanwhile, stays)",
			 j->tr_note);
	}
	j->done(j->arg, j->status, j->msg);
	plan_free(&j->plan);
	free(j->undo);
	free(j);
}

static void job_run(struct load_job *j)
{
	if (j->running)
		return; /* called back from inside: the loop below goes on */
	j->running = true;
	while (!j->waiting) {
		if (j->st->stopping) {
			/* The target goes away with everything: only tidy up. */
			job_fail(j, -ESHUTDOWN, "nvmft-tgt is shutting down");
			break;
		}
		if (j->status < 0 && !j->undoing)
			j->undoing = true;
		if (j->undoing) {
			if (j->n_undo == 0)
				break;
			undo_next(j);
		} else if (!build_next(j)) {
			break;
		}
	}
	j->running = false;
	if (!j->waiting)
		job_finish(j);
}

/* ---- Checking ------------------------------------------------------------------------ */

/* Entries of the running target say so in messages, not "entry N" of a file nobody wrote. */
static void mark_base(struct plan *p)
{
	static const char where[] = " (running target)";

	for (size_t i = 0; i < p->n_transports; i++)
		plan_origin_set(&p->transports[i].origin, p->transports[i].origin.what, where);
	for (size_t i = 0; i < p->n_bdevs; i++)
		plan_origin_set(&p->bdevs[i].origin, p->bdevs[i].origin.what, where);
	for (size_t i = 0; i < p->n_subsys; i++)
		plan_origin_set(&p->subsys[i].origin, p->subsys[i].origin.what, where);
	for (size_t i = 0; i < p->n_hosts; i++)
		plan_origin_set(&p->hosts[i].origin, p->hosts[i].origin.what, where);
	for (size_t i = 0; i < p->n_listeners; i++)
		plan_origin_set(&p->listeners[i].origin, p->listeners[i].origin.what, where);
	for (size_t i = 0; i < p->n_ns; i++)
		plan_origin_set(&p->ns[i].origin, p->ns[i].origin.what, where);
}

static int check_transport(struct app_state *st, enum nvmft_trtype trtype,
			   const struct plan_origin *o, char *err, size_t errlen)
{
	struct nvmft_transport_opts opts;

	if (nvmft_transport_find(st->tgt, trtype) != NULL)
		return 0;
	if (nvmft_transport_opts_init(trtype, &opts, sizeof(opts)) < 0)
		return plan_fail(err, errlen, o, "transport %s is not built into this libnvmft",
				 nvmft_trtype_name(trtype));
	return 0;
}

static int load_check(struct load_job *j, json_t *config, char *err, size_t errlen)
{
	struct app_state *st = j->st;
	struct plan *p = &j->plan;
	json_t *saved = save_config(st);
	int rc;

	if (saved == NULL)
		return plan_failf(err, errlen, "out of memory");
	rc = config_parse_json(saved, p, err, errlen);
	json_decref(saved);
	if (rc < 0) {
		/* save_config writes only what config.c reads: this is a bug. */
		app_log(st->log, NVMFT_LOG_ERR, "load_config: the running target reads back as: %s",
			err);
		return rc;
	}
	mark_base(p);
	j->base = (struct load_base){ p->n_transports, p->n_bdevs, p->n_subsys, p->n_allows,
				      p->n_hosts, p->n_listeners, p->n_ns };
	rc = config_parse_json(config, p, err, errlen);
	if (rc < 0)
		return rc;
	if (p->max_subsystems != st->max_subsystems)
		return plan_failf(err, errlen,
				  "config: nvmf_set_max_subsystems: max_subsystems is %u and "
				  "can only be set at start-up",
				  st->max_subsystems);
	rc = plan_check(p, err, errlen);
	for (size_t i = j->base.transports; rc == 0 && i < p->n_transports; i++)
		rc = check_transport(st, p->transports[i].trtype, &p->transports[i].origin, err,
				     errlen);
	for (size_t i = j->base.listeners; rc == 0 && i < p->n_listeners; i++)
		rc = check_transport(st, p->listeners[i].trtype, &p->listeners[i].origin, err,
				     errlen);
	return rc;
}

int load_start(struct app_state *st, json_t *config, load_done_fn done, void *arg, char *err,
	       size_t errlen)
{
	struct load_job *j = calloc(1, sizeof(*j));
	int rc;

	if (j == NULL)
		return -ENOMEM;
	j->st = st;
	j->done = done;
	j->arg = arg;
	plan_init(&j->plan);
	rc = load_check(j, config, err, errlen);
	if (rc < 0) {
		plan_free(&j->plan);
		free(j);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	job_run(j);
	return 0;
}
