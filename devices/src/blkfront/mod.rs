//! blkfront (`io/blkif.h`): reads, writes, flushes and discards of a virtual disk over one
//! ring shared with blkback.
//!
//! # How the kernel drives it
//!
//! 1. Grant a ring page and a pool of pages to the backend, read-write (see *Pages*), and make
//!    the [`Blkfront`] ([`Blkfront::new`] initialises the ring). Publish `ring-ref`,
//!    `event-channel`, `protocol` and [`FRONTEND_NODES`], and go to Initialised.
//! 2. Once the backend is Connected, read its [`Geometry::BACKEND_NODES`], parse them with
//!    [`Geometry::parse`] (hostile values are refused), hand the result to
//!    [`Blkfront::set_info`], and go to Connected.
//! 3. Start operations with [`read`](Blkfront::read), [`write`](Blkfront::write),
//!    [`flush`](Blkfront::flush) or [`discard`](Blkfront::discard). Each one is checked (bounds,
//!    alignment, read-only, features) and then queued at once, whatever its size, and returns
//!    an [`OpId`]. As many of its ring requests as fit are pushed at once, and the rest as
//!    responses free room. After starting one, notify the event channel if
//!    [`take_notify`](Blkfront::take_notify) says so.
//! 4. On every event from the backend, call [`poll`](Blkfront::poll). It takes the responses and
//!    returns the operations that completed: a read's data is in its `Ok(Vec<u8>)`, other
//!    operations give an empty `Vec`. It also pushes requests that were waiting for room and
//!    re-arms the event (`RING_FINAL_CHECK_FOR_RESPONSES`). Then check `take_notify` again.
//! 5. After the disconnect, [`into_parts`](Blkfront::into_parts) gives back the ring, every page
//!    (to end their grants) and the operations that never completed.
//!
//! # Requests and pages
//!
//! Operations are split into ring requests of whole pages. Each page is one segment. A direct
//! `blkif_request` has up to [`MAX_SEGMENTS`] (11) segments, 44 KiB. When the backend offers
//! `feature-max-indirect-segments`, larger requests are `BLKIF_OP_INDIRECT` with up to that many
//! segments, capped at [`INDIRECT_REQUEST_SEGMENTS`] and at half the pool. The segment list of
//! an indirect request is in indirect pages, also taken from the pool. Each request's id is its
//! slot in the in-flight table plus a sequence number, so a late or duplicated response cannot
//! complete a newer request that reuses the slot.
//!
//! Every page is granted once and reused for the whole connection. A request borrows pages
//! from the pool (last freed, first reused, as blkif.h advises). A write's data is copied into
//! them, and a read's data is copied out once its response arrives. Then the pages go back to
//! the pool. Because the grants never change, we advertise `feature-persistent`, and a backend
//! that offers it too keeps them mapped. It then maps them writable even for writes (blkif.h
//! note 8), so the pages must be granted read-write.
//!
//! # Units
//!
//! Every sector quantity on the wire (`sector_number`, `first_sect`/`last_sect`, a discard's
//! `nr_sectors`) and the backend's `sectors` node count 512-byte units, whatever `sector-size`
//! says. That is what Linux's blkback and blkfront do. blkif.h now says these count
//! `sector-size` units, but only for a frontend that writes `feature-large-sector-size`, and we
//! don't. `sector-size` is the disk's logical block size, and the caller's offsets and lengths
//! must be multiples of it.
//!
//! # Trust
//!
//! Each response is copied out of the ring once and checked before it is used: its id must be
//! a request in flight, with the same sequence number, and its operation must be the
//! request's. A backend that breaks the protocol (a bad id, a duplicate, a wrong operation, a
//! producer index running ahead) is not trusted any more, as in Linux's blkfront. The front
//! stops. Every queued or in-flight operation fails with [`BlkError::Protocol`], and so does
//! every later one. Pages still lent to the backend are never reused: they come back only from
//! [`into_parts`](Blkfront::into_parts). Recovery means reconnecting the device.
//!
//! # Durability, as the protocol defines it
//!
//! A completed write is in the backend's hands. It is not necessarily on stable storage: the
//! backend or the disk under it may cache it. A write is durable only after a flush completes
//! (`BLKIF_OP_FLUSH_DISKCACHE`, or `BLKIF_OP_WRITE_BARRIER` where only that is offered), and
//! that flush must have been issued after the write completed. Requests on the ring may be
//! served in any order, so a flush does not cover writes in flight beside it. Here, a flush is
//! pushed only once every request queued before it has completed. A completed
//! [`flush`](Blkfront::flush) therefore makes every write started before it durable (if those
//! writes succeeded). A disk with neither feature cannot promise durability, and `flush`
//! returns [`BlkError::NotSupported`].

mod front;
mod geometry;
#[cfg(test)]
mod tests;
mod wire;

pub use crate::netfront::Buffer;
pub use front::{
    BlkError, Blkfront, Completion, OpId, ProtocolError, Stats, INDIRECT_REQUEST_SEGMENTS,
    MAX_INDIRECT_SEGMENTS,
};
pub use geometry::{
    BackendNode, Geometry, GeometryError, Info, FRONTEND_NODES, VDISK_CDROM, VDISK_READONLY,
    VDISK_REMOVABLE,
};
// The wire format's constants (offsets, operations, statuses) are part of the API: the
// fuzz targets and tests play blkback with them.
pub use wire::*;
