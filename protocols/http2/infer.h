/* HTTP/2 inference: the client's connection preface, the server's (a
 * SETTINGS frame), or, on a connection joined mid-way, a HEADERS frame whose
 * block leads with a request or response pseudo-header. Pure C, see
 * protocols/common/infer.h. */
#ifndef SPANWIRE_PROTOCOLS_HTTP2_INFER_H
#define SPANWIRE_PROTOCOLS_HTTP2_INFER_H

#include "common/infer.h"

/* What one HPACK field's first byte says of its header block: 1 a request
 * pseudo-header from the static table (RFC 7541 Appendix A: 1 :authority ..
 * 7 :scheme https), 2 a response one (8..14 :status), 0 neither, -1 a
 * reference to the dynamic table (62 and up: unknown to a sensor that joined
 * mid-connection). Indexed fields are 1xxxxxxx; literals with an indexed name
 * are 01xxxxxx (incremental indexing) or 000xxxxx (without / never indexed). */
SW_INFER_FN int sw_hpack_field_kind(__u8 b)
{
	__u8 index;
	if (b & 0x80)
		index = b & 0x7f;
	else if ((b & 0xc0) == 0x40)
		index = b & 0x3f;
	else if ((b & 0xe0) == 0x00)
		index = b & 0x0f;
	else
		return 0; /* a dynamic table size update or a literal name */
	if (index >= 1 && index <= 7)
		return 1;
	if (index >= 8 && index <= 14)
		return 2;
	if ((b & 0x80) && index >= 62 && index < 0x7f)
		return -1;
	return 0;
}

/* The direction of a header block from its leading fields: pseudo-header
 * fields come before all others (RFC 9113 section 8.3). On a warm
 * connection an encoder sends its first fields as one-byte references to the
 * dynamic table (gRPC: :authority and :path), so those are stepped over and
 * the block is judged by the first static pseudo-header after them.
 * 1 request, 2 response, 0 unknown. */
SW_INFER_FN int sw_hpack_block_direction(const __u8 *b, int offset, __u64 end)
{
	for (int i = 0; i < 8; i++) {
		int at = offset + i;
		if ((__u64)at >= end || at >= SW_HEAD_BYTES)
			return 0;
		int kind = sw_hpack_field_kind(b[at & (SW_HEAD_BYTES - 1)]);
		if (kind >= 0)
			return kind;
	}
	return 0;
}

/* The 24-bit big-endian payload length that opens every HTTP/2 frame header. */
SW_INFER_FN __u32 sw_http2_frame_length(const __u8 *b)
{
	return ((__u32)b[0] << 16) | ((__u32)b[1] << 8) | b[2];
}

/* A HEADERS frame at the start of a chunk of a connection joined mid-way (no
 * preface to see): a frame header consistent with the size moved and a header
 * block whose leading fields name a request or response pseudo-header. `have`
 * bytes of b are valid, `len` is what was moved. 1 request, 2 response, 0 no. */
SW_INFER_FN int sw_http2_headers_frame(const __u8 *b, __u64 have, __u64 len)
{
	__u32 frame_len = sw_http2_frame_length(b);
	__u8 flags = b[4];
	__u32 stream_id = (((__u32)b[5] << 24) | ((__u32)b[6] << 16) | ((__u32)b[7] << 8) | b[8]) & 0x7fffffff;
	int offset = 9;

	if (b[3] != 1 /* HEADERS */ || (stream_id & 1) == 0 || frame_len == 0 || frame_len + 9 > len)
		return 0;
	if (flags & 0x08) /* PADDED: pad length byte */
		offset += 1;
	if (flags & 0x20) /* PRIORITY: stream dependency and weight */
		offset += 5;
	if ((__u64)offset >= have || offset >= SW_HEAD_BYTES || (__u32)(offset - 9) >= frame_len)
		return 0;
	return sw_hpack_block_direction(b, offset, have < frame_len + 9 ? have : frame_len + 9);
}

/* The server's connection preface (RFC 9113 section 3.4): a SETTINGS frame
 * (type 4, no flags, stream 0, payload a multiple of 6 bytes) as the very
 * first bytes. Servers may send it before reading the client's preface, and
 * clients may read it before writing theirs. */
SW_INFER_FN bool sw_http2_server_preface(const __u8 *b, __u64 len)
{
	__u32 frame_len = sw_http2_frame_length(b);
	return b[3] == 4 && b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 0 && b[8] == 0 &&
	       frame_len % 6 == 0 && frame_len <= 6 * 16 && frame_len + 9 <= len;
}

SW_INFER_FN int sw_infer_http2(const struct sw_infer_input *in)
{
	const __u8 *b = (const __u8 *)in->w;
	if (in->n >= 16 && in->w[0] == sw_word("PRI * HT", 8) && in->w[1] == sw_word("TP/2.0\r\n", 8))
		return SW_INFER_REQUEST;
	if (in->first && !in->midstream && in->n >= 9 && sw_http2_server_preface(b, in->total))
		return SW_INFER_RESPONSE;
	if (in->midstream && in->n >= 10) {
		int h2 = sw_http2_headers_frame(b, in->n, in->total);
		if (h2)
			return h2 == 1 ? SW_INFER_REQUEST : SW_INFER_RESPONSE;
	}
	if (in->n > 0 && in->n < 8 && sw_begins(in->w[0], in->n, "PRI * H"))
		return SW_INFER_MORE;
	return SW_INFER_NO;
}

#endif /* SPANWIRE_PROTOCOLS_HTTP2_INFER_H */
