//! The Xen guest interface, one file per subsystem as in Mini-OS: hypercalls, HVM params,
//! shared info, event channels, the PV console, scheduler operations, start info.
//!
//! Only the ABI definitions are public (the layout test compares them with Xen's headers);
//! the rest is the runtime's own: apps reach Xen through typed handles such as
//! [`GrantedPage`](crate::grant::GrantedPage), never through raw hypercalls or addresses.

pub mod abi;
#[cfg(target_os = "none")]
#[doc(hidden)]
pub mod elfnote;
#[cfg(any(test, target_os = "none"))]
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
mod error;

#[cfg(target_os = "none")]
pub(crate) use error::Error;

#[cfg(target_os = "none")]
pub(crate) mod event;
#[cfg(target_os = "none")]
pub(crate) mod gnttab;
#[cfg(target_os = "none")]
pub(crate) mod hvm;
#[cfg(target_os = "none")]
pub(crate) mod hypercall;
#[cfg(target_os = "none")]
pub(crate) mod pv_console;
#[cfg(target_os = "none")]
pub(crate) mod pvclock;
#[cfg(target_os = "none")]
pub(crate) mod sched;
#[cfg(target_os = "none")]
mod shared_info;
#[cfg(target_os = "none")]
pub(crate) mod shared_page;
#[cfg(target_os = "none")]
pub(crate) mod start_info;
#[cfg(target_os = "none")]
pub(crate) mod timer;

#[cfg(target_os = "none")]
pub(crate) use platform::*;

#[cfg(target_os = "none")]
mod platform {
    use super::*;
    use crate::arch::cpu;
    use alloc::boxed::Box;
    use alloc::vec::Vec;
    use core::future::Future;
    use core::pin::Pin;
    use core::sync::atomic::{AtomicU32, Ordering};

    /// A task this layer needs run, which the runtime spawns.
    pub type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

    /// Xen's CPUID signature, "XenVMMXenVMM", as (ebx, ecx, edx).
    const SIGNATURE: (u32, u32, u32) = (0x566e_6558, 0x6558_4d4d, 0x4d4d_566e);

    /// Looks for Xen in the hypervisor CPUID leaves (0x4000_0000 + n * 0x100; Xen may sit at
    /// an offset when it also shows another hypervisor's interface) and installs the hypercall
    /// page. Returns Xen's version as (major, minor).
    pub fn detect() -> Option<(u32, u32)> {
        let base = (0x4000_0000..0x4001_0000).step_by(0x100).find(|&leaf| {
            let (max, b, c, d) = cpu::cpuid(leaf, 0);
            (b, c, d) == SIGNATURE && max >= leaf + 2
        })?;
        let (version, ..) = cpu::cpuid(base + 1, 0);
        let (_pages, msr, ..) = cpu::cpuid(base + 2, 0);
        hypercall::install(msr);
        Some((version >> 16, version & 0xffff))
    }

    /// Whether the runtime is talking to Xen.
    pub fn present() -> bool {
        hypercall::ready()
    }

    /// VIRQ_DEBUG's port, bound again after a resume in a new domain.
    static DEBUG_PORT: AtomicU32 = AtomicU32::new(u32::MAX);

    /// Logs the runtime's state when the toolstack raises VIRQ_DEBUG.
    async fn debug_virq() {
        loop {
            let epoch = event::epoch();
            event::wait(DEBUG_PORT.load(Ordering::Acquire)).await;
            if event::epoch() != epoch {
                continue; // resumed: the port is a new one
            }
            let (frames, max, grants) = gnttab::stats();
            log::info!(
                "VIRQ_DEBUG: grant frames {frames}/{max}, grants in use {grants}, event channels {}, stray events {}",
                event::bound(),
                event::ignored()
            );
        }
    }

    /// Brings up what needs paging and the heap: shared info, the PV console, event
    /// delivery, the timer and the grant table. Returns the tasks to start (it spawns
    /// nothing itself: the executor sits above this layer).
    pub fn init() -> Vec<Task> {
        let mut tasks: Vec<Task> = Vec::new();
        match shared_info::map() {
            Ok(()) => log::debug!("shared_info at {:#x}", shared_info::addr().unwrap_or(0)),
            Err(e) => log::error!("mapping shared_info failed: {e}"),
        }
        if let Err(e) = pv_console::init() {
            log::error!("PV console unavailable: {e}; output stays on the debug port");
        }
        if let Err(e) = event::init() {
            log::error!("event upcall vector refused by Xen ({e}): events will not arrive");
        }
        if let Err(e) = timer::init() {
            log::error!("binding VIRQ_TIMER failed: {e}");
        }
        if let Err(e) = gnttab::init() {
            log::error!("grant table unavailable: {e}");
        }
        match event::bind_virq(abi::VIRQ_DEBUG) {
            Ok(port) => {
                DEBUG_PORT.store(port, Ordering::Release);
                tasks.push(Box::pin(debug_virq()));
            }
            Err(e) => log::warn!("binding VIRQ_DEBUG failed: {e}"),
        }
        tasks
    }

    pub use sched::Resumed;

    /// Suspends the domain (`xl save`, `xl migrate`): SCHEDOP_shutdown(SHUTDOWN_suspend)
    /// with events held off. The caller has quiesced xenstore and the frontends.
    ///
    /// Cancelled, the domain goes on as it was. Resumed in a new domain, this layer is set
    /// up again before events are let in: shared info, the upcall vector, the console ring,
    /// every event channel of its own (the old ports are gone: [`event::forget_all`] ends
    /// their waits), the timer's VIRQ and the grant table (its frames placed again, the
    /// entries in use written back). The xenstore ring and the frontends are the caller's.
    pub fn suspend() -> Result<Resumed, Error> {
        let saved = gnttab::save();
        pv_console::flush();
        cpu::disable_interrupts();
        let r = sched::suspend();
        let mut errors = Vec::new();
        if r == Ok(Resumed::NewDomain) {
            errors = resume_new_domain(&saved);
        }
        cpu::enable_interrupts();
        // Logged only now: the console is the new one.
        for (what, e) in errors {
            log::error!("after resume: {what}: {e}");
        }
        r
    }

    fn resume_new_domain(saved: &gnttab::Saved) -> Vec<(&'static str, Error)> {
        let mut errors = Vec::new();
        let mut check = |what, r: Result<(), Error>| {
            if let Err(e) = r {
                errors.push((what, e));
            }
        };
        check("console ring", pv_console::init());
        check("shared info", shared_info::map());
        event::forget_all();
        check("upcall vector", event::init());
        check("VIRQ_TIMER", timer::init().map(drop));
        check("grant table", gnttab::resume(saved));
        match event::bind_virq(abi::VIRQ_DEBUG) {
            Ok(port) => DEBUG_PORT.store(port, Ordering::Release),
            Err(e) => errors.push(("VIRQ_DEBUG", e)),
        }
        errors
    }
}
