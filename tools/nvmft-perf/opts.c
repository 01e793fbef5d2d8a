/* SPDX-License-Identifier: BSD-3-Clause */
/* Command line of nvmft-perf; see doc/nvmft-perf.md for every flag. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nvmft/version.h"
#include "perf.h"
#include "util/compiler.h"

static const char usage_text[] =
	"Usage: " PERF_NAME " [target] [workload] [options]\n"
	"\n"
	"Target (a transport ID, or the simple flags):\n"
	"  -r, --trid 'trtype:tcp adrfam:IPv4 traddr:A trsvcid:P subnqn:N [ns:N] [hostnqn:N]'\n"
	"  -a, --addr ADDR         target address (IPv4, IPv6 or a host name)\n"
	"  -s, --port PORT         TCP port (default 4420)\n"
	"  -n, --nqn NQN           subsystem NQN (default: first NVM subsystem in the\n"
	"                          discovery log of ADDR:PORT)\n"
	"      --hostnqn NQN       host NQN (default: a random uuid NQN)\n"
	"  -N, --nsid N            namespace ID (default 1)\n"
	"      --ns-count K        spread I/O over namespaces N .. N+K-1 (default 1)\n"
	"\n"
	"Workload:\n"
	"  -w, --workload W        read, write, randread, randwrite, rw, randrw (default randread)\n"
	"  -M, --rwmixread PCT     read percentage of rw/randrw (default 50)\n"
	"  -o, --io-size BYTES     I/O size, a multiple of the LBA size (default 4096)\n"
	"      --queues N          I/O queues, each its own TCP connection (default 1)\n"
	"  -q, --qd DEPTH          outstanding I/Os per queue (default 32)\n"
	"  -t, --time SECONDS      measured run time (default 10)\n"
	"      --count N           run exactly N measured I/Os in total instead of -t\n"
	"      --warmup SECONDS    run this long first, outside the statistics\n"
	"      --size BYTES        use only the first BYTES of the namespace\n"
	"      --verify            write a checkable pattern, check what is read\n"
	"      --seed N            random offsets and read/write mix seed (default 1)\n"
	"      --idle              connect the queues, then do no I/O for -t seconds\n"
	"                          (Keep Alive only): for measuring an idle target\n"
	"\n"
	"Threads:\n"
	"      --core LIST         pin one worker thread per listed CPU (\"1\", \"2,3\", \"0-3\")\n"
	"  -c, --core-mask MASK    the same as a hex mask (\"0x2\")\n"
	"      --threads N         worker threads when not pinned (default 1)\n"
	"\n"
	"Transport:\n"
	"  -H, --hdgst             ask for header digests\n"
	"  -I, --ddgst             ask for data digests\n"
	"      --kato MS           keep-alive timeout for the controller, 0 = none (default 10000)\n"
	"      --no-icd            send no write data in capsules (always wait for R2T)\n"
	"      --rx-mode MODE      auto, copy, direct or discard (how read data leaves the\n"
	"                          socket; discard: dropped in the kernel, never copied)\n"
	"      --poll MODE         auto, scan or epoll: receive on every queue each pass (scan),\n"
	"                          or only on those epoll reports readable; auto: epoll from\n"
	"                          8 queues per thread\n"
	"      --timeout SECONDS   connection, admin command and I/O progress timeout (default 30)\n"
	"\n"
	"Output:\n"
	"      --json              print one JSON object instead of the text report\n"
	"  -h, --help              this text\n"
	"      --version           program and library version\n";

enum {
	OPT_HOSTNQN = 256,
	OPT_QUEUES,
	OPT_COUNT,
	OPT_WARMUP,
	OPT_SIZE,
	OPT_VERIFY,
	OPT_SEED,
	OPT_CORE,
	OPT_THREADS,
	OPT_KATO,
	OPT_NO_ICD,
	OPT_RX_MODE,
	OPT_POLL,
	OPT_TIMEOUT,
	OPT_JSON,
	OPT_VERSION,
	OPT_NS_COUNT,
	OPT_IDLE,
};

static const struct option long_opts[] = {
	{ "trid", required_argument, NULL, 'r' },
	{ "addr", required_argument, NULL, 'a' },
	{ "port", required_argument, NULL, 's' },
	{ "nqn", required_argument, NULL, 'n' },
	{ "hostnqn", required_argument, NULL, OPT_HOSTNQN },
	{ "nsid", required_argument, NULL, 'N' },
	{ "ns-count", required_argument, NULL, OPT_NS_COUNT },
	{ "idle", no_argument, NULL, OPT_IDLE },
	{ "workload", required_argument, NULL, 'w' },
	{ "rwmixread", required_argument, NULL, 'M' },
	{ "io-size", required_argument, NULL, 'o' },
	{ "queues", required_argument, NULL, OPT_QUEUES },
	{ "qd", required_argument, NULL, 'q' },
	{ "time", required_argument, NULL, 't' },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "core", required_argument, NULL, OPT_CORE },
	{ "core-mask", required_argument, NULL, 'c' },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "hdgst", no_argument, NULL, 'H' },
	{ "ddgst", no_argument, NULL, 'I' },
	{ "kato", required_argument, NULL, OPT_KATO },
	{ "no-icd", no_argument, NULL, OPT_NO_ICD },
	{ "rx-mode", required_argument, NULL, OPT_RX_MODE },
	{ "poll", required_argument, NULL, OPT_POLL },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int opt_err(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int opt_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return PERF_OPTS_ERROR;
}

void perf_opts_init(struct perf_opts *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->trsvcid, sizeof(o->trsvcid), "4420");
	o->nsid = 1;
	o->ns_count = 1;
	o->queues = 1;
	o->qd = 32;
	o->io_size = 4096;
	o->workload = PERF_WL_RANDREAD;
	o->rwmix = 50;
	o->time_s = 10;
	o->kato_ms = 10000;
	o->seed = 1;
	o->timeout_s = 30;
}

const char *perf_workload_name(enum perf_workload w)
{
	static const char *const names[] = {
		[PERF_WL_READ] = "read",       [PERF_WL_WRITE] = "write",
		[PERF_WL_RANDREAD] = "randread", [PERF_WL_RANDWRITE] = "randwrite",
		[PERF_WL_RW] = "rw",           [PERF_WL_RANDRW] = "randrw",
	};

	return (unsigned int)w < sizeof(names) / sizeof(names[0]) ? names[w] : "?";
}

static const char *const rx_mode_names[] = {
	[PERF_RX_AUTO] = "auto", [PERF_RX_COPY] = "copy", [PERF_RX_DIRECT] = "direct",
	[PERF_RX_DISCARD] = "discard",
};

static const char *const poll_mode_names[] = {
	[PERF_POLL_AUTO] = "auto", [PERF_POLL_SCAN] = "scan", [PERF_POLL_EPOLL] = "epoll",
};

const char *perf_rx_mode_name(enum perf_rx_mode m)
{
	return (unsigned int)m < NVMFT_ARRAY_SIZE(rx_mode_names) ? rx_mode_names[m] : "?";
}

const char *perf_poll_mode_name(enum perf_poll_mode m)
{
	return (unsigned int)m < NVMFT_ARRAY_SIZE(poll_mode_names) ? poll_mode_names[m] : "?";
}

bool perf_workload_random(enum perf_workload w)
{
	return w == PERF_WL_RANDREAD || w == PERF_WL_RANDWRITE || w == PERF_WL_RANDRW;
}

bool perf_workload_has_reads(const struct perf_opts *o)
{
	switch (o->workload) {
	case PERF_WL_READ:
	case PERF_WL_RANDREAD:
		return true;
	case PERF_WL_RW:
	case PERF_WL_RANDRW:
		return o->rwmix > 0;
	default:
		return false;
	}
}

bool perf_workload_has_writes(const struct perf_opts *o)
{
	switch (o->workload) {
	case PERF_WL_WRITE:
	case PERF_WL_RANDWRITE:
		return true;
	case PERF_WL_RW:
	case PERF_WL_RANDRW:
		return o->rwmix < 100;
	default:
		return false;
	}
}

int perf_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0') {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			mult = 1ull << 10;
			break;
		case 'M':
			mult = 1ull << 20;
			break;
		case 'G':
			mult = 1ull << 30;
			break;
		case 'T':
			mult = 1ull << 40;
			break;
		default:
			return -EINVAL;
		}
		end++;
		/* 4k, 4K, 4KB, 4KiB. */
		if (strcasecmp(end, "") != 0 && strcasecmp(end, "B") != 0 &&
		    strcasecmp(end, "iB") != 0)
			return -EINVAL;
	}
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

