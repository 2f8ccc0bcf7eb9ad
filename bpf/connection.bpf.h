/* A connection's life: started by connect/accept or its first data,
 * announced (OPEN) once its protocol is known, ended (CLOSE).
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

/* The header every event of connection c carries: its identity (tgid, fd,
 * start stamp), the thread (or goroutine token) and the time. */
static __always_inline void conn_event_header(struct sw_event_header *h, __u8 type, __u32 tid, __u32 tgid, int fd,
					      const struct conn_state *c)
{
	h->type = type;
	h->tid = tid;
	h->ts_ns = bpf_ktime_get_ns();
	h->conn.tgid = tgid;
	h->conn.fd = fd;
	h->conn.start_ns = c->start_ns;
}

/* flags: SW_CLOSE_*; a close emitted for a socket that stays open (a shed)
 * says so. */
static __noinline void emit_close(const struct sw_conn_key *key, const struct conn_state *c, __u32 flags)
{
	if (!c->open_sent)
		return;
	struct sw_close_event ev = {};
	conn_event_header(&ev.hdr, SW_EV_CLOSE, (__u32)bpf_get_current_pid_tgid(), key->tgid, key->fd, c);
	ev.bytes_egress = c->pos[SW_DIR_EGRESS];
	ev.bytes_ingress = c->pos[SW_DIR_INGRESS];
	ev.flags = flags;
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), output_flags(sizeof(ev))))
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

/* A socket's two ends: addresses as 16 bytes (IPv4 mapped into IPv6), ports
 * in host order. Written straight into the caller's struct: a tuple on the
 * stack would cost room that the exit program's callees need. */
struct tuple_out {
	__u8 *local_addr, *remote_addr;
	__u16 *local_port, *remote_port;
};

static __always_inline __u16 read_tuple(__u64 skp, const struct tuple_out *o)
{
	struct sock *sk = (struct sock *)skp;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	*o->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	*o->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == SW_AF_INET) {
		__u32 laddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 raddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memset(o->local_addr, 0, 10);
		__builtin_memset(o->remote_addr, 0, 10);
		o->local_addr[10] = o->local_addr[11] = 0xff;
		o->remote_addr[10] = o->remote_addr[11] = 0xff;
		__builtin_memcpy(&o->local_addr[12], &laddr, 4);
		__builtin_memcpy(&o->remote_addr[12], &raddr, 4);
	} else {
		BPF_CORE_READ_INTO((__u8(*)[16])o->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO((__u8(*)[16])o->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	return family;
}

/* Built in the ring itself: it is called two frames below the exit
 * program, where an event on the stack would not fit. */
static __noinline void emit_open(__u32 tgid, int fd, struct conn_state *c)
{
	struct sw_open_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
		return; /* retried with the next data event */
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	conn_event_header(&ev->hdr, SW_EV_OPEN, (__u32)bpf_get_current_pid_tgid(), tgid, fd, c);
	struct tuple_out t = {ev->local_addr, ev->remote_addr, &ev->local_port, &ev->remote_port};
	ev->family = read_tuple(c->sk, &t);
	ev->role = c->role;
	ev->protocol = c->protocol;
	if (propagation_on && !(c->flags & SW_OPEN_UNSTAMPED) && !bpf_map_lookup_elem(&wire_socks, &c->sk)) {
		/* Established before the sock_ops program: no option either way. */
		c->flags |= SW_OPEN_UNSTAMPED;
		stat_add(SW_STAT_WIRE_UNSTAMPED_CONNS, 1);
	}
	ev->flags = c->flags;
	leader_comm(ev->comm);
	bpf_ringbuf_submit(ev, submit_flags(sizeof(*ev)));
	c->open_sent = 1;
}
