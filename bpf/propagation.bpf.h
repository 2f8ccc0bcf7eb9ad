/* Trace context decided in the kernel. A client request gets its trace id
 * and span id before its first byte leaves (sys_enter of the write), so the
 * sock_ops program (sock_ops.bpf.h) can stamp them on its segments, and a
 * server request gets its ids when it is read, before its data event goes
 * out. Userspace exports exactly these ids, which ride behind the payload of
 * the request's first data event (SW_DATA_CONTEXT). Where they come from,
 * most specific first:
 *   server: the TCP option on the request's segments; a client on this host
 *           that sent it (tuple + sequence number); the request's
 *           traceparent; fresh.
 *   client: the request the calling thread is serving; the request's own
 *           traceparent; fresh.
 * Requests are recognised at a call's first bytes (an HTTP/1 method).
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

/* A request head is searched for traceparent in its first bytes only. */
#define SW_HEAD_SCAN_BYTES 1024
/* Room after the scanned part for the last line's name and value. */
#define SW_HEAD_COPY_BYTES (SW_HEAD_SCAN_BYTES + 128)

static __always_inline void random_words(__u8 *p, int n32)
{
	for (int i = 0; i < n32; i++) {
		__u32 r = bpf_get_prandom_u32();
		__builtin_memcpy(p + 4 * i, &r, 4);
	}
}

struct head_scan_ctx {
	struct data_scratch_slot *slot;
};

/* One 8-byte word of the head in the slot's payload: a line starting in it
 * that is the traceparent header. Stops at the blank line ending the head. */
static long scan_head_word(__u32 i, struct head_scan_ctx *ctx)
{
	struct data_scratch_slot *slot = ctx->slot;
	struct head_scan *s = &slot->scan;
	if (i >= SW_HEAD_SCAN_BYTES / 8)
		return 1;
	/* The mask bounds the offset for the verifier, whatever the compiler keeps. */
	__u64 off = ((__u64)i & (SW_HEAD_SCAN_BYTES / 8 - 1)) * 8;
	if (off >= s->len)
		return 1;
	__u64 w;
	__builtin_memcpy(&w, slot->ev.data + off, 8);
	__u64 x = w ^ 0x0a0a0a0a0a0a0a0aULL; /* a zero byte where w has '\n' */
	__u64 m = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
	if (!m)
		return 0;
	for (int b = 0; b < 8; b++) {
		if (!(m & (0x80ULL << (8 * b))) || slot->ev.data[off + b] != '\n')
			continue;
		__u64 line = off + b + 1;
		if (line + 12 + SW_TRACEPARENT_LEN > s->len)
			return 1; /* no room left for the header and its value */
		__u8 first = slot->ev.data[line];
		if (first == '\r' || first == '\n')
			return 1; /* the end of the head */
		if (sw_is_traceparent_name(slot->ev.data + line)) {
			s->found = 1;
			s->value = line + 12;
			return 1;
		}
	}
	return 0;
}

/* The traceparent of the request head in the slot's payload (len bytes). */
static __noinline int head_traceparent(struct data_scratch_slot *slot, __u32 len, struct sw_trace_ctx *out,
				       __u8 *flags)
{
	struct head_scan_ctx ctx = {.slot = slot};
	slot->scan.len = len;
	slot->scan.found = 0;
	bpf_loop(SW_HEAD_SCAN_BYTES / 8, scan_head_word, &ctx, 0);
	if (!slot->scan.found)
		return -1;
	__u32 at = slot->scan.value;
	for (int k = 0; k < 4; k++) { /* optional whitespace before the value */
		__u32 i = at & 2047;
		if (slot->ev.data[i] != ' ' && slot->ev.data[i] != '\t')
			break;
		at++;
	}
	if (at + SW_TRACEPARENT_LEN > len)
		return -1;
	/* Parsed where it lies: a copy would cost stack that the enter program,
	 * which calls this two frames down, does not have. */
	return sw_parse_traceparent(slot->ev.data + (at & 2047), out, flags);
}

/* The request at seq as the client's end of a same-host connection keyed
 * it: client and server address and port, sequence number. */
