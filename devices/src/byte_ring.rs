//! A byte ring in shared memory with free-running `u32` producer and consumer indices, as
//! used by the PV console (`io/console.h`) and xenstore (`io/xs_wire.h`): the size is a
//! power of two and an index is reduced modulo the size only to address a byte.
//!
//! Each side keeps its own index privately and only writes it to the page; the other side's
//! index is read once per operation and checked (never more than `size` bytes in flight).

use crate::shmem::SharedMem;

/// Where one direction of a ring lives in the shared page.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub data: usize,
    pub size: u32,
    pub cons: usize,
    pub prod: usize,
}

/// The other side left indices that cannot be right (more in flight than the ring holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt {
    pub prod: u32,
    pub cons: u32,
}

impl core::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ring indices corrupt (prod {}, cons {})", self.prod, self.cons)
    }
}

impl core::error::Error for Corrupt {}

impl Layout {
    /// Bytes produced by us (`prod`) not yet consumed by the other side.
    pub fn in_flight<M: SharedMem>(&self, mem: &M, prod: u32) -> Result<u32, Corrupt> {
        let cons = mem.load_u32(self.cons);
        let used = prod.wrapping_sub(cons);
        if used > self.size {
            return Err(Corrupt { prod, cons });
        }
        Ok(used)
    }

    /// Produces as much of `data` as fits; advances and publishes `prod`. Returns the count.
    pub fn produce<M: SharedMem>(
        &self,
        mem: &M,
        prod: &mut u32,
        data: &[u8],
    ) -> Result<usize, Corrupt> {
        let free = (self.size - self.in_flight(mem, *prod)?) as usize;
        let n = free.min(data.len());
        let start = (*prod % self.size) as usize;
        let first = n.min(self.size as usize - start);
        mem.write(self.data + start, &data[..first]);
        mem.write(self.data, &data[first..n]);
        *prod = prod.wrapping_add(n as u32);
        mem.store_u32(self.prod, *prod);
        Ok(n)
    }

    /// Bytes the other side produced that we (`cons`) have not consumed.
    pub fn available<M: SharedMem>(&self, mem: &M, cons: u32) -> Result<u32, Corrupt> {
        let prod = mem.load_u32(self.prod);
        let avail = prod.wrapping_sub(cons);
        if avail > self.size {
            return Err(Corrupt { prod, cons });
        }
        Ok(avail)
    }

    /// Consumes up to `buf.len()` bytes into `buf`; advances and publishes `cons`.
    pub fn consume<M: SharedMem>(
        &self,
        mem: &M,
        cons: &mut u32,
        buf: &mut [u8],
    ) -> Result<usize, Corrupt> {
        let n = (self.available(mem, *cons)? as usize).min(buf.len());
        let start = (*cons % self.size) as usize;
        let first = n.min(self.size as usize - start);
        mem.read(self.data + start, &mut buf[..first]);
        mem.read(self.data, &mut buf[first..n]);
        *cons = cons.wrapping_add(n as u32);
        mem.store_u32(self.cons, *cons);
        Ok(n)
    }
}
