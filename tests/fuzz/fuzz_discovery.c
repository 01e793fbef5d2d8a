/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The discovery log page, two ways.
 *
 * 1. nvmft_discovery_log_format() on its own: random entries, generation
 *    counter, offsets (anywhere in 64 bits, and near the ends) and lengths,
 *    in one call and cut into segments the way the Get Log Page handler
 *    calls it; every byte is compared with a page built here, bytes past
 *    the page must be zero, and nothing is written past the window.
 *
 * 2. nvmft_discovery_log_read() on a real target (TCP transport, listeners
 *    on 127.0.0.1) that the input reshapes step by step: subsystems come
 *    and go, hosts and listeners are added to and removed from them, any
 *    host is allowed or not.  A model kept here says which entries each
 *    host must see; after every step the log is read for a host, and its
 *    records (as a multiset), their fields, the window reads and GENCTR are
 *    checked against the model.
 *
 * Input: u64 GENCTR, byte entry count (mod 9), u32 pattern seed, byte
 * window count, then per window: byte how to pick the offset, u64 offset,
 * u16 length, byte segments.  Then byte listeners (mod 4; 0: stop here)
 * and steps of 3 bytes (operation, argument, argument), at most 24.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvmft/nvmft.h>

#include "core/cmd.h"
#include "fuzz_common.h"

#define HDR_SIZE 1024u
#define ENT_SIZE 1024u
#define MAX_WIN_LEN 12288u
#define GUARD_LEN 64u

/* ---- Part 1: the pure formatter ------------------------------------------------------------ */

static uint8_t pattern(uint32_t seed, uint64_t entry, uint64_t byte)
{
	uint32_t x = seed ^ (uint32_t)(entry * 0x9e3779b1u) ^ (uint32_t)(byte * 0x85ebca6bu);

	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	x ^= x >> 12;
	return (uint8_t)x;
}

/* The byte at @pos of the page the reference builds (zero past its end). */
static uint8_t ref_byte(const uint8_t *page, uint64_t size, uint64_t pos)
{
	return pos < size ? page[pos] : 0;
}

static void format_window(const struct nvmf_disc_log_entry *ents, uint64_t nr, uint64_t genctr,
			  const uint8_t *page, uint64_t size, struct fz *f)
{
	uint8_t how = fz_u8(f), segs;
	uint64_t off = fz_u64(f);
	size_t len = fz_u16(f) % (MAX_WIN_LEN + 1), done = 0;
	uint8_t *dst, *cut;
	uint64_t ret;

	switch (how % 4) {
	case 0:
		break; /* anywhere in 64 bits */
	case 1:
		off %= size + 2 * ENT_SIZE + 1;
		break;
	case 2:
		/* Just before the end of the page, or of an entry. */
		off = size - 1 - off % (size < 64 ? size : 64);
		break;
	default:
		off = UINT64_MAX - off % 4096;
		break;
	}
	dst = malloc(len + GUARD_LEN);
	cut = malloc(len + GUARD_LEN);
	FZ_CHECK(dst != NULL && cut != NULL, "malloc");
	memset(dst, 0xee, len + GUARD_LEN);
	ret = nvmft_discovery_log_format(genctr, ents, nr, off, dst, len);
	FZ_CHECK(ret == size, "page size %llu, expected %llu", (unsigned long long)ret,
		 (unsigned long long)size);
	for (size_t i = 0; i < len; i++) {
		/* Past UINT64_MAX there is no page byte: the page cannot reach there. */
		uint8_t want = off + i < off ? 0 : ref_byte(page, size, off + i);

		FZ_CHECK(dst[i] == want, "byte %zu of the window at %llu (len %zu): %#x, want %#x",
			 i, (unsigned long long)off, len, dst[i], want);
	}
	for (size_t i = len; i < len + GUARD_LEN; i++)
		FZ_CHECK(dst[i] == 0xee, "write past a window of %zu bytes", len);

	/* The same window in segments, as the Get Log Page handler formats into iovecs. */
	segs = fz_u8(f) % 6 + 1;
	memset(cut, 0xee, len + GUARD_LEN);
	for (uint8_t s = 0; s < segs && done < len; s++) {
		size_t n = s + 1 == segs ? len - done : (len - done) / (size_t)(segs - s) + s;

		if (n > len - done)
			n = len - done;
		nvmft_discovery_log_format(genctr, ents, nr, off + done, cut + done, n);
		done += n;
	}
	if (done == len && off + len >= off)
		FZ_CHECK(memcmp(dst, cut, len + GUARD_LEN) == 0, "segmented window differs");
	free(cut);
	free(dst);
}

