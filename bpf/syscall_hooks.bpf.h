/* The syscall tracepoints: enter remembers a socket call's arguments,
 * exit turns what it moved into events.
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

/* Keeps a call's arguments for its exit, in the thread's slot. */
static __always_inline void stash(struct sw_thread_slot *slot, struct sw_io_args *a)
{
	a->live = 1;
	slot->io = *a;
}

static __always_inline struct sw_thread_slot *slot_for_stash(void)
{
	struct sw_thread_slot *slot = thread_slot(true);
	if (!slot)
		stat_add(SW_STAT_STASH_FULL, 1);
	return slot;
}

static __always_inline int stash_io(long nr, int fd, __u64 buf, __u64 count, __u8 sys, __u8 dir)
{
	/* Every read and write of every process enters here: most are not on a
	 * TCP socket, and that is known before anything else is fetched. */
	__u64 sk = tcp_sock_of_fd(fd);
	if (!sk)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) == self_tgid)
		return 0;
	struct sw_thread_slot *slot = slot_for_stash();
	if (!slot)
		return 0;
	struct sw_io_args a = {
		.buf = buf, .count = count, .ts_start = bpf_ktime_get_ns(), .sk = sk, .fd = fd,
		.nr = nr, .sys = sys, .dir = dir,
	};
	/* Inside a TLS library call: this socket is the call's connection. */
	struct sw_tls_args *t = &slot->tls;
	if (t->live) {
		/* t->fd came from tls_fds at the call's entry: the table changes
		 * only when the session moved to another socket. */
		if (t->fd != fd) {
			struct sw_tls_key tk = {.ssl = t->ssl, .tgid = id >> 32};
			t->fd = fd;
			bpf_map_update_elem(&tls_fds, &tk, &fd, BPF_ANY);
		}
		a.in_tls = 1;
	}
	if (propagation_on && dir == SW_DIR_EGRESS && !a.in_tls)
		decide_client_context(causal_id(id, dir, NULL), &a);
	stash(slot, &a);
	return 0;
}

static __always_inline int stash_conn_call(long nr, int fd, __u8 sys)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) == self_tgid && sys != SW_SYS_CONNECT)
		return 0;
	struct sw_thread_slot *slot = slot_for_stash();
	if (!slot)
		return 0;
	struct sw_io_args a = {.fd = fd, .nr = nr, .sys = sys};
	stash(slot, &a);
	return 0;
}

/* The call's bytes as data events (the header of ev is filled). */
static __always_inline int emit_payload(const struct sw_io_args *a, struct conn_state *c, struct sw_data_event *ev,
					long ret)
{
	switch (a->sys) {
	case SW_SYS_READV:
	case SW_SYS_WRITEV:
		return emit_iov(c, ev, a->buf, a->count, ret);
	case SW_SYS_RECVMSG:
	case SW_SYS_SENDMSG: {
		struct user_msghdr m = {};
		if (bpf_probe_read_user(&m, sizeof(m), (const void *)a->buf))
			return emit_chunk(c, ev, 0, ret, 1);
		return emit_iov(c, ev, (__u64)m.msg_iov, m.msg_iovlen, ret);
	}
	case SW_SYS_RECVMMSG:
	case SW_SYS_SENDMMSG: {
		/* ret counts messages; each one's msg_len says how many bytes it moved. */
		const struct mmsghdr *vec = (const struct mmsghdr *)a->buf;
		for (int i = 0; i < SW_MAX_MMSG; i++) {
			struct mmsghdr m = {};
			if (i >= ret)
				break;
			if (bpf_probe_read_user(&m, sizeof(m), &vec[i]))
				break;
			emit_iov(c, ev, (__u64)m.msg_hdr.msg_iov, m.msg_hdr.msg_iovlen, m.msg_len);
		}
		if (ret > SW_MAX_MMSG)
			stat_add(SW_STAT_IOV_TRUNCATED, 1);
		return 0;
	}
	case SW_SYS_SENDFILE:
		return emit_chunk(c, ev, 0, ret, 1);
	default:
		return emit_chunk(c, ev, a->buf, ret, 0);
	}
}

/* The call's bytes as data events, a body of announced length counted and
 * not copied (body_skip.bpf.h; a *mmsg call's messages are not followed). */
