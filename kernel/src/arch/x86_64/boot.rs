//! The PVH entry point (`boot.S`) and the first Rust code it calls.

use crate::xen::abi::XEN_ELFNOTE_PHYS32_ENTRY;
use crate::xen::start_info::BootInfo;
use core::sync::atomic::{AtomicU64, Ordering};

/// TSC value read by the very first instruction of `_start32`.
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);

core::arch::global_asm!(
    include_str!("boot.S"),
    phys32_entry = const XEN_ELFNOTE_PHYS32_ENTRY,
    boot_tsc = sym BOOT_TSC,
    rust_entry = sym rust_entry,
    options(att_syntax)
);

// What the image is, for the tools (no loader reads it): a note named "Unikernel" (as the
// schema notes of xen/elfnote.rs), type 3, whose descriptor is the drivers built in
// (`crate::DRIVERS`). `cargo xtask build` checks it against the app's manifest; the linker
// script keeps it in the PT_NOTE segment.
core::arch::global_asm!(
    ".pushsection .note.unikernel, \"a\", @note",
    ".balign 4",
    ".long 10", // namesz: "Unikernel\0"
    ".long 4",  // descsz
    ".long 3",  // type: drivers
    ".asciz \"Unikernel\"",
    ".balign 4",
    ".long {drivers}",
    ".popsection",
    drivers = const crate::DRIVERS,
    options(att_syntax)
);

/// The TSC at the first instruction of the image.
pub fn boot_tsc() -> u64 {
    BOOT_TSC.load(Ordering::Relaxed)
}

/// Called by `boot.S` in long mode on the boot stack, with the physical address of
/// `struct hvm_start_info`.
extern "C" fn rust_entry(start_info_paddr: u64) -> ! {
    super::init_cpu();
    // SAFETY: this is the address the PVH loader passed in %ebx; nothing has been allocated
    // or written since, and the boot tables map the low 4 GiB where loaders place it.
    let info = unsafe { BootInfo::read(start_info_paddr) };
    crate::runtime::start(info, app_main, app_keys())
}

extern "Rust" {
    /// The application's entry, defined by [`kernel::main!`](crate::main).
    fn __kernel_app_main() -> crate::AppMain;
    /// The text of the app's schema note, defined by [`kernel::main!`](crate::main).
    fn __kernel_app_keys() -> &'static str;
}

fn app_keys() -> &'static str {
    // SAFETY: `__kernel_app_keys` is defined by the `kernel::main!` macro with exactly this
    // signature (it returns the text of a static note); linking fails without the macro.
    unsafe { __kernel_app_keys() }
}

fn app_main() -> crate::AppMain {
    // SAFETY: `__kernel_app_main` is defined by the `kernel::main!` macro with exactly this
    // signature; linking fails if the app did not use the macro.
    unsafe { __kernel_app_main() }
}
