/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vfio-user wire format (protocol 0.1, as QEMU's docs/interop/vfio-user.rst
 * and libvfio-user number it), as pure functions: message framing, the
 * payload of every client command checked and decoded, the capabilities
 * JSON of VFIO_USER_VERSION parsed and written.  No sockets, no file
 * descriptors beyond counting them: the tests and the fuzzer drive these
 * on their own.
 *
 * The protocol is host-endian: the client and the server share a machine.
 * Every structure carries size and offset assertions against the
 * specification's tables.
 */
#ifndef NVMFT_VFU_PROTO_H
#define NVMFT_VFU_PROTO_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VFU_ASSERT_SIZE(type, size) static_assert(sizeof(type) == (size), #type " must be " #size " bytes")
#define VFU_ASSERT_OFF(type, field, off)                                                                     \
	static_assert(offsetof(type, field) == (off), #type "." #field " must be at " #off)

/* The protocol version this server speaks; a client's minor above it is answered with this one. */
#define VFU_PROTO_MAJOR 0
#define VFU_PROTO_MINOR 1

enum vfu_cmd {
	VFU_CMD_VERSION = 1,
	VFU_CMD_DMA_MAP = 2,
	VFU_CMD_DMA_UNMAP = 3,
	VFU_CMD_DEVICE_GET_INFO = 4,
	VFU_CMD_DEVICE_GET_REGION_INFO = 5,
	VFU_CMD_DEVICE_GET_REGION_IO_FDS = 6,
	VFU_CMD_DEVICE_GET_IRQ_INFO = 7,
	VFU_CMD_DEVICE_SET_IRQS = 8,
	VFU_CMD_REGION_READ = 9,
	VFU_CMD_REGION_WRITE = 10,
	VFU_CMD_DMA_READ = 11,  /* server -> client only */
	VFU_CMD_DMA_WRITE = 12, /* server -> client only */
	VFU_CMD_DEVICE_RESET = 13,
	VFU_CMD_DIRTY_PAGES = 14, /* the first migration interface, since withdrawn */
	VFU_CMD_REGION_WRITE_MULTI = 15,
	VFU_CMD_DEVICE_FEATURE = 16,
	VFU_CMD_MIG_DATA_READ = 17,
	VFU_CMD_MIG_DATA_WRITE = 18,
};

/* Header flags: message type in bits 3:0, then No_reply and Error. */
enum {
	VFU_F_TYPE_MASK = 0xf,
	VFU_F_TYPE_COMMAND = 0x0,
	VFU_F_TYPE_REPLY = 0x1,
	VFU_F_NO_REPLY = 1u << 4,
	VFU_F_ERROR = 1u << 5,
};

struct vfu_hdr {
	uint16_t msg_id;
	uint16_t cmd;
	uint32_t msg_size; /* header included */
	uint32_t flags;
	uint32_t error; /* errno of an error reply; reserved in commands */
};
VFU_ASSERT_SIZE(struct vfu_hdr, 16);
VFU_ASSERT_OFF(struct vfu_hdr, msg_size, 4);
VFU_ASSERT_OFF(struct vfu_hdr, error, 12);

struct vfu_version {
	uint16_t major;
	uint16_t minor;
	/* Optional NUL-terminated JSON capabilities follow. */
};
VFU_ASSERT_SIZE(struct vfu_version, 4);

/* DMA map/unmap flags. */
enum {
	VFU_DMA_READ = 1u << 0,
	VFU_DMA_WRITE = 1u << 1,
	/* Set by clients of the early libvfio-user drafts on fd-backed maps; carries nothing. */
	VFU_DMA_MAPPABLE_OLD = 1u << 2,
	VFU_UNMAP_GET_DIRTY_BITMAP = 1u << 0,
	VFU_UNMAP_ALL = 1u << 1,
};

struct vfu_dma_map {
	uint32_t argsz;
	uint32_t flags;
	uint64_t offset; /* in the file descriptor sent with the message */
	uint64_t addr;   /* DMA address (IOVA) */
	uint64_t size;
};
VFU_ASSERT_SIZE(struct vfu_dma_map, 32);
VFU_ASSERT_OFF(struct vfu_dma_map, addr, 16);

struct vfu_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
};
VFU_ASSERT_SIZE(struct vfu_dma_unmap, 24);

