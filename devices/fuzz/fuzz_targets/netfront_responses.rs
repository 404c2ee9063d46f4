//! A hostile netback. The input is a program: frontend calls (send a frame, recv, post_rx,
//! reap_tx) interleaved with what the backend writes into the TX and RX response rings
//! (ids honest or not, statuses, offsets, sizes, more-data and extra-info flags) and their
//! producer indices (published, lagging, or running ahead of the requests).
//!
//! The harness reads every request the front publishes, as netback would, and checks:
//! - nothing panics (the targets are built with overflow checks);
//! - each TX frame sent arrives in its requests exactly (sizes, more-data chain, page
//!   contents), and no TX page or RX buffer is lent again before a response that could
//!   have given it back: naming its id, or (RX) sitting in the slot of its request;
//! - the front never has more requests out than the ring has slots;
//! - every received frame is 1..=MAX_FRAME bytes, all of them bytes that the backend wrote
//!   for some response (never memory that no response described);
//! - at the end, once the backend answers everything it holds, every buffer is accounted
//!   for: the TX pages can all be used again, the RX buffers can all be posted again, and
//!   honest frames still get through.
#![no_main]

#[path = "../common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::Input;
use devices::le::{u16_at, u32_at};
use devices::netfront::{
    Buffer, Netfront, SendError, MAX_FRAME, NETIF_RSP_NULL, NETIF_RSP_OKAY, NETRXF_MORE_DATA,
    NETTXF_MORE_DATA, PAGE_SIZE, RXREQ_GREF, RXREQ_ID, RX_SLOT, TXREQ_FLAGS, TXREQ_GREF, TXREQ_ID,
    TXREQ_OFFSET, TXREQ_SIZE, TX_SLOT,
};
use devices::ring::{OFF_REQ_PROD, OFF_RING, OFF_RSP_EVENT, OFF_RSP_PROD};
use devices::shmem::testing::TestMem as Mem;
use devices::shmem::SharedMem;
use libfuzzer_sys::fuzz_target;
use std::collections::{BTreeSet, VecDeque};

/// Both rings are one page: 256 slots each.
const SLOTS: u32 = 256;
const TX_GREF: u32 = 1000;
const RX_GREF: u32 = 5000;
/// An id no buffer has (ids are below 300 here), whose high byte has no extra-info MORE bit.
const BOGUS_ID: u16 = 0x0200;

/// What the backend knows of one buffer id.
#[derive(Default, Clone)]
struct Id {
    /// Lent (TX) or posted (RX) at some point.
    out: bool,
    /// A lower bound of the front's response consumer when it was last lent: only a
    /// response at or after it can have given the buffer back.
    floor: u32,
    /// The position of the last response naming this id.
    named: Option<u32>,
    /// The ring position of the request that last lent it.
    pos: u32,
}

impl Id {
    fn named_since_lent(&self) -> bool {
        self.named.is_some_and(|p| p >= self.floor)
    }
}

/// The backend's side of one ring.
struct Ring<'a> {
    mem: &'a Mem,
    slot: usize,
    /// Requests read so far.
    seen: u32,
    /// Responses written so far (our producer).
    prod: u32,
    /// A lower bound of the front's consumer, from the rsp_event it re-arms.
    cons: u32,
    req_id: Vec<u16>,
    ids: Vec<Id>,
}

impl<'a> Ring<'a> {
    fn new(mem: &'a Mem, slot: usize, n: usize) -> Self {
        Ring {
            mem,
            slot,
            seen: 0,
            prod: 0,
            cons: 0,
            req_id: vec![0; SLOTS as usize],
            ids: vec![Id::default(); n],
        }
    }

    fn at(&self, pos: u32) -> usize {
        OFF_RING + (pos % SLOTS) as usize * self.slot
    }

    fn publish(&self) {
        self.mem.store_u32(OFF_RSP_PROD, self.prod);
    }

    /// The front sets rsp_event to its consumer + 1 whenever it found no response left.
    fn learn_cons(&mut self) {
        let c = self.mem.load_u32(OFF_RSP_EVENT).wrapping_sub(1);
        assert!(c <= self.prod, "front consumed up to {c}, beyond the {} responses", self.prod);
        self.cons = self.cons.max(c);
    }

