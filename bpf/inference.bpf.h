/* Protocol inference in the kernel: a call's first bytes (held across
 * calls while too few) asked of each protocol of protocols/protocol_list.h.
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

/* Where a call's first bytes are: its buffer, or its first two iovecs (a
 * writev may start with a 3-byte "GET"). */
struct head_segments {
	__u64 ptr[2];
	__u64 len[2];
};

/* w = the first plen (< 8) bytes of prefix, then t: shifts, no per-byte loop
 * (this sits in the hot exit program, whose verification must stay small). */
static __always_inline void join_words(__u64 prefix, __u64 plen, const __u64 t[SW_HEAD_BYTES / 8],
				       __u64 w[SW_HEAD_BYTES / 8])
{
	plen &= 7;
	if (plen == 0) {
		for (int i = 0; i < SW_HEAD_BYTES / 8; i++)
			w[i] = t[i];
		return;
	}
	__u64 shift = 8 * plen;
	w[0] = (prefix & SW_MASK(plen)) | (t[0] << shift);
	for (int i = 1; i < SW_HEAD_BYTES / 8; i++)
		w[i] = (t[i - 1] >> (64 - shift)) | (t[i] << shift);
}

/* The first bytes of a direction as words: those held from earlier short
 * calls, then this call's; a call whose first segment is shorter than a
 * word continues with its second. Returns how many are valid. */
static __always_inline __u64 head_words(const struct conn_state *c, __u8 dir, const struct head_segments *s,
					__u64 w[SW_HEAD_BYTES / 8])
{
	__u64 t[SW_HEAD_BYTES / 8] = {};
	__u64 n = s->len[0] < sizeof(t) ? s->len[0] : sizeof(t);
	if (n && bpf_probe_read_user(t, n, (const void *)s->ptr[0]))
		return 0;
	__u64 k = c->held_len[dir & 1] & 7;
	if (k == 0 && n < 8 && s->len[1] > 0) {
		/* "GET" then " /x HTTP/1.1": the first piece becomes the prefix. */
		k = n;
		__u64 prefix = t[0];
		__u64 m = s->len[1] < sizeof(t) ? s->len[1] : sizeof(t);
		__builtin_memset(t, 0, sizeof(t));
		if (bpf_probe_read_user(t, m, (const void *)s->ptr[1]))
			m = 0;
		join_words(prefix, k, t, w);
		n = k + m;
	} else {
		join_words(c->held[dir & 1], k, t, w);
		n += k;
	}
	return n < SW_HEAD_BYTES ? n : SW_HEAD_BYTES;
}

/* Too few bytes to tell yet, and they can still begin a protocol: keep them
 * and decide on the next call (bounded by SW_MAX_INFER_ATTEMPTS). Only while
 * every byte the direction moved is held, so they sit at its position 0. */
static __always_inline bool hold_short_start(struct conn_state *c, __u8 dir, const struct sw_infer_input *in)
{
	__u32 d = dir & 1;
	if (in->n == 0 || in->n >= 8 || c->pos[d] != c->held_len[d] || c->infer_attempts >= SW_MAX_INFER_ATTEMPTS)
		return false;
	c->held[d] = in->w[0] & SW_MASK(in->n & 7);
	c->held_len[d] = in->n;
	c->infer_attempts++;
	return true;
}

enum infer_outcome { SW_INFER_DECIDED, SW_INFER_WAITING };

/* One inference's arguments: a function that is not inlined takes five. */
struct infer_call {
	__u64 total;
	__u32 tgid;
	__s32 fd;
	__u8 dir, first, may_hold;
};

/* Asks each protocol of protocols/protocol_list.h, in order, about the first
 * bytes of a direction (may_hold: across calls, see hold_short_start) and, for
 * midstream sockets, decides the role from which side sends requests. Not
 * inlined: the inference's words and temporaries then take stack only while
 * it runs, not in the frame of every program that calls it. */