struct vfu_device_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_DEVICE_FLAGS_* */
	uint32_t num_regions;
	uint32_t num_irqs;
};
VFU_ASSERT_SIZE(struct vfu_device_info, 16);

struct vfu_region_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_REGION_INFO_FLAG_* */
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset;
};
VFU_ASSERT_SIZE(struct vfu_region_info, 32);
VFU_ASSERT_OFF(struct vfu_region_info, size, 16);

struct vfu_cap_hdr {
	uint16_t id;
	uint16_t version;
	uint32_t next;
};
VFU_ASSERT_SIZE(struct vfu_cap_hdr, 8);

struct vfu_sparse_area {
	uint64_t offset;
	uint64_t size;
};

/* VFIO_REGION_INFO_CAP_SPARSE_MMAP with one area: all this server ever offers. */
struct vfu_cap_sparse1 {
	struct vfu_cap_hdr hdr;
	uint32_t nr_areas;
	uint32_t reserved;
	struct vfu_sparse_area area;
};
VFU_ASSERT_SIZE(struct vfu_cap_sparse1, 32);
VFU_ASSERT_OFF(struct vfu_cap_sparse1, area, 16);

struct vfu_irq_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_IRQ_INFO_* */
	uint32_t index;
	uint32_t count;
};
VFU_ASSERT_SIZE(struct vfu_irq_info, 16);

struct vfu_irq_set {
	uint32_t argsz;
	uint32_t flags; /* one VFIO_IRQ_SET_DATA_* and one VFIO_IRQ_SET_ACTION_* */
	uint32_t index;
	uint32_t start;
	uint32_t count;
	/* DATA_BOOL: count bytes follow. */
};
VFU_ASSERT_SIZE(struct vfu_irq_set, 20);

struct vfu_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	/* REGION_WRITE request and REGION_READ reply: count bytes follow. */
};
VFU_ASSERT_SIZE(struct vfu_region_access, 16);

struct vfu_device_feature {
	uint32_t argsz;
	uint32_t flags; /* feature index in 15:0, GET/SET/PROBE above */
};
VFU_ASSERT_SIZE(struct vfu_device_feature, 8);

/* ---- Limits this server announces and enforces ---------------------------------- */

enum {
	/* Largest REGION_READ/WRITE count: the default a client assumes when we say nothing. */
	VFU_MAX_DATA_XFER = 1u << 20,
	/* Largest message: a REGION_WRITE of VFU_MAX_DATA_XFER with its headers. */
	VFU_MAX_MSG = (uint32_t)sizeof(struct vfu_hdr) + (uint32_t)sizeof(struct vfu_region_access) +
		      VFU_MAX_DATA_XFER,
	/* File descriptors one message may carry (SET_IRQS for many MSI-X vectors). */
	VFU_MAX_MSG_FDS = 64,
	/* DMA regions mapped at once. */
	VFU_MAX_DMA_MAPS = 1024,
	/* The only page size of DMA maps: addresses, sizes and offsets are multiples of it. */
	VFU_DMA_PGSIZE = 4096,
	/* Longest capabilities JSON of a VERSION message. */
	VFU_MAX_VERSION_JSON = 4096,
};

/* ---- Framing --------------------------------------------------------------------- */

/*
 * Classify a received header.  Returns 0 for a command to process, or
 * -EPROTO when the stream cannot be trusted any more (size below the
 * header or above @max_msg, a reply or another type from the client,
 * reserved flag bits): the connection must be closed.  Commands with bad
 * payloads are the dispatcher's business, answered with an error reply.
 */
int vfu_hdr_check(const struct vfu_hdr *h, uint32_t max_msg);
/* Fill a reply header for command @req; @error nonzero makes it an error reply. */
void vfu_hdr_reply(struct vfu_hdr *out, const struct vfu_hdr *req, uint32_t payload_len, int error);