static __always_inline void emit_call(const struct sw_io_args *a, struct conn_state *c, struct sw_data_event *ev,
				      long ret)
{
	bool single = a->sys != SW_SYS_RECVMMSG && a->sys != SW_SYS_SENDMMSG;
	if (single && c->body_left[a->dir & 1]) {
		struct head_segments segs;
		first_segments(a, ret, &segs);
		int verdict = body_verdict(c, a->dir, ret, segs.ptr[0], true, ev->hdr.ts_ns);
		if (verdict != SW_BODY_COPY) {
			body_count(c, ev, ret, verdict);
			return;
		}
	}
	body_flush_silent(c, ev);
	if (!single || !body_skip_applies(c)) {
		emit_payload(a, c, ev, ret);
		return;
	}
	switch (a->sys) {
	case SW_SYS_READ:
	case SW_SYS_WRITE:
	case SW_SYS_RECVFROM:
	case SW_SYS_SENDTO:
		emit_head_chunk(c, ev, a->buf, ret);
		return;
	default: /* vectored: the head is looked at once the event is out */
		emit_payload(a, c, ev, ret);
		body_note_call(c, a->dir, ret, ev->copied);
	}
}

static __always_inline int finish_data(const struct sw_io_args *a, __u64 id, long ret)
{
	__u32 tgid = id >> 32;
	struct conn_state *c = conn_for_data(tgid, a->fd, a->sk);
	if (!c)
		return 0;
	if (a->in_tls)
		mark_tls(c);
	if (c->tls) {
		/* Ciphertext can never be parsed: count it, copy nothing. */
		__sync_fetch_and_add(&c->pos[a->dir & 1], ret);
		stat_add(SW_STAT_TLS_ENCRYPTED_BYTES, ret);
		return 0;
	}
	if (shed_skips(tgid, a->fd, c, ret)) {
		__sync_fetch_and_add(&c->pos[a->dir & 1], ret);
		body_forget(c);
		return 0;
	}
	if (c->protocol == SW_PROTO_UNKNOWN) {
		struct head_segments segs;
		first_segments(a, ret, &segs);
		bool first = c->pos[0] == c->held_len[0] && c->pos[1] == c->held_len[1];
		if (infer_protocol(tgid, a->fd, c, &segs, ret, a->dir, first, true) == SW_INFER_WAITING) {
			__sync_fetch_and_add(&c->pos[a->dir & 1], ret);
			return 0;
		}
	}
	if (!payload_copied(c->protocol)) {
		__sync_fetch_and_add(&c->pos[a->dir & 1], ret);
		return 0;
	}
	if (!c->open_sent)
		emit_open(tgid, a->fd, c);
	id = causal_id(id, a->dir, c); /* from here: the goroutine, in a Go process */
	if (c->held_len[0] | c->held_len[1])
		emit_held(c, id, a->fd, a->ts_start, a->sys);

	struct sw_data_event *ev = start_data_event(id, a->fd, c, a->ts_start, a->dir, a->sys);
	if (!ev)
		return 0;
	/* At exit the socket's sequence counter has moved past this call's bytes:
	 * write_seq by what was queued, copied_seq by what was read. */
	struct tcp_sock *tp = bpf_rdonly_cast((void *)a->sk, bpf_core_type_id_kernel(struct tcp_sock));
	__u32 seq_end = a->dir == SW_DIR_EGRESS ? tp->write_seq : tp->copied_seq;
	__u64 pos = c->pos[a->dir & 1];
	ev->seq_minus_pos = seq_end - (__u32)ret - (__u32)pos;
	ev->flags = SW_DATA_SEQ;
	struct pending_context *pending = &slot_of(ev)->pending;
	if (propagation_on)
		expect_context(a, id, c, pending, pos, seq_end - (__u32)ret);
	emit_call(a, c, ev, ret);
	if (propagation_on)
		after_data_call(a, id, c, pending);
	return 0;
}

