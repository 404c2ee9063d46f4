//! Grant tables: the table frames placed in our memory with XENMEM_add_to_physmap, grown on
//! demand up to the limit Xen reports (GNTTABOP_query_size). Entries and the free list are
//! `devices::gnttab`.

use super::abi::{self, xen_add_to_physmap, DOMID_SELF};
use super::hypercall::hypercall_cmd;
use super::shared_page::SharedPage;
use super::Error;
use alloc::boxed::Box;
use devices::gnttab::GrantTable;
pub use devices::gnttab::{GrantError, GrantRef};

struct Table {
    entries: GrantTable<SharedPage>,
    max_frames: u32,
    /// Where each table frame is placed in our memory, in frame order.
    gpfns: alloc::vec::Vec<u64>,
}

/// The entries in use, kept over a suspend ([`save`], [`resume`]).
pub(crate) struct Saved(alloc::vec::Vec<(GrantRef, u32, u32)>);

static TABLE: spin::Mutex<Option<Table>> = spin::Mutex::new(None);

#[repr(C, align(4096))]
struct Frame([u8; 4096]);

/// Asks Xen for the table's size limit and maps the first frame.
pub(crate) fn init() -> Result<(), Error> {
    let mut q = abi::gnttab_query_size { dom: DOMID_SELF, ..Default::default() };
    // SAFETY: GNTTABOP_query_size takes one struct gnttab_query_size (count 1).
    let rc = unsafe {
        super::hypercall::hypercall(
            abi::HYPERVISOR_GRANT_TABLE_OP,
            abi::GNTTABOP_QUERY_SIZE as u64,
            &mut q as *mut _ as u64,
            1,
            0,
            0,
        )
    };
    if rc < 0 {
        return Err(Error::from_rc(rc));
    }
    if q.status != 0 {
        // A GNTST_* code (negative), which the Xen layer reports as an errno would be.
        return Err(Error::from_rc(i64::from(q.status)));
    }
    let mut t = Table {
        entries: GrantTable::new(),
        max_frames: q.max_nr_frames,
        gpfns: alloc::vec::Vec::new(),
    };
    add_frame(&mut t)?;
    *TABLE.lock() = Some(t);
    Ok(())
}

/// Maps table frame number `t.entries.frames()` over a fresh page of ours.
fn add_frame(t: &mut Table) -> Result<(), Error> {
    let page = Box::into_raw(Box::new(Frame([0; 4096]))) as u64;
    // A page we just allocated and leak: nothing else uses the RAM Xen replaces.
    place_frame(t.entries.frames(), page >> 12)?;
    t.gpfns.push(page >> 12);
    // SAFETY: the page is now the grant-table frame, mapped read+write (heap memory), shared
    // with Xen only and reached only through this SharedPage.
    t.entries.add_frame(unsafe { SharedPage::new(page, 4096) });
    Ok(())
}

/// Places table frame `idx` at our frame `gpfn` (XENMEM_add_to_physmap). The page there
/// must be one that only the grant table uses.
fn place_frame(idx: usize, gpfn: u64) -> Result<(), Error> {
    let mut arg = xen_add_to_physmap {
        domid: DOMID_SELF,
        size: 0,
        space: abi::XENMAPSPACE_GRANT_TABLE,
        idx: idx as u64,
        gpfn,
    };
    // SAFETY: XENMEM_add_to_physmap takes a struct xen_add_to_physmap; callers pass a page
    // reserved for the table (allocated and leaked for it, or where its frame already was).
    let rc =
        unsafe { hypercall_cmd(abi::HYPERVISOR_MEMORY_OP, abi::XENMEM_ADD_TO_PHYSMAP, &mut arg) };
    if rc < 0 {
        Err(Error::from_rc(rc))
    } else {
        Ok(())
    }
}

/// Before a suspend: the entries in use. The domain that resumes has a new, empty table.
pub(crate) fn save() -> Saved {
    Saved(TABLE.lock().as_ref().map(|t| t.entries.save()).unwrap_or_default())
}

/// In the new domain after a restore: its table frames placed where ours were, and the
/// entries in use written back, so that every [`GrantedPage`] still grants its page.
pub(crate) fn resume(saved: &Saved) -> Result<(), Error> {
    let mut guard = TABLE.lock();
    let Some(t) = guard.as_mut() else { return Ok(()) };
    for (idx, &gpfn) in t.gpfns.iter().enumerate() {
        place_frame(idx, gpfn)?;
    }
    t.entries.reinstate(&saved.0);
    Ok(())
}

