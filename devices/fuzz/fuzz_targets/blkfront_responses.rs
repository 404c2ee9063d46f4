//! A hostile blkback. The input picks the disk (size, sector size, read-only, flush,
//! barrier, discard, indirect segments), the pool and a ring of 1, 2 or 4 pages, then is a
//! program: reads, writes, flushes and discards started by the frontend, interleaved with
//! responses written by the backend, in any order and with any status, some with a wrong
//! id (flipped bits, stale, duplicated, arbitrary) or operation, and producer indices that
//! lag or run ahead.
//!
//! The harness reads every request as blkback would (and as strictly: handle, segment
//! counts, sectors, grants of the pool, indirect pages only when offered), serves it
//! against a disk whose every byte is a function of its offset, and keeps its own account
//! of what the front must do. Checks:
//! - nothing panics (the targets are built with overflow checks);
//! - an operation is refused at start exactly when the rules say (alignment, range,
//!   read-only, features, a stopped front), with the right error;
//! - requests cover their operation's bytes in order; a write's pages hold its data; no
//!   page is in two requests at once; a flush goes out only when nothing is in flight;
//! - the front stops with a protocol error exactly when a response it takes breaks the
//!   protocol (an id not in flight, a wrong operation, a producer index running ahead),
//!   and then every operation fails once, and nothing more happens;
//! - an operation completes at most once, when all its requests are answered, with the
//!   first error among them or, for a read, exactly the data asked for;
//! - pages free in the pool are always those not lent in a request; at the end, once the
//!   backend answers everything, every operation has completed and every page is free.
#![no_main]

#[path = "../common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::Input;
use devices::blkfront::{
    BlkError, Blkfront, Buffer, Geometry, Info, OpId, DISCARD_FLAG, DISCARD_HANDLE, DISCARD_ID,
    DISCARD_NR_SECTORS, DISCARD_SECTOR, IND_GREFS, IND_HANDLE, IND_ID, IND_NR_SEGMENTS, IND_OP,
    IND_SECTOR, MAX_INDIRECT_PAGES, MAX_SEGMENTS, OP_DISCARD, OP_FLUSH_DISKCACHE, OP_INDIRECT,
    OP_READ, OP_WRITE, OP_WRITE_BARRIER, PAGE_SIZE, REQ_HANDLE, REQ_ID, REQ_NR_SEGMENTS,
    REQ_OPERATION, REQ_SECTOR, REQ_SEG, RSP_EOPNOTSUPP, RSP_ERROR, RSP_ID, RSP_OKAY, RSP_OPERATION,
    RSP_SIZE, RSP_STATUS, SEGMENTS_PER_INDIRECT_PAGE, SEG_FIRST, SEG_GREF, SEG_LAST, SEG_SIZE,
    SLOT, WIRE_SECTOR,
};
use devices::le::{u16_at, u32_at, u64_at};
use devices::ring::{ring_size, OFF_REQ_PROD, OFF_RING, OFF_RSP_PROD};
use devices::shmem::testing::TestMem as Mem;
use devices::shmem::{Pages, SharedMem};
use libfuzzer_sys::fuzz_target;
use std::collections::{BTreeMap, BTreeSet};

const HANDLE: u16 = 51712;
const GREF: u32 = 100;

/// The disk's contents, and the data the front writes: bytes that repeat with a period
/// of 65521 (a prime, so that no two sectors nearby look alike), taken from tables so that
/// the harness copies and compares slices instead of looping over bytes under the
/// fuzzer's instrumentation.
const PERIOD: usize = 65521;
const MAX_SPAN: usize = 1 << 19;

fn table(seed: u8) -> Vec<u8> {
    let base: Vec<u8> = (0..PERIOD).map(|i| (i ^ i >> 9 ^ i >> 13) as u8 ^ seed).collect();
    base.iter().cycle().take(PERIOD + MAX_SPAN).copied().collect()
}

fn span(table: &'static [u8], offset: u64, len: usize) -> &'static [u8] {
    assert!(len <= MAX_SPAN, "a span of {len} bytes");
    let at = (offset % PERIOD as u64) as usize;
    &table[at..at + len]
}

/// What the disk holds at `offset`.
fn disk(offset: u64, len: usize) -> &'static [u8] {
    static T: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    span(T.get_or_init(|| table(0)), offset, len)
}

