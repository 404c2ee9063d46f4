//! blkfront (`io/blkif.h`): reads, writes, flushes and discards over one shared ring.
//!
//! Operations are split into ring requests of up to 11 page-sized segments; the data pages
//! are a pool granted to the backend once and reused. Each request has an id (its index in
//! the in-flight table); an operation completes when all its requests have, and fails with
//! the first error any of them got. Responses are copied out of the ring once and checked
//! (id in flight, operation matching) before use; a bad one is counted and reported, and
//! never frees a page twice.
//!
//! Addresses on the wire are 512-byte units whatever the disk's sector size; the caller's
//! offsets must be multiples of the sector size, checked here.
//!
//! Durability as the protocol defines it: a completed write is in the backend's hands, not
//! necessarily on stable storage; a flush (BLKIF_OP_FLUSH_DISKCACHE, or a barrier where
//! only that is offered) that completes after a write completed makes it durable.

use crate::ring::{FrontRing, RingError};
use crate::shmem::SharedMem;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

pub use crate::netfront::Buffer;

pub const PAGE_SIZE: usize = 4096;
pub const SLOT: usize = 112;
pub const MAX_SEGMENTS: usize = 11;

/// Offsets in `struct blkif_request` and `struct blkif_request_segment`.
pub const REQ_OPERATION: usize = 0;
pub const REQ_NR_SEGMENTS: usize = 1;
pub const REQ_HANDLE: usize = 2;
pub const REQ_ID: usize = 8;
pub const REQ_SECTOR: usize = 16;
pub const REQ_SEG: usize = 24;
pub const SEG_SIZE: usize = 8;
pub const SEG_GREF: usize = 0;
pub const SEG_FIRST: usize = 4;
pub const SEG_LAST: usize = 5;
/// Offset of `nr_sectors` in `struct blkif_request_discard`.
pub const DISCARD_NR_SECTORS: usize = 24;
/// Offsets in `struct blkif_response`.
pub const RSP_ID: usize = 0;
pub const RSP_OPERATION: usize = 8;
pub const RSP_STATUS: usize = 10;

pub const OP_READ: u8 = 0;
pub const OP_WRITE: u8 = 1;
pub const OP_WRITE_BARRIER: u8 = 2;
pub const OP_FLUSH_DISKCACHE: u8 = 3;
pub const OP_DISCARD: u8 = 5;
pub const RSP_OKAY: i16 = 0;
pub const RSP_ERROR: i16 = -1;
pub const RSP_EOPNOTSUPP: i16 = -2;
pub const VDISK_READONLY: u32 = 4;

/// What the backend told us about the disk (from xenstore, validated by [`Info::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// Capacity in 512-byte units.
    pub sectors: u64,
    /// Logical sector size: transfers are multiples of it.
    pub sector_size: u32,
    pub read_only: bool,
    pub flush: bool,
    pub barrier: bool,
    pub discard: bool,
}

impl Info {
    /// From the backend's nodes (`sectors`, `info`, `sector-size`, `mode`, `feature-*`);
    /// `get(key)` gives a node's text, `None` if absent.
    pub fn parse(
        get: impl Fn(&str) -> Option<alloc::string::String>,
    ) -> Result<Info, &'static str> {
        let num =
            |k: &str| get(k).and_then(|v| v.trim_end_matches('\0').trim().parse::<u64>().ok());
        let flag = |k: &str| num(k).unwrap_or(0) == 1;
        let sectors = num("sectors").ok_or("sectors missing or not a number")?;
        let sector_size = num("sector-size").unwrap_or(512);
        if !(512..=4096).contains(&sector_size) || !sector_size.is_power_of_two() {
            return Err("sector-size is not a power of two from 512 to 4096");
        }
        if sectors == 0 || sectors.checked_mul(512).is_none() {
            return Err("sectors out of range");
        }
        let info = num("info").unwrap_or(0);
        let mode_ro = get("mode").is_some_and(|m| m.trim_end_matches('\0') == "r");
        Ok(Info {
            sectors,
            sector_size: sector_size as u32,
            read_only: info & u64::from(VDISK_READONLY) != 0 || mode_ro,
            flush: flag("feature-flush-cache"),
            barrier: flag("feature-barrier"),
            discard: flag("feature-discard"),
        })
    }

    pub fn capacity(&self) -> u64 {
        self.sectors * 512
    }
}

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
    /// The backend answered BLKIF_RSP_ERROR (or an unknown status).
    Io(i16),
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
            BlkError::Disconnected => f.write_str("disk disconnected"),
        }
    }
}

