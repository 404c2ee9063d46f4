//! What the fuzz targets share: memory that plays the other domain's view of a page, and
//! a reader that turns the fuzzer's bytes into choices.

use devices::shmem::SharedMem;
use std::cell::RefCell;

/// A page (or ring) shared with the simulated backend: the front and the harness reach
/// the same bytes, the front through [`SharedMem`] only.
pub struct Mem(RefCell<Vec<u8>>);

impl Mem {
    pub fn new(size: usize) -> Self {
        Mem(RefCell::new(vec![0; size]))
    }
}

impl SharedMem for Mem {
    fn size(&self) -> usize {
        self.0.borrow().len()
    }
    fn load_u32(&self, offset: usize) -> u32 {
        assert!(offset.is_multiple_of(4), "unaligned u32 load at {offset}");
        let m = self.0.borrow();
        u32::from_le_bytes(m[offset..offset + 4].try_into().unwrap())
    }
    fn store_u32(&self, offset: usize, value: u32) {
        assert!(offset.is_multiple_of(4), "unaligned u32 store at {offset}");
        self.0.borrow_mut()[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
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

/// The fuzzer's input as a stream of choices; zeros once it runs out.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | u32::from(self.u16()) << 16
    }

    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }

    /// One of `choices`.
    pub fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[usize::from(self.u8()) % choices.len()]
    }
}
