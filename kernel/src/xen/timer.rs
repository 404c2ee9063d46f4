//! The one-shot timer (VCPUOP_set_singleshot_timer), delivered as VIRQ_TIMER: it only
//! wakes the vCPU; the runtime's timers (`crate::time`) decide who is due.

use super::abi;
use super::event;
use super::hypercall::hypercall;

/// Binds VIRQ_TIMER; returns its port.
pub fn init() -> Result<abi::EvtchnPort, super::Error> {
    event::bind_virq(abi::VIRQ_TIMER)
}

/// Arms the one-shot timer for system time `deadline_ns` (a deadline already past fires at
/// once).
pub fn set_timer(deadline_ns: u64) {
    let mut arg = abi::vcpu_set_singleshot_timer { timeout_abs_ns: deadline_ns, flags: 0 };
    // SAFETY: VCPUOP_set_singleshot_timer for vCPU 0 takes a struct
    // vcpu_set_singleshot_timer, which `arg` is.
    let rc = unsafe {
        hypercall(
            abi::HYPERVISOR_VCPU_OP,
            abi::VCPUOP_SET_SINGLESHOT_TIMER as u64,
            0,
            &mut arg as *mut _ as u64,
            0,
            0,
        )
    };
    if rc < 0 {
        log::warn!("set_singleshot_timer: Xen error {rc}");
    }
}
