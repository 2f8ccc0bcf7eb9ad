// Kernel side of spanwire: follows TCP sockets through syscall tracepoints and
// copies the payload of HTTP connections into a ring buffer.
//
// Each traced syscall is a pair of programs: sys_enter_* remembers the
// arguments per thread (only when the fd is a TCP socket, found through the
// task's file table, so sockets opened before the sensor count too), and
// sys_exit_* turns the bytes the syscall really moved into data events.
// Userspace (userspace/intake) reassembles the events by position.
//
// TLS: uprobes on the TLS library's read/write functions copy the plaintext
// (uretprobe, once the byte count is known). The socket syscall the library
// makes inside the call names the connection; from then on the connection's
// encrypted syscall payload is only counted, and its plaintext is parsed.
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "spanwire.h"
#include "inference.h" /* protocols/: each protocol's pure-C inference */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SW_AF_INET 2
#define SW_AF_INET6 10
#define SW_SOCK_STREAM 1
#define SW_IPPROTO_TCP 6
#define SW_S_IFMT 00170000
#define SW_S_IFSOCK 0140000
#define SW_EINPROGRESS 115
/* Midstream connections of unknown protocol: data events inspected before
 * giving up on them (a keep-alive HTTP connection shows a message start soon). */
#define SW_MAX_INFER_ATTEMPTS 64

/* Set by the loader before load (rodata). */
const volatile __u32 self_tgid = 0;
const volatile __u32 payload_cap = 16384;
const volatile __u8 filter_by_pid = 0;
const volatile __u8 filter_by_comm = 0;
/* Userspace is woken only once this much waits in the ring buffer (it also
 * reads it every 100 ms on its own): one wakeup per event costs more than the
 * event at moderate rates. 0 wakes it for every event. */
const volatile __u32 wakeup_bytes = 0;

struct conn_state {
	__u64 sk;       /* struct sock * of the fd: another one means the fd was reused */
	__u64 start_ns; /* identity stamp, part of struct sw_conn_id */
	__u64 pos[2];   /* bytes moved so far, per direction */
	__u64 tls_pos[2]; /* TLS plaintext bytes so far, per direction */
	__u8 role;
	__u8 protocol;
	__u8 flags;     /* SW_OPEN_* */
	__u8 open_sent;
	__u8 tls;       /* carries TLS: syscall payload is ciphertext, plaintext comes from uprobes */
	__u8 held_len[2]; /* bytes in held[], per direction */
	__u8 pad;
	__u32 infer_attempts;
	/* A direction's first bytes while too few to decide the protocol ("GET"
	 * then " /x", one byte at a time): sent as a data event once it is known. */
	__u64 held[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sw_conn_key);
	__type(value, struct conn_state);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct sw_io_args);
} active_io SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct sw_tls_args);
} active_tls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sw_tls_key);
	__type(value, __s32);
} tls_fds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, char[SW_COMM_LEN]);
	__type(value, __u8);
} comm_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SW_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Local ports of the sensor's own TCP connections (its OTLP export): a
 * connection whose peer is one of them is the collector's side of the
 * sensor's own traffic, and tracing it would feed the sensor its own spans. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
} self_ports SEC(".maps");

/* Gathering a vectored syscall's bytes into one event. It lives in the
 * scratch slot, not on the stack: values the loop callback reads from map
 * memory are not tracked precisely by the verifier, so the callback is
 * verified once instead of once per distinct byte count. */
struct iov_gather {
	__u64 iov;     /* user address of the struct iovec array */
	__u64 left;    /* bytes the syscall moved that no iovec has been given yet */
	__u64 copied;  /* bytes gathered into the event so far */
	__u64 cap;     /* gather at most this many */
	__u32 broken;  /* an iovec could not be read: the copy ends there */
	__u32 pad;
};

