/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The controller: what one host sees after Fabrics Connect, or what a
 * PCIe-style transport (vfio-user) creates itself (nvmft_ctrlr_new_local()).
 *
 * Owner: the poll group of its admin queue pair.  Everything below "group
 * thread only" is touched by that thread alone; I/O queue pairs on other
 * groups hold a reference and read only the immutable fields.  @lock guards
 * the queue pair table, which Connect and disconnect on any group change.
 */
#ifndef NVMFT_CORE_CTRLR_H
#define NVMFT_CORE_CTRLR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/queue.h>
#include <nvmft/ctrlr.h>

#include "core/poll_group.h"
#include "core/qpair.h"
#include "spec/spec.h"

struct nvmft_req;
struct nvmft_qpair;
struct nvmft_subsystem;

/* Asynchronous Event Request Limit: 4 outstanding (AERL is 0's based). */
#define NVMFT_AERL 4
/* Changed Namespace List log holds 1024 NSIDs; more sets the overflow marker. */
#define NVMFT_CHANGED_NS_MAX 1024
/* Error Information log entries kept (ELPE is 0's based). */
#define NVMFT_ERRLOG_ENTRIES 16
/* Keep-alive timer granularity, milliseconds (Fabrics uses 1 s when KAS is 0xa). */
#define NVMFT_KAS_MS 100

/* Kinds of events an AEN reports, one bit each (masked until the log is read). */
enum {
	NVMFT_AEN_NS_CHANGED = 1u << 0,   /* Notice: Namespace Attribute Changed */
	NVMFT_AEN_DISC_CHANGED = 1u << 1, /* Notice: Discovery Log Page Change */
	NVMFT_AEN_ERROR = 1u << 2,        /* Error: persistent internal error */
	NVMFT_AEN_DB_REG = 1u << 3,       /* Error: write to an invalid doorbell register (PCIe) */
	NVMFT_AEN_DB_VALUE = 1u << 4,     /* Error: invalid doorbell write value (PCIe) */
};

/* One Error event masks every Error event until the Error Information log is read. */
#define NVMFT_AEN_ERROR_TYPE (NVMFT_AEN_ERROR | NVMFT_AEN_DB_REG | NVMFT_AEN_DB_VALUE)

/* Current values of the features a host may get and set. */
struct nvmft_ctrlr_features {
	uint32_t arbitration;
	uint32_t power_mgmt;
	uint16_t temp_over[9];   /* by TMPSEL: 0 composite, 1..8 sensors */
	uint16_t temp_under[9];
	uint32_t error_recovery;
	bool volatile_wc;
	uint32_t num_queues;     /* NSQR in 15:0, NCQR in 31:16, 0's based */
	bool num_queues_set;     /* Set Features Number of Queues succeeded once */
	uint32_t irq_coalescing;
	uint32_t write_atomicity;
	uint32_t async_event_config;
	uint32_t host_behavior;
};

struct nvmft_errlog_entry {
	uint64_t error_count;
	uint16_t sqid;
	uint16_t cid;
	uint16_t status;
	uint16_t param_loc;
	uint32_t nsid;
	uint64_t lba;
};

enum nvmft_ctrlr_state {
	NVMFT_CTRLR_ACTIVE,
	NVMFT_CTRLR_RESETTING,  /* CC.EN 1->0 or shutdown: I/O queues going away */
	NVMFT_CTRLR_FAILED,     /* keep-alive expired or fatal error */
	NVMFT_CTRLR_DELETING,   /* admin queue gone */
};

struct nvmft_ctrlr {
	/* Immutable after creation. */
	struct nvmft_subsystem *ss;
	struct nvmft_poll_group *pg;
	struct nvmft_transport *tr;
	struct nvmft_listener *listener;
	uint16_t cntlid;
	char hostnqn[NVMFT_NQN_MAX_LEN + 1];
	uint8_t hostid[16];
	uint32_t max_qpairs;     /* admin included */
	uint32_t max_io_depth;   /* entries */
	bool local;              /* made by nvmft_ctrlr_new_local(): registers, no Connect */
	uint32_t _Atomic refs;

	pthread_mutex_t lock;
	struct nvmft_qpair **qpairs; /* by qid */
	uint32_t num_qpairs;

	/* Group thread only. */
	enum nvmft_ctrlr_state state;
	uint64_t cap;
	uint32_t vs;
	uint32_t cc;
	uint32_t csts;
	/* Admin queue registers of a local controller (Fabrics reserves them). */
	uint32_t aqa;
	uint64_t asq;
	uint64_t acq;
	bool tr_enabled;         /* ops->ctrlr_enable(true) succeeded, (false) not yet called */
	uint32_t kato_ms;
	uint64_t ka_deadline_ms;
	struct nvmft_timer ka_timer;
	struct nvmft_ctrlr_features feat;
	uint8_t host_id_ext[16]; /* Host Identifier feature, when set */

