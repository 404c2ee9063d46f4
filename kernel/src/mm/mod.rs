//! Memory: the usable RAM from the memory map, the heap over it, and the page tables.

#[cfg(any(test, target_os = "none"))]
mod regions;

/// The heap's counters, from [`stats`]. `used` and `peak` count the bytes asked for
/// (the allocator's own overhead and fragmentation come on top).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes of RAM the heap manages.
    pub size: usize,
    /// Bytes allocated now.
    pub used: usize,
    /// The most bytes allocated at once since boot.
    pub peak: usize,
    /// Allocations refused for want of memory since boot.
    pub failed: u64,
    /// Bytes the allocator can still hand out: `size - used` less its own overhead (a
    /// header per allocation, padding before page-aligned ones).
    pub available: usize,
}

impl Stats {
    /// Bytes that can still be allocated (in pieces: the largest free block may be smaller).
    pub fn free(&self) -> usize {
        self.available
    }
}

#[cfg(target_os = "none")]
mod heap;

#[cfg(target_os = "none")]
pub(crate) use platform::init;
#[cfg(target_os = "none")]
pub use platform::stats;

#[cfg(target_os = "none")]
mod platform {
    use super::{heap, regions};
    use crate::arch::paging;
    use crate::xen::abi::{hvm_memmap_table_entry, XEN_HVM_MEMMAP_TYPE_RAM};
    use core::ops::Range;

    /// Where the boot tables stop mapping; the heap stays below until [`init`] has switched.
    const BOOT_MAPPED: u64 = 4 << 30;

    /// Sets up the heap over all usable RAM and switches to the runtime's page tables.
    /// Returns the heap size in bytes.
    pub(crate) fn init(memmap: &[hvm_memmap_table_entry]) -> u64 {
        let usable = regions::usable_ram(memmap, &[paging::image()]);
        if usable.dropped > 0 {
            log::warn!("memory map too fragmented: {} RAM ranges ignored", usable.dropped);
        }
        // The boot tables map only the low 4 GiB, and page tables are allocated from the heap:
        // claim low RAM, switch to tables that map all RAM, then claim the rest.
        let mut heap = claim(usable.iter().map(|r| r.start..r.end.min(BOOT_MAPPED)));
        let ram = memmap.iter().filter(|e| e.type_ == XEN_HVM_MEMMAP_TYPE_RAM);
        paging::init(ram.map(|e| e.addr..e.addr.saturating_add(e.size)));
        heap += claim(usable.iter().map(|r| r.start.max(BOOT_MAPPED)..r.end));
        heap
    }

    /// What the heap looks like now.
    pub fn stats() -> super::Stats {
        let (size, used, peak, failed, available) = heap::counters();
        super::Stats { size, used, peak, failed, available }
    }

    fn claim(ranges: impl Iterator<Item = Range<u64>>) -> u64 {
        let mut bytes = 0;
        for r in ranges.filter(|r| r.start < r.end) {
            // SAFETY: `ranges` come from usable_ram: RAM outside the image and the first MiB,
            // each claimed once (low and high halves are disjoint); they are mapped, by the
            // boot tables below 4 GiB and by ours above.
            bytes += unsafe { heap::claim(r) };
        }
        bytes
    }
}
