//! A vbd's connection to blkback: the xenbus handshake, the granted ring and data pages,
//! the event channel, and a task that takes responses and wakes the waiting operations.

use crate::xen::abi::EvtchnPort;
use crate::xen::event;
use crate::xen::gnttab::GrantedPage;
use crate::xenbus::{Error, Frontend, State};
use crate::xenstore;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::{poll_fn, Future};
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::{Poll, Waker};
use devices::blkfront::{BlkError, Blkfront, Buffer, Geometry, Info, OpId, FRONTEND_NODES};
use devices::shmem::Pages;

/// Granted pages per disk (data, and the segment lists of indirect requests): 160, 640 KiB.
/// With indirect requests of 32 segments that is 4 requests of 128 KiB in flight with
/// room to fill the next (`bench blk`: sequential throughput rose with the pool up to
/// about this size); without indirect requests, 14 of 44 KiB.
const PAGES: usize = 160;

type Front = Blkfront<Pages<GrantedPage>, GrantedPage>;

/// The ring's size we ask for when blkback offers multi-page rings (`max-ring-page-order`):
/// 2^2 pages, 128 slots instead of 32, so that a burst of small requests does not wait for
/// ring room (Linux's blkfront asks for up to 2^4).
const RING_PAGE_ORDER: u32 = 2;
/// Completed operations not yet collected, and the tasks waiting for theirs.
/// Operations answered and not yet taken by their callers, with the tasks to wake. A vector
/// searched in order, not a map: a disk has a few dozen operations in flight at most, and
/// each B-tree type costs an image about 4.5 KB of code.
type Done = (Vec<(OpId, Result<Vec<u8>, BlkError>)>, Vec<Waker>);

pub struct Device {
    pub name: String,
    pub info: Info,
    /// The event channel to the backend: a new one after a resume in a new domain.
    port: AtomicU32,
    /// `device/vbd/<id>`, and the domain our pages are granted to.
    path: String,
    backend_id: u16,
    /// `None` once the disk is detached: operations fail with `Disconnected`.
    front: spin::Mutex<Option<Front>>,
    /// The counters as they were when the front went away.
    last_stats: spin::Mutex<devices::blkfront::Stats>,
    done: spin::Mutex<Done>,
}

static DEVICES: spin::Mutex<Vec<Arc<Device>>> = spin::Mutex::new(Vec::new());

/// Before a suspend: the disks push no more requests (they queue up).
pub(crate) fn pause_all() {
    for d in DEVICES.lock().iter() {
        if let Some(f) = d.front.lock().as_mut() {
            f.pause();
        }
    }
}

/// Right before the suspend: takes the responses already on the rings, so that only
/// requests really unanswered are sent again after a resume.
pub(crate) fn settle_all() {
    for d in DEVICES.lock().iter() {
        take_responses(d);
    }
}

/// After a cancelled suspend: the same backends go on.
pub(crate) fn unpause_all() {
    for d in DEVICES.lock().iter() {
        let mut guard = d.front.lock();
        let Some(f) = guard.as_mut() else { continue };
        f.unpause();
        if f.take_notify() {
            event::send(d.port.load(Ordering::Acquire));
        }
    }
}

impl Device {
    pub fn stats(&self) -> devices::blkfront::Stats {
        match self.front.lock().as_ref() {
            Some(f) => f.stats,
            None => *self.last_stats.lock(),
        }
    }

