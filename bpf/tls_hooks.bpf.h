/* TLS libraries: uprobes attached per library file by userspace.
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

/* Plaintext chunks per TLS call: a large SSL_write is copied in up to this
 * many events of payload_cap bytes; the rest is a known gap. */
#define SW_TLS_MAX_CHUNKS 4

/* Copies `bytes` of plaintext at a->buf, moved by one TLS call on a->fd, as
 * data events. `id` is (tgid << 32 | the event's thread): a goroutine token for Go. */
static __always_inline void tls_emit(__u64 id, const struct sw_tls_args *a, __u64 bytes)
{
	__u32 tgid = id >> 32;
	__u64 sk = a->fd >= 0 ? tcp_sock_of_fd(a->fd) : 0;
	if (!sk) { /* no socket call seen for this session yet (e.g. a memory BIO) */
		stat_add(SW_STAT_TLS_NO_CONN, 1);
		return;
	}
	struct conn_state *c = conn_for_data(tgid, a->fd, sk);
	if (!c)
		return;
	mark_tls(c);
	if (shed_skips(tgid, a->fd, c, bytes)) {
		__sync_fetch_and_add(&c->tls_pos[a->dir & 1], bytes);
		body_forget(c);
		return;
	}
	if (c->protocol == SW_PROTO_UNKNOWN) {
		struct head_segments segs = {.ptr = {a->buf, 0}, .len = {bytes, 0}};
		infer_protocol(tgid, a->fd, c, &segs, bytes, a->dir, c->tls_pos[0] == 0 && c->tls_pos[1] == 0, false);
	}
	if (!payload_copied(c->protocol)) {
		__sync_fetch_and_add(&c->tls_pos[a->dir & 1], bytes);
		return;
	}
	if (!c->open_sent)
		emit_open(tgid, a->fd, c);

	struct sw_data_event *ev = start_data_event(id, a->fd, c, a->ts_start, a->dir,
						    a->dir == SW_DIR_EGRESS ? SW_SYS_SSL_WRITE : SW_SYS_SSL_READ);
	if (!ev)
		return;
	ev->seq_minus_pos = 0; /* plaintext positions are not TCP's */
	if (c->body_left[a->dir & 1] && body_verdict(c, a->dir, bytes, a->buf, false, 0) != SW_BODY_COPY) {
		ev->flags = SW_DATA_TLS | SW_DATA_BODY_COUNTED;
		emit_chunk(c, ev, 0, bytes, 1);
		return;
	}

	__u64 cap = copy_cap();
	/* A head is looked for in a call copied as one event only. */
	if (bytes <= cap && body_skip_applies(c)) {
		ev->flags = SW_DATA_TLS;
		emit_head_chunk(c, ev, a->buf, bytes);
		return;
	}
	c->body_left[a->dir & 1] = 0;
	__u64 off = 0;
	for (int i = 0; i < SW_TLS_MAX_CHUNKS; i++) {
		__u64 left = bytes - off;
		/* The last chunk declares whatever is left: copied up to the cap, the rest a gap. */
		__u64 n = (i == SW_TLS_MAX_CHUNKS - 1 || left < cap) ? left : cap;
		ev->flags = SW_DATA_TLS;
		emit_chunk(c, ev, a->buf + off, n, 0);
		off += n;
		if (off >= bytes)
			break;
	}
}

static __always_inline int tls_enter(__u64 ssl, __u64 buf, __u64 len_ptr, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) == self_tgid)
		return 0;
	struct sw_thread_slot *thread = thread_slot(true);
	if (!thread) {
		stat_add(SW_STAT_STASH_FULL, 1);
		return 0;
	}
	struct sw_tls_args *slot = &thread->tls;
	if (slot->live && slot->ssl == ssl) { /* a hooked function calling another (SSL_read -> SSL_read_ex) */
		slot->depth++;
		return 0;
	}
	struct sw_tls_key tk = {.ssl = ssl, .tgid = id >> 32};
	__s32 *known = bpf_map_lookup_elem(&tls_fds, &tk);
	struct sw_tls_args a = {
		.ssl = ssl, .buf = buf, .len_ptr = len_ptr, .ts_start = bpf_ktime_get_ns(),
		.fd = known ? *known : -1, .dir = dir, .live = 1,
	};
	*slot = a;
	return 0;
}

static __always_inline int tls_exit(long ret, bool ex)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct sw_thread_slot *thread = thread_slot(false);
	if (!thread || !thread->tls.live)
		return 0;
	struct sw_tls_args *stashed = &thread->tls;
	if (stashed->depth) {
		stashed->depth--;
		return 0;
	}
	struct sw_tls_args a = *stashed;
	stashed->live = 0;

	__u64 bytes = 0;
	if (ex) { /* 1 on success, the count in *len_ptr */
		if (ret != 1 || !a.len_ptr || bpf_probe_read_user(&bytes, sizeof(bytes), (const void *)a.len_ptr))
			return 0;
	} else if (ret > 0) {
		bytes = ret;
	}
	if (bytes == 0)
		return 0;
	if (a.fd < 0) {
		struct sw_tls_key tk = {.ssl = a.ssl, .tgid = tgid};
		__s32 *known = bpf_map_lookup_elem(&tls_fds, &tk);
		if (known)
			a.fd = *known;
	}
	tls_emit(id, &a, bytes);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_write, void *ssl, const void *buf, int num)
{
	return tls_enter((__u64)ssl, (__u64)buf, 0, SW_DIR_EGRESS);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_ssl_write, int ret)
{
	return tls_exit(ret, false);
}

SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_read, void *ssl, void *buf, int num)
{
	return tls_enter((__u64)ssl, (__u64)buf, 0, SW_DIR_INGRESS);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_ssl_read, int ret)
{
	return tls_exit(ret, false);
}

SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_write_ex, void *ssl, const void *buf, __u64 num, __u64 *written)
{
	return tls_enter((__u64)ssl, (__u64)buf, (__u64)written, SW_DIR_EGRESS);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_ssl_write_ex, int ret)
{
	return tls_exit(ret, true);
}

SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_read_ex, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{
	return tls_enter((__u64)ssl, (__u64)buf, (__u64)readbytes, SW_DIR_INGRESS);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_ssl_read_ex, int ret)
{
	return tls_exit(ret, true);
}

/* SSL_set_fd names a session's socket before its first byte: the handshake's
 * ciphertext is then never inspected. */
SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_set_fd, void *ssl, int fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) == self_tgid)
		return 0;
	struct sw_tls_key tk = {.ssl = (__u64)ssl, .tgid = id >> 32};
	__s32 v = fd;
	bpf_map_update_elem(&tls_fds, &tk, &v, BPF_ANY);
	__u64 sk = tcp_sock_of_fd(fd);
	if (!sk)
		return 0;
	struct conn_state *c = conn_for_data(id >> 32, fd, sk);
	if (c)
		mark_tls(c);
	return 0;
}
