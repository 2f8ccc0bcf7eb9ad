/* Event and map layouts shared by the kernel programs (spanwire.bpf.c) and the
 * userspace daemon. One definition, included from both sides: only fixed-width
 * types, no kernel or libc headers, so it compiles under vmlinux.h and under
 * <linux/types.h>. */
#ifndef SPANWIRE_BPF_SPANWIRE_H
#define SPANWIRE_BPF_SPANWIRE_H

/* Hard ceiling of payload bytes copied per data event; the runtime cap
 * (payload_cap in the BPF object's rodata) is at most this: an event with
 * its 72-byte header fits in 32 KiB. */
#define SW_DATA_HEADER_SIZE 72
#define SW_MAX_PAYLOAD (32768 - SW_DATA_HEADER_SIZE)
/* Vectored I/O: iovecs walked per syscall (the kernel's own UIO_MAXIOV, so
 * every iovec a syscall can move is walked) and messages walked per *mmsg
 * call. gRPC writes a request as one iovec per header name and value, and
 * many concurrent calls as hundreds in one sendmsg. */
#define SW_MAX_IOV 1024
#define SW_MAX_MMSG 4
#define SW_COMM_LEN 16

enum sw_event_type {
	SW_EV_OPEN = 1,      /* a traced connection is seen for the first time */
	SW_EV_DATA = 2,      /* bytes moved on a traced connection */
	SW_EV_CLOSE = 3,     /* the fd of a traced connection was closed */
	SW_EV_PROC_EXIT = 4, /* a process (thread group) exited */
	SW_EV_EXEC = 5,      /* a process called execve: it may bring new TLS libraries */
	SW_EV_CONTEXT = 6,   /* a request's trace context no data event carried (sw_context_event) */
	SW_EV_GO_STREAM = 7, /* a Go HTTP/2 server runs a stream's handler on a goroutine (sw_go_stream_event) */
};

enum sw_direction {
	SW_DIR_EGRESS = 0,  /* written by the traced process */
	SW_DIR_INGRESS = 1, /* read by the traced process */
};

enum sw_role {
	SW_ROLE_UNKNOWN = 0,
	SW_ROLE_CLIENT = 1, /* the process connected */
	SW_ROLE_SERVER = 2, /* the process accepted */
};

/* SW_PROTO_<NAME> for each line of protocols/protocol_list.h. */
#include "protocol_list.h"
#define SW_PROTO_ENUM_ENTRY(NAME, value, folder) SW_PROTO_##NAME = value,
enum sw_protocol {
	SW_PROTO_UNKNOWN = 0,
	SW_PROTOCOL_LIST(SW_PROTO_ENUM_ENTRY)
	SW_PROTO_OTHER = 255, /* tracked, but no payload is copied */
};
#undef SW_PROTO_ENUM_ENTRY

/* Which syscall produced a data event (diagnostics only). */
enum sw_syscall {
	SW_SYS_READ = 1, SW_SYS_WRITE, SW_SYS_READV, SW_SYS_WRITEV,
	SW_SYS_RECVFROM, SW_SYS_SENDTO, SW_SYS_RECVMSG, SW_SYS_SENDMSG,
	SW_SYS_RECVMMSG, SW_SYS_SENDMMSG, SW_SYS_SENDFILE,
	SW_SYS_SSL_READ, SW_SYS_SSL_WRITE, /* plaintext from a TLS library (uprobes) */
};
/* Not data syscalls: a connect or accept in flight (sw_io_args.sys), whose
 * exit starts tracking the connection. */
#define SW_SYS_CONNECT 100
#define SW_SYS_ACCEPT 101

/* Flags of sw_open_event.flags */
#define SW_OPEN_MIDSTREAM 0x1 /* the socket predates the sensor: bytes before it were never seen */
#define SW_OPEN_TLS 0x2       /* the payload is TLS plaintext, taken from the TLS library */
#define SW_OPEN_UNSTAMPED 0x4 /* propagation is on, but the socket predates it: no TCP option either way */
#define SW_OPEN_RESUMED 0x8   /* with MIDSTREAM: traced again after a shed (bpf/shed.bpf.h), from a request's first byte */

