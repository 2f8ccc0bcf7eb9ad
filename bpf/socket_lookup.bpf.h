/* From an fd to its TCP socket, and the process selection.
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

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

/* The network namespace of a socket (its inode number, as /proc/PID/ns/net
 * and /run/netns/NAME show it). */
static __always_inline __u32 netns_of(__u64 skp)
{
	struct sock *sk = (struct sock *)skp;
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* The --net-ns selection: only sockets of the listed namespaces are traced,
 * stamped or read. */
static __always_inline bool socket_selected(__u64 sk)
{
	if (!filter_by_netns)
		return true;
	__u32 inum = netns_of(sk);
	return bpf_map_lookup_elem(&netns_filter, &inum) != NULL;
}