    /// Starts an operation and waits for its result.
    pub async fn run(
        &self,
        start: impl FnOnce(&mut Front) -> Result<OpId, BlkError>,
    ) -> Result<Vec<u8>, BlkError> {
        let id = {
            let mut guard = self.front.lock();
            let f = guard.as_mut().ok_or(BlkError::Disconnected)?;
            let id = start(f)?;
            if f.take_notify() {
                event::send(self.port.load(Ordering::Acquire));
            }
            id
        };
        poll_fn(|cx| {
            let mut d = self.done.lock();
            if let Some(at) = d.0.iter().position(|(op, _)| *op == id) {
                return Poll::Ready(d.0.swap_remove(at).1);
            }
            d.1.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// Takes responses whenever the backend signals; after a resume in a new domain, connects
/// to the new backend first; when the backend leaves Connected (`xl block-detach`),
/// detaches the disk.
async fn serve(dev: Arc<Device>) {
    loop {
        // The backend's state, for a detach. Its path changes with a resume in a new domain.
        let backend = match Frontend::open(&dev.path).await {
            Ok(fe) => Some(fe),
            Err(e) => {
                log::warn!("{}: {e}: a detach will not be seen", dev.name);
                None
            }
        };
        let watch = match &backend {
            Some(fe) => xenstore::watch(&format!("{}/state", fe.backend)).await.ok(),
            None => None,
        };
        loop {
            let epoch = event::epoch();
            let mut ev = core::pin::pin!(event::wait(dev.port.load(Ordering::Acquire)));
            let mut changed = watch.as_ref().map(|w| alloc::boxed::Box::pin(w.next()));
            let backend_changed = poll_fn(|cx| {
                if ev.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(false);
                }
                match changed.as_mut().map(|c| c.as_mut().poll(cx)) {
                    Some(Poll::Ready(_)) => Poll::Ready(true),
                    _ => Poll::Pending,
                }
            })
            .await;
            drop(changed);
            // A resume first: the old backend's nodes are gone then, which is no detach.
            if event::epoch() != epoch {
                resume(&dev).await;
                break;
            }
            if backend_changed {
                if let Some(fe) = &backend {
                    if fe.backend_state().await != State::Connected {
                        detach(&dev, fe).await;
                        return;
                    }
                }
            }
            take_responses(&dev);
        }
        if let Some(w) = watch {
            let _ = w.unwatch().await;
        }
    }
}

/// The backend is going away: fails what is in flight, closes the front, ends the grants
/// (each page the backend still maps is kept, not freed) and drops the disk from the list.
async fn detach(dev: &Arc<Device>, fe: &Frontend) {
    log::warn!("{}: the backend left Connected: detaching the disk", dev.name);
    // Gone from the lists before its operations fail, so no one finds it again.
    super::remove(&dev.name);
    DEVICES.lock().retain(|d| !Arc::ptr_eq(d, dev));
    let front = dev.front.lock().take();
    if let Some(front) = front {
        *dev.last_stats.lock() = front.stats;
        let (ring, pages, unfinished) = front.into_parts();
        let mut d = dev.done.lock();
        d.0.extend(unfinished.into_iter().map(|op| (op, Err(BlkError::Disconnected))));
        for w in d.1.drain(..) {
            w.wake();
        }
        drop(d);
        // blkback disconnects (unmapping our pages) once we are Closed, then goes Closed
        // itself, which libxl's detach waits for.
        let _ = fe.switch_state(State::Closing).await;
        let _ = fe.switch_state(State::Closed).await;
        let _ = crate::time::timeout(
            crate::time::Duration::from_secs(10),
            fe.wait_backend(|s| s == State::Closed || s == State::Unknown),
        )
        .await;
        drop((ring, pages));
    }
    let _ = event::close(dev.port.load(Ordering::Acquire));
    log::info!("{}: detached", dev.name);
}

/// Completes the operations the backend answered, and wakes their waiters.
fn take_responses(dev: &Device) {
    let (done, err) = {
        let mut guard = dev.front.lock();
        let Some(f) = guard.as_mut() else { return };
        let r = f.poll();
        if f.take_notify() {
            event::send(dev.port.load(Ordering::Acquire));
        }
        r
    };
    if let Some(e) = err {
        log::warn!("{}: blkback broke the protocol: {e}", dev.name);
    }
    if !done.is_empty() {
        let mut d = dev.done.lock();
        d.0.extend(done);
        for w in d.1.drain(..) {
            w.wake();
        }
    }
}

/// Connects every vbd, then marks the block layer ready; then connects the vbds the
/// toolstack adds later (`xl block-attach`).
pub async fn start() {
    let mut known = Vec::new();
    for path in crate::xenbus::devices("vbd").await {
        attach(&path).await;
        known.push(path);
    }
    super::set_ready();
    let watch = match xenstore::watch("device/vbd").await {
        Ok(w) => w,
        Err(e) => {
            log::warn!("cannot watch device/vbd ({e}): disks attached later stay unseen");
            return;
        }
    };
    // Every change under device/vbd fires (our own state writes too): only new paths count.
    while watch.next().await.is_ok() {
        for path in crate::xenbus::devices("vbd").await {
            if !known.contains(&path) {
                attach(&path).await;
                known.push(path);
            }
        }
    }
}

/// Connects the vbd at `path` and adds it to the disks.
async fn attach(path: &str) {
    match connect(path).await {
        Ok(dev) => {
            log::info!(
                "{}: {} MiB, sector {} bytes{}{}{}",
                dev.name,
                dev.info.capacity() >> 20,
                dev.info.sector_size,
                if dev.info.read_only { ", read-only" } else { "" },
                if dev.info.flush {
                    ", flush"
                } else if dev.info.barrier {
                    ", barrier"
                } else {
                    ""
                },
                if dev.info.discard { ", discard" } else { "" },
            );
            let dev = Arc::new(dev);
            DEVICES.lock().push(dev.clone());
            crate::spawn(serve(dev.clone()));
            super::add_arc(dev);
        }
        Err(e) => log::error!("{path}: {e}; disk not available"),
    }
}

/// The ring's pages, granted to the backend, in the size it offers (up to ours).
async fn ring_pages(fe: &Frontend) -> Result<(Pages<GrantedPage>, Vec<u32>, u32), Error> {
    // io/blkif.h: a backend that offers max-ring-page-order takes ring-page-order and
    // ring-ref0..N-1 instead of ring-ref. A value that is not a number counts as absent.
    let offered = fe.backend_read("max-ring-page-order").await.and_then(|v| v.trim().parse().ok());
    let order: u32 = offered.unwrap_or(0u32).min(RING_PAGE_ORDER);
    let mut ring_pages = Vec::new();
    for _ in 0..1u32 << order {
        ring_pages.push(GrantedPage::new(fe.backend_id, false).map_err(Error::Grant)?);
    }
    let ring_refs: Vec<u32> = ring_pages.iter().map(|p| p.gref()).collect();
    Ok((Pages::new(ring_pages), ring_refs, order))
}

/// Publishes the ring (initialised by now) and the event channel, then waits for the
/// backend to connect and reads the disk's geometry.
async fn publish(
    fe: &Frontend,
    ring_refs: &[u32],
    order: u32,
    port: EvtchnPort,
) -> Result<Geometry, Error> {
    let mut nodes = Vec::new();
    if order == 0 {
        nodes.push(("ring-ref".to_string(), ring_refs[0].to_string()));
    } else {
        nodes.push(("ring-page-order".to_string(), order.to_string()));
        for (i, r) in ring_refs.iter().enumerate() {
            nodes.push((format!("ring-ref{i}"), r.to_string()));
        }
    }
    nodes.push(("event-channel".to_string(), port.to_string()));
    nodes.push(("protocol".to_string(), "x86_64-abi".into()));
    for (key, value) in FRONTEND_NODES {
        nodes.push((key.to_string(), value.to_string()));
    }
    fe.publish(&nodes, State::Initialised).await?;
    let state = fe.wait_backend(|s| s >= State::Connected).await?;
    if state != State::Connected {
        return Err(Error::BackendState(state));
    }
    let mut nodes = Vec::new();
    for &key in Geometry::BACKEND_NODES {
        if let Some(v) = fe.backend_read(key).await {
            nodes.push((key, v));
        }
    }
    Geometry::parse(|k| nodes.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
        .map_err(|error| Error::Geometry { backend: fe.backend.clone(), error })
}

/// After a resume in a new domain: the handshake with the new backend (at a new path) on a
/// fresh ring and event channel; the pool's pages are granted as before (the grant table
/// was written back), and requests not answered before the suspend are pushed again.
async fn resume(dev: &Device) {
    log::info!("{}: resumed in a new domain; connecting to its backend", dev.name);
    for attempt in 1.. {
        match reconnect(dev).await {
            Ok(()) => {
                crate::xenbus::count_reconnect();
                log::info!("{}: connected to the backend after the resume", dev.name);
                return;
            }
            Err(e) if attempt < 10 => {
                log::warn!("{}: connecting after the resume failed: {e}; retrying", dev.name);
                crate::time::sleep(crate::time::Duration::from_secs(1)).await;
            }
            Err(e) => {
                log::error!("{}: no backend after the resume ({e}); requests wait", dev.name);
                return;
            }
        }
    }
}

async fn reconnect(dev: &Device) -> Result<(), Error> {
    let fe = Frontend::open(&dev.path).await?;
    if fe.backend_id != dev.backend_id {
        // Our pages are granted to the old backend's domain.
        return Err(Error::BadNode {
            path: format!("{}/backend-id", dev.path),
            value: fe.backend_id.to_string(),
        });
    }
    let state = fe.backend_reached(|s| s >= State::InitWait).await?;
    if state > State::Connected {
        return Err(Error::BackendState(state));
    }
    let (ring, ring_refs, order) = ring_pages(&fe).await?;
    let port = event::alloc_unbound(fe.backend_id)?;
    // The old ring's pages end their grants as they drop (nothing maps them any more).
    let Some((old, again)) = dev.front.lock().as_mut().map(|f| f.resume(ring)) else {
        return Ok(()); // detached meanwhile
    };
    drop(old);
    if again > 0 {
        log::info!("{}: {again} requests unanswered before the suspend go again", dev.name);
    }
    let geometry = match publish(&fe, &ring_refs, order, port).await {
        Ok(g) => g,
        Err(e) => {
            let _ = event::close(port);
            return Err(e);
        }
    };
    if geometry.info != dev.info {
        log::warn!("{}: the new backend's disk differs: {:?}", dev.name, geometry.info);
    }
    if let Some(f) = dev.front.lock().as_mut() {
        f.set_info(geometry);
    }
    fe.switch_state(State::Connected).await?;
    dev.port.store(port, Ordering::Release);
    let mut guard = dev.front.lock();
    if let Some(f) = guard.as_mut() {
        f.unpause();
        if f.take_notify() {
            event::send(port);
        }
    }
    Ok(())
}

async fn connect(path: &str) -> Result<Device, Error> {
    let fe = Frontend::open(path).await?;
    let handle: u16 = path.rsplit('/').next().and_then(|id| id.parse().ok()).unwrap_or(0);
    let state = fe.backend_reached(|s| s >= State::InitWait).await?;
    if state > State::Connected {
        return Err(Error::BackendState(state));
    }
    let backend = fe.backend_id;
    let grant = |ro| GrantedPage::new(backend, ro).map_err(Error::Grant);
    let (ring, ring_refs, order) = ring_pages(&fe).await?;
    let mut pages = Vec::with_capacity(PAGES);
    for _ in 0..PAGES {
        let p = grant(false)?;
        pages.push(Buffer { gref: p.gref(), mem: p });
    }
    let placeholder = Info {
        sectors: 1,
        sector_size: 512,
        read_only: true,
        flush: false,
        barrier: false,
        discard: false,
    };
    let mut front = Blkfront::new(ring, pages, placeholder, handle);
    let port = event::alloc_unbound(backend)?;
    let geometry = match publish(&fe, &ring_refs, order, port).await {
        Ok(g) => g,
        Err(e) => {
            let _ = event::close(port);
            return Err(e);
        }
    };
    let info = geometry.info;
    front.set_info(geometry);
    log::info!(
        "{path}: {} sectors of {} (physical {}), {}, flush {}, discard {}, ring pages {}, indirect segments {}, persistent {}",
        info.sectors,
        info.sector_size,
        geometry.physical_sector_size,
        if info.read_only { "read-only" } else { "read-write" },
        info.flush,
        info.discard,
        1u32 << order,
        geometry.max_indirect_segments,
        geometry.persistent
    );
    fe.switch_state(State::Connected).await?;
    let name = fe
        .backend_read("dev")
        .await
        .filter(|d| !d.is_empty() && d.len() < 32 && d.bytes().all(|b| b.is_ascii_alphanumeric()));
    let name = name.unwrap_or_else(|| format!("vbd{handle}"));
    Ok(Device {
        name,
        info,
        port: AtomicU32::new(port),
        path: path.into(),
        backend_id: backend,
        front: spin::Mutex::new(Some(front)),
        last_stats: spin::Mutex::new(Default::default()),
        done: spin::Mutex::new((Vec::new(), Vec::new())),
    })
}
