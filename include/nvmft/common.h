/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * DOC: common declarations
 *
 * Opaque handles shared by every libnvmft header, the completion callback
 * type used by asynchronous management calls, and the export macro.
 *
 * Threads in one sentence: the application owns every thread; management
 * calls come from one management thread (the one calling
 * nvmft_target_poll()), and each poll group is driven by one thread at a
 * time through nvmft_poll_group_poll().  doc/threading.md has the details.
 */
#ifndef NVMFT_COMMON_H
#define NVMFT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define NVMFT_API __attribute__((visibility("default")))
#else
#define NVMFT_API
#endif

/* The whole target: owns transports, subsystems and poll groups. */
struct nvmft_target;
/* A road in (TCP, RDMA, vfio-user). */
struct nvmft_transport;
/* A doorway on a transport: one listen address. */
struct nvmft_listener;
/* A storage tenant named by an NQN. */
struct nvmft_subsystem;
/* One namespace of a subsystem, backed by a backend. */
struct nvmft_ns;
/* A block device instance behind one or more namespaces. */
struct nvmft_backend;
/* What one host sees after Fabrics Connect. */
struct nvmft_ctrlr;
/* One queue pair (admin or I/O) of a controller. */
struct nvmft_qpair;
/* A CPU-local worker driven by an application thread. */
struct nvmft_poll_group;
/* One NVMe command, as a backend sees it. */
struct nvmft_req;

/**
 * typedef nvmft_done_fn - completion of an asynchronous management call
 * @arg: the caller's argument
 * @status: 0 on success or a negative errno
 *
 * Unless a function says otherwise, it is invoked on the management thread
 * from inside nvmft_target_poll(), never from inside the call that started
 * the operation.
 */
typedef void (*nvmft_done_fn)(void *arg, int status);

#ifdef __cplusplus
}
#endif

#endif /* NVMFT_COMMON_H */
