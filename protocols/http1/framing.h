/* HTTP/1 framing as the kernel sees it: whether a message head says how long
 * its body is, so that the calls moving only that body need not copy it
 * (bpf/body_skip.bpf.h). Pure C over bytes already copied, like infer.h, and
 * unit-tested in userspace; every reader of a field name is given at least
 * SW_FRAMING_NAME_ROOM readable bytes.
 *
 * The rules are RFC 9112's, section 6: a Transfer-Encoding overrides any
 * Content-Length; a response to HEAD or to a successful CONNECT, and a 1xx,
 * 204 or 304 response, has no body whatever its fields say (the kernel keeps
 * the request side's HEAD and CONNECT in mind; the status is in the head). */
#ifndef SPANWIRE_PROTOCOLS_HTTP1_FRAMING_H
#define SPANWIRE_PROTOCOLS_HTTP1_FRAMING_H

#include "common/infer.h"
#include "http1/infer.h"

/* Bytes a field-name check may read from a line's start. */
#define SW_FRAMING_NAME_ROOM 24
/* Bytes a Content-Length value may take, optional whitespace included. */
#define SW_FRAMING_VALUE_ROOM 32

enum sw_http1_framing_field {
	SW_FIELD_OTHER = 0,
	SW_FIELD_CONTENT_LENGTH,
	SW_FIELD_TRANSFER_ENCODING,
	/* Content-Length or Transfer-Encoding with whitespace before the colon:
	 * invalid (RFC 9112 section 5.1), but userspace tolerates it and frames
	 * by it, so no length of this head is trusted. */
	SW_FIELD_SPACED_FRAMING,
};

/* Bits to OR into the first n bytes of s to fold their letters to lower case
 * (not its other bytes: '-' | 0x20 is '-', but so is '\r' | 0x20). */
SW_INFER_FN __u64 sw_letter_bits(const char *s, int n)
{
	__u64 bits = 0;
	for (int i = 0; i < 8 && i < n; i++)
		if (s[i] >= 'a' && s[i] <= 'z')
			bits |= 0x20ULL << (8 * i);
	return bits;
}

SW_INFER_FN __u64 sw_load64(const __u8 *p)
{
	__u64 w;
	__builtin_memcpy(&w, p, 8);
	return w;
}

/* Whether the first n (<= 8) bytes at p are s, letters in any case. */
SW_INFER_FN bool sw_word_is(const __u8 *p, const char *s, int n)
{
	return ((sw_load64(p) | sw_letter_bits(s, n)) & SW_MASK(n)) == sw_word(s, n);
}

/* Whether the byte at p is SP or HTAB. */
SW_INFER_FN bool sw_is_blank(const __u8 *p)
{
	return *p == ' ' || *p == '\t';
}

/* The framing field a head line starting at p names. */
SW_INFER_FN int sw_http1_framing_field(const __u8 *p)
{
	if (sw_word_is(p, "content-", 8) && sw_word_is(p + 8, "length", 6)) {
		if (p[14] == ':')
			return SW_FIELD_CONTENT_LENGTH;
		return sw_is_blank(p + 14) ? SW_FIELD_SPACED_FRAMING : SW_FIELD_OTHER;
	}
	if (sw_word_is(p, "transfer", 8) && sw_word_is(p + 8, "-encodin", 8) && sw_word_is(p + 16, "g", 1)) {
		if (p[17] == ':')
			return SW_FIELD_TRANSFER_ENCODING;
		return sw_is_blank(p + 17) ? SW_FIELD_SPACED_FRAMING : SW_FIELD_OTHER;
	}
	return SW_FIELD_OTHER;
}

/* Where a Content-Length field's value starts: after its name and colon. */
#define SW_CONTENT_LENGTH_VALUE_AT 15

/* A Content-Length value at v: optional whitespace, 1-18 digits, optional
 * whitespace, the line's end (CRLF or LF). -1 for anything else (a list such as "5, 5"
 * included: the kernel then copies the body, and userspace decides). */