    /// The front's request producer, checked against the ring's size.
    fn req_prod(&self) -> u32 {
        let end = self.mem.load_u32(OFF_REQ_PROD);
        let ahead = end.wrapping_sub(self.prod);
        assert!(ahead <= SLOTS, "{ahead} requests unanswered in a ring of {SLOTS}");
        assert!(end.wrapping_sub(self.seen) <= SLOTS, "request producer moved back");
        end
    }

    /// Records a response naming `id` at our producer and advances it.
    fn respond(&mut self, id: u16, bytes: &[u8]) {
        self.mem.write(self.at(self.prod), bytes);
        if let Some(e) = self.ids.get_mut(usize::from(id)) {
            e.named = Some(self.prod);
        }
        self.prod += 1;
    }

    fn has_unanswered(&self) -> bool {
        self.prod != self.seen
    }
}

struct Back<'a> {
    tx: Ring<'a>,
    rx: Ring<'a>,
    tx_pages: &'a [Mem],
    rx_pages: &'a [Mem],
    /// Frames the front accepted, not yet seen in the TX ring.
    expect: VecDeque<Vec<u8>>,
}

impl Back<'_> {
    /// Reads every new TX request: one frame per more-data chain, compared with what was
    /// sent.
    fn scan_tx(&mut self) {
        let end = self.tx.req_prod();
        let mut chain: Vec<(u16, usize)> = Vec::new();
        while self.tx.seen != end {
            let mut req = [0u8; TX_SLOT];
            self.tx.mem.read(self.tx.at(self.tx.seen), &mut req);
            let id = u16_at(&req, TXREQ_ID);
            let gref = u32_at(&req, TXREQ_GREF);
            let flags = u16_at(&req, TXREQ_FLAGS);
            let size = usize::from(u16_at(&req, TXREQ_SIZE));
            let n = self.tx.ids.len();
            assert!(usize::from(id) < n, "TX request id {id} of {n}");
            assert_eq!(gref, TX_GREF + u32::from(id), "TX request names another page");
            assert_eq!(u16_at(&req, TXREQ_OFFSET), 0);
            assert_eq!(flags & !NETTXF_MORE_DATA, 0, "TX flags {flags:#x}: no offloads asked");
            let floor = self.tx.cons;
            let e = &mut self.tx.ids[usize::from(id)];
            assert!(!e.out || e.named_since_lent(), "TX page {id} lent twice");
            (e.out, e.floor, e.pos) = (true, floor, self.tx.seen);
            self.tx.req_id[(self.tx.seen % SLOTS) as usize] = id;
            self.tx.seen += 1;
            chain.push((id, size));
            if flags & NETTXF_MORE_DATA != 0 {
                assert!(chain.len() <= MAX_FRAME / PAGE_SIZE + 1, "endless TX chain");
                continue;
            }
            // The first request's size is the frame's; the others', their own.
            let total = chain[0].1;
            let rest: usize = chain[1..].iter().map(|c| c.1).sum();
            assert!(total > rest && total - rest <= PAGE_SIZE, "TX sizes {chain:?}");
            let mut frame = Vec::with_capacity(total);
            for (i, &(id, size)) in chain.iter().enumerate() {
                let len = if i == 0 { total - rest } else { size };
                assert!((1..=PAGE_SIZE).contains(&len), "TX fragment of {len} bytes");
                let mut data = vec![0; len];
                self.tx_pages[usize::from(id)].read(0, &mut data);
                frame.extend_from_slice(&data);
            }
            let want = self.expect.pop_front().expect("a TX frame that was not sent");
            assert!(frame == want, "TX frame of {} bytes differs from the one sent", want.len());
            chain.clear();
        }
        assert!(chain.is_empty(), "a TX chain published half");
        assert!(self.expect.is_empty(), "a frame accepted but not published");
    }

    /// Reads every new RX request; returns how many there were.
    fn scan_rx(&mut self) -> u32 {
        let end = self.rx.req_prod();
        let mut new = 0;
        while self.rx.seen != end {
            let mut req = [0u8; RX_SLOT];
            self.rx.mem.read(self.rx.at(self.rx.seen), &mut req);
            let id = u16_at(&req, RXREQ_ID);
            let gref = u32_at(&req, RXREQ_GREF);
            let n = self.rx.ids.len();
            assert!(usize::from(id) < n, "RX request id {id} of {n}");
            assert_eq!(gref, RX_GREF + u32::from(id), "RX request names another page");
            let (floor, prod) = (self.rx.cons, self.rx.prod);
            let e = &mut self.rx.ids[usize::from(id)];
            // Given back by a response naming it, or by the one in its request's slot.
            assert!(!e.out || e.named_since_lent() || prod > e.pos, "RX buffer {id} posted twice");
            (e.out, e.floor, e.pos) = (true, floor, self.rx.seen);
            self.rx.req_id[(self.rx.seen % SLOTS) as usize] = id;
            self.rx.seen += 1;
            new += 1;
        }
        new
    }

    fn scan(&mut self) -> u32 {
        self.scan_tx();
        self.scan_rx()
    }

    fn tx_response(&mut self, id: u16, status: i16) {
        let mut rsp = [0u8; 4];
        rsp[0..2].copy_from_slice(&id.to_le_bytes());
        rsp[2..4].copy_from_slice(&status.to_le_bytes());
        self.tx.respond(id, &rsp);
    }

    /// An RX response; where it describes a piece of one of our pages, the backend "copies"
    /// data there first: bytes with the top bit set, which no page holds otherwise.
    fn rx_response(&mut self, id: u16, offset: u16, flags: u16, status: i16, fill: &[u8]) {
        let (o, s) = (usize::from(offset), status as isize);
        if let Some(page) = self.rx_pages.get(usize::from(id)) {
            if s >= 0 && o + s as usize <= PAGE_SIZE {
                let s = s as usize;
                let data: Vec<u8> = if fill.len() == s {
                    fill.to_vec()
                } else {
                    (0..s).map(|i| 0x80 | (id as u8 ^ i as u8) & 0x7f).collect()
                };
                page.write(o, &data);
            }
        }
        let mut rsp = [0u8; RX_SLOT];
        rsp[0..2].copy_from_slice(&id.to_le_bytes());
        rsp[2..4].copy_from_slice(&offset.to_le_bytes());
        rsp[4..6].copy_from_slice(&flags.to_le_bytes());
        rsp[6..8].copy_from_slice(&status.to_le_bytes());
        self.rx.respond(id, &rsp);
    }
}

