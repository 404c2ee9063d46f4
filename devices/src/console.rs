//! The PV console ring, `struct xencons_interface` of Xen's `io/console.h`.
//!
//! One page shared with the console backend (xenconsoled): a 1 KiB input ring that the
//! backend produces into and a 2 KiB output ring that we produce into, each with a free-running
//! `u32` producer and consumer index. After producing, the guest notifies the backend through
//! the console event channel (done by the caller: this module only moves bytes).

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

/// The backend left indices that cannot be right (more in flight than the ring holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt {
    /// Producer index seen.
    pub prod: u32,
    /// Consumer index seen.
    pub cons: u32,
}

impl core::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "console ring indices corrupt (prod {}, cons {})", self.prod, self.cons)
    }
}

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
        let cons = self.mem.load_u32(OFF_OUT_CONS);
        let used = self.out_prod.wrapping_sub(cons);
        if used > OUT_SIZE {
            return Err(Corrupt { prod: self.out_prod, cons });
        }
        Ok(used)
    }

    /// Copies as much of `data` as fits into the output ring and publishes it.
    /// Returns how many bytes were taken; the caller notifies the backend.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Corrupt> {
        let free = (OUT_SIZE - self.pending()?) as usize;
        let n = free.min(data.len());
        let start = (self.out_prod % OUT_SIZE) as usize;
        let first = n.min(OUT_SIZE as usize - start);
        self.mem.write(OFF_OUT + start, &data[..first]);
        self.mem.write(OFF_OUT, &data[first..n]);
        self.out_prod = self.out_prod.wrapping_add(n as u32);
        self.mem.store_u32(OFF_OUT_PROD, self.out_prod);
        Ok(n)
    }

    /// Copies input the backend produced into `buf`; returns how many bytes.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Corrupt> {
        let prod = self.mem.load_u32(OFF_IN_PROD);
        let avail = prod.wrapping_sub(self.in_cons);
        if avail > IN_SIZE {
            return Err(Corrupt { prod, cons: self.in_cons });
        }
        let n = (avail as usize).min(buf.len());
        let start = (self.in_cons % IN_SIZE) as usize;
        let first = n.min(IN_SIZE as usize - start);
        self.mem.read(OFF_IN + start, &mut buf[..first]);
        self.mem.read(OFF_IN, &mut buf[first..n]);
        self.in_cons = self.in_cons.wrapping_add(n as u32);
        self.mem.store_u32(OFF_IN_CONS, self.in_cons);
        Ok(n)
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