static __always_inline int finish_syscall(long nr, long ret)
{
	/* Every read and write of every process exits here: nothing before the
	 * stash check that a call without a stash does not need. The stash is
	 * read in place, not copied: the exit program's stack is needed by the
	 * calls below it, and nothing else writes the thread's slot meanwhile. */
	struct sw_thread_slot *slot = thread_slot(false);
	if (!slot || !slot->io.live)
		return 0;
	struct sw_io_args *a = &slot->io;
	__u64 id = bpf_get_current_pid_tgid();
	a->live = 0;
	if (a->nr != (__u32)nr)
		return 0; /* a stale entry (written by userspace for a syscall that already ended) */
	if (!a->sk && a->sys != SW_SYS_CONNECT && a->sys != SW_SYS_ACCEPT) {
		/* Seeded by userspace for a syscall that was in flight at start. */
		a->sk = tcp_sock_of_fd(a->fd);
		if (!a->sk)
			return 0;
	}

	if (a->sys == SW_SYS_CONNECT) {
		if (ret == 0 || ret == -SW_EINPROGRESS) {
			__u64 sk = tcp_sock_of_fd(a->fd);
			if (!sk)
				return 0;
			if ((__u32)(id >> 32) == self_tgid) {
				__u16 port = BPF_CORE_READ((struct sock *)sk, __sk_common.skc_num);
				__u8 one = 1;
				bpf_map_update_elem(&self_ports, &port, &one, BPF_ANY);
				return 0;
			}
			conn_start(id >> 32, a->fd, sk, SW_ROLE_CLIENT, 0);
		}
		return 0;
	}
	if (a->sys == SW_SYS_ACCEPT) {
		if (ret >= 0) {
			__u64 sk = tcp_sock_of_fd(ret);
			if (sk)
				conn_start(id >> 32, ret, sk, SW_ROLE_SERVER, 0);
		}
		return 0;
	}
	if (ret <= 0)
		return 0;
	return finish_data(a, id, ret);
}

#define ENTER(name) SEC("tracepoint/syscalls/sys_enter_" #name) int tp_enter_##name(struct trace_event_raw_sys_enter *ctx)

ENTER(read) { return stash_io(ctx->id, ctx->args[0], ctx->args[1], 0, SW_SYS_READ, SW_DIR_INGRESS); }
ENTER(write) { return stash_io(ctx->id, ctx->args[0], ctx->args[1], ctx->args[2], SW_SYS_WRITE, SW_DIR_EGRESS); }
ENTER(readv) { return stash_io(ctx->id, ctx->args[0], ctx->args[1], ctx->args[2], SW_SYS_READV, SW_DIR_INGRESS); }
ENTER(writev) { return stash_io(ctx->id, ctx->args[0], ctx->args[1], ctx->args[2], SW_SYS_WRITEV, SW_DIR_EGRESS); }
/* A peek (MSG_PEEK) moves nothing: the bytes come again with the read that
 * consumes them, so it is not traced at all. */
#define SW_MSG_PEEK 2
ENTER(recvfrom)
{
	if (ctx->args[3] & SW_MSG_PEEK)
		return 0;
	return stash_io(ctx->id, ctx->args[0], ctx->args[1], 0, SW_SYS_RECVFROM, SW_DIR_INGRESS);
}
ENTER(sendto) { return stash_io(ctx->id, ctx->args[0], ctx->args[1], ctx->args[2], SW_SYS_SENDTO, SW_DIR_EGRESS); }
ENTER(recvmsg)
{
	if (ctx->args[2] & SW_MSG_PEEK)
		return 0;
	return stash_io(ctx->id, ctx->args[0], ctx->args[1], 0, SW_SYS_RECVMSG, SW_DIR_INGRESS);
}
ENTER(sendmsg) { return stash_io(ctx->id, ctx->args[0], ctx->args[1], 0, SW_SYS_SENDMSG, SW_DIR_EGRESS); }
ENTER(recvmmsg)
{
	if (ctx->args[3] & SW_MSG_PEEK)
		return 0;
	return stash_io(ctx->id, ctx->args[0], ctx->args[1], 0, SW_SYS_RECVMMSG, SW_DIR_INGRESS);
}
ENTER(sendmmsg) { return stash_io(ctx->id, ctx->args[0], ctx->args[1], 0, SW_SYS_SENDMMSG, SW_DIR_EGRESS); }
ENTER(sendfile64) { return stash_io(ctx->id, ctx->args[0], 0, 0, SW_SYS_SENDFILE, SW_DIR_EGRESS); }
ENTER(connect) { return stash_conn_call(ctx->id, ctx->args[0], SW_SYS_CONNECT); }
ENTER(accept) { return stash_conn_call(ctx->id, -1, SW_SYS_ACCEPT); }
ENTER(accept4) { return stash_conn_call(ctx->id, -1, SW_SYS_ACCEPT); }

/* One program for the exit of every traced syscall: the stash says which
 * syscall it was. The loader attaches it to each sys_exit_* tracepoint of
 * the enter programs above, so the verifier checks it once, not fourteen times. */
SEC("tracepoint")
int tp_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	return finish_syscall(ctx->id, ctx->ret);
}
