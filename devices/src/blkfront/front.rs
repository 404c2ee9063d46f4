//! The frontend state machine: operations split into ring requests, pages lent from the
//! pool, responses validated and matched to their requests, and the stop after a protocol
//! error.

use super::geometry::{Geometry, Info};
use super::wire::*;
use crate::netfront::Buffer;
use crate::ring::{FrontRing, RingError};
use crate::shmem::SharedMem;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

/// The most segments we put in one indirect request: 1 MiB, also Linux blkback's limit
/// (one indirect page).
pub const MAX_INDIRECT_SEGMENTS: u32 = 256;
/// Segments we put in one indirect request even when the backend takes more: 128 KiB, as
/// Linux's blkfront does by default. Smaller requests keep more of them in flight, so the
/// backend works on one while we copy another (`bench blk`: within the noise of requests
/// of half the pool, about 100 MiB/s sequential either way, as the Linux guest).
pub const INDIRECT_REQUEST_SEGMENTS: usize = 32;

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

impl core::error::Error for BlkError {}

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

impl core::error::Error for ProtocolError {}

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
    /// A suspend is coming: requests queue up, nothing is pushed.
    paused: bool,
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
            paused: false,
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
        if self.paused {
            return;
        }
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
        let Response { id, op, status } = Response::decode(rsp);
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

    /// Before a suspend: nothing more is pushed; operations started meanwhile queue up.
    /// Requests already pushed may still complete ([`poll`](Self::poll)).
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// After a cancelled suspend: the same backend goes on; what queued meanwhile is pushed.
    pub fn unpause(&mut self) {
        self.paused = false;
        self.pump();
    }

    /// After a resume in a new domain, before connecting to the new backend through the
    /// fresh `ring` (the pool's pages granted to it as before). Every request pushed on the
    /// old ring and not answered goes back to the head of the queue, in the order it was
    /// pushed, and its pages to the pool; [`unpause`](Self::unpause), once the backend is
    /// connected, pushes the queue on the new ring (a write's data copied from its
    /// operation again). An answered request is never sent again, and no operation
    /// completes twice: responses left on the old ring are never read. Returns the old ring
    /// and how many requests go again.
    pub fn resume(&mut self, ring: R) -> (R, usize) {
        let mut unanswered: Vec<InFlight> =
            self.in_flight.iter_mut().filter_map(Option::take).collect();
        unanswered.sort_by_key(|f| f.id >> SLOT_BITS);
        let again = unanswered.len();
        for f in unanswered.into_iter().rev() {
            self.free.extend(f.indirect.iter().chain(&f.data));
            self.queue.push_front(f.req);
        }
        let old = core::mem::replace(&mut self.ring, FrontRing::init(ring, SLOT));
        self.in_flight = (0..self.ring.size()).map(|_| None).collect();
        // A new peer: a protocol error of the old one (whose operations failed then) does
        // not stop this one.
        self.broken = None;
        self.paused = true;
        self.notify = false;
        (old.into_mem(), again)
    }

    /// Takes the ring and every page back, to end their grants once the backend has let go
    /// of them, with the operations that will never complete.
    pub fn into_parts(self) -> (R, Vec<Buffer<B>>, Vec<OpId>) {
        let unfinished = self.ops.keys().copied().collect();
        (self.ring.into_mem(), self.pages, unfinished)
    }
}

#[cfg(test)]
impl<R, B> Blkfront<R, B> {
    /// Indices of the free pages, then of those lent to requests in flight: the tests check
    /// that each page is in one place only.
    pub(super) fn page_indices(&self) -> impl Iterator<Item = u16> + '_ {
        let lent = self.in_flight.iter().flatten().flat_map(|l| l.data.iter().chain(&l.indirect));
        self.free.iter().chain(lent).copied()
    }
}
