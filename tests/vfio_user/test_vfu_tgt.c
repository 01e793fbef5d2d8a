/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft-tgt -l vfio-user:DIR, end to end: the daemon in its own process
 * (event-driven and busy-polling, one and two poll groups), the client
 * library as a separate driver on the socket: identify, queues, data
 * written and read back, a client that comes back after leaving, vfu-perf
 * runs with verification, the flag rules for vfio-user listeners, a clean
 * exit on SIGTERM with clients still attached, and the event-driven tick
 * slowing down while a connected client is idle (and speeding up again).
 *
 * Arguments: the nvmft-tgt and vfu-perf executables.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include "vfu_client.h"

static const char *tgt_path;
static const char *perf_path;

struct proc {
	pid_t pid;
	int out;
	char text[8192];
	size_t len;
};

static void proc_start(struct proc *p, const char *path, const char *const *args, bool capture)
{
	char *argv[40];
	int fds[2] = { -1, -1 };
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	argv[n++] = (char *)path;
	while (*args != NULL && n < 39)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	if (capture)
		assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		if (capture) {
			dup2(fds[1], STDOUT_FILENO);
			dup2(fds[1], STDERR_FILENO);
		}
		execv(path, argv);
		_exit(127);
	}
	p->out = fds[0];
	if (capture) {
		close(fds[1]);
		fcntl(p->out, F_SETFL, O_NONBLOCK);
	}
}

/* Collect output for up to @ms; true once @want appeared. */
static bool proc_wait_text(struct proc *p, const char *want, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		ssize_t n = read(p->out, p->text + p->len, sizeof(p->text) - 1 - p->len);

		if (n > 0) {
			p->len += (size_t)n;
			p->text[p->len] = '\0';
		}
		if (strstr(p->text, want) != NULL)
			return true;
		if (n == 0)
			return false;
		poll(NULL, 0, 10);
	}
	return false;
}