fn bufs(pages: &[Mem], base: u32) -> Vec<Buffer<&Mem>> {
    pages.iter().zip(base..).map(|(mem, gref)| Buffer { mem, gref }).collect()
}

fn check_frame(frame: &[u8]) {
    assert!(!frame.is_empty() && frame.len() <= MAX_FRAME, "frame of {} bytes", frame.len());
    assert!(frame.iter().all(|b| b & 0x80 != 0), "a frame with bytes that no response described");
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8).collect()
}

type Front<'a> = Netfront<&'a Mem, &'a Mem>;

fn run(inp: &mut Input) {
    let n_tx = inp.pick(&[1usize, 2, 3, 4, 8, 17, 64, 300]);
    let n_rx = inp.pick(&[1usize, 2, 3, 4, 8, 17, 64, 300]);
    let (tx_ring, rx_ring) = (Mem::new(PAGE_SIZE), Mem::new(PAGE_SIZE));
    let tx_pages: Vec<Mem> = (0..n_tx).map(|_| Mem::new(PAGE_SIZE)).collect();
    let rx_pages: Vec<Mem> = (0..n_rx).map(|_| Mem::new(PAGE_SIZE)).collect();
    let mut f: Front =
        Netfront::new(&tx_ring, &rx_ring, bufs(&tx_pages, TX_GREF), bufs(&rx_pages, RX_GREF));
    let mut b = Back {
        tx: Ring::new(&tx_ring, TX_SLOT, n_tx),
        rx: Ring::new(&rx_ring, RX_SLOT, n_rx),
        tx_pages: &tx_pages,
        rx_pages: &rx_pages,
        expect: VecDeque::new(),
    };
    assert_eq!(b.scan(), n_rx.min(SLOTS as usize) as u32, "every RX buffer posted at start");

    let mut steps = 0;
    while !inp.is_empty() && steps < 3000 {
        steps += 1;
        b.tx.learn_cons();
        b.rx.learn_cons();
        match inp.u8() % 16 {
            0..=2 => {
                let len = match inp.u8() % 8 {
                    0 => {
                        inp.pick(&[0, 1, 4096, 4097, 8192, MAX_FRAME - 1, MAX_FRAME, MAX_FRAME + 1])
                    }
                    1 => usize::from(inp.u16()) + 1,
                    _ => usize::from(inp.u16() % 1514) + 1,
                };
                let frame = pattern(len, inp.u8());
                match f.send(&frame) {
                    Ok(_) => b.expect.push_back(frame),
                    Err(SendError::BadLength(l)) => {
                        assert!(l == len && (len == 0 || len > MAX_FRAME), "BadLength({l})")
                    }
                    Err(SendError::Busy) => {
                        assert!(len > 0 && len <= MAX_FRAME, "Busy for a frame of {len} bytes")
                    }
                }
            }
            3 => {
                let _ = f.reap_tx();
            }
            4 | 5 => {
                for _ in 0..1 + inp.u8() % 4 {
                    match f.recv() {
                        Ok(Some(frame)) => check_frame(&frame),
                        Ok(None) => break,
                        Err(_) => {}
                    }
                }
            }
            6 => {
                f.post_rx();
            }
            7 | 8 => {
                // A TX response at the next position.
                if b.tx.has_unanswered() {
                    let honest = b.tx.req_id[(b.tx.prod % SLOTS) as usize];
                    let id = match inp.u8() % 4 {
                        0 | 1 => honest,
                        2 => inp.u16() % (n_tx as u16 + 2),
                        _ => inp.u16(),
                    };
                    let status = match inp.u8() % 4 {
                        0 | 1 => NETIF_RSP_OKAY,
                        2 => inp.pick(&[NETIF_RSP_NULL, -1, -2]),
                        _ => inp.u16() as i16,
                    };
                    b.tx_response(id, status);
                    if inp.u8() % 2 == 0 {
                        b.tx.publish();
                    }
                }
            }
            9..=11 => {
                // An RX response at the next position.
                if b.rx.has_unanswered() {
                    let honest = b.rx.req_id[(b.rx.prod % SLOTS) as usize];
                    let id = match inp.u8() % 5 {
                        0 | 1 => honest,
                        2 => inp.u16() % (n_rx as u16 + 2),
                        // An extra-info slot: type, then flags (MORE = 1).
                        3 => u16::from_le_bytes([inp.u8() % 4, inp.u8() % 2]),
                        _ => inp.u16(),
                    };
                    let offset = match inp.u8() % 4 {
                        0 | 1 => 0,
                        2 => inp.u16() % PAGE_SIZE as u16,
                        _ => inp.u16(),
                    };
                    let flags = match inp.u8() % 4 {
                        0 => 0,
                        1 => NETRXF_MORE_DATA,
                        2 => u16::from(inp.u8() & 0x0f),
                        _ => inp.u16(),
                    };
                    let status = match inp.u8() % 5 {
                        0 | 1 => (inp.u16() % PAGE_SIZE as u16) as i16 + 1,
                        2 => i16::from(inp.u8()),
                        3 => inp.pick(&[0, -1, -2, 4096, 4097, i16::MIN, i16::MAX]),
                        _ => inp.u16() as i16,
                    };
                    b.rx_response(id, offset, flags, status, &[]);
                    if inp.u8() % 2 == 0 {
                        b.rx.publish();
                    }
                }
            }
            12 => {
                b.tx.publish();
                b.rx.publish();
            }
            13 | 14 => {
                // A producer index lagging behind ours, or running ahead of the requests, for
                // one call of the front; then the one published before comes back.
                let tx = inp.u8() % 2 == 0;
                let ring = if tx { &b.tx } else { &b.rx };
                let v = match inp.u8() % 2 {
                    0 => ring.prod.wrapping_sub(u32::from(inp.u8())),
                    _ => ring.mem.load_u32(OFF_REQ_PROD).wrapping_add(1 + u32::from(inp.u16())),
                };
                let before = ring.mem.load_u32(OFF_RSP_PROD);
                ring.mem.store_u32(OFF_RSP_PROD, v);
                if tx {
                    assert!(f.reap_tx().is_err() || v <= b.tx.prod, "reaped beyond the responses");
                } else if let Ok(Some(frame)) = f.recv() {
                    check_frame(&frame);
                }
                ring.mem.store_u32(OFF_RSP_PROD, before);
            }
            _ => {
                let _ = f.can_send(usize::from(inp.u16()));
                assert!(f.tx_in_flight() <= n_tx);
            }
        }
        b.scan();
    }
    end(f, &mut b, inp);
}