/// What the front writes at `offset`.
fn written(offset: u64, len: usize) -> &'static [u8] {
    static T: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    span(T.get_or_init(|| table(0x5a)), offset, len)
}

/// An operation as the harness follows it.
#[derive(Debug)]
struct Op {
    kind: u8,
    offset: u64,
    len: usize,
    /// Bytes covered by the requests seen so far.
    issued: usize,
    /// Requests seen and not yet answered (as taken by the front).
    pending: usize,
    error: Option<BlkError>,
}

impl Op {
    fn fully_issued(&self) -> bool {
        self.error.is_some() || self.issued >= self.len.max(1)
    }
}

/// A request seen in the ring, not yet completed by the front.
#[derive(Debug)]
struct Req {
    op: OpId,
    kind: u8,
    indirect: bool,
    grefs: Vec<u32>,
}

struct Back<'a> {
    ring: Pages<&'a Mem>,
    slots: u32,
    pages: &'a [Mem],
    geometry: Geometry,
    /// Requests read.
    cons: u32,
    /// Responses written.
    prod: u32,
    /// What the front has taken (it takes every published response it can).
    front_cons: u32,
    /// Ids read and not yet answered, in the order read.
    held: Vec<u64>,
    /// Requests in flight as the front sees them, by id.
    in_flight: BTreeMap<u64, Req>,
    lent: BTreeSet<u32>,
    ops: BTreeMap<OpId, Op>,
    /// Ops in start order that may still send requests.
    order: Vec<OpId>,
    done: BTreeSet<OpId>,
    broken: bool,
    last_rsp: [u8; RSP_SIZE],
}

