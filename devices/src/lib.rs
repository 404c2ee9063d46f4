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
pub mod config;
pub mod console_ring;
pub mod gnttab;
pub mod le;
pub mod netfront;
pub mod ring;
pub mod shmem;
pub mod xenbus;
pub mod xenstore;

#[cfg(test)]
mod tests {
    use alloc::string::{String, ToString};

    /// Callers may box any of them as `dyn core::error::Error` and log its message.
    #[test]
    fn every_error_type_is_an_error_with_a_message() {
        fn message(e: impl core::error::Error) -> String {
            e.to_string()
        }
        let ring = crate::ring::RingError::Full;
        let corrupt = crate::byte_ring::Corrupt { prod: 9, cons: 0 };
        let node = crate::blkfront::BackendNode::SectorSize;
        let messages = [
            message(ring),
            message(corrupt),
            message(crate::xenstore::WireError::Ring(corrupt)),
            message(crate::xenstore::XsError::NoEnt),
            message(crate::gnttab::GrantError::InUse(8)),
            message(crate::netfront::NetError::Ring(ring)),
            message(crate::netfront::SendError::BadLength(0)),
            message(crate::blkfront::BlkError::Io(-1)),
            message(crate::blkfront::ProtocolError::BadId(3)),
            message(crate::blkfront::GeometryError::NotANumber(node)),
            message(crate::config::SchemaError { key: "app.x".into(), what: "no type".into() }),
            message(crate::config::KeyError::Repeated { key: "x".into() }),
            message(crate::config::CmdlineError::Help),
        ];
        assert!(messages.iter().all(|m| !m.is_empty()), "{messages:?}");
        assert_eq!(messages[9], "backend node sector-size is not a decimal number in range");
    }
}
