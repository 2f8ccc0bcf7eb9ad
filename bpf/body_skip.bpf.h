/* Heads copied, bodies counted: once an HTTP/1 head announces its body's
 * length (Content-Length), the body is not copied. The call that holds the
 * head sends the head only (the rest is flagged SW_DATA_BODY_COUNTED); the
 * calls that move only body bytes go by silently, counted in pos, and the
 * call that ends the body sends one event with no payload that covers them
 * (SW_DATA_NO_COPY, as sendfile's). Userspace counts such a body, it never
 * reads one. The rules of what has a body are protocols/http1/framing.h's;
 * the state is conn_state.body_left and .silent.
 *
 * A call in which a body ends and more follows is copied whole, and what
 * follows the body in it is looked at as the next head. A call whose first
 * bytes begin a message is never counted as body (the length was wrong: a
 * HEAD request the kernel did not see at a call's start): it is copied, and
 * userspace sees the message.
 * Part of spanwire.bpf.c, which includes the parts once, in order. */

/* A call smaller than this is not searched for a head's framing unless it
 * ends with the head: a body that continues past such a call is rare, and
 * the search costs about what copying a KiB does. */
#define SW_BODY_SCAN_MIN 1024
/* Body bytes of a plain socket that may go by with no event at all, and for
 * how long, before one event covers them: bounds how long userspace hears
 * nothing of a connection in the middle of a long or slow body. */
#define SW_SILENT_MAX (1U << 20)
#define SW_SILENT_MAX_NS 1000000000ULL

static __always_inline bool body_skip_applies(const struct conn_state *c)
{
	return c->protocol == SW_PROTO_HTTP1 && !c->body_skip_off;
}

enum body_verdict {
	SW_BODY_COPY,   /* not (only) body: copied as usual */
	SW_BODY_EVENT,  /* body: one event, no payload, covers it and any silent bytes before it */
	SW_BODY_SILENT, /* body, and more follows: counted, no event yet */
};

/* What to do with a call of `len` bytes in direction dir on a connection
 * with a body in flight, at time `now`. `first` is the address of the call's
 * first byte in the caller's memory (0: none, sendfile); `may_be_silent` is
 * false where positions are not the socket's own (TLS plaintext). */
static __always_inline int body_verdict(struct conn_state *c, __u8 dir, __u64 len, __u64 first, bool may_be_silent,
					__u64 now)
{
	dir &= 1;
	__u64 left = c->body_left[dir];
	if (left < len || !body_skip_applies(c))
		return SW_BODY_COPY;
	__u64 w = 0;
	if (first && bpf_probe_read_user(&w, sizeof(w), (const void *)first) == 0 &&
	    (sw_http1_method(w) || SW_PREFIX_IS(w, "HTTP/1."))) {
		c->body_left[dir] = 0; /* a message where body was expected: copy, and look again */
		stat_add(SW_STAT_BODY_CUT_SHORT, 1);
		return SW_BODY_COPY;
	}
	c->body_left[dir] = left - len;
	if (first)
		stat_add(SW_STAT_BODY_BYTES_SKIPPED, len); /* sendfile copies nothing anyway */
	if (!may_be_silent || left == len || c->silent[dir] + len >= SW_SILENT_MAX)
		return SW_BODY_EVENT;
	if (c->silent[dir] == 0)
		c->silent_since[dir] = now;
	else if (now - c->silent_since[dir] >= SW_SILENT_MAX_NS)
		return SW_BODY_EVENT;
	return SW_BODY_SILENT;
}

/* One event with no payload for the last `len` bytes of a plain socket's
 * direction: positions were already counted. */
static __always_inline void emit_counted_gap(struct conn_state *c, struct sw_data_event *ev, __u64 len)
{
	__u32 dir = ev->direction & 1;
	ev->pos = c->pos[dir] - len;
	ev->peer_pos = c->pos[dir ^ 1];
	ev->len = len;
	ev->copied = 0;
	ev->flags = SW_DATA_NO_COPY | (ev->flags & SW_DATA_SEQ);
	output_data_event(ev, 0);
}

/* A plain socket's call of `len` body bytes, counted: silently, or in one
 * event with the silent bytes before it. */
static __always_inline void body_count(struct conn_state *c, struct sw_data_event *ev, __u64 len, int verdict)
{
	__u32 dir = ev->direction & 1;
	__sync_fetch_and_add(&c->pos[dir], len);
	if (verdict == SW_BODY_SILENT) {
		c->silent[dir] += len;
		return;
	}
	__u64 n = c->silent[dir] + len;
	c->silent[dir] = 0;
	emit_counted_gap(c, ev, n);
}