/* ---- Capabilities (VERSION) ------------------------------------------------------ */

struct vfu_caps {
	uint32_t max_msg_fds;        /* what we may send in one message; default 1 */
	uint64_t max_data_xfer_size; /* default 1 MiB */
	uint64_t pgsizes;            /* default 4 KiB */
	uint32_t max_dma_maps;       /* default 65535 */
	bool twin_socket;            /* the client offers it (we never take it) */
	bool write_multiple;         /* the client can send REGION_WRITE_MULTI (we never ask) */
	bool migration;              /* the client offered migration parameters (ignored) */
};

/* The defaults the specification gives a peer that announces nothing. */
void vfu_caps_default(struct vfu_caps *caps);
/*
 * Parse the JSON of a VERSION message (@len bytes, without the NUL) into
 * @caps, which holds defaults for what is absent.  Unknown members are
 * skipped; known ones of the wrong type, malformed JSON, nesting deeper
 * than 16 or a top level that is not an object give -EINVAL.
 */
int vfu_caps_parse(const char *json, size_t len, struct vfu_caps *caps);
/*
 * The server's answer: our limits, no migration, no twin socket.  Returns
 * the length written (without the NUL, which is written too) or -ENOSPC.
 */
int vfu_caps_format(char *buf, size_t len);

/*
 * Decode a VERSION request payload.  Returns 0 with the proposed version
 * and capabilities, -EINVAL (short, no NUL after the JSON, bad JSON) or
 * -ENOTSUP (another major version).
 */
int vfu_dec_version(const void *p, size_t len, uint16_t *minor, struct vfu_caps *caps);

/* ---- Command payloads ------------------------------------------------------------- */

/*
 * Each decoder checks what the specification says of the payload and
 * returns 0 or the errno the error reply carries.  @nfds is the number of
 * descriptors the message brought; a command that takes none, or fewer or
 * more than it needs, is -EINVAL.
 */
int vfu_dec_dma_map(const void *p, size_t len, unsigned int nfds, struct vfu_dma_map *out);
/*
 * DMA_UNMAP takes no descriptor, yet SPDK's initiator sends the mapped
 * one again with it; one is tolerated (and closed by the caller), more are
 * -EINVAL.  VFU_UNMAP_ALL needs address and size 0; dirty bitmaps are
 * -ENOTSUP.
 */
int vfu_dec_dma_unmap(const void *p, size_t len, unsigned int nfds, struct vfu_dma_unmap *out);
int vfu_dec_device_info(const void *p, size_t len, unsigned int nfds, struct vfu_device_info *out);
int vfu_dec_region_info(const void *p, size_t len, unsigned int nfds, uint32_t num_regions,
			struct vfu_region_info *out);
int vfu_dec_irq_info(const void *p, size_t len, unsigned int nfds, uint32_t num_irqs,
		     struct vfu_irq_info *out);
/*
 * SET_IRQS: exactly one data type and one action; start + count within
 * @irq_count (the count of that index); DATA_BOOL carries count bytes;
 * DATA_EVENTFD carries count descriptors, or none to de-assign; start 0,
 * count 0 with DATA_NONE and TRIGGER disables the whole index.  @bools
 * points at the booleans of DATA_BOOL.
 */
int vfu_dec_irq_set(const void *p, size_t len, unsigned int nfds, uint32_t num_irqs,
		    const uint32_t *irq_count, struct vfu_irq_set *out, const uint8_t **bools);
/*
 * REGION_READ (@write false: no data) and REGION_WRITE (count bytes of
 * data, at *@data).  Region index below @num_regions, 1..@max_count
 * bytes; the range check against the region's size is the caller's.
 */
int vfu_dec_region_access(const void *p, size_t len, unsigned int nfds, bool write, uint32_t num_regions,
			  uint32_t max_count, struct vfu_region_access *out, const uint8_t **data);
/* Commands without payload (DEVICE_RESET). */
int vfu_dec_empty(size_t len, unsigned int nfds);

/* Name of a command for messages ("DMA_MAP"), "unknown" otherwise. */
const char *vfu_cmd_name(uint16_t cmd);

#endif
