/* Trace context on the wire, shared by the kernel programs and the unit tests:
 * the TCP option spanwire stamps on a request's data segments, and the W3C
 * traceparent value a request head may carry. Pure C: no helpers, no maps,
 * no includes (the includer provides __u8/__u32/__u64).
 *
 * The option is an RFC 6994 experimental option, so a peer without spanwire
 * ignores it (RFC 9293: unknown options are skipped by their length):
 *
 *   0      1      2      3      4                     20             28
 *   +------+------+------+------+---------------------+--------------+
 *   | 253  |  28  |    ExID     | trace id (16 bytes) | span id (8)  |
 *   +------+------+------+------+---------------------+--------------+
 *
 * 28 bytes fit the 40 bytes of TCP option space beside timestamps (10 bytes
 * plus 2 of padding). There is no room for a flags byte, so the ExID carries
 * the caller's sampled flag (W3C trace-flags bit 0), as far as the caller
 * knows it: 0x5358 sampled, 0x5359 not sampled, 0x5357 ("SW") not known (the
 * caller's own context came through a hop that did not say, e.g. an older
 * spanwire; taken as sampled). A receiver that knows the flag need not wait
 * for the rest of the trace to decide what to keep. */
#ifndef SPANWIRE_BPF_WIRE_CONTEXT_H
#define SPANWIRE_BPF_WIRE_CONTEXT_H

#ifdef __bpf__
#define SW_WIRE_FN static __always_inline
#else
#define SW_WIRE_FN static inline
#endif

#define SW_TCPOPT_EXPERIMENTAL 253

/* What an option says of its trace's sampled flag, and its ExID (not
 * IANA-registered): 0x5357 ("SW") + the flag, so the three are consecutive. */
enum sw_wire_flag {
	SW_WIRE_FLAG_UNKNOWN = 0,
	SW_WIRE_FLAG_SAMPLED = 1,
	SW_WIRE_FLAG_NOT_SAMPLED = 2,
};
#define SW_WIRE_EXID_FLAG_UNKNOWN 0x5357
#define SW_WIRE_EXID_SAMPLED (SW_WIRE_EXID_FLAG_UNKNOWN + SW_WIRE_FLAG_SAMPLED)
#define SW_WIRE_EXID_NOT_SAMPLED (SW_WIRE_EXID_FLAG_UNKNOWN + SW_WIRE_FLAG_NOT_SAMPLED)

#define SW_WIRE_OPT_LEN 28

/* The ids of one span as they travel: the trace it belongs to, and its own id
 * (the parent of whatever the receiver reports). */
struct sw_trace_ctx {
	__u8 trace_id[16];
	__u8 span_id[8];
};

SW_WIRE_FN bool sw_ids_valid(const struct sw_trace_ctx *c)
{
	__u64 t = 0, s = 0;
	for (int i = 0; i < 16; i++)
		t |= c->trace_id[i];
	for (int i = 0; i < 8; i++)
		s |= c->span_id[i];
	return t != 0 && s != 0;
}

SW_WIRE_FN void sw_wire_encode(const struct sw_trace_ctx *c, __u8 flag, __u8 out[SW_WIRE_OPT_LEN])
{
	__u16 exid = SW_WIRE_EXID_FLAG_UNKNOWN + (flag <= SW_WIRE_FLAG_NOT_SAMPLED ? flag : SW_WIRE_FLAG_UNKNOWN);
	out[0] = SW_TCPOPT_EXPERIMENTAL;
	out[1] = SW_WIRE_OPT_LEN;
	out[2] = exid >> 8;
	out[3] = exid & 0xff;
	for (int i = 0; i < 16; i++)
		out[4 + i] = c->trace_id[i];
	for (int i = 0; i < 8; i++)
		out[20 + i] = c->span_id[i];
}

/* 0 when opt (n bytes, from its kind byte) is a valid spanwire option; the
 * context is then in *c and its enum sw_wire_flag in *flag. Any other
 * option, a short one, or all-zero ids: -1. */
SW_WIRE_FN int sw_wire_decode(const __u8 *opt, __u32 n, struct sw_trace_ctx *c, __u8 *flag)
{
	if (n < SW_WIRE_OPT_LEN || opt[0] != SW_TCPOPT_EXPERIMENTAL || opt[1] != SW_WIRE_OPT_LEN)
		return -1;
	__u16 f = (__u16)(opt[2] << 8 | opt[3]) - SW_WIRE_EXID_FLAG_UNKNOWN;
	if (f > SW_WIRE_FLAG_NOT_SAMPLED)
		return -1;
	*flag = (__u8)f;
	for (int i = 0; i < 16; i++)
		c->trace_id[i] = opt[4 + i];
	for (int i = 0; i < 8; i++)
		c->span_id[i] = opt[20 + i];
	return sw_ids_valid(c) ? 0 : -1;
}

/* A lowercase hex digit's value, or -1 (W3C trace context allows no uppercase). */
SW_WIRE_FN int sw_hex_value(__u8 ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Bytes of a traceparent value: "00-" 32 hex "-" 16 hex "-" 2 hex. */
#define SW_TRACEPARENT_LEN 55

/* Parses a version-00 traceparent value (v: at least SW_TRACEPARENT_LEN bytes,
 * from its first character). 0 with the context and flags set, or -1: wrong
 * version or shape, uppercase, or all-zero ids (W3C: invalid). */
SW_WIRE_FN int sw_parse_traceparent(const __u8 v[SW_TRACEPARENT_LEN], struct sw_trace_ctx *c, __u8 *flags)
{
	if (v[0] != '0' || v[1] != '0' || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return -1;
	for (int i = 0; i < 16; i++) {
		int hi = sw_hex_value(v[3 + 2 * i]), lo = sw_hex_value(v[4 + 2 * i]);
		if (hi < 0 || lo < 0)
			return -1;
		c->trace_id[i] = (__u8)(hi << 4 | lo);
	}
	for (int i = 0; i < 8; i++) {
		int hi = sw_hex_value(v[36 + 2 * i]), lo = sw_hex_value(v[37 + 2 * i]);
		if (hi < 0 || lo < 0)
			return -1;
		c->span_id[i] = (__u8)(hi << 4 | lo);
	}
	int fh = sw_hex_value(v[53]), fl = sw_hex_value(v[54]);
	if (fh < 0 || fl < 0)
		return -1;
	*flags = (__u8)(fh << 4 | fl);
	return sw_ids_valid(c) ? 0 : -1;
}

/* Whether the 12 bytes at p, case-insensitively, are "traceparent:". */
SW_WIRE_FN bool sw_is_traceparent_name(const __u8 p[12])
{
	const char *name = "traceparent:";
	for (int i = 0; i < 12; i++) {
		__u8 ch = p[i];
		if (ch >= 'A' && ch <= 'Z')
			ch += 'a' - 'A';
		if (ch != (__u8)name[i])
			return false;
	}
	return true;
}

#endif /* SPANWIRE_BPF_WIRE_CONTEXT_H */