static __noinline int infer_protocol_call(struct conn_state *c, const struct head_segments *segs,
					  const struct infer_call *k)
{
	__u32 tgid = k->tgid;
	int fd = k->fd;
	__u64 total = k->total;
	__u8 dir = k->dir;
	bool first = k->first, may_hold = k->may_hold;
	struct data_scratch_slot *slot = scratch_slot();
	if (!slot)
		return SW_INFER_DECIDED;
	/* In the slot, not on the stack: see above. */
	struct sw_infer_input *in = &slot->infer;
	__builtin_memset(in, 0, sizeof(*in));
	__u8 proto = SW_PROTO_UNKNOWN;
	bool request = false, more = false;

	struct sock *sk = (struct sock *)c->sk;
	__u16 peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (bpf_map_lookup_elem(&self_ports, &peer_port)) {
		c->protocol = SW_PROTO_OTHER;
		return SW_INFER_DECIDED;
	}
	in->n = head_words(c, dir, segs, in->w);
	in->total = total + c->held_len[dir & 1];
	in->first = first;
	in->midstream = (c->flags & SW_OPEN_MIDSTREAM) != 0;
#define SW_TRY_PROTOCOL(NAME, value, folder)                                     \
	if (proto == SW_PROTO_UNKNOWN) {                                         \
		int verdict = sw_infer_##folder(in);                               \
		if (verdict == SW_INFER_REQUEST || verdict == SW_INFER_RESPONSE) { \
			proto = SW_PROTO_##NAME;                                   \
			request = verdict == SW_INFER_REQUEST;                     \
		} else if (verdict == SW_INFER_MORE) {                             \
			more = true;                                               \
		}                                                                  \
	}
	SW_PROTOCOL_LIST(SW_TRY_PROTOCOL)
#undef SW_TRY_PROTOCOL
	if (proto == SW_PROTO_UNKNOWN && more && may_hold && total < 8 && hold_short_start(c, dir, in))
		return SW_INFER_WAITING;
	if (proto == SW_PROTO_UNKNOWN) {
		if (c->shed == SW_SHED_RESUMING)
			return SW_INFER_DECIDED; /* body bytes: it waits for a request, however long */
		if ((!(c->flags & SW_OPEN_MIDSTREAM) && first) ||
		    ++c->infer_attempts >= SW_MAX_INFER_ATTEMPTS) {
			c->protocol = SW_PROTO_OTHER;
			stat_add(SW_STAT_CONNS_OTHER, 1);
		}
		c->held_len[0] = c->held_len[1] = 0;
		return SW_INFER_DECIDED;
	}
	if (c->role == SW_ROLE_UNKNOWN) {
		bool sends_requests = (dir == SW_DIR_EGRESS) == request;
		c->role = sends_requests ? SW_ROLE_CLIENT : SW_ROLE_SERVER;
	}
	enum shed_admission admission = shed_admit(c, dir, request);
	if (admission == SW_SHED_REFUSED)
		return SW_INFER_DECIDED;
	c->protocol = proto;
	if (admission == SW_SHED_ADMITTED)
		stat_add(SW_STAT_CONNS_TRACED, 1);
	emit_open(tgid, fd, c);
	return SW_INFER_DECIDED;
}

static __always_inline enum infer_outcome infer_protocol(__u32 tgid, int fd, struct conn_state *c,
							 const struct head_segments *segs, __u64 total, __u8 dir,
							 bool first, bool may_hold)
{
	struct infer_call k = {.total = total, .tgid = tgid, .fd = fd, .dir = dir, .first = first, .may_hold = may_hold};
	return infer_protocol_call(c, segs, &k);
}

/* Where the first bytes of call `a` (which moved `ret`) are, for inference. */
static __always_inline void first_segments(const struct sw_io_args *a, long ret, struct head_segments *s)
{
	struct iovec v[2] = {};
	struct user_msghdr m = {};
	__u64 iov = a->buf, count = a->count;
	s->ptr[0] = a->buf;
	s->len[0] = ret;
	s->len[1] = 0;
	switch (a->sys) {
	case SW_SYS_READV:
	case SW_SYS_WRITEV:
		break;
	case SW_SYS_RECVMSG:
	case SW_SYS_SENDMSG:
	case SW_SYS_RECVMMSG:
	case SW_SYS_SENDMMSG: /* msg_hdr is the first member of struct mmsghdr */
		bpf_probe_read_user(&m, sizeof(m), (const void *)a->buf);
		iov = (__u64)m.msg_iov;
		count = m.msg_iovlen;
		break;
	case SW_SYS_SENDFILE:
		s->len[0] = 0;
		return;
	default:
		return;
	}
	bpf_probe_read_user(&v[0], sizeof(v[0]), (const void *)iov);
	if (count > 1)
		bpf_probe_read_user(&v[1], sizeof(v[1]), (const void *)(iov + sizeof(v[0])));
	s->ptr[0] = (__u64)v[0].iov_base;
	s->len[0] = v[0].iov_len < (__u64)ret ? v[0].iov_len : (__u64)ret;
	s->ptr[1] = (__u64)v[1].iov_base;
	s->len[1] = v[1].iov_len < (__u64)ret - s->len[0] ? v[1].iov_len : (__u64)ret - s->len[0];
}
