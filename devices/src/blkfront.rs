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

use crate::ring::{FrontRing, RingError};
use crate::shmem::SharedMem;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;

pub use crate::netfront::Buffer;

pub const PAGE_SIZE: usize = 4096;
/// The unit of every sector quantity on the wire (see *Units*).
pub const WIRE_SECTOR: usize = 512;
/// A ring slot: `union blkif_sring_entry`, the size of `struct blkif_request`.
pub const SLOT: usize = 112;
/// `BLKIF_MAX_SEGMENTS_PER_REQUEST`: segments in a direct request.
pub const MAX_SEGMENTS: usize = 11;
/// `BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST`: entries of `indirect_grefs`.
pub const MAX_INDIRECT_PAGES: usize = 8;
/// `struct blkif_request_segment` entries in one indirect page.
pub const SEGMENTS_PER_INDIRECT_PAGE: usize = PAGE_SIZE / SEG_SIZE;
/// The most segments we put in one indirect request: 1 MiB, also Linux blkback's limit
/// (one indirect page).
pub const MAX_INDIRECT_SEGMENTS: u32 = 256;
/// Segments we put in one indirect request even when the backend takes more: 128 KiB, as
/// Linux's blkfront does by default. Smaller requests keep more of them in flight, so the
/// backend works on one while we copy another (`bench blk`: within the noise of requests
/// of half the pool, about 100 MiB/s sequential either way, as the Linux guest).
pub const INDIRECT_REQUEST_SEGMENTS: usize = 32;

/// Offsets in `struct blkif_request` (read, write, flush, barrier).
pub const REQ_OPERATION: usize = 0;
pub const REQ_NR_SEGMENTS: usize = 1;
pub const REQ_HANDLE: usize = 2;
pub const REQ_ID: usize = 8;
pub const REQ_SECTOR: usize = 16;
pub const REQ_SEG: usize = 24;
/// `struct blkif_request_segment`, in a request or in an indirect page.
pub const SEG_SIZE: usize = 8;
pub const SEG_GREF: usize = 0;
pub const SEG_FIRST: usize = 4;
pub const SEG_LAST: usize = 5;
/// Offsets in `struct blkif_request_discard`.
pub const DISCARD_OPERATION: usize = 0;
pub const DISCARD_FLAG: usize = 1;
pub const DISCARD_HANDLE: usize = 2;
pub const DISCARD_ID: usize = 8;
pub const DISCARD_SECTOR: usize = 16;
pub const DISCARD_NR_SECTORS: usize = 24;
pub const DISCARD_SIZE: usize = 32;
/// Offsets in `struct blkif_request_indirect`. `handle` comes after `sector_number` here,
/// not at offset 2 as in the other requests.
pub const IND_OPERATION: usize = 0;
pub const IND_OP: usize = 1;
pub const IND_NR_SEGMENTS: usize = 2;
pub const IND_ID: usize = 8;
pub const IND_SECTOR: usize = 16;
pub const IND_HANDLE: usize = 24;
pub const IND_GREFS: usize = 28;
pub const IND_SIZE: usize = 64;
/// Offsets in `struct blkif_response`.
pub const RSP_ID: usize = 0;
pub const RSP_OPERATION: usize = 8;
pub const RSP_STATUS: usize = 10;
pub const RSP_SIZE: usize = 16;

pub const OP_READ: u8 = 0;
pub const OP_WRITE: u8 = 1;
pub const OP_WRITE_BARRIER: u8 = 2;
pub const OP_FLUSH_DISKCACHE: u8 = 3;
pub const OP_DISCARD: u8 = 5;
pub const OP_INDIRECT: u8 = 6;
/// `BLKIF_DISCARD_SECURE`, in a discard's `flag` (only if the backend has `discard-secure`).
pub const DISCARD_SECURE: u8 = 1;
pub const RSP_OKAY: i16 = 0;
pub const RSP_ERROR: i16 = -1;
pub const RSP_EOPNOTSUPP: i16 = -2;
/// Bits of the backend's `info` node.
pub const VDISK_CDROM: u32 = 1;
pub const VDISK_REMOVABLE: u32 = 2;
pub const VDISK_READONLY: u32 = 4;

/// Nodes the frontend writes in its own directory along with `ring-ref` and
/// `event-channel`: we always reuse the same grants.
pub const FRONTEND_NODES: &[(&str, &str)] = &[("feature-persistent", "1")];

/// The disk as every backend describes it: size, sector size, access, cache control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// Capacity in 512-byte units (see *Units*).
    pub sectors: u64,
    /// Logical sector size: offsets and lengths are multiples of it.
    pub sector_size: u32,
    pub read_only: bool,
    /// `feature-flush-cache`: BLKIF_OP_FLUSH_DISKCACHE.
    pub flush: bool,
    /// `feature-barrier`: BLKIF_OP_WRITE_BARRIER.
    pub barrier: bool,
    /// `feature-discard`: BLKIF_OP_DISCARD.
    pub discard: bool,
}

impl Info {
    /// Like [`Geometry::parse`], keeping only the [`Info`] part.
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> Result<Info, GeometryError> {
        Geometry::parse(get).map(|g| g.info)
    }

    /// Size in bytes.
    pub fn capacity(&self) -> u64 {
        self.sectors.saturating_mul(WIRE_SECTOR as u64)
    }
}

/// Everything the backend tells us about the disk: [`Info`] plus the optional properties
/// and features. An [`Info`] converts into a `Geometry` with all of those absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub info: Info,
    /// `physical-sector-size`: writes of this size and alignment spare the backend a
    /// read-modify-write. A power of two, at least `sector_size`.
    pub physical_sector_size: u32,
    /// `discard-granularity` and `discard-alignment`, in bytes. They are only advice: a
    /// discard of a smaller or misaligned extent may leave the data as it was.
    pub discard_granularity: u32,
    pub discard_alignment: u32,
    /// `discard-secure`: the backend honours [`DISCARD_SECURE`].
    pub discard_secure: bool,
    /// `feature-max-indirect-segments`, capped at [`MAX_INDIRECT_SEGMENTS`]. 0: direct requests
    /// only.
    pub max_indirect_segments: u32,
    /// `feature-persistent`: the backend keeps our grants mapped.
    pub persistent: bool,
}

impl From<Info> for Geometry {
    fn from(info: Info) -> Geometry {
        Geometry {
            info,
            physical_sector_size: info.sector_size,
            discard_granularity: info.sector_size,
            discard_alignment: 0,
            discard_secure: false,
            max_indirect_segments: 0,
            persistent: false,
        }
    }
}

/// A backend node that cannot be right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryError {
    /// A required node is absent.
    Missing(&'static str),
    /// A node is not a decimal number of its type's range.
    NotANumber(&'static str),
    /// `sectors` is 0.
    ZeroSectors,
    /// `sectors` × 512 does not fit in 64 bits.
    TooLarge(u64),
    /// `sector-size` is not a power of two from 512 to 4096.
    BadSectorSize(u64),
    /// `physical-sector-size` is not a power of two at least `sector-size`.
    BadPhysicalSectorSize(u64),
}

impl core::fmt::Display for GeometryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GeometryError::Missing(k) => write!(f, "backend node {k} is missing"),
            GeometryError::NotANumber(k) => {
                write!(f, "backend node {k} is not a decimal number in range")
            }
            GeometryError::ZeroSectors => f.write_str("the disk has 0 sectors"),
            GeometryError::TooLarge(n) => write!(f, "{n} sectors is more than 2^64 bytes"),
            GeometryError::BadSectorSize(n) => {
                write!(f, "sector-size {n} is not a power of two from 512 to 4096")
            }
            GeometryError::BadPhysicalSectorSize(n) => {
                write!(f, "physical-sector-size {n} is not a power of two at least sector-size")
            }
        }
    }
}