static void fuzz_format(struct fz *f)
{
	uint64_t genctr = fz_u64(f);
	uint64_t nr = fz_u8(f) % 9;
	uint32_t seed = fz_u32(f);
	uint64_t size = HDR_SIZE + nr * ENT_SIZE;
	uint8_t nwin = fz_u8(f) % 8 + 1;
	struct nvmf_disc_log_entry *ents = malloc(nr ? nr * sizeof(*ents) : 1);
	uint8_t *page = calloc(1, size);

	FZ_CHECK(ents != NULL && page != NULL, "malloc");
	for (uint64_t i = 0; i < nr; i++)
		for (uint64_t b = 0; b < ENT_SIZE; b++)
			((uint8_t *)&ents[i])[b] = pattern(seed, i, b);
	/* The page as the specification lays it out. */
	for (int i = 0; i < 8; i++) {
		page[i] = (uint8_t)(genctr >> (8 * i));
		page[8 + i] = (uint8_t)(nr >> (8 * i));
	}
	memcpy(page + HDR_SIZE, ents, nr * ENT_SIZE);
	for (uint8_t w = 0; w < nwin; w++)
		format_window(ents, nr, genctr, page, size, f);
	/* No destination is fine when nothing is asked for. */
	FZ_CHECK(nvmft_discovery_log_format(genctr, ents, nr, 0, NULL, 0) == size, "empty window");
	free(page);
	free(ents);
}

/* ---- Part 2: a target reshaped step by step -------------------------------------------------- */

#define MAX_LIS 3
#define MAX_SS 5
#define NR_HOSTS 3

static const char *const hosts[NR_HOSTS + 1] = {
	"nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001",
	"nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000002",
	"nqn.2024-01.io.nvmft:host-three",
	"not even an nqn", /* never on a list; sees subsystems that allow any host */
};

struct m_ss {
	struct nvmft_subsystem *ss;
	char nqn[64];
	bool any;
	bool host[NR_HOSTS];
	bool lis[MAX_LIS];
};

struct model {
	struct nvmft_target *tgt;
	struct nvmft_transport *tr;
	struct nvmft_listener *lis[MAX_LIS];
	char port[MAX_LIS][32];
	struct m_ss ss[MAX_SS];
	unsigned int next_id;
	uint64_t last_genctr[NR_HOSTS + 1];
	uint64_t last_count[NR_HOSTS + 1];
	uint64_t last_sig[NR_HOSTS + 1];
	bool seen[NR_HOSTS + 1];
};

static void done_cb(void *arg, int status)
{
	*(int *)arg = status;
}

/* Wait for a management callback (there are no poll groups: the target alone runs it). */
static void wait_cb(struct model *m, int *st, const char *what)
{
	for (int i = 0; i < 1000 && *st == 1; i++)
		nvmft_target_poll(m->tgt);
	FZ_CHECK(*st == 0, "%s completed with %d", what, *st);
}

static bool sees(const struct m_ss *s, int h)
{
	return s->ss != NULL && (s->any || (h < NR_HOSTS && s->host[h]));
}

