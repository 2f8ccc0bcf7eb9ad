/* Constants, load-time settings, per-connection state, maps, the per-CPU
 * scratch event and the kernel-side counters.
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

#define SW_AF_INET 2
#define SW_AF_INET6 10
#define SW_SOCK_STREAM 1
#define SW_IPPROTO_TCP 6
#define SW_S_IFMT 00170000
#define SW_S_IFSOCK 0140000
#define SW_EINPROGRESS 115
/* A power of two above the payload ceiling: masks offsets into the payload. */
#define SW_MAX_PAYLOAD_POW2 32768
_Static_assert(SW_MAX_PAYLOAD < SW_MAX_PAYLOAD_POW2, "the payload mask must cover the payload");
/* Midstream connections of unknown protocol: data events inspected before
 * giving up on them (a keep-alive HTTP connection shows a message start soon). */
#define SW_MAX_INFER_ATTEMPTS 64

/* Set by the loader before load (rodata). */
const volatile __u32 self_tgid = 0;
const volatile __u32 payload_cap = 16384;
const volatile __u8 filter_by_pid = 0;
const volatile __u8 filter_by_comm = 0;
/* Userspace is woken when this many bytes wait in the ring buffer, and again
 * at each further multiple (ringbuf_wakeup.h); it also reads the ring every
 * 100 ms on its own. One wakeup per event costs more than the event at
 * moderate rates. 0: the kernel's rule, a wakeup whenever userspace had
 * caught up. */
const volatile __u32 wakeup_bytes = 0;
/* Trace context is decided in the kernel and carried in a TCP option
 * (propagation.bpf.h, sock_ops.bpf.h). */
const volatile __u8 propagation_on = 0;
/* Only sockets of the network namespaces in netns_filter are traced. */
const volatile __u8 filter_by_netns = 0;
/* Set by userspace once it hooks a Go executable: until then no socket call
 * pays for asking whether its process is Go (goroutines.bpf.h). */
volatile __u8 go_hooked = 0;

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
	__u8 shed;      /* enum shed_state (shed.bpf.h) */
	__u32 infer_attempts;
	__u8 body_skip_off; /* a HEAD or CONNECT request or a 101 answer was seen: no length is trusted (body_skip.bpf.h) */
	/* A direction's first bytes while too few to decide the protocol ("GET"
	 * then " /x", one byte at a time): sent as a data event once it is known. */
	__u64 held[2];
	/* Bytes of the HTTP/1 message in flight that are body of announced
	 * length and still to come, per direction: counted, not copied. */
	__u64 body_left[2];
	/* Body bytes counted in pos with no event yet, per direction: the last
	 * ones moved; the event that ends the body covers them. */
	__u32 silent[2];
	__u64 silent_since[2]; /* when the first of them moved */
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

/* A traced syscall's arguments between its entry and exit, and the TLS
 * library call the thread is in (sw_thread_slot), in the thread's own
 * storage: no hashing or bucket lock on every socket call or TLS call (a
 * bucket lock's interrupt-enable traps on a paravirtualised guest), and a
 * thread that never made one answers "nothing stashed" from a NULL pointer.
 * Freed with the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sw_thread_slot);
} active_io SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32); /* network namespace inode number */
	__type(value, __u8);
} netns_filter SEC(".maps");

/* Go programs (go_hooks.bpf.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64); /* uprobe cookie: one per attached Go file */
	__type(value, struct sw_go_offsets);
} go_offsets SEC(".maps");

/* Processes seen starting a goroutine: Go programs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} go_procs SEC(".maps");

/* crypto/tls Read/Write calls in flight, per goroutine (a goroutine that
 * dies inside one leaves its entry: LRU). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sw_go_key);
	__type(value, struct sw_tls_args);
} go_tls_calls SEC(".maps");

/* Goroutines that read a server request: their calls serve it. The value
 * is the connection's struct sock *. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sw_go_key);
	__type(value, __u64);
} go_serving SEC(".maps");

/* Goroutines working for another one's request (started by it, or writing
 * a request it made): key -> the serving goroutine. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sw_go_key);
	__type(value, __u64);
} go_owner SEC(".maps");

/* net/http client requests (*Request) -> the goroutine that made them. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sw_go_key); /* g: the *Request */
	__type(value, __u64);
} go_request_owner SEC(".maps");

/* runtime.newproc1 in flight, per thread (it runs on the system stack): the creating goroutine. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64); /* pid_tgid */
	__type(value, __u64);
} go_newproc SEC(".maps");

/* Trace context maps (propagation.bpf.h, sock_ops.bpf.h). */
#define SW_WIRE_RX_SLOTS 4

/* Context read from the options of received segments [seq, end). */
struct wire_rx {
	__u32 seq;
	__u32 end;
	struct sw_trace_ctx ctx;
};

/* A socket whose TCP callbacks are enabled: it was established while the
 * sock_ops program was attached. Clients stamp `tx` on data segments from
 * tx_seq on; servers keep the last contexts they received. */
