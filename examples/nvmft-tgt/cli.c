/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command-line flags of nvmft-tgt.  The rule for building subsystems from
 * flags: -n NQN selects a subsystem (creating it unless the config has it);
 * --ns and --allow-host attach to the selected one, or to the default
 * subsystem when no -n came before; a --listen before the first -n is
 * shared by every subsystem, one after it belongs to the selected one.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "fault_rules.h"

enum {
	OPT_NS = 256,
	OPT_ALLOW_HOST,
	OPT_BUSY_POLL,
	OPT_EVENT,
	OPT_HDGST,
	OPT_NO_HDGST,
	OPT_DDGST,
	OPT_NO_DDGST,
	OPT_ICD_SIZE,
	OPT_MAX_IO_SIZE,
	OPT_MAX_QUEUE_DEPTH,
	OPT_MAX_IO_QPAIRS,
	OPT_NO_SRQ,
	OPT_ALLOW_UNSEALED,
	OPT_MAX_SRQ_DEPTH,
	OPT_TCP_CONGESTION,
	OPT_LOG_LEVEL,
	OPT_VERSION,
	OPT_NO_RPC,
};

static const struct option cli_longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "nqn", required_argument, NULL, 'n' },
	{ "ns", required_argument, NULL, OPT_NS },
	{ "allow-host", required_argument, NULL, OPT_ALLOW_HOST },
	{ "threads", required_argument, NULL, 'm' },
	{ "busy-poll", no_argument, NULL, OPT_BUSY_POLL },
	{ "event", no_argument, NULL, OPT_EVENT },
	{ "config", required_argument, NULL, 'c' },
	{ "hdgst", no_argument, NULL, OPT_HDGST },
	{ "no-hdgst", no_argument, NULL, OPT_NO_HDGST },
	{ "ddgst", no_argument, NULL, OPT_DDGST },
	{ "no-ddgst", no_argument, NULL, OPT_NO_DDGST },
	{ "in-capsule-data-size", required_argument, NULL, OPT_ICD_SIZE },
	{ "max-io-size", required_argument, NULL, OPT_MAX_IO_SIZE },
	{ "max-queue-depth", required_argument, NULL, OPT_MAX_QUEUE_DEPTH },
	{ "max-io-qpairs", required_argument, NULL, OPT_MAX_IO_QPAIRS },
	{ "no-srq", no_argument, NULL, OPT_NO_SRQ },
	{ "vfio-user-allow-unsealed", no_argument, NULL, OPT_ALLOW_UNSEALED },
	{ "max-srq-depth", required_argument, NULL, OPT_MAX_SRQ_DEPTH },
	{ "tcp-congestion", required_argument, NULL, OPT_TCP_CONGESTION },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "rpc-socket", required_argument, NULL, 'r' },
	{ "no-rpc", no_argument, NULL, OPT_NO_RPC },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

