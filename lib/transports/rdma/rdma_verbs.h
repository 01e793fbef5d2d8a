/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every librdmacm and libibverbs call the NVMe/RDMA transport makes, as a
 * table.  The transport never calls rdma-core directly: it goes through
 * the table its transport object holds, which is nvmft_rdma_verbs_real
 * unless a test installed a fake one (nvmft_rdma_set_verbs()) before the
 * first listener opened the devices.  Several verbs are static inline
 * functions in <infiniband/verbs.h>; the real table wraps them.
 *
 * The signatures are those of rdma-core, except where noted.  Return
 * conventions too: librdmacm returns -1 with errno, libibverbs a positive
 * errno (or NULL with errno for constructors).
 */
#ifndef NVMFT_RDMA_VERBS_H
#define NVMFT_RDMA_VERBS_H

#include <stdint.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

struct nvmft_rdma_verbs {
	/* librdmacm: connection management */
	struct rdma_event_channel *(*create_event_channel)(void);
	void (*destroy_event_channel)(struct rdma_event_channel *ch);
	int (*create_id)(struct rdma_event_channel *ch, struct rdma_cm_id **id, void *ctx,
			 enum rdma_port_space ps);
	int (*destroy_id)(struct rdma_cm_id *id);
	int (*bind_addr)(struct rdma_cm_id *id, struct sockaddr *addr);
	int (*listen)(struct rdma_cm_id *id, int backlog);
	/* The bound port, network byte order. */
	uint16_t (*get_src_port)(struct rdma_cm_id *id);
	int (*get_cm_event)(struct rdma_event_channel *ch, struct rdma_cm_event **ev);
	int (*ack_cm_event)(struct rdma_cm_event *ev);
	int (*migrate_id)(struct rdma_cm_id *id, struct rdma_event_channel *ch);
	int (*create_qp)(struct rdma_cm_id *id, struct ibv_pd *pd, struct ibv_qp_init_attr *attr);
	void (*destroy_qp)(struct rdma_cm_id *id);
	int (*accept)(struct rdma_cm_id *id, struct rdma_conn_param *param);
	int (*reject)(struct rdma_cm_id *id, const void *private_data, uint8_t len);
	int (*disconnect)(struct rdma_cm_id *id);
	struct ibv_context **(*get_devices)(int *num);
	void (*free_devices)(struct ibv_context **list);

	/* libibverbs: devices, memory, queues */
	int (*query_device)(struct ibv_context *ctx, struct ibv_device_attr *attr);
	struct ibv_pd *(*alloc_pd)(struct ibv_context *ctx);
	int (*dealloc_pd)(struct ibv_pd *pd);
	struct ibv_mr *(*reg_mr)(struct ibv_pd *pd, void *addr, size_t len, int access);
	int (*dereg_mr)(struct ibv_mr *mr);
	struct ibv_comp_channel *(*create_comp_channel)(struct ibv_context *ctx);
	int (*destroy_comp_channel)(struct ibv_comp_channel *cc);
	struct ibv_cq *(*create_cq)(struct ibv_context *ctx, int cqe, void *cq_ctx,
				    struct ibv_comp_channel *cc, int vector);
	int (*destroy_cq)(struct ibv_cq *cq);
	int (*resize_cq)(struct ibv_cq *cq, int cqe);
	int (*req_notify_cq)(struct ibv_cq *cq, int solicited_only);
	int (*get_cq_event)(struct ibv_comp_channel *cc, struct ibv_cq **cq, void **cq_ctx);
	void (*ack_cq_events)(struct ibv_cq *cq, unsigned int n);
	int (*poll_cq)(struct ibv_cq *cq, int n, struct ibv_wc *wc);
	struct ibv_srq *(*create_srq)(struct ibv_pd *pd, struct ibv_srq_init_attr *attr);
	int (*destroy_srq)(struct ibv_srq *srq);
	int (*post_srq_recv)(struct ibv_srq *srq, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad);
	int (*post_recv)(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad);
	int (*post_send)(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad);
	int (*modify_qp)(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask);
	int (*get_async_event)(struct ibv_context *ctx, struct ibv_async_event *ev);
	void (*ack_async_event)(struct ibv_async_event *ev);
};

/* rdma-core itself. */
extern const struct nvmft_rdma_verbs nvmft_rdma_verbs_real;

struct nvmft_transport;

/*
 * Test hook, not exported: make RDMA transport @tr call @v instead of
 * rdma-core.  Only before its first listener (which opens the devices);
 * -EBUSY after, -EINVAL when @tr is not an RDMA transport.  Management
 * thread.
 */
int nvmft_rdma_set_verbs(struct nvmft_transport *tr, const struct nvmft_rdma_verbs *v);

#endif
