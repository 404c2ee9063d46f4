//! Grant tables, v1 (`grant_table.h`): the frames of `struct grant_entry_v1` (flags, domid,
//! frame) through which we let another domain map pages of ours. This module keeps the
//! entries and a free list of references; the platform supplies table frames (mapped with
//! XENMEM_add_to_physmap) through [`GrantTable::add_frame`].

use crate::shmem::SharedMem;
use alloc::vec::Vec;

pub const ENTRY_SIZE: usize = 8;
pub const ENTRIES_PER_FRAME: u32 = 4096 / ENTRY_SIZE as u32;
/// References 0..8 are the toolstack's (console, xenstore).
pub const NR_RESERVED: u32 = 8;
pub const GTF_PERMIT_ACCESS: u16 = 1 << 0;
pub const GTF_READONLY: u16 = 1 << 2;
pub const GTF_READING: u16 = 1 << 3;
pub const GTF_WRITING: u16 = 1 << 4;
/// Offsets in `struct grant_entry_v1`.
pub const OFF_FLAGS: usize = 0;
pub const OFF_DOMID: usize = 2;
pub const OFF_FRAME: usize = 4;

pub type GrantRef = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantError {
    /// Every reference is in use and the table cannot grow.
    Exhausted,
    /// The other domain still has the page mapped; try again after it unmaps.
    InUse(GrantRef),
    /// Not a reference we handed out.
    NotGranted(GrantRef),
}

impl core::fmt::Display for GrantError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GrantError::Exhausted => f.write_str("grant references exhausted"),
            GrantError::InUse(r) => write!(f, "grant {r} is still mapped by the other domain"),
            GrantError::NotGranted(r) => write!(f, "grant {r} was not granted"),
        }
    }
}

impl core::error::Error for GrantError {}

#[derive(Debug)]
pub struct GrantTable<M> {
    frames: Vec<M>,
    free: Vec<GrantRef>,
    granted: Vec<bool>,
}

impl<M: SharedMem> Default for GrantTable<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: SharedMem> GrantTable<M> {
    pub fn new() -> Self {
        GrantTable { frames: Vec::new(), free: Vec::new(), granted: Vec::new() }
    }

    pub fn frames(&self) -> usize {
        self.frames.len()
    }

    /// Adds the next table frame (frame `self.frames()` of the table) and its references.
    pub fn add_frame(&mut self, mem: M) {
        let first = self.frames.len() as u32 * ENTRIES_PER_FRAME;
        self.frames.push(mem);
        self.granted.resize(self.frames.len() * ENTRIES_PER_FRAME as usize, false);
        // Handed out lowest first.
        self.free.extend((first.max(NR_RESERVED)..first + ENTRIES_PER_FRAME).rev());
    }

    fn entry(&self, r: GrantRef) -> (&M, usize) {
        let frame = (r / ENTRIES_PER_FRAME) as usize;
        (&self.frames[frame], (r % ENTRIES_PER_FRAME) as usize * ENTRY_SIZE)
    }

    /// Lets `domid` map our page `gfn`; `Exhausted` when the caller must add a frame.
    pub fn grant(&mut self, domid: u16, gfn: u32, readonly: bool) -> Result<GrantRef, GrantError> {
        let r = self.free.pop().ok_or(GrantError::Exhausted)?;
        let (mem, off) = self.entry(r);
        mem.store_u32(off + OFF_FRAME, gfn);
        let flags = GTF_PERMIT_ACCESS | if readonly { GTF_READONLY } else { 0 };
        // flags and domid share a word: frame first, then (release) the word that makes it
        // valid, as grant_table.h orders it.
        mem.store_u32(off + OFF_FLAGS, u32::from(flags) | (u32::from(domid) << 16));
        self.granted[r as usize] = true;
        Ok(r)
    }

    /// Withdraws grant `r`; fails while the other domain still has it mapped.
    pub fn end(&mut self, r: GrantRef) -> Result<(), GrantError> {
        if !self.granted.get(r as usize).copied().unwrap_or(false) {
            return Err(GrantError::NotGranted(r));
        }
        let (mem, off) = self.entry(r);
        let mut word = mem.load_u32(off + OFF_FLAGS);
        loop {
            if word as u16 & (GTF_READING | GTF_WRITING) != 0 {
                return Err(GrantError::InUse(r));
            }
            match mem.cas_u32(off + OFF_FLAGS, word, 0) {
                Ok(_) => break,
                Err(actual) => word = actual,
            }
        }
        self.granted[r as usize] = false;
        self.free.push(r);
        Ok(())
    }

    pub fn in_use(&self) -> usize {
        self.granted.iter().filter(|&&g| g).count()
    }

    /// The entries of every reference in use, as (reference, flags-and-domid word, frame),
    /// taken before a suspend: the table of the domain that resumes is empty.
    pub fn save(&self) -> Vec<(GrantRef, u32, u32)> {
        let mut saved = Vec::new();
        for (r, _) in self.granted.iter().enumerate().filter(|(_, &g)| g) {
            let (mem, off) = self.entry(r as GrantRef);
            saved.push((
                r as GrantRef,
                mem.load_u32(off + OFF_FLAGS),
                mem.load_u32(off + OFF_FRAME),
            ));
        }
        saved
    }

