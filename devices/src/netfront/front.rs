//! The frontend of one vif: TX frames split over lent pages, RX buffers posted and their
//! responses validated and reassembled into frames.

use super::wire::*;
use crate::ring::{FrontRing, RingError};
use crate::shmem::SharedMem;
use alloc::vec::Vec;

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

impl core::error::Error for NetError {}

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

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SendError::Busy => f.write_str("no free TX page or ring slot: try again later"),
            SendError::BadLength(n) => {
                write!(f, "a frame of {n} bytes (from 1 to {MAX_FRAME} can be sent)")
            }
        }
    }
}

impl core::error::Error for SendError {}

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
            let req = rx_request(id, self.rx_bufs[id as usize].gref);
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
            let req = tx_request(buf.gref, flags, id, size);
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
                let TxResponse { id, status } = TxResponse::decode(&rsp);
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
        let RxResponse { id, offset, flags, status } = RxResponse::decode(rsp);
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
