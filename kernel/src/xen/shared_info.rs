//! The shared info page (`struct shared_info`, xen.h): event channel bitmaps, per-vCPU time
//! and the wall clock. Placed into our physical memory with XENMEM_add_to_physmap.

use super::abi::{self, xen_add_to_physmap, DOMID_SELF};
use super::hypercall::hypercall_cmd;
use core::sync::atomic::{AtomicU64, Ordering};

#[repr(C, align(4096))]
struct Page([u8; 4096]);

/// The frame Xen's shared info replaces. Never touched as Rust data once mapped.
static mut PAGE: Page = Page([0; 4096]);

static ADDR: AtomicU64 = AtomicU64::new(0);

/// Maps shared info over [`PAGE`].
pub fn map() -> Result<(), super::Error> {
    let paddr = (&raw const PAGE) as u64;
    let mut arg = xen_add_to_physmap {
        domid: DOMID_SELF,
        size: 0,
        space: abi::XENMAPSPACE_SHARED_INFO,
        idx: 0,
        gpfn: paddr >> 12,
    };
    // SAFETY: XENMEM_add_to_physmap takes a struct xen_add_to_physmap; the target frame is a
    // page-aligned static of ours that no Rust code reads or writes, so Xen replacing it is
    // invisible to the rest of the program.
    let rc =
        unsafe { hypercall_cmd(abi::HYPERVISOR_MEMORY_OP, abi::XENMEM_ADD_TO_PHYSMAP, &mut arg) };
    if rc < 0 {
        return Err(super::Error::from_rc(rc));
    }
    ADDR.store(paddr, Ordering::Release);
    Ok(())
}

/// Address of the mapped shared info page, if mapped.
pub fn addr() -> Option<u64> {
    match ADDR.load(Ordering::Acquire) {
        0 => None,
        a => Some(a),
    }
}
