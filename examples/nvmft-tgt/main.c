/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft-tgt: an NVMe-over-Fabrics target daemon on libnvmft's public API.
 *
 * Threads: the main thread is the target's management thread.  It sleeps
 * in epoll on three descriptors: the target's (nvmft_target_get_fd()), a
 * signalfd for SIGINT/SIGTERM (the library installs no signal handlers; a
 * program that embeds it decides what signals mean), and the poll group
 * threads' exit eventfd.  Each poll group has a thread of its own
 * (threads.c).
 *
 * Life: parse flags and config into a plan and validate all of it → target
 * and transports → poll group threads → backends, subsystems, namespaces
 * (asynchronous: wait in the loop) → listeners → "ready" on stdout → serve
 * until a signal → stop the poll groups (each thread stops its own) → join
 * → free the poll groups → free the target → free the backends.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <nvmft/nvmft.h>

#include "app.h"
#include "cli.h"
#include "config.h"
#include "plan.h"
#include "rpc.h"
#include "rpc_server.h"
#include "setup.h"
#include "state.h"
#include "threads.h"

enum run_state {
	ST_STARTING, /* namespaces attaching */
	ST_RUNNING,  /* ready line printed */
	ST_STOPPING, /* poll groups stopping */
};

struct mgmt {
	const struct app_logger *log;
	struct app_target at;
	struct app_state st;   /* once running: what JSON-RPC changes */
	struct rpc_server *srv; /* NULL without JSON-RPC, or once stopping */
	struct rpc_ctx rpc;
	struct pg_threads *pt;
	enum run_state state;
	int status; /* exit status */
	int sfd;    /* signalfd */
	int epfd;
	bool poll_error_logged;
};

static void begin_stop(struct mgmt *m, int status)
{
	if (status != APP_EXIT_OK)
		m->status = status;
	if (m->state == ST_STOPPING)
		return;
	m->state = ST_STOPPING;
	setup_release_faults(&m->at);
	/* Clients go first: no change may start while the poll groups stop. */
	state_stop(&m->st);
	if (m->srv != NULL) {
		if (m->rpc.st != NULL)
			rpc_stop(&m->rpc);
		rpc_server_close(m->srv);
		m->srv = NULL;
	}
	pg_threads_stop(m->pt);
}

static int watch(struct mgmt *m, int fd);

/* Running: JSON-RPC takes over the objects start-up built. */
static int start_rpc(struct mgmt *m)
{
	int rc;

	if (m->srv == NULL)
		return 0;
	rc = state_adopt(&m->st, &m->at);
	if (rc == 0)
		rc = watch(m, rpc_server_get_fd(m->srv));
	if (rc < 0)
		return rc;
	rpc_init(&m->rpc, &m->st, m->srv);
	app_log(m->log, NVMFT_LOG_NOTICE, "JSON-RPC server on %s", rpc_server_path(m->srv));
	return 0;
}

/* Once every namespace is attached, open the doors and say so. */
static void check_started(struct mgmt *m)
{
	if (m->at.ns_pending != 0)
		return;
	if (m->at.ns_status < 0 || setup_listeners(&m->at) < 0 || start_rpc(m) < 0) {
		begin_stop(m, APP_EXIT_FAILURE);
		return;
	}
	m->state = ST_RUNNING;
	setup_print_ready(&m->at, stdout);
}

static void on_signal(struct mgmt *m)
{
	struct signalfd_siginfo si;

	while (read(m->sfd, &si, sizeof(si)) == sizeof(si)) {
		/*
		 * Repeats are expected (a wrapper such as timeout(1) forwards the
		 * signal its process group got too), so they do not cut the
		 * shutdown short; SIGQUIT or SIGKILL do that.
		 */
		if (m->state == ST_STOPPING) {
			app_log(m->log, NVMFT_LOG_NOTICE, "%s: already shutting down",
				strsignal((int)si.ssi_signo));
			continue;
		}
		app_log(m->log, NVMFT_LOG_NOTICE, "%s: shutting down",
			strsignal((int)si.ssi_signo));
		begin_stop(m, APP_EXIT_OK);
	}
}

static void on_thread_exit(struct mgmt *m)
{
	int rc = pg_threads_reap(m->pt);

	if (rc < 0)
		begin_stop(m, APP_EXIT_FAILURE);
}

static void mgmt_loop(struct mgmt *m)
{
	struct epoll_event ev[4];
	int n, timeout;

	for (;;) {
		n = nvmft_target_poll(m->at.tgt);
		if (n < 0) {
			if (!m->poll_error_logged)
				app_log(m->log, NVMFT_LOG_ERR, "nvmft_target_poll: %s",
					strerror(-n));
			m->poll_error_logged = true;
			begin_stop(m, APP_EXIT_FAILURE);
		}
		if (m->state == ST_STARTING)
			check_started(m);
		if (m->state == ST_STOPPING && pg_threads_all_exited(m->pt))
			return;
		timeout = n > 0 ? 0 : nvmft_target_get_timeout_ms(m->at.tgt);
		n = epoll_wait(m->epfd, ev, 4, timeout);
		if (n < 0 && errno != EINTR) {
			app_log(m->log, NVMFT_LOG_ERR, "epoll_wait: %s", strerror(errno));
			begin_stop(m, APP_EXIT_FAILURE);
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == m->sfd)
				on_signal(m);
			else if (ev[i].data.fd == pg_threads_get_fd(m->pt))
				on_thread_exit(m);
			else if (m->srv != NULL && ev[i].data.fd == rpc_server_get_fd(m->srv))
				rpc_server_poll(m->srv);
		}
	}
}

