/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client memory the target can rely on: DMA_MAP takes a file only when it
 * cannot shrink under the mapping (sealed with F_SEAL_SHRINK), because the
 * target's accesses past the end of a shrunk file raise SIGBUS and the
 * library installs no handler: the whole process would die.  Unsealed
 * memory gets an EPERM reply and the connection goes on; a client whose
 * memory is sealed cannot shrink it, and I/O to its last page still works;
 * with the application's opt-in (allow_unsealed_mem) unsealed memory is
 * taken, and a client that then shrinks it does kill the target (in a
 * child process here), which is why the opt-in is off by default.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include "vfu_env.h"

#define CAPS "{\"capabilities\":{\"max_msg_fds\":8}}"
#define NSID 1u
#define OTHER_IOVA 0x200000000ull

static void opts_opt_in(struct nvmft_transport_opts *o)
{
	assert_int_equal(nvmft_transport_opts_init(NVMFT_TRTYPE_VFIOUSER, o, sizeof(*o)), 0);
	assert_false(o->allow_unsealed_mem);
	o->allow_unsealed_mem = true;
}

/* DMA_MAP of [@iova, + @size) from @fd, sent raw: the reply's header. */
static struct vfu_hdr dma_map_raw(struct vfuc *c, int fd, uint64_t iova, uint64_t size)
{
	struct vfu_dma_map m = {
		.argsz = sizeof(m), .flags = VFU_DMA_READ | VFU_DMA_WRITE, .addr = iova, .size = size
	};
	struct vfu_hdr h;
	int id = vfuc_send_raw(c, VFU_CMD_DMA_MAP, 0, &m, sizeof(m), &fd, 1);

	assert_true(id >= 0);
	assert_int_equal(vfuc_recv(c, &h, NULL, 0, NULL, NULL), 0);
	assert_int_equal(h.msg_id, id);
	return h;
}

static void test_unsealed_refused(void **state)
{
	struct nvmft_transport_opts o;
	struct vfu_hdr h;
	struct ve e;
	struct vfuc *c;
	int fd;

	(void)state;
	ve_init(&e, NULL);
	nvmft_transport_get_opts(e.tr, &o, sizeof(o));
	assert_false(o.allow_unsealed_mem);
	c = ve_client(&e, CAPS);
	/* A sealable memfd nobody sealed: an error reply with EPERM, nothing mapped. */
	fd = vfuc_memfd("unsealed", 0x10000, false);
	assert_true(fd >= 0);
	h = dma_map_raw(c, fd, OTHER_IOVA, 0x10000);
	assert_true(h.flags & VFU_F_ERROR);
	assert_int_equal(h.error, EPERM);
	close(fd);
	/* Not even sealable; sealed against growing only: the same. */
	fd = memfd_create("plain", MFD_CLOEXEC);
	assert_int_equal(ftruncate(fd, 0x10000), 0);
	assert_int_equal(vfuc_dma_map(c, fd, 0, OTHER_IOVA, 0x10000, 3), -EPERM);
	close(fd);
	fd = vfuc_memfd("grow", 0x10000, false);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), 0);
	assert_int_equal(vfuc_dma_map(c, fd, 0, OTHER_IOVA, 0x10000, 3), -EPERM);
	/* The range is still free: a late seal makes the same file acceptable. */
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	assert_int_equal(vfuc_dma_map(c, fd, 0, OTHER_IOVA, 0x10000, 3), 0);
	close(fd);
	/* The client library's guest memory, unsealed on purpose: refused the same way. */
	c->o.unsealed_mem = true;
	assert_int_equal(vfuc_mem_add(c, VE_MEM_IOVA, VE_MEM_SIZE), -EPERM);
	/* The connection goes on: it is a refusal, not a broken stream. */
	assert_int_equal(vfuc_setup_bar0(c), 0);
	assert_int_equal(ve_ctrlrs(&e), 1);
	vfuc_close(c);
	ve_fini(&e);
}

