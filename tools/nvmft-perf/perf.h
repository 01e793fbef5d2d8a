/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nvmft-perf: a userspace NVMe/TCP host built for measurement.
 *
 * Layout: opts.c parses the command line, conn.c opens connections and
 * runs the admin queue (Connect, properties, Identify, features, keep-alive,
 * discovery, shutdown), wire.c is the per-connection PDU engine (batched
 * transmit, buffered receive and parse), io.c generates the workload on
 * worker threads, verify.c writes and checks data patterns, stats.c keeps
 * latency histograms, report.c prints text or JSON, main.c ties it together.
 *
 * Threads: the main thread owns the admin queue and sends Keep Alive; each
 * worker thread owns its I/O queues outright (no locks, no shared counters
 * on the I/O path) and hands its results back when it exits.
 */
#ifndef NVMFT_PERF_H
#define NVMFT_PERF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "spec/spec.h"
#include "transports/tcp/tcp_codec.h"

#include "stats.h"

#define PERF_NAME "nvmft-perf"

/* ---- Options ------------------------------------------------------------ */

enum perf_workload {
	PERF_WL_READ,
	PERF_WL_WRITE,
	PERF_WL_RANDREAD,
	PERF_WL_RANDWRITE,
	PERF_WL_RW,     /* sequential, mixed by rwmix */
	PERF_WL_RANDRW, /* random, mixed by rwmix */
};

enum perf_rx_mode {
	PERF_RX_AUTO,   /* copy below PERF_RX_DIRECT_MIN bytes per I/O, direct above */
	PERF_RX_COPY,   /* C2HData payload is copied out of the receive buffer */
	PERF_RX_DIRECT, /* payload not yet received goes straight into the I/O buffer */
	/*
	 * Payload not yet received is dropped by the kernel (recv MSG_TRUNC),
	 * never copied to user space: for large reads that copy is most of the
	 * client's work, and this compares targets without it.  Excludes
	 * --verify and data digests.
	 */
	PERF_RX_DISCARD,
};

/*
 * How a worker thread finds the queues that have something to receive.  A
 * recv() that finds nothing still costs a system call and the socket lock,
 * so scanning 64 queues of which two have data spends most of the core on
 * empty receives; asking epoll first costs one call per pass plus a wakeup
 * callback per packet, which one or two busy queues do not repay.
 */
enum perf_poll_mode {
	PERF_POLL_AUTO,  /* scan below PERF_POLL_EPOLL_MIN queues per thread, epoll from there */
	PERF_POLL_SCAN,  /* recv() on every queue in every pass */
	PERF_POLL_EPOLL, /* epoll_wait() with no timeout, then recv() on the ready queues */
};

#define PERF_POLL_EPOLL_MIN 8u

/* I/O sizes from which auto mode receives C2HData payload directly. */
#define PERF_RX_DIRECT_MIN (64u * 1024)

#define PERF_MAX_CORES 256
#define PERF_MAX_QUEUES 1024
#define PERF_MAX_QD 4096

struct perf_opts {
	char traddr[256];
	char trsvcid[32];
	int adrfam;               /* AF_UNSPEC, AF_INET or AF_INET6 */
	char subnqn[NVME_NQN_LENGTH];    /* empty: ask the discovery controller */
	char hostnqn[NVME_NQN_LENGTH];   /* empty: a random uuid NQN */
	uint32_t nsid;
	uint32_t ns_count;        /* I/O goes to nsid .. nsid + ns_count - 1 */
	bool idle;                /* no I/O: hold the queues open for time_s */
	uint32_t queues;
	uint32_t qd;
	uint32_t io_size;
	enum perf_workload workload;
	uint32_t rwmix;           /* read percentage, 0..100 */
	bool rwmix_set;
	double time_s;            /* 0 with --count */
	uint64_t count;           /* 0: time bound */
	double warmup_s;
	bool verify;
	uint32_t ncores;
	int cores[PERF_MAX_CORES];
	uint32_t threads;         /* 0: one per core given, else 1 */
	bool hdgst;
	bool ddgst;
	uint64_t size;            /* LBA range in bytes, 0: whole namespace */
	bool json;
	uint32_t kato_ms;
	enum perf_rx_mode rx_mode;
	enum perf_poll_mode poll_mode;
	bool no_icd;
	uint64_t seed;
	double timeout_s;         /* connection setup, admin commands, I/O progress */
};

