/* The trace-context TCP option (layout: wire_context.h), written and read by
 * a sock_ops program on the root cgroup v2. A socket established while it is
 * attached gets its TCP header callbacks: a client's data segments carry the
 * context its current request was given (propagation.bpf.h), a server reads
 * it from the segments it receives. Sockets established before the program
 * never get the callbacks (counted when traced: SW_OPEN_UNSTAMPED).
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

#define SW_TCP_CLOSE 7
#define SW_TCPHDR_SYN 0x02

/* The socket of a sock_ops call, as the syscall programs key it. */
static __always_inline __u64 sock_key(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	return (__u64)sk;
}

/* Sequence number and header length of the TCP header at skb_data, or false. */
static __always_inline bool tcp_header(struct bpf_sock_ops *skops, __u32 *seq, __u32 *hdr_len)
{
	__u8 *data = (__u8 *)(long)skops->skb_data;
	__u8 *end = (__u8 *)(long)skops->skb_data_end;
	if (data + 20 > end)
		return false;
	__u32 raw;
	__builtin_memcpy(&raw, data + 4, 4);
	*seq = bpf_ntohl(raw);
	*hdr_len = (data[12] >> 4) * 4;
	return true;
}

/* The --net-ns selection for a sock_ops call (its socket pointer allows no
 * arithmetic: it is read through a typed read-only view). */
static __always_inline bool sock_ops_selected(struct bpf_sock_ops *skops)
{
	if (!filter_by_netns)
		return true;
	struct bpf_sock *bsk = skops->sk;
	if (!bsk)
		return false;
	struct sock *sk = bpf_rdonly_cast(bsk, bpf_core_type_id_kernel(struct sock));
	__u32 inum = sk->__sk_common.skc_net.net->ns.inum;
	return bpf_map_lookup_elem(&netns_filter, &inum) != NULL;
}

static __always_inline void track_socket(struct bpf_sock_ops *skops, __u32 callbacks)
{
	__u64 sk = sock_key(skops);
	if (!sk || !sock_ops_selected(skops))
		return;
	struct wire_sock fresh = {};
	if (bpf_map_update_elem(&wire_socks, &sk, &fresh, BPF_ANY))
		return;
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | callbacks | BPF_SOCK_OPS_STATE_CB_FLAG);
}

/* Room for the option on a client's data segments once a request was given a
 * context; also when the kernel sizes segments (CURRENT_MSS), so a full
 * segment plus the option still fits the path's MTU. */
static __always_inline void reserve_option(struct bpf_sock_ops *skops)
{
	bool sizing = skops->args[0] == BPF_WRITE_HDR_TCP_CURRENT_MSS;
	if (!sizing && (skops->skb_len == 0 || (skops->skb_tcp_flags & SW_TCPHDR_SYN)))
		return; /* a pure ACK: no lookup at all */
	__u64 sk = sock_key(skops);
	struct wire_sock *w = bpf_map_lookup_elem(&wire_socks, &sk);
	if (!w || !w->tx_set)
		return;
	if (bpf_reserve_hdr_opt(skops, SW_WIRE_OPT_LEN, 0) && !sizing)
		stat_add(SW_STAT_WIRE_NO_ROOM, 1);
}

static __always_inline void write_option(struct bpf_sock_ops *skops)
{
	__u64 sk = sock_key(skops);
	struct wire_sock *w = bpf_map_lookup_elem(&wire_socks, &sk);
	__u32 seq, hdr_len;
	if (!w || !w->tx_set || !tcp_header(skops, &seq, &hdr_len) || skops->skb_len <= hdr_len)
		return;
	if ((__s32)(seq - w->tx_seq) < 0)
		return; /* bytes of an earlier request (a retransmission): they had their own context */
	__u8 opt[SW_WIRE_OPT_LEN];
	sw_wire_encode(&w->tx, w->tx_flag, opt);
	stat_add(bpf_store_hdr_opt(skops, opt, sizeof(opt), 0) ? SW_STAT_WIRE_NO_ROOM : SW_STAT_WIRE_STAMPED, 1);
}

static __always_inline bool same_ids(const struct sw_trace_ctx *a, const struct sw_trace_ctx *b)
{
	__u8 diff = 0;
	for (int i = 0; i < 16; i++)
		diff |= a->trace_id[i] ^ b->trace_id[i];
	for (int i = 0; i < 8; i++)
		diff |= a->span_id[i] ^ b->span_id[i];
	return diff == 0;
}

static __always_inline long load_option_with(struct bpf_sock_ops *skops, __u8 opt[SW_WIRE_OPT_LEN], __u16 exid)
{
	opt[0] = SW_TCPOPT_EXPERIMENTAL;
	opt[1] = 4; /* search by kind and a 2-byte ExID */
	opt[2] = exid >> 8;
	opt[3] = exid & 0xff;
	return bpf_load_hdr_opt(skops, opt, SW_WIRE_OPT_LEN, 0);
}

/* The spanwire option of a received segment, whichever ExID (sampled flag)
 * it has: the helper searches by kind and ExID, so each is tried, the most
 * common first. Its length, or a negative error. */
static __always_inline long load_option(struct bpf_sock_ops *skops, __u8 opt[SW_WIRE_OPT_LEN])
{
	long n = load_option_with(skops, opt, SW_WIRE_EXID_SAMPLED);
	if (n < 0)
		n = load_option_with(skops, opt, SW_WIRE_EXID_NOT_SAMPLED);
	if (n < 0)
		n = load_option_with(skops, opt, SW_WIRE_EXID_FLAG_UNKNOWN);
	return n;
}

/* A received segment's option: kept with the byte range it covers, so the
 * read that begins a request finds the context of exactly that request. */
static __always_inline void read_option(struct bpf_sock_ops *skops)
{
	__u8 opt[SW_WIRE_OPT_LEN] = {};
	long n = load_option(skops, opt);
	struct sw_trace_ctx ctx;
	__u8 flag = SW_WIRE_FLAG_UNKNOWN;
	__u32 seq, hdr_len;
	if (n < SW_WIRE_OPT_LEN || sw_wire_decode(opt, n, &ctx, &flag) || !tcp_header(skops, &seq, &hdr_len) ||
	    skops->skb_len <= hdr_len)
		return;
	__u64 sk = sock_key(skops);
	struct wire_sock *w = bpf_map_lookup_elem(&wire_socks, &sk);
	if (!w)
		return;
	stat_add(SW_STAT_WIRE_RECEIVED, 1);
	__u32 end = seq + (skops->skb_len - hdr_len);
	struct wire_rx *last = &w->rx[(w->rx_next - 1) & (SW_WIRE_RX_SLOTS - 1)];
	if (same_ids(&last->ctx, &ctx) && (__s32)(end - last->end) > 0) {
		last->end = end; /* the same request, further on */
		return;
	}
	__u8 next = w->rx_next & (SW_WIRE_RX_SLOTS - 1);
	struct wire_rx *slot = &w->rx[next];
	slot->seq = seq;
	slot->end = end;
	slot->ctx = ctx;
	w->rx_flag[next] = flag;
	w->rx_next++;
}

SEC("sockops")
int sw_sock_ops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		track_socket(skops, BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		track_socket(skops, BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		reserve_option(skops);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		write_option(skops);
		break;
	case BPF_SOCK_OPS_PARSE_HDR_OPT_CB:
		read_option(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == SW_TCP_CLOSE) {
			__u64 sk = sock_key(skops);
			bpf_map_delete_elem(&wire_socks, &sk);
		}
		break;
	}
	return 1;
}