impl Back<'_> {
    fn slot(&self, pos: u32) -> usize {
        OFF_RING + (pos % self.slots) as usize * SLOT
    }

    fn page(&self, gref: u32) -> &Mem {
        page_of(self.pages, gref)
    }

    fn lend(&mut self, gref: u32) {
        self.page(gref);
        assert!(self.lent.insert(gref), "page {gref} in two requests at once");
    }

    /// Reads every new request and carries it out.
    fn scan(&mut self) {
        let end = self.ring.load_u32(OFF_REQ_PROD);
        assert!(end.wrapping_sub(self.front_cons) <= self.slots, "more requests than slots");
        while self.cons != end {
            let mut r = [0u8; SLOT];
            self.ring.read(self.slot(self.cons), &mut r);
            self.cons = self.cons.wrapping_add(1);
            self.request(&r);
        }
    }

    fn request(&mut self, r: &[u8; SLOT]) {
        let max_indirect = self.geometry.max_indirect_segments as usize;
        let (id, kind, indirect, sector, segs) = match r[REQ_OPERATION] {
            kind @ (OP_READ | OP_WRITE) => {
                assert_eq!(u16_at(r, REQ_HANDLE), HANDLE);
                let n = usize::from(r[REQ_NR_SEGMENTS]);
                assert!((1..=MAX_SEGMENTS).contains(&n), "{n} segments");
                let segs: Vec<[u8; SEG_SIZE]> = (0..n)
                    .map(|i| r[REQ_SEG + i * SEG_SIZE..][..SEG_SIZE].try_into().unwrap())
                    .collect();
                (u64_at(r, REQ_ID), kind, false, u64_at(r, REQ_SECTOR), segs)
            }
            OP_INDIRECT => {
                let kind = r[IND_OP];
                assert!(kind == OP_READ || kind == OP_WRITE, "indirect op {kind}");
                assert!(max_indirect > 0, "indirect request not offered");
                assert_eq!(u16_at(r, IND_HANDLE), HANDLE);
                let n = usize::from(u16_at(r, IND_NR_SEGMENTS));
                assert!((1..=max_indirect).contains(&n), "{n} indirect segments");
                let npages = n.div_ceil(SEGMENTS_PER_INDIRECT_PAGE);
                assert!(npages <= MAX_INDIRECT_PAGES);
                let mut segs = Vec::new();
                for p in 0..npages {
                    let gref = u32_at(r, IND_GREFS + p * 4);
                    self.lend(gref);
                    for i in
                        p * SEGMENTS_PER_INDIRECT_PAGE..n.min((p + 1) * SEGMENTS_PER_INDIRECT_PAGE)
                    {
                        let mut s = [0u8; SEG_SIZE];
                        self.page(gref).read(i % SEGMENTS_PER_INDIRECT_PAGE * SEG_SIZE, &mut s);
                        segs.push(s);
                    }
                }
                (u64_at(r, IND_ID), kind, true, u64_at(r, IND_SECTOR), segs)
            }
            kind @ (OP_FLUSH_DISKCACHE | OP_WRITE_BARRIER) => {
                assert_eq!(r[REQ_NR_SEGMENTS], 0);
                let info = self.geometry.info;
                let want = if info.flush { OP_FLUSH_DISKCACHE } else { OP_WRITE_BARRIER };
                assert!(info.flush || info.barrier, "flush not offered");
                assert_eq!(kind, want, "flush kind");
                assert!(self.in_flight.is_empty(), "a flush while requests are in flight");
                (u64_at(r, REQ_ID), kind, false, 0, Vec::new())
            }
            OP_DISCARD => {
                assert_eq!(u16_at(r, DISCARD_HANDLE), HANDLE);
                assert_eq!(r[DISCARD_FLAG], 0);
                assert!(self.geometry.info.discard, "discard not offered");
                (u64_at(r, DISCARD_ID), OP_DISCARD, false, u64_at(r, DISCARD_SECTOR), Vec::new())
            }
            op => panic!("unknown operation {op}"),
        };
        assert!(!self.in_flight.contains_key(&id), "id {id:#x} in flight twice");
        // The request belongs to the oldest operation still sending requests.
        self.order.retain(|o| self.ops.get(o).is_some_and(|op| !op.fully_issued()));
        let &op_id = self.order.first().expect("a request of no operation");
        let pages = self.pages;
        let op = self.ops.get_mut(&op_id).unwrap();
        assert_eq!(op.kind, kind, "request kind of op {op_id}");
        let at = op.offset + op.issued as u64;
        let mut grefs = Vec::new();
        let bytes = match kind {
            OP_READ | OP_WRITE => {
                assert_eq!(sector, at / WIRE_SECTOR as u64, "request sector");
                let mut bytes = 0usize;
                for (i, s) in segs.iter().enumerate() {
                    let (first, last) = (usize::from(s[SEG_FIRST]), usize::from(s[SEG_LAST]));
                    assert!(
                        first <= last && last < PAGE_SIZE / WIRE_SECTOR,
                        "segment {first}..={last}"
                    );
                    // Whole pages, but for the last segment of the request.
                    assert!(first == 0, "segment starts at sector {first} of its page");
                    let n = (last + 1) * WIRE_SECTOR;
                    assert!(i + 1 == segs.len() || n == PAGE_SIZE, "a short segment inside");
                    let gref = u32_at(s, SEG_GREF);
                    let page = page_of(pages, gref);
                    let base = at + bytes as u64;
                    if kind == OP_WRITE {
                        let mut data = vec![0u8; n];
                        page.read(0, &mut data);
                        assert!(
                            data == written(base, n),
                            "write data of op {op_id} wrong at {base}"
                        );
                    } else {
                        page.write(0, disk(base, n));
                    }
                    grefs.push(gref);
                    bytes += n;
                }
                assert!(
                    !indirect || segs.len() > MAX_SEGMENTS,
                    "indirect for {} segments",
                    segs.len()
                );
                bytes
            }
            OP_DISCARD => {
                assert_eq!(sector, op.offset / WIRE_SECTOR as u64, "discard sector");
                let n = u64_at(r, DISCARD_NR_SECTORS);
                assert_eq!(n, (op.len / WIRE_SECTOR) as u64, "discard length");
                op.len
            }
            _ => 0,
        };
        let cap = self.geometry.info.capacity();
        assert!(at.checked_add(bytes as u64).is_some_and(|e| e <= cap), "beyond the disk");
        assert!(op.issued + bytes <= op.len.max(bytes), "more than the op's bytes");
        op.issued += bytes.max(1);
        op.pending += 1;
        for &g in &grefs {
            self.lend(g);
        }
        // Indirect pages were lent above, before their segments were read.
        let mut all = grefs;
        if indirect {
            for p in 0..segs.len().div_ceil(SEGMENTS_PER_INDIRECT_PAGE) {
                all.push(u32_at(r, IND_GREFS + p * 4));
            }
        }
        self.in_flight.insert(id, Req { op: op_id, kind, indirect, grefs: all });
        self.held.push(id);
    }

    fn respond(&mut self, rsp: [u8; RSP_SIZE]) {
        let at = self.slot(self.prod);
        self.ring.write(at, &rsp);
        self.prod = self.prod.wrapping_add(1);
        self.last_rsp = rsp;
    }

    /// What the front's next poll must do, given the published index and slots: the
    /// completions in order, then whether it stops.
    fn expect_poll(&mut self) -> (Vec<(OpId, Result<Vec<u8>, BlkError>)>, bool) {
        let mut done = Vec::new();
        if self.broken {
            return (done, false);
        }
        let rsp_prod = self.ring.load_u32(OFF_RSP_PROD);
        let outstanding = self.cons.wrapping_sub(self.front_cons);
        if rsp_prod.wrapping_sub(self.front_cons) > outstanding {
            return (done, true);
        }
        while self.front_cons != rsp_prod {
            let mut rsp = [0u8; RSP_SIZE];
            self.ring.read(self.slot(self.front_cons), &mut rsp);
            self.front_cons = self.front_cons.wrapping_add(1);
            let id = u64_at(&rsp, RSP_ID);
            let op = rsp[RSP_OPERATION];
            let status = i16::from_le_bytes([rsp[RSP_STATUS], rsp[RSP_STATUS + 1]]);
            let ok = self
                .in_flight
                .get(&id)
                .is_some_and(|r| op == r.kind || op == OP_INDIRECT && r.indirect);
            if !ok {
                return (done, true);
            }
            let req = self.in_flight.remove(&id).unwrap();
            self.held.retain(|&h| h != id);
            for g in &req.grefs {
                self.lent.remove(g);
            }
            let o = self.ops.get_mut(&req.op).unwrap();
            o.pending -= 1;
            if status != RSP_OKAY && o.error.is_none() {
                o.error = Some(match status {
                    RSP_EOPNOTSUPP => BlkError::NotSupported,
                    s => BlkError::Io(s),
                });
            }
            if o.pending == 0 && o.fully_issued() {
                let o = self.ops.remove(&req.op).unwrap();
                let result = match (o.error, o.kind) {
                    (Some(e), _) => Err(e),
                    (None, OP_READ) => Ok(disk(o.offset, o.len).to_vec()),
                    (None, _) => Ok(Vec::new()),
                };
                done.push((req.op, result));
            }
        }
        // Slots taken beyond our producer were requests, read as responses.
        if self.prod.wrapping_sub(self.front_cons) > self.slots {
            self.prod = self.front_cons;
        }
        (done, false)
    }
}