impl Geometry {
    /// The backend nodes [`parse`](Self::parse) reads.
    pub const BACKEND_NODES: &'static [&'static str] = &[
        "sectors",
        "sector-size",
        "physical-sector-size",
        "info",
        "mode",
        "feature-flush-cache",
        "feature-barrier",
        "feature-discard",
        "discard-granularity",
        "discard-alignment",
        "discard-secure",
        "feature-max-indirect-segments",
        "feature-persistent",
    ];

    /// Parses the backend's nodes. `get(key)` gives a node's text, or `None` if it is absent.
    /// Only `sectors` is required. `sector-size` defaults to 512. Absent features are off.
    /// A boolean is on if its number is not 0, as Linux reads it. Values that cannot be right
    /// are refused: text that is not a number, 0 sectors, a capacity of 2^64 bytes or more, a
    /// bad sector size.
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> Result<Geometry, GeometryError> {
        let num = |key: &'static str, max: u64| match get(key) {
            None => Ok(None),
            Some(text) => match text.trim_end_matches('\0').trim().parse::<u64>() {
                Ok(n) if n <= max => Ok(Some(n)),
                _ => Err(GeometryError::NotANumber(key)),
            },
        };
        let u32_node = |key| num(key, u64::from(u32::MAX)).map(|n| n.map(|n| n as u32));
        let flag = |key| num(key, u64::MAX).map(|n| n.is_some_and(|n| n != 0));

        let sectors = num("sectors", u64::MAX)?.ok_or(GeometryError::Missing("sectors"))?;
        if sectors == 0 {
            return Err(GeometryError::ZeroSectors);
        }
        if sectors.checked_mul(WIRE_SECTOR as u64).is_none() {
            return Err(GeometryError::TooLarge(sectors));
        }
        let sector_size = u32_node("sector-size")?.unwrap_or(512);
        if !(512..=4096).contains(&sector_size) || !sector_size.is_power_of_two() {
            return Err(GeometryError::BadSectorSize(sector_size.into()));
        }
        let physical = u32_node("physical-sector-size")?.unwrap_or(sector_size);
        if !physical.is_power_of_two() || physical < sector_size {
            return Err(GeometryError::BadPhysicalSectorSize(physical.into()));
        }
        let vdisk = u32_node("info")?.unwrap_or(0);
        let mode_ro = get("mode").is_some_and(|m| m.trim_end_matches('\0') == "r");
        let info = Info {
            sectors,
            sector_size,
            read_only: vdisk & VDISK_READONLY != 0 || mode_ro,
            flush: flag("feature-flush-cache")?,
            barrier: flag("feature-barrier")?,
            discard: flag("feature-discard")?,
        };
        Ok(Geometry {
            info,
            physical_sector_size: physical,
            discard_granularity: match u32_node("discard-granularity")? {
                None | Some(0) => sector_size,
                Some(g) => g,
            },
            discard_alignment: u32_node("discard-alignment")?.unwrap_or(0),
            discard_secure: flag("discard-secure")?,
            max_indirect_segments: u32_node("feature-max-indirect-segments")?
                .unwrap_or(0)
                .min(MAX_INDIRECT_SEGMENTS),
            persistent: flag("feature-persistent")?,
        })
    }
}

/// Why an operation was refused or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlkError {
    /// Offset or length not a multiple of the sector size, or empty.
    Unaligned,
    /// Beyond the end of the disk.
    OutOfRange,
    ReadOnly,
    /// The backend offers no such operation (no flush/barrier, no discard), or answered
    /// BLKIF_RSP_EOPNOTSUPP.
    NotSupported,
    /// The backend answered BLKIF_RSP_ERROR, or a status it should not use (given here).
    Io(i16),
    /// The backend broke the protocol; the disk is unusable until reconnected.
    Protocol,
    /// The device was disconnected before the operation completed.
    Disconnected,
}

impl core::fmt::Display for BlkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BlkError::Unaligned => {
                f.write_str("offset or length not a multiple of the sector size")
            }
            BlkError::OutOfRange => f.write_str("beyond the end of the disk"),
            BlkError::ReadOnly => f.write_str("the disk is read-only"),
            BlkError::NotSupported => f.write_str("operation not supported by the backend"),
            BlkError::Io(s) => write!(f, "I/O error reported by the backend (status {s})"),
            BlkError::Protocol => f.write_str("the backend broke the protocol"),
            BlkError::Disconnected => f.write_str("disk disconnected"),
        }
    }
}

/// A response that broke the protocol. After one, the front stops (see *Trust*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    Ring(RingError),
    /// An id that is not in flight: out of range, never used, or already answered.
    BadId(u64),
    /// The response's operation is not the request's.
    WrongOperation {
        id: u64,
        op: u8,
    },
}

impl From<RingError> for ProtocolError {
    fn from(e: RingError) -> Self {
        ProtocolError::Ring(e)
    }
}

impl core::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProtocolError::Ring(e) => write!(f, "{e}"),
            ProtocolError::BadId(id) => {
                write!(f, "response for id {id:#x}, which is not in flight")
            }
            ProtocolError::WrongOperation { id, op } => {
                write!(f, "response for id {id:#x} names operation {op}, not the request's")
            }
        }
    }
}

/// Counters, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Ring requests pushed, and how many of them were indirect.
    pub requests: u64,
    pub indirect_requests: u64,
    /// Bytes of reads and writes that completed successfully.
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Operations the backend failed (status not OKAY).
    pub failed_ops: u64,
    pub protocol_errors: u64,
}

/// Names an operation from its start to its completion.
pub type OpId = u64;
/// A completed operation: a read's data, an empty `Vec` for the others, or why it failed.
pub type Completion = (OpId, Result<Vec<u8>, BlkError>);

/// Bits of a request id that hold its slot in the in-flight table; the rest is a sequence
/// number.
const SLOT_BITS: u32 = 16;

#[derive(Debug)]
struct Op {
    kind: u8,
    /// A read's result, filled as its requests complete, or the data of a write.
    data: Vec<u8>,
    /// Requests not yet completed, queued or in flight.
    pending: usize,
    error: Option<BlkError>,
}

/// One ring request, not yet pushed.
#[derive(Debug, Clone, Copy)]
struct Req {
    op: OpId,
    kind: u8,
    /// The first 512-byte sector on the disk.
    sector: u64,
    /// Read or write: bytes `[at, at + len)` of its op's data. Discard: `len` bytes.
    at: usize,
    len: usize,
}

impl Req {
    fn segments(&self) -> usize {
        match self.kind {
            OP_READ | OP_WRITE => self.len.div_ceil(PAGE_SIZE),
            _ => 0,
        }
    }

    fn indirect_pages(&self) -> usize {
        match self.segments() {
            s if s > MAX_SEGMENTS => s.div_ceil(SEGMENTS_PER_INDIRECT_PAGE),
            _ => 0,
        }
    }
}

/// A pushed request and the pages lent with it.
#[derive(Debug)]
struct InFlight {
    id: u64,
    req: Req,
    data: Vec<u16>,
    indirect: Vec<u16>,
}

/// The frontend of one vbd: its ring, its pool of granted pages, and the operations under way.
pub struct Blkfront<R, B> {
    ring: FrontRing<R>,
    geometry: Geometry,
    handle: u16,
    pages: Vec<Buffer<B>>,
    /// Indices into `pages`, used as a stack (LIFO).
    free: Vec<u16>,
    /// By slot (the low bits of the request id).
    in_flight: Vec<Option<InFlight>>,
    seq: u64,
    queue: VecDeque<Req>,
    ops: BTreeMap<OpId, Op>,
    next_op: OpId,
    notify: bool,
    broken: Option<ProtocolError>,
    pub stats: Stats,
}

impl<R: SharedMem, B: SharedMem> Blkfront<R, B> {
    /// A front over a fresh ring page and a pool of at least 11 granted pages (at most
    /// 65536). `handle` is the vbd's device number, the last part of its xenstore path.
    pub fn new(ring: R, pages: Vec<Buffer<B>>, geometry: impl Into<Geometry>, handle: u16) -> Self {
        assert!(pages.len() >= MAX_SEGMENTS && pages.len() <= 1 << 16);
        let ring = FrontRing::init(ring, SLOT);
        let slots = ring.size() as usize;
        Blkfront {
            ring,
            geometry: geometry.into(),
            handle,
            free: (0..pages.len() as u32).rev().map(|i| i as u16).collect(),
            pages,
            in_flight: (0..slots).map(|_| None).collect(),
            seq: 0,
            queue: VecDeque::new(),
            ops: BTreeMap::new(),
            next_op: 1,
            notify: false,
            broken: None,
            stats: Stats::default(),
        }
    }

    /// Sets the disk's geometry and features (an [`Info`] or a whole [`Geometry`]). The
    /// backend publishes them when it is Connected, after it mapped the ring, which is why
    /// they are not given to [`new`](Self::new).
    pub fn set_info(&mut self, geometry: impl Into<Geometry>) {
        self.geometry = geometry.into();
    }

    pub fn info(&self) -> Info {
        self.geometry.info
    }

    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Segments per request: 11 direct, or more with indirect requests. An indirect request
    /// takes at most half the pool, so that one is filled while another is served.
    fn max_segments(&self) -> usize {
        let indirect = (self.geometry.max_indirect_segments.min(MAX_INDIRECT_SEGMENTS) as usize)
            .min(INDIRECT_REQUEST_SEGMENTS)
            .min(self.pages.len() / 2 - 1);
        indirect.max(MAX_SEGMENTS)
    }

    fn admit(&self, writes: bool) -> Result<(), BlkError> {
        if self.broken.is_some() {
            Err(BlkError::Protocol)
        } else if writes && self.geometry.info.read_only {
            Err(BlkError::ReadOnly)
        } else {
            Ok(())
        }
    }