static __always_inline void exchange_of(__u64 skp, bool local_is_client, __u32 seq, struct exchange_at *k)
{
	struct tuple_out client_local = {k->client_addr, k->server_addr, &k->client_port, &k->server_port};
	struct tuple_out server_local = {k->server_addr, k->client_addr, &k->server_port, &k->client_port};
	read_tuple(skp, local_is_client ? &client_local : &server_local);
	k->seq = seq;
}

/* A request's context in an event of its own, for a call none of whose data
 * events was at the request's position. Built in the ring itself: a copy on
 * the stack would not fit beside the exit program's own frame. */
static __always_inline void emit_context(__u64 id, int fd, const struct conn_state *c,
					 const struct sw_request_context *ctx)
{
	struct sw_context_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
		return;
	}
	__builtin_memset(&ev->hdr, 0, sizeof(ev->hdr));
	conn_event_header(&ev->hdr, SW_EV_CONTEXT, (__u32)id, id >> 32, fd, c);
	__builtin_memcpy(&ev->ctx, ctx, sizeof(*ctx));
	bpf_ringbuf_submit(ev, submit_flags(sizeof(*ev)));
	stat_add(SW_STAT_CONTEXTS_DECIDED, 1);
}

/* The request id serves, if any: a thread's in its own storage (no hashing),
 * a goroutine's in the serving map. A non-goroutine id is always the
 * calling thread's: the hooks decide only for the thread they run in. */
static __always_inline struct serving *serving_of(__u64 id)
{
	if (is_goroutine_id(id))
		return bpf_map_lookup_elem(&serving, &id);
	return bpf_task_storage_get(&thread_serving, bpf_get_current_task_btf(), 0, 0);
}