fn page_of(pages: &[Mem], gref: u32) -> &Mem {
    let i = gref.checked_sub(GREF).expect("a gref of the pool") as usize;
    pages.get(i).expect("a gref of the pool")
}

type Front<'a> = Blkfront<Pages<&'a Mem>, &'a Mem>;

fn poll(f: &mut Front, b: &mut Back) {
    let (want, stops) = b.expect_poll();
    let (done, err) = f.poll();
    for (op, _) in &done {
        assert!(b.done.insert(*op), "op {op} completed twice");
    }
    if b.broken {
        assert!(done.is_empty() && err.is_none(), "a stopped front did something");
        return;
    }
    assert_eq!(err.is_some(), stops, "protocol error {err:?}, expected: {stops}");
    if stops {
        b.broken = true;
        assert!(f.broken().is_some());
        // Completions before the error, then every other op fails.
        assert_eq!(done[..want.len()], want[..], "completions before the error");
        let failed: BTreeSet<OpId> = done[want.len()..].iter().map(|d| d.0).collect();
        assert!(done[want.len()..].iter().all(|d| d.1 == Err(BlkError::Protocol)));
        let live: BTreeSet<OpId> = b.ops.keys().copied().collect();
        assert_eq!(failed, live, "the ops failed at the stop");
        b.ops.clear();
        b.order.clear();
    } else {
        let got: BTreeMap<_, _> = done.into_iter().collect();
        let want: BTreeMap<_, _> = want.into_iter().collect();
        assert!(got == want, "completions {:?}, expected {:?}", got.keys(), want.keys());
    }
}