/* Before a plain socket's call is copied: an event for the body bytes that
 * went silently before it (a body cut short by a message start). */
static __always_inline void body_flush_silent(struct conn_state *c, struct sw_data_event *ev)
{
	__u32 dir = ev->direction & 1;
	__u64 n = c->silent[dir];
	if (!n)
		return;
	c->silent[dir] = 0;
	emit_counted_gap(c, ev, n);
}

struct framing_ctx {
	struct data_scratch_slot *slot;
};

/* Words per loop step: a step's call costs more than looking at a word. */
#define SW_FRAMING_STEP_WORDS 4

/* Words i*4 to i*4+3 of the framing scan of the head in the slot's payload. */
static long framing_words(__u32 i, struct framing_ctx *ctx)
{
	struct data_scratch_slot *slot = ctx->slot;
	/* The head lies within the copied payload, below the payload ceiling. */
	__u32 base = slot->framing.base & (SW_MAX_PAYLOAD_POW2 - 1);
	for (__u32 k = 0; k < SW_FRAMING_STEP_WORDS; k++)
		if (sw_framing_word(&slot->framing.s, slot->ev.data + base, i * SW_FRAMING_STEP_WORDS + k))
			return 1;
	return 0;
}

/* Before a call's event goes out (`copied` of its `len` bytes in the slot's
 * payload): where the message in flight ends in it, and whether a head that
 * follows announces a body that later calls move. Returns the payload bytes
 * the event keeps: up to the end of that head when only body follows it in
 * the call (userspace counts such a body, it never reads it), else all. */
/* Global, so the verifier checks it once, not once per path that calls it. */
__noinline __u64 body_note_call(struct conn_state *c, __u8 dir, __u64 len, __u64 copied)
{
	if (!c)
		return copied;
	dir &= 1;
	__u64 at = c->body_left[dir]; /* the message in flight ends this far in */
	c->body_left[dir] = 0;
	if (!body_skip_applies(c) || copied > SW_MAX_PAYLOAD || at + 16 > copied)
		return copied;
	struct data_scratch_slot *slot = scratch_slot();
	if (!slot)
		return copied;
	at &= SW_MAX_PAYLOAD_POW2 - 1;
	const __u8 *h = slot->ev.data + at;
	enum sw_head_body body = sw_http1_head_body(sw_load64(h), sw_load64(h + 8));
	if (body == SW_HEAD_ENDS_SKIPPING)
		c->body_skip_off = 1;
	if (body != SW_HEAD_MAY_HAVE_BODY)
		return copied;
	__u64 present = copied - at;
	if (len - at < SW_BODY_SCAN_MIN &&
	    sw_load64(slot->ev.data + ((copied - 8) & (SW_MAX_PAYLOAD_POW2 - 1))) >> 32 != 0x0a0d0a0d)
		return copied; /* small, and not ending with its head */
	slot->framing.base = at;
	sw_framing_start(&slot->framing.s, present);
	struct framing_ctx ctx = {.slot = slot};
	bpf_loop(SW_FRAMING_SCAN_BYTES / 8 / SW_FRAMING_STEP_WORDS, framing_words, &ctx, 0);
	__u32 end = slot->framing.s.end;
	if (!end)
		return copied;
	__s64 length = sw_framing_length(&slot->framing.s, slot->ev.data + at);
	if (length <= 0)
		return copied;
	__u64 moved = len - at - end; /* body bytes this call moved, copied or not */
	if (moved > (__u64)length)
		return copied; /* the next message starts in this call too */
	c->body_left[dir] = length - moved;
	return at + end < copied ? at + end : copied;
}

/* One contiguous chunk on a connection whose heads are looked at: copied,
 * then its head looked at before the event goes out, so that a body that
 * follows the head in the same call is not sent either. */
static __noinline int emit_head_chunk(struct conn_state *c, struct sw_data_event *ev, __u64 ubuf, __u64 len)
{
	__u64 copied = copy_chunk(ev, ubuf, len);
	__u64 keep = body_note_call(c, ev->direction, len, copied);
	if (keep < copied) { /* everything after the head is body: counted, not sent */
		ev->flags |= SW_DATA_BODY_COUNTED;
		stat_add(SW_STAT_BODY_BYTES_SKIPPED, len - keep);
	}
	return submit_data(c, ev, len, keep, 0);
}

/* A shed call went by: no body position is known any more. Silent bytes are
 * in the positions, so the close of a shed connection covers them. */
static __always_inline void body_forget(struct conn_state *c)
{
	c->body_left[0] = c->body_left[1] = 0;
	c->silent[0] = c->silent[1] = 0;
}
