//! Host tests: a simulated netback plays the other domain, honest or hostile.

use super::*;
use crate::le::{put_i16, put_u16, u16_at, u32_at};
use crate::ring::{RingError, OFF_REQ_PROD, OFF_RING, OFF_RSP_PROD};
use crate::shmem::testing::TestMem;
use crate::shmem::SharedMem;
use alloc::vec::Vec;
use std::boxed::Box;
use std::vec;

type Mem = &'static TestMem;

fn page() -> Mem {
    Box::leak(Box::new(TestMem::new(PAGE_SIZE)))
}

/// A simulated netback on the same ring layout: it plays the other domain, reading our
/// requests and writing responses and RX data, honestly unless a test tampers.
struct Back {
    tx: Mem,
    rx: Mem,
    pages: Vec<(u32, Mem)>,
    tx_cons: u32,
    tx_prod: u32,
    rx_cons: u32,
    rx_prod: u32,
}

impl Back {
    fn page(&self, gref: u32) -> Mem {
        self.pages.iter().find(|p| p.0 == gref).expect("request names a granted page").1
    }

    /// Takes every TX request, answers each with `status`, returns the frames.
    fn take_frames(&mut self, status: i16) -> Vec<Vec<u8>> {
        let prod = self.tx.load_u32(OFF_REQ_PROD);
        let mut frames = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        let mut total = 0;
        while self.tx_cons != prod {
            let mut req = [0u8; TX_SLOT];
            self.tx.read(OFF_RING + (self.tx_cons % 256) as usize * TX_SLOT, &mut req);
            self.tx_cons += 1;
            let gref = u32_at(&req, TXREQ_GREF);
            let size = u16_at(&req, TXREQ_SIZE) as usize;
            if cur.is_empty() {
                total = size;
            }
            let chunk = if u16_at(&req, TXREQ_FLAGS) & NETTXF_MORE_DATA != 0 {
                PAGE_SIZE.min(total - cur.len())
            } else {
                total - cur.len()
            };
            let mut data = vec![0u8; chunk];
            self.page(gref).read(u16_at(&req, TXREQ_OFFSET) as usize, &mut data);
            cur.extend_from_slice(&data);
            if u16_at(&req, TXREQ_FLAGS) & NETTXF_MORE_DATA == 0 {
                frames.push(core::mem::take(&mut cur));
            }
            let mut rsp = [0u8; TX_SLOT];
            put_u16(&mut rsp, TXRSP_ID, u16_at(&req, TXREQ_ID));
            put_i16(&mut rsp, TXRSP_STATUS, status);
            self.push_tx_response(&rsp);
        }
        frames
    }

    fn push_tx_response(&mut self, rsp: &[u8]) {
        self.tx.write(OFF_RING + (self.tx_prod % 256) as usize * TX_SLOT, rsp);
        self.tx_prod += 1;
        self.tx.store_u32(OFF_RSP_PROD, self.tx_prod);
    }

    /// The next posted RX request: (id, gref).
    fn rx_request(&mut self) -> (u16, u32) {
        assert_ne!(self.rx_cons, self.rx.load_u32(OFF_REQ_PROD), "no RX buffer posted");
        let mut req = [0u8; RX_SLOT];
        self.rx.read(OFF_RING + (self.rx_cons % 256) as usize * RX_SLOT, &mut req);
        self.rx_cons += 1;
        (u16_at(&req, RXREQ_ID), u32_at(&req, RXREQ_GREF))
    }

    fn push_rx_response(&mut self, id: u16, offset: u16, flags: u16, status: i16) {
        let mut rsp = [0u8; RX_SLOT];
        put_u16(&mut rsp, RXRSP_ID, id);
        put_u16(&mut rsp, RXRSP_OFFSET, offset);
        put_u16(&mut rsp, RXRSP_FLAGS, flags);
        put_i16(&mut rsp, RXRSP_STATUS, status);
        self.rx.write(OFF_RING + (self.rx_prod % 256) as usize * RX_SLOT, &rsp);
        self.rx_prod += 1;
        self.rx.store_u32(OFF_RSP_PROD, self.rx_prod);
    }