    /// Writes `saved` ([`save`](Self::save)) into the table's frames, now those of the new
    /// domain, so that every reference in use grants the same page to the same domain
    /// again. Nothing maps them yet: the reading and writing bits Xen kept are cleared.
    pub fn reinstate(&mut self, saved: &[(GrantRef, u32, u32)]) {
        for &(r, word, frame) in saved {
            if !self.granted.get(r as usize).copied().unwrap_or(false) {
                continue;
            }
            let (mem, off) = self.entry(r);
            mem.store_u32(off + OFF_FRAME, frame);
            mem.store_u32(off + OFF_FLAGS, word & !u32::from(GTF_READING | GTF_WRITING));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shmem::testing::TestMem;

    #[test]
    fn reinstate_puts_back_the_entries_in_use_without_mapping_bits() {
        let mut t = GrantTable::new();
        t.add_frame(TestMem::new(4096));
        let a = t.grant(0, 0x1234, true).unwrap();
        let b = t.grant(5, 0x5678, false).unwrap();
        let c = t.grant(0, 0x9abc, false).unwrap();
        t.end(c).unwrap();
        let (mem, off) = t.entry(b);
        mem.store_u32(off + OFF_FLAGS, mem.load_u32(off + OFF_FLAGS) | u32::from(GTF_WRITING));
        let saved = t.save();
        assert_eq!(saved.len(), 2);
        // The new domain's table starts empty.
        let mut fresh = GrantTable::new();
        fresh.add_frame(TestMem::new(4096));
        t.frames = fresh.frames;
        t.reinstate(&saved);
        for (r, flags, domid, frame) in
            [(a, GTF_PERMIT_ACCESS | GTF_READONLY, 0, 0x1234), (b, GTF_PERMIT_ACCESS, 5, 0x5678)]
        {
            let (mem, off) = t.entry(r);
            assert_eq!(mem.load_u32(off + OFF_FLAGS), u32::from(flags) | (domid << 16));
            assert_eq!(mem.load_u32(off + OFF_FRAME), frame);
        }
        let (mem, off) = t.entry(c);
        assert_eq!(mem.load_u32(off + OFF_FLAGS), 0);
        // Ending works as before the suspend (nothing maps the pages).
        t.end(a).unwrap();
        t.end(b).unwrap();
        assert_eq!(t.in_use(), 0);
    }

    #[test]
    fn grants_skip_reserved_entries_and_fill_the_entry() {
        let mut t = GrantTable::new();
        t.add_frame(TestMem::new(4096));
        let r = t.grant(0, 0x1234, true).unwrap();
        assert_eq!(r, NR_RESERVED);
        let (mem, off) = t.entry(r);
        assert_eq!(mem.load_u32(off + OFF_FRAME), 0x1234);
        assert_eq!(mem.load_u32(off), u32::from(GTF_PERMIT_ACCESS | GTF_READONLY));
    }

    #[test]
    fn exhaustion_is_an_error_until_a_frame_is_added() {
        let mut t = GrantTable::new();
        t.add_frame(TestMem::new(4096));
        for _ in NR_RESERVED..ENTRIES_PER_FRAME {
            t.grant(1, 7, false).unwrap();
        }
        assert_eq!(t.grant(1, 7, false), Err(GrantError::Exhausted));
        t.add_frame(TestMem::new(4096));
        assert_eq!(t.grant(1, 7, false), Ok(ENTRIES_PER_FRAME));
        assert_eq!(
            t.in_use(),
            (2 * ENTRIES_PER_FRAME - NR_RESERVED - (ENTRIES_PER_FRAME - 1)) as usize
        );
    }

    #[test]
    fn a_mapped_grant_cannot_be_ended_or_reused() {
        let mut t = GrantTable::new();
        t.add_frame(TestMem::new(4096));
        let r = t.grant(0, 1, false).unwrap();
        let (mem, off) = t.entry(r);
        // The backend maps it: Xen sets GTF_writing.
        mem.store_u32(off, mem.load_u32(off) | u32::from(GTF_WRITING));
        assert_eq!(t.end(r), Err(GrantError::InUse(r)));
        assert_ne!(t.grant(0, 2, false).unwrap(), r);
        let (mem, off) = t.entry(r);
        mem.store_u32(off, mem.load_u32(off) & !u32::from(GTF_WRITING));
        t.end(r).unwrap();
        assert_eq!(t.end(r), Err(GrantError::NotGranted(r)));
        assert_eq!(t.end(5), Err(GrantError::NotGranted(5)));
        assert_eq!(t.end(100_000), Err(GrantError::NotGranted(100_000)));
        assert_eq!(t.grant(0, 3, false).unwrap(), r);
    }
}