struct wire_sock {
	struct sw_trace_ctx tx;
	__u32 tx_seq;
	__u8 tx_set;
	__u8 tx_flag; /* enum sw_wire_flag of tx */
	__u8 rx_next;
	__u8 pad;
	/* enum sw_wire_flag of each rx slot (beside it: keeps wire_rx, and the
	 * sock_ops program's stack, small) */
	__u8 rx_flag[SW_WIRE_RX_SLOTS];
	struct wire_rx rx[SW_WIRE_RX_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* struct sock * */
	__type(value, struct wire_sock);
} wire_socks SEC(".maps");

/* The request a thread is serving: its server span's ids, for the calls it makes. */
struct serving {
	struct sw_trace_ctx ctx; /* trace id and the server span's id */
	__u64 sk;                /* the connection the request came on */
	__u8 active;             /* no answer written on that connection since */
	__u8 ambiguous;          /* another request was in flight on the thread when this one came */
	__u8 trace_flags;
	__u8 ctx_flags;          /* SW_CTX_FLAGS_CERTAIN of the server span's context */
	__u8 pad[4];
};

/* A thread's request, in its own storage: found with no hashing on every
 * request's read, answer and outgoing call, and freed with the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct serving);
} thread_serving SEC(".maps");

/* A goroutine's request (Go processes, causal_id): goroutines move between
 * threads. LRU: a goroutine leaves no exit event to delete it by. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* tgid << 32 | goroutine token */
	__type(value, struct serving);
} serving SEC(".maps");

/* One request as both ends on this host see it: the kernel's own same-host
 * path, for sockets without the option (established before the sensor). */
struct exchange_at {
	__u8 client_addr[16];
	__u8 server_addr[16];
	__u16 client_port;
	__u16 server_port;
	__u32 seq;
};

struct local_request {
	struct sw_trace_ctx ctx; /* trace id and the client span's id */
	__u8 trace_flags;
	__u8 ctx_flags; /* SW_CTX_FLAGS_CERTAIN of the client span's context */
	__u8 pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct exchange_at);
	__type(value, struct local_request);
} local_requests SEC(".maps");

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
/* Looking for a traceparent header in a request head held in the slot's
 * payload (propagation.bpf.h). */
struct head_scan {
	__u32 len;   /* bytes of the head in the payload */
	__u32 value; /* offset of the header's value, once found */
	__u32 found;
	__u32 pad;
};

/* Looking for the framing of an HTTP/1 head in the slot's payload
 * (body_skip.bpf.h). */
struct framing_scan {
	struct sw_framing_scan s;
	__u32 base; /* offset of the head in the payload */
	__u32 pad;
};

/* What a data call's first event carries behind its payload (emit.bpf.h):
 * a client's context decided at the call's entry, or, for a server's read,
 * the facts to decide one once the bytes are in the slot. */
enum pending_kind {
	SW_PENDING_NONE = 0,
	SW_PENDING_DECIDED = 1, /* ctx is set: attach it */
	SW_PENDING_SERVER = 2,  /* decide a server's context if the bytes begin a request */
};

struct pending_context {
	__u8 kind;   /* enum pending_kind */
	__u8 pad[3];
	__u32 seq;   /* server: TCP sequence number of the call's first byte */
	__u64 id;    /* server: the thread (or goroutine) that reads the request */
	__u64 sk;    /* server: the socket */
	struct sw_request_context ctx; /* ctx.pos: the call's first byte; only an event there carries it */
};

struct data_scratch_slot {
	struct sw_data_event ev;
	__u8 slack[SW_MAX_PAYLOAD];
	struct pending_context pending;
	struct iov_gather gather;
	struct head_scan scan;
	struct framing_scan framing;
	struct sw_infer_input infer; /* a call's first bytes, for protocol inference */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* resized by the loader: one slot per possible CPU */
	__type(key, __u32);
	__type(value, struct data_scratch_slot);
} data_scratch SEC(".maps");

/* The calling thread's slot, made on first use when `make`; NULL if it has
 * none. A thread without any task storage has no slot: one load answers
 * that, without the helper call, on every read and write of every process
 * that never touched a socket. */
static __always_inline struct sw_thread_slot *thread_slot(bool make)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!make && !task->bpf_storage)
		return NULL;
	return bpf_task_storage_get(&active_io, task, 0, make ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

static __always_inline struct data_scratch_slot *scratch_slot(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&data_scratch, &cpu);
}

/* The slot a data event is built in: every one starts this CPU's slot. */
static __always_inline struct data_scratch_slot *slot_of(struct sw_data_event *ev)
{
	return (struct data_scratch_slot *)ev;
}

static __always_inline struct sw_data_event *scratch_event(void)
{
	struct data_scratch_slot *slot = scratch_slot();
	return slot ? &slot->ev : NULL;
}

/* The ring-buffer flags that commit a record of `size` bytes after `waiting`
 * bytes (the rule: ringbuf_wakeup.h). */
static __always_inline __u64 wakeup_flags(__u64 waiting, __u64 size)
{
	return sw_wakeup_due(waiting, size, wakeup_bytes) ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* For bpf_ringbuf_output of `size` bytes: the record is not in the ring yet.
 * wakeup_bytes 0 gives no flags: the kernel's own rule, which wakes a reader
 * that had caught up, without the query. */
static __always_inline __u64 output_flags(__u64 size)
{
	if (wakeup_bytes == 0)
		return 0;
	return wakeup_flags(bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA), size);
}

/* For bpf_ringbuf_submit of a reserved record of `size` bytes: it is counted
 * in the ring already, and userspace cannot read past it until it is submitted. */
static __always_inline __u64 submit_flags(__u64 size)
{
	if (wakeup_bytes == 0)
		return 0;
	__u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 record = sw_ringbuf_record_bytes(size);
	return wakeup_flags(waiting > record ? waiting - record : 0, size);
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
