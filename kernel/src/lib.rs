//! The unikernel runtime. An application crate depends on `kernel`, declares its entry with
//! [`main!`], and is built by `cargo xtask build` into one ELF image that boots as a Xen PVH
//! guest (or under plain QEMU, for quick tests without Xen).
//!
//! Drivers are cargo features the app enables: `net` (netfront and smoltcp: [`net`]) and
//! `block` (blkfront: [`block`]). An image has only the drivers its app asked for; the image
//! says which in its `unikernel` ELF note, and `cargo xtask build` refuses an app whose
//! manifest declares a network or a disk without the driver for it.
//!
//! `unsafe` is confined to `arch`, `xen` and `mm`; the rest of the crate denies it.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

/// The drivers in this build, which the image's `unikernel` ELF note (`arch/x86_64/boot.rs`)
/// tells `cargo xtask`: bit 0 `net`, bit 1 `block`.
#[cfg(target_os = "none")]
const DRIVERS: u32 = cfg!(feature = "net") as u32 | (cfg!(feature = "block") as u32) << 1;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod arch;
#[allow(unsafe_code)]
pub mod mm;
/// Only its ABI definitions are public, for the layout test against Xen's headers.
#[doc(hidden)]
#[allow(unsafe_code)]
pub mod xen;

/// Memory shared with another domain: a [`GrantedPage`](grant::GrantedPage) owns its page
/// and ends its grants when dropped, so safe code cannot grant or free memory a backend
/// still maps.
#[cfg(target_os = "none")]
pub mod grant {
    pub use crate::xen::gnttab::{GrantError, GrantRef, GrantedPage};

    /// The grant table: (frames mapped, frames Xen allows, references in use).
    pub fn stats() -> (usize, u32, usize) {
        crate::xen::gnttab::stats()
    }
}

// Two attributes, not `all(..)`: rustc then tells an app that uses a module its build left
// out that "the item is gated behind the `block` feature".
#[cfg(target_os = "none")]
#[cfg(feature = "block")]
pub mod block;
#[cfg(target_os = "none")]
pub mod config;
#[cfg(target_os = "none")]
pub mod console;
#[cfg(any(test, target_os = "none"))]
mod executor;
#[cfg(target_os = "none")]
pub mod lifecycle;
#[cfg(target_os = "none")]
mod logger;
#[cfg(target_os = "none")]
#[cfg(feature = "net")]
pub mod net;
/// On the host only its pure parts (the SYN gate) are compiled, for their tests.
#[cfg(test)]
mod net;
#[cfg(target_os = "none")]
mod runtime;
#[cfg(target_os = "none")]
pub mod time;
#[cfg(all(target_os = "none", any(feature = "net", feature = "block")))]
mod xenbus;
#[cfg(target_os = "none")]
pub mod xenstore;

/// The configuration, checked at boot against the image's keys: see [`config`](mod@config).
#[cfg(target_os = "none")]
pub use config::get as config;
#[cfg(target_os = "none")]
pub use executor::{spawn, yield_now};
#[cfg(target_os = "none")]
pub use runtime::{cmdline, poweroff, reboot};

pub use log;

/// Deliberate faults for the runtime's crash tests.
#[cfg(all(target_os = "none", feature = "selftest"))]
#[doc(hidden)]
pub mod selftest {
    pub use crate::arch::selftest::*;

    /// One SCHEDOP_yield: a VM exit and entry, for hunting faults that show right after one.
    pub fn sched_yield() {
        crate::xen::sched::yield_now()
    }
}

/// The application's entry as the runtime receives it.
#[doc(hidden)]
pub type AppMain = core::pin::Pin<alloc::boxed::Box<dyn core::future::Future<Output = ()> + Send>>;

#[doc(hidden)]
pub use alloc::boxed::Box as __Box;

/// Declares the application's entry point: `kernel::main!(main);` with `async fn main()`.
/// It runs as the first task of the executor; returning from it powers the domain off; a
/// panic crashes it. It also places the app's keys (`UNIKERNEL_APP_KEYS`, which `cargo
/// xtask build` sets from the manifest) in the image's schema note and hands that note to
/// the runtime, which checks the command line against them before `main` runs.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        #[doc(hidden)]
        #[allow(unsafe_code)] // no_mangle: the runtime's entry calls this symbol
        #[no_mangle]
        pub fn __kernel_app_main() -> $crate::AppMain {
            $crate::__Box::pin($main())
        }

        /// The app's configuration keys, from its manifest, for the host tool to read back.
        const __KERNEL_APP_KEYS: &str = match option_env!("UNIKERNEL_APP_KEYS") {
            Some(keys) => keys,
            None => "",
        };
        #[doc(hidden)]
        #[allow(unsafe_code)] // link_section: the note goes in the image's PT_NOTE segment
        #[used]
        #[link_section = ".note.unikernel"]
        static __KERNEL_APP_KEYS_NOTE: $crate::xen::elfnote::Note<
            { $crate::xen::elfnote::padded_len(__KERNEL_APP_KEYS) },
        > = $crate::xen::elfnote::Note::new($crate::xen::elfnote::APP_KEYS, __KERNEL_APP_KEYS);

        #[doc(hidden)]
        #[allow(unsafe_code)] // no_mangle: the runtime reads the app's keys through this symbol
        #[no_mangle]
        pub fn __kernel_app_keys() -> &'static str {
            __KERNEL_APP_KEYS_NOTE.text()
        }
    };
}