void cli_usage(FILE *out)
{
	fputs("Usage: nvmft-tgt [OPTIONS]\n"
	      "An NVMe-over-Fabrics target built on libnvmft.\n"
	      "\n"
	      "Objects (in order; see doc/nvmft-tgt.md for how they combine):\n"
	      "  -c, --config FILE          SPDK-format JSON configuration, applied first\n"
	      "  -n, --nqn NQN              select (or create) a subsystem for the flags after it\n"
	      "  -l, --listen TRTYPE:ADDR:PORT\n"
	      "                             listen address, e.g. tcp:127.0.0.1:4420,\n"
	      "                             tcp:[::1]:4420; before any -n: for every subsystem\n"
	      "  -l, --listen vfio-user:DIR a vfio-user socket DIR/cntrl (one subsystem's)\n"
	      "      --ns KIND:ARG[,bs=N][,nsid=N][,uuid=U][,name=B]\n"
	      "                             namespace: ram:SIZE, null:SIZE or file:PATH\n"
	      "                             (SIZE takes K/M/G/T, 1024-based), or\n"
	      "                             fault:ram:SIZE / fault:null:SIZE with fault rules\n"
	      "                             (fail=, short=, delay=, hang=, seed=; doc/faults.md)\n"
	      "      --allow-host NQN       allow this host (default: any host)\n"
	      "\n"
	      "Threads:\n"
	      "  -m, --threads N            poll group threads (default 1)\n"
	      "      --event                sleep until there is work (default)\n"
	      "      --busy-poll            poll without sleeping (one core per thread)\n"
	      "\n"
	      "Transport:\n"
	      "      --hdgst, --no-hdgst    agree to / decline TCP header digests (default agree)\n"
	      "      --ddgst, --no-ddgst    agree to / decline TCP data digests (default agree)\n"
	      "      --in-capsule-data-size SIZE\n"
	      "      --max-io-size SIZE     power of two, 4K..8M\n"
	      "      --max-queue-depth N    largest I/O queue (2..65536)\n"
	      "      --max-io-qpairs N      I/O queues per controller (1..65534)\n"
	      "      --no-srq               RDMA: a receive queue per queue pair, not per thread\n"
	      "      --max-srq-depth N      RDMA: receive buffers per shared queue (16..65536)\n"
	      "      --tcp-congestion NAME  TCP: congestion control of accepted connections\n"
	      "                             (reno, cubic, bbr...; default: the system's)\n"
	      "      --vfio-user-allow-unsealed\n"
	      "                             vfio-user: take client memory files not sealed\n"
	      "                             against shrinking (trusted clients only: a client\n"
	      "                             that shrinks one can kill the target; doc/vfio-user.md)\n"
	      "\n"
	      "JSON-RPC (SPDK's methods; doc/rpc.md):\n"
	      "  -r, --rpc-socket PATH      serve JSON-RPC on this Unix socket (default\n"
	      "                             " CLI_RPC_DEFAULT_PATH "; on by default unless\n"
	      "                             -n, -l, --ns or --allow-host build the target)\n"
	      "      --no-rpc               no JSON-RPC server\n"
	      "\n"
	      "Other:\n"
	      "      --log-level LEVEL      error, warning, notice (default), info, debug\n"
	      "  -h, --help                 this text\n"
	      "      --version              program and library version\n",
	      out);
}

static int parse_log_level(const char *s, enum nvmft_log_level *out)
{
	static const struct {
		const char *name;
		enum nvmft_log_level level;
	} names[] = {
		{ "error", NVMFT_LOG_ERR },    { "err", NVMFT_LOG_ERR },
		{ "warning", NVMFT_LOG_WARN }, { "warn", NVMFT_LOG_WARN },
		{ "notice", NVMFT_LOG_NOTICE }, { "info", NVMFT_LOG_INFO },
		{ "debug", NVMFT_LOG_DEBUG },
	};
	uint32_t v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	if (plan_parse_u32(s, NVMFT_LOG_ERR, NVMFT_LOG_DEBUG, &v) == 0) {
		*out = (enum nvmft_log_level)v;
		return 0;
	}
	return -EINVAL;
}

static int add_item(struct cli *cli, enum cli_item_kind kind, const char *arg)
{
	struct cli_item *a = realloc(cli->items, (cli->n_items + 1) * sizeof(*a));

	if (a == NULL)
		return -ENOMEM;
	cli->items = a;
	a[cli->n_items++] = (struct cli_item){ .kind = kind, .arg = arg };
	return 0;
}

/* A number flag of the transport; sizes take K/M/G suffixes. */
static int tr_flag(struct cli *cli, const char *flag, const char *arg, uint32_t bit, bool size,
		   uint32_t min, uint32_t max, uint32_t *field, char *err, size_t errlen)
{
	uint64_t v;
	uint32_t v32;
	int rc;

	if (size) {
		rc = plan_parse_size(arg, &v);
		if (rc == 0 && (v < min || v > max))
			rc = -ERANGE;
		v32 = (uint32_t)v;
	} else {
		rc = plan_parse_u32(arg, min, max, &v32);
	}
	if (rc < 0)
		return plan_failf(err, errlen, "%s %s: expected a %s from %u to %u", flag, arg,
				  size ? "size" : "number", min, max);
	cli->tr.set |= bit;
	*field = v32;
	return 0;
}