/* A data event is too large for the 512-byte stack: it is built in this
 * CPU's slot (programs run with migration disabled). The slack after the
 * event lets the verifier accept a copy at any offset below the payload
 * ceiling of any length up to it, as gathering an iovec array needs. A
 * per-CPU array cannot hold it (its values are limited to 32 KiB), so this
 * is a plain array the loader sizes to the number of possible CPUs. */
struct data_scratch_slot {
	struct sw_data_event ev;
	__u8 slack[SW_MAX_PAYLOAD];
	struct iov_gather gather;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* resized by the loader: one slot per possible CPU */
	__type(key, __u32);
	__type(value, struct data_scratch_slot);
} data_scratch SEC(".maps");

static __always_inline struct data_scratch_slot *scratch_slot(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&data_scratch, &cpu);
}

static __always_inline struct sw_data_event *scratch_event(void)
{
	struct data_scratch_slot *slot = scratch_slot();
	return slot ? &slot->ev : NULL;
}

static __always_inline __u64 ringbuf_flags(void)
{
	if (wakeup_bytes == 0)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									     : BPF_RB_NO_WAKEUP;
}

static __always_inline void stat_add(__u32 idx, __u64 v)
{
	__u64 *c = bpf_map_lookup_elem(&stats, &idx);
	if (c)
		__sync_fetch_and_add(c, v);
}

/* Reads BTF-typed kernel memory directly (no helper call per field): the
 * kernel's own type for a pointer obtained as a plain number. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* The TCP socket behind fd in the current task, or 0. Runs on every traced
 * syscall of every process, so it is written for speed: typed direct loads
 * instead of one bpf_probe_read_kernel() per field (~450 ns -> see
 * docs/PERFORMANCE.md), one probe read for the fd array slot. */
static __always_inline __u64 tcp_sock_of_fd(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct files_struct *files = task->files;
	if (fd < 0 || !files)
		return 0;
	struct fdtable *fdt = files->fdt;
	if (!fdt || (unsigned int)fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	struct file *fp = NULL;
	if (bpf_probe_read_kernel(&fp, sizeof(fp), &fds[fd]) || !fp)
		return 0;
	struct file *f = bpf_rdonly_cast(fp, bpf_core_type_id_kernel(struct file));
	struct inode *inode = f->f_inode;
	if (!inode || (inode->i_mode & SW_S_IFMT) != SW_S_IFSOCK)
		return 0;
	struct socket *sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	struct sock *sk = sock->sk;
	if (!sk)
		return 0;
	__u16 family = sk->__sk_common.skc_family;
	if (family != SW_AF_INET && family != SW_AF_INET6)
		return 0;
	if (sk->sk_type != SW_SOCK_STREAM || sk->sk_protocol != SW_IPPROTO_TCP)
		return 0;
	return (__u64)sk;
}

/* The process (thread-group leader) name; threads may have renamed themselves.
 * comm must hold SW_COMM_LEN bytes (an array parameter is a pointer: no sizeof). */
static __always_inline void leader_comm(char *comm)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	bpf_core_read_str(comm, SW_COMM_LEN, &leader->comm);
}

/* Pid and process-name filters, set from userspace; all configured ones must match. */
static __always_inline bool process_selected(__u32 tgid)
{
	if (filter_by_pid && !bpf_map_lookup_elem(&pid_filter, &tgid))
		return false;
	if (filter_by_comm) {
		char comm[SW_COMM_LEN] = {};
		leader_comm(comm);
		if (!bpf_map_lookup_elem(&comm_filter, comm))
			return false;
	}
	return true;
}

static __always_inline void emit_close(const struct sw_conn_key *key, const struct conn_state *c)
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
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), ringbuf_flags()))
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
}

/* Starts tracking fd as a new connection, replacing whatever the fd was before. */
static __always_inline struct conn_state *conn_start(__u32 tgid, int fd, __u64 sk, __u8 role, __u8 flags)
{
	struct sw_conn_key key = {.tgid = tgid, .fd = fd};
	struct conn_state *old = bpf_map_lookup_elem(&conns, &key);
	if (old) {
		emit_close(&key, old);
		bpf_map_delete_elem(&conns, &key);
	}
	if (!process_selected(tgid))
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
	ev.flags = c->flags;
	leader_comm(ev.comm);
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), ringbuf_flags())) {
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
		return; /* retried with the next data event */
	}
	c->open_sent = 1;
}

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

