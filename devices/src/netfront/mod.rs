//! netfront (`io/netif.h`): Ethernet frames over a TX and an RX ring shared with netback.
//!
//! Every buffer page is granted to the backend once, when the device connects, and reused
//! for the life of the connection: a TX page is lent to the backend while a request names
//! it and returns to the free list when its response arrives; an RX page is posted, filled
//! by the backend's grant copy, copied out once, and posted again.
//!
//! Nothing the backend writes is trusted: each response is copied out of its slot once and
//! checked (id in range and outstanding, status, offset + size inside the page, chain
//! length) before it is used. A bad response is counted in [`Stats`], logged by the caller
//! from the returned [`NetError`], and its buffer recycled; it never panics or makes us
//! touch memory outside our pages.
//!
//! Checksums: we run a software stack that computes and verifies every checksum, so we ask
//! for none of the offloads (`feature-no-csum-offload = 1`) and set no checksum flags on TX.

mod front;
#[cfg(test)]
mod tests;
mod wire;

pub use front::{Buffer, NetError, Netfront, SendError, Stats};
// The wire format's constants (offsets, flags, statuses) are part of the API: the fuzz
// target and tests play netback with them.
pub use wire::*;