static int cli_option(struct cli *cli, int opt, const char *arg, char *err, size_t errlen)
{
	struct plan_transport *t = &cli->tr;
	uint32_t v;

	switch (opt) {
	case 'l':
		return add_item(cli, CLI_LISTEN, arg);
	case 'n':
		return add_item(cli, CLI_NQN, arg);
	case OPT_NS:
		return add_item(cli, CLI_NS, arg);
	case OPT_ALLOW_HOST:
		return add_item(cli, CLI_HOST, arg);
	case 'm':
		if (plan_parse_u32(arg, 1, 1024, &v) < 0)
			return plan_failf(err, errlen,
					  "--threads %s: expected a number from 1 to 1024", arg);
		cli->threads = v;
		return 0;
	case OPT_BUSY_POLL:
	case OPT_EVENT:
		cli->busy_poll = opt == OPT_BUSY_POLL;
		return 0;
	case 'c':
		if (cli->config_path != NULL)
			return plan_failf(err, errlen, "--config given twice");
		cli->config_path = arg;
		return 0;
	case OPT_HDGST:
	case OPT_NO_HDGST:
		t->set |= PLAN_TR_HDGST;
		t->hdgst = opt == OPT_HDGST;
		return 0;
	case OPT_DDGST:
	case OPT_NO_DDGST:
		t->set |= PLAN_TR_DDGST;
		t->ddgst = opt == OPT_DDGST;
		return 0;
	case OPT_ICD_SIZE:
		return tr_flag(cli, "--in-capsule-data-size", arg, PLAN_TR_IN_CAPSULE, true, 0,
			       65536, &t->in_capsule_data_size, err, errlen);
	case OPT_MAX_IO_SIZE:
		return tr_flag(cli, "--max-io-size", arg, PLAN_TR_MAX_IO_SIZE, true, 4096, 8u << 20,
			       &t->max_io_size, err, errlen);
	case OPT_MAX_QUEUE_DEPTH:
		return tr_flag(cli, "--max-queue-depth", arg, PLAN_TR_MAX_QUEUE_DEPTH, false, 2,
			       65536, &t->max_queue_depth, err, errlen);
	case OPT_MAX_IO_QPAIRS:
		if (tr_flag(cli, "--max-io-qpairs", arg, PLAN_TR_MAX_QPAIRS, false, 1, 65534,
			    &t->max_qpairs_per_ctrlr, err, errlen) < 0)
			return -EINVAL;
		t->max_qpairs_per_ctrlr++; /* the library counts the admin queue */
		return 0;
	case OPT_NO_SRQ:
		t->set |= PLAN_TR_NO_SRQ;
		t->no_srq = true;
		return 0;
	case OPT_ALLOW_UNSEALED:
		t->set |= PLAN_TR_ALLOW_UNSEALED;
		t->allow_unsealed_mem = true;
		return 0;
	case OPT_MAX_SRQ_DEPTH:
		return tr_flag(cli, "--max-srq-depth", arg, PLAN_TR_MAX_SRQ_DEPTH, false, 16, 65536,
			       &t->max_srq_depth, err, errlen);
	case OPT_TCP_CONGESTION:
		if (arg[0] == '\0' || strlen(arg) >= sizeof(t->tcp_congestion))
			return plan_failf(err, errlen,
					  "--tcp-congestion %s: expected an algorithm name of 1 to "
					  "15 characters",
					  arg);
		t->set |= PLAN_TR_TCP_CONGESTION;
		snprintf(t->tcp_congestion, sizeof(t->tcp_congestion), "%s", arg);
		return 0;
	case OPT_LOG_LEVEL:
		if (parse_log_level(arg, &cli->log_level) < 0)
			return plan_failf(
				err, errlen,
				"--log-level %s: expected error, warning, notice, info or "
				"debug",
				arg);
		return 0;
	case 'r':
		if (arg[0] == '\0')
			return plan_failf(err, errlen, "--rpc-socket: the path is empty");
		cli->rpc_path = arg;
		return 0;
	case OPT_NO_RPC:
		cli->no_rpc = true;
		return 0;
	case 'h':
		cli->help = true;
		return 0;
	case OPT_VERSION:
		cli->version = true;
		return 0;
	}
	return plan_failf(err, errlen, "internal error: option %d not handled", opt);
}

