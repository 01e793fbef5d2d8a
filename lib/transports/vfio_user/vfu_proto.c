/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user message framing, payload checks and the VERSION capabilities
 * JSON.  Pure functions (see vfu_proto.h): everything a client sends is
 * judged here before the server acts on it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/vfio.h>

#include "transports/vfio_user/vfu_proto.h"

/* Flag bits a command may carry: the type, No_reply.  Error is for replies. */
#define VFU_F_CMD_ALLOWED (VFU_F_TYPE_MASK | VFU_F_NO_REPLY)

int vfu_hdr_check(const struct vfu_hdr *h, uint32_t max_msg)
{
	if (h->msg_size < sizeof(*h) || h->msg_size > max_msg)
		return -EPROTO;
	/* This server sends no commands, so a reply (or any other type) is out of step. */
	if ((h->flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_COMMAND || (h->flags & ~(uint32_t)VFU_F_CMD_ALLOWED))
		return -EPROTO;
	return 0;
}

void vfu_hdr_reply(struct vfu_hdr *out, const struct vfu_hdr *req, uint32_t payload_len, int error)
{
	out->msg_id = req->msg_id;
	out->cmd = req->cmd;
	out->msg_size = (uint32_t)sizeof(*out) + (error != 0 ? 0 : payload_len);
	out->flags = VFU_F_TYPE_REPLY | (error != 0 ? VFU_F_ERROR : 0);
	out->error = (uint32_t)(error < 0 ? -error : error);
}

/* ---- Capabilities JSON --------------------------------------------------------------- */

void vfu_caps_default(struct vfu_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->max_msg_fds = 1;
	caps->max_data_xfer_size = 1u << 20;
	caps->pgsizes = 4096;
	caps->max_dma_maps = 65535;
}

#define JSON_MAX_DEPTH 16
#define JSON_KEY_MAX 32

struct json {
	const char *s;
	size_t len;
	size_t pos;
	int depth;
};

static void json_ws(struct json *j)
{
	while (j->pos < j->len &&
	       (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' || j->s[j->pos] == '\n' || j->s[j->pos] == '\r'))
		j->pos++;
}

static bool json_eat(struct json *j, char c)
{
	json_ws(j);
	if (j->pos < j->len && j->s[j->pos] == c) {
		j->pos++;
		return true;
	}
	return false;
}

static bool json_hex4(struct json *j)
{
	for (int i = 0; i < 4; i++) {
		char c;

		if (j->pos >= j->len)
			return false;
		c = j->s[j->pos++];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/*
 * A string; its first JSON_KEY_MAX - 1 plain bytes go to @key (when not
 * NULL) so members can be recognised.  A key with escapes or a longer one
 * never matches a member we know, which is all that matters.
 */
static int json_string(struct json *j, char *key)
{
	size_t n = 0;
	bool plain = true;

	if (!json_eat(j, '"'))
		return -EINVAL;
	for (;;) {
		unsigned char c;

		if (j->pos >= j->len)
			return -EINVAL;
		c = (unsigned char)j->s[j->pos++];
		if (c == '"')
			break;
		if (c < 0x20)
			return -EINVAL;
		if (c == '\\') {
			if (j->pos >= j->len)
				return -EINVAL;
			c = (unsigned char)j->s[j->pos++];
			plain = false;
			if (c == 'u') {
				if (!json_hex4(j))
					return -EINVAL;
			} else if (!strchr("\"\\/bfnrt", c)) {
				return -EINVAL;
			}
			continue;
		}
		if (key != NULL && n < JSON_KEY_MAX - 1)
			key[n] = (char)c;
		n++;
	}
	if (key != NULL) {
		if (!plain || n >= JSON_KEY_MAX)
			strcpy(key, "\x01"); /* matches nothing */
		else
			key[n] = '\0';
	}
	return 0;
}

/* A number; *@val is set (and *@is_uint true) only for a plain non-negative integer. */
static int json_number(struct json *j, uint64_t *val, bool *is_uint)
{
	size_t start = j->pos;
	bool uint_ok = true;
	uint64_t v = 0;

	if (j->pos < j->len && j->s[j->pos] == '-') {
		j->pos++;
		uint_ok = false;
	}
	if (j->pos >= j->len || j->s[j->pos] < '0' || j->s[j->pos] > '9')
		return -EINVAL;
	if (j->s[j->pos] == '0') {
		j->pos++;
	} else {
		while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9') {
			unsigned int d = (unsigned int)(j->s[j->pos++] - '0');

			if (v > (UINT64_MAX - d) / 10)
				uint_ok = false;
			else
				v = v * 10 + d;
		}
	}
	if (j->pos < j->len && j->s[j->pos] == '.') {
		j->pos++;
		uint_ok = false;
		if (j->pos >= j->len || j->s[j->pos] < '0' || j->s[j->pos] > '9')
			return -EINVAL;
		while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
			j->pos++;
	}
	if (j->pos < j->len && (j->s[j->pos] == 'e' || j->s[j->pos] == 'E')) {
		j->pos++;
		uint_ok = false;
		if (j->pos < j->len && (j->s[j->pos] == '+' || j->s[j->pos] == '-'))
			j->pos++;
		if (j->pos >= j->len || j->s[j->pos] < '0' || j->s[j->pos] > '9')
			return -EINVAL;
		while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
			j->pos++;
	}
	if (j->pos == start)
		return -EINVAL;
	*is_uint = uint_ok;
	*val = v;
	return 0;
}

static int json_literal(struct json *j, const char *lit)
{
	size_t n = strlen(lit);

	if (j->len - j->pos < n || memcmp(j->s + j->pos, lit, n) != 0)
		return -EINVAL;
	j->pos += n;
	return 0;
}

enum json_kind { JK_OBJECT, JK_ARRAY, JK_STRING, JK_NUMBER, JK_TRUE, JK_FALSE, JK_NULL };

static int json_skip(struct json *j);

static enum json_kind json_peek(struct json *j)
{
	json_ws(j);
	if (j->pos >= j->len)
		return JK_NULL; /* json_skip reports the error */
	switch (j->s[j->pos]) {
	case '{':
		return JK_OBJECT;
	case '[':
		return JK_ARRAY;
	case '"':
		return JK_STRING;
	case 't':
		return JK_TRUE;
	case 'f':
		return JK_FALSE;
	case 'n':
		return JK_NULL;
	default:
		return JK_NUMBER;
	}
}

/*
 * Walk an object whose '{' is next, calling @member for each key with the
 * parser on its value; @member must consume the value.
 */
static int json_object(struct json *j, int (*member)(struct json *j, const char *key, void *arg), void *arg)
{
	char key[JSON_KEY_MAX];
	int rc;

	if (!json_eat(j, '{'))
		return -EINVAL;
	if (++j->depth > JSON_MAX_DEPTH)
		return -EINVAL;
	if (json_eat(j, '}')) {
		j->depth--;
		return 0;
	}
	for (;;) {
		rc = json_string(j, key);
		if (rc < 0)
			return rc;
		if (!json_eat(j, ':'))
			return -EINVAL;
		json_ws(j);
		rc = member != NULL ? member(j, key, arg) : json_skip(j);
		if (rc < 0)
			return rc;
		if (json_eat(j, ','))
			continue;
		if (json_eat(j, '}'))
			break;
		return -EINVAL;
	}
	j->depth--;
	return 0;
}

static int json_skip(struct json *j)
{
	uint64_t v;
	bool u;
	int rc;

	switch (json_peek(j)) {
	case JK_OBJECT:
		return json_object(j, NULL, NULL);
	case JK_ARRAY:
		j->pos++;
		if (++j->depth > JSON_MAX_DEPTH)
			return -EINVAL;
		if (json_eat(j, ']')) {
			j->depth--;
			return 0;
		}
		for (;;) {
			rc = json_skip(j);
			if (rc < 0)
				return rc;
			if (json_eat(j, ','))
				continue;
			if (json_eat(j, ']'))
				break;
			return -EINVAL;
		}
		j->depth--;
		return 0;
	case JK_STRING:
		return json_string(j, NULL);
	case JK_TRUE:
		return json_literal(j, "true");
	case JK_FALSE:
		return json_literal(j, "false");
	case JK_NULL:
		return json_literal(j, "null");
	default:
		return json_number(j, &v, &u);
	}
}

static int json_uint(struct json *j, uint64_t max, uint64_t *out)
{
	bool is_uint = false;
	uint64_t v = 0;

	if (json_peek(j) != JK_NUMBER || json_number(j, &v, &is_uint) < 0 || !is_uint || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int json_bool(struct json *j, bool *out)
{
	switch (json_peek(j)) {
	case JK_TRUE:
		*out = true;
		return json_literal(j, "true");
	case JK_FALSE:
		*out = false;
		return json_literal(j, "false");
	default:
		return -EINVAL;
	}
}

static int twin_member(struct json *j, const char *key, void *arg)
{
	if (strcmp(key, "supported") == 0)
		return json_bool(j, arg);
	return json_skip(j);
}

static int caps_member(struct json *j, const char *key, void *arg)
{
	struct vfu_caps *c = arg;
	uint64_t v = 0;
	int rc;

	if (strcmp(key, "max_msg_fds") == 0) {
		rc = json_uint(j, UINT32_MAX, &v);
		c->max_msg_fds = (uint32_t)v;
	} else if (strcmp(key, "max_data_xfer_size") == 0) {
		rc = json_uint(j, UINT64_MAX, &c->max_data_xfer_size);
	} else if (strcmp(key, "pgsizes") == 0) {
		rc = json_uint(j, UINT64_MAX, &c->pgsizes);
	} else if (strcmp(key, "max_dma_maps") == 0) {
		rc = json_uint(j, UINT32_MAX, &v);
		c->max_dma_maps = (uint32_t)v;
	} else if (strcmp(key, "twin_socket") == 0) {
		if (json_peek(j) != JK_OBJECT)
			return -EINVAL;
		rc = json_object(j, twin_member, &c->twin_socket);
	} else if (strcmp(key, "write_multiple") == 0) {
		rc = json_bool(j, &c->write_multiple);
	} else if (strcmp(key, "migration") == 0) {
		if (json_peek(j) != JK_OBJECT)
			return -EINVAL;
		c->migration = true;
		rc = json_skip(j);
	} else {
		rc = json_skip(j);
	}
	return rc;
}

static int top_member(struct json *j, const char *key, void *arg)
{
	if (strcmp(key, "capabilities") == 0) {
		if (json_peek(j) != JK_OBJECT)
			return -EINVAL;
		return json_object(j, caps_member, arg);
	}
	return json_skip(j);
}

int vfu_caps_parse(const char *json, size_t len, struct vfu_caps *caps)
{
	struct json j = { .s = json, .len = len };
	int rc;

	if (json_peek(&j) != JK_OBJECT)
		return -EINVAL;
	rc = json_object(&j, top_member, caps);
	if (rc < 0)
		return rc;
	json_ws(&j);
	return j.pos == j.len ? 0 : -EINVAL;
}

int vfu_caps_format(char *buf, size_t len)
{
	/*
	 * No "migration" member: the device cannot be migrated, and its
	 * DEVICE_FEATURE, MIG_DATA and DIRTY_PAGES commands are refused.
	 * No "twin_socket": this server never sends a command to the client.
	 */
	int n = snprintf(buf, len,
			 "{\"capabilities\":{\"max_msg_fds\":%u,\"max_data_xfer_size\":%u,"
			 "\"max_dma_maps\":%u,\"pgsizes\":%u}}",
			 (unsigned int)VFU_MAX_MSG_FDS, (unsigned int)VFU_MAX_DATA_XFER,
			 (unsigned int)VFU_MAX_DMA_MAPS, (unsigned int)VFU_DMA_PGSIZE);

	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int vfu_dec_version(const void *p, size_t len, uint16_t *minor, struct vfu_caps *caps)
{
	struct vfu_version v;
	const char *json;
	size_t jlen;

	if (len < sizeof(v))
		return -EINVAL;
	memcpy(&v, p, sizeof(v));
	if (v.major != VFU_PROTO_MAJOR)
		return -ENOTSUP;
	vfu_caps_default(caps);
	*minor = v.minor;
	if (len == sizeof(v))
		return 0; /* no capabilities: the defaults stand */
	json = (const char *)p + sizeof(v);
	jlen = len - sizeof(v);
	if (jlen > VFU_MAX_VERSION_JSON || json[jlen - 1] != '\0')
		return -EINVAL;
	jlen = strnlen(json, jlen);
	/* A NUL inside the JSON would hide what follows it. */
	if (jlen != len - sizeof(v) - 1)
		return -EINVAL;
	return vfu_caps_parse(json, jlen, caps);
}

/* ---- Command payloads ----------------------------------------------------------------- */

int vfu_dec_dma_map(const void *p, size_t len, unsigned int nfds, struct vfu_dma_map *out)
{
	const uint32_t known = VFU_DMA_READ | VFU_DMA_WRITE | VFU_DMA_MAPPABLE_OLD;
	struct vfu_dma_map m;

	if (len != sizeof(m) || nfds > 1)
		return -EINVAL;
	memcpy(&m, p, sizeof(m));
	/* argsz is the structure's size here: the reply has no payload. */
	if (m.argsz != sizeof(m) || (m.flags & ~known) || !(m.flags & (VFU_DMA_READ | VFU_DMA_WRITE)))
		return -EINVAL;
	if (m.size == 0 || m.addr + m.size < m.addr || m.addr % VFU_DMA_PGSIZE || m.size % VFU_DMA_PGSIZE)
		return -EINVAL;
	if (nfds == 1 && (m.offset % VFU_DMA_PGSIZE || m.offset + m.size < m.offset))
		return -EINVAL;
	*out = m;
	return 0;
}

int vfu_dec_dma_unmap(const void *p, size_t len, unsigned int nfds, struct vfu_dma_unmap *out)
{
	struct vfu_dma_unmap u;

	if (len != sizeof(u) || nfds > 1)
		return -EINVAL;
	memcpy(&u, p, sizeof(u));
	if (u.argsz < sizeof(u))
		return -EINVAL;
	if (u.flags & VFU_UNMAP_GET_DIRTY_BITMAP)
		return -ENOTSUP; /* no dirty page logging: no migration */
	if (u.flags & ~(uint32_t)VFU_UNMAP_ALL)
		return -EINVAL;
	if (u.flags & VFU_UNMAP_ALL) {
		if (u.addr != 0 || u.size != 0)
			return -EINVAL;
	} else if (u.size == 0 || u.addr + u.size < u.addr) {
		return -EINVAL;
	}
	*out = u;
	return 0;
}

int vfu_dec_device_info(const void *p, size_t len, unsigned int nfds, struct vfu_device_info *out)
{
	struct vfu_device_info d;

	if (len != sizeof(d) || nfds != 0)
		return -EINVAL;
	memcpy(&d, p, sizeof(d));
	if (d.argsz < sizeof(d))
		return -EINVAL;
	*out = d;
	return 0;
}

int vfu_dec_region_info(const void *p, size_t len, unsigned int nfds, uint32_t num_regions,
			struct vfu_region_info *out)
{
	struct vfu_region_info r;

	/*
	 * SPDK's initiator sends its whole reply buffer as the request: only
	 * the fixed part means anything, the rest is ignored.
	 */
	if (len < sizeof(r) || len > VFU_MAX_DATA_XFER || nfds != 0)
		return -EINVAL;
	memcpy(&r, p, sizeof(r));
	if (r.argsz < sizeof(r) || r.index >= num_regions)
		return -EINVAL;
	*out = r;
	return 0;
}

int vfu_dec_irq_info(const void *p, size_t len, unsigned int nfds, uint32_t num_irqs,
		     struct vfu_irq_info *out)
{
	struct vfu_irq_info i;

	if (len != sizeof(i) || nfds != 0)
		return -EINVAL;
	memcpy(&i, p, sizeof(i));
	if (i.argsz < sizeof(i) || i.index >= num_irqs)
		return -EINVAL;
	*out = i;
	return 0;
}

static bool one_bit(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

int vfu_dec_irq_set(const void *p, size_t len, unsigned int nfds, uint32_t num_irqs,
		    const uint32_t *irq_count, struct vfu_irq_set *out, const uint8_t **bools)
{
	const uint32_t data_mask = VFIO_IRQ_SET_DATA_TYPE_MASK, action_mask = VFIO_IRQ_SET_ACTION_TYPE_MASK;
	struct vfu_irq_set s;
	uint32_t data, action;

	if (len < sizeof(s))
		return -EINVAL;
	memcpy(&s, p, sizeof(s));
	data = s.flags & data_mask;
	action = s.flags & action_mask;
	if (s.argsz < sizeof(s) || (s.flags & ~(data_mask | action_mask)) || !one_bit(data) ||
	    !one_bit(action) || s.index >= num_irqs)
		return -EINVAL;
	if ((uint64_t)s.start + s.count > irq_count[s.index])
		return -EINVAL;
	/* start 0, count 0 is "every interrupt of the index", for DATA_NONE only. */
	if (s.count == 0 && (data != VFIO_IRQ_SET_DATA_NONE || s.start != 0))
		return -EINVAL;
	switch (data) {
	case VFIO_IRQ_SET_DATA_NONE:
		if (len != sizeof(s) || nfds != 0)
			return -EINVAL;
		break;
	case VFIO_IRQ_SET_DATA_BOOL:
		if (len != sizeof(s) + s.count || nfds != 0)
			return -EINVAL;
		*bools = (const uint8_t *)p + sizeof(s);
		break;
	default: /* DATA_EVENTFD: a descriptor per interrupt, or none to de-assign */
		if (len != sizeof(s) || (nfds != 0 && nfds != s.count))
			return -EINVAL;
		break;
	}
	*out = s;
	return 0;
}

int vfu_dec_region_access(const void *p, size_t len, unsigned int nfds, bool write, uint32_t num_regions,
			  uint32_t max_count, struct vfu_region_access *out, const uint8_t **data)
{
	struct vfu_region_access a;

	if (len < sizeof(a) || nfds != 0)
		return -EINVAL;
	memcpy(&a, p, sizeof(a));
	if (a.region >= num_regions || a.count == 0 || a.count > max_count || a.offset + a.count < a.offset)
		return -EINVAL;
	if (len != sizeof(a) + (write ? a.count : 0))
		return -EINVAL;
	*out = a;
	*data = write ? (const uint8_t *)p + sizeof(a) : NULL;
	return 0;
}

int vfu_dec_empty(size_t len, unsigned int nfds)
{
	return len == 0 && nfds == 0 ? 0 : -EINVAL;
}

const char *vfu_cmd_name(uint16_t cmd)
{
	static const char *const names[] = {
		[VFU_CMD_VERSION] = "VERSION",
		[VFU_CMD_DMA_MAP] = "DMA_MAP",
		[VFU_CMD_DMA_UNMAP] = "DMA_UNMAP",
		[VFU_CMD_DEVICE_GET_INFO] = "DEVICE_GET_INFO",
		[VFU_CMD_DEVICE_GET_REGION_INFO] = "DEVICE_GET_REGION_INFO",
		[VFU_CMD_DEVICE_GET_REGION_IO_FDS] = "DEVICE_GET_REGION_IO_FDS",
		[VFU_CMD_DEVICE_GET_IRQ_INFO] = "DEVICE_GET_IRQ_INFO",
		[VFU_CMD_DEVICE_SET_IRQS] = "DEVICE_SET_IRQS",
		[VFU_CMD_REGION_READ] = "REGION_READ",
		[VFU_CMD_REGION_WRITE] = "REGION_WRITE",
		[VFU_CMD_DMA_READ] = "DMA_READ",
		[VFU_CMD_DMA_WRITE] = "DMA_WRITE",
		[VFU_CMD_DEVICE_RESET] = "DEVICE_RESET",
		[VFU_CMD_DIRTY_PAGES] = "DIRTY_PAGES",
		[VFU_CMD_REGION_WRITE_MULTI] = "REGION_WRITE_MULTI",
		[VFU_CMD_DEVICE_FEATURE] = "DEVICE_FEATURE",
		[VFU_CMD_MIG_DATA_READ] = "MIG_DATA_READ",
		[VFU_CMD_MIG_DATA_WRITE] = "MIG_DATA_WRITE",
	};

	if (cmd < sizeof(names) / sizeof(names[0]) && names[cmd] != NULL)
		return names[cmd];
	return "unknown";
}
