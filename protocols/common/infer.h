/* Protocol inference, shared by the kernel programs and the unit tests: pure
 * C over the first bytes of one direction of a connection. No helpers, no
 * maps, no includes: the includer provides __u8/__u32/__u64 and bool
 * (vmlinux.h in the kernel, <linux/types.h> in userspace). */
#ifndef SPANWIRE_PROTOCOLS_COMMON_INFER_H
#define SPANWIRE_PROTOCOLS_COMMON_INFER_H

#ifdef __bpf__
#define SW_INFER_FN static __always_inline
#else
#define SW_INFER_FN static inline
#endif

/* Bytes of a direction's head looked at (a power of two). */
#define SW_HEAD_BYTES 32

struct sw_infer_input {
	__u64 w[SW_HEAD_BYTES / 8]; /* the first bytes as little-endian words, zero past n */
	__u64 n;                    /* valid bytes in w */
	__u64 total;                /* bytes the direction moved so far, this call included */
	__u8 first;                 /* nothing moved before on the connection, either way */
	__u8 midstream;             /* joined mid-way: no message boundary is known */
};

enum sw_infer_verdict {
	SW_INFER_NO = 0,   /* not this protocol */
	SW_INFER_REQUEST,  /* this protocol, written by the client */
	SW_INFER_RESPONSE, /* this protocol, written by the server */
	SW_INFER_MORE,     /* too few bytes to tell, and they can begin this protocol */
};

/* Little-endian word of the first n bytes of s (n <= 8), for masked compares. */
#define SW_MASK(n) ((n) == 8 ? ~0ULL : ((1ULL << ((n) * 8)) - 1))
#define SW_PREFIX_IS(w, s) (((w) & SW_MASK(sizeof(s) - 1)) == sw_word(s, sizeof(s) - 1))

SW_INFER_FN __u64 sw_word(const char *s, int n)
{
	__u64 w = 0;
	for (int i = 0; i < 8 && i < n; i++)
		w |= (__u64)(__u8)s[i] << (8 * i);
	return w;
}

/* The n (< 8) bytes in w are the start of s. */
SW_INFER_FN bool sw_begins(__u64 w, __u64 n, const char *s)
{
	return ((w ^ sw_word(s, 8)) & SW_MASK(n & 7)) == 0;
}

#endif /* SPANWIRE_PROTOCOLS_COMMON_INFER_H */