int cli_parse(int argc, char **argv, struct cli *cli, char *err, size_t errlen)
{
	int opt, rc;

	memset(cli, 0, sizeof(*cli));
	cli->threads = 1;
	cli->log_level = NVMFT_LOG_NOTICE;
	plan_origin_set(&cli->tr.origin, "command line", "");
	/* getopt keeps state in globals: 0 makes glibc start over, for the tests. */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":hl:n:m:c:r:", cli_longopts, NULL)) != -1) {
		if (opt == '?') {
			const char *a = argv[optind - 1];

			/* getopt_long() names a known long option given a value in optopt. */
			if (optopt != 0 && strncmp(a, "--", 2) == 0)
				return plan_failf(err, errlen, "option '%.*s' takes no argument",
						  (int)strcspn(a, "="), a);
			if (optopt != 0)
				return plan_failf(err, errlen, "unknown option '-%c' (try --help)",
						  optopt);
			return plan_failf(err, errlen, "unknown option '%s' (try --help)", a);
		}
		if (opt == ':')
			return plan_failf(err, errlen, "option '%s' needs an argument",
					  argv[optind - 1]);
		rc = cli_option(cli, opt, optarg, err, errlen);
		if (rc == -ENOMEM)
			return plan_failf(err, errlen, "out of memory");
		if (rc < 0)
			return rc;
	}
	if (optind < argc)
		return plan_failf(err, errlen, "unexpected argument '%s' (try --help)",
				  argv[optind]);
	return 0;
}

const char *cli_rpc_path(const struct cli *cli)
{
	if (cli->no_rpc)
		return NULL;
	if (cli->rpc_path != NULL)
		return cli->rpc_path;
	/*
	 * Like SPDK's nvmf_tgt, a target built by a config file (or by nobody
	 * yet) is managed over the default socket.  One built by flags is an
	 * ad-hoc target, often one of several side by side: it serves JSON-RPC
	 * only when asked with -r, so that they do not fight over one path.
	 */
	return cli->n_items == 0 ? CLI_RPC_DEFAULT_PATH : NULL;
}

void cli_free(struct cli *cli)
{
	free(cli->items);
	cli->items = NULL;
	cli->n_items = 0;
}

/* ---- Flags to plan entries ---------------------------------------------- */

struct cli_build {
	struct plan *plan;
	const char *cur_nqn; /* owned by the plan's subsystem entry */
	char *err;
	size_t errlen;
	struct plan_origin origin;
};

static int nomem(struct cli_build *b)
{
	return plan_failf(b->err, b->errlen, "out of memory");
}

static int select_subsys(struct cli_build *b, const char *nqn)
{
	struct plan_subsys *s = plan_find_subsys(b->plan, nqn);

	if (s == NULL) {
		s = plan_add_subsys(b->plan);
		if (s == NULL)
			return nomem(b);
		s->nqn = strdup(nqn);
		if (s->nqn == NULL)
			return nomem(b);
		s->allow_any_host = true;
		s->from_cli = true;
		s->origin = b->origin;
	}
	b->cur_nqn = s->nqn;
	return 0;
}

/* --ns and --allow-host without a -n before them use the default subsystem. */
static int current_subsys(struct cli_build *b)
{
	return b->cur_nqn != NULL ? 0 : select_subsys(b, PLAN_DEFAULT_NQN);
}

/*
 * vfio-user:DIR: the socket is DIR/cntrl, SPDK's convention; no port.  The
 * family is SPDK's default, IPv4, so that save_config writes an address
 * SPDK takes too (it knows no INTRA_HOST); nothing looks at it.
 */
static int build_listen_vfio_user(struct cli_build *b, const char *dir)
{
	struct plan_listener *dst;

	if (dir[0] == '\0')
		return plan_fail(b->err, b->errlen, &b->origin, "expected vfio-user:DIR");
	dst = plan_add_listener(b->plan);
	if (dst == NULL)
		return nomem(b);
	dst->origin = b->origin;
	dst->trtype = NVMFT_TRTYPE_VFIOUSER;
	dst->adrfam = NVMFT_ADRFAM_IPV4;
	dst->traddr = strdup(dir);
	dst->trsvcid = strdup("");
	dst->nqn = b->cur_nqn ? strdup(b->cur_nqn) : NULL;
	if (dst->traddr == NULL || dst->trsvcid == NULL || (b->cur_nqn && !dst->nqn))
		return nomem(b);
	return 0;
}

