//! The generic shared ring of Xen's `io/ring.h`, frontend side: a page holding the
//! producer/event indices of requests and responses, then a power-of-two array of slots,
//! each the union of a request and a response. netfront and blkfront are built on it.
//!
//! The frontend produces requests and consumes responses. Indices are free-running `u32`s.
//! Responses are copied out of their slot once and then belong to the caller; the backend's
//! producer index is checked (it may never announce more responses than requests are
//! outstanding), so a hostile backend gives an error instead of making us read stale slots.

use crate::shmem::SharedMem;
use core::sync::atomic::{fence, Ordering};

/// Offsets in `struct *_sring`.
pub const OFF_REQ_PROD: usize = 0;
pub const OFF_REQ_EVENT: usize = 4;
pub const OFF_RSP_PROD: usize = 8;
pub const OFF_RSP_EVENT: usize = 12;
pub const OFF_RING: usize = 64;

/// Slots in a ring of `bytes` bytes with `entry_size`-byte slots (`__RING_SIZE`): the
/// largest power of two that fits.
pub const fn ring_size(bytes: usize, entry_size: usize) -> u32 {
    let n = (bytes - OFF_RING) / entry_size;
    if n == 0 {
        0
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingError {
    /// No free slot for a request.
    Full,
    /// The backend's response producer ran ahead of the requests we made.
    ProducerAhead { rsp_prod: u32, rsp_cons: u32, req_prod: u32 },
}

impl core::fmt::Display for RingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RingError::Full => f.write_str("ring full"),
            RingError::ProducerAhead { rsp_prod, rsp_cons, req_prod } => write!(
                f,
                "backend announced responses up to {rsp_prod} with {rsp_cons} consumed and only {req_prod} requests made"
            ),
        }
    }
}

impl core::error::Error for RingError {}

/// Our side of a shared ring.
#[derive(Debug)]
pub struct FrontRing<M> {
    mem: M,
    entry: usize,
    size: u32,
    req_prod_pvt: u32,
    req_prod_pub: u32,
    rsp_cons: u32,
}

