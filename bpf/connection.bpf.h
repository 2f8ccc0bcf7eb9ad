/* A connection's life: started by connect/accept or its first data,
 * announced (OPEN) once its protocol is known, ended (CLOSE).
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

/* flags: SW_CLOSE_*; a close emitted for a socket that stays open (a shed)
 * says so. */
static __always_inline void emit_close(const struct sw_conn_key *key, const struct conn_state *c, __u32 flags)
{
	if (!c->open_sent)
		return;
	struct sw_close_event ev = {};
	ev.hdr.type = SW_EV_CLOSE;
	ev.hdr.tid = (__u32)bpf_get_current_pid_tgid();
	ev.hdr.ts_ns = bpf_ktime_get_ns();
	ev.hdr.conn.tgid = key->tgid;
	ev.hdr.conn.fd = key->fd;
	ev.hdr.conn.start_ns = c->start_ns;
	ev.bytes_egress = c->pos[SW_DIR_EGRESS];
	ev.bytes_ingress = c->pos[SW_DIR_INGRESS];
	ev.flags = flags;
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), ringbuf_flags()))
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
}

/* Starts tracking fd as a new connection, replacing whatever the fd was before. */
static __always_inline struct conn_state *conn_start(__u32 tgid, int fd, __u64 sk, __u8 role, __u8 flags)
{
	struct sw_conn_key key = {.tgid = tgid, .fd = fd};
	struct conn_state *old = bpf_map_lookup_elem(&conns, &key);
	if (old) {
		emit_close(&key, old, 0);
		bpf_map_delete_elem(&conns, &key);
	}
	if (!process_selected(tgid) || !socket_selected(sk))
		return NULL;
	struct conn_state init = {
		.sk = sk, .start_ns = bpf_ktime_get_ns(), .role = role, .flags = flags,
	};
	if (bpf_map_update_elem(&conns, &key, &init, BPF_ANY)) {
		stat_add(SW_STAT_CONN_MAP_FULL, 1);
		return NULL;
	}
	return bpf_map_lookup_elem(&conns, &key);
}

/* The connection state of fd for a data syscall; a socket first seen here
 * predates the sensor (or its connect/accept was missed): midstream. */
static __always_inline struct conn_state *conn_for_data(__u32 tgid, int fd, __u64 sk)
{
	struct sw_conn_key key = {.tgid = tgid, .fd = fd};
	struct conn_state *c = bpf_map_lookup_elem(&conns, &key);
	if (c && c->sk == sk)
		return c;
	return conn_start(tgid, fd, sk, SW_ROLE_UNKNOWN, SW_OPEN_MIDSTREAM);
}

static __always_inline void read_tuple(struct sw_open_event *ev, __u64 skp)
{
	struct sock *sk = (struct sock *)skp;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	ev->family = family;
	ev->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	ev->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == SW_AF_INET) {
		__u32 laddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 raddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		ev->local_addr[10] = ev->local_addr[11] = 0xff;
		ev->remote_addr[10] = ev->remote_addr[11] = 0xff;
		__builtin_memcpy(&ev->local_addr[12], &laddr, 4);
		__builtin_memcpy(&ev->remote_addr[12], &raddr, 4);
	} else {
		BPF_CORE_READ_INTO(&ev->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&ev->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

static __always_inline void emit_open(__u32 tgid, int fd, struct conn_state *c)
{
	struct sw_open_event ev = {};
	ev.hdr.type = SW_EV_OPEN;
	ev.hdr.tid = (__u32)bpf_get_current_pid_tgid();
	ev.hdr.ts_ns = bpf_ktime_get_ns();
	ev.hdr.conn.tgid = tgid;
	ev.hdr.conn.fd = fd;
	ev.hdr.conn.start_ns = c->start_ns;
	read_tuple(&ev, c->sk);
	ev.role = c->role;
	ev.protocol = c->protocol;
	if (propagation_on && !(c->flags & SW_OPEN_UNSTAMPED) && !bpf_map_lookup_elem(&wire_socks, &c->sk)) {
		/* Established before the sock_ops program: no option either way. */
		c->flags |= SW_OPEN_UNSTAMPED;
		stat_add(SW_STAT_WIRE_UNSTAMPED_CONNS, 1);
	}
	ev.flags = c->flags;
	leader_comm(ev.comm);
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), ringbuf_flags())) {
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
		return; /* retried with the next data event */
	}
	c->open_sent = 1;
}
