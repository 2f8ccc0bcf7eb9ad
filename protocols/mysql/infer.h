/* MySQL/MariaDB inference. The server speaks first: its Initial Handshake
 * packet (3-byte length, sequence 0, protocol version 10, then a version
 * string starting with a digit) as the first bytes of a connection. Joined
 * mid-way (a pooled connection): a command packet with sequence 0 at the
 * start of a client's write, COM_QUERY or COM_STMT_PREPARE followed by SQL,
 * or COM_STMT_EXECUTE. Pure C, see protocols/common/infer.h. */
#ifndef SPANWIRE_PROTOCOLS_MYSQL_INFER_H
#define SPANWIRE_PROTOCOLS_MYSQL_INFER_H

#include "common/infer.h"

SW_INFER_FN __u8 sw_mysql_byte(const struct sw_infer_input *in, int i)
{
	return (__u8)(in->w[(i >> 3) & 3] >> (8 * (i & 7)));
}

SW_INFER_FN int sw_infer_mysql(const struct sw_infer_input *in)
{
	if (in->n < 6)
		return SW_INFER_NO;
	__u32 len = sw_mysql_byte(in, 0) | ((__u32)sw_mysql_byte(in, 1) << 8) | ((__u32)sw_mysql_byte(in, 2) << 16);
	__u8 seq = sw_mysql_byte(in, 3), first = sw_mysql_byte(in, 4), next = sw_mysql_byte(in, 5);
	if (seq != 0 || len == 0)
		return SW_INFER_NO;
	/* HandshakeV10: "5.5.5-10.11.6-MariaDB...", "8.0.36". */
	if (in->first && first == 10 && next >= '1' && next <= '9' && len >= 40 && len <= 1024 && len + 4 <= in->total)
		return SW_INFER_RESPONSE;
	if (!in->midstream || len + 4 != in->total)
		return SW_INFER_NO;
	__u8 l = next | 0x20;
	bool sql = (l >= 'a' && l <= 'z') || next == ' ' || next == '(' || next == '/';
	if ((first == 0x03 || first == 0x16) && sql) /* COM_QUERY, COM_STMT_PREPARE */
		return SW_INFER_REQUEST;
	if (first == 0x17 && len >= 10) /* COM_STMT_EXECUTE: statement id, flags, iteration count */
		return SW_INFER_REQUEST;
	return SW_INFER_NO;
}

#endif /* SPANWIRE_PROTOCOLS_MYSQL_INFER_H */
