/* SPDX-License-Identifier: BSD-3-Clause */
#include <endian.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <nvmft/nvmft.h>

#include "spec/spec.h"
#include "test_util.h"

void tu_fill_pattern(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

char *tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *path;

	if (asprintf(&path, "%s/nvmft-test-XXXXXX", base) < 0)
		return NULL;
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

static int tu_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void tu_rmtree(const char *path)
{
	if (path != NULL)
		nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int count_one(void *arg, const struct nvmft_ctrlr *ctrlr)
{
	(void)ctrlr;
	(*(int *)arg)++;
	return 0;
}

int tu_ctrlr_count(struct nvmft_subsystem *ss)
{
	int n = 0;

	return nvmft_subsystem_foreach_ctrlr(ss, count_one, &n) == 0 ? n : -1;
}

void tu_sgl_keyed(struct nvmft_cmd *c, uint64_t addr, uint32_t len, uint32_t key, uint8_t subtype)
{
	struct nvmft_sgl_desc *s = &c->dptr.sgl1;

	memset(s, 0, sizeof(*s));
	s->addr = htole64(addr);
	s->keyed.length[0] = (uint8_t)len;
	s->keyed.length[1] = (uint8_t)(len >> 8);
	s->keyed.length[2] = (uint8_t)(len >> 16);
	s->keyed.key = htole32(key);
	s->keyed.type = (uint8_t)(NVMFT_SGL_TYPE_KEYED_DATA_BLOCK << 4 | subtype);
}

/* A port nobody listens on now (bind to 0, read it, close), or 0. */
static unsigned int free_port_once(int family)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len = sizeof(ss);
	unsigned int port = 0;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)&ss,
		 family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					       : ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	return port;
}

/*
 * The kernel may hand the same free port out again once its probe socket
 * is closed, so a test that asks twice could get one port twice.
 */
unsigned int tu_free_port(int family)
{
	enum { REMEMBER = 16 };
	static unsigned int given[REMEMBER];
	static unsigned int count;
	unsigned int port = 0;

	for (int tries = 0; tries < 64; tries++) {
		unsigned int i = 0;

		port = free_port_once(family);
		while (i < REMEMBER && given[i] != port)
			i++;
		if (port == 0 || i == REMEMBER)
			break;
	}
	given[count++ % REMEMBER] = port;
	return port;
}
