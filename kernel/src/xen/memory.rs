//! Giving RAM back to Xen and taking it again (XENMEM_decrease_reservation and
//! XENMEM_populate_physmap), one 4 KiB frame per extent, as a balloon driver does.

use super::abi::{self, xen_memory_reservation, DOMID_SELF};
use super::hypercall::hypercall_cmd;
use super::Error;

/// One XENMEM reservation call over `gfns`; returns how many Xen did (from the start).
fn reservation(cmd: usize, gfns: &mut [u64]) -> Result<usize, Error> {
    let mut arg = xen_memory_reservation {
        extent_start: gfns.as_mut_ptr() as u64,
        nr_extents: gfns.len() as u64,
        extent_order: 0,
        mem_flags: 0,
        domid: DOMID_SELF,
    };
    // SAFETY: `arg` is a struct xen_memory_reservation whose handle points at `gfns`, an
    // array of `nr_extents` frame numbers Xen reads (and, for populate, writes) in place;
    // it lives across the call. What the frames hold is the callers' concern (see below).
    let rc = unsafe { hypercall_cmd(abi::HYPERVISOR_MEMORY_OP, cmd, &mut arg) };
    if rc < 0 {
        Err(Error::from_rc(rc))
    } else {
        Ok(rc as usize)
    }
}

/// Hands the frames `gfns` back to Xen; returns how many it took (the first ones).
///
/// # Safety
/// Nothing may touch these frames until [`populate`] has put memory behind them again:
/// an access to a frame with no memory behind it ends the domain.
pub unsafe fn decrease(gfns: &mut [u64]) -> Result<usize, Error> {
    reservation(abi::XENMEM_DECREASE_RESERVATION, gfns)
}

/// Puts fresh memory (its contents undefined) behind the frames `gfns`, which must have
/// none; returns how many Xen populated (the first ones).
pub fn populate(gfns: &mut [u64]) -> Result<usize, Error> {
    reservation(abi::XENMEM_POPULATE_PHYSMAP, gfns)
}
