//! netfront (`io/netif.h`): Ethernet frames over a TX and an RX ring shared with netback.
//!
//! Every buffer page is granted to the backend once, when the device connects, and reused
//! for the life of the connection: a TX page is lent to the backend while a request names
//! it and returns to the free list when its response arrives; an RX page is posted, filled
//! by the backend's grant copy, copied out once, and posted again.
//!
//! Nothing the backend writes is trusted: each response is copied out of its slot once and
//! checked (id in range and outstanding, status, offset + size inside the page, chain
//! length) before it is used. A bad response is counted in [`Stats`], logged by the caller
//! from the returned [`NetError`], and its buffer recycled; it never panics or makes us
//! touch memory outside our pages.
//!
//! Checksums: we run a software stack that computes and verifies every checksum, so we ask
//! for none of the offloads (`feature-no-csum-offload = 1`) and set no checksum flags on TX.

use crate::ring::{FrontRing, RingError};
use crate::shmem::SharedMem;
use alloc::vec::Vec;

pub const PAGE_SIZE: usize = 4096;
/// Slot sizes: `union netif_tx_sring_entry`, `union netif_rx_sring_entry`.
pub const TX_SLOT: usize = 12;
pub const RX_SLOT: usize = 8;

/// Offsets in `struct netif_tx_request`.
pub const TXREQ_GREF: usize = 0;
pub const TXREQ_OFFSET: usize = 4;
pub const TXREQ_FLAGS: usize = 6;
pub const TXREQ_ID: usize = 8;
pub const TXREQ_SIZE: usize = 10;
/// Offsets in `struct netif_tx_response`.
pub const TXRSP_ID: usize = 0;
pub const TXRSP_STATUS: usize = 2;
/// Offsets in `struct netif_rx_request`.
pub const RXREQ_ID: usize = 0;
pub const RXREQ_GREF: usize = 4;
/// Offsets in `struct netif_rx_response`.
pub const RXRSP_ID: usize = 0;
pub const RXRSP_OFFSET: usize = 2;
pub const RXRSP_FLAGS: usize = 4;
pub const RXRSP_STATUS: usize = 6;
/// Offset of `flags` in `struct netif_extra_info`.
pub const EXTRA_FLAGS: usize = 1;

pub const NETTXF_MORE_DATA: u16 = 1 << 2;
pub const NETRXF_MORE_DATA: u16 = 1 << 2;
pub const NETRXF_EXTRA_INFO: u16 = 1 << 3;
pub const XEN_NETIF_EXTRA_FLAG_MORE: u8 = 1 << 0;
pub const NETIF_RSP_OKAY: i16 = 0;
pub const NETIF_RSP_NULL: i16 = 1;

/// Largest frame we send or accept: a 64 KiB IP packet in an Ethernet frame
/// (`XEN_NETIF_MAX_TX_SIZE` is 0xFFFF).
pub const MAX_FRAME: usize = 0xFFFF;

/// A page of ours and the grant reference the backend knows it by.
#[derive(Debug)]
pub struct Buffer<B> {
    pub mem: B,
    pub gref: u32,
}

/// What went wrong with the backend; the frame or response concerned is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetError {
    Ring(RingError),
    /// A TX response for an id out of range or not in flight (bogus or duplicate).
    BadTxId(u16),
    /// An RX response for an id out of range or not posted (bogus or duplicate).
    BadRxId(u16),
    /// An RX fragment whose offset + size leaves its page.
    BadRxSize {
        offset: u16,
        size: i16,
    },
    /// An RX chain longer than [`MAX_FRAME`].
    RxTooLong,
    /// The backend reported an error for a received frame (status < 0).
    RxStatus(i16),
    /// No memory to copy a received frame into: it was dropped.
    NoMemory,
}

impl From<RingError> for NetError {
    fn from(e: RingError) -> Self {
        NetError::Ring(e)
    }
}

impl core::fmt::Display for NetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NetError::Ring(e) => write!(f, "{e}"),
            NetError::BadTxId(id) => write!(f, "TX response for id {id}, which is not in flight"),
            NetError::BadRxId(id) => write!(f, "RX response for id {id}, which is not posted"),
            NetError::BadRxSize { offset, size } => {
                write!(f, "RX fragment at offset {offset} of size {size} leaves its page")
            }
            NetError::RxTooLong => write!(f, "RX chain longer than {MAX_FRAME} bytes"),
            NetError::RxStatus(s) => write!(f, "backend failed a received frame (status {s})"),
            NetError::NoMemory => write!(f, "no memory for a received frame: dropped"),
        }
    }
}