/// Whether an operation must be refused, and how (the rules of Blkfront's docs).
fn refusal(g: &Geometry, broken: bool, kind: u8, offset: u64, len: usize) -> Option<BlkError> {
    let info = g.info;
    let writes = kind == OP_WRITE || kind == OP_DISCARD;
    if broken {
        return Some(BlkError::Protocol);
    }
    if writes && info.read_only {
        return Some(BlkError::ReadOnly);
    }
    match kind {
        OP_FLUSH_DISKCACHE => {
            return (!info.flush && !info.barrier).then_some(BlkError::NotSupported)
        }
        OP_DISCARD if !info.discard => return Some(BlkError::NotSupported),
        _ => {}
    }
    let ss = u64::from(info.sector_size);
    if len == 0 || offset % ss != 0 || len as u64 % ss != 0 {
        return Some(BlkError::Unaligned);
    }
    match offset.checked_add(len as u64) {
        Some(end) if end <= info.capacity() => None,
        _ => Some(BlkError::OutOfRange),
    }
}

fn start(f: &mut Front, b: &mut Back, inp: &mut Input) {
    let kind = inp.pick(&[OP_READ, OP_READ, OP_WRITE, OP_WRITE, OP_FLUSH_DISKCACHE, OP_DISCARD]);
    let info = b.geometry.info;
    let ss = u64::from(info.sector_size);
    let sectors = info.capacity() / ss;
    let offset = match inp.u8() % 8 {
        0 => u64::from(inp.u16()),
        1 => (sectors - 1 - u64::from(inp.u8()).min(sectors - 1)) * ss,
        2 => inp.u64(),
        _ => u64::from(inp.u16()) % sectors * ss,
    };
    let len = match inp.u8() % 8 {
        0 => usize::from(inp.u16()),
        1 => (usize::from(inp.u8() % 64) + 1) * info.sector_size as usize,
        2 => inp.pick(&[0, 11 * PAGE_SIZE, 11 * PAGE_SIZE + 512, 32 * PAGE_SIZE, 65 * PAGE_SIZE]),
        _ => (usize::from(inp.u8() % 24) + 1) * info.sector_size as usize,
    };
    let (offset, len) = if kind == OP_FLUSH_DISKCACHE { (0, 0) } else { (offset, len) };
    let refused = refusal(&b.geometry, b.broken, kind, offset, len);
    let result = match kind {
        OP_READ => f.read(offset, len),
        OP_WRITE => f.write(offset, written(offset, len)),
        OP_FLUSH_DISKCACHE => f.flush(),
        _ => f.discard(offset, len),
    };
    match result {
        Err(e) => assert_eq!(Some(e), refused, "op {kind} at {offset} of {len} bytes"),
        Ok(id) => {
            assert_eq!(refused, None, "op {kind} at {offset} of {len} bytes accepted");
            assert!(!b.done.contains(&id) && !b.ops.contains_key(&id), "op id {id} reused");
            // A flush goes out as a barrier where that is all the disk offers.
            let kind = match kind {
                OP_FLUSH_DISKCACHE if !info.flush => OP_WRITE_BARRIER,
                k => k,
            };
            let op = Op { kind, offset, len, issued: 0, pending: 0, error: None };
            b.ops.insert(id, op);
            b.order.push(id);
        }
    }
}

/// A response to one of the requests held, honest or not.
fn respond(b: &mut Back, inp: &mut Input) {
    if b.held.is_empty() || b.prod == b.cons {
        return;
    }
    let id = b.held[usize::from(inp.u8()) % b.held.len()];
    let req = &b.in_flight[&id];
    let mut rsp = [0u8; RSP_SIZE];
    let status = match inp.u8() % 6 {
        0..=2 => RSP_OKAY,
        3 => RSP_ERROR,
        4 => RSP_EOPNOTSUPP,
        _ => inp.u16() as i16,
    };
    let op = match inp.u8() % 8 {
        0 if req.indirect => OP_INDIRECT,
        1 => inp.u8(),
        _ => req.kind,
    };
    let id = match inp.u8() % 10 {
        0 => id ^ 1 << (inp.u8() % 64),
        1 => inp.u64(),
        2 => u64_at(&b.last_rsp, RSP_ID),
        _ => {
            b.held.retain(|&h| h != id);
            id
        }
    };
    rsp[RSP_ID..RSP_ID + 8].copy_from_slice(&id.to_le_bytes());
    rsp[RSP_OPERATION] = op;
    rsp[RSP_STATUS..RSP_STATUS + 2].copy_from_slice(&status.to_le_bytes());
    if inp.u8() % 16 == 0 {
        rsp = b.last_rsp; // a duplicate
    }
    b.respond(rsp);
}