/* TRTYPE:ADDR:PORT, ADDR either IPv4, [IPv6] or plain IPv6 (last ':' ends it). */
static int build_listen(struct cli_build *b, const char *arg)
{
	struct plan_listener l = { .origin = b->origin };
	char *copy, *addr, *port, *p;
	struct plan_listener *dst;

	if (strncasecmp(arg, "vfio-user:", 10) == 0)
		return build_listen_vfio_user(b, arg + 10);
	if (strncasecmp(arg, "vfiouser:", 9) == 0)
		return build_listen_vfio_user(b, arg + 9);
	copy = strdup(arg);
	if (copy == NULL)
		return nomem(b);
	p = strchr(copy, ':');
	if (p == NULL)
		goto bad;
	*p = '\0';
	addr = p + 1;
	if (plan_parse_trtype(copy, &l.trtype) < 0) {
		free(copy);
		return plan_fail(b->err, b->errlen, &b->origin,
				 "transport type must be tcp, rdma or vfio-user");
	}
	if (addr[0] == '[') {
		p = strchr(addr, ']');
		if (p == NULL || p[1] != ':')
			goto bad;
		addr++;
		*p = '\0';
		port = p + 2;
		l.adrfam = NVMFT_ADRFAM_IPV6;
	} else {
		p = strrchr(addr, ':');
		if (p == NULL)
			goto bad;
		*p = '\0';
		port = p + 1;
		l.adrfam = strchr(addr, ':') ? NVMFT_ADRFAM_IPV6 : NVMFT_ADRFAM_IPV4;
	}
	if (addr[0] == '\0' || port[0] == '\0')
		goto bad;
	l.traddr = strdup(addr);
	l.trsvcid = strdup(port);
	l.nqn = b->cur_nqn ? strdup(b->cur_nqn) : NULL;
	free(copy);
	dst = plan_add_listener(b->plan);
	if (dst == NULL || l.traddr == NULL || l.trsvcid == NULL || (b->cur_nqn && !l.nqn)) {
		free(l.traddr);
		free(l.trsvcid);
		free(l.nqn);
		return nomem(b);
	}
	*dst = l;
	return 0;
bad:
	free(copy);
	return plan_fail(b->err, b->errlen, &b->origin, "expected TRTYPE:ADDR:PORT");
}

/* Options at the end of --ns: ",bs=4096", ",nsid=2", ",uuid=...", ",name=...". */
struct ns_opts {
	uint32_t bs;
	bool has_bs;
	struct plan_ns ns;
	const char *name;
};

static int ns_option(struct cli_build *b, const char *opt, struct ns_opts *o, bool *known)
{
	uint64_t v;

	*known = true;
	if (strncmp(opt, "bs=", 3) == 0) {
		if (plan_parse_size(opt + 3, &v) < 0 || v > UINT32_MAX ||
		    !plan_block_size_valid((uint32_t)v))
			return plan_fail(b->err, b->errlen, &b->origin,
					 "bs must be a power of two from 512 to 65536");
		o->bs = (uint32_t)v;
		o->has_bs = true;
	} else if (strncmp(opt, "nsid=", 5) == 0) {
		if (plan_parse_u32(opt + 5, 1, PLAN_MAX_NS_LIMIT, &o->ns.nsid) < 0)
			return plan_fail(b->err, b->errlen, &b->origin,
					 "nsid must be a number from 1 to %u", PLAN_MAX_NS_LIMIT);
	} else if (strncmp(opt, "uuid=", 5) == 0) {
		if (plan_parse_uuid(opt + 5, o->ns.uuid) < 0)
			return plan_fail(b->err, b->errlen, &b->origin, "'%s' is not a UUID",
					 opt + 5);
		o->ns.has_uuid = true;
	} else if (strncmp(opt, "name=", 5) == 0 && opt[5] != '\0') {
		o->name = opt + 5;
	} else {
		*known = false;
	}
	return 0;
}

/*
 * Fault rules peeled off the end of --ns one by one: put each in front of
 * the ones found before, so the rules keep the order they were given in.
 */
static int fault_prepend(char **rules, const char *item)
{
	size_t a = strlen(item), b = *rules ? strlen(*rules) : 0;
	char *r = malloc(a + b + 2);

	if (r == NULL)
		return -ENOMEM;
	memcpy(r, item, a);
	if (b > 0) {
		r[a] = ',';
		memcpy(r + a + 1, *rules, b + 1);
	} else {
		r[a] = '\0';
	}
	free(*rules);
	*rules = r;
	return 0;
}

