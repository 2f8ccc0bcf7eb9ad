/* Data events: payload copied up to the cap, vectored I/O gathered into
 * one event, held first bytes sent once the protocol is known.
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

/* Payload bytes copied into one data event at most: the loader's cap,
 * within the event's ceiling. */
static __always_inline __u64 copy_cap(void)
{
	__u64 cap = payload_cap;
	return cap == 0 || cap > SW_MAX_PAYLOAD ? SW_MAX_PAYLOAD : cap;
}

/* Decides a server's request context into slot->pending.ctx when the slot's
 * `copied` payload bytes begin a request (propagation.bpf.h); non-zero when
 * they do not. */
static __noinline int decide_server_context(struct data_scratch_slot *slot, __u64 copied);

/* The call's request context behind the payload of the event at the
 * request's position (the call's own bytes: an event before them, of a
 * body's counted bytes, does not take it). Returns the event's size.
 * Global, so the verifier checks it once, not again at every path of the
 * exit program that sends a data event. */
__noinline __u64 attach_context(struct data_scratch_slot *slot, __u64 copied)
{
	if (!slot || copied > SW_MAX_PAYLOAD)
		return 0;
	struct pending_context *p = &slot->pending;
	__u64 size = offsetof(struct sw_data_event, data) + copied;
	if (p->ctx.pos != slot->ev.pos)
		return size;
	__u8 kind = p->kind;
	p->kind = SW_PENDING_NONE;
	if (kind == SW_PENDING_SERVER && decide_server_context(slot, copied))
		return size;
	__u64 off = SW_CONTEXT_TRAILER_OFFSET(copied);
	if (off > SW_MAX_PAYLOAD)
		return size;
	__builtin_memcpy(slot->ev.data + off, &p->ctx, sizeof(p->ctx));
	slot->ev.flags |= SW_DATA_CONTEXT;
	stat_add(SW_STAT_CONTEXTS_DECIDED, 1);
	return offsetof(struct sw_data_event, data) + off + sizeof(p->ctx);
}

/* Sends a filled data event of `size` bytes, and counts it, or its loss. */
static __always_inline void output_data_record(struct sw_data_event *ev, __u64 size)
{
	if (bpf_ringbuf_output(&events, ev, size, output_flags(size)))
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
	else
		stat_add(SW_STAT_DATA_EVENTS, 1);
}

/* Sends a filled data event whose first `copied` payload bytes are set. */
static __always_inline void output_data_event(struct sw_data_event *ev, __u64 copied)
{
	output_data_record(ev, offsetof(struct sw_data_event, data) + copied);
}

/* Sends the event of a call's own bytes (the first `copied` payload bytes
 * set), with the call's request context if one waits for it. */
static __always_inline void output_call_event(struct sw_data_event *ev, __u64 copied)
{
	struct data_scratch_slot *slot = slot_of(ev);
	if (slot->pending.kind == SW_PENDING_NONE) {
		output_data_event(ev, copied);
		return;
	}
	__u64 size = attach_context(slot, copied);
	/* A bound the verifier can see: a global function's result is unknown to it. */
	asm volatile("" : "+r"(size));
	if (size < offsetof(struct sw_data_event, data) ||
	    size > sizeof(struct sw_data_event) + sizeof(struct sw_request_context)) {
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
		return;
	}
	output_data_record(ev, size);
}

/* Sends a data event whose first `copied` payload bytes are in ev->data:
 * reserves its byte range of `len` in the stream (SW_DATA_TLS in ev->flags
 * selects the plaintext stream's positions); bytes past `copied` are a
 * known, counted gap. */
static __always_inline int submit_data(struct conn_state *c, struct sw_data_event *ev, __u64 len, __u64 copied,
				       __u32 no_copy)
{
	__u32 dir = ev->direction & 1;
	__u8 keep = ev->flags & (SW_DATA_TLS | SW_DATA_SEQ | SW_DATA_BODY_COUNTED);

	if (len > copied && !(keep & SW_DATA_BODY_COUNTED))
		stat_add(SW_STAT_BYTES_UNCOPIED, len - copied);
	ev->pos = __sync_fetch_and_add((keep & SW_DATA_TLS) ? &c->tls_pos[dir] : &c->pos[dir], len);
	ev->peer_pos = (keep & SW_DATA_TLS) ? c->tls_pos[dir ^ 1] : c->pos[dir ^ 1];
	ev->len = len;
	ev->flags = (no_copy ? SW_DATA_NO_COPY : 0) | keep;
	asm volatile("" : "+r"(copied));
	if (copied > SW_MAX_PAYLOAD)
		copied = SW_MAX_PAYLOAD;
	ev->copied = copied;
	output_call_event(ev, copied);
	return 0;
}

/* Copies up to the cap of a chunk's `len` bytes at ubuf into the event;
 * returns how many (0 if unreadable). */
static __always_inline __u64 copy_chunk(struct sw_data_event *ev, __u64 ubuf, __u64 len)
{
	__u64 n = len;
	__u64 cap = copy_cap();
	if (n > cap)
		n = cap;
	asm volatile("" : "+r"(n));
	if (n > SW_MAX_PAYLOAD)
		n = SW_MAX_PAYLOAD;
	if (n && bpf_probe_read_user(ev->data, n, (const void *)ubuf))
		n = 0;
	return n;
}