/// The backend turns honest and answers everything it holds; every buffer must then be
/// accounted for, and honest traffic must flow.
fn end(mut f: Front, b: &mut Back, inp: &mut Input) {
    let (n_tx, n_rx) = (b.tx.ids.len(), b.rx.ids.len());
    b.tx.learn_cons();
    b.rx.learn_cons();

    // TX: answer every page ever lent while there are requests to answer; then the rest
    // of the requests with an id that is no page's.
    let (mut lo, mut hi) = (0, 0);
    for id in 0..n_tx as u16 {
        let e = &b.tx.ids[usize::from(id)];
        if !e.out {
            continue;
        }
        if b.tx.has_unanswered() {
            b.tx_response(id, NETIF_RSP_OKAY);
        } else {
            hi += 1;
            lo += usize::from(!e.named_since_lent());
        }
    }
    while b.tx.has_unanswered() {
        b.tx_response(BOGUS_ID, NETIF_RSP_OKAY);
    }
    b.tx.publish();
    // Each call stops at a bad response, having consumed it.
    let reaped = (0..2 * SLOTS + 2).any(|_| f.reap_tx().is_ok());
    assert!(reaped, "reap_tx never finished");
    let in_flight = f.tx_in_flight();
    assert!((lo..=hi).contains(&in_flight), "{in_flight} TX pages in flight, not {lo}..={hi}");
    // Every page that came back can carry a frame again (the ring is empty now).
    let mut sent = 0;
    while f.send(&pattern(60, sent as u8)).is_ok() {
        b.expect.push_back(pattern(60, sent as u8));
        sent += 1;
        b.scan_tx();
        assert!(sent <= n_tx, "more TX frames in flight than pages");
    }
    let want = (n_tx - in_flight).min(SLOTS as usize);
    assert_eq!(sent, want, "TX pages lost: {sent} sendable of {n_tx}, {in_flight} in flight");

    // RX: two responses that end any chain or run of extra-info slots, then one naming
    // each buffer ever posted, then the rest with an id that is no buffer's.
    let clean = b.rx.seen.wrapping_sub(b.rx.prod) >= 2;
    for _ in 0..2 {
        if b.rx.has_unanswered() {
            b.rx_response(BOGUS_ID, 0, 0, 0, &[]);
        }
    }
    let mut unnamed = 0;
    for id in 0..n_rx as u16 {
        if !b.rx.ids[usize::from(id)].out {
            continue;
        }
        if b.rx.has_unanswered() {
            b.rx_response(id, 0, 0, 1, &[]);
        } else {
            unnamed += 1;
        }
    }
    while b.rx.has_unanswered() {
        b.rx_response(BOGUS_ID, 0, 0, 0, &[]);
    }
    b.rx.publish();
    let mut drained = false;
    for _ in 0..4 * SLOTS {
        match f.recv() {
            Ok(Some(frame)) => check_frame(&frame),
            Ok(None) => {
                drained = true;
                break;
            }
            Err(_) => {}
        }
    }
    assert!(drained, "recv never ran dry");
    f.post_rx();
    let first = b.rx.seen;
    let posted = b.scan_rx() as usize;
    let slots = SLOTS as usize;
    if clean {
        // Only buffers no response named can still be with the backend.
        let (lo, hi) = ((n_rx - unnamed).min(slots), n_rx.min(slots));
        assert!((lo..=hi).contains(&posted), "{posted} RX buffers posted again, not {lo}..={hi}");

        // Honest frames still arrive whole: one fragment, then two (4096 + len).
        let mut at = first;
        for frags in [1usize, 2] {
            if (b.rx.seen - at) < frags as u32 {
                break;
            }
            let len = usize::from(inp.u16() % PAGE_SIZE as u16) + 1;
            let mut whole = Vec::new();
            for k in 0..frags {
                let id = b.rx.req_id[(at % SLOTS) as usize];
                let size = if k + 1 < frags { PAGE_SIZE } else { len };
                let data: Vec<u8> = (0..size).map(|i| 0x80 | (i as u8 ^ k as u8) & 0x7f).collect();
                let flags = if k + 1 < frags { NETRXF_MORE_DATA } else { 0 };
                b.rx_response(id, 0, flags, size as i16, &data);
                whole.extend_from_slice(&data);
                at += 1;
            }
            b.rx.publish();
            assert_eq!(f.recv(), Ok(Some(whole)), "an honest frame after the hostile stream");
        }
    }

    let grefs: BTreeSet<u32> = f.into_parts().2.iter().map(|p| p.gref).collect();
    assert_eq!(grefs.len(), n_tx + n_rx, "into_parts gives every buffer back once");
}

fuzz_target!(|data: &[u8]| {
    run(&mut Input::new(data));
});
