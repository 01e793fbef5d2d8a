/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe wire formats that libnvme's <nvme/types.h> does not carry: the
 * submission and completion queue entries, SGL descriptors, Fabrics command
 * capsules, NVMe/TCP PDUs and NVMe/RDMA CM private data.
 *
 * Everything else (Identify data, log pages, status codes, opcodes, the
 * discovery log, Connect data, register offsets) comes from libnvme so there
 * is one definition of each spec structure in the build.  All multi-byte
 * fields are little-endian on the wire: read them with le16toh() and friends.
 * Every structure carries size and offset assertions against the spec.
 */
#ifndef NVMFT_SPEC_H
#define NVMFT_SPEC_H

#include <assert.h>
#include <endian.h>
#include <stddef.h>
#include <stdint.h>

#include <nvme/types.h>

#define NVMFT_SPEC_ASSERT_SIZE(type, size) \
	static_assert(sizeof(type) == (size), #type " must be " #size " bytes")
#define NVMFT_SPEC_ASSERT_OFF(type, field, off) \
	static_assert(offsetof(type, field) == (off), #type "." #field " must be at " #off)

/* ---- Submission queue entry (NVMe base 2.0, figure "Common Command Format") */

/* SGL descriptor types (upper nibble of byte 15) and subtypes (lower nibble). */
enum nvmft_sgl_type {
	NVMFT_SGL_TYPE_DATA_BLOCK = 0x0,
	NVMFT_SGL_TYPE_BIT_BUCKET = 0x1,
	NVMFT_SGL_TYPE_SEGMENT = 0x2,
	NVMFT_SGL_TYPE_LAST_SEGMENT = 0x3,
	NVMFT_SGL_TYPE_KEYED_DATA_BLOCK = 0x4,
	NVMFT_SGL_TYPE_TRANSPORT_DATA_BLOCK = 0x5,
};

enum nvmft_sgl_subtype {
	NVMFT_SGL_SUBTYPE_ADDRESS = 0x0,
	NVMFT_SGL_SUBTYPE_OFFSET = 0x1,
	NVMFT_SGL_SUBTYPE_TRANSPORT = 0xa,
	NVMFT_SGL_SUBTYPE_INVALIDATE_KEY = 0xf,
};

/* An SGL descriptor; the keyed form packs a 24-bit length and a 32-bit key. */
struct nvmft_sgl_desc {
	__le64 addr;
	union {
		struct {
			__le32 length;
			__u8 rsvd[3];
			__u8 type;
		} unkeyed;
		struct {
			__u8 length[3];
			__le32 key;
			__u8 type;
		} __attribute__((packed)) keyed;
	};
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_sgl_desc, 16);

static inline uint8_t nvmft_sgl_type(const struct nvmft_sgl_desc *d)
{
	return d->unkeyed.type >> 4;
}

static inline uint8_t nvmft_sgl_subtype(const struct nvmft_sgl_desc *d)
{
	return d->unkeyed.type & 0xf;
}

static inline uint32_t nvmft_sgl_keyed_length(const struct nvmft_sgl_desc *d)
{
	return (uint32_t)d->keyed.length[0] | (uint32_t)d->keyed.length[1] << 8 |
	       (uint32_t)d->keyed.length[2] << 16;
}

/* Command dword 0 flags: FUSE in bits 1:0, PSDT in bits 7:6. */
enum {
	NVMFT_CMD_FUSE_MASK = 0x03,
	NVMFT_CMD_FUSE_FIRST = 0x01,
	NVMFT_CMD_FUSE_SECOND = 0x02,
	NVMFT_CMD_PSDT_SHIFT = 6,
	NVMFT_CMD_PSDT_PRP = 0x0,
	NVMFT_CMD_PSDT_SGL_MPTR_CONTIG = 0x1,
	NVMFT_CMD_PSDT_SGL_MPTR_SGL = 0x2,
};

/* Fabrics command opcode and command types (NVMe over Fabrics 1.1). */
enum {
	NVMFT_OPC_FABRICS = 0x7f,
	NVMFT_FCTYPE_PROPERTY_SET = 0x00,
	NVMFT_FCTYPE_CONNECT = 0x01,
	NVMFT_FCTYPE_PROPERTY_GET = 0x04,
	NVMFT_FCTYPE_AUTH_SEND = 0x05,
	NVMFT_FCTYPE_AUTH_RECV = 0x06,
	NVMFT_FCTYPE_DISCONNECT = 0x08,
};

/* The common 64-byte command as seen by a controller. */
struct nvmft_cmd {
	__u8 opcode;
	__u8 flags;
	__le16 cid;
	__le32 nsid;
	__le32 cdw2;
	__le32 cdw3;
	__le64 mptr;
	union {
		struct {
			__le64 prp1;
			__le64 prp2;
		} prp;
		struct nvmft_sgl_desc sgl1;
	} dptr;
	__le32 cdw10;
	__le32 cdw11;
	__le32 cdw12;
	__le32 cdw13;
	__le32 cdw14;
	__le32 cdw15;
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_cmd, 64);
NVMFT_SPEC_ASSERT_OFF(struct nvmft_cmd, dptr, 24);
NVMFT_SPEC_ASSERT_OFF(struct nvmft_cmd, cdw10, 40);

/* Fabrics commands share the first 5 bytes; FCTYPE replaces NSID's first byte. */
struct nvmft_fabrics_cmd {
	__u8 opcode;
	__u8 rsvd1;
	__le16 cid;
	__u8 fctype;
	__u8 rsvd5[19];
	struct nvmft_sgl_desc sgl1;
	__u8 specific[24];
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_fabrics_cmd, 64);

struct nvmft_connect_cmd {
	__u8 opcode;
	__u8 rsvd1;
	__le16 cid;
	__u8 fctype;
	__u8 rsvd5[19];
	struct nvmft_sgl_desc sgl1;
	__le16 recfmt;
	__le16 qid;
	__le16 sqsize;
	__u8 cattr;
	__u8 rsvd47;
	__le32 kato;
	__u8 rsvd52[12];
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_connect_cmd, 64);
NVMFT_SPEC_ASSERT_OFF(struct nvmft_connect_cmd, recfmt, 40);
NVMFT_SPEC_ASSERT_OFF(struct nvmft_connect_cmd, kato, 48);

/* Connect CATTR bits. */
enum {
	NVMFT_CONNECT_CATTR_PRIORITY_MASK = 0x03,
	NVMFT_CONNECT_CATTR_DISABLE_SQFLOW = 0x04,
	NVMFT_CONNECT_CATTR_IO_QUEUE_TYPE_MASK = 0x18,
};

/* Property Get/Set: ATTRIB bits 2:0 give the size (0 = 4 bytes, 1 = 8 bytes). */
struct nvmft_prop_cmd {
	__u8 opcode;
	__u8 rsvd1;
	__le16 cid;
	__u8 fctype;
	__u8 rsvd5[35];
	__u8 attrib;
	__u8 rsvd41[3];
	__le32 offset;
	__le64 value;
	__u8 rsvd56[8];
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_prop_cmd, 64);
NVMFT_SPEC_ASSERT_OFF(struct nvmft_prop_cmd, attrib, 40);
NVMFT_SPEC_ASSERT_OFF(struct nvmft_prop_cmd, offset, 44);
NVMFT_SPEC_ASSERT_OFF(struct nvmft_prop_cmd, value, 48);

enum {
	NVMFT_PROP_SIZE_4 = 0,
	NVMFT_PROP_SIZE_8 = 1,
};

struct nvmft_disconnect_cmd {
	__u8 opcode;
	__u8 rsvd1;
	__le16 cid;
	__u8 fctype;
	__u8 rsvd5[35];
	__le16 recfmt;
	__u8 rsvd42[22];
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_disconnect_cmd, 64);

/* ---- Completion queue entry ---------------------------------------------- */

struct nvmft_cpl {
	union {
		struct {
			__le32 dw0;
			__le32 dw1;
		};
		__le64 u64;
		/* Connect success: CNTLID and AUTHREQ. */
		struct {
			__le16 cntlid;
			__le16 authreq;
		} connect;
		/* Connect Invalid Parameters: where the bad field is. */
		struct {
			__u8 iattr;
			__u8 rsvd;
			__le16 ipo;
		} invalid;
	};
	__le16 sqhd;
	__le16 sqid;
	__le16 cid;
	__le16 status; /* bit 0 phase (PCIe only), then the status field */
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_cpl, 16);
NVMFT_SPEC_ASSERT_OFF(struct nvmft_cpl, sqhd, 8);
NVMFT_SPEC_ASSERT_OFF(struct nvmft_cpl, status, 14);

/* IATTR values for Connect Invalid Parameters. */
enum {
	NVMFT_CONNECT_IATTR_CMD = 0,
	NVMFT_CONNECT_IATTR_DATA = 1,
};

/*
 * Status as used in the data path: the 15-bit status field without the
 * phase bit, i.e. SC in bits 7:0, SCT in 10:8, CRD 12:11, M 13, DNR 14
 * (libnvme's NVME_SC_* / NVME_SCT_* / NVME_SC_DNR layout).  On the wire it
 * sits shifted left by one.
 */
#define NVMFT_STATUS(sct, sc) ((uint16_t)(((sct) << NVME_SCT_SHIFT) | (sc)))
#define NVMFT_STATUS_DNR(sct, sc) ((uint16_t)(NVMFT_STATUS(sct, sc) | NVME_SC_DNR))

static inline uint16_t nvmft_status_to_wire(uint16_t status)
{
	return htole16((uint16_t)(status << 1));
}

static inline uint16_t nvmft_status_from_wire(uint16_t wire)
{
	return (uint16_t)(le16toh(wire) >> 1);
}

/* ---- NVMe/TCP PDUs (NVMe/TCP transport specification 1.0) ----------------- */

enum nvmft_tcp_pdu_type {
	NVMFT_TCP_ICREQ = 0x00,
	NVMFT_TCP_ICRESP = 0x01,
	NVMFT_TCP_H2C_TERM = 0x02,
	NVMFT_TCP_C2H_TERM = 0x03,
	NVMFT_TCP_CMD = 0x04,
	NVMFT_TCP_RSP = 0x05,
	NVMFT_TCP_H2C_DATA = 0x06,
	NVMFT_TCP_C2H_DATA = 0x07,
	NVMFT_TCP_R2T = 0x09,
};

enum {
	NVMFT_TCP_F_HDGST = 0x01,
	NVMFT_TCP_F_DDGST = 0x02,
	NVMFT_TCP_F_DATA_LAST = 0x04,
	NVMFT_TCP_F_DATA_SUCCESS = 0x08,
};

/* ICReq/ICResp DGST field bits. */
enum {
	NVMFT_TCP_DGST_HDR = 0x01,
	NVMFT_TCP_DGST_DATA = 0x02,
};

/* Fatal error status codes carried by H2CTermReq/C2HTermReq. */
enum nvmft_tcp_fes {
	NVMFT_TCP_FES_INVALID_HEADER_FIELD = 0x01,
	NVMFT_TCP_FES_PDU_SEQUENCE_ERROR = 0x02,
	NVMFT_TCP_FES_HDGST_ERROR = 0x03,
	NVMFT_TCP_FES_DATA_OUT_OF_RANGE = 0x04,
	NVMFT_TCP_FES_R2T_LIMIT_EXCEEDED = 0x05, /* data transfer limit exceeded */
	NVMFT_TCP_FES_UNSUPPORTED_PARAMETER = 0x06,
};

enum {
	NVMFT_TCP_PFV_1_0 = 0,
	NVMFT_TCP_DIGEST_LEN = 4,
	NVMFT_TCP_ICREQ_LEN = 128,
	NVMFT_TCP_ICRESP_LEN = 128,
	NVMFT_TCP_TERM_HLEN = 24,
	NVMFT_TCP_CMD_HLEN = 72,
	NVMFT_TCP_RSP_HLEN = 24,
	NVMFT_TCP_DATA_HLEN = 24,
	NVMFT_TCP_R2T_HLEN = 24,
	/*
	 * TermReq data: the offending PDU header, at most this many bytes.  An
	 * H2CTermReq or C2HTermReq is at most 152 bytes, its 24-byte header
	 * included (NVMe/TCP 1.0, 3.6.2.3 and 3.6.2.4, PLEN), so 128 bytes:
	 * an ICReq, or a CapsuleCmd header with its digest, fits whole.
	 */
	NVMFT_TCP_TERM_MAX_DATA = 128,
	NVMFT_TCP_MAX_HPDA = 31,
	NVMFT_TCP_MIN_MAXH2CDATA = 4096,
};

struct nvmft_tcp_ch {
	__u8 type;
	__u8 flags;
	__u8 hlen;
	__u8 pdo;
	__le32 plen;
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_tcp_ch, 8);

struct nvmft_tcp_icreq {
	struct nvmft_tcp_ch ch;
	__le16 pfv;
	__u8 hpda;
	__u8 dgst;
	__le32 maxr2t;
	__u8 rsvd16[112];
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_tcp_icreq, 128);

struct nvmft_tcp_icresp {
	struct nvmft_tcp_ch ch;
	__le16 pfv;
	__u8 cpda;
	__u8 dgst;
	__le32 maxh2cdata;
	__u8 rsvd16[112];
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_tcp_icresp, 128);

struct nvmft_tcp_term {
	struct nvmft_tcp_ch ch;
	__le16 fes;
	__le32 fei;
	__u8 rsvd14[10];
} __attribute__((packed));
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_tcp_term, 24);
NVMFT_SPEC_ASSERT_OFF(struct nvmft_tcp_term, fei, 10);

struct nvmft_tcp_cmd {
	struct nvmft_tcp_ch ch;
	struct nvmft_cmd cmd;
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_tcp_cmd, 72);

struct nvmft_tcp_rsp {
	struct nvmft_tcp_ch ch;
	struct nvmft_cpl cpl;
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_tcp_rsp, 24);

/* H2CData and C2HData share a layout; TTAG is reserved in C2HData. */
struct nvmft_tcp_data {
	struct nvmft_tcp_ch ch;
	__le16 cccid;
	__le16 ttag;
	__le32 datao;
	__le32 datal;
	__u8 rsvd20[4];
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_tcp_data, 24);

struct nvmft_tcp_r2t {
	struct nvmft_tcp_ch ch;
	__le16 cccid;
	__le16 ttag;
	__le32 r2to;
	__le32 r2tl;
	__u8 rsvd20[4];
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_tcp_r2t, 24);

/* ---- NVMe/RDMA CM private data (NVMe/RDMA transport specification) -------- */

struct nvmft_rdma_cm_req {
	__le16 recfmt;
	__le16 qid;
	__le16 hrqsize;
	__le16 hsqsize;
	__le16 cntlid;
	__u8 rsvd[22];
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_rdma_cm_req, 32);

struct nvmft_rdma_cm_rep {
	__le16 recfmt;
	__le16 crqsize;
	__u8 rsvd[28];
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_rdma_cm_rep, 32);

struct nvmft_rdma_cm_rej {
	__le16 recfmt;
	__le16 sts;
};
NVMFT_SPEC_ASSERT_SIZE(struct nvmft_rdma_cm_rej, 4);

/* RDMA_CM_REJECT status (STS); 01h is the private data length, not RECFMT. */
enum {
	NVMFT_RDMA_CM_REJ_INVALID_LENGTH = 0x01,
	NVMFT_RDMA_CM_REJ_INVALID_RECFMT = 0x02,
	NVMFT_RDMA_CM_REJ_INVALID_QID = 0x03,
	NVMFT_RDMA_CM_REJ_INVALID_HSQSIZE = 0x04,
	NVMFT_RDMA_CM_REJ_INVALID_HRQSIZE = 0x05,
	NVMFT_RDMA_CM_REJ_NO_RESOURCES = 0x06,
	NVMFT_RDMA_CM_REJ_INVALID_IRD = 0x07,
	NVMFT_RDMA_CM_REJ_INVALID_ORD = 0x08,
	NVMFT_RDMA_CM_REJ_INVALID_CNTLID = 0x09,
};

/* ---- Controller register bits (libnvme has shifts and masks, not flags) --- */

enum {
	NVMFT_CC_EN = 1u << 0,
	NVMFT_CSTS_RDY = 1u << 0,
	NVMFT_CSTS_CFS = 1u << 1,
	NVMFT_CSTS_SHST_MASK = 3u << 2,
	NVMFT_CSTS_SHST_OCCUR = 1u << 2,
	NVMFT_CSTS_SHST_CMPLT = 2u << 2,
};

/* ---- Misc constants the command layer needs ------------------------------ */

#define NVMFT_DISCOVERY_NQN "nqn.2014-08.org.nvmexpress.discovery"

enum {
	/* NQN is at most 223 bytes of UTF-8 plus the NUL in a 256-byte field. */
	NVMFT_NQN_MAX_LEN = NVMF_NQN_SIZE,
	NVMFT_CONNECT_DATA_LEN = 1024,
	/* Controller IDs 0xFFF0-0xFFFF are reserved; 0xFFFF/0xFFFE are special. */
	NVMFT_CNTLID_MIN = 1,
	NVMFT_CNTLID_MAX = 0xffef,
	NVMFT_CNTLID_DYNAMIC = 0xffff,
	/* Keep-alive timer granularity and Fabrics default per spec. */
	NVMFT_KATO_DEFAULT_MS = 120000,
};

NVMFT_SPEC_ASSERT_SIZE(struct nvmf_connect_data, NVMFT_CONNECT_DATA_LEN);
NVMFT_SPEC_ASSERT_OFF(struct nvmf_connect_data, subsysnqn, 256);
NVMFT_SPEC_ASSERT_OFF(struct nvmf_connect_data, hostnqn, 512);
NVMFT_SPEC_ASSERT_SIZE(struct nvmf_disc_log_entry, 1024);
NVMFT_SPEC_ASSERT_SIZE(struct nvme_id_ctrl, 4096);
NVMFT_SPEC_ASSERT_SIZE(struct nvme_id_ns, 4096);

#endif /* NVMFT_SPEC_H */