SW_INFER_FN __s64 sw_http1_length_value(const __u8 *v)
{
	__s64 value = 0;
	int digits = 0, state = 0; /* 0: before the digits, 1: in them, 2: after them */
	for (int i = 0; i < SW_FRAMING_VALUE_ROOM; i++) {
		__u8 ch = v[i];
		if (ch >= '0' && ch <= '9' && state < 2) {
			if (++digits > 18)
				return -1;
			value = value * 10 + (ch - '0');
			state = 1;
		} else if (ch == ' ' || ch == '\t') {
			if (state == 1)
				state = 2;
		} else if (ch == '\n' && state != 0) {
			return value;
		} else if (ch == '\r' && state != 0) {
			return v[i + 1] == '\n' ? value : -1; /* a CR elsewhere is not a line's end */
		} else {
			return -1;
		}
	}
	return -1;
}

/* The status code of a status line whose first 16 bytes are w0, w1 ("HTTP/1.1
 * 200 ..."), or 0 if they are not one. */
SW_INFER_FN int sw_http1_status(__u64 w0, __u64 w1)
{
	if (!SW_PREFIX_IS(w0, "HTTP/1.") || (w1 & 0xff) != ' ')
		return 0;
	int code = 0;
	for (int i = 1; i <= 3; i++) {
		__u8 d = (__u8)(w1 >> (8 * i));
		if (d < '0' || d > '9')
			return 0;
		code = code * 10 + (d - '0');
	}
	return code;
}

/* A response with this status has no body, whatever its fields say. */
SW_INFER_FN bool sw_http1_status_bodiless(int status)
{
	return status < 200 || status == 204 || status == 304;
}

/* A request whose response may announce a body it does not send (HEAD), or
 * whose success turns the connection into a tunnel (CONNECT). */
SW_INFER_FN bool sw_http1_request_bends_responses(__u64 w0)
{
	return SW_PREFIX_IS(w0, "HEAD ") || SW_PREFIX_IS(w0, "CONNECT ");
}

enum sw_head_body {
	SW_HEAD_NO_BODY = 0,   /* a head without a body, or no head */
	SW_HEAD_MAY_HAVE_BODY, /* worth searching for its framing */
	SW_HEAD_ENDS_SKIPPING, /* what follows on the connection is not framed as usual */
};

/* What a head whose first 16 bytes are w0, w1 says of a body: a response may
 * have one unless its status is bodiless, and so may a request of a method
 * other than GET. A HEAD or CONNECT request, or a 101 (an upgrade: what
 * follows is not HTTP/1), ends skipping on its connection. */
SW_INFER_FN enum sw_head_body sw_http1_head_body(__u64 w0, __u64 w1)
{
	if (sw_http1_method(w0)) {
		if (sw_http1_request_bends_responses(w0))
			return SW_HEAD_ENDS_SKIPPING;
		return SW_PREFIX_IS(w0, "GET ") ? SW_HEAD_NO_BODY : SW_HEAD_MAY_HAVE_BODY;
	}
	int status = sw_http1_status(w0, w1);
	if (status == 101)
		return SW_HEAD_ENDS_SKIPPING;
	return status && !sw_http1_status_bodiless(status) ? SW_HEAD_MAY_HAVE_BODY : SW_HEAD_NO_BODY;
}

/* A zero byte's high bit where w has '\n', exactly (no borrow between bytes). */
SW_INFER_FN __u64 sw_newlines(__u64 w)
{
	__u64 x = w ^ 0x0a0a0a0a0a0a0a0aULL;
	return ~(((x & 0x7f7f7f7f7f7f7f7fULL) + 0x7f7f7f7f7f7f7f7fULL) | x | 0x7f7f7f7f7f7f7f7fULL);
}

/* Bytes of a head looked at for its framing (a power of two): a longer head
 * has its body copied. */
#define SW_FRAMING_SCAN_BYTES 1024
/* Readable bytes a scan needs past its head's `len`: it may look at a line's
 * name and value beyond them, and decides nothing from what it saw there
 * (the head's end must lie within `len`). */