/* Asks each protocol of protocols/protocol_list.h, in order, about the first
 * bytes of a direction (may_hold: across calls, see hold_short_start) and, for
 * midstream sockets, decides the role from which side sends requests. */
static __always_inline enum infer_outcome infer_protocol(__u32 tgid, int fd, struct conn_state *c,
							 const struct head_segments *segs, __u64 total, __u8 dir,
							 bool first, bool may_hold)
{
	struct sw_infer_input in = {};
	__u8 proto = SW_PROTO_UNKNOWN;
	bool request = false, more = false;

	struct sock *sk = (struct sock *)c->sk;
	__u16 peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (bpf_map_lookup_elem(&self_ports, &peer_port)) {
		c->protocol = SW_PROTO_OTHER;
		return SW_INFER_DECIDED;
	}
	in.n = head_words(c, dir, segs, in.w);
	in.total = total + c->held_len[dir & 1];
	in.first = first;
	in.midstream = (c->flags & SW_OPEN_MIDSTREAM) != 0;
#define SW_TRY_PROTOCOL(NAME, value, folder)                                     \
	if (proto == SW_PROTO_UNKNOWN) {                                         \
		int verdict = sw_infer_##folder(&in);                              \
		if (verdict == SW_INFER_REQUEST || verdict == SW_INFER_RESPONSE) { \
			proto = SW_PROTO_##NAME;                                   \
			request = verdict == SW_INFER_REQUEST;                     \
		} else if (verdict == SW_INFER_MORE) {                             \
			more = true;                                               \
		}                                                                  \
	}
	SW_PROTOCOL_LIST(SW_TRY_PROTOCOL)
#undef SW_TRY_PROTOCOL
	if (proto == SW_PROTO_UNKNOWN && more && may_hold && total < 8 && hold_short_start(c, dir, &in))
		return SW_INFER_WAITING;
	if (proto == SW_PROTO_UNKNOWN) {
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
	c->protocol = proto;
	stat_add(SW_STAT_CONNS_TRACED, 1);
	emit_open(tgid, fd, c);
	return SW_INFER_DECIDED;
}

/* Payload bytes copied into one data event at most: the loader's cap,
 * within the event's ceiling. */
static __always_inline __u64 copy_cap(void)
{
	__u64 cap = payload_cap;
	return cap == 0 || cap > SW_MAX_PAYLOAD ? SW_MAX_PAYLOAD : cap;
}

/* Sends a data event whose first `copied` payload bytes are in ev->data:
 * reserves its byte range of `len` in the stream (SW_DATA_TLS in ev->flags
 * selects the plaintext stream's positions); bytes past `copied` are a
 * known, counted gap. */
static __always_inline int submit_data(struct conn_state *c, struct sw_data_event *ev, __u64 len, __u64 copied,
				       __u32 no_copy)
{
	__u32 dir = ev->direction & 1;
	__u8 keep = ev->flags & (SW_DATA_TLS | SW_DATA_SEQ);

	ev->pos = __sync_fetch_and_add((keep & SW_DATA_TLS) ? &c->tls_pos[dir] : &c->pos[dir], len);
	ev->peer_pos = (keep & SW_DATA_TLS) ? c->tls_pos[dir ^ 1] : c->pos[dir ^ 1];
	ev->len = len;
	ev->flags = (no_copy ? SW_DATA_NO_COPY : 0) | keep;
	asm volatile("" : "+r"(copied));
	if (copied > SW_MAX_PAYLOAD)
		copied = SW_MAX_PAYLOAD;
	ev->copied = copied;
	if (len > copied)
		stat_add(SW_STAT_BYTES_UNCOPIED, len - copied);
	if (bpf_ringbuf_output(&events, ev, offsetof(struct sw_data_event, data) + copied, ringbuf_flags()))
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
	else
		stat_add(SW_STAT_DATA_EVENTS, 1);
	return 0;
}

/* One contiguous chunk of payload, copied up to the cap. */
static __noinline int emit_chunk(struct conn_state *c, struct sw_data_event *ev, __u64 ubuf, __u64 len, __u32 no_copy)
{
	__u64 n = no_copy ? 0 : len;
	__u64 cap = copy_cap();
	if (n > cap)
		n = cap;
	asm volatile("" : "+r"(n));
	if (n > SW_MAX_PAYLOAD)
		n = SW_MAX_PAYLOAD;
	if (n && bpf_probe_read_user(ev->data, n, (const void *)ubuf))
		n = 0;
	return submit_data(c, ev, len, n, no_copy);
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

/* User pointer and length of the first payload segment, for inference. */
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

static __always_inline int stash_io(long nr, int fd, __u64 buf, __u64 count, __u8 sys, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) == self_tgid)
		return 0;
	__u64 sk = tcp_sock_of_fd(fd);
	if (!sk)
		return 0;
	struct sw_io_args a = {
		.buf = buf, .count = count, .ts_start = bpf_ktime_get_ns(), .sk = sk, .fd = fd,
		.nr = nr, .sys = sys, .dir = dir,
	};
	/* Inside a TLS library call: this socket is the call's connection. */
	struct sw_tls_args *t = bpf_map_lookup_elem(&active_tls, &id);
	if (t) {
		struct sw_tls_key tk = {.ssl = t->ssl, .tgid = id >> 32};
		t->fd = fd;
		bpf_map_update_elem(&tls_fds, &tk, &fd, BPF_ANY);
		a.in_tls = 1;
	}
	if (bpf_map_update_elem(&active_io, &id, &a, BPF_ANY))
		stat_add(SW_STAT_STASH_FULL, 1);
	return 0;
}

