//! The global allocator: talc over every usable RAM range.

use core::ops::Range;
use talc::{ErrOnOom, Span, Talc, Talck};

#[global_allocator]
static HEAP: Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();

/// Hands `range` to the allocator; returns the bytes it can use.
///
/// # Safety
/// `range` must be mapped read+write, unused by anything else, and stay so for the whole run.
pub unsafe fn claim(range: Range<u64>) -> u64 {
    let span = Span::new(range.start as *mut u8, range.end as *mut u8);
    // SAFETY: the caller hands over exclusive use of mapped memory for the rest of the run.
    match unsafe { HEAP.lock().claim(span) } {
        Ok(s) => s.size() as u64,
        Err(()) => 0,
    }
}