#define SW_FRAMING_SLACK (8 + SW_CONTENT_LENGTH_VALUE_AT + SW_FRAMING_VALUE_ROOM + SW_FRAMING_NAME_ROOM)

#define SW_LENGTH_NONE (-1)     /* no Content-Length */
#define SW_LENGTH_UNUSABLE (-2) /* a Transfer-Encoding, several Content-Lengths, a folded line, or a value that is not a length */

/* A head's framing fields, found a word at a time (sw_framing_word); the
 * length's value is read once the head's end is known (sw_framing_length):
 * parsing it per line would multiply the verifier's work by the lines. */
struct sw_framing_scan {
	__u32 len;       /* bytes of the head present */
	__u32 end;       /* once found: the head's length, its blank line included */
	__u32 length_at; /* offset of the Content-Length value */
	__u8 lengths;    /* Content-Length fields seen (2 stands for more) */
	__u8 encoded;    /* a Transfer-Encoding field was seen */
	__u8 folded;     /* a line continued the one before (obs-fold): a field's value is not its line's */
	__u8 spaced;     /* a framing field had whitespace before its colon (SW_FIELD_SPACED_FRAMING) */
};

SW_INFER_FN void sw_framing_start(struct sw_framing_scan *s, __u32 len)
{
	s->len = len < SW_FRAMING_SCAN_BYTES ? len : SW_FRAMING_SCAN_BYTES;
	s->end = 0;
	s->length_at = 0;
	s->lengths = 0;
	s->encoded = 0;
	s->folded = 0;
	s->spaced = 0;
}

/* The field line starting at offset `line` of the head. */
SW_INFER_FN void sw_framing_line(struct sw_framing_scan *s, const __u8 *h, __u32 line)
{
	int field = sw_http1_framing_field(h + line);
	if (field == SW_FIELD_TRANSFER_ENCODING) {
		s->encoded = 1;
	} else if (field == SW_FIELD_CONTENT_LENGTH) {
		s->length_at = line + SW_CONTENT_LENGTH_VALUE_AT;
		s->lengths = s->lengths ? 2 : 1;
	} else if (field == SW_FIELD_SPACED_FRAMING) {
		s->spaced = 1;
	}
}

/* The body length a scanned head announces, or SW_LENGTH_*. Several
 * Content-Length fields count as unusable even when equal: the body is then
 * copied, and userspace applies the rule. */
SW_INFER_FN __s64 sw_framing_length(const struct sw_framing_scan *s, const __u8 *h)
{
	if (s->encoded || s->folded || s->spaced || s->lengths > 1)
		return SW_LENGTH_UNUSABLE;
	if (s->lengths == 0)
		return SW_LENGTH_NONE;
	__s64 v = sw_http1_length_value(h + (s->length_at & (SW_FRAMING_SCAN_BYTES * 2 - 1)));
	return v < 0 ? SW_LENGTH_UNUSABLE : v;
}

/* Word i of head h: every line starting in it. 1 once the scan is over: the
 * head's end found, or the bytes present ran out. */
SW_INFER_FN int sw_framing_word(struct sw_framing_scan *s, const __u8 *h, __u32 i)
{
	/* The mask bounds the offset for the verifier, whatever the compiler keeps. */
	__u32 off = (i & (SW_FRAMING_SCAN_BYTES / 8 - 1)) * 8;
	if (off >= s->len)
		return 1;
	__u64 m = sw_newlines(sw_load64(h + off));
	if (!m)
		return 0;
	for (int b = 0; b < 8; b++) {
		if (!(m & (0x80ULL << (8 * b))))
			continue;
		__u32 line = off + b + 1;
		if (line >= s->len)
			return 1;
		__u8 first = h[line];
		if (first == '\n' || first == '\r') {
			__u32 end = line + (first == '\r' ? 2 : 1);
			if (end <= s->len && (first == '\n' || h[line + 1] == '\n'))
				s->end = end;
			return 1;
		}
		if (first == ' ' || first == '\t')
			s->folded = 1;
		else
			sw_framing_line(s, h, line);
	}
	return 0;
}

#endif /* SPANWIRE_PROTOCOLS_HTTP1_FRAMING_H */
