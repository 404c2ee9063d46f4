//! The network stack's memory budget. Everything a remote peer can make the guest allocate
//! goes through here, so that a flood of connections is refused before the heap runs out,
//! instead of a failed allocation ending the guest.
//!
//! - **Reserve**: the stack keeps `max(256 KiB, heap / 16)` of the heap free for everything
//!   else (the app's tasks, timers, xenstore, the disk). Below it, new connections are not
//!   accepted (their SYNs are dropped and the peer retries, as with Linux's full accept
//!   queue), no listening socket is replaced and received frames that need memory are
//!   dropped; connections already open carry on.
//! - **Per vif**: `clamp(heap / 128 KiB, 32, 256)` granted pages for each direction (256
//!   each, 2 MiB, from a 32 MiB heap up).
//! - **Per connection**: its receive and send buffers (`SocketOptions`, 16 KiB each by
//!   default) plus about 1 KiB of socket state; a listener's backlog is that many sockets
//!   allocated in advance.
//! - **Sockets per vif**: at most `clamp(heap / 32 KiB, 16, 2048)`, reserved up front.

use crate::mm;

const KIB: usize = 1024;

/// Bytes of socket state beyond the buffers (smoltcp's socket, its slot, our records).
pub const SOCKET_OVERHEAD: usize = KIB;

fn heap_size() -> usize {
    mm::stats().size
}

/// Heap bytes the stack leaves free for everything else.
pub fn reserve() -> usize {
    (256 * KIB).max(heap_size() / 16)
}

/// Whether `bytes` more can be allocated without going into the reserve.
pub fn affordable(bytes: usize) -> bool {
    mm::stats().free() >= reserve().saturating_add(bytes)
}

/// Whether the heap is into its reserve: no new connections then.
pub fn short() -> bool {
    !affordable(0)
}

/// Granted pages per direction of a vif.
pub fn netfront_pages() -> usize {
    (heap_size() / (128 * KIB)).clamp(32, 256)
}

/// Sockets a vif may hold at once.
pub fn max_sockets() -> usize {
    (heap_size() / (32 * KIB)).clamp(16, 2048)
}