enum {
	PERF_OPTS_OK = 0,
	PERF_OPTS_EXIT = 1,       /* --help / --version done */
	PERF_OPTS_ERROR = 2,      /* bad usage, message written */
};

void perf_opts_init(struct perf_opts *o);
/*
 * Parse argv into @o.  Errors are written to @err (one line, no newline).
 * Returns PERF_OPTS_OK, PERF_OPTS_EXIT (help/version printed) or
 * PERF_OPTS_ERROR.
 */
int perf_opts_parse(struct perf_opts *o, int argc, char **argv, char *err, size_t errlen);
/* An SPDK-style transport ID: 'trtype:tcp adrfam:IPv4 traddr:A trsvcid:P subnqn:N ns:1'. */
int perf_parse_trid(struct perf_opts *o, const char *s, char *err, size_t errlen);
/* 4096, 4k, 128K, 1M, 1G, 1T (1024-based); 0 or -EINVAL/-ERANGE. */
int perf_parse_size(const char *s, uint64_t *out);
/* A CPU list "0,2-3" or, with @mask, a hex mask "0x6". */
int perf_parse_cores(const char *s, bool mask, int *cores, uint32_t *ncores);
const char *perf_workload_name(enum perf_workload w);
/* The names --rx-mode and --poll take and the reports print. */
const char *perf_rx_mode_name(enum perf_rx_mode m);
const char *perf_poll_mode_name(enum perf_poll_mode m);
bool perf_workload_has_reads(const struct perf_opts *o);
bool perf_workload_has_writes(const struct perf_opts *o);
bool perf_workload_random(enum perf_workload w);

/* ---- Clock ---------------------------------------------------------------- */

/* Ticks are TSC cycles on x86-64 (calibrated once), nanoseconds elsewhere. */
struct perf_clock {
	uint64_t hz;       /* ticks per second */
	uint64_t ns_mult;  /* ns = ticks * ns_mult >> 32 */
};

void perf_clock_init(struct perf_clock *c);
uint64_t perf_mono_ns(void);

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t perf_ticks(void)
{
	return __rdtsc();
}
#else
static inline uint64_t perf_ticks(void)
{
	return perf_mono_ns();
}
#endif

static inline uint64_t perf_ticks_to_ns(const struct perf_clock *c, uint64_t t)
{
	return (uint64_t)(((unsigned __int128)t * c->ns_mult) >> 32);
}

static inline uint64_t perf_s_to_ticks(const struct perf_clock *c, double s)
{
	return (uint64_t)(s * (double)c->hz);
}

/* ---- Wire engine (wire.c) --------------------------------------------------- */

enum perf_cmd_state {
	PERF_CMD_FREE = 0,
	PERF_CMD_INFLIGHT,
};

struct perf_cmd {
	uint16_t cid;
	uint8_t state;
	uint8_t opc;
	bool to_host;          /* data flows controller to host (read, identify ...) */
	bool measured;         /* submitted inside the measured window */
	bool verify_pass;      /* read issued by the final verify pass */
	bool xfer_err;         /* a data digest error hit this command */
	uint32_t len;          /* data bytes */
	uint32_t c2h_got;      /* bytes of C2HData received */
	uint64_t slot;         /* I/O slot (offset / io_size) */
	uint64_t slba;
	uint32_t seq;          /* pattern sequence of a verified write */
	uint64_t t_submit;     /* ticks */
	uint8_t *buf;          /* preallocated data buffer, reused */
	/* One outstanding R2T (MAXR2T 0): the window and how much went out. */
	uint16_t ttag;
	uint32_t r2to;
	uint32_t r2tl;
	uint32_t r2t_sent;
	struct perf_cmd *h2c_next; /* on the queue's pending-H2CData list */
	bool h2c_queued;
	struct nvmft_cpl cpl;  /* admin commands keep their completion */
	bool done;
};

struct perf_queue;