/// Counters, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub tx_frames: u64,
    pub tx_bytes: u64,
    /// TX requests the backend reported as failed or dropped.
    pub tx_errors: u64,
    pub rx_frames: u64,
    pub rx_bytes: u64,
    /// RX frames dropped because the backend failed them or sent something invalid.
    pub rx_errors: u64,
    /// RX frames dropped for want of memory to copy them into.
    pub rx_dropped: u64,
    /// Responses that broke the protocol (bad id, size, producer index).
    pub protocol_errors: u64,
}

/// Why [`Netfront::send`] did not queue a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// Not enough free TX pages or ring slots now: try again after responses arrive.
    Busy,
    /// Empty, or larger than [`MAX_FRAME`].
    BadLength(usize),
}

/// The frontend of one vif: both rings and their buffer pages.
pub struct Netfront<R, B> {
    tx: FrontRing<R>,
    rx: FrontRing<R>,
    tx_bufs: Vec<Buffer<B>>,
    tx_free: Vec<u16>,
    tx_in_flight: Vec<bool>,
    rx_bufs: Vec<Buffer<B>>,
    rx_free: Vec<u16>,
    rx_posted: Vec<bool>,
    /// The buffer id posted at each RX ring position (extra-info responses carry no id:
    /// they use the buffer of the request in their slot).
    rx_slot_id: Vec<u16>,
    /// The ring position each posted buffer was last posted at: a slot gives its buffer
    /// back only if that posting is still the buffer's (a response naming the buffer out
    /// of order may have given it back, and it may have been posted again elsewhere).
    rx_posted_at: Vec<u32>,
    /// Fragments of a frame whose chain is not complete yet.
    partial: Vec<u8>,
    rx_state: RxState,
    pub stats: Stats,
}

impl<R: SharedMem, B: SharedMem> Netfront<R, B> {
    /// Initialises both ring pages and posts every RX buffer. At most 65536 buffers each
    /// (ids are `u16`); more buffers than ring slots are never used at once.
    pub fn new(tx_ring: R, rx_ring: R, tx_bufs: Vec<Buffer<B>>, rx_bufs: Vec<Buffer<B>>) -> Self {
        assert!(!tx_bufs.is_empty() && tx_bufs.len() <= 1 << 16);
        assert!(!rx_bufs.is_empty() && rx_bufs.len() <= 1 << 16);
        let tx = FrontRing::init(tx_ring, TX_SLOT);
        let rx = FrontRing::init(rx_ring, RX_SLOT);
        let rx_size = rx.size() as usize;
        let mut n = Netfront {
            tx,
            rx,
            tx_free: (0..tx_bufs.len() as u32).rev().map(|i| i as u16).collect(),
            tx_in_flight: alloc::vec![false; tx_bufs.len()],
            tx_bufs,
            rx_free: (0..rx_bufs.len() as u32).rev().map(|i| i as u16).collect(),
            rx_posted: alloc::vec![false; rx_bufs.len()],
            rx_slot_id: alloc::vec![0; rx_size],
            rx_posted_at: alloc::vec![0; rx_bufs.len()],
            rx_bufs,
            partial: Vec::new(),
            rx_state: RxState::default(),
            stats: Stats::default(),
        };
        n.post_rx();
        n
    }

    /// Posts every free RX buffer there is a slot for. True if the backend must be notified.
    pub fn post_rx(&mut self) -> bool {
        let mut any = false;
        while self.rx.free_requests() > 0 {
            let Some(id) = self.rx_free.pop() else { break };
            let mut req = [0u8; RX_SLOT];
            req[RXREQ_ID..RXREQ_ID + 2].copy_from_slice(&id.to_le_bytes());
            req[RXREQ_GREF..RXREQ_GREF + 4]
                .copy_from_slice(&self.rx_bufs[id as usize].gref.to_le_bytes());
            let pos = self.rx.next_request_index();
            self.rx.push_request(&req).expect("a free slot was checked");
            self.rx_slot_id[(pos % self.rx.size()) as usize] = id;
            self.rx_posted[id as usize] = true;
            self.rx_posted_at[id as usize] = pos;
            any = true;
        }
        any && self.rx.publish()
    }

    /// Whether a frame of `len` bytes can be queued now.
    pub fn can_send(&self, len: usize) -> bool {
        let slots = len.div_ceil(PAGE_SIZE).max(1);
        self.tx_free.len() >= slots && self.tx.free_requests() as usize >= slots
    }

