/* Go programs: crypto/tls plaintext and goroutine causality.
 * Part of spanwire.bpf.c, which includes the parts once, in order.
 *
 * Uprobes at function entries and at each RET instruction (userspace finds
 * them by disassembly): never uretprobes, which break Go's growable stacks.
 * Go 1.17+ register ABI on amd64: arguments in RAX, RBX, RCX, ...; results
 * in RAX, ...; the running goroutine (its g) in R14, at entry and at RET.
 *
 * A crypto/tls Read is keyed by its goroutine, not its thread: a goroutine
 * that waits for data parks and resumes on any thread. A Write is copied at
 * its entry (no return side). Its socket is read
 * from the Conn (offsets per file, go_offsets), not from a nested syscall,
 * for the same reason: the read syscall may run on another thread. */

/* The socket of a *crypto/tls.Conn, or -1 (not a TCP connection, unreadable). */
static __always_inline int go_conn_fd(__u64 conn, const struct sw_go_offsets *o)
{
	__u64 iface[2]; /* itab, data */
	if (bpf_probe_read_user(iface, sizeof(iface), (const void *)(conn + o->conn_iface)))
		return -1;
	if (o->tcpconn_itab && iface[0] != o->tcpconn_itab)
		return -1;
	__u64 netfd = 0;
	if (bpf_probe_read_user(&netfd, sizeof(netfd), (const void *)(iface[1] + o->tcpconn_fd)) || !netfd)
		return -1;
	__s64 fd = -1;
	if (bpf_probe_read_user(&fd, sizeof(fd), (const void *)(netfd + o->netfd_sysfd)))
		return -1;
	return fd >= 0 && fd < (1 << 30) ? (int)fd : -1;
}

/* The socket offsets of the Go file this probe is attached to, or NULL
 * (the sensor itself, a process not selected). */
static __always_inline const struct sw_go_offsets *go_probe_offsets(struct pt_regs *ctx, __u32 tgid)
{
	if (tgid == self_tgid || !process_selected(tgid))
		return NULL;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	return bpf_map_lookup_elem(&go_offsets, &cookie);
}

static __always_inline int go_tls_enter(struct pt_regs *ctx, __u8 dir)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	const struct sw_go_offsets *o = go_probe_offsets(ctx, tgid);
	if (!o)
		return 0;
	/* (c *Conn) Read/Write(b []byte): c in RAX, b's data in RBX. */
	int fd = go_conn_fd(ctx->ax, o);
	if (fd < 0) {
		stat_add(SW_STAT_TLS_NO_CONN, 1);
		return 0;
	}
	struct sw_tls_args a = {
		.ssl = ctx->ax, .buf = ctx->bx, .ts_start = bpf_ktime_get_ns(), .fd = fd, .dir = dir,
	};
	if (dir == SW_DIR_EGRESS) {
		/* Write sends all of b unless it fails (io.Writer), so its bytes are
		 * copied now, before any leaves: an answer read on another goroutine
		 * can never be reported before the request it answers. tls_emit
		 * finds the connection and marks it TLS before the write's syscall. */
		__u64 len = ctx->cx;
		if (len > 0)
			tls_emit(go_event_id(tgid, ctx->r14, SW_DIR_EGRESS, NULL), &a, len);
		return 0;
	}
	__u64 sk = tcp_sock_of_fd(fd);
	if (!sk) {
		stat_add(SW_STAT_TLS_NO_CONN, 1);
		return 0;
	}
	/* Marked before the read's own socket syscall: its ciphertext is then
	 * only counted, never inferred. */
	struct conn_state *c = conn_for_data(tgid, fd, sk);
	if (!c)
		return 0;
	mark_tls(c);
	struct sw_go_key k = go_key(tgid, ctx->r14);
	if (bpf_map_update_elem(&go_tls_calls, &k, &a, BPF_ANY))
		stat_add(SW_STAT_STASH_FULL, 1);
	return 0;
}

SEC("uprobe")
int uprobe_go_tls_write(struct pt_regs *ctx)
{
	return go_tls_enter(ctx, SW_DIR_EGRESS);
}

SEC("uprobe")
int uprobe_go_tls_read(struct pt_regs *ctx)
{
	return go_tls_enter(ctx, SW_DIR_INGRESS);
}

/* At each RET of Read: n in RAX. */
SEC("uprobe")
int uprobe_go_tls_read_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u64 g = ctx->r14;
	struct sw_go_key k = go_key(tgid, g);
	struct sw_tls_args *stashed = bpf_map_lookup_elem(&go_tls_calls, &k);
	if (!stashed)
		return 0;
	struct sw_tls_args a = *stashed;
	bpf_map_delete_elem(&go_tls_calls, &k);
	long n = (long)ctx->ax;
	if (n <= 0)
		return 0;
	struct sw_conn_key ck = {.tgid = tgid, .fd = a.fd};
	struct conn_state *c = bpf_map_lookup_elem(&conns, &ck);
	tls_emit(go_event_id(tgid, g, SW_DIR_INGRESS, c), &a, (__u64)n);
	return 0;
}

