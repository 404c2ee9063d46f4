//! Access to memory shared with another domain.
//!
//! The other side may change shared memory at any moment, so it is never borrowed as a Rust
//! reference: every access is one load or one store at an offset. Index loads have acquire
//! and index stores release ordering, which gives the read/write barriers that `io/ring.h`
//! asks for around producer and consumer indices.

/// A page (or a few) shared with another domain.
///
/// Offsets are computed by the driver, never taken from the other domain, so an access out
/// of range is a bug in the driver and implementations may panic on it.
pub trait SharedMem {
    /// Size of the region in bytes.
    fn size(&self) -> usize;
    /// Loads a `u32` at `offset` (4-byte aligned) with acquire ordering.
    fn load_u32(&self, offset: usize) -> u32;
    /// Stores a `u32` at `offset` (4-byte aligned) with release ordering.
    fn store_u32(&self, offset: usize, value: u32);
    /// Compare-and-exchange of a `u32` at `offset` (4-byte aligned), sequentially
    /// consistent: `Ok(old)` if it held `current` and now holds `new`, else `Err(actual)`.
    fn cas_u32(&self, offset: usize, current: u32, new: u32) -> Result<u32, u32>;
    /// Copies `buf.len()` bytes out of the region, starting at `offset`.
    fn read(&self, offset: usize, buf: &mut [u8]);
    /// Copies `data` into the region, starting at `offset`.
    fn write(&self, offset: usize, data: &[u8]);
}

impl<T: SharedMem + ?Sized> SharedMem for &T {
    fn size(&self) -> usize {
        (**self).size()
    }
    fn load_u32(&self, offset: usize) -> u32 {
        (**self).load_u32(offset)
    }
    fn store_u32(&self, offset: usize, value: u32) {
        (**self).store_u32(offset, value)
    }
    fn cas_u32(&self, offset: usize, current: u32, new: u32) -> Result<u32, u32> {
        (**self).cas_u32(offset, current, new)
    }
    fn read(&self, offset: usize, buf: &mut [u8]) {
        (**self).read(offset, buf)
    }
    fn write(&self, offset: usize, data: &[u8]) {
        (**self).write(offset, data)
    }
}

/// Equal-sized regions (pages, granted one by one) seen as one: a multi-page ring
/// (`ring-page-order`), whose entries may straddle the pages.
#[derive(Debug)]
pub struct Pages<M> {
    pages: alloc::vec::Vec<M>,
    page: usize,
}

impl<M: SharedMem> Pages<M> {
    /// `pages` must be non-empty and of one size, a multiple of 4.
    pub fn new(pages: alloc::vec::Vec<M>) -> Self {
        let page = pages.first().map_or(0, |p| p.size());
        assert!(page > 0 && page.is_multiple_of(4), "empty pages");
        assert!(pages.iter().all(|p| p.size() == page), "pages of different sizes");
        Pages { pages, page }
    }

    pub fn pages(&self) -> &[M] {
        &self.pages
    }

    pub fn into_pages(self) -> alloc::vec::Vec<M> {
        self.pages
    }

    /// The page holding `offset`, and the offset in it.
    fn at(&self, offset: usize) -> (&M, usize) {
        (&self.pages[offset / self.page], offset % self.page)
    }

    /// Calls `f(page, offset in page, start, end)` for each piece of `offset..offset+len`.
    fn pieces(&self, offset: usize, len: usize, mut f: impl FnMut(&M, usize, usize, usize)) {
        let mut done = 0;
        while done < len {
            let (page, at) = self.at(offset + done);
            let n = (self.page - at).min(len - done);
            f(page, at, done, done + n);
            done += n;
        }
    }
}

impl<M: SharedMem> SharedMem for Pages<M> {
    fn size(&self) -> usize {
        self.page * self.pages.len()
    }
    // A 4-byte aligned u32 never straddles two pages (their size is a multiple of 4).
    fn load_u32(&self, offset: usize) -> u32 {
        let (page, at) = self.at(offset);
        page.load_u32(at)
    }
    fn store_u32(&self, offset: usize, value: u32) {
        let (page, at) = self.at(offset);
        page.store_u32(at, value)
    }
    fn cas_u32(&self, offset: usize, current: u32, new: u32) -> Result<u32, u32> {
        let (page, at) = self.at(offset);
        page.cas_u32(at, current, new)
    }
    fn read(&self, offset: usize, buf: &mut [u8]) {
        self.pieces(offset, buf.len(), |page, at, a, b| page.read(at, &mut buf[a..b]));
    }
    fn write(&self, offset: usize, data: &[u8]) {
        self.pieces(offset, data.len(), |page, at, a, b| page.write(at, &data[a..b]));
    }
}

/// A heap-backed [`SharedMem`] for host tests and the fuzz targets (feature `testing`): the
/// test plays the other domain by reading and writing the same bytes.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use super::SharedMem;
    use crate::le;
    use alloc::vec;
    use alloc::vec::Vec;
    use core::cell::RefCell;

    /// `size` zeroed bytes. Like shared memory it is reached through `&self`; an access out
    /// of range or a misaligned `u32` is a bug in the driver, and panics.
    #[derive(Debug)]
    pub struct TestMem(RefCell<Vec<u8>>);

    impl TestMem {
        pub fn new(size: usize) -> Self {
            TestMem(RefCell::new(vec![0; size]))
        }
    }

    impl SharedMem for TestMem {
        fn size(&self) -> usize {
            self.0.borrow().len()
        }
        fn load_u32(&self, offset: usize) -> u32 {
            assert!(offset.is_multiple_of(4), "unaligned u32 load at {offset}");
            let mut word = [0; 4];
            self.read(offset, &mut word);
            le::u32_at(&word, 0)
        }
        fn store_u32(&self, offset: usize, value: u32) {
            assert!(offset.is_multiple_of(4), "unaligned u32 store at {offset}");
            let mut word = [0; 4];
            le::put_u32(&mut word, 0, value);
            self.write(offset, &word);
        }
        fn cas_u32(&self, offset: usize, current: u32, new: u32) -> Result<u32, u32> {
            let v = self.load_u32(offset);
            if v != current {
                return Err(v);
            }
            self.store_u32(offset, new);
            Ok(v)
        }
        fn read(&self, offset: usize, buf: &mut [u8]) {
            buf.copy_from_slice(&self.0.borrow()[offset..offset + buf.len()]);
        }
        fn write(&self, offset: usize, data: &[u8]) {
            self.0.borrow_mut()[offset..offset + data.len()].copy_from_slice(data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::TestMem;
    use super::{Pages, SharedMem};

    #[test]
    fn pages_read_and_write_across_page_boundaries() {
        let p = Pages::new(std::vec![TestMem::new(16), TestMem::new(16), TestMem::new(16)]);
        assert_eq!(p.size(), 48);
        let data: std::vec::Vec<u8> = (0..40).collect();
        p.write(5, &data);
        let mut back = [0u8; 40];
        p.read(5, &mut back);
        assert_eq!(&back[..], &data[..]);
        // The bytes landed in the right pages.
        let mut first = [0u8; 4];
        p.pages()[1].read(0, &mut first);
        assert_eq!(first, [11, 12, 13, 14]);
        p.store_u32(16, 0xdead_beef);
        assert_eq!(p.pages()[1].load_u32(0), 0xdead_beef);
        assert_eq!(p.cas_u32(16, 0xdead_beef, 7), Ok(0xdead_beef));
        assert_eq!(p.load_u32(16), 7);
    }
}
