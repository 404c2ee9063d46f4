//! CPU-specific code: boot entry, descriptor tables, traps, paging, port I/O.

mod x86_64;
pub use self::x86_64::*;
