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
// Go programs get their own uprobes (go_hooks: crypto/tls, goroutines), and
// their events name goroutines instead of threads (goroutines).
//
// One BPF object, split by concern into the parts included below, in order
// (each uses only what the earlier ones define).
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "spanwire.h"
#include "wire_context.h"
#include "ringbuf_wakeup.h"
#include "inference.h" /* protocols/: each protocol's pure-C inference */
#include "http1/framing.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "maps.bpf.h"
#include "socket_lookup.bpf.h"
#include "connection.bpf.h"
#include "shed.bpf.h"
#include "inference.bpf.h"
#include "emit.bpf.h"
#include "body_skip.bpf.h"
#include "goroutines.bpf.h"
#include "propagation.bpf.h"
#include "syscall_hooks.bpf.h"
#include "tls_hooks.bpf.h"
#include "go_hooks.bpf.h"
#include "process_hooks.bpf.h"
#include "sock_ops.bpf.h"