static int watch(struct mgmt *m, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	int rc = 0;

	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rc = -errno;
		app_log(m->log, NVMFT_LOG_ERR, "epoll_ctl: %s", strerror(-rc));
	}
	return rc;
}

/* Everything from the target's creation to its end; returns the exit status. */
static int run(const struct plan *plan, const struct cli *cli, const struct app_logger *log,
	       int sfd, struct rpc_server *srv)
{
	struct mgmt m = { .log = log, .sfd = sfd, .state = ST_STARTING, .status = APP_EXIT_OK,
			  .srv = srv };
	int rc;

	state_init(&m.st, log);

	m.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m.epfd < 0) {
		app_log(log, NVMFT_LOG_ERR, "epoll_create1: %s", strerror(errno));
		return APP_EXIT_FAILURE;
	}
	rc = setup_target(&m.at, plan, log);
	if (rc == 0) {
		rc = pg_threads_new(m.at.tgt, cli->threads, cli->busy_poll, log, &m.pt);
		if (rc < 0)
			app_log(log, NVMFT_LOG_ERR, "cannot create poll groups: %s", strerror(-rc));
	}
	if (rc == 0)
		rc = watch(&m, sfd);
	if (rc == 0)
		rc = watch(&m, pg_threads_get_fd(m.pt));
	if (rc == 0)
		rc = watch(&m, nvmft_target_get_fd(m.at.tgt));
	if (rc < 0) {
		/* No thread runs yet: free what exists and leave. */
		rpc_server_close(m.srv);
		pg_threads_free(m.pt);
		setup_free_target(&m.at);
		setup_free_backends(&m.at);
		close(m.epfd);
		return APP_EXIT_FAILURE;
	}

	rc = pg_threads_run(m.pt);
	if (rc < 0)
		app_log(log, NVMFT_LOG_ERR, "cannot start poll group threads: %s", strerror(-rc));
	else
		rc = setup_storage(&m.at);
	if (rc < 0)
		begin_stop(&m, APP_EXIT_FAILURE);
	mgmt_loop(&m);

	rc = pg_threads_free(m.pt);
	if (rc == 0) {
		/* Completions still queued run in here, for requests nobody waits for. */
		setup_free_target(&m.at);
		state_free(&m.st);
		setup_free_backends(&m.at);
	} else {
		/* Freeing the target would free what a stuck group still uses. */
		app_log(log, NVMFT_LOG_ERR, "leaving the target allocated");
		m.status = APP_EXIT_FAILURE;
	}
	close(m.epfd);
	return m.status;
}

/* SIGINT/SIGTERM are read from a signalfd; block them before any thread starts. */
static int signals_open(void)
{
	sigset_t mask;
	int fd;

	/* A host that hangs up mid-send must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0)
		return -1;
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd;
}

static int load_plan(const struct cli *cli, struct plan *plan, char *err, size_t errlen)
{
	int rc = 0;

	if (cli->config_path != NULL)
		rc = config_load_file(cli->config_path, plan, err, errlen);
	if (rc == 0)
		rc = cli_to_plan(cli, plan, err, errlen);
	/* A target managed over JSON-RPC may start with nothing to listen on. */
	if (rc == 0)
		rc = cli_rpc_path(cli) ? plan_check(plan, err, errlen)
				       : plan_validate(plan, err, errlen);
	/* As in SPDK, every bdev has a UUID, and its namespace reports it. */
	if (rc == 0 && state_fill_uuids(plan) < 0)
		rc = plan_failf(err, errlen, "no random bytes for bdev UUIDs");
	return rc;
}

int main(int argc, char **argv)
{
	struct app_logger log = { .level = NVMFT_LOG_NOTICE };
	struct rpc_server *srv = NULL;
	struct plan plan;
	struct cli cli;
	char err[1024];
	int status, sfd;

	if (!nvmft_version_check(NVMFT_VERSION_MAJOR, NVMFT_VERSION_MINOR)) {
		fprintf(stderr,
			APP_NAME ": error: libnvmft %s is older than the %s it was built for\n",
			nvmft_version(), NVMFT_VERSION_STRING);
		return APP_EXIT_FAILURE;
	}
	plan_init(&plan);
	if (cli_parse(argc, argv, &cli, err, sizeof(err)) < 0) {
		fprintf(stderr, APP_NAME ": error: %s\n", err);
		cli_free(&cli);
		return APP_EXIT_USAGE;
	}
	if (cli.help || cli.version) {
		if (cli.help)
			cli_usage(stdout);
		else
			printf(APP_NAME " %s (libnvmft %s)\n", NVMFT_VERSION_STRING,
			       nvmft_version());
		cli_free(&cli);
		return APP_EXIT_OK;
	}
	log.level = cli.log_level;
	if (load_plan(&cli, &plan, err, sizeof(err)) < 0) {
		fprintf(stderr, APP_NAME ": error: %s\n", err);
		status = APP_EXIT_USAGE;
		goto out;
	}
	/* Before anything starts: a socket another live process serves means "no". */
	if (cli_rpc_path(&cli) != NULL &&
	    rpc_server_open(cli_rpc_path(&cli), &log, &srv, err, sizeof(err)) < 0) {
		app_log(&log, NVMFT_LOG_ERR, "%s", err);
		status = APP_EXIT_FAILURE;
		goto out;
	}
	sfd = signals_open();
	if (sfd < 0) {
		app_log(&log, NVMFT_LOG_ERR, "signalfd: %s", strerror(errno));
		rpc_server_close(srv);
		status = APP_EXIT_FAILURE;
		goto out;
	}
	status = run(&plan, &cli, &log, sfd, srv);
	close(sfd);
out:
	plan_free(&plan);
	cli_free(&cli);
	return status;
}
