/* Shedding load in the kernel, by whole connections, before anything is
 * copied. When userspace falls behind, the ring buffer fills; were it left
 * to overflow, events would be lost at random and parsers would lose their
 * place mid-stream. Instead, by how much waits in the ring:
 *  - above shed_new_above, a connection whose protocol was just decided is
 *    not traced (it is never announced);
 *  - above shed_cut_above, a traced connection stops being traced at its
 *    next call, one connection per SW_SHED_CUT_GAP_NS, and above
 *    shed_cut_all_above every one does (the ring must not overflow): userspace
 *    gets a close event flagged SW_CLOSE_SHED and ends its streams there;
 *  - below shed_resume_below, a shed connection is traced again from the
 *    first call that carries a request in its request direction, under a new
 *    identity (start_ns) and as a midstream connection: its session starts at
 *    a message boundary, not in the middle of a body.
 * A shed connection's bytes are counted, never copied.
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

/* Ring buffer bytes waiting; 0 in all four: shedding is off. */
const volatile __u64 shed_new_above = 0;
const volatile __u64 shed_cut_above = 0;
const volatile __u64 shed_cut_all_above = 0;
const volatile __u64 shed_resume_below = 0;

/* Cuts are spread out, so that the ring drains from the connections already
 * cut before more are: the rest stay whole. */
#define SW_SHED_CUT_GAP_NS 10000000ULL
__u64 shed_last_cut_ns = 0;

enum shed_state {
	SW_SHED_NONE = 0,     /* traced */
	SW_SHED_OFF = 1,      /* not traced: bytes only counted */
	SW_SHED_RESUMING = 2, /* waiting for a request's first byte to be traced again */
};

static __always_inline __u64 ring_waiting(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
}

enum shed_admission {
	SW_SHED_REFUSED = 0,  /* not traced (yet) */
	SW_SHED_ADMITTED,     /* traced from now on */
	SW_SHED_READMITTED,   /* a shed connection traced again */
};

/* A connection whose protocol was just decided (new, or resuming): whether it
 * may be announced and traced, and if so, whether for the first time. A
 * resuming one waits for a request's first byte, in the direction its role
 * sends requests. */
static __always_inline enum shed_admission shed_admit(struct conn_state *c, __u8 dir, bool request)
{
	if (!shed_cut_above)
		return SW_SHED_ADMITTED;
	bool resuming = c->shed == SW_SHED_RESUMING;
	if (resuming && (!request || (dir == SW_DIR_EGRESS) != (c->role == SW_ROLE_CLIENT)))
		return SW_SHED_REFUSED;
	if (ring_waiting() > shed_new_above) {
		c->shed = SW_SHED_OFF;
		if (!resuming)
			stat_add(SW_STAT_SHED_CONNS, 1);
		return SW_SHED_REFUSED;
	}
	c->shed = SW_SHED_NONE;
	if (!resuming)
		return SW_SHED_ADMITTED;
	stat_add(SW_STAT_SHED_RESUMED, 1);
	return SW_SHED_READMITTED;
}

/* A shed connection, once the ring has drained: starts over as a connection
 * of unknown protocol seen midstream, under a new identity, and waits for a
 * request (shed_admit). */
static __always_inline void shed_try_resume(struct conn_state *c)
{
	if (ring_waiting() >= shed_resume_below)
		return;
	c->shed = SW_SHED_RESUMING;
	c->start_ns = bpf_ktime_get_ns();
	c->protocol = SW_PROTO_UNKNOWN;
	c->flags = (c->flags & ~SW_OPEN_UNSTAMPED) | SW_OPEN_MIDSTREAM | SW_OPEN_RESUMED;
	c->open_sent = 0;
	c->infer_attempts = 0;
	c->held_len[0] = c->held_len[1] = 0;
}

/* Stops tracing a connection: userspace ends its streams at the positions
 * reached so far. */
static __always_inline void shed_cut(__u32 tgid, int fd, struct conn_state *c, __u64 now)
{
	struct sw_conn_key key = {.tgid = tgid, .fd = fd};
	shed_last_cut_ns = now;
	emit_close(&key, c, SW_CLOSE_SHED);
	c->open_sent = 0; /* nothing more to close */
	c->shed = SW_SHED_OFF;
	stat_add(SW_STAT_SHED_CUTS, 1);
}

/* Before a call's bytes are looked at: whether they go untraced (shed), after
 * cutting the connection if the ring is too full or resuming it if it drained. */
static __always_inline bool shed_skips(__u32 tgid, int fd, struct conn_state *c, __u64 bytes)
{
	if (!shed_cut_above)
		return false;
	if (c->shed == SW_SHED_OFF)
		shed_try_resume(c);
	if (c->shed == SW_SHED_NONE && c->open_sent) {
		__u64 waiting = ring_waiting();
		if (waiting > shed_cut_above) {
			__u64 now = bpf_ktime_get_ns();
			if (waiting > shed_cut_all_above || now - shed_last_cut_ns >= SW_SHED_CUT_GAP_NS)
				shed_cut(tgid, fd, c, now);
		}
	}
	if (c->shed != SW_SHED_OFF)
		return false;
	stat_add(SW_STAT_SHED_BYTES, bytes);
	return true;
}