	struct nvmft_req *aer[NVMFT_AERL];
	uint32_t nr_aer;
	uint32_t aen_pending;   /* NVMFT_AEN_* waiting for an AER */
	uint32_t aen_masked;    /* reported, masked until the host reads the log */
	uint32_t changed_ns[NVMFT_CHANGED_NS_MAX];
	uint32_t nr_changed_ns;  /* > NVMFT_CHANGED_NS_MAX means overflow */

	struct nvmft_errlog_entry errlog[NVMFT_ERRLOG_ENTRIES];
	uint64_t error_count;
	uint32_t errlog_head;

	/* SMART counts of I/O queues that are gone, added when each is removed. */
	struct nvmft_smart_counts smart_gone; /* under @lock */
	bool shutting_down;         /* CC.SHN written; SHST completes at quiesce */
	struct nvmft_msg msg;       /* "I/O queues gone" from another group */

	/* Under @lock: a reset or deletion is dropping the I/O queues. */
	bool resetting;
	bool deleting;
	uint32_t _Atomic io_qpairs_closing;

	TAILQ_ENTRY(nvmft_ctrlr) ss_link; /* subsystem's list, under ss->lock */
	TAILQ_ENTRY(nvmft_ctrlr) pg_link; /* owning group's list */
};

/*
 * Create a controller for @admin (Connect on queue 0, on the group thread).
 * Return 0 or an NVMe status (Connect Controller Busy when no ID is left).
 */
uint16_t nvmft_ctrlr_create(struct nvmft_subsystem *ss, struct nvmft_qpair *admin,
			    const struct nvmf_connect_data *data, uint32_t kato_ms,
			    struct nvmft_ctrlr **ret);
/* Attach an I/O queue to @ctrlr (any group).  Return 0 or an NVMe status. */
uint16_t nvmft_ctrlr_add_io_qpair(struct nvmft_ctrlr *ctrlr, struct nvmft_qpair *qp);

/*
 * PCIe-style transports (NVMFT_TR_CAP_PCIE: vfio-user) have no Fabrics
 * Connect.  Such a transport accepts a client as usual (its admin queue
 * goes through nvmft_target_accepted() to a poll group) and, on that
 * group's thread (from ops->pg_add_qpair or later), creates the controller
 * behind the admin queue with nvmft_ctrlr_new_local().  @subnqn must be an
 * NVM subsystem offered on @admin's listener that lets @hostnqn in; the
 * transport makes up @hostnqn and @hostid when its clients have none.
 *
 * The controller starts disabled.  The transport serves BAR0 with
 * nvmft_ctrlr_reg_read/write(); on CC.EN 0 -> 1 the core sizes the admin
 * queue from AQA and asks ops->ctrlr_enable() to map it.  Returns 0 with
 * *@ret set and @admin active, -EINVAL (bad arguments, not a PCIe-style
 * transport, queue already connected), -ENOENT (no such NVM subsystem
 * here), -EPERM (host not allowed), -EBUSY (no controller ID left) or
 * -ENOMEM.  The controller goes away with its admin queue
 * (nvmft_qpair_disconnect()).
 */
int nvmft_ctrlr_new_local(struct nvmft_qpair *admin, const char *subnqn, const char *hostnqn,
			  const uint8_t hostid[16], struct nvmft_ctrlr **ret);
/*
 * Create I/O Submission Queue on a local controller: attach @qp, which the
 * transport put on a poll group with nvmft_qpair_add_local(), as queue
 * @qid with @qsize entries (0's based, as in the command).  Call on @qp's
 * group thread.  Returns 0, or the status to complete the Create command
 * with: Command Sequence Error (controller not ready), Invalid Queue
 * Identifier (0, beyond Number of Queues, or in use), Invalid Queue Size.
 * Delete I/O Submission Queue is nvmft_qpair_disconnect(); the core calls
 * ops->qpair_free once the queue's last command is released.
 */
uint16_t nvmft_ctrlr_add_local_io_qpair(struct nvmft_ctrlr *ctrlr, struct nvmft_qpair *qp, uint16_t qid,
					uint16_t qsize);
/*
 * BAR0 of a local controller, in place of Property Get/Set: CAP, VS, CC,
 * CSTS, AQA, ASQ and ACQ, 4-byte accesses (either half of the 8-byte
 * registers) or 8-byte ones at CAP, ASQ, ACQ.  Anything else (interrupt
 * masks, doorbells, a CMB) is the transport's.  Returns 0, -EINVAL (not a
 * local controller, or an offset or size the core does not serve) or, for
 * a CC write while a reset still drops I/O queues, -EAGAIN (write again
 * after polling the group).  Owner thread.
 */
