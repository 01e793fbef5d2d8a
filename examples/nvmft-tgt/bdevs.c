/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft-tgt's bdevs: libnvmft backends under names, as SPDK's bdev layer
 * keeps them.  A bdev is known by its name or by its UUID (SPDK makes the
 * UUID an alias), has a UUID whether or not one was given, and backs at
 * most one namespace (SPDK's exclusive_write claim).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

struct app_bdev *bdev_find(struct app_state *st, const char *name)
{
	struct app_bdev *b;
	uint8_t uuid[16];
	bool is_uuid = plan_parse_uuid(name, uuid) == 0;

	TAILQ_FOREACH(b, &st->bdevs, link) {
		if (strcmp(b->name, name) == 0)
			return b;
		if (is_uuid && memcmp(b->uuid, uuid, sizeof(uuid)) == 0)
			return b;
	}
	return NULL;
}

const char *bdev_product_name(const struct app_bdev *b)
{
	if (b->fault)
		return "Fault injection disk";
	switch (b->kind) {
	case PLAN_BDEV_RAM:
		return "Malloc disk";
	case PLAN_BDEV_NULL:
		return "Null disk";
	case PLAN_BDEV_FILE:
		return "URING bdev";
	}
	return "unknown";
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int check_geometry(const struct plan_bdev *b, char *err, size_t errlen)
{
	if (b->kind == PLAN_BDEV_FILE) {
		if (b->filename == NULL || b->filename[0] == '\0')
			return fail(err, errlen, -EINVAL, "file name is empty");
		if (b->block_size != 0 && !plan_block_size_valid(b->block_size))
			return fail(err, errlen, -EINVAL,
				    "block size %u is not a power of two from 512 to 65536",
				    b->block_size);
		return 0;
	}
	if (!plan_block_size_valid(b->block_size))
		return fail(err, errlen, -EINVAL,
			    "block size %u is not a power of two from 512 to 65536", b->block_size);
	if (b->num_blocks == 0)
		return fail(err, errlen, -EINVAL, "num_blocks is 0");
	if (b->num_blocks > UINT64_MAX / b->block_size)
		return fail(err, errlen, -EINVAL, "the size overflows 64 bits");
	return 0;
}

int bdev_create(struct app_state *st, const struct plan_bdev *p, struct app_bdev **ret, char *err,
		size_t errlen)
{
	struct nvmft_backend *be = NULL;
	struct app_bdev *b;
	char ustr[37];
	int rc;

	if (p->fault_rules != NULL)
		return fail(err, errlen, -EINVAL, "fault-injection bdevs come from --ns only");
	if (p->name == NULL || p->name[0] == '\0')
		return fail(err, errlen, -EINVAL, "the bdev name is empty");
	if (bdev_find(st, p->name) != NULL)
		return fail(err, errlen, -EEXIST, "bdev '%s' already exists", p->name);
	rc = check_geometry(p, err, errlen);
	if (rc < 0)
		return rc;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return fail(err, errlen, -ENOMEM, "out of memory");
	if (p->has_uuid) {
		memcpy(b->uuid, p->uuid, sizeof(b->uuid));
	} else if (state_random_uuid(b->uuid) < 0) {
		free(b);
		return fail(err, errlen, -EIO, "no random bytes for a UUID");
	}
	state_uuid_str(b->uuid, ustr);
	if (bdev_find(st, ustr) != NULL) {
		free(b);
		return fail(err, errlen, -EEXIST, "a bdev with UUID %s already exists", ustr);
	}
	b->name = strdup(p->name);
	b->filename = p->filename ? strdup(p->filename) : NULL;
	if (b->name == NULL || (p->filename != NULL && b->filename == NULL)) {
		rc = fail(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	switch (p->kind) {
	case PLAN_BDEV_RAM:
		rc = nvmft_backend_malloc_new(p->name, p->num_blocks, p->block_size, &be);
		break;
	case PLAN_BDEV_NULL:
		rc = nvmft_backend_null_new(p->name, p->num_blocks, p->block_size, &be);
		break;
	case PLAN_BDEV_FILE:
		rc = nvmft_backend_uring_new(p->name, p->filename, p->block_size, &be);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc < 0) {
		if (p->kind == PLAN_BDEV_FILE)
			fail(err, errlen, rc, "cannot open '%s': %s", p->filename, strerror(-rc));
		else
			fail(err, errlen, rc, "cannot create the backend: %s", strerror(-rc));
		goto fail;
	}
	b->kind = p->kind;
	b->num_blocks = nvmft_backend_get_num_blocks(be);
	b->block_size = nvmft_backend_get_block_size(be);
	b->be = be;
	TAILQ_INSERT_TAIL(&st->bdevs, b, link);
	if (ret != NULL)
		*ret = b;
	return 0;
fail:
	free(b->name);
	free(b->filename);
	free(b);
	return rc;
}

int bdev_destroy(struct app_state *st, struct app_bdev *b)
{
	int rc = nvmft_backend_free(b->be);

	if (rc < 0)
		return rc;
	TAILQ_REMOVE(&st->bdevs, b, link);
	free(b->name);
	free(b->filename);
	free(b);
	return 0;
}
