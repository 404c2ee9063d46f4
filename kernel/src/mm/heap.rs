//! The global allocator: talc over every usable RAM range, with counters (size, bytes in
//! use, peak, failed allocations) that `mm::stats` reports and that the network stack
//! reads to refuse new work before memory runs out.

use core::alloc::{GlobalAlloc, Layout};
use core::ops::Range;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use talc::{ErrOnOom, Span, Talc, Talck};

struct Counted {
    talc: Talck<spin::Mutex<()>, ErrOnOom>,
    used: AtomicUsize,
    peak: AtomicUsize,
    failed: AtomicU64,
}

#[global_allocator]
static HEAP: Counted = Counted {
    talc: Talc::new(ErrOnOom).lock(),
    used: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
    failed: AtomicU64::new(0),
};

impl Counted {
    fn grew(&self, bytes: usize) {
        let used = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(used, Ordering::Relaxed);
    }

    /// Counts the outcome of an allocation of `size` bytes that returned `p`.
    fn allocated(&self, p: *mut u8, size: usize) -> *mut u8 {
        if p.is_null() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.grew(size);
        }
        p
    }
}

// SAFETY: every call is forwarded to talc's GlobalAlloc with the caller's arguments
// unchanged; the counters only observe the results.
unsafe impl GlobalAlloc for Counted {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded; the caller upholds GlobalAlloc::alloc's contract.
        self.allocated(unsafe { self.talc.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for alloc.
        self.allocated(unsafe { self.talc.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded; `ptr` came from this allocator with `layout`.
        unsafe { self.talc.dealloc(ptr, layout) };
        self.used.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded; the caller upholds GlobalAlloc::realloc's contract.
        let p = unsafe { self.talc.realloc(ptr, layout, new_size) };
        if p.is_null() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        } else if new_size >= layout.size() {
            self.grew(new_size - layout.size());
        } else {
            self.used.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        p
    }
}

/// Hands `range` to the allocator; returns the bytes it can use.
///
/// # Safety
/// `range` must be mapped read+write, unused by anything else, and stay so for the whole run.
pub unsafe fn claim(range: Range<u64>) -> u64 {
    let span = Span::new(range.start as *mut u8, range.end as *mut u8);
    // SAFETY: the caller hands over exclusive use of mapped memory for the rest of the run.
    match unsafe { HEAP.talc.lock().claim(span) } {
        Ok(s) => s.size() as u64,
        Err(()) => 0,
    }
}

/// (size, used, peak, failed, available) of the heap; `available` is talc's count of bytes
/// it can still hand out (less than size - used: every allocation costs a header, and
/// page-aligned ones padding).
pub fn counters() -> (usize, usize, usize, u64, usize) {
    let h = &HEAP;
    let talc = *h.talc.lock().get_counters();
    (
        talc.claimed_bytes,
        h.used.load(Ordering::Relaxed),
        h.peak.load(Ordering::Relaxed),
        h.failed.load(Ordering::Relaxed),
        talc.available_bytes,
    )
}
