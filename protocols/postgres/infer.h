/* PostgreSQL inference (protocol 3.0). The first bytes of a connection
 * (also in a server process forked after accept(), which the kernel sees
 * joining mid-way): the client's untyped first message, a StartupMessage
 * (length, then 3.0), an SSLRequest, a GSSENCRequest or a CancelRequest.
 * Joined mid-way after bytes moved (a pooled
 * connection): a Query ('Q', length, SQL), a Parse ('P', length, a
 * statement name then SQL) or a Bind ('B', a portal name, a statement
 * name) at the start of a write. Pure C, see
 * protocols/common/infer.h. */
#ifndef SPANWIRE_PROTOCOLS_POSTGRES_INFER_H
#define SPANWIRE_PROTOCOLS_POSTGRES_INFER_H

#include "common/infer.h"

SW_INFER_FN __u8 sw_pg_byte(const struct sw_infer_input *in, int i)
{
	return (__u8)(in->w[(i >> 3) & 3] >> (8 * (i & 7)));
}

SW_INFER_FN __u32 sw_pg_be32(const struct sw_infer_input *in, int at)
{
	return ((__u32)sw_pg_byte(in, at) << 24) | ((__u32)sw_pg_byte(in, at + 1) << 16) |
	       ((__u32)sw_pg_byte(in, at + 2) << 8) | sw_pg_byte(in, at + 3);
}

/* A letter, or what SQL may start with: whitespace, '(' or a comment. */
SW_INFER_FN bool sw_pg_sql_start(__u8 c)
{
	__u8 l = c | 0x20;
	return (l >= 'a' && l <= 'z') || c == ' ' || c == '\n' || c == '\t' || c == '(' || c == '-' || c == '/';
}

SW_INFER_FN int sw_infer_postgres(const struct sw_infer_input *in)
{
	if (in->n < 8)
		return in->n > 0 && sw_pg_byte(in, 0) == 0 ? SW_INFER_MORE : SW_INFER_NO;
	__u32 len = sw_pg_be32(in, 0), code = sw_pg_be32(in, 4);
	if (in->first) {
		if (len == 8 && (code == 80877103 || code == 80877104)) /* SSLRequest, GSSENCRequest */
			return SW_INFER_REQUEST;
		if (len == 16 && code == 80877102) /* CancelRequest */
			return SW_INFER_REQUEST;
		if (len >= 8 && len <= 10000 && code == 0x00030000) /* StartupMessage 3.0 */
			return SW_INFER_REQUEST;
		if (!in->midstream)
			return SW_INFER_NO;
	}
	if (!in->midstream || in->n < 7)
		return SW_INFER_NO;
	__u8 type = sw_pg_byte(in, 0);
	len = sw_pg_be32(in, 1);
	if (len < 5 || len > (1U << 24))
		return SW_INFER_NO;
	if (type == 'Q' && sw_pg_sql_start(sw_pg_byte(in, 5)))
		return SW_INFER_REQUEST;
	if (type == 'P' && len >= 8 && (sw_pg_byte(in, 5) == 0 || sw_pg_sql_start(sw_pg_byte(in, 5))))
		return SW_INFER_REQUEST;
	/* Bind: a portal name (usually empty) then a statement name. */
	if (type == 'B' && len >= 12 && len < (1U << 20) && (sw_pg_byte(in, 5) == 0 || sw_pg_sql_start(sw_pg_byte(in, 5))))
		return SW_INFER_REQUEST;
	return SW_INFER_NO;
}

#endif /* SPANWIRE_PROTOCOLS_POSTGRES_INFER_H */
