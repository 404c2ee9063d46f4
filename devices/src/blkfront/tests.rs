//! Host tests: a simulated blkback over a RAM disk plays the other domain, honest or
//! hostile.

use super::*;
use crate::le::{put_i16, put_u64, u16_at, u32_at, u64_at};
use crate::ring::{RingError, OFF_REQ_EVENT, OFF_REQ_PROD, OFF_RING, OFF_RSP_PROD};
use crate::shmem::testing::TestMem;
use crate::shmem::SharedMem;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
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
            put_u64(&mut rsp, RSP_ID, id);
            rsp[RSP_OPERATION] = op;
            put_i16(&mut rsp, RSP_STATUS, status);
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
                assert_eq!(u16_at(r, REQ_HANDLE), HANDLE);
                let n = r[REQ_NR_SEGMENTS] as usize;
                assert!((1..=MAX_SEGMENTS).contains(&n), "{n} segments");
                let segs: Vec<[u8; SEG_SIZE]> = (0..n)
                    .map(|i| r[REQ_SEG + i * SEG_SIZE..][..SEG_SIZE].try_into().unwrap())
                    .collect();
                let sector = u64_at(r, REQ_SECTOR);
                self.transfer(op, sector, &segs, ok);
                self.seen.push(Seen { op, indirect: false, segments: n, sector });
                (u64_at(r, REQ_ID), op)
            }
            OP_INDIRECT => {
                let op = r[IND_OP];
                assert!(op == OP_READ || op == OP_WRITE, "indirect op {op}");
                assert!(self.max_indirect > 0, "indirect request not offered");
                assert_eq!(u16_at(r, IND_HANDLE), HANDLE);
                let n = u16_at(r, IND_NR_SEGMENTS) as usize;
                assert!((1..=self.max_indirect).contains(&n), "{n} indirect segments");
                let npages = n.div_ceil(SEGMENTS_PER_INDIRECT_PAGE);
                assert!(npages <= MAX_INDIRECT_PAGES);
                let mut segs = Vec::new();
                for i in 0..n {
                    let gref = u32_at(r, IND_GREFS + i / SEGMENTS_PER_INDIRECT_PAGE * 4);
                    let at = i % SEGMENTS_PER_INDIRECT_PAGE * SEG_SIZE;
                    let mut s = [0u8; SEG_SIZE];
                    self.page(gref).read(at, &mut s);
                    segs.push(s);
                }
                let sector = u64_at(r, IND_SECTOR);
                self.transfer(op, sector, &segs, ok);
                self.seen.push(Seen { op, indirect: true, segments: n, sector });
                (u64_at(r, IND_ID), op)
            }
            op @ (OP_FLUSH_DISKCACHE | OP_WRITE_BARRIER) => {
                assert_eq!(r[REQ_NR_SEGMENTS], 0);
                self.seen.push(Seen { op, indirect: false, segments: 0, sector: 0 });
                (u64_at(r, REQ_ID), op)
            }
            OP_DISCARD => {
                assert_eq!(u16_at(r, DISCARD_HANDLE), HANDLE);
                assert_eq!(r[DISCARD_FLAG], 0);
                let sector = u64_at(r, DISCARD_SECTOR);
                let n = u64_at(r, DISCARD_NR_SECTORS) as usize;
                let at = sector as usize * 512;
                assert!(n > 0 && at + n * 512 <= self.disk.len(), "discard out of range");
                if ok {
                    self.disk[at..at + n * 512].fill(0);
                }
                self.seen.push(Seen { op: OP_DISCARD, indirect: false, segments: 0, sector });
                (u64_at(r, DISCARD_ID), OP_DISCARD)
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
            let page = self.page(u32_at(s, SEG_GREF));
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
    Info { sectors, sector_size: 512, read_only: false, flush: true, barrier: false, discard: true }
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
    for p in f.page_indices() {
        assert!(seen.insert(p), "page {p} twice");
    }
    assert_eq!(seen.len(), f.pages(), "a page was lost");
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
    assert_eq!((f.stats.failed_ops, f.stats.protocol_errors, f.stats.indirect_requests), (0, 0, 0));
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
        let want = Seen { op: OP_WRITE, indirect: true, segments: 32, sector: 1 + i as u64 * 256 };
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
    let reads: Vec<OpId> = ops.iter().map(|&(_, off, len, _)| f.read(off, len).unwrap()).collect();
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
fn a_resume_reissues_exactly_the_unanswered_requests_on_the_new_ring() {
    let (mut f, mut b) = setup(info(16384), 64);
    let data = pattern(3 * 4096, 7);
    // Three writes and a read in flight; the backend carries out and answers the first
    // write, carries out the second without answering, never sees the rest.
    let w1 = f.write(0, &data[..4096]).unwrap();
    let w2 = f.write(4096, &data[4096..8192]).unwrap();
    let w3 = f.write(8192, &data[8192..]).unwrap();
    let r = f.read(0, 3 * 4096).unwrap();
    b.take(1);
    b.answer();
    b.take(1);
    let (done, err) = f.poll();
    assert_eq!(err, None);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, w1);
    // Suspend: nothing more is pushed; an operation started meanwhile waits.
    f.pause();
    let w4 = f.write(12288, &data[..4096]).unwrap();
    let (done, _) = f.poll();
    assert!(done.is_empty());
    // The second write's response never arrives: its backend is gone with the old domain.
    // The new backend starts on a fresh ring with the same disk.
    let mut nb = Back { ring: page(), cons: 0, prod: 0, held: Vec::new(), seen: Vec::new(), ..b };
    let (old, again) = f.resume(nb.ring);
    assert!(core::ptr::eq(old, b.ring));
    assert_eq!(again, 3, "w2, w3 and the read");
    nb.serve();
    assert!(f.poll().0.is_empty(), "nothing is pushed before the backend is connected");
    f.unpause();
    let results = run(&mut f, &mut nb, &[w2, w3, r, w4]);
    assert!(results[..2].iter().all(Result::is_ok));
    assert_eq!(results[2].as_ref().unwrap(), &data);
    assert!(results[3].is_ok());
    // Reissued: w2, w3, the read, in the order first pushed, then w4; never w1.
    let sectors: Vec<u64> = nb.seen.iter().map(|s| s.sector).collect();
    assert_eq!(sectors, [8, 16, 0, 24]);
    assert_eq!(&nb.disk[12288..16384], &data[..4096]);
    assert_pages_accounted(&f);
    assert!(!f.busy());
}

