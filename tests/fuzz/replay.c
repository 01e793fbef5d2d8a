/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Standalone driver for the fuzz targets: runs LLVMFuzzerTestOneInput()
 * over every file named on the command line, and over every regular file
 * of every directory named there (in name order, so runs are repeatable).
 * Built with any compiler, without libFuzzer, so the committed corpus is
 * replayed by every build's test suite (and under valgrind or ASan).
 *
 * A failing input aborts inside the target; the name of the input being
 * run was printed just before, so the log says which one.  Exit status 0
 * when every input ran, 1 when none was found or a file could not be read.
 *
 * With --expect-crash first, every input runs in a child process and must
 * fail there (abort, sanitizer report, non-zero exit): that is how inputs
 * for library bugs not fixed yet (known-bugs/<target>/) are kept honest.
 * One that passes means the bug is gone: move it into corpus/<target>/.
 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz_common.h"

/* libFuzzer calls it when a target defines it; so do we. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

struct replay {
	unsigned int inputs;
	unsigned int errors;
	size_t bytes;
	bool expect_crash;
};

/* Run one input in a child; true when it failed there as expected. */
static bool run_expect_crash(const uint8_t *buf, size_t size)
{
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("replay: fork");
		return false;
	}
	if (pid == 0) {
		LLVMFuzzerTestOneInput(buf, size);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid)
		return false;
	if (WIFSIGNALED(st)) {
		printf("replay: failed as expected (signal %d)\n", WTERMSIG(st));
		return true;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		printf("replay: failed as expected (exit status %d)\n", WEXITSTATUS(st));
		return true;
	}
	return false;
}

static void replay_file(struct replay *r, const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		r->errors++;
		goto out;
	}
	/* Exactly the file's size, so a read past the input is caught by ASan/valgrind. */
	buf = malloc(size > 0 ? (size_t)size : 1);
	if (buf == NULL || (size > 0 && fread(buf, 1, (size_t)size, f) != (size_t)size)) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		r->errors++;
		goto out;
	}
	printf("replay: %s (%ld bytes)\n", path, size);
	fflush(stdout);
	if (r->expect_crash) {
		if (!run_expect_crash(buf, (size_t)size)) {
			fprintf(stderr, "replay: %s no longer fails: the bug is fixed, move the file "
				"into the target's corpus directory\n", path);
			r->errors++;
		}
	} else {
		LLVMFuzzerTestOneInput(buf, (size_t)size);
	}
	r->inputs++;
	r->bytes += (size_t)size;
out:
	free(buf);
	if (f != NULL)
		fclose(f);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_dir(struct replay *r, const char *dir)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		r->errors++;
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 64;
			nn = realloc(names, cap * sizeof(*names));
			if (nn == NULL) {
				fprintf(stderr, "replay: out of memory\n");
				exit(1);
			}
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (names[n] == NULL) {
			fprintf(stderr, "replay: out of memory\n");
			exit(1);
		}
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		const char *name = names[i];
		size_t len = strlen(dir) + strlen(name) + 2;
		char *path = malloc(len);
		struct stat st;

		if (path == NULL) {
			fprintf(stderr, "replay: out of memory\n");
			exit(1);
		}
		snprintf(path, len, "%s/%s", dir, name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			replay_file(r, path);
		free(path);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	struct replay r = { 0 };
	int first = 1;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1 && strcmp(argv[1], "--expect-crash") == 0) {
		r.expect_crash = true;
		first = 2;
	}
	if (argc <= first) {
		fprintf(stderr, "usage: %s [--expect-crash] CORPUS_DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = first; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			r.errors++;
		} else if (S_ISDIR(st.st_mode)) {
			replay_dir(&r, argv[i]);
		} else {
			replay_file(&r, argv[i]);
		}
	}
	printf("replay: %u inputs (%zu bytes) replayed, %u errors\n", r.inputs, r.bytes, r.errors);
	if (r.inputs == 0)
		fprintf(stderr, "replay: no input found\n");
	return r.errors > 0 || r.inputs == 0 ? 1 : 0;
}
