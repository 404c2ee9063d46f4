//! Free heap memory handed back to Xen around a suspend, so that `xl save` and `xl migrate`
//! copy only the memory in use (the toolstack skips frames with no memory behind them), and
//! taken again as soon as the domain runs on, in place or in a new domain.

use super::heap;
use crate::xen::memory;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::ptr::NonNull;

const PAGE: usize = 4096;
/// The heap is emptied in blocks of this size: one hypercall each, and the block's frames
/// hold nothing of the allocator's (its tags sit outside the bytes it hands out).
const BLOCK: usize = 256 << 10;
const FRAMES: usize = BLOCK / PAGE;
/// Left in the heap for what runs between the suspend and the reclaim.
const KEEP: usize = 1 << 20;

/// Blocks taken out of the heap whose frames Xen has back (their addresses: the suspend
/// task holds them across awaits, so they must be `Send`).
pub(crate) struct Released {
    blocks: Vec<usize>,
}

impl Released {
    pub(crate) fn bytes(&self) -> usize {
        self.blocks.len() * BLOCK
    }
}

fn layout() -> Layout {
    // BLOCK is a non-zero multiple of PAGE, a power of two.
    Layout::from_size_align(BLOCK, PAGE).expect("BLOCK and PAGE make a layout")
}

fn frames(block: NonNull<u8>) -> [u64; FRAMES] {
    // RAM is identity-mapped: a heap address is its physical address.
    let base = block.as_ptr() as u64 >> 12;
    core::array::from_fn(|i| base + i as u64)
}

/// Takes all but [`KEEP`] of the free heap and hands its frames to Xen.
pub(crate) fn release() -> Released {
    let want = super::stats().available.saturating_sub(KEEP) / BLOCK;
    let mut blocks = Vec::new();
    if blocks.try_reserve_exact(want).is_err() {
        return Released { blocks };
    }
    while blocks.len() < want {
        let Some(block) = heap::take(layout()) else { break };
        let mut gfns = frames(block);
        // SAFETY: the block was just taken from the heap and is used by nothing; it stays
        // out of the heap until `reclaim` has put memory behind its frames again.
        match unsafe { memory::decrease(&mut gfns) } {
            Ok(n) if n == FRAMES => blocks.push(block.as_ptr() as usize),
            given => {
                let n = *given.as_ref().unwrap_or(&0);
                log::warn!("XENMEM_decrease_reservation: {given:?} of {FRAMES} frames");
                give_back(block, &mut gfns[..n], n);
                break;
            }
        }
    }
    Released { blocks }
}

/// Puts memory behind the released frames again and returns the blocks to the heap.
pub(crate) fn reclaim(released: Released) {
    let mut lost = 0;
    for addr in released.blocks {
        let Some(block) = NonNull::new(addr as *mut u8) else { continue };
        let mut gfns = frames(block);
        if !give_back(block, &mut gfns, FRAMES) {
            lost += BLOCK;
        }
    }
    if lost > 0 {
        log::error!("Xen gave {} KiB back only in part: the heap is that much smaller", lost >> 10);
    }
}

/// Populates `gfns` (the first `given` frames of `block` that Xen took) and returns the
/// block to the heap; a block with a frame still empty stays out of it for good.
fn give_back(block: NonNull<u8>, gfns: &mut [u64], given: usize) -> bool {
    let populated = if given == 0 { Ok(0) } else { memory::populate(&mut gfns[..given]) };
    if populated != Ok(given) {
        log::warn!("XENMEM_populate_physmap: {populated:?} of {given} frames");
        return false;
    }
    // SAFETY: the block came from heap::take with layout(), nothing uses it, and every
    // frame of it has memory behind it (those never taken, and those populated just now).
    unsafe { heap::put(block, layout()) };
    true
}