    /// Queues one frame, split over as many pages as it needs (`NETTXF_more_data`).
    /// `Ok(true)` if the backend must be notified.
    pub fn send(&mut self, frame: &[u8]) -> Result<bool, SendError> {
        if frame.is_empty() || frame.len() > MAX_FRAME {
            return Err(SendError::BadLength(frame.len()));
        }
        if !self.can_send(frame.len()) {
            self.reap_tx_quietly();
            if !self.can_send(frame.len()) {
                return Err(SendError::Busy);
            }
        }
        let chunks = frame.chunks(PAGE_SIZE);
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.enumerate() {
            let id = self.tx_free.pop().expect("free pages were checked");
            let buf = &self.tx_bufs[id as usize];
            buf.mem.write(0, chunk);
            // The first request's size is the whole frame's; later ones their own.
            let size = if i == 0 { frame.len() } else { chunk.len() } as u16;
            let flags = if i < last { NETTXF_MORE_DATA } else { 0 };
            let mut req = [0u8; TX_SLOT];
            req[TXREQ_GREF..TXREQ_GREF + 4].copy_from_slice(&buf.gref.to_le_bytes());
            req[TXREQ_OFFSET..TXREQ_OFFSET + 2].copy_from_slice(&0u16.to_le_bytes());
            req[TXREQ_FLAGS..TXREQ_FLAGS + 2].copy_from_slice(&flags.to_le_bytes());
            req[TXREQ_ID..TXREQ_ID + 2].copy_from_slice(&id.to_le_bytes());
            req[TXREQ_SIZE..TXREQ_SIZE + 2].copy_from_slice(&size.to_le_bytes());
            self.tx.push_request(&req).expect("free slots were checked");
            self.tx_in_flight[id as usize] = true;
        }
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += frame.len() as u64;
        Ok(self.tx.publish())
    }

    fn reap_tx_quietly(&mut self) {
        if self.reap_tx().is_err() {
            self.stats.protocol_errors += 1;
        }
    }

    /// Takes every TX response, returning their pages to the free list. Stops at the
    /// first protocol error (the rest stay for the next call).
    pub fn reap_tx(&mut self) -> Result<(), NetError> {
        let mut rsp = [0u8; TX_SLOT];
        loop {
            while self.tx.take_response(&mut rsp)? {
                let id = u16::from_le_bytes([rsp[TXRSP_ID], rsp[TXRSP_ID + 1]]);
                let status = i16::from_le_bytes([rsp[TXRSP_STATUS], rsp[TXRSP_STATUS + 1]]);
                match self.tx_in_flight.get_mut(id as usize) {
                    Some(f) if *f => *f = false,
                    _ => {
                        self.stats.protocol_errors += 1;
                        return Err(NetError::BadTxId(id));
                    }
                }
                self.tx_free.push(id);
                if status != NETIF_RSP_OKAY && status != NETIF_RSP_NULL {
                    self.stats.tx_errors += 1;
                }
            }
            if !self.tx.final_check()? {
                return Ok(());
            }
        }
    }

    /// The next received frame, copied out of the RX pages, or `None` if no complete frame
    /// is waiting (the ring is then re-armed to notify us of the next one). Buffers of
    /// consumed responses go back to the free list; call [`post_rx`](Self::post_rx) after a
    /// batch to post them again. A frame with an invalid response in it is dropped whole
    /// and its first error returned, once.
    pub fn recv(&mut self) -> Result<Option<Vec<u8>>, NetError> {
        let mut rsp = [0u8; RX_SLOT];
        loop {
            let pos = self.rx.next_response_index();
            let got = self.rx.take_response(&mut rsp).and_then(|got| {
                Ok(got || self.rx.final_check()? && self.rx.take_response(&mut rsp)?)
            });
            match got {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => {
                    self.stats.protocol_errors += 1;
                    return Err(e.into());
                }
            }
            let slot_id = self.rx_slot_id[(pos % self.rx.size()) as usize];
            // The buffer of the request in this slot, if it is still posted by that request.
            let slot_buf = (self.rx_posted[slot_id as usize]
                && self.rx_posted_at[slot_id as usize] == pos)
                .then_some(slot_id);
            if self.rx_state.extras {
                // An extra-info slot: no id of its own; its request's buffer is free again.
                self.rx_state.extras = rsp[EXTRA_FLAGS] & XEN_NETIF_EXTRA_FLAG_MORE != 0;
                match slot_buf {
                    Some(id) => self.release_rx(id),
                    None => {
                        self.rx_state.bad.get_or_insert(NetError::BadRxId(slot_id));
                    }
                }
            } else {
                self.fragment(&rsp, slot_buf);
            }
            if self.rx_state.more || self.rx_state.extras {
                continue;
            }
            let frame = core::mem::take(&mut self.partial);
            match self.rx_state.bad.take() {
                Some(e) => {
                    if matches!(e, NetError::RxStatus(_)) {
                        self.stats.rx_errors += 1;
                    } else if e == NetError::NoMemory {
                        self.stats.rx_dropped += 1;
                    } else {
                        self.stats.protocol_errors += 1;
                    }
                    return Err(e);
                }
                None if frame.is_empty() => continue,
                None => {
                    self.stats.rx_frames += 1;
                    self.stats.rx_bytes += frame.len() as u64;
                    return Ok(Some(frame));
                }
            }
        }
    }

