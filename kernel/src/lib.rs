//! The unikernel runtime. An application crate depends on `kernel`, declares its entry with
//! [`main!`], and is built by `cargo xtask build` into one ELF image that boots as a Xen PVH
//! guest (or under plain QEMU, for quick tests without Xen).
//!
//! `unsafe` is confined to `arch`, `xen` and `mm`; the rest of the crate denies it.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod arch;
#[allow(unsafe_code)]
pub mod mm;
#[allow(unsafe_code)]
pub mod xen;

#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
mod logger;
#[cfg(target_os = "none")]
mod runtime;

#[cfg(target_os = "none")]
pub use runtime::{cmdline, poweroff, reboot};

pub use log;

/// Deliberate faults for the runtime's crash tests.
#[cfg(all(target_os = "none", feature = "selftest"))]
#[doc(hidden)]
pub use arch::selftest;

/// Declares the application's entry point: `kernel::main!(main);` with `fn main()`.
/// Returning from it powers the domain off; a panic crashes it.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        #[doc(hidden)]
        #[allow(unsafe_code)] // no_mangle: the runtime's entry calls this symbol
        #[no_mangle]
        pub fn __kernel_app_main() {
            let main: fn() = $main;
            main()
        }
    };
}
