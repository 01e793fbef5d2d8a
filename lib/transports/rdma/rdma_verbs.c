/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The real verbs table: rdma-core's functions, and thin wrappers around
 * the ones <infiniband/verbs.h> defines inline (they dispatch through the
 * device context's provider).
 */
#include "transports/rdma/rdma_verbs.h"

static uint16_t real_get_src_port(struct rdma_cm_id *id)
{
	return rdma_get_src_port(id);
}

static struct ibv_cq *real_create_cq(struct ibv_context *ctx, int cqe, void *cq_ctx,
				     struct ibv_comp_channel *cc, int vector)
{
	return ibv_create_cq(ctx, cqe, cq_ctx, cc, vector);
}

static int real_req_notify_cq(struct ibv_cq *cq, int solicited_only)
{
	return ibv_req_notify_cq(cq, solicited_only);
}

static int real_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	return ibv_poll_cq(cq, n, wc);
}

static int real_post_srq_recv(struct ibv_srq *srq, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	return ibv_post_srq_recv(srq, wr, bad);
}

static int real_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	return ibv_post_recv(qp, wr, bad);
}

static int real_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	return ibv_post_send(qp, wr, bad);
}

static int real_query_device(struct ibv_context *ctx, struct ibv_device_attr *attr)
{
	return ibv_query_device(ctx, attr);
}

static struct ibv_mr *real_reg_mr(struct ibv_pd *pd, void *addr, size_t len, int access)
{
	/* ibv_reg_mr is a macro choosing between two symbols. */
	return ibv_reg_mr(pd, addr, len, access);
}

const struct nvmft_rdma_verbs nvmft_rdma_verbs_real = {
	.create_event_channel = rdma_create_event_channel,
	.destroy_event_channel = rdma_destroy_event_channel,
	.create_id = rdma_create_id,
	.destroy_id = rdma_destroy_id,
	.bind_addr = rdma_bind_addr,
	.listen = rdma_listen,
	.get_src_port = real_get_src_port,
	.get_cm_event = rdma_get_cm_event,
	.ack_cm_event = rdma_ack_cm_event,
	.migrate_id = rdma_migrate_id,
	.create_qp = rdma_create_qp,
	.destroy_qp = rdma_destroy_qp,
	.accept = rdma_accept,
	.reject = rdma_reject,
	.disconnect = rdma_disconnect,
	.get_devices = rdma_get_devices,
	.free_devices = rdma_free_devices,
	.query_device = real_query_device,
	.alloc_pd = ibv_alloc_pd,
	.dealloc_pd = ibv_dealloc_pd,
	.reg_mr = real_reg_mr,
	.dereg_mr = ibv_dereg_mr,
	.create_comp_channel = ibv_create_comp_channel,
	.destroy_comp_channel = ibv_destroy_comp_channel,
	.create_cq = real_create_cq,
	.destroy_cq = ibv_destroy_cq,
	.resize_cq = ibv_resize_cq,
	.req_notify_cq = real_req_notify_cq,
	.get_cq_event = ibv_get_cq_event,
	.ack_cq_events = ibv_ack_cq_events,
	.poll_cq = real_poll_cq,
	.create_srq = ibv_create_srq,
	.destroy_srq = ibv_destroy_srq,
	.post_srq_recv = real_post_srq_recv,
	.post_recv = real_post_recv,
	.post_send = real_post_send,
	.modify_qp = ibv_modify_qp,
	.get_async_event = ibv_get_async_event,
	.ack_async_event = ibv_ack_async_event,
};