    fn check(&self, offset: u64, len: usize) -> Result<(), BlkError> {
        let ss = u64::from(self.geometry.info.sector_size);
        if len == 0 || !offset.is_multiple_of(ss) || !(len as u64).is_multiple_of(ss) {
            return Err(BlkError::Unaligned);
        }
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.geometry.info.capacity() => Ok(()),
            _ => Err(BlkError::OutOfRange),
        }
    }

    /// Queues an operation as requests of `step` bytes (one request if `step` is 0).
    fn start(&mut self, kind: u8, offset: u64, data: Vec<u8>, len: usize, step: usize) -> OpId {
        let op = self.next_op;
        self.next_op += 1;
        let mut at = 0;
        let mut pending = 0;
        loop {
            let this = if step == 0 { len } else { (len - at).min(step) };
            let sector = (offset + at as u64) / WIRE_SECTOR as u64;
            self.queue.push_back(Req { op, kind, sector, at, len: this });
            pending += 1;
            at += this;
            if at >= len {
                break;
            }
        }
        self.ops.insert(op, Op { kind, data, pending, error: None });
        self.pump();
        op
    }

    /// Starts a read of `len` bytes at byte `offset`; its data comes back from
    /// [`poll`](Self::poll).
    pub fn read(&mut self, offset: u64, len: usize) -> Result<OpId, BlkError> {
        self.admit(false)?;
        self.check(offset, len)?;
        let step = self.max_segments() * PAGE_SIZE;
        Ok(self.start(OP_READ, offset, alloc::vec![0; len], len, step))
    }

    /// Starts a write of `data` at byte `offset` (the data is copied: the caller keeps
    /// `data`). It is durable only after a later [`flush`](Self::flush) completes.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<OpId, BlkError> {
        self.admit(true)?;
        self.check(offset, data.len())?;
        let step = self.max_segments() * PAGE_SIZE;
        Ok(self.start(OP_WRITE, offset, data.to_vec(), data.len(), step))
    }

    /// Starts a flush of the backend's cache, or a barrier where that is all it offers.
    /// It covers every write started before it (see *Durability*).
    pub fn flush(&mut self) -> Result<OpId, BlkError> {
        self.admit(false)?;
        let kind = match self.geometry.info {
            Info { flush: true, .. } => OP_FLUSH_DISKCACHE,
            Info { barrier: true, .. } => OP_WRITE_BARRIER,
            _ => return Err(BlkError::NotSupported),
        };
        Ok(self.start(kind, 0, Vec::new(), 0, 0))
    }

    /// Starts a discard of `len` bytes at `offset`: the backend may forget them, and they
    /// read back as zeros or as before.
    pub fn discard(&mut self, offset: u64, len: usize) -> Result<OpId, BlkError> {
        self.admit(true)?;
        if !self.geometry.info.discard {
            return Err(BlkError::NotSupported);
        }
        self.check(offset, len)?;
        Ok(self.start(OP_DISCARD, offset, Vec::new(), len, 0))
    }

    /// Pushes queued requests, in order, while ring slots and pages last. A flush waits
    /// until nothing is in flight.
    fn pump(&mut self) {
        let mut pushed = false;
        while let Some(&req) = self.queue.front() {
            let Some(slot) = self.in_flight.iter().position(Option::is_none) else { break };
            let flush = matches!(req.kind, OP_FLUSH_DISKCACHE | OP_WRITE_BARRIER);
            if self.ring.free_requests() == 0
                || self.free.len() < req.segments() + req.indirect_pages()
                || (flush && self.in_flight.iter().any(Option::is_some))
            {
                break;
            }
            self.queue.pop_front();
            self.push(slot, req);
            pushed = true;
        }
        if pushed && self.ring.publish() {
            self.notify = true;
        }
    }

    /// Lends pages to `req` (filling them for a write), encodes it and puts it on the ring.
    fn push(&mut self, slot: usize, req: Req) {
        self.seq = self.seq.wrapping_add(1);
        let id = self.seq << SLOT_BITS | slot as u64;
        let mut lent = InFlight { id, req, data: Vec::new(), indirect: Vec::new() };
        let request = match req.kind {
            OP_DISCARD => {
                discard_request(self.handle, id, req.sector, (req.len / WIRE_SECTOR) as u64)
            }
            OP_READ | OP_WRITE => {
                let mut segs = Vec::with_capacity(req.segments());
                for i in 0..req.segments() {
                    let p = self.free.pop().expect("pages were counted");
                    let start = i * PAGE_SIZE;
                    let bytes = (req.len - start).min(PAGE_SIZE);
                    let page = &self.pages[usize::from(p)];
                    if req.kind == OP_WRITE {
                        let at = req.at + start;
                        page.mem.write(0, &self.ops[&req.op].data[at..at + bytes]);
                    }
                    segs.push(segment(page.gref, bytes));
                    lent.data.push(p);
                }
                if segs.len() <= MAX_SEGMENTS {
                    rw_request(req.kind, self.handle, id, req.sector, &segs)
                } else {
                    let mut grefs = Vec::with_capacity(req.indirect_pages());
                    for list in segs.chunks(SEGMENTS_PER_INDIRECT_PAGE) {
                        let p = self.free.pop().expect("pages were counted");
                        let page = &self.pages[usize::from(p)];
                        page.mem.write(0, &list.concat());
                        grefs.push(page.gref);
                        lent.indirect.push(p);
                    }
                    self.stats.indirect_requests += 1;
                    indirect_request(
                        req.kind,
                        segs.len() as u16,
                        self.handle,
                        id,
                        req.sector,
                        &grefs,
                    )
                }
            }
            flush => rw_request(flush, self.handle, id, 0, &[]),
        };
        self.ring.push_request(&request).expect("a free slot was checked");
        self.in_flight[slot] = Some(lent);
        self.stats.requests += 1;
    }

    /// Whether the backend must be notified of new requests (clears the flag).
    pub fn take_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify)
    }

    /// Operations queued or in flight.
    pub fn busy(&self) -> bool {
        !self.ops.is_empty()
    }

    /// Pages in the pool, and how many of them are free (not lent to the backend).
    pub fn pages(&self) -> usize {
        self.pages.len()
    }

    pub fn free_pages(&self) -> usize {
        self.free.len()
    }

    /// The protocol error that stopped the front, if one did.
    pub fn broken(&self) -> Option<ProtocolError> {
        self.broken
    }

    /// Takes every response and returns the operations that completed, plus the protocol
    /// error that stopped the front, reported once, on the call that found it. Requests that
    /// were waiting for room are pushed: see [`take_notify`](Self::take_notify). When no
    /// response is left, the ring is re-armed to signal the next one.
    pub fn poll(&mut self) -> (Vec<Completion>, Option<ProtocolError>) {
        let mut done = Vec::new();
        if self.broken.is_some() {
            return (done, None);
        }
        let mut rsp = [0u8; RSP_SIZE];
        let error = loop {
            let got = self.ring.take_response(&mut rsp).and_then(|got| {
                Ok(got || self.ring.final_check()? && self.ring.take_response(&mut rsp)?)
            });
            match got {
                Ok(true) => {}
                Ok(false) => break None,
                Err(e) => break Some(e.into()),
            }
            if let Err(e) = self.complete(&rsp, &mut done) {
                break Some(e);
            }
        };
        match error {
            Some(e) => self.stop(e, &mut done),
            None => self.pump(),
        }
        (done, error)
    }

    /// One response, copied out of its slot: validated, then its request completed.
    fn complete(
        &mut self,
        rsp: &[u8; RSP_SIZE],
        done: &mut Vec<Completion>,
    ) -> Result<(), ProtocolError> {
        let id = le_u64(rsp, RSP_ID);
        let op = rsp[RSP_OPERATION];
        let status = i16::from_le_bytes([rsp[RSP_STATUS], rsp[RSP_STATUS + 1]]);
        let slot = (id & ((1 << SLOT_BITS) - 1)) as usize;
        let f = match self.in_flight.get(slot) {
            Some(Some(f)) if f.id == id => f,
            _ => return Err(ProtocolError::BadId(id)),
        };
        // blkback echoes an indirect request's indirect_op; OP_INDIRECT is accepted too.
        let echoes = op == f.req.kind || op == OP_INDIRECT && !f.indirect.is_empty();
        if !echoes {
            return Err(ProtocolError::WrongOperation { id, op });
        }
        let f = self.in_flight[slot].take().expect("checked above");
        let o = self.ops.get_mut(&f.req.op).expect("an op lives while its requests do");
        let result = match status {
            RSP_OKAY => Ok(()),
            RSP_EOPNOTSUPP => Err(BlkError::NotSupported),
            s => Err(BlkError::Io(s)),
        };
        if result.is_ok() && f.req.kind == OP_READ {
            for (i, &p) in f.data.iter().enumerate() {
                let start = f.req.at + i * PAGE_SIZE;
                let bytes = (f.req.len - i * PAGE_SIZE).min(PAGE_SIZE);
                self.pages[usize::from(p)].mem.read(0, &mut o.data[start..start + bytes]);
            }
        }
        self.free.extend(f.indirect.iter().chain(&f.data));
        if let Err(e) = result {
            if o.error.is_none() {
                o.error = Some(e);
                // The operation has failed: its requests not pushed yet are dropped.
                let queued = self.queue.len();
                self.queue.retain(|r| r.op != f.req.op);
                o.pending -= queued - self.queue.len();
            }
        }
        o.pending -= 1;
        if o.pending == 0 {
            let o = self.ops.remove(&f.req.op).expect("present");
            done.push((f.req.op, self.finish(o)));
        }
        Ok(())
    }

    fn finish(&mut self, o: Op) -> Result<Vec<u8>, BlkError> {
        if let Some(e) = o.error {
            self.stats.failed_ops += 1;
            return Err(e);
        }
        match o.kind {
            OP_READ => {
                self.stats.bytes_read += o.data.len() as u64;
                Ok(o.data)
            }
            OP_WRITE => {
                self.stats.bytes_written += o.data.len() as u64;
                Ok(Vec::new())
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Stops the front after a protocol error: every operation fails, pages in flight stay
    /// lent.
    fn stop(&mut self, e: ProtocolError, done: &mut Vec<Completion>) {
        self.stats.protocol_errors += 1;
        self.broken = Some(e);
        self.queue.clear();
        for (op, _) in core::mem::take(&mut self.ops) {
            self.stats.failed_ops += 1;
            done.push((op, Err(BlkError::Protocol)));
        }
    }

    /// Takes the ring and every page back, to end their grants once the backend has let go
    /// of them, with the operations that will never complete.
    pub fn into_parts(self) -> (R, Vec<Buffer<B>>, Vec<OpId>) {
        let unfinished = self.ops.keys().copied().collect();
        (self.ring.into_mem(), self.pages, unfinished)
    }
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
    b[at..at + bytes.len()].copy_from_slice(bytes);
}

/// A segment of `bytes` (a multiple of 512) from the start of the page `gref`.
fn segment(gref: u32, bytes: usize) -> [u8; SEG_SIZE] {
    let mut s = [0u8; SEG_SIZE];
    put(&mut s, SEG_GREF, &gref.to_le_bytes());
    s[SEG_FIRST] = 0;
    s[SEG_LAST] = (bytes / WIRE_SECTOR - 1) as u8;
    s
}

fn rw_request(op: u8, handle: u16, id: u64, sector: u64, segs: &[[u8; SEG_SIZE]]) -> [u8; SLOT] {
    let mut r = [0u8; SLOT];
    r[REQ_OPERATION] = op;
    r[REQ_NR_SEGMENTS] = segs.len() as u8;
    put(&mut r, REQ_HANDLE, &handle.to_le_bytes());
    put(&mut r, REQ_ID, &id.to_le_bytes());
    put(&mut r, REQ_SECTOR, &sector.to_le_bytes());
    for (i, s) in segs.iter().enumerate() {
        put(&mut r, REQ_SEG + i * SEG_SIZE, s);
    }
    r
}

fn indirect_request(
    op: u8,
    nseg: u16,
    handle: u16,
    id: u64,
    sector: u64,
    grefs: &[u32],
) -> [u8; SLOT] {
    let mut r = [0u8; SLOT];
    r[IND_OPERATION] = OP_INDIRECT;
    r[IND_OP] = op;
    put(&mut r, IND_NR_SEGMENTS, &nseg.to_le_bytes());
    put(&mut r, IND_ID, &id.to_le_bytes());
    put(&mut r, IND_SECTOR, &sector.to_le_bytes());
    put(&mut r, IND_HANDLE, &handle.to_le_bytes());
    for (i, g) in grefs.iter().enumerate() {
        put(&mut r, IND_GREFS + i * 4, &g.to_le_bytes());
    }
    r
}

fn discard_request(handle: u16, id: u64, sector: u64, nr_sectors: u64) -> [u8; SLOT] {
    let mut r = [0u8; SLOT];
    r[DISCARD_OPERATION] = OP_DISCARD;
    r[DISCARD_FLAG] = 0;
    put(&mut r, DISCARD_HANDLE, &handle.to_le_bytes());
    put(&mut r, DISCARD_ID, &id.to_le_bytes());
    put(&mut r, DISCARD_SECTOR, &sector.to_le_bytes());
    put(&mut r, DISCARD_NR_SECTORS, &nr_sectors.to_le_bytes());
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::{OFF_REQ_EVENT, OFF_REQ_PROD, OFF_RING, OFF_RSP_PROD};
    use crate::shmem::testing::TestMem;
    use std::boxed::Box;
    use std::collections::BTreeSet;
    use std::vec;

    type Mem = &'static TestMem;
    type Front = Blkfront<Mem, Mem>;
    const RING: u32 = 32;
    const HANDLE: u16 = 51712;

    fn page() -> Mem {
        Box::leak(Box::new(TestMem::new(PAGE_SIZE)))
    }

    fn le16(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// xorshift64: deterministic pseudo-random numbers.
    fn rng(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Order {
        Fifo,
        Reverse,
        Shuffled,
    }

    /// A request as the backend saw it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Seen {
        op: u8,
        indirect: bool,
        segments: usize,
        sector: u64,
    }

    /// A simulated blkback over a RAM disk, on the same ring layout. It checks every request
    /// as strictly as Linux's blkback (a malformed one fails the test), carries it out unless
    /// its status is an error, and answers in the order asked.
    struct Back {
        ring: Mem,
        pages: BTreeMap<u32, Mem>,
        disk: Vec<u8>,
        /// What it advertised in feature-max-indirect-segments (0: no indirect).
        max_indirect: usize,
        cons: u32,
        prod: u32,
        /// Responses to requests taken, not yet pushed.
        held: Vec<[u8; RSP_SIZE]>,
        /// The status of every request, and of the one taken n-th (counting from 0).
        status: i16,
        fail_nth: Option<(u64, i16)>,
        taken: u64,
        order: Order,
        seen: Vec<Seen>,
        rnd: Box<dyn FnMut() -> u64>,
    }

    impl Back {
        /// Takes up to `max` published requests and carries them out; returns how many.
        fn take(&mut self, max: usize) -> usize {
            let end = self.ring.load_u32(OFF_REQ_PROD);
            let mut n = 0;
            while self.cons != end && n < max {
                let mut r = [0u8; SLOT];
                self.ring.read(OFF_RING + (self.cons % RING) as usize * SLOT, &mut r);
                self.cons += 1;
                let status = match self.fail_nth {
                    Some((k, s)) if k == self.taken => s,
                    _ => self.status,
                };
                self.taken += 1;
                let (id, op) = self.carry_out(&r, status);
                let mut rsp = [0u8; RSP_SIZE];
                rsp[RSP_ID..RSP_ID + 8].copy_from_slice(&id.to_le_bytes());
                rsp[RSP_OPERATION] = op;
                rsp[RSP_STATUS..RSP_STATUS + 2].copy_from_slice(&status.to_le_bytes());
                self.held.push(rsp);
                n += 1;
            }
            if self.cons == end {
                // RING_FINAL_CHECK_FOR_REQUESTS: ask to be notified of the next one.
                self.ring.store_u32(OFF_REQ_EVENT, self.cons + 1);
            }
            n
        }

        /// Checks one request and, if `status` is OKAY, does it; returns (id, operation to
        /// echo: an indirect request's indirect_op, as blkback does).
        fn carry_out(&mut self, r: &[u8; SLOT], status: i16) -> (u64, u8) {
            let ok = status == RSP_OKAY;
            match r[REQ_OPERATION] {
                op @ (OP_READ | OP_WRITE) => {
                    assert_eq!(le16(r, REQ_HANDLE), HANDLE);
                    let n = r[REQ_NR_SEGMENTS] as usize;
                    assert!((1..=MAX_SEGMENTS).contains(&n), "{n} segments");
                    let segs: Vec<[u8; SEG_SIZE]> = (0..n)
                        .map(|i| r[REQ_SEG + i * SEG_SIZE..][..SEG_SIZE].try_into().unwrap())
                        .collect();
                    let sector = le_u64(r, REQ_SECTOR);
                    self.transfer(op, sector, &segs, ok);
                    self.seen.push(Seen { op, indirect: false, segments: n, sector });
                    (le_u64(r, REQ_ID), op)
                }
                OP_INDIRECT => {
                    let op = r[IND_OP];
                    assert!(op == OP_READ || op == OP_WRITE, "indirect op {op}");
                    assert!(self.max_indirect > 0, "indirect request not offered");
                    assert_eq!(le16(r, IND_HANDLE), HANDLE);
                    let n = le16(r, IND_NR_SEGMENTS) as usize;
                    assert!((1..=self.max_indirect).contains(&n), "{n} indirect segments");
                    let npages = n.div_ceil(SEGMENTS_PER_INDIRECT_PAGE);
                    assert!(npages <= MAX_INDIRECT_PAGES);
                    let mut segs = Vec::new();
                    for i in 0..n {
                        let gref = le32(r, IND_GREFS + i / SEGMENTS_PER_INDIRECT_PAGE * 4);
                        let at = i % SEGMENTS_PER_INDIRECT_PAGE * SEG_SIZE;
                        let mut s = [0u8; SEG_SIZE];
                        self.page(gref).read(at, &mut s);
                        segs.push(s);
                    }
                    let sector = le_u64(r, IND_SECTOR);
                    self.transfer(op, sector, &segs, ok);
                    self.seen.push(Seen { op, indirect: true, segments: n, sector });
                    (le_u64(r, IND_ID), op)
                }
                op @ (OP_FLUSH_DISKCACHE | OP_WRITE_BARRIER) => {
                    assert_eq!(r[REQ_NR_SEGMENTS], 0);
                    self.seen.push(Seen { op, indirect: false, segments: 0, sector: 0 });
                    (le_u64(r, REQ_ID), op)
                }
                OP_DISCARD => {
                    assert_eq!(le16(r, DISCARD_HANDLE), HANDLE);
                    assert_eq!(r[DISCARD_FLAG], 0);
                    let sector = le_u64(r, DISCARD_SECTOR);
                    let n = le_u64(r, DISCARD_NR_SECTORS) as usize;
                    let at = sector as usize * 512;
                    assert!(n > 0 && at + n * 512 <= self.disk.len(), "discard out of range");
                    if ok {
                        self.disk[at..at + n * 512].fill(0);
                    }
                    self.seen.push(Seen { op: OP_DISCARD, indirect: false, segments: 0, sector });
                    (le_u64(r, DISCARD_ID), OP_DISCARD)
                }
                op => panic!("unknown operation {op}"),
            }
        }

        fn transfer(&mut self, op: u8, sector: u64, segs: &[[u8; SEG_SIZE]], ok: bool) {
            let mut at = sector as usize * 512;
            for s in segs {
                let (first, last) = (s[SEG_FIRST] as usize, s[SEG_LAST] as usize);
                assert!(first <= last && last < PAGE_SIZE / 512, "segment {first}..={last}");
                let n = (last + 1 - first) * 512;
                assert!(at + n <= self.disk.len(), "transfer beyond the disk");
                let page = self.page(le32(s, SEG_GREF));
                if ok && op == OP_READ {
                    page.write(first * 512, &self.disk[at..at + n]);
                } else if ok {
                    page.read(first * 512, &mut self.disk[at..at + n]);
                }
                at += n;
            }
        }

        fn page(&self, gref: u32) -> Mem {
            self.pages.get(&gref).copied().expect("a granted page")
        }

        /// Pushes every held response, in the backend's order.
        fn answer(&mut self) -> usize {
            let mut held = core::mem::take(&mut self.held);
            match self.order {
                Order::Fifo => {}
                Order::Reverse => held.reverse(),
                Order::Shuffled => {
                    for i in (1..held.len()).rev() {
                        let j = (self.rnd)() as usize % (i + 1);
                        held.swap(i, j);
                    }
                }
            }
            let n = held.len();
            for rsp in held {
                self.push(&rsp);
            }
            n
        }

        fn serve(&mut self) -> usize {
            self.take(usize::MAX);
            self.answer()
        }

        fn push(&mut self, rsp: &[u8]) {
            self.ring.write(OFF_RING + (self.prod % RING) as usize * SLOT, rsp);
            self.prod += 1;
            self.ring.store_u32(OFF_RSP_PROD, self.prod);
        }
    }

    fn info(sectors: u64) -> Info {
        Info {
            sectors,
            sector_size: 512,
            read_only: false,
            flush: true,
            barrier: false,
            discard: true,
        }
    }

    fn geometry(sectors: u64, max_indirect: u32) -> Geometry {
        Geometry { max_indirect_segments: max_indirect, ..info(sectors).into() }
    }

    fn pattern(len: usize, seed: usize) -> Vec<u8> {
        (0..len).map(|i| (i.wrapping_mul(31) ^ seed ^ (i >> 9)) as u8).collect()
    }

    fn setup(g: impl Into<Geometry>, npages: u32) -> (Front, Back) {
        let g = g.into();
        let ring = page();
        let mut all = BTreeMap::new();
        let pages = (0..npages)
            .map(|i| {
                let mem = page();
                all.insert(100 + i, mem);
                Buffer { mem, gref: 100 + i }
            })
            .collect();
        let back = Back {
            ring,
            pages: all,
            disk: pattern(g.info.capacity() as usize, 0x5a),
            max_indirect: g.max_indirect_segments as usize,
            cons: 0,
            prod: 0,
            held: Vec::new(),
            status: RSP_OKAY,
            fail_nth: None,
            taken: 0,
            order: Order::Fifo,
            seen: Vec::new(),
            rnd: Box::new(rng(0x2545_f491_4f6c_dd1d)),
        };
        (Blkfront::new(ring, pages, g, HANDLE), back)
    }

    /// Serves until every op in `ops` completes; their results, in that order.
    fn run(f: &mut Front, b: &mut Back, ops: &[OpId]) -> Vec<Result<Vec<u8>, BlkError>> {
        let mut results = BTreeMap::new();
        for _ in 0..100_000 {
            b.serve();
            let (done, err) = f.poll();
            assert_eq!(err, None);
            for (op, r) in done {
                assert!(results.insert(op, r).is_none(), "op {op} completed twice");
            }
            if ops.iter().all(|op| results.contains_key(op)) {
                return ops.iter().map(|op| results.remove(op).unwrap()).collect();
            }
        }
        panic!("ops {ops:?} never completed");
    }

    fn run1(f: &mut Front, b: &mut Back, op: OpId) -> Result<Vec<u8>, BlkError> {
        run(f, b, &[op]).pop().unwrap()
    }

    /// Pages either free or lent to a request in flight, never both, never lost.
    fn assert_pages_accounted(f: &Front) {
        let mut seen = BTreeSet::new();
        let lent = f.in_flight.iter().flatten().flat_map(|l| l.data.iter().chain(&l.indirect));
        for &p in f.free.iter().chain(lent) {
            assert!(seen.insert(p), "page {p} twice");
        }
        assert_eq!(seen.len(), f.pages.len(), "a page was lost");
    }

    #[test]
    fn reads_and_writes_of_every_size_round_trip_in_direct_requests() {
        let (mut f, mut b) = setup(info(16384), 64); // 8 MiB disk
        let sizes = [512, 4096, 11 * 4096, 11 * 4096 + 512, 100 * 1024, 1 << 20, 3 << 20];
        for (i, &len) in sizes.iter().enumerate() {
            // Disk offsets not on a page boundary, too: segments are whole pages of ours.
            let offset = (i * 3 * 512) as u64 + (1 << 20);
            let data = pattern(len, i);
            let w = f.write(offset, &data).unwrap();
            assert_eq!(run1(&mut f, &mut b, w), Ok(Vec::new()));
            assert_eq!(&b.disk[offset as usize..offset as usize + len], &data[..]);
            b.order = [Order::Fifo, Order::Reverse, Order::Shuffled][i % 3];
            let r = f.read(offset, len).unwrap();
            assert_eq!(run1(&mut f, &mut b, r), Ok(data));
        }
        assert!(b.seen.iter().all(|s| !s.indirect && s.segments <= MAX_SEGMENTS));
        // 3 MiB is 70 requests: more than the 32 ring slots and the 64 pages.
        assert!(b.seen.len() > 2 * 70);
        assert!(!f.busy());
        assert_eq!(f.free_pages(), 64, "every page back in the pool");
        let total: usize = sizes.iter().sum();
        assert_eq!(f.stats.bytes_read, total as u64);
        assert_eq!(f.stats.bytes_written, total as u64);
        assert_eq!(
            (f.stats.failed_ops, f.stats.protocol_errors, f.stats.indirect_requests),
            (0, 0, 0)
        );
    }

    #[test]
    fn indirect_requests_carry_up_to_32_segments() {
        // blkback takes 256; we send 128 KiB requests all the same.
        let (mut f, mut b) = setup(geometry(16384, 256), 600);
        let data = pattern(4 << 20, 7);
        let w = f.write(512, &data).unwrap();
        assert_eq!(run1(&mut f, &mut b, w), Ok(Vec::new()));
        assert_eq!(&b.disk[512..512 + data.len()], &data[..]);
        assert_eq!(b.seen.len(), 32, "128 KiB each");
        for (i, s) in b.seen.iter().enumerate() {
            let want =
                Seen { op: OP_WRITE, indirect: true, segments: 32, sector: 1 + i as u64 * 256 };
            assert_eq!(*s, want);
        }
        b.order = Order::Reverse;
        let r = f.read(512, data.len()).unwrap();
        assert_eq!(run1(&mut f, &mut b, r), Ok(data));
        // Small requests stay direct; 12 segments is the smallest indirect one.
        b.seen.clear();
        let small = f.write(0, &pattern(11 * 4096, 1)).unwrap();
        let twelve = f.read(0, 11 * 4096 + 512).unwrap();
        let res = run(&mut f, &mut b, &[small, twelve]);
        assert_eq!(res[1].as_ref().unwrap()[..11 * 4096], pattern(11 * 4096, 1)[..]);
        assert_eq!(b.seen[0], Seen { op: OP_WRITE, indirect: false, segments: 11, sector: 0 });
        assert_eq!(b.seen[1], Seen { op: OP_READ, indirect: true, segments: 12, sector: 0 });
        assert_eq!(f.stats.indirect_requests, 65);
        assert_eq!(f.free_pages(), 600);
    }

    #[test]
    fn indirect_segments_are_capped_by_our_limit_and_the_pool() {
        let nodes = [("sectors", "16384"), ("feature-max-indirect-segments", "4096")];
        let g = Geometry::parse(|k| nodes.iter().find(|n| n.0 == k).map(|n| n.1.into())).unwrap();
        assert_eq!(g.max_indirect_segments, MAX_INDIRECT_SEGMENTS);
        // 64 pages: at most 31 segments + 1 indirect page, half the pool.
        let (mut f, mut b) = setup(g, 64);
        b.max_indirect = 31;
        let data = pattern(2 << 20, 3);
        let w = f.write(0, &data).unwrap();
        assert_eq!(run1(&mut f, &mut b, w), Ok(Vec::new()));
        let r = f.read(0, data.len()).unwrap();
        assert_eq!(run1(&mut f, &mut b, r), Ok(data));
        assert!(b.seen.iter().all(|s| s.indirect && s.segments <= 31));
        assert_eq!(b.seen.iter().map(|s| s.segments).max(), Some(31));
        // The smallest pool gets direct requests only.
        let (mut f, mut b) = setup(geometry(16384, 256), 11);
        let w = f.write(0, &pattern(1 << 20, 4)).unwrap();
        assert_eq!(run1(&mut f, &mut b, w), Ok(Vec::new()));
        assert!(b.seen.iter().all(|s| !s.indirect));
    }

    #[test]
    fn out_of_order_responses_complete_the_right_operations() {
        let (mut f, mut b) = setup(geometry(16384, 64), 256);
        b.order = Order::Shuffled;
        let mut ops = Vec::new();
        for i in 0..24usize {
            let offset = (i * 300 * 1024) as u64;
            let len = 512 * (1 + i * 37 % 500);
            ops.push((f.write(offset, &pattern(len, i)).unwrap(), offset, len, i));
        }
        // Served in small batches, answered in random order.
        let ids: Vec<OpId> = ops.iter().map(|o| o.0).collect();
        let mut results = BTreeMap::new();
        while results.len() < ids.len() {
            b.take(3);
            b.answer();
            let (done, err) = f.poll();
            assert_eq!(err, None);
            results.extend(done);
        }
        assert!(results.values().all(|r| r == &Ok(Vec::new())));
        let reads: Vec<OpId> =
            ops.iter().map(|&(_, off, len, _)| f.read(off, len).unwrap()).collect();
        let res = run(&mut f, &mut b, &reads);
        for ((_, _, len, i), r) in ops.iter().zip(res) {
            assert_eq!(r, Ok(pattern(*len, *i)));
        }
        assert_eq!(f.free_pages(), 256);
    }

    #[test]
    fn a_split_operation_fails_if_any_part_fails() {
        let (mut f, mut b) = setup(info(16384), 64);
        let before = b.disk.clone();
        b.fail_nth = Some((2, RSP_ERROR)); // the third of five requests
        let w = f.write(0, &vec![1; 5 * 11 * 4096]).unwrap();
        assert_eq!(run1(&mut f, &mut b, w), Err(BlkError::Io(RSP_ERROR)));
        assert_eq!(b.seen.len(), 5, "the other parts were still carried out");
        assert_ne!(b.disk, before);
        // Status values that blkif.h does not define are I/O errors too.
        b.fail_nth = Some((b.taken + 1, 7));
        let r = f.read(0, 2 * 11 * 4096).unwrap();
        assert_eq!(run1(&mut f, &mut b, r), Err(BlkError::Io(7)));
        b.status = RSP_EOPNOTSUPP;
        let fl = f.flush().unwrap();
        assert_eq!(run1(&mut f, &mut b, fl), Err(BlkError::NotSupported));
        b.status = RSP_ERROR;
        let d = f.discard(0, 4096).unwrap();
        assert_eq!(run1(&mut f, &mut b, d), Err(BlkError::Io(RSP_ERROR)));
        // Nothing lost, and the disk works again once the backend does.
        b.status = RSP_OKAY;
        let r = f.read(0, 512).unwrap();
        assert_eq!(run1(&mut f, &mut b, r), Ok(vec![1; 512]));
        assert_eq!(f.free_pages(), 64);
        assert_eq!((f.stats.failed_ops, f.stats.protocol_errors), (4, 0));
    }

    #[test]
    fn a_failed_operation_pushes_no_more_requests() {
        let (mut f, mut b) = setup(info(16384), 11); // one 11-page request at a time
        b.fail_nth = Some((1, RSP_ERROR));
        let r = f.read(0, 4 * 11 * 4096).unwrap();
        let w = f.write(0, &[5; 512]).unwrap();
        assert_eq!(run(&mut f, &mut b, &[r, w]), vec![Err(BlkError::Io(RSP_ERROR)), Ok(vec![])]);
        let ops: Vec<u8> = b.seen.iter().map(|s| s.op).collect();
        assert_eq!(ops, [OP_READ, OP_READ, OP_WRITE], "the read's last two parts were dropped");
        assert_eq!(f.free_pages(), 11);
        assert!(!f.busy());
    }

    #[test]
    fn a_flush_waits_for_every_earlier_request() {
        let (mut f, mut b) = setup(info(16384), 64);
        let w1 = f.write(0, &pattern(8192, 1)).unwrap();
        let fl = f.flush().unwrap();
        let w2 = f.write(8192, &pattern(512, 2)).unwrap();
        assert_eq!(b.take(usize::MAX), 1, "the flush waits for the write in flight");
        let (done, _) = f.poll();
        assert!(done.is_empty());
        b.answer();
        let (done, _) = f.poll();
        assert_eq!(done, vec![(w1, Ok(Vec::new()))]);
        assert_eq!(b.take(usize::MAX), 2, "now the flush, and the write queued after it");
        assert_eq!(b.seen[1].op, OP_FLUSH_DISKCACHE);
        b.answer();
        let (done, _) = f.poll();
        assert_eq!(done, vec![(fl, Ok(Vec::new())), (w2, Ok(Vec::new()))]);
    }

    #[test]
    fn flush_barrier_discard_and_their_absence() {
        let (mut f, mut b) = setup(info(16384), 16);
        let op = f.flush().unwrap();
        assert_eq!(run1(&mut f, &mut b, op), Ok(Vec::new()));
        let op = f.discard(4096, 8192).unwrap();
        assert_eq!(run1(&mut f, &mut b, op), Ok(Vec::new()));
        assert!(b.disk[4096..12288].iter().all(|&x| x == 0));
        assert_ne!(b.disk[12288], 0);
        assert_eq!(b.seen[0].op, OP_FLUSH_DISKCACHE);
        assert_eq!(b.seen[1], Seen { op: OP_DISCARD, indirect: false, segments: 0, sector: 8 });
        // Only a barrier offered: flush uses it.
        let mut i = info(16384);
        (i.flush, i.barrier, i.discard) = (false, true, false);
        let (mut f, mut b) = setup(i, 16);
        let op = f.flush().unwrap();
        assert_eq!(run1(&mut f, &mut b, op), Ok(Vec::new()));
        assert_eq!(b.seen[0].op, OP_WRITE_BARRIER);
        assert_eq!(f.discard(0, 512), Err(BlkError::NotSupported));
        // Neither: no durability to promise.
        i.barrier = false;
        let (mut f, b) = setup(i, 16);
        assert_eq!(f.flush(), Err(BlkError::NotSupported));
        assert_eq!(b.ring.load_u32(OFF_REQ_PROD), 0);
    }

    #[test]
    fn bad_arguments_and_read_only_are_refused_before_the_ring() {
        let mut i = info(8192);
        i.read_only = true;
        let (mut f, mut b) = setup(i, 16);
        assert_eq!(f.write(0, &[0; 512]), Err(BlkError::ReadOnly));
        assert_eq!(f.discard(0, 512), Err(BlkError::ReadOnly));
        assert_eq!(f.read(1, 512), Err(BlkError::Unaligned));
        assert_eq!(f.read(0, 100), Err(BlkError::Unaligned));
        assert_eq!(f.read(0, 0), Err(BlkError::Unaligned));
        assert_eq!(f.read(8192 * 512, 512), Err(BlkError::OutOfRange));
        assert_eq!(f.read(8191 * 512, 1024), Err(BlkError::OutOfRange));
        assert_eq!(f.read(u64::MAX - 511, 512), Err(BlkError::OutOfRange));
        assert_eq!(b.ring.load_u32(OFF_REQ_PROD), 0, "nothing reached the ring");
        // Reads and flushes of a read-only disk work.
        let r = f.read(8191 * 512, 512).unwrap();
        assert_eq!(run1(&mut f, &mut b, r).unwrap(), b.disk[8191 * 512..]);
        let fl = f.flush().unwrap();
        assert!(run1(&mut f, &mut b, fl).is_ok());
    }

    #[test]
    fn sector_size_4096_counts_512_byte_units_on_the_wire() {
        let mut i = info(16384);
        i.sector_size = 4096;
        let (mut f, mut b) = setup(i, 64);
        assert_eq!(f.write(512, &[0; 4096]), Err(BlkError::Unaligned));
        assert_eq!(f.write(4096, &[0; 512]), Err(BlkError::Unaligned));
        let data = pattern(3 * 4096, 9);
        let w = f.write(5 * 4096, &data).unwrap();
        assert_eq!(run1(&mut f, &mut b, w), Ok(Vec::new()));
        assert_eq!(b.seen[0].sector, 40);
        assert_eq!(&b.disk[5 * 4096..8 * 4096], &data[..]);
        let d = f.discard(4096, 8192).unwrap();
        assert!(run1(&mut f, &mut b, d).is_ok());
        assert_eq!(b.seen[1].sector, 8);
        assert!(b.disk[4096..3 * 4096].iter().all(|&x| x == 0));
    }

    #[test]
    fn notifications_follow_req_event() {
        let (mut f, b) = setup(info(8192), 16);
        assert!(!f.take_notify());
        f.read(0, 512).unwrap();
        assert!(f.take_notify(), "req_event starts at 1");
        assert!(!f.take_notify(), "the flag is taken");
        f.read(0, 512).unwrap();
        assert!(!f.take_notify(), "the backend has not re-armed req_event");
        b.ring.store_u32(OFF_REQ_EVENT, 3);
        f.read(0, 512).unwrap();
        assert!(f.take_notify());
    }

    #[test]
    fn poll_rearms_rsp_event_and_pushes_what_waited() {
        let (mut f, mut b) = setup(info(16384), 11);
        // 4 requests of 11 pages: one fits the pool at a time.
        let w = f.write(0, &vec![3; 4 * 11 * 4096]).unwrap();
        assert_eq!(b.take(usize::MAX), 1);
        assert_eq!(f.poll().0, vec![]);
        assert_eq!(b.ring.load_u32(crate::ring::OFF_RSP_EVENT), 1, "asks for the next response");
        b.answer();
        let _ = f.take_notify();
        assert_eq!(f.poll().0, vec![]);
        assert!(f.take_notify(), "the next request was pushed by poll");
        assert_eq!(b.take(usize::MAX), 1);
        assert_eq!(b.ring.load_u32(crate::ring::OFF_RSP_EVENT), 2);
        assert_eq!(run1(&mut f, &mut b, w), Ok(Vec::new()));
    }

    #[test]
    fn into_parts_returns_every_page_and_the_unfinished_ops() {
        let (mut f, mut b) = setup(geometry(16384, 64), 200);
        let done = f.write(0, &pattern(4096, 0)).unwrap();
        assert!(run1(&mut f, &mut b, done).is_ok());
        let a = f.read(0, 1 << 20).unwrap();
        let c = f.flush().unwrap();
        b.take(2);
        let (ring, pages, unfinished) = f.into_parts();
        assert!(core::ptr::eq(ring, b.ring));
        assert_eq!(pages.iter().map(|p| p.gref).collect::<BTreeSet<_>>().len(), 200);
        assert_eq!(unfinished, vec![a, c]);
    }

    /// A front with two reads in flight (ids taken by the backend), for the hostile tests.
    fn two_in_flight() -> (Front, Back, OpId, OpId, Vec<[u8; RSP_SIZE]>) {
        let (mut f, mut b) = setup(geometry(16384, 64), 64);
        let r1 = f.read(0, 512).unwrap();
        let r2 = f.read(4096, 20 * 4096).unwrap();
        assert_eq!(b.take(usize::MAX), 2);
        let held = core::mem::take(&mut b.held);
        (f, b, r1, r2, held)
    }

    /// After a protocol error: every op failed once, new ones refused, pages accounted.
    fn assert_stopped(f: &mut Front, b: &mut Back, done: Vec<Completion>, ops: &[OpId]) {
        let mut failed: Vec<OpId> = done.iter().map(|d| d.0).collect();
        failed.sort();
        assert_eq!(failed, ops);
        assert!(done.iter().all(|d| d.1 == Err(BlkError::Protocol)));
        assert_eq!(f.read(0, 512), Err(BlkError::Protocol));
        assert_eq!(f.flush(), Err(BlkError::Protocol));
        b.serve();
        assert_eq!(f.poll(), (vec![], None), "nothing more after the stop");
        assert_eq!(f.stats.protocol_errors, 1);
        assert_pages_accounted(f);
        assert!(f.broken().is_some());
    }

    #[test]
    fn a_bogus_id_stops_the_front() {
        let (mut f, mut b, r1, r2, held) = two_in_flight();
        b.push(&held[1]);
        let (done, err) = f.poll();
        assert_eq!(done, vec![(r2, Ok(b.disk[4096..21 * 4096].to_vec()))]);
        assert_eq!(err, None);
        let mut bogus = held[0];
        bogus[RSP_ID] ^= 0x40; // slot 64: beyond the table
        b.push(&bogus);
        let (done, err) = f.poll();
        assert!(matches!(err, Some(ProtocolError::BadId(_))), "{err:?}");
        assert_stopped(&mut f, &mut b, done, &[r1]);
        assert_eq!(f.free_pages(), 63, "r1's page stays lent");
    }

    #[test]
    fn a_duplicate_response_does_not_complete_the_next_request_in_its_slot() {
        let (mut f, mut b) = setup(info(16384), 16);
        let r1 = f.read(0, 512).unwrap();
        b.take(1);
        let first = b.held[0];
        b.answer();
        assert_eq!(f.poll().0.len(), 1);
        // The same slot now holds r2's request; r1's answer comes again.
        let r2 = f.write(0, &[9; 512]).unwrap();
        b.take(1);
        b.held.clear();
        assert_eq!(le_u64(&first, RSP_ID) & 0xffff, 0);
        b.push(&first);
        let (done, err) = f.poll();
        assert_eq!(err, Some(ProtocolError::BadId(le_u64(&first, RSP_ID))));
        assert_stopped(&mut f, &mut b, done, &[r2]);
        let _ = r1;
    }

    #[test]
    fn a_wrong_operation_stops_the_front() {
        let (mut f, mut b, r1, r2, held) = two_in_flight();
        let mut wrong = held[0];
        wrong[RSP_OPERATION] = OP_WRITE;
        b.push(&wrong);
        let (done, err) = f.poll();
        let id = le_u64(&wrong, RSP_ID);
        assert_eq!(err, Some(ProtocolError::WrongOperation { id, op: OP_WRITE }));
        assert_stopped(&mut f, &mut b, done, &[r1, r2]);
        assert_eq!(f.free_pages(), 64 - 1 - 20 - 1, "both requests' pages stay lent");
    }

    #[test]
    fn a_response_producer_running_ahead_stops_the_front() {
        let (mut f, mut b, r1, r2, held) = two_in_flight();
        b.push(&held[0]);
        b.ring.store_u32(OFF_RSP_PROD, b.prod + 2); // 3 responses to 2 requests
        let (done, err) = f.poll();
        assert!(matches!(err, Some(ProtocolError::Ring(RingError::ProducerAhead { .. }))));
        assert_stopped(&mut f, &mut b, done, &[r1, r2]);
    }

    #[test]
    fn indirect_responses_echo_indirect_op_or_op_indirect() {
        let (mut f, mut b) = setup(geometry(16384, 64), 64);
        let r = f.read(0, 20 * 4096).unwrap();
        b.take(1);
        b.held[0][RSP_OPERATION] = OP_INDIRECT;
        b.answer();
        assert_eq!(f.poll(), (vec![(r, Ok(b.disk[..20 * 4096].to_vec()))], None));
        // A direct request answered as indirect is wrong.
        f.read(0, 4096).unwrap();
        b.take(1);
        b.held[0][RSP_OPERATION] = OP_INDIRECT;
        b.answer();
        assert!(matches!(f.poll().1, Some(ProtocolError::WrongOperation { .. })));
    }

    #[test]
    fn random_hostile_streams_never_panic() {
        let mut rnd = rng(0x9e37_79b9_7f4a_7c15);
        let (mut completed, mut stopped) = (0, 0);
        for round in 0..300 {
            let g = geometry(1024, [0, 16, 256][round % 3]);
            let (mut f, mut b) = setup(g, [11, 16, 40][round % 3]);
            let mut last = [0u8; RSP_SIZE];
            // Percent of steps where the backend misbehaves.
            let hostility = [1, 3, 10, 40][round % 4];
            for _ in 0..60 {
                // The backend reads every request first: its garbage lands on answered slots.
                b.take(usize::MAX);
                let hostile = rnd() % 100 < hostility;
                match if hostile { rnd() % 4 } else { 4 + rnd() % 12 } {
                    0 => {
                        // Garbage in a slot, and maybe a producer index to reach it.
                        let at = OFF_RING + (rnd() % 32) as usize * SLOT;
                        b.ring.write(at, &rnd().to_le_bytes());
                        b.ring.write(at + 8, &rnd().to_le_bytes());
                        if rnd().is_multiple_of(2) {
                            b.ring.store_u32(OFF_RSP_PROD, b.prod.wrapping_add(rnd() as u32 % 4));
                        }
                    }
                    1 => b.ring.store_u32(OFF_RSP_PROD, rnd() as u32),
                    2 => b.push(&last), // a duplicate
                    3 => {
                        // A real response, mangled.
                        if !b.held.is_empty() {
                            let mut rsp = b.held.remove(rnd() as usize % b.held.len());
                            rsp[rnd() as usize % RSP_SIZE] ^= 1 << (rnd() % 8);
                            b.push(&rsp);
                        }
                    }
                    4..=9 => {
                        // A real response in any order, with any status.
                        if !b.held.is_empty() {
                            let mut rsp = b.held.remove(rnd() as usize % b.held.len());
                            let status =
                                [RSP_OKAY, RSP_OKAY, RSP_ERROR, RSP_EOPNOTSUPP, rnd() as i16];
                            let s = status[rnd() as usize % 5];
                            rsp[RSP_STATUS..RSP_STATUS + 2].copy_from_slice(&s.to_le_bytes());
                            b.push(&rsp);
                            last = rsp;
                        }
                    }
                    10 | 11 => {
                        let len = 512 * (1 + rnd() as usize % 600);
                        let _ = f.read(rnd() % 1024 * 512, len);
                    }
                    12 | 13 => {
                        let len = 512 * (1 + rnd() as usize % 100);
                        let _ = f.write(rnd() % 1024 * 512, &vec![7; len]);
                    }
                    14 => {
                        let _ = f.flush();
                    }
                    _ => {
                        let _ = f.discard(rnd() % 1024 * 512, 512);
                    }
                }
                let (done, _) = f.poll();
                for (_, r) in done {
                    if let Ok(d) = r {
                        assert!(d.len() <= 600 * 512);
                        completed += 1;
                    }
                }
                assert_pages_accounted(&f);
            }
            stopped += usize::from(f.broken().is_some());
            let n = f.pages();
            let (_, pages, _) = f.into_parts();
            assert_eq!(pages.iter().map(|p| p.gref).collect::<BTreeSet<_>>().len(), n);
        }
        // The stream exercised both sides: work done, and fronts stopped.
        assert!(completed > 500 && stopped > 100, "{completed} completed, {stopped} stopped");
    }

    #[test]
    fn random_honest_batches_match_a_model_disk() {
        let mut rnd = rng(0x1234_5678_9abc_def1);
        for round in 0..40u64 {
            let g = geometry(4096, [0, 64, 256][round as usize % 3]); // 2 MiB
            let (mut f, mut b) = setup(g, [11, 64, 300][round as usize % 3]);
            b.order = Order::Shuffled;
            let mut model = b.disk.clone();
            for _ in 0..6 {
                // A batch of operations on disjoint ranges of 256 KiB each, run together.
                let mut ops = Vec::new();
                for part in 0..8u64 {
                    let len = 512 * (1 + rnd() as usize % 512);
                    let off = part * 256 * 1024;
                    match rnd() % 4 {
                        0 => {
                            let data = pattern(len, rnd() as usize);
                            model[off as usize..off as usize + len].copy_from_slice(&data);
                            ops.push((f.write(off, &data).unwrap(), None));
                        }
                        1 => {
                            model[off as usize..off as usize + len].fill(0);
                            ops.push((f.discard(off, len).unwrap(), None));
                        }
                        _ => ops.push((f.read(off, len).unwrap(), Some((off as usize, len)))),
                    }
                }
                ops.push((f.flush().unwrap(), None));
                let mut results = BTreeMap::new();
                while results.len() < ops.len() {
                    b.take(1 + rnd() as usize % 8);
                    if !rnd().is_multiple_of(3) {
                        b.answer();
                    }
                    let (done, err) = f.poll();
                    assert_eq!(err, None);
                    results.extend(done);
                }
                for (op, read) in ops {
                    let got = results.remove(&op).unwrap().unwrap();
                    if let Some((off, len)) = read {
                        assert_eq!(got, model[off..off + len], "round {round}");
                    }
                }
                assert_eq!(b.disk, model);
                assert_eq!(f.free_pages(), f.pages());
            }
        }
    }

    fn nodes<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|p| p.0 == k).map(|p| p.1.into())
    }

    #[test]
    fn geometry_from_backend_nodes() {
        // As Linux blkback writes them (values may end in NUL).
        let g = Geometry::parse(nodes(&[
            ("sectors", "2097152\0"),
            ("info", "0"),
            ("sector-size", "4096"),
            ("physical-sector-size", "4096"),
            ("feature-flush-cache", "1"),
            ("feature-barrier", "0"),
            ("feature-discard", "1"),
            ("discard-granularity", "65536"),
            ("discard-alignment", "0"),
            ("discard-secure", "0"),
            ("feature-max-indirect-segments", "256"),
            ("feature-persistent", "1"),
            ("mode", "w"),
        ]))
        .unwrap();
        let want_info = Info {
            sectors: 2097152,
            sector_size: 4096,
            read_only: false,
            flush: true,
            barrier: false,
            discard: true,
        };
        assert_eq!(
            g,
            Geometry {
                info: want_info,
                physical_sector_size: 4096,
                discard_granularity: 65536,
                discard_alignment: 0,
                discard_secure: false,
                max_indirect_segments: 256,
                persistent: true,
            }
        );
        assert_eq!(g.info.capacity(), 1 << 30);
        // Only sectors is required; the rest defaults to absent.
        let g = Geometry::parse(nodes(&[("sectors", "8")])).unwrap();
        assert_eq!(g, Geometry::from(Info { flush: false, discard: false, ..info(8) }));
        assert_eq!(Info::parse(nodes(&[("sectors", "8")])).unwrap(), g.info);
        // Read-only either way.
        assert!(Info::parse(nodes(&[("sectors", "8"), ("info", "4")])).unwrap().read_only);
        assert!(Info::parse(nodes(&[("sectors", "8"), ("info", "5")])).unwrap().read_only);
        assert!(Info::parse(nodes(&[("sectors", "8"), ("mode", "r")])).unwrap().read_only);
        assert!(!Info::parse(nodes(&[("sectors", "8"), ("info", "1")])).unwrap().read_only);
        // Booleans as Linux reads them; discard-granularity 0 means the sector size.
        let g = Geometry::parse(nodes(&[
            ("sectors", "8"),
            ("feature-barrier", "2"),
            ("discard-granularity", "0"),
        ]))
        .unwrap();
        assert!(g.info.barrier && g.discard_granularity == 512);
    }

    #[test]
    fn geometry_refuses_hostile_nodes() {
        use GeometryError::*;
        let cases: &[(&[(&str, &str)], GeometryError)] = &[
            (&[], Missing("sectors")),
            (&[("sectors", "x")], NotANumber("sectors")),
            (&[("sectors", "")], NotANumber("sectors")),
            (&[("sectors", "-8")], NotANumber("sectors")),
            (&[("sectors", "0x10")], NotANumber("sectors")),
            (&[("sectors", "99999999999999999999")], NotANumber("sectors")),
            (&[("sectors", "0")], ZeroSectors),
            (&[("sectors", "36028797018963968")], TooLarge(1 << 55)),
            (&[("sectors", "8"), ("sector-size", "3")], BadSectorSize(3)),
            (&[("sectors", "8"), ("sector-size", "0")], BadSectorSize(0)),
            (&[("sectors", "8"), ("sector-size", "256")], BadSectorSize(256)),
            (&[("sectors", "8"), ("sector-size", "1536")], BadSectorSize(1536)),
            (&[("sectors", "8"), ("sector-size", "8192")], BadSectorSize(8192)),
            (&[("sectors", "8"), ("sector-size", "4294967296")], NotANumber("sector-size")),
            (
                &[("sectors", "8"), ("sector-size", "4096"), ("physical-sector-size", "512")],
                BadPhysicalSectorSize(512),
            ),
            (&[("sectors", "8"), ("physical-sector-size", "3000")], BadPhysicalSectorSize(3000)),
            (&[("sectors", "8"), ("info", "ro")], NotANumber("info")),
            (
                &[("sectors", "8"), ("feature-flush-cache", "yes")],
                NotANumber("feature-flush-cache"),
            ),
            (
                &[("sectors", "8"), ("feature-max-indirect-segments", "-1")],
                NotANumber("feature-max-indirect-segments"),
            ),
            (
                &[("sectors", "8"), ("discard-granularity", "1e3")],
                NotANumber("discard-granularity"),
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(Geometry::parse(nodes(pairs)), Err(*want), "{pairs:?}");
            assert!(!std::format!("{want}").is_empty());
        }
        // Every node it reads is listed for the kernel.
        for (pairs, _) in cases {
            for (k, _) in pairs.iter() {
                assert!(Geometry::BACKEND_NODES.contains(k), "{k}");
            }
        }
    }
}
