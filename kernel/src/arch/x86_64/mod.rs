//! x86_64 in PVH mode: 32-bit entry to long mode, GDT/TSS, IDT and traps, page tables.

mod boot;
pub mod cpu;
pub mod debugcon;
mod gdt;
pub mod paging;
#[cfg(feature = "selftest")]
pub mod selftest;
mod traps;

pub use boot::boot_tsc;
pub use traps::{backtrace, UPCALL_VECTOR};

/// Loads the runtime's own GDT (with a TSS for the trap stacks) and IDT, and enables SSE.
pub fn init_cpu() {
    gdt::init();
    traps::init();
    cpu::enable_sse();
}