/* Flags of sw_data_event.flags */
#define SW_DATA_NO_COPY 0x1 /* payload deliberately not copied (sendfile, a body of announced length): a known gap */
#define SW_DATA_TLS 0x2     /* TLS plaintext: pos counts the plaintext stream */
#define SW_DATA_SEQ 0x4     /* seq_minus_pos is valid */
#define SW_DATA_BODY_COUNTED 0x8 /* bytes past `copied` are body of announced length, deliberately not copied */
/* The call began a request whose trace context the kernel decided: a struct
 * sw_request_context follows the payload, at the next multiple of 8 bytes
 * (SW_CONTEXT_TRAILER_OFFSET): one ring record per request, not two. */
#define SW_DATA_CONTEXT 0x10

/* Kernel-side counters, one slot each in the per-CPU "stats" array. */
enum sw_stat {
	SW_STAT_RINGBUF_DROPS = 0,  /* events that did not fit in the ring buffer */
	SW_STAT_BYTES_UNCOPIED,     /* bytes beyond the per-event cap, or not copied (sendfile, unreadable) */
	SW_STAT_CONNS_TRACED,       /* connections recognised as HTTP and traced */
	SW_STAT_CONNS_OTHER,        /* TCP connections of another protocol: no payload */
	SW_STAT_IOV_TRUNCATED,      /* syscalls with more messages than walked, or an unreadable iovec array */
	SW_STAT_STASH_FULL,         /* syscall entries that could not be remembered */
	SW_STAT_CONN_MAP_FULL,      /* connections that could not be tracked */
	SW_STAT_DATA_EVENTS,        /* data events emitted */
	SW_STAT_TLS_CONNS,          /* connections found to carry TLS (plaintext via uprobes) */
	SW_STAT_TLS_ENCRYPTED_BYTES,/* encrypted socket bytes of TLS connections, never copied */
	SW_STAT_TLS_NO_CONN,        /* TLS calls whose connection could not be found: plaintext lost */
	SW_STAT_WIRE_STAMPED,       /* data segments that carried the trace-context TCP option */
	SW_STAT_WIRE_NO_ROOM,       /* data segments with no option room left: sent without context */
	SW_STAT_WIRE_RECEIVED,      /* segments whose trace-context option was read */
	SW_STAT_WIRE_UNSTAMPED_CONNS, /* traced connections established before propagation started */
	SW_STAT_CONTEXTS_DECIDED,   /* requests whose trace context the kernel decided */
	SW_STAT_SHED_CONNS,         /* connections not traced from their start: userspace was behind */
	SW_STAT_SHED_CUTS,          /* traced connections whose tracing stopped: userspace was behind */
	SW_STAT_SHED_RESUMED,       /* shed connections traced again from a request's first byte */
	SW_STAT_SHED_BYTES,         /* bytes of shed connections, never copied */
	SW_STAT_BODY_BYTES_SKIPPED, /* HTTP/1 body bytes of announced length, counted and not copied */
	SW_STAT_BODY_CUT_SHORT,     /* calls that began a message where announced body was expected: copied */
	SW_STAT__COUNT,
};

/* Identity of a connection: fd numbers are reused, so the kernel stamps each
 * connection with the monotonic time it was first seen. */
struct sw_conn_id {
	__u32 tgid;
	__s32 fd;
	__u64 start_ns;
};

struct sw_event_header {
	__u8 type;    /* enum sw_event_type */
	__u8 pad[3];
	__u32 tid;    /* thread that made the syscall */
	__u64 ts_ns;  /* CLOCK_MONOTONIC, at syscall exit */
	struct sw_conn_id conn;
};

/* Addresses are IPv6 or IPv4-mapped IPv6 (::ffff:a.b.c.d); ports host order. */
struct sw_open_event {
	struct sw_event_header hdr;
	__u8 local_addr[16];
	__u8 remote_addr[16];
	__u16 local_port;
	__u16 remote_port;
	__u16 family;   /* AF_INET or AF_INET6, as the socket was created */
	__u8 role;      /* enum sw_role */
	__u8 protocol;  /* enum sw_protocol */
	__u8 flags;     /* SW_OPEN_* */
	__u8 pad[7];
	char comm[SW_COMM_LEN];
};

