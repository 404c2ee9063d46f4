//! Scheduler operations (`sched.h`): yield, block, shutdown.

use super::abi::{self, sched_shutdown};
use super::hypercall::{hypercall, hypercall_cmd};

/// Why the domain stops; the toolstack acts on it (`on_poweroff`, `on_crash`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownReason {
    Poweroff,
    Reboot,
    Crash,
}

/// Stops the domain with `reason`. Returns only if Xen refused, which the caller treats as
/// fatal.
pub fn shutdown(reason: ShutdownReason) {
    let reason = match reason {
        ShutdownReason::Poweroff => abi::SHUTDOWN_POWEROFF,
        ShutdownReason::Reboot => abi::SHUTDOWN_REBOOT,
        ShutdownReason::Crash => abi::SHUTDOWN_CRASH,
    };
    let mut arg = sched_shutdown { reason };
    // SAFETY: SCHEDOP_shutdown takes a struct sched_shutdown, which `arg` is.
    unsafe { hypercall_cmd(abi::HYPERVISOR_SCHED_OP, abi::SCHEDOP_SHUTDOWN, &mut arg) };
}

/// How a suspend ([`suspend`]) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumed {
    /// The toolstack cancelled it (or only checkpointed): same domain, everything Xen-side
    /// as it was.
    InPlace,
    /// Restored or migrated: a new domain, whose Xen-side state must be set up again.
    NewDomain,
}

/// SCHEDOP_shutdown(SHUTDOWN_suspend): returns when the domain runs again. For PVH (as for
/// HVM) no start-info frame goes in the third argument (sched.h: that is x86 PV only).
pub fn suspend() -> Result<Resumed, super::Error> {
    let mut arg = sched_shutdown { reason: abi::SHUTDOWN_SUSPEND };
    // SAFETY: SCHEDOP_shutdown takes a struct sched_shutdown, which `arg` is.
    let rc = unsafe { hypercall_cmd(abi::HYPERVISOR_SCHED_OP, abi::SCHEDOP_SHUTDOWN, &mut arg) };
    match rc {
        0 => Ok(Resumed::NewDomain),
        rc if rc > 0 => Ok(Resumed::InPlace),
        rc => Err(super::Error::from_rc(rc)),
    }
}

/// Gives the physical CPU to another vCPU that wants it (dom0's backends, say).
pub fn yield_now() {
    // SAFETY: SCHEDOP_yield takes no argument.
    unsafe { hypercall(abi::HYPERVISOR_SCHED_OP, abi::SCHEDOP_YIELD as u64, 0, 0, 0, 0) };
}

/// Blocks the vCPU until an event is pending for it.
#[cfg(feature = "selftest")]
pub fn block() {
    // SAFETY: SCHEDOP_block takes no argument.
    unsafe { hypercall(abi::HYPERVISOR_SCHED_OP, abi::SCHEDOP_BLOCK as u64, 0, 0, 0, 0) };
}