/// Lets domain `domid` map our page at physical address `paddr`. Private: only a
/// [`GrantedPage`], which owns the page, may grant it.
fn grant_access(domid: u16, paddr: u64, readonly: bool) -> Result<GrantRef, GrantError> {
    let mut guard = TABLE.lock();
    let t = guard.as_mut().ok_or(GrantError::Exhausted)?;
    loop {
        match t.entries.grant(domid, (paddr >> 12) as u32, readonly) {
            Err(GrantError::Exhausted) if (t.entries.frames() as u32) < t.max_frames => {
                if let Err(e) = add_frame(t) {
                    log::warn!("growing the grant table failed: {e}");
                    return Err(GrantError::Exhausted);
                }
            }
            r => return r,
        }
    }
}

/// Withdraws a grant; `InUse` while the other domain still maps the page.
fn end_access(r: GrantRef) -> Result<(), GrantError> {
    TABLE.lock().as_mut().ok_or(GrantError::NotGranted(r))?.entries.end(r)
}

/// (frames mapped, frames allowed, references in use).
pub fn stats() -> (usize, u32, usize) {
    TABLE
        .lock()
        .as_ref()
        .map_or((0, 0, 0), |t| (t.entries.frames(), t.max_frames, t.entries.in_use()))
}

/// A page of our RAM granted to another domain: ring pages and I/O buffers of the split
/// drivers. It owns its memory, and is the only way to grant memory: dropping it ends its
/// grants and frees the page, unless another domain still maps it: then the page is leaked
/// (logged), as freeing it would let that domain write into memory we reuse.
#[derive(Debug)]
pub struct GrantedPage {
    page: SharedPage,
    gref: GrantRef,
    /// Further grants of the same page ([`share`](Self::share)), ended with the first.
    more: alloc::vec::Vec<GrantRef>,
}

impl GrantedPage {
    /// Allocates a zeroed page and grants `domid` access to it.
    pub fn new(domid: u16, readonly: bool) -> Result<GrantedPage, GrantError> {
        let addr = Box::into_raw(Box::new(Frame([0; 4096]))) as u64;
        match grant_access(domid, addr, readonly) {
            Ok(gref) => Ok(GrantedPage {
                // SAFETY: the page was just allocated and leaked from the heap (mapped
                // read+write); from here on it is reached only through this SharedPage,
                // until Drop turns it back into the Box.
                page: unsafe { SharedPage::new(addr, 4096) },
                gref,
                more: alloc::vec::Vec::new(),
            }),
            Err(e) => {
                // SAFETY: `addr` came from Box::into_raw above and was never shared.
                drop(unsafe { Box::from_raw(addr as *mut Frame) });
                Err(e)
            }
        }
    }

    /// The reference the page was first granted under (the one to write into xenstore).
    pub fn gref(&self) -> GrantRef {
        self.gref
    }

    /// Grants the page once more (to another domain, or with other rights); the new
    /// reference ends with the page.
    pub fn share(&mut self, domid: u16, readonly: bool) -> Result<GrantRef, GrantError> {
        self.more.try_reserve(1).map_err(|_| GrantError::Exhausted)?;
        let gref = grant_access(domid, self.page.addr(), readonly)?;
        self.more.push(gref);
        Ok(gref)
    }
}

impl Drop for GrantedPage {
    fn drop(&mut self) {
        // Every grant is tried (those that end are reusable), the first failure kept.
        let mut ended = Ok(());
        for r in core::iter::once(self.gref).chain(self.more.drain(..)) {
            ended = ended.and(end_access(r));
        }
        match ended {
            Ok(()) => {
                let addr = self.page.addr();
                // SAFETY: the grant is ended, so no other domain can reach the page; it
                // came from Box::into_raw in `new` and this is its only owner.
                drop(unsafe { Box::from_raw(addr as *mut Frame) });
            }
            Err(e) => log::warn!("leaking a page: {e}"),
        }
    }
}

impl devices::shmem::SharedMem for GrantedPage {
    fn size(&self) -> usize {
        self.page.size()
    }
    fn load_u32(&self, offset: usize) -> u32 {
        self.page.load_u32(offset)
    }
    fn store_u32(&self, offset: usize, value: u32) {
        self.page.store_u32(offset, value)
    }
    fn cas_u32(&self, offset: usize, current: u32, new: u32) -> Result<u32, u32> {
        self.page.cas_u32(offset, current, new)
    }
    fn read(&self, offset: usize, buf: &mut [u8]) {
        self.page.read(offset, buf)
    }
    fn write(&self, offset: usize, data: &[u8]) {
        self.page.write(offset, data)
    }
}