impl<M: SharedMem> FrontRing<M> {
    /// Initialises a fresh shared ring page (`SHARED_RING_INIT` + `FRONT_RING_INIT`).
    pub fn init(mem: M, entry_size: usize) -> Self {
        let size = ring_size(mem.size(), entry_size);
        assert!(size > 0 && entry_size.is_multiple_of(4), "ring too small or entry size odd");
        mem.store_u32(OFF_REQ_PROD, 0);
        mem.store_u32(OFF_RSP_PROD, 0);
        mem.store_u32(OFF_REQ_EVENT, 1);
        mem.store_u32(OFF_RSP_EVENT, 1);
        FrontRing { mem, entry: entry_size, size, req_prod_pvt: 0, req_prod_pub: 0, rsp_cons: 0 }
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    fn slot(&self, idx: u32) -> usize {
        OFF_RING + (idx % self.size) as usize * self.entry
    }

    /// The index the next request will get.
    pub fn next_request_index(&self) -> u32 {
        self.req_prod_pvt
    }

    /// The index of the next response to take.
    pub fn next_response_index(&self) -> u32 {
        self.rsp_cons
    }

    /// Gives the shared memory back (after the backend has let go of it).
    pub fn into_mem(self) -> M {
        self.mem
    }

    /// Requests made and not yet answered.
    pub fn outstanding(&self) -> u32 {
        self.req_prod_pvt.wrapping_sub(self.rsp_cons)
    }

    pub fn free_requests(&self) -> u32 {
        self.size - self.outstanding()
    }

    /// Queues a request (not yet visible to the backend: see [`publish`](Self::publish)).
    pub fn push_request(&mut self, req: &[u8]) -> Result<(), RingError> {
        assert!(req.len() <= self.entry, "request larger than a ring slot");
        if self.free_requests() == 0 {
            return Err(RingError::Full);
        }
        self.mem.write(self.slot(self.req_prod_pvt), req);
        self.req_prod_pvt = self.req_prod_pvt.wrapping_add(1);
        Ok(())
    }

    /// Makes queued requests visible; true if the backend asked to be notified
    /// (`RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`).
    pub fn publish(&mut self) -> bool {
        let old = self.req_prod_pub;
        let new = self.req_prod_pvt;
        self.mem.store_u32(OFF_REQ_PROD, new); // release: requests before index
        self.req_prod_pub = new;
        fence(Ordering::SeqCst); // index before reading req_event
        let event = self.mem.load_u32(OFF_REQ_EVENT);
        new.wrapping_sub(event) < new.wrapping_sub(old)
    }

    fn rsp_prod(&self) -> Result<u32, RingError> {
        let rsp_prod = self.mem.load_u32(OFF_RSP_PROD);
        if rsp_prod.wrapping_sub(self.rsp_cons) > self.outstanding() {
            return Err(RingError::ProducerAhead {
                rsp_prod,
                rsp_cons: self.rsp_cons,
                req_prod: self.req_prod_pvt,
            });
        }
        Ok(rsp_prod)
    }

    /// Copies the next response into `buf` (a slot's worth); `Ok(false)` if there is none.
    pub fn take_response(&mut self, buf: &mut [u8]) -> Result<bool, RingError> {
        if self.rsp_prod()? == self.rsp_cons {
            return Ok(false);
        }
        let n = buf.len().min(self.entry);
        self.mem.read(self.slot(self.rsp_cons), &mut buf[..n]);
        self.rsp_cons = self.rsp_cons.wrapping_add(1);
        Ok(true)
    }

    /// Whether responses are waiting; if none, asks to be notified of the next one
    /// and checks again (`RING_FINAL_CHECK_FOR_RESPONSES`), so that none is missed.
    pub fn final_check(&mut self) -> Result<bool, RingError> {
        if self.rsp_prod()? != self.rsp_cons {
            return Ok(true);
        }
        self.mem.store_u32(OFF_RSP_EVENT, self.rsp_cons.wrapping_add(1));
        fence(Ordering::SeqCst);
        Ok(self.rsp_prod()? != self.rsp_cons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shmem::testing::TestMem;

    /// The backend's view: consumes requests, answers each with its first byte + 100.
    struct Back<'a> {
        mem: &'a dyn SharedMem,
        req_cons: u32,
        rsp_prod: u32,
        size: u32,
    }

    impl Back<'_> {
        fn answer_all(&mut self, entry: usize) -> u32 {
            let prod = self.mem.load_u32(OFF_REQ_PROD);
            let mut n = 0;
            while self.req_cons != prod {
                let at = OFF_RING + (self.req_cons % self.size) as usize * entry;
                let mut b = [0u8; 1];
                self.mem.read(at, &mut b);
                self.mem
                    .write(OFF_RING + (self.rsp_prod % self.size) as usize * entry, &[b[0] + 100]);
                self.req_cons += 1;
                self.rsp_prod += 1;
                n += 1;
            }
            self.mem.store_u32(OFF_RSP_PROD, self.rsp_prod);
            n
        }
    }

    #[test]
    fn sizes_match_ring_h() {
        assert_eq!(ring_size(4096, 12), 256); // netif tx: 4032 / 12 = 336 -> 256
        assert_eq!(ring_size(4096, 8), 256); // netif rx
        assert_eq!(ring_size(4096, 112), 32); // blkif: 36 -> 32
    }

    #[test]
    fn requests_and_responses_round_trip_and_the_ring_fills() {
        let mem = TestMem::new(4096);
        let mut f = FrontRing::init(&mem, 112);
        let mut back = Back { mem: &mem, req_cons: 0, rsp_prod: 0, size: 32 };
        for round in 0..5u8 {
            for i in 0..32u8 {
                f.push_request(&[i + round]).unwrap();
            }
            assert_eq!(f.push_request(&[0]), Err(RingError::Full));
            f.publish();
            assert_eq!(back.answer_all(112), 32);
            let mut buf = [0u8; 112];
            for i in 0..32u8 {
                assert!(f.take_response(&mut buf).unwrap());
                assert_eq!(buf[0], i + round + 100);
            }
            assert!(!f.take_response(&mut buf).unwrap());
            assert!(!f.final_check().unwrap());
        }
    }

    #[test]
    fn a_ring_of_four_pages_has_128_blkif_slots_straddling_the_pages() {
        use crate::shmem::Pages;
        let pages = Pages::new(std::vec![
            TestMem::new(4096),
            TestMem::new(4096),
            TestMem::new(4096),
            TestMem::new(4096)
        ]);
        let mut f = FrontRing::init(&pages, 112);
        assert_eq!(f.size(), 128); // (16384 - 64) / 112 = 145 -> 128, as __RING_SIZE
        let mut back = Back { mem: &pages, req_cons: 0, rsp_prod: 0, size: 128 };
        for round in 0..3u8 {
            for i in 0..128u8 {
                let mut req = [0u8; 112];
                req[0] = i.wrapping_add(round);
                req[111] = i; // the end of a slot that starts on another page
                f.push_request(&req).unwrap();
            }
            assert_eq!(f.push_request(&[0]), Err(RingError::Full));
            f.publish();
            // Slot 36 starts at 64 + 36 * 112 = 4096: the second page's first byte.
            let mut first = [0u8; 1];
            pages.pages()[1].read(0, &mut first);
            assert_eq!(first[0], 36u8.wrapping_add(round));
            let mut end = [0u8; 1];
            pages.read(64 + 35 * 112 + 111, &mut end);
            assert_eq!(end[0], 35);
            assert_eq!(back.answer_all(112), 128);
            let mut buf = [0u8; 112];
            for i in 0..128u8 {
                assert!(f.take_response(&mut buf).unwrap());
                assert_eq!(buf[0], i.wrapping_add(round).wrapping_add(100));
            }
            assert!(!f.take_response(&mut buf).unwrap());
        }
    }

    #[test]
    fn notification_only_when_the_backend_asked() {
        let mem = TestMem::new(4096);
        let mut f = FrontRing::init(&mem, 8);
        f.push_request(&[1]).unwrap();
        assert!(f.publish(), "req_event starts at 1: first request notifies");
        f.push_request(&[2]).unwrap();
        assert!(!f.publish(), "backend has not re-armed req_event");
        mem.store_u32(OFF_REQ_EVENT, 3);
        f.push_request(&[3]).unwrap();
        assert!(f.publish());
    }

    #[test]
    fn a_response_producer_running_ahead_is_an_error() {
        let mem = TestMem::new(4096);
        let mut f = FrontRing::init(&mem, 8);
        f.push_request(&[1]).unwrap();
        f.publish();
        mem.store_u32(OFF_RSP_PROD, 2); // two responses for one request
        let mut buf = [0u8; 8];
        assert!(matches!(f.take_response(&mut buf), Err(RingError::ProducerAhead { .. })));
        mem.store_u32(OFF_RSP_PROD, u32::MAX); // "behind" us
        assert!(f.final_check().is_err());
        mem.store_u32(OFF_RSP_PROD, 1);
        assert!(f.take_response(&mut buf).unwrap());
    }

    #[test]
    fn final_check_rearms_rsp_event() {
        let mem = TestMem::new(4096);
        let mut f = FrontRing::init(&mem, 8);
        assert!(!f.final_check().unwrap());
        assert_eq!(mem.load_u32(OFF_RSP_EVENT), 1);
    }
}