/// A response that broke the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    Ring(RingError),
    /// An id that is not in flight (bogus or duplicate).
    BadId(u64),
    /// The response's operation is not the request's.
    WrongOperation {
        id: u64,
        op: u8,
    },
}

impl core::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProtocolError::Ring(e) => write!(f, "{e}"),
            ProtocolError::BadId(id) => write!(f, "response for id {id}, which is not in flight"),
            ProtocolError::WrongOperation { id, op } => {
                write!(f, "response for id {id} names operation {op}, not the request's")
            }
        }
    }
}

pub type OpId = u64;

#[derive(Debug)]
struct Op {
    kind: u8,
    /// Read: filled as requests complete. Write: the data.
    data: Vec<u8>,
    pending: usize,
    error: Option<BlkError>,
}

/// One ring request not yet pushed: bytes `[at, at + len)` of its op at 512-unit `sector`.
#[derive(Debug, Clone, Copy)]
struct Req {
    op: OpId,
    kind: u8,
    sector: u64,
    at: usize,
    len: usize,
}

#[derive(Debug)]
struct InFlight {
    req: Req,
    pages: Vec<u16>,
}

pub struct Blkfront<R, B> {
    ring: FrontRing<R>,
    info: Info,
    handle: u16,
    pages: Vec<Buffer<B>>,
    free_pages: Vec<u16>,
    in_flight: Vec<Option<InFlight>>,
    queue: VecDeque<Req>,
    ops: BTreeMap<OpId, Op>,
    next_op: OpId,
    notify: bool,
    pub protocol_errors: u64,
}

impl<R: SharedMem, B: SharedMem> Blkfront<R, B> {
    /// A front over a fresh ring page and a pool of granted data pages (at least 11).
    pub fn new(ring: R, pages: Vec<Buffer<B>>, info: Info, handle: u16) -> Self {
        assert!(pages.len() >= MAX_SEGMENTS && pages.len() <= 1 << 16);
        let ring = FrontRing::init(ring, SLOT);
        let slots = ring.size() as usize;
        Blkfront {
            ring,
            info,
            handle,
            free_pages: (0..pages.len() as u32).rev().map(|i| i as u16).collect(),
            pages,
            in_flight: (0..slots).map(|_| None).collect(),
            queue: VecDeque::new(),
            ops: BTreeMap::new(),
            next_op: 1,
            notify: false,
            protocol_errors: 0,
        }
    }

    /// Sets the disk's geometry and features, read once the backend has connected (the
    /// ring must be initialised before the backend maps it, which is before that).
    pub fn set_info(&mut self, info: Info) {
        self.info = info;
    }

    pub fn info(&self) -> Info {
        self.info
    }