/* Called once per finished command with its NVMe status (no phase bit). */
typedef void (*perf_complete_fn)(struct perf_queue *q, struct perf_cmd *cmd, uint16_t status);

/*
 * Internal status for a command the controller never completed properly
 * (data digest error, data missing); SCT 7 (vendor specific) keeps it out
 * of the way of real statuses.
 */
#define PERF_STATUS_XFER NVMFT_STATUS(7, 0xff)

struct perf_queue {
	int fd;
	uint16_t qid;
	uint16_t depth;
	struct nvmft_tcp_params tp;
	uint32_t icd_max;           /* in-capsule data this queue may send */
	enum perf_rx_mode rx_mode;
	struct perf_cmd *cmds;
	uint16_t *free_cids;
	uint16_t nfree;
	perf_complete_fn complete;

	/* Transmit: an iovec list over a header staging area and data buffers. */
	struct iovec *iov;
	uint32_t iov_cap;
	uint32_t iov_cnt;
	uint32_t iov_idx;           /* first iovec not fully sent */
	uint8_t *stage;
	size_t stage_cap;
	size_t stage_len;
	struct perf_cmd *h2c_head;
	struct perf_cmd *h2c_tail;

	/* Receive: a large buffer parsed in place, or a payload in flight. */
	uint8_t *rbuf;
	size_t rcap;
	size_t rhead;
	size_t rtail;
	struct perf_cmd *rx_cmd;    /* C2HData payload being received */
	uint32_t rx_left;           /* payload bytes still to come */
	uint32_t rx_crc;
	uint8_t rx_flags;           /* the C2HData PDU's flags */
	uint8_t rx_ddgst_got;       /* data digest bytes received (when digests are on) */
	uint8_t rx_ddgst[4];

	/* Progress and counters, owned by the queue's thread. */
	uint32_t outstanding;
	uint64_t last_progress;     /* ticks of the last completion */
	uint64_t rx_calls, rx_bytes, tx_calls, tx_bytes, pdus;
	uint64_t rx_direct_bytes, rx_copy_bytes, rx_discard_bytes;
	bool connected;             /* Fabrics Connect succeeded */
	bool admin;                 /* admin queue: status names differ */
	bool failed;
	char err[320];
	void *owner;
};

/*
 * Allocate a queue of @depth command slots (CIDs 0..depth-1), each with a
 * @buf_size data buffer.  The socket is attached later.  Returns 0 or -errno.
 */
int perf_queue_init(struct perf_queue *q, uint16_t depth, uint32_t buf_size, size_t rbuf_size);
void perf_queue_free(struct perf_queue *q);
struct perf_cmd *perf_cmd_get(struct perf_queue *q);
void perf_cmd_put(struct perf_queue *q, struct perf_cmd *cmd);
/*
 * Queue the capsule of @cmd for sending: @sqe gets the CID; data for a
 * controller-bound transfer of cmd->len bytes is sent in the capsule when
 * it fits (q->icd_max) and otherwise on R2T.  Returns false when the
 * transmit area is full (nothing queued; flush and retry).
 */
bool perf_queue_submit(struct perf_queue *q, struct perf_cmd *cmd, struct nvmft_cmd *sqe,
		       uint64_t now);
/* Push queued bytes into the socket; returns 0, or -1 with q->failed set. */
int perf_queue_flush(struct perf_queue *q);
/*
 * One receive call and parse of everything it brought; completions are
 * delivered through q->complete.  Returns the bytes received (0 when none
 * were waiting) or -1 with q->failed set.  @now is updated after a
 * receive that brought data.
 */
