/* Redis inference: a command as clients send it, a RESP array of bulk
 * strings ("*<count>\r\n$<length>\r\n"). Inline commands and replies alone
 * are too ambiguous to claim a connection. Pure C, see protocols/common/infer.h. */
#ifndef SPANWIRE_PROTOCOLS_REDIS_INFER_H
#define SPANWIRE_PROTOCOLS_REDIS_INFER_H

#include "common/infer.h"

/* Byte i of the head. */
SW_INFER_FN __u8 sw_redis_byte(const struct sw_infer_input *in, int i)
{
	return (__u8)(in->w[(i >> 3) & 3] >> (8 * (i & 7)));
}

SW_INFER_FN bool sw_redis_digit(__u8 c)
{
	return c >= '0' && c <= '9';
}

/* "*N\r\n$M\r\n" then a letter: N of 1..4 digits, not 0; M of 1..2 digits. */
SW_INFER_FN int sw_infer_redis(const struct sw_infer_input *in)
{
	int i = 1, digits = 0;

	if (in->n == 0 || sw_redis_byte(in, 0) != '*')
		return SW_INFER_NO;
	if (in->n > 1 && (sw_redis_byte(in, 1) < '1' || sw_redis_byte(in, 1) > '9'))
		return SW_INFER_NO;
	if (in->n < 12)
		return in->n < 8 ? SW_INFER_MORE : SW_INFER_NO;
	for (; i < 5 && sw_redis_digit(sw_redis_byte(in, i)); i++)
		digits++;
	if (digits == 0 || sw_redis_byte(in, i) != '\r' || sw_redis_byte(in, i + 1) != '\n' ||
	    sw_redis_byte(in, i + 2) != '$')
		return SW_INFER_NO;
	i += 3;
	for (digits = 0; digits < 3 && sw_redis_digit(sw_redis_byte(in, i)); i++)
		digits++;
	if (digits == 0 || digits > 2 || sw_redis_byte(in, i) != '\r' || sw_redis_byte(in, i + 1) != '\n')
		return SW_INFER_NO;
	i += 2;
	if ((__u64)i >= in->n)
		return SW_INFER_NO;
	__u8 c = sw_redis_byte(in, i) | 0x20;
	return c >= 'a' && c <= 'z' ? SW_INFER_REQUEST : SW_INFER_NO;
}

#endif /* SPANWIRE_PROTOCOLS_REDIS_INFER_H */