static __always_inline int stash_conn_call(long nr, int fd, __u8 sys)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) == self_tgid && sys != SW_SYS_CONNECT)
		return 0;
	struct sw_io_args a = {.fd = fd, .nr = nr, .sys = sys};
	if (bpf_map_update_elem(&active_io, &id, &a, BPF_ANY))
		stat_add(SW_STAT_STASH_FULL, 1);
	return 0;
}

/* The per-CPU data event, its header filled for one call on connection c
 * (payload fields are the caller's); NULL if the scratch slot is missing. */
static __always_inline struct sw_data_event *start_data_event(__u64 id, int fd, const struct conn_state *c,
							      __u64 ts_start, __u8 dir, __u8 sys)
{
	struct sw_data_event *ev = scratch_event();
	if (!ev)
		return NULL;
	ev->hdr.type = SW_EV_DATA;
	ev->hdr.tid = (__u32)id;
	ev->hdr.ts_ns = bpf_ktime_get_ns();
	ev->hdr.conn.tgid = id >> 32;
	ev->hdr.conn.fd = fd;
	ev->hdr.conn.start_ns = c->start_ns;
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
		if (bpf_ringbuf_output(&events, ev, offsetof(struct sw_data_event, data) + k, ringbuf_flags()))
			stat_add(SW_STAT_RINGBUF_DROPS, 1);
		else
			stat_add(SW_STAT_DATA_EVENTS, 1);
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
	if (c->held_len[0] | c->held_len[1])
		emit_held(c, id, a->fd, a->ts_start, a->sys);

	struct sw_data_event *ev = start_data_event(id, a->fd, c, a->ts_start, a->dir, a->sys);
	if (!ev)
		return 0;
	/* At exit the socket's sequence counter has moved past this call's bytes:
	 * write_seq by what was queued, copied_seq by what was read. */
	struct tcp_sock *tp = bpf_rdonly_cast((void *)a->sk, bpf_core_type_id_kernel(struct tcp_sock));
	__u32 seq_end = a->dir == SW_DIR_EGRESS ? tp->write_seq : tp->copied_seq;
	ev->seq_minus_pos = seq_end - (__u32)ret - (__u32)c->pos[a->dir & 1];
	ev->flags = SW_DATA_SEQ;

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

static __always_inline int finish_syscall(long nr, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sw_io_args *stashed = bpf_map_lookup_elem(&active_io, &id);
	if (!stashed)
		return 0;
	struct sw_io_args a = *stashed;
	bpf_map_delete_elem(&active_io, &id);
	if (a.nr != (__u32)nr)
		return 0; /* a stale entry (written by userspace for a syscall that already ended) */
	if (!a.sk && a.sys != SW_SYS_CONNECT && a.sys != SW_SYS_ACCEPT) {
		/* Seeded by userspace for a syscall that was in flight at start. */
		a.sk = tcp_sock_of_fd(a.fd);
		if (!a.sk)
			return 0;
	}

	if (a.sys == SW_SYS_CONNECT) {
		if (ret == 0 || ret == -SW_EINPROGRESS) {
			__u64 sk = tcp_sock_of_fd(a.fd);
			if (!sk)
				return 0;
			if ((__u32)(id >> 32) == self_tgid) {
				__u16 port = BPF_CORE_READ((struct sock *)sk, __sk_common.skc_num);
				__u8 one = 1;
				bpf_map_update_elem(&self_ports, &port, &one, BPF_ANY);
				return 0;
			}
			conn_start(id >> 32, a.fd, sk, SW_ROLE_CLIENT, 0);
		}
		return 0;
	}
	if (a.sys == SW_SYS_ACCEPT) {
		if (ret >= 0) {
			__u64 sk = tcp_sock_of_fd(ret);
			if (sk)
				conn_start(id >> 32, ret, sk, SW_ROLE_SERVER, 0);
		}
		return 0;
	}
	if (ret <= 0)
		return 0;
	return finish_data(&a, id, ret);
}

#define ENTER(name) SEC("tracepoint/syscalls/sys_enter_" #name) int tp_enter_##name(struct trace_event_raw_sys_enter *ctx)

ENTER(read) { return stash_io(ctx->id, ctx->args[0], ctx->args[1], 0, SW_SYS_READ, SW_DIR_INGRESS); }
ENTER(write) { return stash_io(ctx->id, ctx->args[0], ctx->args[1], 0, SW_SYS_WRITE, SW_DIR_EGRESS); }
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
ENTER(sendto) { return stash_io(ctx->id, ctx->args[0], ctx->args[1], 0, SW_SYS_SENDTO, SW_DIR_EGRESS); }
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

/* --- TLS libraries (uprobes), attached per library file by userspace --- */

/* Plaintext chunks per TLS call: a large SSL_write is copied in up to this
 * many events of payload_cap bytes; the rest is a known gap. */
#define SW_TLS_MAX_CHUNKS 4

static __always_inline int tls_enter(__u64 ssl, __u64 buf, __u64 len_ptr, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) == self_tgid)
		return 0;
	struct sw_tls_args *outer = bpf_map_lookup_elem(&active_tls, &id);
	if (outer && outer->ssl == ssl) { /* a hooked function calling another (SSL_read -> SSL_read_ex) */
		outer->depth++;
		return 0;
	}
	struct sw_tls_key tk = {.ssl = ssl, .tgid = id >> 32};
	__s32 *known = bpf_map_lookup_elem(&tls_fds, &tk);
	struct sw_tls_args a = {
		.ssl = ssl, .buf = buf, .len_ptr = len_ptr, .ts_start = bpf_ktime_get_ns(),
		.fd = known ? *known : -1, .dir = dir,
	};
	if (bpf_map_update_elem(&active_tls, &id, &a, BPF_ANY))
		stat_add(SW_STAT_STASH_FULL, 1);
	return 0;
}