/* A host's expected records: count, and an order-independent signature of (subsystem, port). */
static void expect(const struct model *m, int h, uint64_t *count, uint64_t *sig)
{
	*count = 0;
	*sig = 0;
	for (int l = 0; l < MAX_LIS; l++) {
		if (m->lis[l] == NULL)
			continue;
		(*count)++;
		*sig += 0x1000193u * (uint64_t)(l + 1);
		for (int s = 0; s < MAX_SS; s++) {
			if (sees(&m->ss[s], h) && m->ss[s].lis[l]) {
				(*count)++;
				*sig += 0x100000001b3ull * (uint64_t)(s + 1) + (uint64_t)(l + 1);
			}
		}
	}
}

static bool padded_eq(const char *field, size_t size, const char *s, char pad)
{
	size_t n = strlen(s);

	if (n > size || memcmp(field, s, n) != 0)
		return false;
	for (size_t i = n; i < size; i++)
		if (field[i] != pad)
			return false;
	return true;
}

static void check_entry(const struct model *m, const struct nvmf_disc_log_entry *e, uint64_t *sig)
{
	int l, s = -1;

	for (l = 0; l < MAX_LIS; l++)
		if (m->lis[l] != NULL && padded_eq(e->trsvcid, sizeof(e->trsvcid), m->port[l], ' '))
			break;
	FZ_CHECK(l < MAX_LIS, "entry for a port that is not listening: %.32s", e->trsvcid);
	FZ_CHECK(e->trtype == NVMF_TRTYPE_TCP && e->adrfam == NVMF_ADDR_FAMILY_IP4 &&
		 le16toh(e->cntlid) == NVMFT_CNTLID_DYNAMIC && le16toh(e->asqsz) >= 32,
		 "entry fields: trtype %u adrfam %u cntlid %#x asqsz %u", e->trtype, e->adrfam,
		 le16toh(e->cntlid), le16toh(e->asqsz));
	FZ_CHECK(padded_eq(e->traddr, sizeof(e->traddr), "127.0.0.1", ' '), "traddr %.256s",
		 e->traddr);
	if (e->subtype == NVME_NQN_CURR) {
		FZ_CHECK(padded_eq(e->subnqn, sizeof(e->subnqn), NVMFT_DISCOVERY_NQN, '\0'),
			 "discovery entry names %.256s", e->subnqn);
		*sig += 0x1000193u * (uint64_t)(l + 1);
		return;
	}
	FZ_CHECK(e->subtype == NVME_NQN_NVME, "subtype %u", e->subtype);
	for (int i = 0; i < MAX_SS; i++)
		if (m->ss[i].ss != NULL && padded_eq(e->subnqn, sizeof(e->subnqn), m->ss[i].nqn, '\0'))
			s = i;
	FZ_CHECK(s >= 0, "entry for an unknown subsystem %.256s", e->subnqn);
	*sig += 0x100000001b3ull * (uint64_t)(s + 1) + (uint64_t)(l + 1);
}

