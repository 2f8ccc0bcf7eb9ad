/* Goroutines: which request a Go program's event works for.
 * Part of spanwire.bpf.c, which includes the parts once, in order.
 *
 * Go's goroutines move between threads, so in a Go process an event names
 * its goroutine (a token in place of the thread id), the kernel's "serving"
 * state is kept per goroutine, and a goroutine that works for another's
 * request (started by it, or writing a request it made) names that one.
 * A process counts as Go once the runtime.newproc1 probe (go_hooks) saw it
 * start a goroutine. The running goroutine is R14 (Go 1.17+ register ABI on
 * amd64), also in the user registers a syscall saved. */

static __always_inline struct sw_go_key go_key(__u32 tgid, __u64 g)
{
	struct sw_go_key k = {.tgid = tgid, .g = g};
	return k;
}

static __always_inline __u32 goroutine_token(__u64 g)
{
	return SW_GOROUTINE_TOKEN | ((__u32)(g >> 3) & ~SW_GOROUTINE_TOKEN);
}

/* An id (tgid << 32 | tid) whose low half names a goroutine, not a thread. */
static __always_inline bool is_goroutine_id(__u64 id)
{
	return (__u32)id & SW_GOROUTINE_TOKEN;
}

/* The goroutine whose request g's work is for: g itself when it serves one
 * (or works for nobody known). */
static __always_inline __u64 go_owner_of(__u32 tgid, __u64 g)
{
	struct sw_go_key k = go_key(tgid, g);
	if (bpf_map_lookup_elem(&go_serving, &k))
		return g;
	__u64 *owner = bpf_map_lookup_elem(&go_owner, &k);
	return owner ? *owner : g;
}

/* g serves a request of connection sk: its calls, and its new goroutines',
 * work for it. */
static __always_inline void go_mark_serving(__u32 tgid, __u64 g, __u64 sk)
{
	struct sw_go_key k = go_key(tgid, g);
	bpf_map_update_elem(&go_serving, &k, &sk, BPF_ANY);
	bpf_map_delete_elem(&go_owner, &k);
}

/* The goroutine whose request g's read of server connection c is for. Its
 * owner when that owner serves the same connection: net/http's HTTP/1 server
 * reads the first byte of the next request on a helper goroutine while the
 * handler of the previous one finishes, and the next request is then served
 * by the connection's goroutine, not the helper. Else g, now serving c. */
static __always_inline __u64 go_server_reader(__u32 tgid, __u64 g, const struct conn_state *c)
{
	__u64 owner = go_owner_of(tgid, g);
	if (owner != g) {
		struct sw_go_key ok = go_key(tgid, owner);
		__u64 *served = bpf_map_lookup_elem(&go_serving, &ok);
		if (served && *served == c->sk)
			return owner;
	}
	go_mark_serving(tgid, g, c->sk);
	return g;
}

/* The running goroutine of a Go process at a syscall, or 0 (not Go). */
static __always_inline __u64 go_current_g(__u32 tgid)
{
	if (!go_hooked || !bpf_map_lookup_elem(&go_procs, &tgid))
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	return regs ? regs->r14 : 0;
}

/* The id an event of goroutine g carries (tgid << 32 | token): a read of a
 * server request marks g serving it (go_server_reader); a write names g's
 * owner. c may be NULL. */
static __always_inline __u64 go_event_id(__u32 tgid, __u64 g, __u8 dir, const struct conn_state *c)
{
	if (dir == SW_DIR_INGRESS) {
		if (c && c->role == SW_ROLE_SERVER)
			g = go_server_reader(tgid, g, c);
		return ((__u64)tgid << 32) | goroutine_token(g);
	}
	return ((__u64)tgid << 32) | goroutine_token(go_owner_of(tgid, g));
}

/* The id of a socket call's events: its goroutine's in a Go process, else the thread's. */
static __always_inline __u64 causal_id(__u64 id, __u8 dir, const struct conn_state *c)
{
	__u64 g = go_current_g(id >> 32);
	return g ? go_event_id(id >> 32, g, dir, c) : id;
}