static int proc_wait_exit(struct proc *p, int ms)
{
	int st;

	for (int i = 0; i < ms / 10; i++) {
		char b[512];

		while (p->out > 0 && read(p->out, b, sizeof(b)) > 0)
			;
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			if (p->out > 0)
				close(p->out);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		poll(NULL, 0, 10);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	if (p->out > 0)
		close(p->out);
	return -1;
}

static struct vfuc *client(const char *sock)
{
	struct vfuc_opts o = { .timeout_ms = 10000 };
	struct vfuc *c = NULL;

	assert_int_equal(vfuc_connect(sock, &o, &c), 0);
	assert_int_equal(vfuc_version(c, "{\"capabilities\":{\"max_msg_fds\":8}}"), 0);
	assert_int_equal(vfuc_mem_add(c, 0x100000000ull, 16u << 20), 0);
	assert_int_equal(vfuc_setup_bar0(c), 0);
	assert_int_equal(vfuc_nvme_enable(c, 32), 0);
	return c;
}

/* Identify, two queue pairs, patterned data through both, read back through the other. */
static void exercise(const char *sock, const char *nqn, uint32_t seed)
{
	struct vfuc *c = client(sock);
	struct nvme_id_ctrl *id;
	struct vfuc_q q1, q2;
	uint64_t buf, w, r;

	assert_non_null(c->db); /* the doorbells are mapped, not trapped */
	buf = vfuc_alloc(c, 4096, 4096);
	assert_int_equal(vfuc_identify(c, NVME_IDENTIFY_CNS_CTRL, 0, buf), 0);
	id = vfuc_va(c, buf);
	assert_int_equal(memcmp(id->subnqn, nqn, strlen(nqn)), 0);
	assert_int_equal(vfuc_set_num_queues(c, 2, 2), 0);
	assert_int_equal(vfuc_nvme_qpair(c, 1, 64, false, 0, &q1), 0);
	assert_int_equal(vfuc_nvme_qpair(c, 2, 32, false, 0, &q2), 0);
	w = vfuc_alloc(c, 65536, 4096);
	r = vfuc_alloc(c, 65536, 4096);
	for (int i = 0; i < 64; i++) {
		uint64_t slba = (uint64_t)(seed + i * 37) % 8000;

		tu_fill_pattern(vfuc_va(c, w), 65536, seed + (uint32_t)i);
		assert_int_equal(vfuc_rw(i & 1 ? &q1 : &q2, true, 1, slba, 128, 512, w), 0);
		memset(vfuc_va(c, r), 0, 65536);
		assert_int_equal(vfuc_rw(i & 1 ? &q2 : &q1, false, 1, slba, 128, 512, r), 0);
		assert_memory_equal(vfuc_va(c, r), vfuc_va(c, w), 65536);
	}
	vfuc_close(c);
}

static void run_daemon(const char *mode, const char *threads)
{
	char *dir = tu_mkdtemp(), sock[300], line[400];
	const char *args[] = { "-l", NULL, "--ns", "ram:16M", mode, "-m", threads, NULL };
	char listen[300];
	struct proc t;

	snprintf(listen, sizeof(listen), "vfio-user:%s", dir);
	snprintf(sock, sizeof(sock), "%s/cntrl", dir);
	args[1] = listen;
	proc_start(&t, tgt_path, args, true);
	snprintf(line, sizeof(line),
		 "ready: listening on vfio-user %s (subsystem nqn.2024-01.io.libnvmft:tgt)", dir);
	if (!proc_wait_text(&t, line, 10000))
		fail_msg("no ready line: %s", t.text);
	exercise(sock, "nqn.2024-01.io.libnvmft:tgt", 1);
	/* The same socket again, and a second client at the same time. */
	{
		struct vfuc *held = client(sock);

		exercise(sock, "nqn.2024-01.io.libnvmft:tgt", 2);
		/* A client still attached when the daemon is told to go. */
		kill(t.pid, SIGTERM);
		assert_int_equal(proc_wait_exit(&t, 30000), 0);
		assert_true(vfuc_wait_eof(held));
		vfuc_close(held);
	}
	/* The socket is gone with the daemon. */
	assert_int_equal(access(sock, F_OK), -1);
	tu_rmtree(dir);
	free(dir);
}

static void test_event_mode(void **state)
{
	(void)state;
	run_daemon("--event", "1");
}

static void test_busy_poll(void **state)
{
	(void)state;
	run_daemon("--busy-poll", "2");
}

static void test_vfu_perf(void **state)
{
	char *dir = tu_mkdtemp(), sock[300], listen[300];
	const char *args[] = { "-n", "nqn.2024-01.io.example:perf", "-l", NULL, "--ns", "ram:8M", NULL };
	struct proc t, p;

	(void)state;
	snprintf(listen, sizeof(listen), "vfio-user:%s", dir);
	snprintf(sock, sizeof(sock), "%s/cntrl", dir);
	args[3] = listen;
	proc_start(&t, tgt_path, args, true);
	assert_true(proc_wait_text(&t, "ready:", 10000));
	{
		const char *w[] = { "-s",        sock,      "-q",    "16",     "-w",
				    "randwrite", "--count", "20000", "--json", NULL };
		const char *r[] = { "-s", sock, "-q", "8", "-w", "randread", "--verify", "--json", NULL };
		const char *s[] = { "-s",   sock, "-q",  "4",        "-w",  "read",   "-o",
				    "8192", "-t", "0.5", "--warmup", "0.1", "--json", NULL };

		proc_start(&p, perf_path, w, true);
		assert_true(proc_wait_text(&p, "\"ok\":true", 30000));
		assert_non_null(strstr(p.text, "\"ios\":20000"));
		assert_int_equal(proc_wait_exit(&p, 10000), 0);
		proc_start(&p, perf_path, r, true);
		assert_true(proc_wait_text(&p, "\"ok\":true", 30000));
		assert_non_null(strstr(p.text, "\"verify_failures\":0"));
		assert_int_equal(proc_wait_exit(&p, 10000), 0);
		proc_start(&p, perf_path, s, true);
		assert_true(proc_wait_text(&p, "\"ok\":true", 30000));
		assert_non_null(strstr(p.text, "\"doorbells\":\"mapped\""));
		assert_int_equal(proc_wait_exit(&p, 10000), 0);
	}
	kill(t.pid, SIGTERM);
	assert_int_equal(proc_wait_exit(&t, 30000), 0);
	tu_rmtree(dir);
	free(dir);
}

/* How often the daemon's poll group threads were scheduled in so far (schedstat). */
static uint64_t pg_runs(pid_t pid)
{
	char path[300], comm[64];
	struct dirent *de;
	uint64_t runs = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		unsigned long long ns, wait, n;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, de->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = '\0';
		fclose(f);
		if (strncmp(comm, "nvmft-pg", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid, de->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		assert_int_equal(fscanf(f, "%llu %llu %llu", &ns, &wait, &n), 3);
		fclose(f);
		runs += n;
	}
	closedir(d);
	return runs;
}

/*
 * Event-driven, one client connected and idle: the tick that looks at the
 * mapped doorbells slows from 1 ms to 10 ms after a long quiet spell (a
 * thousand wake-ups a second before), and a command brings it back.
 */
static void test_event_idle_backoff(void **state)
{
	char *dir = tu_mkdtemp(), sock[300], listen[300];
	const char *args[] = { "-l", NULL, "--ns", "ram:8M", "--event", NULL };
	uint64_t idle, busy, buf;
	struct vfuc_q q;
	struct vfuc *c;
	struct proc t;
	int rc;

	(void)state;
	snprintf(listen, sizeof(listen), "vfio-user:%s", dir);
	snprintf(sock, sizeof(sock), "%s/cntrl", dir);
	args[1] = listen;
	proc_start(&t, tgt_path, args, true);
	assert_true(proc_wait_text(&t, "ready:", 10000));
	c = client(sock);
	assert_int_equal(vfuc_set_num_queues(c, 1, 1), 0);
	assert_int_equal(vfuc_nvme_qpair(c, 1, 16, false, 0, &q), 0);
	buf = vfuc_alloc(c, 4096, 4096);
	assert_int_equal(vfuc_rw(&q, false, 1, 0, 8, 512, buf), 0);
	/* Quiet for 2 s: the tick is at 10 ms by now (~100 runs a second; 1000 at a 1 ms tick). */
	poll(NULL, 0, 2000);
	idle = pg_runs(t.pid);
	poll(NULL, 0, 1000);
	idle = pg_runs(t.pid) - idle;
	/* A command is still seen, and brings the fast tick back. */
	rc = vfuc_rw(&q, false, 1, 0, 8, 512, buf);
	busy = pg_runs(t.pid);
	poll(NULL, 0, 100);
	busy = pg_runs(t.pid) - busy;
	/* The daemon goes first, whatever the verdict. */
	vfuc_close(c);
	kill(t.pid, SIGTERM);
	assert_int_equal(proc_wait_exit(&t, 30000), 0);
	tu_rmtree(dir);
	free(dir);
	print_message("# idle client: the poll group ran %llu times in 1 s, %llu in the 100 ms after a command\n",
		      (unsigned long long)idle, (unsigned long long)busy);
	assert_int_equal(rc, 0);
	if (idle > 250)
		fail_msg("the idle poll group ran %llu times in 1 s", (unsigned long long)idle);
	if (busy < 30)
		fail_msg("the poll group ran only %llu times in the 100 ms after a command",
			 (unsigned long long)busy);
}

/* Flag rules: exit status 2 and a message naming the flag. */
static void test_flag_rules(void **state)
{
	char *dir = tu_mkdtemp(), listen[300];
	struct proc t;

	(void)state;
	snprintf(listen, sizeof(listen), "vfio-user:%s", dir);
	{
		/* Shared by two subsystems: which one would the function be? */
		const char *a[] = { "-l",   listen,   "-n", "nqn.2024-01.io.example:a",
				    "--ns", "ram:1M", "-n", "nqn.2024-01.io.example:b",
				    "--ns", "ram:1M", NULL };

		proc_start(&t, tgt_path, a, true);
		assert_true(proc_wait_text(&t, "belongs to one subsystem", 5000));
		assert_int_equal(proc_wait_exit(&t, 5000), 2);
	}
	{
		const char *a[] = { "-l", "vfio-user:", "--ns", "ram:1M", NULL };

		proc_start(&t, tgt_path, a, true);
		assert_true(proc_wait_text(&t, "expected vfio-user:DIR", 5000));
		assert_int_equal(proc_wait_exit(&t, 5000), 2);
	}
	{
		/* One directory, two subsystems. */
		const char *a[] = { "-n", "nqn.2024-01.io.example:a", "-l", listen, "--ns", "ram:1M",
				    "-n", "nqn.2024-01.io.example:b", "-l", listen, "--ns", "ram:1M",
				    NULL };

		proc_start(&t, tgt_path, a, true);
		assert_true(proc_wait_text(&t, "serves another subsystem", 5000));
		assert_int_equal(proc_wait_exit(&t, 5000), 2);
	}
	{
		char longdir[200];

		memset(longdir, 'd', sizeof(longdir) - 1);
		longdir[sizeof(longdir) - 1] = '\0';
		memcpy(longdir, "vfio-user:/", 11);
		const char *a[] = { "-l", longdir, "--ns", "ram:1M", NULL };

		proc_start(&t, tgt_path, a, true);
		assert_true(proc_wait_text(&t, "not a usable socket directory", 5000));
		assert_int_equal(proc_wait_exit(&t, 5000), 2);
	}
	{
		/* A TCP listener next to it still works as before, in the same daemon. */
		const char *a[] = { "-n", "nqn.2024-01.io.example:a", "-l",   listen,
				    "-l", "tcp:127.0.0.1:0",          "--ns", "ram:1M",
				    NULL };

		proc_start(&t, tgt_path, a, true);
		assert_true(proc_wait_text(&t, "ready: listening on vfio-user", 10000));
		assert_non_null(strstr(t.text, ", tcp 127.0.0.1:"));
		kill(t.pid, SIGTERM);
		assert_int_equal(proc_wait_exit(&t, 30000), 0);
	}
	tu_rmtree(dir);
	free(dir);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_mode),
		cmocka_unit_test(test_busy_poll),
		cmocka_unit_test(test_vfu_perf),
		cmocka_unit_test(test_flag_rules),
		cmocka_unit_test(test_event_idle_backoff),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s NVMFT-TGT VFU-PERF\n", argv[0]);
		return 2;
	}
	tgt_path = argv[1];
	perf_path = argv[2];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("vfu_tgt", tests, NULL, NULL);
}