static __always_inline int tls_exit(long ret, bool ex)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct sw_tls_args *stashed = bpf_map_lookup_elem(&active_tls, &id);
	if (!stashed)
		return 0;
	if (stashed->depth) {
		stashed->depth--;
		return 0;
	}
	struct sw_tls_args a = *stashed;
	bpf_map_delete_elem(&active_tls, &id);

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
	__u64 sk = a.fd >= 0 ? tcp_sock_of_fd(a.fd) : 0;
	if (!sk) { /* no socket call seen for this session yet (e.g. a memory BIO) */
		stat_add(SW_STAT_TLS_NO_CONN, 1);
		return 0;
	}
	struct conn_state *c = conn_for_data(tgid, a.fd, sk);
	if (!c)
		return 0;
	mark_tls(c);
	if (c->protocol == SW_PROTO_UNKNOWN) {
		struct head_segments segs = {.ptr = {a.buf, 0}, .len = {bytes, 0}};
		infer_protocol(tgid, a.fd, c, &segs, bytes, a.dir, c->tls_pos[0] == 0 && c->tls_pos[1] == 0, false);
	}
	if (!payload_copied(c->protocol)) {
		__sync_fetch_and_add(&c->tls_pos[a.dir & 1], bytes);
		return 0;
	}
	if (!c->open_sent)
		emit_open(tgid, a.fd, c);

	struct sw_data_event *ev = start_data_event(id, a.fd, c, a.ts_start, a.dir,
						    a.dir == SW_DIR_EGRESS ? SW_SYS_SSL_WRITE : SW_SYS_SSL_READ);
	if (!ev)
		return 0;
	ev->seq_minus_pos = 0; /* plaintext positions are not TCP's */

	__u64 cap = copy_cap();
	__u64 off = 0;
	for (int i = 0; i < SW_TLS_MAX_CHUNKS; i++) {
		__u64 left = bytes - off;
		/* The last chunk declares whatever is left: copied up to the cap, the rest a gap. */
		__u64 n = (i == SW_TLS_MAX_CHUNKS - 1 || left < cap) ? left : cap;
		ev->flags = SW_DATA_TLS;
		emit_chunk(c, ev, a.buf + off, n, 0);
		off += n;
		if (off >= bytes)
			break;
	}
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

