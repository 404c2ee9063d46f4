//! The PV console ring, `struct xencons_interface` of Xen's `io/console.h`.
//!
//! One page shared with the console backend (xenconsoled): a 1 KiB input ring that the
//! backend produces into and a 2 KiB output ring that we produce into, each with a free-running
//! `u32` producer and consumer index. After producing, the guest notifies the backend through
//! the console event channel (done by the caller: this module only moves bytes).

use crate::byte_ring::Layout;
use crate::shmem::SharedMem;

/// Size of the `in` ring (backend -> guest).
pub const IN_SIZE: u32 = 1024;
/// Size of the `out` ring (guest -> backend).
pub const OUT_SIZE: u32 = 2048;
/// Offset of `in` in `struct xencons_interface`.
pub const OFF_IN: usize = 0;
/// Offset of `out`.
pub const OFF_OUT: usize = 1024;
/// Offset of `in_cons`.
pub const OFF_IN_CONS: usize = 3072;
/// Offset of `in_prod`.
pub const OFF_IN_PROD: usize = 3076;
/// Offset of `out_cons`.
pub const OFF_OUT_CONS: usize = 3080;
/// Offset of `out_prod`.
pub const OFF_OUT_PROD: usize = 3084;
/// `sizeof(struct xencons_interface)`.
pub const INTERFACE_SIZE: usize = 3088;

pub use crate::byte_ring::Corrupt;

const OUT: Layout =
    Layout { data: OFF_OUT, size: OUT_SIZE, cons: OFF_OUT_CONS, prod: OFF_OUT_PROD };
const IN: Layout = Layout { data: OFF_IN, size: IN_SIZE, cons: OFF_IN_CONS, prod: OFF_IN_PROD };

/// Our side of a console ring. The indices we produce (`out_prod`, `in_cons`) are kept
/// here and only ever written to the page, never read back from it.
#[derive(Debug)]
pub struct ConsoleRing<M> {
    mem: M,
    out_prod: u32,
    in_cons: u32,
}

impl<M: SharedMem> ConsoleRing<M> {
    /// Takes over a console page, continuing from the indices it holds now.
    pub fn new(mem: M) -> Self {
        assert!(mem.size() >= INTERFACE_SIZE, "console page too small");
        let out_prod = mem.load_u32(OFF_OUT_PROD);
        let in_cons = mem.load_u32(OFF_IN_CONS);
        ConsoleRing { mem, out_prod, in_cons }
    }

    /// Bytes written but not yet taken by the backend.
    pub fn pending(&self) -> Result<u32, Corrupt> {
        OUT.in_flight(&self.mem, self.out_prod)
    }

    /// Copies as much of `data` as fits into the output ring and publishes it.
    /// Returns how many bytes were taken; the caller notifies the backend.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Corrupt> {
        OUT.produce(&self.mem, &mut self.out_prod, data)
    }

    /// Copies input the backend produced into `buf`; returns how many bytes.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Corrupt> {
        IN.consume(&self.mem, &mut self.in_cons, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shmem::testing::TestMem;
    use std::vec::Vec;

    fn backend_drain(mem: &TestMem) -> Vec<u8> {
        let cons = mem.load_u32(OFF_OUT_CONS);
        let prod = mem.load_u32(OFF_OUT_PROD);
        let mut out = Vec::new();
        let mut i = cons;
        while i != prod {
            let mut b = [0];
            mem.read(OFF_OUT + (i % OUT_SIZE) as usize, &mut b);
            out.push(b[0]);
            i = i.wrapping_add(1);
        }
        mem.store_u32(OFF_OUT_CONS, prod);
        out
    }

    #[test]
    fn written_bytes_reach_the_backend_across_the_wrap() {
        let mem = TestMem::new(4096);
        // Start just before the index wraps around u32 and the ring's end.
        mem.store_u32(OFF_OUT_PROD, u32::MAX - 5);
        mem.store_u32(OFF_OUT_CONS, u32::MAX - 5);
        let mut ring = ConsoleRing::new(&mem);
        assert_eq!(ring.write(b"hello, world").unwrap(), 12);
        assert_eq!(ring.pending().unwrap(), 12);
        assert_eq!(backend_drain(&mem), b"hello, world");
        assert_eq!(ring.pending().unwrap(), 0);
    }

    #[test]
    fn a_full_ring_takes_only_what_fits() {
        let mem = TestMem::new(4096);
        let mut ring = ConsoleRing::new(&mem);
        let data = [b'x'; 3000];
        assert_eq!(ring.write(&data).unwrap(), OUT_SIZE as usize);
        assert_eq!(ring.write(b"more").unwrap(), 0);
        assert_eq!(backend_drain(&mem).len(), OUT_SIZE as usize);
        assert_eq!(ring.write(b"more").unwrap(), 4);
    }

    #[test]
    fn a_consumer_index_ahead_of_the_producer_is_an_error() {
        let mem = TestMem::new(4096);
        let mut ring = ConsoleRing::new(&mem);
        mem.store_u32(OFF_OUT_CONS, 10);
        assert_eq!(ring.write(b"x"), Err(Corrupt { prod: 0, cons: 10 }));
    }

    #[test]
    fn input_is_read_once_and_bogus_producers_are_refused() {
        let mem = TestMem::new(4096);
        let mut ring = ConsoleRing::new(&mem);
        mem.write(OFF_IN, b"ls\n");
        mem.store_u32(OFF_IN_PROD, 3);
        let mut buf = [0; 8];
        assert_eq!(ring.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"ls\n");
        assert_eq!(mem.load_u32(OFF_IN_CONS), 3);
        assert_eq!(ring.read(&mut buf).unwrap(), 0);
        mem.store_u32(OFF_IN_PROD, 3 + IN_SIZE + 1);
        assert!(ring.read(&mut buf).is_err());
    }
}