/* "fault:ram:SIZE...": the store kind after "fault:"; @val moves past it. */
static int fault_inner(struct cli_build *b, char **val, struct plan_bdev *bd)
{
	char *sep = strchr(*val, ':');

	if (sep != NULL)
		*sep = '\0';
	if (sep != NULL && (strcasecmp(*val, "ram") == 0 || strcasecmp(*val, "malloc") == 0)) {
		bd->kind = PLAN_BDEV_RAM;
	} else if (sep != NULL && strcasecmp(*val, "null") == 0) {
		bd->kind = PLAN_BDEV_NULL;
	} else {
		/*
		 * file: the wrapper needs the inner backend's method table, and
		 * the library does not hand out the table of its own backends.
		 */
		return plan_fail(b->err, b->errlen, &b->origin,
				 "expected fault:ram:SIZE or fault:null:SIZE");
	}
	*val = sep + 1;
	return 0;
}

/* A bdev name not used yet: "ram0", "ram1"... unless name= gave one. */
static char *bdev_name(const struct plan *p, const char *kind, const char *given)
{
	char buf[64];

	if (given != NULL)
		return strdup(given);
	for (unsigned int i = 0;; i++) {
		snprintf(buf, sizeof(buf), "%s%u", kind, i);
		if (plan_find_bdev(p, buf) == NULL)
			return strdup(buf);
	}
}

static int build_ns(struct cli_build *b, const char *arg)
{
	struct ns_opts o = { 0 };
	struct plan_bdev bd = { .origin = b->origin };
	struct plan_bdev *bdst;
	struct plan_ns *ndst;
	char *copy, *sep, *val;
	const char *kind;
	uint64_t bytes;
	bool known;
	int rc;

	copy = strdup(arg);
	if (copy == NULL)
		return nomem(b);
	sep = strchr(copy, ':');
	if (sep == NULL || sep[1] == '\0') {
		free(copy);
		return plan_fail(b->err, b->errlen, &b->origin,
				 "expected ram:SIZE, null:SIZE or file:PATH");
	}
	*sep = '\0';
	val = sep + 1;
	if (strcasecmp(copy, "ram") == 0 || strcasecmp(copy, "malloc") == 0) {
		bd.kind = PLAN_BDEV_RAM;
		kind = "ram";
	} else if (strcasecmp(copy, "null") == 0) {
		bd.kind = PLAN_BDEV_NULL;
		kind = "null";
	} else if (strcasecmp(copy, "file") == 0) {
		bd.kind = PLAN_BDEV_FILE;
		kind = "file";
	} else if (strcasecmp(copy, "fault") == 0) {
		kind = "fault";
		rc = fault_inner(b, &val, &bd);
		if (rc == 0)
			bd.fault_rules = strdup("");
		if (rc == 0 && bd.fault_rules == NULL)
			rc = nomem(b);
		if (rc < 0) {
			free(copy);
			return rc;
		}
	} else {
		rc = plan_fail(b->err, b->errlen, &b->origin,
			       "unknown kind '%s' (ram, null or file)", copy);
		free(copy);
		return rc;
	}
	/*
	 * Options are peeled off the end; for a file, the first part that is
	 * not an option ends them, so a path may itself hold commas.
	 */
	while ((sep = strrchr(val, ',')) != NULL) {
		rc = ns_option(b, sep + 1, &o, &known);
		if (rc == 0 && !known && bd.fault_rules != NULL && fault_rules_is_item(sep + 1)) {
			rc = fault_prepend(&bd.fault_rules, sep + 1);
			if (rc < 0)
				rc = nomem(b);
			known = true;
		}
		if (rc == 0 && !known && bd.kind == PLAN_BDEV_FILE)
			break;
		if (rc == 0 && !known)
			rc = plan_fail(b->err, b->errlen, &b->origin,
				       "unknown option '%s' (bs=, nsid=, uuid=, name=%s)", sep + 1,
				       bd.fault_rules ? ", fail=, short=, delay=, hang=, seed=" : "");
		if (rc < 0) {
			free(bd.fault_rules);
			free(copy);
			return rc;
		}
		*sep = '\0';
	}
	if (bd.fault_rules != NULL) {
		struct fault_rules fr;
		char why[256] = "";

		/* Check the rules now, so a typo stops nvmft-tgt before it starts anything. */
		fault_rules_init(&fr);
		rc = fault_rules_parse(&fr, bd.fault_rules, why, sizeof(why));
		if (rc < 0) {
			rc = plan_fail(b->err, b->errlen, &b->origin, "%s",
				       rc == -ENOMEM ? "out of memory" : why);
			free(bd.fault_rules);
			free(copy);
			return rc;
		}
	}
	if (bd.kind == PLAN_BDEV_FILE) {
		bd.block_size = o.has_bs ? o.bs : 0;
		bd.filename = strdup(val);
	} else {
		bd.block_size = o.has_bs ? o.bs : 512;
		if (plan_parse_size(val, &bytes) < 0 || bytes == 0 || bytes % bd.block_size != 0) {
			free(bd.fault_rules);
			free(copy);
			return plan_fail(b->err, b->errlen, &b->origin,
					 "size must be a positive multiple of the block size %u "
					 "(K/M/G/T suffixes allowed)",
					 bd.block_size);
		}
		bd.num_blocks = bytes / bd.block_size;
	}
	/* o.name points into copy. */
	bd.name = bdev_name(b->plan, kind, o.name);
	free(copy);
	o.ns.bdev_name = bd.name ? strdup(bd.name) : NULL;
	o.ns.nqn = strdup(b->cur_nqn);
	o.ns.origin = b->origin;
	if (bd.name == NULL || o.ns.bdev_name == NULL || o.ns.nqn == NULL ||
	    (bd.kind == PLAN_BDEV_FILE && bd.filename == NULL))
		goto nomem;
	bdst = plan_add_bdev(b->plan);
	if (bdst == NULL)
		goto nomem;
	*bdst = bd; /* the plan owns the bdev's strings from here */
	bd.name = bd.filename = bd.fault_rules = NULL;
	ndst = plan_add_ns(b->plan);
	if (ndst == NULL)
		goto nomem;
	*ndst = o.ns;
	return 0;
nomem:
	free(bd.name);
	free(bd.filename);
	free(bd.fault_rules);
	free(o.ns.bdev_name);
	free(o.ns.nqn);
	return nomem(b);
}

