/* SPDX-License-Identifier: BSD-3-Clause */
/* The transports built into this library. */
#include <stddef.h>

#include "core/transport.h"

extern const struct nvmft_transport_ops nvmft_tcp_ops;
extern const struct nvmft_transport_ops nvmft_vfio_user_ops;
#ifdef NVMFT_HAVE_RDMA
extern const struct nvmft_transport_ops nvmft_rdma_ops;
#endif

static const struct nvmft_transport_ops *const registry[] = {
	&nvmft_tcp_ops,
	&nvmft_vfio_user_ops,
#ifdef NVMFT_HAVE_RDMA
	&nvmft_rdma_ops,
#endif
};

const struct nvmft_transport_ops *nvmft_transport_ops_find(enum nvmft_trtype type)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (registry[i]->type == type)
			return registry[i];
	return NULL;
}
