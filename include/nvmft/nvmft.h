/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * DOC: libnvmft
 *
 * An embeddable NVMe-over-Fabrics target.  Include this umbrella header, or
 * the object headers it pulls in.  Start with README.md ("Embedding it"),
 * then doc/architecture.md and doc/threading.md.
 */
#ifndef NVMFT_NVMFT_H
#define NVMFT_NVMFT_H

#include <nvmft/common.h>
#include <nvmft/version.h>
#include <nvmft/log.h>
#include <nvmft/target.h>
#include <nvmft/transport.h>
#include <nvmft/subsystem.h>
#include <nvmft/ns.h>
#include <nvmft/backend.h>
#include <nvmft/poll_group.h>
#include <nvmft/ctrlr.h>

#endif /* NVMFT_NVMFT_H */
