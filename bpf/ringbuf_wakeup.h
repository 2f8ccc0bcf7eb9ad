/* When a ring-buffer record wakes userspace, shared by the kernel programs
 * and the unit tests. Pure C: no helpers, no maps, no includes (the includer
 * provides __u64).
 *
 * Userspace is woken once for every `wakeup_bytes` that wait in the ring: by
 * the record that makes the waiting bytes cross a multiple of it. Once woken
 * it reads until the ring is empty, and epoll finds the ring readable while
 * any record waits, so no other record needs to wake it. Forcing a wakeup on
 * every record once `wakeup_bytes` wait would cost more than the rest of a
 * traced call whenever userspace lags: each forced wakeup queues the ring's
 * irq_work, a self-interrupt, which on a VM is a trap to the hypervisor
 * (docs/PERFORMANCE.md item 25). Every multiple, not only the
 * first: two CPUs that both read the waiting bytes before the other's record
 * both miss the first crossing, and the next one still wakes userspace. What
 * is left, userspace's own read every 100 ms bounds. */
#ifndef SPANWIRE_BPF_RINGBUF_WAKEUP_H
#define SPANWIRE_BPF_RINGBUF_WAKEUP_H

#ifdef __bpf__
#define SW_WAKEUP_FN static __always_inline
#else
#define SW_WAKEUP_FN static inline
#endif

/* A record's bytes in the ring: an 8-byte header, then the event, rounded up
 * to 8 bytes (the kernel's BPF_RINGBUF_HDR_SZ and its alignment). */
SW_WAKEUP_FN __u64 sw_ringbuf_record_bytes(__u64 event_bytes)
{
	return (event_bytes + 8 + 7) & ~7ULL;
}

/* Whether a record of `event_bytes` that follows `waiting` bytes must wake
 * userspace. wakeup_bytes 0 is not a threshold: every record is due, and the
 * kernel programs never ask (maps.bpf.h leaves that case to the kernel's own
 * rule, without querying the ring). */
SW_WAKEUP_FN int sw_wakeup_due(__u64 waiting, __u64 event_bytes, __u64 wakeup_bytes)
{
	if (wakeup_bytes == 0)
		return 1;
	__u64 after = waiting + sw_ringbuf_record_bytes(event_bytes);
	return waiting / wakeup_bytes != after / wakeup_bytes;
}

#endif