    /// Delivers a frame as netback's grant copy does: page-sized fragments, offset 0.
    fn deliver(&mut self, frame: &[u8]) {
        let n = frame.chunks(PAGE_SIZE).len();
        for (i, chunk) in frame.chunks(PAGE_SIZE).enumerate() {
            let (id, gref) = self.rx_request();
            self.page(gref).write(0, chunk);
            let flags = if i + 1 < n { NETRXF_MORE_DATA } else { 0 };
            self.push_rx_response(id, 0, flags, chunk.len() as i16);
        }
    }
}

fn setup(tx_pages: u32, rx_pages: u32) -> (Netfront<Mem, Mem>, Back) {
    let (tx, rx) = (page(), page());
    let mut all = Vec::new();
    let mut bufs = |n: u32, base: u32| {
        (0..n)
            .map(|i| {
                let mem = page();
                all.push((base + i, mem));
                Buffer { mem, gref: base + i }
            })
            .collect::<Vec<_>>()
    };
    let txb = bufs(tx_pages, 1000);
    let rxb = bufs(rx_pages, 5000);
    let front = Netfront::new(tx, rx, txb, rxb);
    (front, Back { tx, rx, pages: all, tx_cons: 0, tx_prod: 0, rx_cons: 0, rx_prod: 0 })
}

fn frame(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)).collect()
}

#[test]
fn frames_cross_both_ways_and_pages_are_reused() {
    let (mut f, mut b) = setup(256, 256);
    assert_eq!(b.rx.load_u32(OFF_REQ_PROD), 256, "every RX buffer posted");
    for round in 0..10u8 {
        for len in [60, 1514, 4096, 4097, 9000, MAX_FRAME] {
            f.send(&frame(len, round)).unwrap();
            b.deliver(&frame(len, round ^ 0x55));
        }
        let sent = b.take_frames(NETIF_RSP_OKAY);
        let want: Vec<_> =
            [60, 1514, 4096, 4097, 9000, MAX_FRAME].iter().map(|&l| frame(l, round)).collect();
        assert_eq!(sent, want);
        for len in [60, 1514, 4096, 4097, 9000, MAX_FRAME] {
            assert_eq!(f.recv().unwrap(), Some(frame(len, round ^ 0x55)));
        }
        assert_eq!(f.recv().unwrap(), None);
        f.post_rx();
        f.reap_tx().unwrap();
        assert_eq!(f.tx_in_flight(), 0);
    }
    assert_eq!(f.stats.protocol_errors, 0);
    assert_eq!(f.stats.rx_frames, 60);
    // 10 rounds of 1+1+1+2+3+16 pages each: far more than 256, so pages were reused.
    assert_eq!(b.rx_cons, 240);
}

#[test]
fn send_is_busy_when_pages_run_out_and_recovers() {
    let (mut f, mut b) = setup(4, 8);
    f.send(&frame(9000, 1)).unwrap(); // 3 pages
    assert_eq!(f.send(&frame(5000, 1)), Err(SendError::Busy));
    assert!(f.can_send(100));
    f.send(&frame(100, 2)).unwrap();
    assert_eq!(f.send(&frame(100, 3)), Err(SendError::Busy));
    assert_eq!(b.take_frames(NETIF_RSP_OKAY).len(), 2);
    f.send(&frame(5000, 4)).unwrap(); // reaped inside send
    assert_eq!(f.send(&[]), Err(SendError::BadLength(0)));
    assert_eq!(f.send(&vec![0; MAX_FRAME + 1]), Err(SendError::BadLength(MAX_FRAME + 1)));
}

#[test]
fn notifications_follow_the_event_indices() {
    let (mut f, b) = setup(8, 8);
    assert!(f.send(&frame(60, 0)).unwrap(), "req_event starts at 1");
    assert!(!f.send(&frame(60, 0)).unwrap(), "backend did not re-arm");
    b.tx.store_u32(crate::ring::OFF_REQ_EVENT, 3);
    assert!(f.send(&frame(60, 0)).unwrap());
}