static void read_and_check(struct model *m, int h, struct fz *f)
{
	uint64_t count, sig, got_sig = 0, genctr, numrec, size;
	size_t full_len;
	uint8_t *full;
	int rc;

	expect(m, h, &count, &sig);
	size = HDR_SIZE + count * ENT_SIZE;
	full_len = (size_t)size + 512;
	full = malloc(full_len);
	FZ_CHECK(full != NULL, "malloc");
	memset(full, 0xee, full_len);
	rc = nvmft_discovery_log_read(m->tgt, hosts[h], 0, full, full_len);
	FZ_CHECK(rc == 0, "discovery log read: %d", rc);
	memcpy(&genctr, full, 8);
	memcpy(&numrec, full + 8, 8);
	genctr = le64toh(genctr);
	numrec = le64toh(numrec);
	FZ_CHECK(numrec == count, "host %d sees %llu records, the model says %llu", h,
		 (unsigned long long)numrec, (unsigned long long)count);
	for (uint64_t i = 0; i < numrec; i++)
		check_entry(m, (const struct nvmf_disc_log_entry *)(full + HDR_SIZE + i * ENT_SIZE),
			    &got_sig);
	FZ_CHECK(got_sig == sig, "host %d sees other records than the model says", h);
	for (size_t i = (size_t)size; i < full_len; i++)
		FZ_CHECK(full[i] == 0, "byte %zu past the page is %#x", i, full[i]);
	/* A changed log comes with a new generation counter. */
	if (m->seen[h] && (m->last_count[h] != count || m->last_sig[h] != sig))
		FZ_CHECK(genctr > m->last_genctr[h], "log changed for host %d, GENCTR stayed %llu", h,
			 (unsigned long long)genctr);
	FZ_CHECK(!m->seen[h] || genctr >= m->last_genctr[h], "GENCTR went back");
	m->seen[h] = true;
	m->last_genctr[h] = genctr;
	m->last_count[h] = count;
	m->last_sig[h] = sig;

	/* A window agrees with the whole read. */
	{
		uint64_t off = fz_u16(f) % (full_len + 1);
		size_t len = fz_u16(f) % (full_len - (size_t)off + 1);
		uint8_t *w = malloc(len ? len : 1);

		FZ_CHECK(w != NULL, "malloc");
		rc = nvmft_discovery_log_read(m->tgt, hosts[h], off, w, len);
		FZ_CHECK(rc == 0 && memcmp(w, full + off, len) == 0,
			 "window [%llu, +%zu) differs from the whole page", (unsigned long long)off,
			 len);
		free(w);
	}
	free(full);
}

static void new_listener(struct model *m, int l)
{
	struct nvmft_listen_opts lo = { .size = sizeof(lo), .adrfam = NVMFT_ADRFAM_IPV4,
					.traddr = "127.0.0.1", .trsvcid = "0" };
	int rc = nvmft_listener_new(m->tr, &lo, &m->lis[l]);

	FZ_CHECK(rc == 0, "listener: %d", rc);
	snprintf(m->port[l], sizeof(m->port[l]), "%s", nvmft_listener_get_trsvcid(m->lis[l]));
}

static void new_subsystem(struct model *m, int s, uint8_t arg)
{
	struct nvmft_subsystem_opts so;
	struct m_ss *x = &m->ss[s];
	int rc;

	memset(x, 0, sizeof(*x));
	snprintf(x->nqn, sizeof(x->nqn), "nqn.2024-01.io.nvmft:disc-%u", m->next_id++);
	nvmft_subsystem_opts_init(&so, sizeof(so));
	so.nqn = x->nqn;
	so.allow_any_host = x->any = arg & 1;
	rc = nvmft_subsystem_new(m->tgt, &so, &x->ss);
	FZ_CHECK(rc == 0, "subsystem: %d", rc);
	for (int h = 0; h < NR_HOSTS; h++) {
		if (arg >> (1 + h) & 1) {
			FZ_CHECK(nvmft_subsystem_add_host(x->ss, hosts[h]) == 0, "add host");
			x->host[h] = true;
		}
	}
	for (int l = 0; l < MAX_LIS; l++) {
		if ((arg >> (4 + l) & 1) && m->lis[l] != NULL) {
			FZ_CHECK(nvmft_subsystem_add_listener(x->ss, m->lis[l]) == 0, "add listener");
			x->lis[l] = true;
		}
	}
}

