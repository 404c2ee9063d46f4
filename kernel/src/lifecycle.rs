//! The domain's life under the toolstack: the graceful requests `xl shutdown`, `xl reboot`
//! (and a host's shutdown scripts) write into `control/shutdown`, acknowledged as libxl
//! expects (the node cleared in a transaction, then acted on), and the app's chance to
//! finish its work first.
//!
//! An app that never calls [`requested`] is stopped at once. One that does is told, and
//! the domain ends when `main` returns (with the reason asked for: a reboot request
//! reboots) or when the grace period runs out, whichever comes first. The grace period is
//! the boot key `shutdown_grace=SECONDS` (default 10).
//!
//! `suspend` (`xl save`, `xl migrate`) is the runtime's alone: it suspends the domain and,
//! resumed in a new domain, sets up everything Xen-side again (see `suspend` below); apps
//! go on as they were, and may read [`resumes`] and [`stats`].

use crate::time::{self, Duration};
use crate::xenstore;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::task::{Poll, Waker};

/// What the toolstack asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `xl shutdown` (or `halt`).
    Poweroff,
    /// `xl reboot`.
    Reboot,
}

/// What `control/shutdown` asks of the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Stop(Request),
    /// `xl save`, `xl migrate`: the runtime's alone; apps are not asked.
    Suspend,
}

/// The grace period when the command line does not set one.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

struct State {
    request: Option<Request>,
    waiters: Vec<Waker>,
}

static STATE: spin::Mutex<State> = spin::Mutex::new(State { request: None, waiters: Vec::new() });
/// An app awaits requests: they are passed on instead of acted on at once.
static HANDLED: AtomicBool = AtomicBool::new(false);