int nvmft_ctrlr_reg_read(struct nvmft_ctrlr *ctrlr, uint32_t offset, uint8_t size, uint64_t *val);
int nvmft_ctrlr_reg_write(struct nvmft_ctrlr *ctrlr, uint32_t offset, uint8_t size, uint64_t val);
/*
 * A function-level reset of a local controller (vfio-user DEVICE_RESET,
 * PCI FLR), once CC.EN is 0 and the controller has finished dropping its
 * queues: every register the core keeps goes back to its reset value (CC,
 * CSTS with a shutdown's status, AQA, ASQ, ACQ) and the features to their
 * defaults.  A controller reset (CC.EN 1 -> 0) alone keeps CSTS.SHST and
 * the admin queue registers; a function reset does not.  Returns 0,
 * -EAGAIN while CC.EN is 1 or a reset or shutdown is still in progress
 * (poll the group, call again), or -EINVAL (not a local controller).
 * Owner thread.
 */
int nvmft_ctrlr_local_function_reset(struct nvmft_ctrlr *ctrlr);
/* Detach @qp (its group thread) and drop its reference. */
void nvmft_ctrlr_remove_qpair(struct nvmft_ctrlr *ctrlr, struct nvmft_qpair *qp);
void nvmft_ctrlr_ref(struct nvmft_ctrlr *ctrlr);
void nvmft_ctrlr_unref(struct nvmft_ctrlr *ctrlr);
/* Tear the controller down: every queue pair disconnects. Owner thread. */
void nvmft_ctrlr_fail(struct nvmft_ctrlr *ctrlr, const char *why);
/* The admin queue is disconnecting: leave the subsystem, drop the I/O queues. Owner thread. */
void nvmft_ctrlr_begin_delete(struct nvmft_ctrlr *ctrlr);

/* Property access (Fabrics Property Get/Set, vfio-user BAR0).  Owner thread. */
uint16_t nvmft_ctrlr_prop_get(struct nvmft_ctrlr *ctrlr, uint32_t offset, uint8_t size, uint64_t *val);
uint16_t nvmft_ctrlr_prop_set(struct nvmft_ctrlr *ctrlr, uint32_t offset, uint8_t size, uint64_t val);
/* Enabled, ready and not shut down: commands other than Fabrics ones may run. */
static inline bool nvmft_ctrlr_ready(const struct nvmft_ctrlr *ctrlr)
{
	return (ctrlr->csts & (NVMFT_CSTS_RDY | NVMFT_CSTS_SHST_MASK)) == NVMFT_CSTS_RDY &&
	       ctrlr->state == NVMFT_CTRLR_ACTIVE;
}
/* A Keep Alive (or, with TBKAS, any command) arrived. Owner thread. */
void nvmft_ctrlr_keep_alive(struct nvmft_ctrlr *ctrlr);

/* Asynchronous events.  Owner thread. */
/* Park an AER; false when NVMFT_AERL are parked already. */
bool nvmft_ctrlr_aer_park(struct nvmft_ctrlr *ctrlr, struct nvmft_req *req);
void nvmft_ctrlr_notify(struct nvmft_ctrlr *ctrlr, uint32_t aen_kind);
void nvmft_ctrlr_ns_changed(struct nvmft_ctrlr *ctrlr, uint32_t nsid);
/* The host read the log page behind @aen_kind (RAE clear): unmask it. */
void nvmft_ctrlr_aen_unmask(struct nvmft_ctrlr *ctrlr, uint32_t aen_kind);
/* Complete parked AERs with Command Aborted (admin queue going away). */
void nvmft_ctrlr_abort_aers(struct nvmft_ctrlr *ctrlr);
/* Record a failed command in the Error Information log. */
void nvmft_ctrlr_log_error(struct nvmft_ctrlr *ctrlr, const struct nvmft_req *req, uint16_t status);

/* Fill Identify Controller for this controller (used by admin Identify). */
void nvmft_ctrlr_identify(struct nvmft_ctrlr *ctrlr, struct nvme_id_ctrl *cdata);
static inline bool nvmft_ctrlr_is_discovery(const struct nvmft_ctrlr *ctrlr);

#include "core/subsystem.h"

static inline bool nvmft_ctrlr_is_discovery(const struct nvmft_ctrlr *ctrlr)
{
	return ctrlr->ss->type == NVMFT_SUBTYPE_DISCOVERY;
}

#endif