/* id, serving nothing known so far, now serves *now. */
static __always_inline void start_serving(__u64 id, struct serving *now)
{
	if (is_goroutine_id(id))
		bpf_map_update_elem(&serving, &id, now, BPF_ANY);
	else
		bpf_task_storage_get(&thread_serving, bpf_get_current_task_btf(), now,
				     BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/* The context of the received segment holding byte seq, if it carried one. */
static __always_inline bool received_context(const struct wire_sock *w, __u32 seq, struct sw_trace_ctx *out,
					     __u8 *flag)
{
	for (int i = 0; i < SW_WIRE_RX_SLOTS; i++) {
		const struct wire_rx *r = &w->rx[i];
		if (r->seq == r->end || (__s32)(seq - r->seq) < 0 || (__s32)(r->end - seq) <= 0)
			continue;
		*out = r->ctx;
		*flag = w->rx_flag[i];
		return true;
	}
	return false;
}

/* Whether a call's first payload bytes (the first n of word w) begin a request. */
static __always_inline bool begins_request(__u64 w, __u64 n)
{
	if (n < 4)
		return false;
	if (n < 8)
		w &= SW_MASK(n);
	return sw_http1_method(w);
}

/* A server thread read the start of a request (the slot's `copied` payload
 * bytes, of the call slot->pending describes): the server span's ids, into
 * slot->pending.ctx, and the request the thread serves from now on. */
static __noinline int decide_server_context(struct data_scratch_slot *slot, __u64 copied)
{
	struct pending_context *p = &slot->pending;
	__u64 w0 = 0;
	__builtin_memcpy(&w0, slot->ev.data, 8);
	if (!begins_request(w0, copied))
		return -1;
	__u64 sk = p->sk;
	__u64 id = p->id;
	struct sw_request_context *d = &p->ctx;
	/* A fresh root's or a header's flags are the trace's own; an option's or a
	 * local client's are as certain as the caller's were. */
	d->trace_flags = 1;
	d->flags = SW_CTX_FLAGS_CERTAIN;
	__builtin_memset(d->parent_id, 0, sizeof(d->parent_id));
	struct sw_trace_ctx from = {};
	__u8 wire_flag = SW_WIRE_FLAG_UNKNOWN;
	random_words(d->span_id, 2);
	struct wire_sock *w = bpf_map_lookup_elem(&wire_socks, &sk);
	bool from_option = w && received_context(w, p->seq, &from, &wire_flag);
	struct local_request *local = NULL;
	if (!from_option) {
		struct exchange_at key = {};
		exchange_of(sk, false, p->seq, &key);
		local = bpf_map_lookup_elem(&local_requests, &key);
	}
	if (from_option) {
		d->source = SW_CTX_OPTION;
		d->trace_flags = wire_flag == SW_WIRE_FLAG_NOT_SAMPLED ? 0 : 1;
		if (wire_flag == SW_WIRE_FLAG_UNKNOWN)
			d->flags = 0;
	} else if (local) {
		from = local->ctx;
		d->trace_flags = local->trace_flags;
		d->flags = local->ctx_flags & SW_CTX_FLAGS_CERTAIN;
		d->source = SW_CTX_LOCAL;
	} else if (head_traceparent(slot, copied, &from, &d->trace_flags) == 0) {
		d->source = SW_CTX_HEADER;
	} else {
		random_words(d->trace_id, 4);
		d->source = SW_CTX_FRESH;
	}
	if (d->source != SW_CTX_FRESH) {
		__builtin_memcpy(d->trace_id, from.trace_id, 16);
		__builtin_memcpy(d->parent_id, from.span_id, 8);
	}

	struct serving *prev = serving_of(id);
	struct serving now = {.sk = sk, .active = 1, .trace_flags = d->trace_flags, .ctx_flags = d->flags};
	__builtin_memcpy(now.ctx.trace_id, d->trace_id, 16);
	__builtin_memcpy(now.ctx.span_id, d->span_id, 8);
	now.ambiguous = prev && prev->active && prev->sk != sk;
	if (prev)
		*prev = now;
	else
		start_serving(id, &now);
	return 0;
}

/* Where a write's first bytes are, at sys_enter: its buffer, or its first iovec. */
static __always_inline bool write_head(__u8 sys, __u64 buf, __u64 count, __u64 *ptr, __u64 *len)
{
	struct iovec v = {};
	struct user_msghdr m = {};
	switch (sys) {
	case SW_SYS_WRITE:
	case SW_SYS_SENDTO:
		*ptr = buf;
		*len = count;
		return true;
	case SW_SYS_WRITEV:
		if (count == 0 || bpf_probe_read_user(&v, sizeof(v), (const void *)buf))
			return false;
		break;
	case SW_SYS_SENDMSG:
		if (bpf_probe_read_user(&m, sizeof(m), (const void *)buf) || m.msg_iovlen == 0 ||
		    bpf_probe_read_user(&v, sizeof(v), m.msg_iov))
			return false;
		break;
	default:
		return false;
	}
	*ptr = (__u64)v.iov_base;
	*len = v.iov_len;
	return true;
}

/* A thread is about to write on a connected socket: if the write begins a
 * request, its client span's ids are decided now, before any byte leaves,
 * into the write's stash (a->ctx), and handed to the socket's option. */
static __noinline void decide_client_context(__u64 id, struct sw_io_args *a)
{
	__u64 sk = a->sk;
	/* The write's first bytes first: answers, other protocols and TLS records
	 * do not begin with a method, and reading 8 bytes costs less than the
	 * hash lookup of the connection's state (sendfile has none to read). */
	__u64 ptr = 0, len = 0, w0 = 0;
	if (!write_head(a->sys, a->buf, a->count, &ptr, &len) || len < 4)
		return;
	__u32 head = len < 8 ? (len & 7) : 8;
	if (head < 4 || bpf_probe_read_user(&w0, head, (const void *)ptr) || !begins_request(w0, len))
		return;
	/* A server's body, or a connection of another protocol, may still start so. */
	struct sw_conn_key ck = {.tgid = id >> 32, .fd = a->fd};
	struct conn_state *c = bpf_map_lookup_elem(&conns, &ck);
	if (c && c->sk == sk &&
	    (c->role == SW_ROLE_SERVER || c->tls || (c->protocol != SW_PROTO_UNKNOWN && c->protocol != SW_PROTO_HTTP1)))
		return;
	if (!socket_selected(sk) || !process_selected(id >> 32))
		return; /* not traced by this sensor: its ids would be exported by no one */
	struct sw_request_context *d = &a->ctx;
	struct sw_trace_ctx from = {};
	d->trace_flags = 1;
	d->flags = SW_CTX_FLAGS_CERTAIN; /* a fresh root's or a header's */
	random_words(d->span_id, 2);
	struct serving *s = serving_of(id);
	if (s && s->active) {
		from = s->ctx;
		d->trace_flags = s->trace_flags;
		d->flags = (s->ambiguous ? SW_CTX_AMBIGUOUS : 0) | (s->ctx_flags & SW_CTX_FLAGS_CERTAIN);
		d->source = SW_CTX_THREAD;
	} else {
		struct data_scratch_slot *slot = scratch_slot();
		__u32 n = len < SW_HEAD_COPY_BYTES ? len : SW_HEAD_COPY_BYTES;
		asm volatile("" : "+r"(n));
		if (n > SW_HEAD_COPY_BYTES)
			n = SW_HEAD_COPY_BYTES;
		if (slot && bpf_probe_read_user(slot->ev.data, n, (const void *)ptr) == 0 &&
		    head_traceparent(slot, n, &from, &d->trace_flags) == 0)
			d->source = SW_CTX_HEADER;
	}
	if (d->source) {
		__builtin_memcpy(d->trace_id, from.trace_id, 16);
		__builtin_memcpy(d->parent_id, from.span_id, 8);
	} else {
		random_words(d->trace_id, 4);
		d->source = SW_CTX_FRESH;
	}
	struct tcp_sock *tp = bpf_rdonly_cast((void *)sk, bpf_core_type_id_kernel(struct tcp_sock));
	__u32 seq = tp->write_seq; /* this write's first byte */
	struct wire_sock *w = bpf_map_lookup_elem(&wire_socks, &sk);
	if (w) {
		__builtin_memcpy(w->tx.trace_id, d->trace_id, 16);
		__builtin_memcpy(w->tx.span_id, d->span_id, 8);
		w->tx_seq = seq;
		w->tx_flag = !(d->flags & SW_CTX_FLAGS_CERTAIN) ? SW_WIRE_FLAG_UNKNOWN
			     : (d->trace_flags & 1)              ? SW_WIRE_FLAG_SAMPLED
								 : SW_WIRE_FLAG_NOT_SAMPLED;
		w->tx_set = 1;
		d->flags |= SW_CTX_ON_WIRE;
		return; /* the server reads the option, on this host too */
	}
	/* No option on this socket (established before the sensor): a server on
	 * this host finds the ids by tuple and sequence number. */
	struct exchange_at key = {};
	exchange_of(sk, true, seq, &key);
	struct local_request local = {.trace_flags = d->trace_flags, .ctx_flags = d->flags & SW_CTX_FLAGS_CERTAIN};
	__builtin_memcpy(local.ctx.trace_id, d->trace_id, 16);
	__builtin_memcpy(local.ctx.span_id, d->span_id, 8);
	bpf_map_update_elem(&local_requests, &key, &local, BPF_ANY);
}

/* Before a data call's events go out (p: its scratch slot's): what the one
 * at the call's first byte is to carry. A client's write that begins a
 * request brings the ids decided at its entry; a server's read is looked at
 * once its bytes are in the slot (decide_server_context). */
static __always_inline void expect_context(const struct sw_io_args *a, __u64 id, const struct conn_state *c,
					   struct pending_context *p, __u64 pos, __u32 seq)
{
	p->kind = SW_PENDING_NONE;
	if (c->protocol != SW_PROTO_HTTP1)
		return;
	if (a->dir == SW_DIR_EGRESS) {
		if (!a->ctx.source)
			return;
		__builtin_memcpy(&p->ctx, &a->ctx, sizeof(p->ctx));
		p->kind = SW_PENDING_DECIDED;
	} else if (c->role == SW_ROLE_SERVER) {
		p->id = id;
		p->sk = a->sk;
		p->seq = seq;
		p->kind = SW_PENDING_SERVER;
	} else {
		return;
	}
	p->ctx.pos = pos;
	p->ctx.direction = a->dir;
}

/* After a data call's events went out: a client's context that none of them
 * carried goes in an event of its own; a server's answer ends the request
 * its thread served. */
static __always_inline void after_data_call(const struct sw_io_args *a, __u64 id, struct conn_state *c,
					    struct pending_context *p)
{
	if (p->kind == SW_PENDING_DECIDED)
		emit_context(id, a->fd, c, &p->ctx);
	p->kind = SW_PENDING_NONE;
	if (c->protocol != SW_PROTO_HTTP1 || c->role != SW_ROLE_SERVER || a->dir != SW_DIR_EGRESS)
		return;
	struct serving *s = serving_of(id);
	if (s && s->sk == a->sk)
		s->active = 0;
}
