//! [`devices::shmem::SharedMem`] over memory shared with another domain.

use super::{abi::EvtchnPort, hvm, Error};
use crate::arch::paging;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};
use devices::shmem::SharedMem;

/// A mapped region that another domain can write at any time. Never turned into a Rust
/// reference: every access is a volatile or atomic load or store.
#[derive(Debug)]
pub struct SharedPage {
    base: NonNull<u8>,
    size: usize,
}

// SAFETY: the region is plain memory reachable from any context; all accesses are atomic or
// volatile, so moving the handle between contexts adds no aliasing.
unsafe impl Send for SharedPage {}

impl SharedPage {
    /// # Safety
    /// `[base, base + size)` must be mapped read+write for the rest of the run, shared only
    /// with another domain, and not accessed through Rust references.
    pub(crate) unsafe fn new(base: u64, size: usize) -> Self {
        SharedPage { base: NonNull::new(base as *mut u8).expect("null shared page"), size }
    }

    /// The region's (identity-mapped) address.
    pub(crate) fn addr(&self) -> u64 {
        self.base.as_ptr() as u64
    }

    fn at(&self, offset: usize, len: usize) -> *mut u8 {
        assert!(
            offset.checked_add(len).is_some_and(|end| end <= self.size),
            "shared access out of range"
        );
        // SAFETY: offset + len <= size, so the result stays inside the region.
        unsafe { self.base.as_ptr().add(offset) }
    }
}

impl SharedMem for SharedPage {
    fn size(&self) -> usize {
        self.size
    }

    fn load_u32(&self, offset: usize) -> u32 {
        assert!(offset.is_multiple_of(4));
        let p = self.at(offset, 4).cast::<AtomicU32>();
        // SAFETY: in range and 4-aligned (the base is page-aligned); AtomicU32 has u32's layout.
        unsafe { (*p).load(Ordering::Acquire) }
    }

    fn store_u32(&self, offset: usize, value: u32) {
        assert!(offset.is_multiple_of(4));
        let p = self.at(offset, 4).cast::<AtomicU32>();
        // SAFETY: as in load_u32.
        unsafe { (*p).store(value, Ordering::Release) }
    }

    fn cas_u32(&self, offset: usize, current: u32, new: u32) -> Result<u32, u32> {
        assert!(offset.is_multiple_of(4));
        let p = self.at(offset, 4).cast::<AtomicU32>();
        // SAFETY: as in load_u32.
        unsafe { (*p).compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst) }
    }

    fn read(&self, offset: usize, buf: &mut [u8]) {
        let src = self.at(offset, buf.len());
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: src + i is inside the checked range; volatile because the other domain
            // may write concurrently (the copy is taken once and validated afterwards).
            *b = unsafe { src.add(i).read_volatile() };
        }
    }

    fn write(&self, offset: usize, data: &[u8]) {
        let dst = self.at(offset, data.len());
        for (i, &b) in data.iter().enumerate() {
            // SAFETY: dst + i is inside the checked range.
            unsafe { dst.add(i).write_volatile(b) };
        }
    }
}

/// The ring page and event channel Xen names in a pair of HVM params (console, xenstore):
/// the page is mapped and wrapped, the port returned as Xen gave it.
pub fn from_hvm_params(pfn_param: u32, port_param: u32) -> Result<(SharedPage, EvtchnPort), Error> {
    let pfn = hvm::get_param(pfn_param)?;
    let port = hvm::get_param(port_param)?;
    if pfn == 0 || pfn >= 1 << 40 {
        return Err(Error::BadParam { index: pfn_param, value: pfn });
    }
    let port = EvtchnPort::try_from(port)
        .map_err(|_| Error::BadParam { index: port_param, value: port })?;
    let paddr = pfn << 12;
    paging::map_shared_page(paddr);
    // SAFETY: the page at `paddr` is a ring Xen set up for this domain (its HVM param says
    // so), now mapped read+write; it is shared with one backend and reached only through
    // this SharedPage: each param pair is read at boot, and again after a resume, where the
    // new SharedPage replaces the one before.
    Ok((unsafe { SharedPage::new(paddr, paging::PAGE_SIZE as usize) }, port))
}