    fn check(&self, offset: u64, len: usize) -> Result<(), BlkError> {
        let ss = u64::from(self.info.sector_size);
        if len == 0 || !offset.is_multiple_of(ss) || !(len as u64).is_multiple_of(ss) {
            return Err(BlkError::Unaligned);
        }
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.info.capacity() => Ok(()),
            _ => Err(BlkError::OutOfRange),
        }
    }

    fn add_op(&mut self, kind: u8, offset: u64, data: Vec<u8>, len: usize) -> OpId {
        let id = self.next_op;
        self.next_op += 1;
        let step = MAX_SEGMENTS * PAGE_SIZE;
        let mut n = 0;
        let mut at = 0;
        loop {
            let this = (len - at).min(step);
            let sector = (offset + at as u64) / 512;
            self.queue.push_back(Req { op: id, kind, sector, at, len: this });
            n += 1;
            at += this;
            if at >= len {
                break;
            }
        }
        self.ops.insert(id, Op { kind, data, pending: n, error: None });
        self.pump();
        id
    }

    /// Queues a read of `len` bytes at byte `offset`.
    pub fn read(&mut self, offset: u64, len: usize) -> Result<OpId, BlkError> {
        self.check(offset, len)?;
        Ok(self.add_op(OP_READ, offset, alloc::vec![0; len], len))
    }

    /// Queues a write of `data` at byte `offset`.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<OpId, BlkError> {
        if self.info.read_only {
            return Err(BlkError::ReadOnly);
        }
        self.check(offset, data.len())?;
        Ok(self.add_op(OP_WRITE, offset, data.to_vec(), data.len()))
    }

    /// Queues a flush of the backend's cache (or a barrier, where that is all it offers).
    pub fn flush(&mut self) -> Result<OpId, BlkError> {
        let kind = if self.info.flush {
            OP_FLUSH_DISKCACHE
        } else if self.info.barrier {
            OP_WRITE_BARRIER
        } else {
            return Err(BlkError::NotSupported);
        };
        Ok(self.add_op(kind, 0, Vec::new(), 0))
    }

    /// Queues a discard of `len` bytes at `offset`.
    pub fn discard(&mut self, offset: u64, len: usize) -> Result<OpId, BlkError> {
        if self.info.read_only {
            return Err(BlkError::ReadOnly);
        }
        if !self.info.discard {
            return Err(BlkError::NotSupported);
        }
        self.check(offset, len)?;
        let id = self.next_op;
        self.next_op += 1;
        self.queue.push_back(Req { op: id, kind: OP_DISCARD, sector: offset / 512, at: 0, len });
        self.ops.insert(id, Op { kind: OP_DISCARD, data: Vec::new(), pending: 1, error: None });
        self.pump();
        Ok(id)
    }

    /// Pushes queued requests while slots and pages last.
    fn pump(&mut self) {
        let mut pushed = false;
        while let Some(&req) = self.queue.front() {
            let npages = req.len.div_ceil(PAGE_SIZE);
            let Some(slot) = self.in_flight.iter().position(|s| s.is_none()) else { break };
            if self.ring.free_requests() == 0
                || (req.kind != OP_DISCARD && self.free_pages.len() < npages)
            {
                break;
            }
            self.queue.pop_front();
            let mut r = [0u8; SLOT];
            r[REQ_OPERATION] = req.kind;
            r[REQ_HANDLE..REQ_HANDLE + 2].copy_from_slice(&self.handle.to_le_bytes());
            r[REQ_ID..REQ_ID + 8].copy_from_slice(&(slot as u64).to_le_bytes());
            r[REQ_SECTOR..REQ_SECTOR + 8].copy_from_slice(&req.sector.to_le_bytes());
            let mut pages = Vec::new();
            if req.kind == OP_DISCARD {
                let n = (req.len / 512) as u64;
                r[DISCARD_NR_SECTORS..DISCARD_NR_SECTORS + 8].copy_from_slice(&n.to_le_bytes());
            } else if req.len > 0 {
                r[REQ_NR_SEGMENTS] = npages as u8;
                for i in 0..npages {
                    let p = self.free_pages.pop().expect("pages were counted");
                    let start = i * PAGE_SIZE;
                    let bytes = (req.len - start).min(PAGE_SIZE);
                    let page = &self.pages[p as usize];
                    if req.kind == OP_WRITE {
                        let data = &self.ops[&req.op].data[req.at + start..req.at + start + bytes];
                        page.mem.write(0, data);
                    }
                    let seg = REQ_SEG + i * SEG_SIZE;
                    r[seg + SEG_GREF..seg + SEG_GREF + 4].copy_from_slice(&page.gref.to_le_bytes());
                    r[seg + SEG_FIRST] = 0;
                    r[seg + SEG_LAST] = (bytes / 512 - 1) as u8;
                    pages.push(p);
                }
            }
            self.ring.push_request(&r).expect("a free slot was checked");
            self.in_flight[slot] = Some(InFlight { req, pages });
            pushed = true;
        }
        if pushed && self.ring.publish() {
            self.notify = true;
        }
    }

    /// Whether the backend must be notified of new requests (clears the flag).
    pub fn take_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify)
    }

    /// Operations queued or in flight.
    pub fn busy(&self) -> bool {
        !self.ops.is_empty()
    }

    /// Takes every response; returns the operations that completed (a read's data, or an
    /// empty Vec) and the first protocol error seen, if any. Queued requests are pushed
    /// as slots and pages free up (see [`take_notify`](Self::take_notify)).
    #[allow(clippy::type_complexity)]
    pub fn poll(&mut self) -> (Vec<(OpId, Result<Vec<u8>, BlkError>)>, Option<ProtocolError>) {
        let mut done = Vec::new();
        let mut error = None;
        let mut rsp = [0u8; SLOT];
        loop {
            match self.ring.take_response(&mut rsp) {
                Ok(true) => {}
                Ok(false) => match self.ring.final_check() {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => {
                        error.get_or_insert(ProtocolError::Ring(e));
                        break;
                    }
                },
                Err(e) => {
                    error.get_or_insert(ProtocolError::Ring(e));
                    break;
                }
            }
            let id = u64::from_le_bytes(rsp[RSP_ID..RSP_ID + 8].try_into().unwrap());
            let op = rsp[RSP_OPERATION];
            let status = i16::from_le_bytes([rsp[RSP_STATUS], rsp[RSP_STATUS + 1]]);
            let Some(f) = self.in_flight.get_mut(id as usize).and_then(|s| s.take()) else {
                error.get_or_insert(ProtocolError::BadId(id));
                continue;
            };
            if op != f.req.kind {
                // Put it back: its real response may still come.
                self.in_flight[id as usize] = Some(f);
                error.get_or_insert(ProtocolError::WrongOperation { id, op });
                continue;
            }
            let result = match status {
                RSP_OKAY => Ok(()),
                RSP_EOPNOTSUPP => Err(BlkError::NotSupported),
                s => Err(BlkError::Io(s)),
            };
            let o = self.ops.get_mut(&f.req.op).expect("in-flight request of a live op");
            if result.is_ok() && o.kind == OP_READ {
                for (i, &p) in f.pages.iter().enumerate() {
                    let start = f.req.at + i * PAGE_SIZE;
                    let bytes = (f.req.len - i * PAGE_SIZE).min(PAGE_SIZE);
                    self.pages[p as usize].mem.read(0, &mut o.data[start..start + bytes]);
                }
            }
            self.free_pages.extend_from_slice(&f.pages);
            if let Err(e) = result {
                o.error.get_or_insert(e);
            }
            o.pending -= 1;
            if o.pending == 0 {
                let o = self.ops.remove(&f.req.op).expect("present");
                let data = if o.kind == OP_READ { o.data } else { Vec::new() };
                done.push((f.req.op, o.error.map_or(Ok(data), Err)));
            }
        }
        if error.is_some() {
            self.protocol_errors += 1;
        }
        self.pump();
        (done, error)
    }

    /// Fails every queued and in-flight operation (after a disconnect) and returns the
    /// ring and pages, to end their grants.
    #[allow(clippy::type_complexity)]
    pub fn into_parts(self) -> (R, Vec<Buffer<B>>, Vec<OpId>) {
        let failed = self.ops.keys().copied().collect();
        (self.ring.into_mem(), self.pages, failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::{OFF_REQ_PROD, OFF_RING, OFF_RSP_PROD};
    use crate::shmem::testing::TestMem;
    use std::boxed::Box;
    use std::vec;

    type Mem = &'static TestMem;

    fn page() -> Mem {
        Box::leak(Box::new(TestMem::new(PAGE_SIZE)))
    }

    /// A simulated blkback over a RAM disk; `status` answers every request (0: do it).
    struct Back {
        ring: Mem,
        pages: Vec<(u32, Mem)>,
        disk: Vec<u8>,
        cons: u32,
        prod: u32,
        status: i16,
        /// Answer in reverse order of arrival.
        reverse: bool,
        flushes: u32,
    }

    impl Back {
        fn serve(&mut self) -> usize {
            let end = self.ring.load_u32(OFF_REQ_PROD);
            let mut answers = Vec::new();
            while self.cons != end {
                let mut r = [0u8; SLOT];
                self.ring.read(OFF_RING + (self.cons % 32) as usize * SLOT, &mut r);
                self.cons += 1;
                let sector = u64::from_le_bytes(r[REQ_SECTOR..REQ_SECTOR + 8].try_into().unwrap());
                let mut at = sector as usize * 512;
                if self.status == RSP_OKAY {
                    match r[REQ_OPERATION] {
                        OP_READ | OP_WRITE => {
                            for i in 0..r[REQ_NR_SEGMENTS] as usize {
                                let s = REQ_SEG + i * SEG_SIZE;
                                let gref = u32::from_le_bytes(r[s..s + 4].try_into().unwrap());
                                let p = self.pages.iter().find(|p| p.0 == gref).unwrap().1;
                                let first = r[s + SEG_FIRST] as usize * 512;
                                let n = (r[s + SEG_LAST] as usize + 1) * 512 - first;
                                if r[REQ_OPERATION] == OP_READ {
                                    p.write(first, &self.disk[at..at + n]);
                                } else {
                                    p.read(first, &mut self.disk[at..at + n]);
                                }
                                at += n;
                            }
                        }
                        OP_FLUSH_DISKCACHE | OP_WRITE_BARRIER => self.flushes += 1,
                        OP_DISCARD => {
                            let n = u64::from_le_bytes(r[24..32].try_into().unwrap()) as usize;
                            self.disk[at..at + n * 512].fill(0);
                        }
                        _ => panic!("unknown op"),
                    }
                }
                let mut rsp = [0u8; 16];
                rsp[0..8].copy_from_slice(&r[REQ_ID..REQ_ID + 8]);
                rsp[8] = r[REQ_OPERATION];
                rsp[10..12].copy_from_slice(&self.status.to_le_bytes());
                answers.push(rsp);
            }
            if self.reverse {
                answers.reverse();
            }
            let n = answers.len();
            for a in answers {
                self.push(&a);
            }
            n
        }

        fn push(&mut self, rsp: &[u8]) {
            self.ring.write(OFF_RING + (self.prod % 32) as usize * SLOT, rsp);
            self.prod += 1;
            self.ring.store_u32(OFF_RSP_PROD, self.prod);
        }
    }

    fn info(read_only: bool) -> Info {
        Info {
            sectors: 8192,
            sector_size: 512,
            read_only,
            flush: true,
            barrier: false,
            discard: true,
        }
    }

    fn setup(info: Info, npages: u32) -> (Blkfront<Mem, Mem>, Back) {
        let ring = page();
        let mut all = Vec::new();
        let pages = (0..npages)
            .map(|i| {
                let mem = page();
                all.push((100 + i, mem));
                Buffer { mem, gref: 100 + i }
            })
            .collect();
        let disk = (0..info.capacity() as usize).map(|i| (i / 512) as u8).collect();
        let back = Back {
            ring,
            pages: all,
            disk,
            cons: 0,
            prod: 0,
            status: RSP_OKAY,
            reverse: false,
            flushes: 0,
        };
        (Blkfront::new(ring, pages, info, 0), back)
    }

    /// Serves until `op` completes; returns its result.
    fn run(f: &mut Blkfront<Mem, Mem>, b: &mut Back, op: OpId) -> Result<Vec<u8>, BlkError> {
        for _ in 0..10_000 {
            b.serve();
            let (done, err) = f.poll();
            assert_eq!(err, None);
            if let Some((_, r)) = done.into_iter().find(|d| d.0 == op) {
                return r;
            }
        }
        panic!("op {op} never completed");
    }

    #[test]
    fn reads_and_writes_of_every_size_round_trip() {
        let (mut f, mut b) = setup(info(false), 64);
        for (offset, len) in
            [(0, 512), (512, 4096), (4096 * 3, 45056), (0, 45057 / 512 * 512), (1 << 20, 2 << 20)]
        {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + offset) as u8).collect();
            let w = f.write(offset as u64, &data).unwrap();
            assert_eq!(run(&mut f, &mut b, w), Ok(Vec::new()));
            assert_eq!(&b.disk[offset..offset + len], &data[..]);
            b.reverse = !b.reverse;
            let r = f.read(offset as u64, len).unwrap();
            assert_eq!(run(&mut f, &mut b, r), Ok(data));
        }
        assert!(!f.busy());
        assert_eq!(f.free_pages.len(), 64, "every page back in the pool");
    }

    #[test]
    fn flush_discard_and_their_absence() {
        let (mut f, mut b) = setup(info(false), 16);
        let op = f.flush().unwrap();
        assert_eq!(run(&mut f, &mut b, op), Ok(Vec::new()));
        assert_eq!(b.flushes, 1);
        let op = f.discard(4096, 8192).unwrap();
        assert_eq!(run(&mut f, &mut b, op), Ok(Vec::new()));
        assert!(b.disk[4096..12288].iter().all(|&x| x == 0));
        let mut i = info(false);
        (i.flush, i.discard) = (false, false);
        let (mut f, _) = setup(i, 16);
        assert_eq!(f.flush(), Err(BlkError::NotSupported));
        assert_eq!(f.discard(0, 512), Err(BlkError::NotSupported));
        i.barrier = true;
        let (mut f, mut b) = setup(i, 16);
        let op = f.flush().unwrap();
        assert_eq!(run(&mut f, &mut b, op), Ok(Vec::new()));
    }

    #[test]
    fn bad_arguments_and_read_only_are_refused_before_the_ring() {
        let (mut f, b) = setup(info(true), 16);
        assert_eq!(f.write(0, &[0; 512]), Err(BlkError::ReadOnly));
        assert_eq!(f.discard(0, 512), Err(BlkError::ReadOnly));
        assert_eq!(f.read(1, 512), Err(BlkError::Unaligned));
        assert_eq!(f.read(0, 100), Err(BlkError::Unaligned));
        assert_eq!(f.read(0, 0), Err(BlkError::Unaligned));
        assert_eq!(f.read(8192 * 512, 512), Err(BlkError::OutOfRange));
        assert_eq!(f.read(u64::MAX - 511, 512), Err(BlkError::OutOfRange));
        assert_eq!(b.ring.load_u32(OFF_REQ_PROD), 0);
        let mut i = info(false);
        i.sector_size = 4096;
        let (mut f, _) = setup(i, 16);
        assert_eq!(f.write(512, &[0; 4096]), Err(BlkError::Unaligned));
    }

    #[test]
    fn backend_failures_reach_the_caller() {
        let (mut f, mut b) = setup(info(false), 16);
        b.status = RSP_ERROR;
        let op = f.write(0, &vec![1; 100 * 1024]).unwrap();
        assert_eq!(run(&mut f, &mut b, op), Err(BlkError::Io(RSP_ERROR)));
        b.status = RSP_EOPNOTSUPP;
        let op = f.flush().unwrap();
        assert_eq!(run(&mut f, &mut b, op), Err(BlkError::NotSupported));
        b.status = RSP_OKAY;
        let op = f.read(0, 512).unwrap();
        assert!(run(&mut f, &mut b, op).is_ok());
        assert_eq!(f.free_pages.len(), 16);
    }

    #[test]
    fn hostile_responses_are_errors_not_double_frees() {
        let (mut f, mut b) = setup(info(false), 16);
        let op = f.read(0, 512).unwrap();
        b.cons = b.ring.load_u32(OFF_REQ_PROD); // "read" it, answer nonsense
        let mut rsp = [0u8; 16];
        rsp[0..8].copy_from_slice(&77u64.to_le_bytes());
        b.push(&rsp);
        assert_eq!(f.poll().1, Some(ProtocolError::BadId(77)));
        // Right id, wrong operation: an error, and the request stays in flight.
        rsp[0..8].copy_from_slice(&0u64.to_le_bytes());
        rsp[8] = OP_WRITE;
        let r = f.read(512, 512).unwrap(); // a second request so the ring has room
        b.cons = b.ring.load_u32(OFF_REQ_PROD);
        b.push(&rsp);
        assert_eq!(f.poll().1, Some(ProtocolError::WrongOperation { id: 0, op: OP_WRITE }));
        // The producer running ahead.
        b.ring.store_u32(OFF_RSP_PROD, b.prod + 5);
        assert!(matches!(f.poll().1, Some(ProtocolError::Ring(_))));
        b.ring.store_u32(OFF_RSP_PROD, b.prod);
        // Nothing was completed by garbage.
        assert!(f.busy());
        let _ = (op, r);
        assert_eq!(f.free_pages.len(), 14, "the two in-flight requests hold their pages");
    }

    #[test]
    fn random_hostile_streams_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut small = info(false);
        small.sectors = 1024;
        for _ in 0..300 {
            let (mut f, b) = setup(small, 16);
            for _ in 0..40 {
                match rnd() % 5 {
                    0 => {
                        let at = OFF_RING + (rnd() % 32) as usize * SLOT;
                        b.ring.write(at, &rnd().to_le_bytes());
                        b.ring.write(at + 8, &rnd().to_le_bytes()[..4]);
                    }
                    1 => b.ring.store_u32(OFF_RSP_PROD, (rnd() % 40) as u32),
                    2 => {
                        let _ = f.read((rnd() % 64) * 512, 512 * (1 + (rnd() % 200) as usize));
                    }
                    3 => {
                        let _ = f
                            .write((rnd() % 64) * 512, &vec![0; 512 * (1 + (rnd() % 30) as usize)]);
                    }
                    _ => {
                        let _ = f.flush();
                    }
                }
                let (done, _) = f.poll();
                for (_, r) in done {
                    if let Ok(d) = r {
                        assert!(d.len() <= 201 * 512);
                    }
                }
            }
            assert!(f.free_pages.len() <= 16);
        }
    }

    #[test]
    fn info_from_hostile_nodes() {
        let nodes = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|p| p.0 == k).map(|p| p.1.into())
        };
        let i =
            Info::parse(nodes(&[("sectors", "2048"), ("info", "4"), ("feature-flush-cache", "1")]))
                .unwrap();
        assert!(
            i.read_only && i.flush && !i.discard && i.sector_size == 512 && i.capacity() == 1 << 20
        );
        assert!(Info::parse(nodes(&[("sectors", "2048"), ("mode", "r")])).unwrap().read_only);
        for bad in [
            &[("sectors", "x")][..],
            &[("sectors", "0")][..],
            &[("sectors", "99999999999999999999")][..],
            &[("sectors", "8"), ("sector-size", "3")][..],
            &[("sectors", "8"), ("sector-size", "8192")][..],
            &[][..],
        ] {
            let owned: &'static [(&'static str, &'static str)] = bad;
            assert!(Info::parse(nodes(owned)).is_err(), "{bad:?}");
        }
    }
}
