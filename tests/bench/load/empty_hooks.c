/* Attaches empty_hooks.bpf.c (do-nothing programs on sys_enter_read and
 * sys_exit_read), prints "attached", and holds them until stdin closes.
 * Usage: empty_hooks   (as root; run_bench.py drives it) */
#include <stdio.h>

#include "empty_hooks.skel.h"

int main(void)
{
	struct empty_hooks_bpf *skel = empty_hooks_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "empty_hooks: cannot load the BPF object (root and BTF needed)\n");
		return 1;
	}
	if (empty_hooks_bpf__attach(skel) != 0) {
		fprintf(stderr, "empty_hooks: cannot attach to syscalls:sys_{enter,exit}_read (is tracefs mounted?)\n");
		empty_hooks_bpf__destroy(skel);
		return 1;
	}
	printf("attached\n");
	fflush(stdout);
	while (getchar() != EOF) {
	}
	empty_hooks_bpf__destroy(skel);
	return 0;
}
