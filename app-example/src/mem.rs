//! Memory discipline for what a peer makes us do: every buffer, body and answer is
//! allocated fallibly, and new work is refused while the heap is nearly full.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Heap kept free for work already under way (sockets, the network stack, answers being
/// written): below this, new requests are answered 503 and new connections closed. A
/// request can need two copies of a 64 KiB body (a PUT's record); the rest is headroom.
pub const RESERVE: usize = 256 * 1024;

/// Whether the heap is below [`RESERVE`].
pub fn short() -> bool {
    kernel::mm::stats().free() < RESERVE
}

/// Memory was short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoMemory;

impl From<alloc::collections::TryReserveError> for NoMemory {
    fn from(_: alloc::collections::TryReserveError) -> Self {
        NoMemory
    }
}

/// `data` copied into a new vector, or `NoMemory`.
pub fn try_copy(data: &[u8]) -> Result<Vec<u8>, NoMemory> {
    let mut v = Vec::new();
    v.try_reserve_exact(data.len())?;
    v.extend_from_slice(data);
    Ok(v)
}

/// `s` copied into a new string, or `NoMemory`.
pub fn try_string(s: &str) -> Result<String, NoMemory> {
    let mut out = String::new();
    out.try_reserve_exact(s.len())?;
    out.push_str(s);
    Ok(out)
}

/// A `fmt::Write` into a byte vector that fails (`fmt::Error`) instead of panicking when
/// the vector cannot grow: `write!` into it reports a short heap as an error.
pub struct TryWriter<'a>(pub &'a mut Vec<u8>);

impl fmt::Write for TryWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.try_reserve(s.len()).map_err(|_| fmt::Error)?;
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