/* Index of @s in @names (indexed by their enum), or -1. */
static int parse_choice(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno == ERANGE || *end != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, double min, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < min || v > 1e7)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool core_seen(const int *cores, uint32_t n, int c)
{
	for (uint32_t i = 0; i < n; i++)
		if (cores[i] == c)
			return true;
	return false;
}

static int add_core(int *cores, uint32_t *n, long c)
{
	if (c < 0 || c >= 4096)
		return -ERANGE;
	if (core_seen(cores, *n, (int)c))
		return 0;
	if (*n >= PERF_MAX_CORES)
		return -E2BIG;
	cores[(*n)++] = (int)c;
	return 0;
}

int perf_parse_cores(const char *s, bool mask, int *cores, uint32_t *ncores)
{
	uint32_t n = 0;
	int rc;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	if (mask) {
		const char *p = s;
		size_t len;

		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
			p += 2;
		len = strlen(p);
		if (len == 0)
			return -EINVAL;
		/* Hex digits from the least significant end: masks wider than 64 bits work. */
		for (size_t i = 0; i < len; i++) {
			char ch = p[len - 1 - i];
			int d;

			if (!isxdigit((unsigned char)ch))
				return -EINVAL;
			d = isdigit((unsigned char)ch) ? ch - '0' : tolower((unsigned char)ch) - 'a' + 10;
			for (int bit = 0; bit < 4; bit++) {
				if (!(d & (1 << bit)))
					continue;
				rc = add_core(cores, &n, (long)(i * 4 + (size_t)bit));
				if (rc)
					return rc;
			}
		}
	} else {
		const char *p = s;

		while (*p) {
			long a, b;
			char *end;

			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			a = strtol(p, &end, 10);
			b = a;
			if (*end == '-') {
				if (!isdigit((unsigned char)end[1]))
					return -EINVAL;
				b = strtol(end + 1, &end, 10);
				if (b < a)
					return -EINVAL;
			}
			for (long c = a; c <= b; c++) {
				rc = add_core(cores, &n, c);
				if (rc)
					return rc;
			}
			if (*end == ',')
				end++;
			else if (*end != '\0')
				return -EINVAL;
			p = end;
		}
	}
	if (n == 0)
		return -EINVAL;
	*ncores = n;
	return 0;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	/* NQNs are at most 223 bytes (NVMF_NQN_SIZE) in a 256-byte field. */
	if (cap == NVME_NQN_LENGTH && n > NVMF_NQN_SIZE)
		return -EINVAL;
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

int perf_parse_trid(struct perf_opts *o, const char *s, char *err, size_t errlen)
{
	char buf[1024], *save = NULL, *tok;

	if (strlen(s) >= sizeof(buf))
		return opt_err(err, errlen, "-r: transport ID too long");
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *val = strchr(tok, ':');
		uint64_t v;

		if (val == NULL)
			return opt_err(err, errlen, "-r: '%s' is not key:value", tok);
		*val++ = '\0';
		if (strcasecmp(tok, "trtype") == 0) {
			if (strcasecmp(val, "tcp") != 0)
				return opt_err(err, errlen, "-r: trtype '%s' is not supported (tcp only)",
					       val);
		} else if (strcasecmp(tok, "adrfam") == 0) {
			if (strcasecmp(val, "ipv4") == 0)
				o->adrfam = AF_INET;
			else if (strcasecmp(val, "ipv6") == 0)
				o->adrfam = AF_INET6;
			else
				return opt_err(err, errlen, "-r: adrfam '%s' is not IPv4 or IPv6", val);
		} else if (strcasecmp(tok, "traddr") == 0) {
			if (copy_str(o->traddr, sizeof(o->traddr), val))
				return opt_err(err, errlen, "-r: bad traddr");
		} else if (strcasecmp(tok, "trsvcid") == 0) {
			if (parse_u64(val, 1, 65535, &v))
				return opt_err(err, errlen, "-r: trsvcid '%s' is not a port", val);
			snprintf(o->trsvcid, sizeof(o->trsvcid), "%" PRIu64, v);
		} else if (strcasecmp(tok, "subnqn") == 0) {
			if (copy_str(o->subnqn, sizeof(o->subnqn), val))
				return opt_err(err, errlen, "-r: subnqn is empty or longer than 223 bytes");
		} else if (strcasecmp(tok, "hostnqn") == 0) {
			if (copy_str(o->hostnqn, sizeof(o->hostnqn), val))
				return opt_err(err, errlen, "-r: hostnqn is empty or longer than 223 bytes");
		} else if (strcasecmp(tok, "ns") == 0) {
			if (parse_u64(val, 1, 0xfffffffe, &v))
				return opt_err(err, errlen, "-r: ns '%s' is not a namespace ID", val);
			o->nsid = (uint32_t)v;
		} else {
			return opt_err(err, errlen, "-r: unknown key '%s'", tok);
		}
	}
	return PERF_OPTS_OK;
}

