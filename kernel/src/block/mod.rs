//! Block devices: every vbd the toolstack gave the guest, connected at boot (blkfront).
//!
//! Offsets and lengths are bytes and must be multiples of the disk's sector size.
//!
//! Durability: `write_at` returning `Ok` means the backend has the data, not that it is on
//! stable storage; after `flush` returns `Ok`, every write that had returned before the
//! flush was called is durable (it survives the guest and the backend's page cache).
//! Writes not yet returned when the guest dies may be lost or half written.

mod blkfront;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Poll, Waker};
pub use devices::blkfront::{BlkError as Error, Stats};

pub(crate) use blkfront::{pause_all, settle_all, start, unpause_all};

/// A disk; clones share it. Operations from several tasks run concurrently.
#[derive(Clone)]
pub struct Disk(Arc<blkfront::Device>);

impl Disk {
    /// The device's name (`xvda`, ...), as the toolstack's `vdev` gave it.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn sector_size(&self) -> usize {
        self.0.info.sector_size as usize
    }

    /// Size in bytes.
    pub fn capacity(&self) -> u64 {
        self.0.info.capacity()
    }

    pub fn read_only(&self) -> bool {
        self.0.info.read_only
    }

    /// Requests, bytes and errors since the disk was connected.
    pub fn stats(&self) -> Stats {
        self.0.stats()
    }

    /// Reads `buf.len()` bytes at `offset`.
    pub async fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let len = buf.len();
        let data = self.0.run(|d| d.read(offset, len)).await?;
        buf.copy_from_slice(&data);
        Ok(())
    }

    /// Writes `data` at `offset` (not yet durable: see [`flush`](Self::flush)).
    pub async fn write_at(&self, offset: u64, data: &[u8]) -> Result<(), Error> {
        self.0.run(|d| d.write(offset, data)).await.map(drop)
    }

    /// Makes every write that completed before this call durable.
    pub async fn flush(&self) -> Result<(), Error> {
        self.0.run(|d| d.flush()).await.map(drop)
    }

    /// Tells the backend `len` bytes at `offset` are no longer needed (they read back as
    /// zeros or as before, depending on the backend).
    pub async fn discard(&self, offset: u64, len: usize) -> Result<(), Error> {
        self.0.run(|d| d.discard(offset, len)).await.map(drop)
    }
}

static DISKS: spin::Mutex<Vec<Disk>> = spin::Mutex::new(Vec::new());
static READY: AtomicBool = AtomicBool::new(false);
static WAITERS: spin::Mutex<Vec<Waker>> = spin::Mutex::new(Vec::new());

pub(crate) fn set_ready() {
    READY.store(true, Ordering::Release);
    for w in WAITERS.lock().drain(..) {
        w.wake();
    }
}

/// Every disk, once those found at boot are connected (or failed, logged).
pub async fn disks() -> Vec<Disk> {
    poll_fn(|cx| {
        if !READY.load(Ordering::Acquire) {
            WAITERS.lock().push(cx.waker().clone());
            if !READY.load(Ordering::Acquire) {
                return Poll::Pending;
            }
        }
        Poll::Ready(())
    })
    .await;
    DISKS.lock().clone()
}

/// The disk named `name` (`xvda`, ...).
pub async fn disk(name: &str) -> Option<Disk> {
    disks().await.into_iter().find(|d| d.name() == name)
}

fn add_arc(d: Arc<blkfront::Device>) {
    DISKS.lock().push(Disk(d));
    for w in WAITERS.lock().drain(..) {
        w.wake();
    }
}

fn remove(name: &str) {
    DISKS.lock().retain(|d| d.name() != name);
}

/// Waits until a disk that is not in `known` is connected (`xl block-attach`) and returns
/// it.
pub async fn disk_added(known: &[Disk]) -> Disk {
    disks().await;
    poll_fn(|cx| {
        let new = |d: &&Disk| !known.iter().any(|k| Arc::ptr_eq(&k.0, &d.0));
        if let Some(d) = DISKS.lock().iter().find(new) {
            return Poll::Ready(d.clone());
        }
        let mut w = WAITERS.lock();
        if !w.iter().any(|w| w.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        drop(w);
        match DISKS.lock().iter().find(new) {
            Some(d) => Poll::Ready(d.clone()),
            None => Poll::Pending,
        }
    })
    .await
}
