/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * examples/custom_backend as a process: start it on 127.0.0.1 port 0, read
 * the port from its ready line, then write and read back through NVMe/TCP
 * (tests/common/tcp_host.c) so the worker-thread backend and its remote
 * completions really carry data, and stop it with SIGTERM.  Every wait is
 * a bounded loop that fails when the bound is reached.
 *
 * argv[1]: the custom_backend binary.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tcp_host.h"

#define NQN "nqn.2024-01.io.libnvmft.example:ram"
#define BLOCK 4096u
/* 100 ms steps: 600 of them is a minute on a loaded machine. */
#define STEP_MS 100
#define STEPS 600

static const char *exe_path;

struct proc {
	pid_t pid;
	int out_fd;
	char out[1024];
	size_t out_len;
	int status;
	bool exited;
};

static bool proc_reap(struct proc *p)
{
	if (!p->exited && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
		p->exited = true;
	return p->exited;
}

/* Start it with stdout on a pipe; stderr goes where ours goes (the test log). */
static void proc_start(struct proc *p, const char *port, const char *size_mib)
{
	int out[2];

	memset(p, 0, sizeof(*p));
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		execl(exe_path, exe_path, port, size_mib, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	p->out_fd = out[0];
	fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
}

/* The port of the "serving ... on 127.0.0.1:PORT as NQN" line. */
static void proc_wait_port(struct proc *p, char *port, size_t len)
{
	const char *at, *end;

	for (int i = 0; i < STEPS && strchr(p->out, '\n') == NULL; i++) {
		struct pollfd pf = { .fd = p->out_fd, .events = POLLIN };
		ssize_t n;

		if (proc_reap(p))
			fail_msg("custom_backend exited before its ready line (status %d)", p->status);
		if (poll(&pf, 1, STEP_MS) <= 0)
			continue;
		n = read(p->out_fd, p->out + p->out_len, sizeof(p->out) - 1 - p->out_len);
		if (n > 0)
			p->out_len += (size_t)n;
		p->out[p->out_len] = '\0';
	}
	at = strstr(p->out, "127.0.0.1:");
	if (strchr(p->out, '\n') == NULL || at == NULL)
		fail_msg("no ready line: \"%s\"", p->out);
	at += strlen("127.0.0.1:");
	end = strchr(at, ' ');
	assert_non_null(end);
	assert_true((size_t)(end - at) < len && end > at);
	memcpy(port, at, (size_t)(end - at));
	port[end - at] = '\0';
	assert_non_null(strstr(end, "as " NQN));
}

/* SIGTERM, then the exit code (0: it tore down cleanly). */
static int proc_stop(struct proc *p)
{
	kill(p->pid, SIGTERM);
	for (int i = 0; i < STEPS && !proc_reap(p); i++)
		poll(NULL, 0, STEP_MS);
	if (!p->exited) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &p->status, 0);
		fail_msg("custom_backend did not exit after SIGTERM");
	}
	close(p->out_fd);
	if (!WIFEXITED(p->status))
		fail_msg("custom_backend died of signal %d", WTERMSIG(p->status));
	return WEXITSTATUS(p->status);
}

static void fill(uint8_t *b, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)((i * 31u) ^ (seed * 7u) ^ (i >> 9));
}

static void test_write_read_back(void **state)
{
	struct th_cfg cfg = { .timeout_ms = 30000, .subnqn = NQN };
	struct th *admin, *io;
	struct proc p;
	char port[16];
	uint16_t cntlid;
	uint8_t *w = malloc(16 * BLOCK), *r = malloc(16 * BLOCK), zero[BLOCK];
	int st;

	(void)state;
	assert_non_null(w);
	assert_non_null(r);
	proc_start(&p, "0", "16");
	proc_wait_port(&p, port, sizeof(port));
	assert_int_not_equal(strcmp(port, "0"), 0);

	assert_int_equal(th_connect("127.0.0.1", port, &cfg, &admin), 0);
	TH_ASSERT_ST(admin, th_admin_up(admin, 0, &cntlid), 0);
	assert_int_equal(th_connect("127.0.0.1", port, &cfg, &io), 0);
	TH_ASSERT_ST(io, th_icreq(io, 0, 0, 0), 0);
	TH_ASSERT_ST(io, th_connect_io(io, 1, 31, cntlid), 0);

	/* 16 blocks at LBA 5 and one at the last LBA (16 MiB of 4 KiB blocks). */
	fill(w, 16 * BLOCK, 1);
	TH_ASSERT_ST(io, th_rw(io, true, 1, 5, 16, w, 16 * BLOCK, 0), 0);
	fill(zero, BLOCK, 2);
	TH_ASSERT_ST(io, th_rw(io, true, 1, 4095, 1, zero, BLOCK, 0), 0);
	memset(r, 0, 16 * BLOCK);
	TH_ASSERT_ST(io, th_rw(io, false, 1, 5, 16, r, 16 * BLOCK, 0), 0);
	assert_memory_equal(r, w, 16 * BLOCK);
	TH_ASSERT_ST(io, th_rw(io, false, 1, 4095, 1, r, BLOCK, 0), 0);
	assert_memory_equal(r, zero, BLOCK);
	/* Never written: the RAM disk starts zeroed. */
	memset(zero, 0, sizeof(zero));
	memset(r, 0xff, BLOCK);
	TH_ASSERT_ST(io, th_rw(io, false, 1, 100, 1, r, BLOCK, 0), 0);
	assert_memory_equal(r, zero, BLOCK);
	/* Past the end of the namespace. */
	st = th_rw(io, false, 1, 4096, 1, r, BLOCK, 0);
	assert_int_equal(st & 0xff, NVME_SC_LBA_RANGE);

	th_free(io);
	th_free(admin);
	assert_int_equal(proc_stop(&p), 0);
	free(w);
	free(r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_back),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s CUSTOM_BACKEND\n", argv[0]);
		return 1;
	}
	exe_path = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
