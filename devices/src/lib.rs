//! The Xen protocol pieces of the runtime, written without `unsafe` and without any
//! knowledge of the platform: shared memory is reached through [`shmem::SharedMem`], so the
//! same code runs in the guest and in host tests, where the test plays the other domain.
//!
//! Everything that another domain wrote is read once, validated, and only then used.

#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod blkfront;
pub mod byte_ring;
pub mod cmdline;
pub mod console;
pub mod gnttab;
pub mod le;
pub mod netfront;
pub mod ring;
pub mod shmem;
pub mod xenbus;
pub mod xenstore;