static void step(struct model *m, uint8_t op, uint8_t a, uint8_t b)
{
	struct m_ss *x = &m->ss[a % MAX_SS];
	int l = b % MAX_LIS, h = b % NR_HOSTS, st = 1, rc;

	switch (op % 9) {
	case 0:
		if (x->ss == NULL)
			new_subsystem(m, a % MAX_SS, b);
		break;
	case 1:
		if (x->ss != NULL) {
			FZ_CHECK(nvmft_subsystem_destroy(x->ss, done_cb, &st) == 0, "destroy");
			x->ss = NULL;
			wait_cb(m, &st, "subsystem destroy");
		}
		break;
	case 2:
		if (x->ss != NULL) {
			rc = nvmft_subsystem_add_host(x->ss, hosts[h]);
			FZ_CHECK(rc == (x->host[h] ? -EEXIST : 0), "add host: %d", rc);
			x->host[h] = true;
		}
		break;
	case 3:
		if (x->ss != NULL) {
			rc = nvmft_subsystem_remove_host(x->ss, hosts[h], done_cb, &st);
			FZ_CHECK(rc == (x->host[h] ? 0 : -ENOENT), "remove host: %d", rc);
			if (rc == 0)
				wait_cb(m, &st, "remove host");
			x->host[h] = false;
		}
		break;
	case 4:
		if (x->ss != NULL && m->lis[l] != NULL) {
			rc = nvmft_subsystem_add_listener(x->ss, m->lis[l]);
			FZ_CHECK(rc == (x->lis[l] ? -EEXIST : 0), "add listener: %d", rc);
			x->lis[l] = true;
		}
		break;
	case 5:
		if (x->ss != NULL && m->lis[l] != NULL) {
			rc = nvmft_subsystem_remove_listener(x->ss, m->lis[l], done_cb, &st);
			FZ_CHECK(rc == (x->lis[l] ? 0 : -ENOENT), "remove listener: %d", rc);
			if (rc == 0)
				wait_cb(m, &st, "remove listener");
			x->lis[l] = false;
		}
		break;
	case 6:
		if (x->ss != NULL) {
			x->any = b & 1;
			FZ_CHECK(nvmft_subsystem_set_allow_any_host(x->ss, x->any) == 0, "allow any");
		}
		break;
	case 7:
		if (m->lis[l] != NULL) {
			nvmft_listener_destroy(m->lis[l], done_cb, &st);
			m->lis[l] = NULL;
			for (int s = 0; s < MAX_SS; s++)
				m->ss[s].lis[l] = false;
			wait_cb(m, &st, "listener destroy");
		} else {
			new_listener(m, l);
		}
		break;
	default:
		break; /* only read */
	}
}

static void fuzz_target(struct fz *f)
{
	struct nvmft_target_opts to;
	struct model *m;
	uint8_t nlis = fz_u8(f) % (MAX_LIS + 1);
	int fds = fz_count_fds(), rc;

	if (nlis == 0)
		return;
	m = calloc(1, sizeof(*m));
	FZ_CHECK(m != NULL, "calloc");
	nvmft_target_opts_init(&to, sizeof(to));
	to.max_subsystems = 2 * MAX_SS + 2;
	rc = nvmft_target_new(&to, &m->tgt);
	FZ_CHECK(rc == 0, "target: %d", rc);
	rc = nvmft_transport_new(m->tgt, NVMFT_TRTYPE_TCP, NULL, &m->tr);
	FZ_CHECK(rc == 0, "transport: %d", rc);
	for (int l = 0; l < nlis; l++)
		new_listener(m, l);
	for (int i = 0; i < 24 && fz_left(f) > 0; i++) {
		uint8_t op = fz_u8(f), a = fz_u8(f), b = fz_u8(f);

		step(m, op, a, b);
		read_and_check(m, (op >> 4) % (NR_HOSTS + 1), f);
	}
	for (int h = 0; h <= NR_HOSTS; h++)
		read_and_check(m, h, f);
	nvmft_target_poll(m->tgt);
	nvmft_target_free(m->tgt);
	free(m);
	rc = fz_count_fds();
	FZ_CHECK(rc == fds, "descriptors: %d before, %d after", fds, rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f;

	fz_init(&f, data, size);
	fuzz_format(&f);
	fuzz_target(&f);
	return 0;
}
