//! Which physical memory the runtime may use: RAM from the loader's memory map, above the
//! first MiB (firmware, start info), minus what is reserved (the image), page-aligned.
//! Fixed capacity, because it is computed before there is a heap.

use crate::xen::abi::{hvm_memmap_table_entry, XEN_HVM_MEMMAP_TYPE_RAM};
use core::ops::Range;

const PAGE: u64 = 4096;
/// Memory below this is left alone.
pub const LOW_LIMIT: u64 = 1 << 20;
pub const MAX_REGIONS: usize = 64;

/// A set of disjoint page-aligned ranges.
#[derive(Debug, Clone)]
pub struct Regions {
    r: [(u64, u64); MAX_REGIONS],
    len: usize,
    /// Ranges dropped because the set was full.
    pub dropped: usize,
}

impl Regions {
    fn new() -> Self {
        Regions { r: [(0, 0); MAX_REGIONS], len: 0, dropped: 0 }
    }

    fn push(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        if self.len == MAX_REGIONS {
            self.dropped += 1;
            return;
        }
        self.r[self.len] = (start, end);
        self.len += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.r[..self.len].iter().map(|&(s, e)| s..e)
    }

    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.iter().map(|r| r.end - r.start).sum()
    }

    /// Removes `hole` from every range.
    fn subtract(&mut self, hole: &Range<u64>) {
        let old = core::mem::replace(self, Regions::new());
        self.dropped = old.dropped;
        for r in old.iter() {
            self.push(r.start, r.end.min(hole.start));
            self.push(r.start.max(hole.end), r.end);
        }
    }
}

/// RAM ranges of `memmap`, above [`LOW_LIMIT`], without `reserved`, shrunk to whole pages.
pub fn usable_ram(memmap: &[hvm_memmap_table_entry], reserved: &[Range<u64>]) -> Regions {
    let mut out = Regions::new();
    for e in memmap.iter().filter(|e| e.type_ == XEN_HVM_MEMMAP_TYPE_RAM) {
        let end = e.addr.saturating_add(e.size);
        let start = e.addr.max(LOW_LIMIT);
        if let Some(start) = start.checked_next_multiple_of(PAGE) {
            out.push(start, end & !(PAGE - 1));
        }
    }
    for hole in reserved {
        let hole = (hole.start & !(PAGE - 1))..hole.end.saturating_add(PAGE - 1) & !(PAGE - 1);
        out.subtract(&hole);
    }
    out
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // one reserved range is the common case
mod tests {
    use super::*;
    use std::vec::Vec;

    fn e(addr: u64, size: u64, type_: u32) -> hvm_memmap_table_entry {
        hvm_memmap_table_entry { addr, size, type_, reserved: 0 }
    }

    #[test]
    fn ram_above_1mib_without_the_image_and_non_ram() {
        let map = [
            e(0, 0xa0000, 1),
            e(0xf0000, 0x10000, 2),
            e(0x100000, 0x7f00000, 1),        // 1 MiB .. 128 MiB
            e(0xfc000000, 0x1000000, 2),      // special pages
            e(0x1_0000_0000, 0x1000_0800, 1), // above 4 GiB, ragged end
        ];
        let r = usable_ram(&map, &[0x100000..0x123456]);
        let got: Vec<_> = r.iter().collect();
        assert_eq!(got, [0x124000..0x8000000, 0x1_0000_0000..0x1_1000_0000]);
        assert_eq!(r.total(), (0x8000000 - 0x124000) + 0x1000_0000);
    }

    #[test]
    fn a_hole_in_the_middle_splits_a_range() {
        let r = usable_ram(&[e(0x100000, 0x400000, 1)], &[0x200000..0x201000]);
        let got: Vec<_> = r.iter().collect();
        assert_eq!(got, [0x100000..0x200000, 0x201000..0x500000]);
    }

    #[test]
    fn wrapping_and_tiny_entries_are_harmless() {
        let r = usable_ram(&[e(u64::MAX - 10, 100, 1), e(0x100800, 0x100, 1)], &[]);
        assert_eq!(r.iter().count(), 0);
    }
}