fn run(inp: &mut Input) {
    let sector_size = inp.pick(&[512u32, 512, 4096]);
    let sectors = inp.pick(&[8u64, 64, 2048, 1 << 20, u64::MAX / 512]);
    let flags = inp.u8();
    let info = Info {
        sectors,
        sector_size,
        read_only: flags & 1 != 0 && flags & 0x80 != 0,
        flush: flags & 2 != 0,
        barrier: flags & 4 != 0,
        discard: flags & 8 != 0,
    };
    let geometry = Geometry {
        max_indirect_segments: inp.pick(&[0, 0, 8, 11, 12, 16, 32, 256]),
        ..info.into()
    };
    let npages = inp.pick(&[11usize, 12, 16, 24, 40, 64, 100]);
    let ring_pages = inp.pick(&[1usize, 2, 4]);
    let ring_mem: Vec<Mem> = (0..ring_pages).map(|_| Mem::new(PAGE_SIZE)).collect();
    let pool: Vec<Mem> = (0..npages).map(|_| Mem::new(PAGE_SIZE)).collect();
    let bufs = pool.iter().zip(GREF..).map(|(mem, gref)| Buffer { mem, gref }).collect();
    let mut f: Front = Blkfront::new(Pages::new(ring_mem.iter().collect()), bufs, geometry, HANDLE);
    let slots = ring_size(ring_pages * PAGE_SIZE, SLOT);
    let mut b = Back {
        ring: Pages::new(ring_mem.iter().collect()),
        slots,
        pages: &pool,
        geometry,
        cons: 0,
        prod: 0,
        front_cons: 0,
        held: Vec::new(),
        in_flight: BTreeMap::new(),
        lent: BTreeSet::new(),
        ops: BTreeMap::new(),
        order: Vec::new(),
        done: BTreeSet::new(),
        broken: false,
        last_rsp: [0; RSP_SIZE],
    };

    let mut steps = 0;
    while !inp.is_empty() && steps < 2000 {
        steps += 1;
        match inp.u8() % 12 {
            0..=2 => start(&mut f, &mut b, inp),
            3..=6 => respond(&mut b, inp),
            7 => b.ring.store_u32(OFF_RSP_PROD, b.prod),
            8 => {
                // A producer index off ours, for one poll.
                let any = u32::from(inp.u8());
                let v = b.prod.wrapping_add(inp.pick(&[1, 2, b.slots, u32::MAX, any]));
                let before = b.ring.load_u32(OFF_RSP_PROD);
                b.ring.store_u32(OFF_RSP_PROD, v);
                poll(&mut f, &mut b);
                b.ring.store_u32(OFF_RSP_PROD, before);
            }
            9 => {
                let _ = f.take_notify();
            }
            _ => {
                b.ring.store_u32(OFF_RSP_PROD, b.prod);
                poll(&mut f, &mut b);
            }
        }
        b.scan();
        assert_eq!(f.free_pages(), npages - b.lent.len(), "pages free in the pool");
        assert_eq!(f.busy(), !b.ops.is_empty(), "busy");
    }

    // The backend turns honest: it publishes what it wrote, then answers every request it
    // holds, until all is done.
    for _ in 0..10_000 {
        b.ring.store_u32(OFF_RSP_PROD, b.prod);
        poll(&mut f, &mut b);
        b.scan();
        if b.broken || b.ops.is_empty() {
            break;
        }
        for id in std::mem::take(&mut b.held) {
            assert_ne!(b.prod, b.cons, "no slot to answer in");
            let mut rsp = [0u8; RSP_SIZE];
            rsp[RSP_ID..RSP_ID + 8].copy_from_slice(&id.to_le_bytes());
            rsp[RSP_OPERATION] = b.in_flight[&id].kind;
            b.respond(rsp);
        }
    }
    if b.broken {
        assert_eq!(f.read(0, sector_size as usize), Err(BlkError::Protocol));
        assert_eq!(f.free_pages(), npages - b.lent.len(), "pages lent at the stop stay lent");
    } else {
        assert!(b.ops.is_empty(), "ops never completed: {:?}", b.ops);
        assert_eq!(f.free_pages(), npages, "every page back in the pool");
    }
    assert!(!f.busy());
    let (_, pages, unfinished) = f.into_parts();
    assert!(unfinished.is_empty());
    assert_eq!(pages.iter().map(|p| p.gref).collect::<BTreeSet<_>>().len(), npages);
}

fuzz_target!(|data: &[u8]| {
    run(&mut Input::new(data));
});