ssize_t perf_queue_poll_rx(struct perf_queue *q, uint64_t *now);
bool perf_queue_tx_pending(const struct perf_queue *q);
/* Record a fatal error on @q (first one wins); returns -1. */
int perf_queue_fail(struct perf_queue *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Send an H2CTermReq best effort (the connection is being given up on). */
void perf_queue_send_term(struct perf_queue *q, uint16_t fes, uint32_t fei);
/*
 * "status 0x0002: SCT 0h SC 02h (Invalid Field in Command)" and the like;
 * command specific codes are named after the command (@opc on an admin or
 * an I/O queue).
 */
const char *perf_status_str(uint16_t status, uint8_t opc, bool admin, char *buf, size_t len);

/* ---- Connections and admin (conn.c) ------------------------------------------ */

struct perf_ctrlr {
	struct perf_queue admin;
	uint16_t cntlid;
	uint64_t cap;
	uint32_t vs;
	uint32_t mdts_bytes;       /* 0: no limit */
	uint32_t ioccsz_bytes;     /* capsule size, SQE included */
	uint32_t sgls;
	uint16_t kas_ms;
	uint16_t maxcmd;
	uint32_t nsqa;             /* I/O submission queues allocated */
	uint64_t ns_blocks;
	uint32_t lba_size;
	uint32_t kato_ms;
	char subnqn[NVME_NQN_LENGTH];
	char hostnqn[NVME_NQN_LENGTH];
	uint8_t hostid[16];
	char mn[41];
	char sn[21];
	char fr[9];
	bool disc_used;            /* the NQN came from the discovery log */
};

struct perf_ctx;

/* Everything before I/O: discovery if needed, admin queue, identify. 0 or -1 (message printed). */
int perf_ctrlr_setup(struct perf_ctx *ctx);
/* Connect I/O queue @qid on @q (already perf_queue_init()ed). 0 or -1 with q->err. */
int perf_io_queue_connect(struct perf_ctx *ctx, struct perf_queue *q, uint16_t qid);
/* Send Keep Alive and wait for it. 0 or -1 with the admin queue's err. */
int perf_keep_alive(struct perf_ctx *ctx);
/* Normal shutdown (CC.SHN) of the controller and close of the admin queue. */
void perf_ctrlr_shutdown(struct perf_ctx *ctx);

/* ---- Workload (io.c) ------------------------------------------------------------ */

struct perf_thread;

/* One I/O queue and the workload it runs; owned by one worker thread. */
struct perf_job {
	struct perf_queue q;
	struct perf_ctx *ctx;
	struct perf_thread *thr;
	uint32_t index;
	uint64_t slot_base;         /* first I/O slot this job may use */
	uint64_t slot_count;
	uint64_t cursor;            /* sequential workloads: next slot, relative */
	uint64_t rng;
	uint64_t quota;             /* --count: measured I/Os still to submit */
	uint32_t blocks;            /* LBAs per I/O */
	uint32_t seq_next;          /* write sequence numbers for --verify */
	uint32_t *vseq;             /* per slot: sequence of the last completed write, 0 unknown */
	uint8_t *vbusy;             /* per slot: an I/O is in flight */
	uint64_t vpass_next;        /* verify pass: next slot to read back */
	uint8_t state;              /* enum perf_job_state (io.c) */
	uint64_t last_done;         /* ticks of the last measured completion */
};

struct perf_thread_result {
	struct perf_hist hist[2];   /* [0] reads, [1] writes */
	uint64_t ios[2];
	uint64_t bytes[2];
	uint64_t errors;
	uint64_t verify_errors;
	uint64_t verify_reads;
	uint64_t elapsed_ticks;     /* measure start to last measured completion */
	double cpu_user_s, cpu_sys_s, wall_s;
	/*
	 * Busy-polling keeps the CPU at 100%: what tells saturation is how much
	 * of the measured window went to loop passes that moved data or
	 * submitted I/O, rather than to passes that found nothing to do.
	 */
	uint64_t window_ticks, idle_ticks;
	uint64_t rx_calls, rx_bytes, tx_calls, tx_bytes, pdus, rx_direct_bytes, rx_copy_bytes;
	uint64_t rx_discard_bytes;
	uint64_t epoll_calls;       /* epoll_wait() calls in the window (epoll polling) */
	bool epoll;                 /* this thread polled its queues through epoll */
	bool failed;
	char err[400];              /* fatal error, or the first I/O error */
};

struct epoll_event;

struct perf_thread {
	uint32_t id;
	int core;                   /* -1: not pinned */
	pthread_t tid;
	struct perf_ctx *ctx;
	struct perf_job **jobs;
	uint32_t njobs;
	uint64_t now;               /* ticks, refreshed by every receive */
	int epfd;                   /* epoll polling: the queues' sockets; else -1 */
	uint64_t epoll_calls;       /* epoll_wait() calls so far */
	struct epoll_event *evs;    /* epoll polling: njobs events */
	uint8_t *ready;             /* epoll polling: per job, readable this pass */
	struct perf_thread_result res;
};

struct perf_ctx {
	struct perf_opts opts;
	struct perf_clock clock;
	struct perf_ctrlr ctrlr;
	uint64_t region_bytes;      /* LBA range used, a multiple of io_size */
	uint64_t slots;             /* region_bytes / io_size */
	struct perf_job **jobs;     /* one per I/O queue */
	struct perf_thread *threads;
	uint32_t nthreads;
	int stop;                   /* set (atomically) by SIGINT or a failing thread */
	int done_fd;                /* eventfd: each thread adds 1 when it exits */
	int go;                     /* 0: wait, 1: start, -1: give up (set atomically) */
	uint64_t keep_alives;       /* Keep Alive commands completed during the run */
	double idle_s;              /* --idle: how long the queues were held */
	/* The first I/O queue's negotiated transport, kept for the report. */
	bool io_connected;
	struct nvmft_tcp_params io_tp;
	uint32_t io_icd_max;
	enum perf_rx_mode io_rx_mode;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/* Allocate job @i (queue buffers, slot range, verify tables). 0 or -errno. */
int perf_job_create(struct perf_ctx *ctx, uint32_t i, struct perf_job **out);
void perf_job_free(struct perf_job *job);
void *perf_thread_main(void *arg);

/* ---- Data patterns (verify.c) --------------------------------------------------- */

enum perf_verify_result {
	PERF_VERIFY_OK = 0,
	PERF_VERIFY_MAGIC,  /* no pattern header: never written by nvmft-perf --verify */
	PERF_VERIFY_LBA,    /* a pattern, but for another LBA */
	PERF_VERIFY_SEQ,    /* the right LBA but not the last write's sequence number */
	PERF_VERIFY_DATA,   /* header fine, body corrupt */
};

struct perf_mismatch {
	uint64_t lba;       /* the block that failed */
	uint64_t got_lba;
	uint32_t got_seq;
	uint32_t want_seq;
	uint32_t offset;    /* first bad byte inside the block */
};

#define PERF_PATTERN_MAGIC 0x46525054464d564eull /* "NVMFTPRF" little-endian */

/* Fill @nblocks blocks of @lba_size bytes starting at @lba with sequence @seq (nonzero). */
void perf_pattern_fill(void *buf, uint32_t lba_size, uint64_t lba, uint32_t nblocks, uint32_t seq);
/*
 * Check blocks written by perf_pattern_fill(); @want_seq 0 accepts any
 * sequence number whose body matches.  Returns enum perf_verify_result
 * and fills @mm for the first bad block.
 */
int perf_pattern_check(const void *buf, uint32_t lba_size, uint64_t lba, uint32_t nblocks,
		       uint32_t want_seq, struct perf_mismatch *mm);
const char *perf_verify_str(int r);

/* ---- Output (report.c) ----------------------------------------------------------- */

struct perf_summary {
	struct perf_hist hist[3];   /* reads, writes, all */
	uint64_t ios[3];
	uint64_t bytes[3];
	uint64_t errors;
	uint64_t verify_errors;
	uint64_t verify_reads;
	double elapsed_s;
	double cpu_user_s, cpu_sys_s;
	double cpu_pct;             /* summed over threads: 100 = one core busy */
	double busy_pct;            /* summed over threads: time doing work, not idle polls */
	double busy_cpu_s;          /* CPU seconds spent in passes that did work */
	uint64_t rx_calls, rx_bytes, tx_calls, tx_bytes, pdus, rx_direct_bytes, rx_copy_bytes;
	uint64_t rx_discard_bytes;
	uint64_t epoll_calls;
	uint32_t epoll_threads;     /* threads that polled through epoll */
};

void perf_summarize(const struct perf_ctx *ctx, struct perf_summary *s);
void perf_report_text(const struct perf_ctx *ctx, const struct perf_summary *s);
void perf_report_json(const struct perf_ctx *ctx, const struct perf_summary *s, bool ok,
		      const char *error);

#endif
