/* Process and fd lifecycle: exec, close, exit.
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

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
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), output_flags(sizeof(ev))))
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
	emit_close(&key, c, 0);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/* Threads that die inside a TLS call leave no stash behind; a whole process
 * exiting tells userspace to drop its connections (their fds close without
 * close(2)). */
SEC("tracepoint/sched/sched_process_exit")
int tp_sched_process_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	/* (the thread's slot and its request, active_io and thread_serving, are
	 * its own storage: freed with it) */
	if ((__u32)id != (__u32)(id >> 32))
		return 0;
	__u32 tgid = id >> 32;
	bpf_map_delete_elem(&go_procs, &tgid);
	struct sw_proc_exit_event ev = {};
	ev.hdr.type = SW_EV_PROC_EXIT;
	ev.hdr.tid = (__u32)id;
	ev.hdr.ts_ns = bpf_ktime_get_ns();
	ev.hdr.conn.tgid = id >> 32;
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), output_flags(sizeof(ev))))
		stat_add(SW_STAT_RINGBUF_DROPS, 1);
	return 0;
}