struct sw_data_event {
	struct sw_event_header hdr;
	__u64 ts_start_ns; /* CLOCK_MONOTONIC, at syscall entry */
	__u64 pos;         /* offset of the first byte in this direction's stream */
	__u32 len;         /* bytes the syscall moved for this chunk */
	__u32 copied;      /* bytes present in data[] (<= len) */
	__u8 direction;    /* enum sw_direction */
	__u8 syscall;      /* enum sw_syscall */
	__u8 flags;        /* SW_DATA_* */
	__u8 pad;
	/* TCP sequence number minus pos, mod 2^32 (SW_DATA_SEQ): constant for a
	 * connection's direction, so the sequence number of any stream offset is
	 * seq_minus_pos + offset. Both ends of a connection see the same sequence
	 * numbers, which pairs a client's request with the server's. */
	__u32 seq_minus_pos;
	/* Bytes moved so far in the other direction (the same stream kind as pos:
	 * plaintext for TLS) when this syscall returned. Every position is counted
	 * in the kernel, lost events included, so it places this chunk against the
	 * other stream with certainty: a response written after the server read
	 * N request bytes answers a request that starts before N. */
	__u64 peer_pos;
	__u8 data[SW_MAX_PAYLOAD];
};
#ifdef __cplusplus
static_assert(sizeof(struct sw_data_event) == SW_DATA_HEADER_SIZE + SW_MAX_PAYLOAD,
	      "data event header layout changed");
#else
_Static_assert(sizeof(struct sw_data_event) == SW_DATA_HEADER_SIZE + SW_MAX_PAYLOAD,
	       "data event header layout changed");
#endif

/* Flags of sw_close_event.flags */
#define SW_CLOSE_SHED 0x1 /* the socket stays open: the kernel stopped tracing it to shed load */

struct sw_close_event {
	struct sw_event_header hdr;
	__u64 bytes_egress;
	__u64 bytes_ingress;
	__u32 flags; /* SW_CLOSE_* */
	__u32 pad;
};

/* Where the kernel took a request's trace id (and parent) from. */
enum sw_context_source {
	SW_CTX_FRESH = 1,   /* nothing to continue: new random ids, a root */
	SW_CTX_OPTION = 2,  /* server: the TCP option on the request's segments (parent: the caller's client span) */
	SW_CTX_LOCAL = 3,   /* server: a client on this host decided it (same tuple and sequence number) */
	SW_CTX_HEADER = 4,  /* the request's own traceparent header */
	SW_CTX_THREAD = 5,  /* client: the request the calling thread is serving (parent: its server span) */
};

/* Flags of sw_context_event.flags */
#define SW_CTX_AMBIGUOUS 0x1 /* the thread was serving several requests: the latest was taken */
#define SW_CTX_ON_WIRE 0x2   /* client: the socket stamps the option, so these ids left the host */
/* trace_flags are the trace's own, not a default: the context is a fresh
 * root's or a header's, or came from one through local hops and options that
 * carried the sampled flag. Without it, a caller's flag may be unknown. */
#define SW_CTX_FLAGS_CERTAIN 0x4

/* The ids of one request's span, decided in the kernel before its first byte
 * left (client) or when it was read (server): userspace exports exactly
 * these, so what went on the wire is what a collector receives. It rides
 * behind the payload of the call's data event (SW_DATA_CONTEXT), or, where
 * no event of the call could carry it, in a context event of its own. */
struct sw_request_context {
	__u64 pos;             /* stream position of the request's first byte */
	__u8 direction;        /* enum sw_direction of that stream */
	__u8 source;           /* enum sw_context_source */
	__u8 flags;            /* SW_CTX_* */
	__u8 trace_flags;      /* W3C flags: a traceparent's, else sampled (1) */
	__u8 pad[4];
	__u8 trace_id[16];
	__u8 span_id[8];       /* this span's id */
	__u8 parent_id[8];     /* its parent's, all zero for a root */
};

/* Where a data event's context trailer starts in its payload area. */
#define SW_CONTEXT_TRAILER_OFFSET(copied) (((copied) + 7) & ~7ULL)

struct sw_context_event {
	struct sw_event_header hdr;
	struct sw_request_context ctx;
};

struct sw_proc_exit_event {
	struct sw_event_header hdr;
};

struct sw_exec_event {
	struct sw_event_header hdr; /* conn.tgid: the process */
};

/* Arguments of a syscall in flight, remembered per thread (task storage)
 * between its sys_enter and sys_exit. Userspace writes entries too, at start,
 * for threads already blocked in socket I/O when the probes attached (their
 * sys_enter was never seen): see userspace/loader/inflight.cpp. */