/* runtime.newproc1(fn, callergp *g, ...) *g: a goroutine started by
 * callergp (RBX) works for the same request. It runs on the system stack,
 * so entry and RET meet by thread. */
SEC("uprobe")
int uprobe_go_newproc(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (tgid == self_tgid)
		return 0;
	if (!bpf_map_lookup_elem(&go_procs, &tgid)) {
		__u8 one = 1;
		bpf_map_update_elem(&go_procs, &tgid, &one, BPF_ANY);
	}
	__u64 caller = ctx->bx;
	bpf_map_update_elem(&go_newproc, &id, &caller, BPF_ANY);
	return 0;
}

SEC("uprobe")
int uprobe_go_newproc_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u64 *caller = bpf_map_lookup_elem(&go_newproc, &id);
	if (!caller)
		return 0;
	__u64 creator = *caller;
	bpf_map_delete_elem(&go_newproc, &id);
	struct sw_go_key k = go_key(tgid, ctx->ax); /* g structs are reused: reset its state */
	bpf_map_delete_elem(&go_serving, &k);
	/* Its owner: the creator if serving, else the creator's owner, else none. */
	struct sw_go_key ck = go_key(tgid, creator);
	__u64 *known = bpf_map_lookup_elem(&go_serving, &ck) ? &creator : bpf_map_lookup_elem(&go_owner, &ck);
	__u64 owner = known ? *known : 0; /* copied: the update below may evict the entry it points into */
	if (owner)
		bpf_map_update_elem(&go_owner, &k, &owner, BPF_ANY);
	else
		bpf_map_delete_elem(&go_owner, &k);
	return 0;
}

/* net/http.(*Transport).roundTrip(req): the request (RBX) is made for the
 * calling goroutine's owner. Its HTTP/1 bytes are written by the
 * connection's write loop, another goroutine. */
SEC("uprobe")
int uprobe_go_round_trip(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (tgid == self_tgid)
		return 0;
	__u64 owner = go_owner_of(tgid, ctx->r14);
	struct sw_go_key rk = go_key(tgid, ctx->bx);
	bpf_map_update_elem(&go_request_owner, &rk, &owner, BPF_ANY);
	return 0;
}

/* net/http.(*Request).write(r, ...): the write loop goroutine now writes
 * r (RAX), for the goroutine that made it, until its next request. */
SEC("uprobe")
int uprobe_go_request_write(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct sw_go_key rk = go_key(tgid, ctx->ax);
	__u64 *owner = bpf_map_lookup_elem(&go_request_owner, &rk);
	if (!owner)
		return 0;
	__u64 o = *owner;
	struct sw_go_key k = go_key(tgid, ctx->r14);
	if (o != ctx->r14)
		bpf_map_update_elem(&go_owner, &k, &o, BPF_ANY);
	return 0;
}

/* net/http.(*http2serverConn).runHandler(sc, rw, req, handler), on the
 * handler's own goroutine: the request was read by the connection's frame
 * reader and the handler was started by its serve loop, so neither names
 * the handler. This probe does: the goroutine serves the stream of rw
 * (rw.rws.stream.id) on sc's connection. */
SEC("uprobe")
int uprobe_go_h2_run_handler(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	const struct sw_go_offsets *o = go_probe_offsets(ctx, tgid);
	if (!o || !o->h2_known)
		return 0;
	__u64 iface[2] = {}; /* sc.conn: itab, data (the *tls.Conn) */
	__u64 rws = 0, stream = 0;
	__u32 stream_id = 0;
	if (bpf_probe_read_user(iface, sizeof(iface), (const void *)(ctx->ax + o->h2sc_conn)) ||
	    bpf_probe_read_user(&rws, sizeof(rws), (const void *)(ctx->bx + o->h2rw_rws)) || !rws ||
	    bpf_probe_read_user(&stream, sizeof(stream), (const void *)(rws + o->h2rws_stream)) || !stream ||
	    bpf_probe_read_user(&stream_id, sizeof(stream_id), (const void *)(stream + o->h2stream_id)))
		return 0;
	int fd = go_conn_fd(iface[1], o);
	if (fd < 0)
		return 0;
	struct sw_conn_key ck = {.tgid = tgid, .fd = fd};
	struct conn_state *c = bpf_map_lookup_elem(&conns, &ck);
	if (!c)
		return 0;
	__u64 g = ctx->r14;
	go_mark_serving(tgid, g, c->sk);
	struct sw_go_stream_event ev = {};
	conn_event_header(&ev.hdr, SW_EV_GO_STREAM, goroutine_token(g), tgid, fd, c);
	ev.stream = stream_id;
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), output_flags(sizeof(ev))))
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
	return 0;
}
