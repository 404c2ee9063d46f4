//! HVM parameters (`hvm/params.h`): where Xen tells us the console and xenstore rings and
//! their event channels, and where we tell it how to deliver events.

use super::abi::{self, xen_hvm_param, DOMID_SELF};
use super::hypercall::hypercall_cmd;
use super::Error;

/// Reads HVM parameter `index`.
pub fn get_param(index: u32) -> Result<u64, Error> {
    let mut p = xen_hvm_param { domid: DOMID_SELF, pad: 0, index, value: 0 };
    // SAFETY: HVMOP_get_param takes a struct xen_hvm_param, which `p` is.
    let rc = unsafe { hypercall_cmd(abi::HYPERVISOR_HVM_OP, abi::HVMOP_GET_PARAM, &mut p) };
    if rc < 0 {
        Err(Error::from_rc(rc))
    } else {
        Ok(p.value)
    }
}

/// Sets HVM parameter `index`.
pub fn set_param(index: u32, value: u64) -> Result<(), Error> {
    let mut p = xen_hvm_param { domid: DOMID_SELF, pad: 0, index, value };
    // SAFETY: HVMOP_set_param takes a struct xen_hvm_param, which `p` is.
    let rc = unsafe { hypercall_cmd(abi::HYPERVISOR_HVM_OP, abi::HVMOP_SET_PARAM, &mut p) };
    if rc < 0 {
        Err(Error::from_rc(rc))
    } else {
        Ok(())
    }
}
