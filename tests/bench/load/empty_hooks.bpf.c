/* Programs that do nothing, on the two tracepoints spanwire's programs use
 * for read(2). syscall_loop with these attached measures what the kernel
 * charges every read on the node as soon as any program sits there (the
 * syscall slow path and the tracepoint dispatch), before a program does any
 * work: the floor under the "untraced read" figure of scripts/bench.sh. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_read")
int empty_enter_read(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int empty_exit_read(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
