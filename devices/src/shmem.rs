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

#[cfg(test)]
pub(crate) mod testing {
    //! A heap-backed [`SharedMem`] for host tests; the test plays the other domain by
    //! reading and writing the same bytes.
    use super::SharedMem;
    use std::sync::Mutex;
    use std::vec;
    use std::vec::Vec;

    pub struct TestMem(Mutex<Vec<u8>>);

    impl TestMem {
        pub fn new(size: usize) -> Self {
            TestMem(Mutex::new(vec![0; size]))
        }
    }

    impl SharedMem for TestMem {
        fn size(&self) -> usize {
            self.0.lock().unwrap().len()
        }
        fn load_u32(&self, offset: usize) -> u32 {
            let m = self.0.lock().unwrap();
            u32::from_le_bytes(m[offset..offset + 4].try_into().unwrap())
        }
        fn store_u32(&self, offset: usize, value: u32) {
            self.0.lock().unwrap()[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
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
            buf.copy_from_slice(&self.0.lock().unwrap()[offset..offset + buf.len()]);
        }
        fn write(&self, offset: usize, data: &[u8]) {
            self.0.lock().unwrap()[offset..offset + data.len()].copy_from_slice(data);
        }
    }
}