#[test]
fn hostile_tx_responses_are_errors_not_double_frees() {
    let (mut f, mut b) = setup(4, 4);
    f.send(&frame(60, 0)).unwrap();
    assert_eq!(b.take_frames(NETIF_RSP_OKAY).len(), 1);
    f.reap_tx().unwrap();
    // A bogus id, then a duplicate of the id just answered.
    f.send(&frame(60, 1)).unwrap();
    b.tx_cons += 1; // the backend "reads" the request but answers nonsense
    b.push_tx_response(&[200, 0, 0, 0]);
    assert_eq!(f.reap_tx(), Err(NetError::BadTxId(200)));
    f.send(&frame(60, 1)).unwrap(); // id 1
    f.send(&frame(60, 1)).unwrap(); // id 2
    b.tx_cons += 2;
    b.push_tx_response(&[1, 0, 0, 0]);
    b.push_tx_response(&[1, 0, 0, 0]);
    assert_eq!(f.reap_tx(), Err(NetError::BadTxId(1)));
    assert_eq!(f.stats.protocol_errors, 2);
    // The producer running ahead of our requests.
    b.tx.store_u32(OFF_RSP_PROD, b.tx_prod + 10);
    assert!(matches!(f.reap_tx(), Err(NetError::Ring(RingError::ProducerAhead { .. }))));
    b.tx.store_u32(OFF_RSP_PROD, b.tx_prod);
    // The unanswered requests (ids 0 and 2) still hold their pages: never lent twice.
    assert_eq!(f.tx_in_flight(), 2);
    let mut sent = 0;
    while f.send(&frame(60, 2)).is_ok() {
        sent += 1;
    }
    assert_eq!(sent, 2);
    // Failed TX is counted, and the pages come back.
    assert_eq!(b.take_frames(-1).len(), 2);
    f.reap_tx().unwrap();
    assert_eq!(f.stats.tx_errors, 2);
    assert_eq!(f.tx_in_flight(), 2);
}

#[test]
fn hostile_rx_responses_drop_the_frame_and_keep_buffers() {
    let (mut f, mut b) = setup(4, 8);
    // Out-of-range id.
    let (_, _) = b.rx_request();
    b.push_rx_response(999, 0, 0, 60);
    assert_eq!(f.recv(), Err(NetError::BadRxId(999)));
    f.post_rx();
    // Offset + size beyond the page.
    let (id, _) = b.rx_request();
    b.push_rx_response(id, 4000, 0, 200);
    assert_eq!(f.recv(), Err(NetError::BadRxSize { offset: 4000, size: 200 }));
    // Duplicate: the same id answered twice.
    let (id, _) = b.rx_request();
    b.push_rx_response(id, 0, 0, 60);
    assert!(f.recv().unwrap().is_some());
    b.rx_request();
    b.push_rx_response(id, 0, 0, 60);
    assert_eq!(f.recv(), Err(NetError::BadRxId(id)));
    // Backend-reported error.
    let (id, _) = b.rx_request();
    b.push_rx_response(id, 0, 0, -1);
    assert_eq!(f.recv(), Err(NetError::RxStatus(-1)));
    // A chain that never ends is cut at MAX_FRAME and dropped whole.
    f.post_rx();
    let mut err = None;
    for _ in 0..40 {
        let (id, _) = b.rx_request();
        b.push_rx_response(id, 0, NETRXF_MORE_DATA, 4096);
        match f.recv() {
            Ok(None) => {}
            Err(e) => err = Some(e),
            Ok(Some(_)) => panic!("an endless chain was delivered"),
        }
        f.post_rx();
    }
    let (id, _) = b.rx_request();
    b.push_rx_response(id, 0, 0, 100);
    let last = f.recv();
    assert!(err.is_some() || last == Err(NetError::RxTooLong), "{err:?} {last:?}");
    // The producer index running ahead.
    b.rx.store_u32(OFF_RSP_PROD, b.rx_prod + 50);
    assert!(matches!(f.recv(), Err(NetError::Ring(RingError::ProducerAhead { .. }))));
    b.rx.store_u32(OFF_RSP_PROD, b.rx_prod);
    // Afterwards honest traffic flows and no buffer was lost: all 8 get posted again.
    f.post_rx();
    assert_eq!(b.rx.load_u32(OFF_REQ_PROD) - b.rx_cons, 8);
    for i in 0..20u8 {
        b.deliver(&frame(1514, i));
        assert_eq!(f.recv().unwrap(), Some(frame(1514, i)));
        f.post_rx();
    }
    assert!(f.stats.protocol_errors >= 4 && f.stats.rx_errors == 1, "{:?}", f.stats);
}

