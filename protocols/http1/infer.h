/* HTTP/1 inference: a request line's method and space, or a status line's
 * "HTTP/1.". Pure C, see protocols/common/infer.h. */
#ifndef SPANWIRE_PROTOCOLS_HTTP1_INFER_H
#define SPANWIRE_PROTOCOLS_HTTP1_INFER_H

#include "common/infer.h"

/* An RFC 9110 method followed by a space. */
SW_INFER_FN bool sw_http1_method(__u64 w)
{
	return SW_PREFIX_IS(w, "GET ") || SW_PREFIX_IS(w, "POST ") || SW_PREFIX_IS(w, "PUT ") ||
	       SW_PREFIX_IS(w, "HEAD ") || SW_PREFIX_IS(w, "DELETE ") || SW_PREFIX_IS(w, "PATCH ") ||
	       SW_PREFIX_IS(w, "OPTIONS ") || SW_PREFIX_IS(w, "CONNECT ") || SW_PREFIX_IS(w, "TRACE ");
}

/* Fewer than 8 bytes that a method or a status line can still start with. */
SW_INFER_FN bool sw_http1_could_begin(__u64 w, __u64 n)
{
	return sw_begins(w, n, "GET ") || sw_begins(w, n, "POST ") || sw_begins(w, n, "PUT ") ||
	       sw_begins(w, n, "HEAD ") || sw_begins(w, n, "DELETE ") || sw_begins(w, n, "PATCH ") ||
	       sw_begins(w, n, "OPTIONS") || sw_begins(w, n, "CONNECT") || sw_begins(w, n, "TRACE ") ||
	       sw_begins(w, n, "HTTP/1.");
}

SW_INFER_FN int sw_infer_http1(const struct sw_infer_input *in)
{
	if (in->n >= 4) {
		if (sw_http1_method(in->w[0]))
			return SW_INFER_REQUEST;
		if (SW_PREFIX_IS(in->w[0], "HTTP/1."))
			return SW_INFER_RESPONSE;
	}
	if (in->n > 0 && in->n < 8 && sw_http1_could_begin(in->w[0], in->n))
		return SW_INFER_MORE;
	return SW_INFER_NO;
}

#endif /* SPANWIRE_PROTOCOLS_HTTP1_INFER_H */