/* A new program image: userspace looks for TLS libraries it brings. */
SEC("tracepoint/sched/sched_process_exec")
int tp_sched_process_exec(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (tgid == self_tgid || !process_selected(tgid))
		return 0;
	struct sw_exec_event ev = {};
	ev.hdr.type = SW_EV_EXEC;
	ev.hdr.tid = (__u32)id;
	ev.hdr.ts_ns = bpf_ktime_get_ns();
	ev.hdr.conn.tgid = tgid;
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), ringbuf_flags()))
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int tp_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)(id >> 32) == self_tgid) {
		__u64 sk = tcp_sock_of_fd((int)ctx->args[0]);
		if (sk) {
			__u16 port = BPF_CORE_READ((struct sock *)sk, __sk_common.skc_num);
			bpf_map_delete_elem(&self_ports, &port);
		}
		return 0;
	}
	struct sw_conn_key key = {.tgid = id >> 32, .fd = (int)ctx->args[0]};
	struct conn_state *c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return 0;
	emit_close(&key, c);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/* Threads that die inside a syscall leave no stash behind; a whole process
 * exiting tells userspace to drop its connections (their fds close without
 * close(2)). */
SEC("tracepoint/sched/sched_process_exit")
int tp_sched_process_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	bpf_map_delete_elem(&active_io, &id);
	bpf_map_delete_elem(&active_tls, &id);
	if ((__u32)id != (__u32)(id >> 32))
		return 0;
	struct sw_proc_exit_event ev = {};
	ev.hdr.type = SW_EV_PROC_EXIT;
	ev.hdr.tid = (__u32)id;
	ev.hdr.ts_ns = bpf_ktime_get_ns();
	ev.hdr.conn.tgid = id >> 32;
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), ringbuf_flags()))
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
	return 0;
}