#[test]
fn a_cancelled_suspend_pushes_what_queued() {
    let (mut f, mut b) = setup(info(16384), 64);
    f.pause();
    let w = f.write(0, &[1; 512]).unwrap();
    b.serve();
    assert!(f.poll().0.is_empty());
    f.unpause();
    assert!(f.take_notify());
    assert!(run1(&mut f, &mut b, w).is_ok());
    assert_eq!(&b.disk[..512], &[1; 512]);
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
    assert_eq!(u64_at(&first, RSP_ID) & 0xffff, 0);
    b.push(&first);
    let (done, err) = f.poll();
    assert_eq!(err, Some(ProtocolError::BadId(u64_at(&first, RSP_ID))));
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
    let id = u64_at(&wrong, RSP_ID);
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
                        let status = [RSP_OKAY, RSP_OKAY, RSP_ERROR, RSP_EOPNOTSUPP, rnd() as i16];
                        let s = status[rnd() as usize % 5];
                        put_i16(&mut rsp, RSP_STATUS, s);
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
    use BackendNode::*;
    use GeometryError::*;
    let cases: &[(&[(&str, &str)], GeometryError)] = &[
        (&[], Missing(Sectors)),
        (&[("sectors", "x")], NotANumber(Sectors)),
        (&[("sectors", "")], NotANumber(Sectors)),
        (&[("sectors", "-8")], NotANumber(Sectors)),
        (&[("sectors", "0x10")], NotANumber(Sectors)),
        (&[("sectors", "99999999999999999999")], NotANumber(Sectors)),
        (&[("sectors", "0")], ZeroSectors),
        (&[("sectors", "36028797018963968")], TooLarge(1 << 55)),
        (&[("sectors", "8"), ("sector-size", "3")], BadSectorSize(3)),
        (&[("sectors", "8"), ("sector-size", "0")], BadSectorSize(0)),
        (&[("sectors", "8"), ("sector-size", "256")], BadSectorSize(256)),
        (&[("sectors", "8"), ("sector-size", "1536")], BadSectorSize(1536)),
        (&[("sectors", "8"), ("sector-size", "8192")], BadSectorSize(8192)),
        (&[("sectors", "8"), ("sector-size", "4294967296")], NotANumber(SectorSize)),
        (
            &[("sectors", "8"), ("sector-size", "4096"), ("physical-sector-size", "512")],
            BadPhysicalSectorSize(512),
        ),
        (&[("sectors", "8"), ("physical-sector-size", "3000")], BadPhysicalSectorSize(3000)),
        (&[("sectors", "8"), ("info", "ro")], NotANumber(Info)),
        (&[("sectors", "8"), ("feature-flush-cache", "yes")], NotANumber(FeatureFlushCache)),
        (
            &[("sectors", "8"), ("feature-max-indirect-segments", "-1")],
            NotANumber(FeatureMaxIndirectSegments),
        ),
        (&[("sectors", "8"), ("discard-granularity", "1e3")], NotANumber(DiscardGranularity)),
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