    /// One data response of a frame: validated, then its bytes appended to `partial`.
    fn fragment(&mut self, rsp: &[u8; RX_SLOT], slot_buf: Option<u16>) {
        let id = u16::from_le_bytes([rsp[RXRSP_ID], rsp[RXRSP_ID + 1]]);
        let offset = u16::from_le_bytes([rsp[RXRSP_OFFSET], rsp[RXRSP_OFFSET + 1]]);
        let flags = u16::from_le_bytes([rsp[RXRSP_FLAGS], rsp[RXRSP_FLAGS + 1]]);
        let status = i16::from_le_bytes([rsp[RXRSP_STATUS], rsp[RXRSP_STATUS + 1]]);
        let st = &mut self.rx_state;
        st.more = flags & NETRXF_MORE_DATA != 0;
        st.extras = flags & NETRXF_EXTRA_INFO != 0;
        let err = if !self.rx_posted.get(id as usize).copied().unwrap_or(false) {
            // The slot's own request is consumed all the same: recycle its buffer.
            if let Some(b) = slot_buf {
                self.release_rx(b);
            }
            Some(NetError::BadRxId(id))
        } else {
            self.rx_posted[id as usize] = false;
            self.rx_free.push(id);
            if status < 0 {
                Some(NetError::RxStatus(status))
            } else if offset as usize + status as usize > PAGE_SIZE {
                Some(NetError::BadRxSize { offset, size: status })
            } else if self.partial.len() + status as usize > MAX_FRAME {
                Some(NetError::RxTooLong)
            } else {
                None
            }
        };
        // What the backend sent decides the size: allocate only what the heap can give.
        let err = err.or_else(|| {
            self.partial.try_reserve(status as usize).err().map(|_| NetError::NoMemory)
        });
        let st = &mut self.rx_state;
        if let Some(e) = err {
            st.bad.get_or_insert(e);
        }
        if st.bad.is_none() {
            let start = self.partial.len();
            self.partial.resize(start + status as usize, 0);
            self.rx_bufs[id as usize].mem.read(offset as usize, &mut self.partial[start..]);
        } else {
            self.partial.clear();
        }
    }

    /// Gives a posted buffer back to the free list.
    fn release_rx(&mut self, id: u16) {
        debug_assert!(self.rx_posted[id as usize]);
        self.rx_posted[id as usize] = false;
        self.rx_free.push(id);
    }

    /// TX requests not yet answered (pages lent to the backend).
    pub fn tx_in_flight(&self) -> usize {
        self.tx_in_flight.iter().filter(|&&f| f).count()
    }

    /// Takes the rings and every buffer back, to end their grants after a disconnect.
    pub fn into_parts(self) -> (R, R, Vec<Buffer<B>>) {
        let mut bufs = self.tx_bufs;
        bufs.extend(self.rx_bufs);
        (self.tx.into_mem(), self.rx.into_mem(), bufs)
    }
}

/// Where `recv` is inside a frame.
#[derive(Debug, Default)]
struct RxState {
    /// The last fragment said more follow.
    more: bool,
    /// Extra-info slots follow.
    extras: bool,
    /// The frame is being dropped, for this (first) reason.
    bad: Option<NetError>,
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

    fn le16(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
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
                let gref = u32::from_le_bytes(req[0..4].try_into().unwrap());
                let size = le16(&req, TXREQ_SIZE) as usize;
                if cur.is_empty() {
                    total = size;
                }
                let chunk = if le16(&req, TXREQ_FLAGS) & NETTXF_MORE_DATA != 0 {
                    PAGE_SIZE.min(total - cur.len())
                } else {
                    total - cur.len()
                };
                let mut data = vec![0u8; chunk];
                self.page(gref).read(le16(&req, TXREQ_OFFSET) as usize, &mut data);
                cur.extend_from_slice(&data);
                if le16(&req, TXREQ_FLAGS) & NETTXF_MORE_DATA == 0 {
                    frames.push(core::mem::take(&mut cur));
                }
                let mut rsp = [0u8; TX_SLOT];
                rsp[0..2].copy_from_slice(&req[TXREQ_ID..TXREQ_ID + 2]);
                rsp[2..4].copy_from_slice(&status.to_le_bytes());
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
            (le16(&req, 0), u32::from_le_bytes(req[4..8].try_into().unwrap()))
        }

        fn push_rx_response(&mut self, id: u16, offset: u16, flags: u16, status: i16) {
            let mut rsp = [0u8; RX_SLOT];
            rsp[0..2].copy_from_slice(&id.to_le_bytes());
            rsp[2..4].copy_from_slice(&offset.to_le_bytes());
            rsp[4..6].copy_from_slice(&flags.to_le_bytes());
            rsp[6..8].copy_from_slice(&status.to_le_bytes());
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
}