struct sw_io_args {
	__u64 buf;      /* buffer, iovec array, msghdr or mmsghdr array */
	__u64 count;    /* iovcnt for readv/writev */
	__u64 ts_start;
	__u64 sk;       /* struct sock *, 0 when written by userspace */
	__s32 fd;
	__u32 nr;       /* syscall number: the exit must match it */
	__u8 sys;       /* enum sw_syscall, or a connect/accept marker */
	__u8 dir;       /* enum sw_direction */
	__u8 in_tls;    /* made inside a TLS library call: the socket carries TLS */
	__u8 live;      /* set at entry, cleared at exit: the thread's slot holds a call in flight */
	__u8 pad[4];
	/* A write that begins a request: the ids decided at its entry, before any
	 * byte left (ctx.source != 0). pos and direction stay 0 here: the exit
	 * sets them on the copy that rides behind the call's event. */
	struct sw_request_context ctx;
};

/* A TLS library read/write call in flight, per thread (sw_thread_slot), between
 * its uprobe and uretprobe. The socket syscall the library makes during the
 * call names the connection (fd), with no knowledge of the library's structs. */
struct sw_tls_args {
	__u64 ssl;      /* SSL * */
	__u64 buf;      /* plaintext buffer */
	__u64 len_ptr;  /* SSL_read_ex/SSL_write_ex: size_t * receiving the byte count */
	__u64 ts_start;
	__s32 fd;       /* -1 until known */
	__u8 dir;       /* enum sw_direction */
	__u8 depth;     /* nested hooked calls inside this one (SSL_read -> SSL_read_ex) */
	__u8 live;      /* a call is in flight (the thread's slot outlives its calls) */
	__u8 pad;
};

/* A thread's own storage (task storage): the socket syscall and the TLS
 * library call it is in. One value for both, so a socket call finds whether
 * it runs inside a TLS call with no lookup of its own. */
struct sw_thread_slot {
	struct sw_io_args io;
	struct sw_tls_args tls;
};

/* Key of the SSL * -> fd table: the last socket each TLS session used. */
struct sw_tls_key {
	__u64 ssl;
	__u32 tgid;
	__u32 pad;
};

/* Go programs (go_hooks.bpf.h). Go's goroutines move between threads, so
 * events of Go's crypto/tls name a goroutine where others name a thread:
 * hdr.tid is then SW_GOROUTINE_TOKEN | (g >> 3), never a real thread id
 * (those stay below 2^22). */
#define SW_GOROUTINE_TOKEN 0x80000000u

/* Where a Go binary keeps the socket of a crypto/tls.Conn, for one attached
 * file (uprobe cookie -> offsets): Conn.conn is a net.Conn interface
 * (itab, data), data is a *net.TCPConn whose conn.fd is a *net.netFD, whose
 * pfd (internal/poll.FD) holds Sysfd. Offsets from the binary's DWARF, or
 * the layout every Go release since 1.12 has had. */
struct sw_go_offsets {
	__u32 conn_iface;   /* crypto/tls.Conn.conn */
	__u32 tcpconn_fd;   /* net.TCPConn.conn + net.conn.fd */
	__u32 netfd_sysfd;  /* net.netFD.pfd + internal/poll.FD.Sysfd */
	__u32 h2_known;     /* the net/http HTTP/2 server offsets below were found (DWARF only) */
	__u64 tcpconn_itab; /* address of the (*net.TCPConn, net.Conn) itab; 0: not checked */
	__u32 h2sc_conn;    /* http2serverConn.conn (a net.Conn holding the *tls.Conn) */
	__u32 h2rw_rws;     /* http2responseWriter.rws */
	__u32 h2rws_stream; /* http2responseWriterState.stream */
	__u32 h2stream_id;  /* http2stream.id */
};

/* A Go HTTP/2 server started the handler of one stream: hdr.tid is the
 * handler goroutine's token, so the stream's span is linked to the calls
 * the handler (and the goroutines it starts) make. */
struct sw_go_stream_event {
	struct sw_event_header hdr;
	__u32 stream; /* HTTP/2 stream id */
	__u32 pad;
};

/* A goroutine of one process. */
struct sw_go_key {
	__u32 tgid;
	__u32 pad;
	__u64 g;
};

/* Key of the kernel's connection table (exposed so userspace can sweep the
 * entries of exited processes). */
struct sw_conn_key {
	__u32 tgid;
	__s32 fd;
};

#endif /* SPANWIRE_BPF_SPANWIRE_H */