static int parse_workload(const char *s, enum perf_workload *w)
{
	for (int i = PERF_WL_READ; i <= PERF_WL_RANDRW; i++) {
		if (strcasecmp(s, perf_workload_name((enum perf_workload)i)) == 0) {
			*w = (enum perf_workload)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Cross-flag checks once everything is read. */
static int opts_check(struct perf_opts *o, bool time_set, char *err, size_t errlen)
{
	if (o->traddr[0] == '\0')
		return opt_err(err, errlen, "no target address: give -a ADDR or -r 'traddr:...'");
	if (o->count && time_set)
		return opt_err(err, errlen, "-t and --count exclude each other");
	if (o->count)
		o->time_s = 0;
	if (o->count && o->count < o->queues)
		return opt_err(err, errlen, "--count %" PRIu64 " is less than --queues %u", o->count,
			       o->queues);
	if (o->rx_mode == PERF_RX_DISCARD && (o->verify || o->ddgst))
		return opt_err(err, errlen, "--rx-mode discard never reads the payload: it excludes "
			       "%s", o->verify ? "--verify" : "data digests (-I)");
	if (o->rwmix_set && o->workload != PERF_WL_RW && o->workload != PERF_WL_RANDRW)
		return opt_err(err, errlen, "-M applies to the rw and randrw workloads only");
	if (o->ncores && o->threads && o->threads != o->ncores)
		return opt_err(err, errlen, "--threads %u does not match the %u cores given",
			       o->threads, o->ncores);
	if (o->ncores)
		o->threads = o->ncores;
	if (o->threads == 0)
		o->threads = 1;
	if (o->threads > o->queues)
		return opt_err(err, errlen, "%u threads for %u queues: every thread needs a queue",
			       o->threads, o->queues);
	if (o->ns_count > 1 && o->verify)
		return opt_err(err, errlen, "--verify works on one namespace: leave out --ns-count");
	if ((uint64_t)o->nsid + o->ns_count - 1 > 0xfffffffe)
		return opt_err(err, errlen, "--ns-count %u from namespace %u runs past the last ID",
			       o->ns_count, o->nsid);
	if (o->idle && (o->count || o->verify || o->warmup_s > 0))
		return opt_err(err, errlen, "--idle does no I/O: it takes -t, not --count, --verify "
			       "or --warmup");
	return PERF_OPTS_OK;
}

int perf_opts_parse(struct perf_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	bool time_set = false;
	uint64_t v;
	int c, rc;

	err[0] = '\0';
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":r:a:s:n:N:w:M:o:q:t:c:HIh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rc = perf_parse_trid(o, optarg, err, errlen);
			if (rc)
				return rc;
			break;
		case 'a':
			if (copy_str(o->traddr, sizeof(o->traddr), optarg))
				return opt_err(err, errlen, "-a: bad address");
			break;
		case 's':
			if (parse_u64(optarg, 1, 65535, &v))
				return opt_err(err, errlen, "-s: '%s' is not a port (1..65535)", optarg);
			snprintf(o->trsvcid, sizeof(o->trsvcid), "%" PRIu64, v);
			break;
		case 'n':
			if (copy_str(o->subnqn, sizeof(o->subnqn), optarg))
				return opt_err(err, errlen, "-n: NQN is empty or longer than 223 bytes");
			break;
		case OPT_HOSTNQN:
			if (copy_str(o->hostnqn, sizeof(o->hostnqn), optarg))
				return opt_err(err, errlen,
					       "--hostnqn: NQN is empty or longer than 223 bytes");
			break;
		case 'N':
			if (parse_u64(optarg, 1, 0xfffffffe, &v))
				return opt_err(err, errlen, "-N: '%s' is not a namespace ID", optarg);
			o->nsid = (uint32_t)v;
			break;
		case OPT_NS_COUNT:
			if (parse_u64(optarg, 1, 1024, &v))
				return opt_err(err, errlen, "--ns-count: '%s' is not 1..1024", optarg);
			o->ns_count = (uint32_t)v;
			break;
		case OPT_IDLE:
			o->idle = true;
			break;
		case 'w':
			if (parse_workload(optarg, &o->workload))
				return opt_err(err, errlen,
					       "-w: '%s' is not read, write, randread, randwrite, rw or randrw",
					       optarg);
			break;
		case 'M':
			if (parse_u64(optarg, 0, 100, &v))
				return opt_err(err, errlen, "-M: '%s' is not a percentage", optarg);
			o->rwmix = (uint32_t)v;
			o->rwmix_set = true;
			break;
		case 'o':
			if (perf_parse_size(optarg, &v) || v == 0 || v > (1u << 30))
				return opt_err(err, errlen, "-o: '%s' is not a size of 1 byte .. 1 GiB",
					       optarg);
			o->io_size = (uint32_t)v;
			break;
		case OPT_QUEUES:
			if (parse_u64(optarg, 1, PERF_MAX_QUEUES, &v))
				return opt_err(err, errlen, "--queues: '%s' is not 1..%u", optarg,
					       PERF_MAX_QUEUES);
			o->queues = (uint32_t)v;
			break;
		case 'q':
			if (parse_u64(optarg, 1, PERF_MAX_QD, &v))
				return opt_err(err, errlen, "-q: '%s' is not a queue depth 1..%u",
					       optarg, PERF_MAX_QD);
			o->qd = (uint32_t)v;
			break;
		case 't':
			if (parse_seconds(optarg, 0.001, &o->time_s))
				return opt_err(err, errlen, "-t: '%s' is not a positive number of seconds",
					       optarg);
			time_set = true;
			break;
		case OPT_COUNT:
			if (parse_u64(optarg, 1, UINT64_MAX / 2, &o->count))
				return opt_err(err, errlen, "--count: '%s' is not a positive count",
					       optarg);
			break;
		case OPT_WARMUP:
			if (parse_seconds(optarg, 0, &o->warmup_s))
				return opt_err(err, errlen, "--warmup: '%s' is not a number of seconds",
					       optarg);
			break;
		case OPT_SIZE:
			if (perf_parse_size(optarg, &o->size) || o->size == 0)
				return opt_err(err, errlen, "--size: '%s' is not a size", optarg);
			break;
		case OPT_VERIFY:
			o->verify = true;
			break;
		case OPT_SEED:
			if (parse_u64(optarg, 0, UINT64_MAX, &o->seed))
				return opt_err(err, errlen, "--seed: '%s' is not a number", optarg);
			break;
		case OPT_CORE:
		case 'c':
			rc = perf_parse_cores(optarg, c == 'c', o->cores, &o->ncores);
			if (rc)
				return opt_err(err, errlen, "%s: '%s' is not a %s",
					       c == 'c' ? "-c" : "--core", optarg,
					       c == 'c' ? "hex CPU mask" : "CPU list");
			break;
		case OPT_THREADS:
			if (parse_u64(optarg, 1, PERF_MAX_CORES, &v))
				return opt_err(err, errlen, "--threads: '%s' is not 1..%u", optarg,
					       PERF_MAX_CORES);
			o->threads = (uint32_t)v;
			break;
		case 'H':
			o->hdgst = true;
			break;
		case 'I':
			o->ddgst = true;
			break;
		case OPT_KATO:
			if (parse_u64(optarg, 0, 3600000, &v))
				return opt_err(err, errlen, "--kato: '%s' is not 0..3600000 ms", optarg);
			o->kato_ms = (uint32_t)v;
			break;
		case OPT_NO_ICD:
			o->no_icd = true;
			break;
		case OPT_RX_MODE: {
			int k = parse_choice(optarg, rx_mode_names, NVMFT_ARRAY_SIZE(rx_mode_names));

			if (k < 0)
				return opt_err(err, errlen,
					       "--rx-mode: '%s' is not auto, copy, direct or discard", optarg);
			o->rx_mode = (enum perf_rx_mode)k;
			break;
		}
		case OPT_POLL: {
			int k = parse_choice(optarg, poll_mode_names, NVMFT_ARRAY_SIZE(poll_mode_names));

			if (k < 0)
				return opt_err(err, errlen, "--poll: '%s' is not auto, scan or epoll",
					       optarg);
			o->poll_mode = (enum perf_poll_mode)k;
			break;
		}
		case OPT_TIMEOUT:
			if (parse_seconds(optarg, 0.1, &o->timeout_s))
				return opt_err(err, errlen, "--timeout: '%s' is not a number of seconds",
					       optarg);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return PERF_OPTS_EXIT;
		case OPT_VERSION:
			printf("%s %s\n", PERF_NAME, NVMFT_VERSION_STRING);
			return PERF_OPTS_EXIT;
		case ':':
			return opt_err(err, errlen, "option '%s' needs an argument", argv[optind - 1]);
		default:
			return opt_err(err, errlen, "unknown option '%s' (see --help)",
				       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return opt_err(err, errlen, "unexpected argument '%s'", argv[optind]);
	return opts_check(o, time_set, err, errlen);
}