#[test]
fn a_stale_slot_does_not_give_back_a_buffer_posted_again() {
    // Found by the netfront_responses fuzz target. Buffer 1 is posted at position 1; a
    // response at position 0 names it (out of order), so it is given back and posted
    // again at position 2. Then the response at position 1 names no buffer: its slot's
    // posting of buffer 1 was already answered, so nothing may be given back. Giving
    // buffer 1 back again would post it twice (positions 2 and 3).
    let (mut f, mut b) = setup(4, 2);
    assert_eq!(b.rx_request().0, 0);
    assert_eq!(b.rx_request().0, 1);
    b.push_rx_response(1, 0, 0, 10);
    assert!(f.recv().unwrap().is_some());
    f.post_rx();
    assert_eq!(b.rx_request().0, 1, "posted again at position 2");
    b.push_rx_response(999, 0, 0, 10);
    assert_eq!(f.recv(), Err(NetError::BadRxId(999)));
    f.post_rx();
    assert_eq!(b.rx.load_u32(OFF_REQ_PROD), 3, "buffer 1 posted twice");
    // Honest answers for what the backend holds (positions 2 and 0's buffer, which
    // is still posted) bring both back.
    b.push_rx_response(1, 0, 0, 10);
    assert!(f.recv().unwrap().is_some());
    f.post_rx();
    assert_eq!(b.rx_request().0, 1);
    assert_eq!(b.rx.load_u32(OFF_REQ_PROD), 4);

    // The same with an extra-info slot at the stale position.
    let (mut f, mut b) = setup(4, 2);
    b.rx_request();
    b.rx_request();
    b.push_rx_response(1, 0, NETRXF_EXTRA_INFO, 10);
    assert_eq!(f.recv().unwrap(), None, "waits for the extra slot");
    f.post_rx();
    assert_eq!(b.rx_request().0, 1, "posted again at position 2");
    b.push_rx_response(0, 0, 0, 0); // the extra slot, at position 1
    assert_eq!(f.recv(), Err(NetError::BadRxId(1)));
    f.post_rx();
    assert_eq!(b.rx.load_u32(OFF_REQ_PROD), 3, "buffer 1 posted twice");
}

#[test]
fn extra_info_slots_are_skipped_and_their_buffers_reused() {
    let (mut f, mut b) = setup(4, 8);
    let (id, gref) = b.rx_request();
    b.page(gref).write(0, &frame(100, 9));
    b.push_rx_response(id, 0, NETRXF_EXTRA_INFO, 100);
    assert_eq!(f.recv().unwrap(), None, "waits for the extra slot");
    let (_, _) = b.rx_request();
    // The extra slot: type 1 (GSO), flags MORE, then a second one.
    b.push_rx_response(u16::from_le_bytes([1, XEN_NETIF_EXTRA_FLAG_MORE]), 0, 0, 0);
    b.rx_request();
    b.push_rx_response(1, 0, 0, 0);
    assert_eq!(f.recv().unwrap(), Some(frame(100, 9)));
    f.post_rx();
    assert_eq!(b.rx.load_u32(OFF_REQ_PROD) - b.rx_cons, 8);
}

#[test]
fn random_hostile_streams_never_panic() {
    // A backend writing garbage into every response slot and index.
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..200 {
        let (mut f, b) = setup(8, 8);
        for _ in 0..50 {
            let r = rnd();
            match r % 4 {
                0 => {
                    let at = OFF_RING + (rnd() % 256) as usize * RX_SLOT;
                    b.rx.write(at, &rnd().to_le_bytes());
                }
                1 => b.rx.store_u32(OFF_RSP_PROD, (rnd() % 300) as u32),
                2 => {
                    let at = OFF_RING + (rnd() % 256) as usize * TX_SLOT;
                    b.tx.write(at, &rnd().to_le_bytes()[..4]);
                    b.tx.store_u32(OFF_RSP_PROD, (rnd() % 12) as u32);
                }
                _ => {
                    let _ = f.send(&frame((rnd() % 9000) as usize + 1, 0));
                }
            }
            while let Ok(Some(fr)) = f.recv() {
                assert!(fr.len() <= MAX_FRAME);
            }
            let _ = f.reap_tx();
            f.post_rx();
        }
    }
}