static int build_host(struct cli_build *b, const char *arg)
{
	struct plan_subsys *s = plan_find_subsys(b->plan, b->cur_nqn);
	struct plan_host *h;

	/* A subsystem made by flags is open to all until the first --allow-host. */
	if (s->from_cli)
		s->allow_any_host = false;
	h = plan_add_host(b->plan);
	if (h == NULL)
		return nomem(b);
	h->origin = b->origin;
	h->nqn = strdup(b->cur_nqn);
	h->host = strdup(arg);
	return h->nqn && h->host ? 0 : nomem(b);
}

int cli_to_plan(const struct cli *cli, struct plan *plan, char *err, size_t errlen)
{
	static const char *const flag[] = {
		[CLI_NQN] = "--nqn",
		[CLI_LISTEN] = "--listen",
		[CLI_NS] = "--ns",
		[CLI_HOST] = "--allow-host",
	};
	struct cli_build b = { .plan = plan, .err = err, .errlen = errlen };
	int rc = 0;

	plan->tr_override = cli->tr;
	for (size_t i = 0; rc == 0 && i < cli->n_items; i++) {
		const struct cli_item *it = &cli->items[i];
		char what[160];

		snprintf(what, sizeof(what), "%s %s", flag[it->kind], it->arg);
		plan_origin_set(&b.origin, what, "");
		switch (it->kind) {
		case CLI_NQN:
			rc = select_subsys(&b, it->arg);
			break;
		case CLI_LISTEN:
			rc = build_listen(&b, it->arg);
			break;
		case CLI_NS:
			rc = current_subsys(&b);
			if (rc == 0)
				rc = build_ns(&b, it->arg);
			break;
		case CLI_HOST:
			rc = current_subsys(&b);
			if (rc == 0)
				rc = build_host(&b, it->arg);
			break;
		}
	}
	return rc;
}
