/* Attaches empty_hooks.bpf.c, prints "attached", and holds the programs until
 * stdin closes.
 *   empty_hooks         a do-nothing program on sys_enter_read and sys_exit_read
 *   empty_hooks --all   do-nothing programs on every hook the sensor attaches
 *                       for plain and OpenSSL traffic: its tracepoints and
 *                       OpenSSL probes. Not its sock_ops program: what that
 *                       costs is writing the trace-context option, spanwire's
 *                       own work, not the price of hooking.
 * As root; run_bench.py drives it. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "empty_hooks.skel.h"
#include "spanwire.skel.h"

/* The sensor's OpenSSL probes (its loader's table, userspace/loader/sensor.cpp):
 * entry and return on the data calls, entry on SSL_set_fd. Its tracepoints
 * are read from its own BPF object instead (attach_sensor_tracepoints). */
static const char *const kSslDataCalls[] = {"SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex"};
static const char *const kLibssl[] = {"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/lib/x86_64-linux-gnu/libssl.so.3",
				      "/usr/lib64/libssl.so.3", "/usr/lib/libssl.so.3"};

#define MAX_LINKS 64
static struct bpf_link *links[MAX_LINKS];
static int nlinks;

static bool keep(struct bpf_link *link, const char *what)
{
	if (!link) {
		fprintf(stderr, "empty_hooks: cannot attach to %s: %s (is tracefs mounted?)\n", what, strerror(errno));
		return false;
	}
	if (nlinks == MAX_LINKS) {
		bpf_link__destroy(link);
		fprintf(stderr, "empty_hooks: more than %d hooks\n", MAX_LINKS);
		return false;
	}
	links[nlinks++] = link;
	return true;
}

static bool attach_tracepoint(struct empty_hooks_bpf *skel, const char *category, const char *event)
{
	return keep(bpf_program__attach_tracepoint(skel->progs.empty_tp, category, event), event);
}

/* Each "tracepoint/<category>/<event>" program of the sensor's object (opened,
 * never loaded), and for each sys_enter_<call> but close the sys_exit_<call>
 * its shared exit program sits on: the same list as the sensor's loader. */
static bool attach_sensor_tracepoints(struct empty_hooks_bpf *skel)
{
	struct spanwire_bpf *sensor = spanwire_bpf__open();
	if (!sensor) {
		fprintf(stderr, "empty_hooks: cannot open the sensor's BPF object: %s\n", strerror(errno));
		return false;
	}
	bool ok = true;
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, sensor->obj) {
		char category[32], event[64], exit_event[80];
		if (sscanf(bpf_program__section_name(prog), "tracepoint/%31[^/]/%63s", category, event) != 2)
			continue;
		ok = attach_tracepoint(skel, category, event);
		const char *call = event + strlen("sys_enter_");
		if (ok && strncmp(event, "sys_enter_", strlen("sys_enter_")) == 0 && strcmp(call, "close") != 0) {
			snprintf(exit_event, sizeof(exit_event), "sys_exit_%s", call);
			ok = attach_tracepoint(skel, "syscalls", exit_event);
		}
		if (!ok)
			break;
	}
	spanwire_bpf__destroy(sensor);
	return ok;
}

static bool attach_ssl(struct empty_hooks_bpf *skel, const char *lib, const char *func, bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = func, .retprobe = ret);
	return keep(bpf_program__attach_uprobe_opts(skel->progs.empty_uprobe, -1, lib, 0, &opts), func);
}

static bool attach_read(struct empty_hooks_bpf *skel)
{
	return attach_tracepoint(skel, "syscalls", "sys_enter_read") && attach_tracepoint(skel, "syscalls", "sys_exit_read");
}

static bool attach_all(struct empty_hooks_bpf *skel)
{
	if (!attach_sensor_tracepoints(skel))
		return false;
	const char *lib = NULL;
	for (size_t i = 0; i < sizeof(kLibssl) / sizeof(kLibssl[0]) && !lib; i++)
		if (access(kLibssl[i], R_OK) == 0)
			lib = kLibssl[i];
	if (!lib) {
		fprintf(stderr, "empty_hooks: no libssl.so.3 found: the TLS hooks are left out\n");
		return true;
	}
	for (size_t i = 0; i < sizeof(kSslDataCalls) / sizeof(kSslDataCalls[0]); i++)
		if (!attach_ssl(skel, lib, kSslDataCalls[i], false) || !attach_ssl(skel, lib, kSslDataCalls[i], true))
			return false;
	return attach_ssl(skel, lib, "SSL_set_fd", false);
}

int main(int argc, char **argv)
{
	const bool all = argc > 1 && strcmp(argv[1], "--all") == 0;
	if (argc > 2 || (argc == 2 && !all)) {
		fprintf(stderr, "usage: empty_hooks [--all]\n");
		return 2;
	}
	struct empty_hooks_bpf *skel = empty_hooks_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "empty_hooks: cannot load the BPF object (root and BTF needed)\n");
		return 1;
	}
	const bool ok = all ? attach_all(skel) : attach_read(skel);
	if (!ok) {
		while (nlinks > 0)
			bpf_link__destroy(links[--nlinks]);
		empty_hooks_bpf__destroy(skel);
		return 1;
	}
	printf("attached %d\n", nlinks);
	fflush(stdout);
	while (getchar() != EOF) {
	}
	while (nlinks > 0)
		bpf_link__destroy(links[--nlinks]);
	empty_hooks_bpf__destroy(skel);
	return 0;
}