static void test_sealed_cannot_shrink(void **state)
{
	const uint64_t last = VE_MEM_IOVA + VE_MEM_SIZE - 4096;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;

	(void)state;
	ve_init(&e, NULL);
	c = ve_client_io(&e, &q, 16);
	/* Sealed by the client library: shrinking fails, whatever the new size. */
	assert_int_equal(ftruncate(c->mem_fd, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(c->mem_fd, VE_MEM_SIZE - 4096), -1);
	assert_int_equal(errno, EPERM);
	/* The target keeps running: data into and out of the last page of client memory. */
	tu_fill_pattern(tb_data(e.tb), 4096, 7);
	memset(vfuc_va(c, last), 0, 4096);
	assert_int_equal(vfuc_rw(&q, false, NSID, 0, 8, VE_BS, last), 0);
	assert_memory_equal(vfuc_va(c, last), tb_data(e.tb), 4096);
	tu_fill_pattern(vfuc_va(c, last), 4096, 8);
	assert_int_equal(vfuc_rw(&q, true, NSID, 16, 8, VE_BS, last), 0);
	assert_memory_equal(tb_data(e.tb) + 16 * VE_BS, vfuc_va(c, last), 4096);
	vfuc_close(c);
	ve_fini(&e);
}

static void test_opt_in(void **state)
{
	struct nvmft_transport_opts o;
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;
	int fd;

	(void)state;
	opts_opt_in(&o);
	ve_init(&e, &o);
	nvmft_transport_get_opts(e.tr, &o, sizeof(o));
	assert_true(o.allow_unsealed_mem);
	c = ve_client(&e, CAPS);
	c->o.unsealed_mem = true;
	assert_int_equal(vfuc_mem_add(c, VE_MEM_IOVA, VE_MEM_SIZE), 0);
	assert_int_equal(vfuc_setup_bar0(c), 0);
	assert_int_equal(vfuc_nvme_enable(c, 32), 0);
	assert_int_equal(vfuc_set_num_queues(c, 1, 1), 0);
	assert_int_equal(vfuc_nvme_qpair(c, 1, 16, false, 0, &q), 0);
	assert_int_equal(vfuc_rw(&q, false, NSID, 0, 8, VE_BS, vfuc_alloc(c, 4096, 4096)), 0);
	/* The file must still hold the range when it is mapped. */
	fd = vfuc_memfd("short", 0x2000, false);
	assert_int_equal(vfuc_dma_map(c, fd, 0, OTHER_IOVA, 0x4000, 3), -EINVAL);
	assert_int_equal(vfuc_dma_map(c, fd, 0, OTHER_IOVA, 0x2000, 3), 0);
	close(fd);
	vfuc_close(c);
	ve_fini(&e);
}

/*
 * What the default protects against: with the opt-in, a client that
 * shrinks its memory under a submission queue kills the target as soon
 * as the target fetches from it.  In a child, which must die of SIGBUS.
 */
static void child_shrinks(void)
{
	struct nvmft_transport_opts o;
	struct nvmft_cmd rd = { .opcode = nvme_cmd_read, .nsid = htole32(NSID) };
	struct vfuc_q q;
	struct ve e;
	struct vfuc *c;

	opts_opt_in(&o);
	ve_init(&e, &o);
	c = ve_client(&e, CAPS);
	c->o.unsealed_mem = true;
	if (vfuc_mem_add(c, VE_MEM_IOVA, VE_MEM_SIZE) != 0 || vfuc_setup_bar0(c) != 0 ||
	    vfuc_nvme_enable(c, 32) != 0 || vfuc_set_num_queues(c, 1, 1) != 0 ||
	    vfuc_nvme_qpair(c, 1, 16, false, 0, &q) != 0 ||
	    vfuc_prps(c, &rd, vfuc_alloc(c, 4096, 4096), 4096) != 0)
		_exit(3);
	rd.cdw12 = htole32(7);
	/* The entry is written while the memory is there; the target reads it after. */
	vfuc_push(&q, &rd);
	if (ftruncate(c->mem_fd, 0) != 0)
		_exit(4);
	if (vfuc_ring(&q) != 0)
		_exit(5);
	ve_pump_n(&e, 1000);
	_exit(0); /* survived: the target never touched the memory, or the kernel kept it */
}

static void test_opt_in_shrink_kills(void **state)
{
	char *base = tu_mkdtemp();
	int st;
	pid_t pid;

	(void)state;
	assert_non_null(base);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The default action, whatever the test runner or a sanitizer installed. */
		signal(SIGBUS, SIG_DFL);
		setenv("TMPDIR", base, 1);
		child_shrinks();
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFSIGNALED(st))
		fail_msg("child exited with %d instead of dying of SIGBUS", WEXITSTATUS(st));
	assert_int_equal(WTERMSIG(st), SIGBUS);
	tu_rmtree(base);
	free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unsealed_refused),
		cmocka_unit_test(test_sealed_cannot_shrink),
		cmocka_unit_test(test_opt_in),
		cmocka_unit_test(test_opt_in_shrink_kills),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("vfu_mem", tests, NULL, NULL);
}
