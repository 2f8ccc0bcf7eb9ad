/* Programs that do nothing. By default empty_tp sits on the two tracepoints
 * spanwire's programs use for read(2): syscall_loop with them attached
 * measures what the kernel charges every read on the node as soon as any
 * program sits there (the syscall slow path and the tracepoint dispatch),
 * before a program does any work: the floor under the "untraced read" figure
 * of scripts/bench.sh. With --all, empty_tp and empty_uprobe are attached to
 * every hook the sensor uses: nginx under wrk then shows the machine's
 * ceiling for the traced/untraced ratios. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* Attached by name at run time (empty_hooks.c), so not by the skeleton. */
SEC("tracepoint")
int empty_tp(void *ctx)
{
	return 0;
}

SEC("uprobe")
int empty_uprobe(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