/// Waits until the toolstack asks the domain to stop. From the first call on, a request
/// is the app's to act on: finish what is in flight, flush disks, then return from `main`.
/// The runtime ends the domain itself if that takes longer than the grace period.
pub async fn requested() -> Request {
    HANDLED.store(true, Ordering::Release);
    core::future::poll_fn(|cx| {
        let mut s = STATE.lock();
        match s.request {
            Some(r) => Poll::Ready(r),
            None => {
                if !s.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    s.waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    })
    .await
}

/// The request received so far, if any.
pub fn pending() -> Option<Request> {
    STATE.lock().request
}

/// `shutdown_grace=DURATION` (`30`, `30s`, `1m30s`), as the configuration parsed at boot
/// holds it (the key and its default of 10 s: `devices::config::runtime`).
fn grace() -> Duration {
    crate::config().duration("shutdown_grace").unwrap_or(DEFAULT_GRACE)
}

/// Ends the domain as `request` asks.
pub(crate) fn end(request: Request) -> ! {
    match request {
        Request::Poweroff => crate::runtime::poweroff(),
        Request::Reboot => crate::reboot(),
    }
}

/// Takes the request out of `control/shutdown` and clears the node (the acknowledgement
/// libxl waits for). `None` when the node is empty (our own clearing fires the watch too)
/// or holds something we do not act on.
async fn take_request() -> Result<Option<Action>, xenstore::XenstoreError> {
    // Most firings find the node empty (the watch's first one, our own clearing): one read,
    // not a transaction's three requests.
    match xenstore::read("control/shutdown").await {
        Ok(v) if !v.trim_end_matches('\0').is_empty() => {}
        Ok(_) => return Ok(None),
        Err(xenstore::XenstoreError::Xenstore(devices::xenstore::XsError::NoEnt)) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    }
    xenstore::transaction(|tx| async move {
        let value = match tx.read("control/shutdown").await {
            Ok(v) => v,
            Err(xenstore::XenstoreError::Xenstore(devices::xenstore::XsError::NoEnt)) => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let request = match value.trim_end_matches('\0') {
            "" => return Ok(None),
            "poweroff" | "halt" => Action::Stop(Request::Poweroff),
            "reboot" => Action::Stop(Request::Reboot),
            "suspend" => Action::Suspend,
            other => {
                // Left unacknowledged, so libxl gives up on it.
                log::warn!("control/shutdown = {other:?}: not supported, ignored");
                return Ok(None);
            }
        };
        tx.write("control/shutdown", "").await?;
        Ok(Some(request))
    })
    .await
}

/// Tells the toolstack what the guest handles (again after a resume: the new domain's
/// xenstore directory is written afresh by the toolstack).
async fn advertise() {
    for feature in ["control/feature-poweroff", "control/feature-reboot", "control/feature-suspend"]
    {
        if let Err(e) = xenstore::write(feature, "1").await {
            log::warn!("advertising {feature}: {e}");
        }
    }
}

/// Suspends and resumes (`xl save` then `xl restore`, `xl migrate`), acknowledged already:
/// quiesce (no xenstore request in flight, the disks push no more requests), then
/// SCHEDOP_shutdown(SHUTDOWN_suspend). Cancelled, everything goes on as it was. Resumed in
/// a new domain, the Xen layer is set up again before anything else runs, then the
/// xenstore ring and the watches; each vif and disk then connects to its new backend in
/// its own task and sends again what was in flight.
async fn suspend() {
    #[cfg(feature = "block")]
    crate::block::pause_all();
    if time::timeout(Duration::from_secs(5), xenstore::quiesce()).await.is_err() {
        log::error!("suspend: xenstore requests still unanswered after 5 s; not suspending");
        xenstore::unpause();
        #[cfg(feature = "block")]
        crate::block::unpause_all();
        return;
    }
    #[cfg(feature = "block")]
    crate::block::settle_all();
    log::info!("suspending");
    SUSPENDS.fetch_add(1, Ordering::Relaxed);
    match crate::xen::suspend() {
        Ok(crate::xen::Resumed::NewDomain) => {
            // Before any other task runs: the vifs' old connections are unusable.
            #[cfg(feature = "net")]
            crate::net::forget_connections();
            let watches = match xenstore::resume() {
                Ok(w) => w,
                Err(e) => {
                    log::error!("after resume: no xenstore ring ({e}); the domain is cut off");
                    return;
                }
            };
            let n = RESUMES.fetch_add(1, Ordering::Relaxed) + 1;
            log::info!("resumed in a new domain (resume {n}); reconnecting devices");
            xenstore::rewatch(watches).await;
            advertise().await;
        }
        Ok(crate::xen::Resumed::InPlace) => {
            CANCELLED.fetch_add(1, Ordering::Relaxed);
            log::info!("suspend cancelled: resuming in place");
            xenstore::unpause();
            #[cfg(feature = "block")]
            crate::block::unpause_all();
        }
        Err(e) => {
            log::error!("SCHEDOP_shutdown(suspend) refused: {e}; going on");
            xenstore::unpause();
            #[cfg(feature = "block")]
            crate::block::unpause_all();
        }
    }
}

static SUSPENDS: AtomicU64 = AtomicU64::new(0);
static RESUMES: AtomicU64 = AtomicU64::new(0);
static CANCELLED: AtomicU64 = AtomicU64::new(0);

/// Devices connected to a backend again, counted by the frontends (`xenbus`), which know
/// nothing of this module.
fn reconnects() -> u64 {
    #[cfg(any(feature = "net", feature = "block"))]
    return crate::xenbus::reconnects();
    #[cfg(not(any(feature = "net", feature = "block")))]
    0
}

/// How many times the domain resumed in a new domain (after `xl restore`, a migration).
pub fn resumes() -> u64 {
    RESUMES.load(Ordering::Relaxed)
}

/// What the domain's life has been so far, and the Xen resources it holds now: grants and
/// event channels that keep growing across suspends or reconnects are a leak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Suspends begun (`xl save`, `xl migrate`, `xl save -c`).
    pub suspends: u64,
    /// Of those, resumed in a new domain (`xl restore`, the migration's target).
    pub resumes: u64,
    /// Of those, resumed in place (a checkpoint, or a cancelled suspend).
    pub cancelled: u64,
    /// Devices (vifs and disks) connected to a backend again.
    pub reconnects: u64,
    /// Grant references in use now.
    pub grants: usize,
    /// Event channels bound now.
    pub event_channels: usize,
    /// Events that came on a port nobody waits on.
    pub stray_events: u64,
    /// Hypercalls made since boot (each a VM exit).
    pub hypercalls: u64,
    /// xenstore requests sent since boot (each a round trip to xenstored).
    pub xenstore_requests: u64,
}

/// The counters of [`Stats`], read now.
pub fn stats() -> Stats {
    Stats {
        suspends: SUSPENDS.load(Ordering::Relaxed),
        resumes: RESUMES.load(Ordering::Relaxed),
        cancelled: CANCELLED.load(Ordering::Relaxed),
        reconnects: reconnects(),
        grants: crate::xen::gnttab::stats().2,
        event_channels: crate::xen::event::bound(),
        stray_events: crate::xen::event::ignored(),
        hypercalls: crate::xen::hypercall::calls(),
        xenstore_requests: crate::xenstore::conn::requests(),
    }
}

/// The runtime's task: advertises what the guest handles, then watches `control/shutdown`.
pub(crate) async fn watch_control() {
    advertise().await;
    let watch = match xenstore::watch("control/shutdown").await {
        Ok(w) => w,
        Err(e) => {
            log::error!("cannot watch control/shutdown ({e}): xl shutdown will not work");
            return;
        }
    };
    loop {
        if let Err(e) = watch.next().await {
            log::error!("control/shutdown watch: {e}; no longer watching");
            return;
        }
        let request = match take_request().await {
            Ok(Some(Action::Stop(r))) => r,
            Ok(Some(Action::Suspend)) => {
                log::info!("toolstack asks for suspend");
                suspend().await;
                continue;
            }
            Ok(None) => continue,
            Err(e) => {
                log::warn!("reading control/shutdown: {e}");
                continue;
            }
        };
        log::info!("toolstack asks for {request:?}");
        if !HANDLED.load(Ordering::Acquire) {
            end(request);
        }
        let waiters = {
            let mut s = STATE.lock();
            if s.request.is_some() {
                continue; // already counting down
            }
            s.request = Some(request);
            core::mem::take(&mut s.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
        let grace = grace();
        crate::spawn(async move {
            time::sleep(grace).await;
            log::warn!("the app did not finish within {} s: ending the domain", grace.as_secs());
            end(request);
        });
    }
}