/* One contiguous chunk of payload, copied up to the cap. */
static __noinline int emit_chunk(struct conn_state *c, struct sw_data_event *ev, __u64 ubuf, __u64 len, __u32 no_copy)
{
	return submit_data(c, ev, len, no_copy ? 0 : copy_chunk(ev, ubuf, len), no_copy);
}

/* One iovec: its share of the syscall's bytes, appended to the event. Stops
 * the loop once every byte is placed or the cap is reached; an unreadable
 * iovec ends the copy there (the rest of the syscall is a counted gap). */
static long gather_one_iovec(__u32 i, void *unused)
{
	struct data_scratch_slot *slot = scratch_slot();
	if (!slot)
		return 1;
	struct iov_gather *g = &slot->gather;
	struct iovec v = {};
	if (g->left == 0 || g->copied >= g->cap)
		return 1;
	if (bpf_probe_read_user(&v, sizeof(v), (const void *)(g->iov + (__u64)i * sizeof(struct iovec)))) {
		g->broken = 1;
		return 1;
	}
	__u64 n = v.iov_len < g->left ? v.iov_len : g->left;
	__u64 room = g->cap - g->copied;
	__u64 take = n < room ? n : room;
	__u64 off = g->copied;
	g->left -= n;
	if (take == 0)
		return 0;
	/* Bounds the verifier can check against the slot's slack. */
	asm volatile("" : "+r"(off), "+r"(take));
	if (off >= SW_MAX_PAYLOAD || take > SW_MAX_PAYLOAD)
		return 1;
	if (bpf_probe_read_user(slot->ev.data + off, take, v.iov_base)) {
		g->broken = 1;
		return 1;
	}
	g->copied += take;
	return 0;
}

/* The `total` bytes a vectored syscall moved, spread over its iovec array the
 * way the kernel filled it: one event, copied from consecutive iovecs up to
 * the cap. However many iovecs the bytes came in, none becomes a gap. */
static __noinline int emit_iov(struct conn_state *c, struct sw_data_event *ev, __u64 iov_ptr, __u64 iovcnt, __u64 total)
{
	struct data_scratch_slot *slot = scratch_slot();
	if (!slot)
		return 0;
	struct iov_gather *g = &slot->gather;
	g->iov = iov_ptr;
	g->left = total;
	g->copied = 0;
	g->cap = copy_cap();
	g->broken = 0;
	if (iovcnt > SW_MAX_IOV)
		iovcnt = SW_MAX_IOV;
	bpf_loop(iovcnt, gather_one_iovec, NULL, 0);
	if (g->broken || (g->left > 0 && g->copied < g->cap))
		stat_add(SW_STAT_IOV_TRUNCATED, 1); /* an unreadable or short iovec array */
	return submit_data(c, ev, total, g->copied, 0);
}

/* The per-CPU data event, its header filled for one call on connection c
 * (payload fields are the caller's); NULL if the scratch slot is missing. */
static __always_inline struct sw_data_event *start_data_event(__u64 id, int fd, const struct conn_state *c,
							      __u64 ts_start, __u8 dir, __u8 sys)
{
	struct sw_data_event *ev = scratch_event();
	if (!ev)
		return NULL;
	conn_event_header(&ev->hdr, SW_EV_DATA, (__u32)id, id >> 32, fd, c);
	ev->ts_start_ns = ts_start;
	ev->direction = dir;
	ev->syscall = sys;
	return ev;
}

/* The bytes held while the protocol was undecided, one event per direction:
 * they are each direction's first, at position 0. */
static __noinline int emit_held(struct conn_state *c, __u64 id, int fd, __u64 ts_start, __u8 sys)
{
	for (__u32 d = 0; d < 2; d++) {
		__u64 k = c->held_len[d] & 7;
		if (k == 0)
			continue;
		c->held_len[d] = 0;
		struct sw_data_event *ev = start_data_event(id, fd, c, ts_start, d, sys);
		if (!ev)
			return 0;
		ev->pos = 0;
		ev->peer_pos = 0; /* the other direction's count then is not kept: 0 claims nothing */
		ev->len = k;
		ev->copied = k;
		ev->flags = 0;
		ev->seq_minus_pos = 0;
		__builtin_memcpy(ev->data, &c->held[d], sizeof(c->held[d]));
		output_data_event(ev, k);
	}
	return 0;
}

/* Every protocol of the list has its payload copied; others are only counted. */
static __always_inline bool payload_copied(__u8 protocol)
{
	return protocol != SW_PROTO_UNKNOWN && protocol != SW_PROTO_OTHER;
}

/* The connection carries TLS: what it already inferred from ciphertext is void. */
static __always_inline void mark_tls(struct conn_state *c)
{
	if (c->tls)
		return;
	c->tls = 1;
	c->flags |= SW_OPEN_TLS;
	if (c->protocol == SW_PROTO_OTHER)
		c->protocol = SW_PROTO_UNKNOWN;
	c->infer_attempts = 0;
	stat_add(SW_STAT_TLS_CONNS, 1);
}
