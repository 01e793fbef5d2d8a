/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging: level names, the level filter (disabled messages are not even
 * formatted), the fixed-size message buffer, and silence without a callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <nvmft/nvmft.h>

#include "util/log.h"

struct capture {
	int calls;
	enum nvmft_log_level level;
	char msg[1024];
	void *arg_seen;
};

static void capture_fn(void *arg, enum nvmft_log_level level, const char *msg)
{
	struct capture *c = arg;

	c->calls++;
	c->level = level;
	c->arg_seen = arg;
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

static void test_level_names(void **state)
{
	(void)state;
	assert_string_equal(nvmft_log_level_name(NVMFT_LOG_ERR), "error");
	assert_string_equal(nvmft_log_level_name(NVMFT_LOG_WARN), "warning");
	assert_string_equal(nvmft_log_level_name(NVMFT_LOG_NOTICE), "notice");
	assert_string_equal(nvmft_log_level_name(NVMFT_LOG_INFO), "info");
	assert_string_equal(nvmft_log_level_name(NVMFT_LOG_DEBUG), "debug");
	assert_string_equal(nvmft_log_level_name((enum nvmft_log_level)0), "unknown");
	assert_string_equal(nvmft_log_level_name((enum nvmft_log_level)2), "unknown");
	assert_string_equal(nvmft_log_level_name((enum nvmft_log_level)8), "unknown");
	assert_string_equal(nvmft_log_level_name((enum nvmft_log_level)-1), "unknown");
	assert_string_equal(nvmft_log_level_name((enum nvmft_log_level)1000), "unknown");
}

static void test_logf_formats(void **state)
{
	struct capture c = { 0 };
	struct nvmft_logger lg = { .fn = capture_fn, .arg = &c, .level = NVMFT_LOG_DEBUG };

	(void)state;
	nvmft_logf(&lg, NVMFT_LOG_WARN, "pg%u: %s %d", 3u, "stuck", -5);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.level, NVMFT_LOG_WARN);
	assert_ptr_equal(c.arg_seen, &c);
	assert_string_equal(c.msg, "pg3: stuck -5");
}

static void test_level_filter(void **state)
{
	struct capture c = { 0 };
	struct nvmft_logger lg = { .fn = capture_fn, .arg = &c, .level = NVMFT_LOG_NOTICE };
	int evaluated = 0;

	(void)state;
	nvmft_err(&lg, "e%d", evaluated++);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.level, NVMFT_LOG_ERR);
	assert_string_equal(c.msg, "e0");
	nvmft_warn(&lg, "w%d", evaluated++);
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.level, NVMFT_LOG_WARN);
	nvmft_notice(&lg, "n%d", evaluated++);
	assert_int_equal(c.calls, 3);
	assert_string_equal(c.msg, "n2");
	assert_int_equal(evaluated, 3);
	/* Above the level: not delivered, and the arguments are not even evaluated. */
	nvmft_info(&lg, "i%d", evaluated++);
	nvmft_debug(&lg, "d%d", evaluated++);
	assert_int_equal(c.calls, 3);
	assert_int_equal(evaluated, 3);

	lg.level = NVMFT_LOG_ERR;
	nvmft_warn(&lg, "w%d", evaluated++);
	assert_int_equal(c.calls, 3);
	nvmft_err(&lg, "only errors");
	assert_int_equal(c.calls, 4);
	assert_string_equal(c.msg, "only errors");

	lg.level = NVMFT_LOG_DEBUG;
	nvmft_debug(&lg, "d%d", evaluated++);
	assert_int_equal(c.calls, 5);
	assert_int_equal(c.level, NVMFT_LOG_DEBUG);
	assert_string_equal(c.msg, "d3");
}

static void test_no_callback_is_silent(void **state)
{
	struct nvmft_logger lg = { .fn = NULL, .arg = NULL, .level = NVMFT_LOG_DEBUG };
	int evaluated = 0;

	(void)state;
	nvmft_err(&lg, "%d", evaluated++);
	nvmft_log((const struct nvmft_logger *)NULL, NVMFT_LOG_ERR, "%d", evaluated++);
	assert_int_equal(evaluated, 0);
}

static void test_long_message_truncated(void **state)
{
	struct capture c = { 0 };
	struct nvmft_logger lg = { .fn = capture_fn, .arg = &c, .level = NVMFT_LOG_DEBUG };
	char big[900];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	nvmft_err(&lg, "%s", big);
	assert_int_equal(c.calls, 1);
	/* A fixed 512-byte buffer: 511 characters and the terminator. */
	assert_int_equal(strlen(c.msg), 511);
	assert_memory_equal(c.msg, big, 511);
}

/*
 * A target without a log callback never writes to stdout or stderr, even on
 * paths that log errors (freeing a target that still has a poll group).
 */
static void test_library_silent_without_callback(void **state)
{
	char path[] = "/tmp/nvmft-log-XXXXXX";
	int tmp = mkstemp(path);
	int saved_out, saved_err;
	struct nvmft_target_opts o;
	struct nvmft_target *tgt = NULL;
	struct nvmft_poll_group *pg = NULL;
	struct stat st;
	int rc_tgt, rc_pg;

	(void)state;
	assert_true(tmp >= 0);
	unlink(path);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(STDOUT_FILENO);
	saved_err = dup(STDERR_FILENO);
	assert_true(saved_out >= 0 && saved_err >= 0);
	dup2(tmp, STDOUT_FILENO);
	dup2(tmp, STDERR_FILENO);

	nvmft_target_opts_init(&o, sizeof(o));
	o.log_level = NVMFT_LOG_DEBUG; /* everything enabled, but nowhere to go */
	rc_tgt = nvmft_target_new(&o, &tgt);
	rc_pg = rc_tgt == 0 ? nvmft_poll_group_new(tgt, NULL, &pg) : -1;
	if (rc_pg == 0) {
		nvmft_target_free(tgt); /* refuses: a poll group exists (logs an error) */
		nvmft_target_poll(tgt);
		nvmft_poll_group_free(pg);
	}
	nvmft_target_free(tgt);

	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	assert_int_equal(rc_tgt, 0);
	assert_int_equal(rc_pg, 0);
	assert_int_equal(fstat(tmp, &st), 0);
	assert_int_equal(st.st_size, 0);
	close(tmp);
}

/* The target's callback receives library messages at its level, not above. */
static void test_target_logger_honours_level(void **state)
{
	struct capture c = { 0 };
	struct nvmft_target_opts o;
	struct nvmft_target *tgt;
	struct nvmft_poll_group *pg;

	(void)state;
	nvmft_target_opts_init(&o, sizeof(o));
	o.log_fn = capture_fn;
	o.log_arg = &c;
	o.log_level = NVMFT_LOG_ERR;
	assert_int_equal(nvmft_target_new(&o, &tgt), 0);
	assert_int_equal(nvmft_poll_group_new(tgt, NULL, &pg), 0);
	nvmft_target_free(tgt); /* refused with an error message */
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.level, NVMFT_LOG_ERR);
	assert_ptr_equal(c.arg_seen, &c);
	assert_non_null(strstr(c.msg, "poll group"));
	assert_int_equal(nvmft_poll_group_free(pg), 0);
	nvmft_target_free(tgt);
	assert_int_equal(c.calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_names),
		cmocka_unit_test(test_logf_formats),
		cmocka_unit_test(test_level_filter),
		cmocka_unit_test(test_no_callback_is_silent),
		cmocka_unit_test(test_long_message_truncated),
		cmocka_unit_test(test_library_silent_without_callback),
		cmocka_unit_test(test_target_logger_honours_level),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
