//! The xenstore client: requests over the shared ring (HVM_PARAM_STORE_PFN/EVTCHN), replies
//! matched to requests by id, watch events queued for the watch that asked. The wire format
//! is `devices::xenstore`; the app-facing API is [`crate::xenstore`].

use crate::xen::shared_page::{self, SharedPage};
use crate::xen::{abi, event};
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::task::{Poll, Waker};
use devices::xenstore::{self as wire, Reassembler, Router, WireError, XsError};

struct Conn {
    page: SharedPage,
    port: abi::EvtchnPort,
    req_prod: u32,
    rsp_cons: u32,
    reasm: Reassembler,
    router: Router,
    waiters: Vec<Waker>,
    broken: Option<WireError>,
    /// No new request is sent (a suspend is coming): requests wait to be sent.
    paused: bool,
    /// The watches registered with xenstored, as (path, token): sent again after a resume,
    /// as the new domain's xenstored knows none of them.
    watches: Vec<(String, String)>,
}

/// Task context only (never touched by the upcall), so a plain lock.
static CONN: spin::Mutex<Option<Conn>> = spin::Mutex::new(None);

/// Why a xenstore operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// xenstored answered with an error.
    Xenstore(XsError),
    /// The ring or a message was malformed; the connection is unusable.
    Protocol(WireError),
    /// A value or name was not UTF-8.
    NotUtf8,
    /// No xenstore (no Xen, or not initialised).
    NotConnected,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Xenstore(e) => write!(f, "{e}"),
            Error::Protocol(e) => write!(f, "{e}"),
            Error::NotUtf8 => f.write_str("xenstore value is not UTF-8"),
            Error::NotConnected => f.write_str("xenstore is not connected"),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Xenstore(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::NotUtf8 | Error::NotConnected => None,
        }
    }
}

/// Finds and maps the xenstore ring; returns the task that reads replies, to be spawned.
pub(crate) fn init() -> Result<impl Future<Output = ()> + Send + 'static, crate::xen::Error> {
    let (page, port) =
        shared_page::from_hvm_params(abi::HVM_PARAM_STORE_PFN, abi::HVM_PARAM_STORE_EVTCHN)?;
    let port = event::adopt(port)?;
    use devices::shmem::SharedMem;
    let req_prod = page.load_u32(wire::OFF_REQ_PROD);
    let rsp_cons = page.load_u32(wire::OFF_RSP_CONS);
    *CONN.lock() = Some(Conn {
        page,
        port,
        req_prod,
        rsp_cons,
        reasm: Reassembler::new(),
        router: Router::new(),
        waiters: Vec::new(),
        broken: None,
        paused: false,
        watches: Vec::new(),
    });
    Ok(reader())
}

/// Takes what xenstored wrote, then sleeps until it signals again (on the port of the day:
/// a resume changes it).
async fn reader() {
    loop {
        pump();
        let Some(port) = CONN.lock().as_ref().map(|c| c.port) else { return };
        event::wait(port).await;
    }
}

/// Before a suspend: stops sending new requests and waits until every request sent has its
/// reply, so that none is lost with the ring. Requests made meanwhile wait, and are sent
/// after [`resume`] or [`unpause`].
pub async fn quiesce() {
    core::future::poll_fn(|cx| {
        with_conn(
            |c| {
                c.paused = true;
                if c.router.in_flight() == 0 {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Pending
                }
            },
            cx.waker(),
        )
    })
    .await
    .ok();
}

/// After a cancelled suspend: requests go out again on the same ring.
pub fn unpause() {
    wake_paused(CONN.lock().as_mut());
}

fn wake_paused(c: Option<&mut Conn>) {
    let Some(c) = c else { return };
    c.paused = false;
    let waiters = core::mem::take(&mut c.waiters);
    waiters.into_iter().for_each(Waker::wake);
}

/// In the new domain after a restore: the ring and port from the HVM params again (the
/// toolstack gives the ring cleared, its indexes at zero). No request was in flight
/// ([`quiesce`]); partial input is dropped. Returns the watches to register again
/// ([`crate::xenstore::rewatch`]); requests flow again at once.
pub(crate) fn resume() -> Result<Vec<(String, String)>, crate::xen::Error> {
    let (page, port) =
        shared_page::from_hvm_params(abi::HVM_PARAM_STORE_PFN, abi::HVM_PARAM_STORE_EVTCHN)?;
    let port = event::adopt(port)?;
    use devices::shmem::SharedMem;
    let mut guard = CONN.lock();
    let Some(c) = guard.as_mut() else { return Ok(Vec::new()) };
    c.req_prod = page.load_u32(wire::OFF_REQ_PROD);
    c.rsp_cons = page.load_u32(wire::OFF_RSP_CONS);
    c.page = page;
    c.port = port;
    c.reasm = Reassembler::new();
    c.broken = None;
    let watches = c.watches.clone();
    wake_paused(Some(c));
    Ok(watches)
}

/// Moves replies and watch events from the ring to where their waiters look, and wakes them.
fn pump() {
    let mut guard = CONN.lock();
    let Some(c) = guard.as_mut() else { return };
    if c.broken.is_none() {
        if let Err(e) = drain(c) {
            log::error!("xenstore connection broken: {e}");
            c.broken = Some(e);
        }
    }
    let waiters = core::mem::take(&mut c.waiters);
    drop(guard);
    waiters.into_iter().for_each(Waker::wake);
}

fn drain(c: &mut Conn) -> Result<(), WireError> {
    if c.reasm.fill_from(&c.page, &mut c.rsp_cons)? > 0 {
        event::send(c.port); // room in the response ring
    }
    let unexpected = c.router.unexpected;
    while let Some(msg) = c.reasm.next_message()? {
        c.router.route(msg)?;
    }
    if c.router.unexpected != unexpected {
        log::warn!("xenstore: {} replies or events nobody asked for", c.router.unexpected);
    }
    Ok(())
}

fn with_conn<T>(
    f: impl FnOnce(&mut Conn) -> Poll<Result<T, Error>>,
    waker: &Waker,
) -> Poll<Result<T, Error>> {
    let mut guard = CONN.lock();
    let Some(c) = guard.as_mut() else { return Poll::Ready(Err(Error::NotConnected)) };
    if let Some(e) = &c.broken {
        return Poll::Ready(Err(Error::Protocol(e.clone())));
    }
    let r = f(c);
    // Once per task: a task polls again and again while it waits (the network stack's task
    // polls its backend watch at every frame), and one entry each time grew this list
    // without bound until a push failed (the e2e conns test's "65536 bytes" crash).
    if r.is_pending() && !c.waiters.iter().any(|w| w.will_wake(waker)) {
        c.waiters.push(waker.clone());
    }
    r
}

/// Forgets a request whose caller stopped waiting (a timeout dropped the future).
struct Pending(Option<u32>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let (Some(id), Some(c)) = (self.0, CONN.lock().as_mut()) {
            c.router.abandon(id);
        }
    }
}

/// Requests sent since boot (each a round trip to xenstored).
static REQUESTS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// How many xenstore requests the guest has sent since boot.
pub fn requests() -> u64 {
    REQUESTS.load(core::sync::atomic::Ordering::Relaxed)
}

/// Sends one request and waits for its reply.
pub async fn request(kind: u32, tx_id: u32, payload: &[u8]) -> Result<Vec<u8>, Error> {
    REQUESTS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    let mut pending = Pending(None);
    let id = &mut pending.0;
    let mut msg = Vec::new();
    let mut sent = 0;
    // Send (as ring space allows: a message may be larger than the ring).
    core::future::poll_fn(|cx| {
        with_conn(
            |c| {
                if id.is_none() && c.paused {
                    return Poll::Pending; // a suspend is coming: sent after it
                }
                let req_id = *id.get_or_insert_with(|| c.router.start_request());
                if msg.is_empty() {
                    match wire::request(kind, req_id, tx_id, payload) {
                        Ok(m) => msg = m,
                        Err(e) => return Poll::Ready(Err(Error::Protocol(e))),
                    }
                }
                match wire::REQ.produce(&c.page, &mut c.req_prod, &msg[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) => return Poll::Ready(Err(Error::Protocol(WireError::Ring(e)))),
                }
                event::send(c.port);
                if sent == msg.len() {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Pending
                }
            },
            cx.waker(),
        )
    })
    .await?;
    let req_id = pending.0.unwrap_or(0);
    let reply = core::future::poll_fn(|cx| {
        with_conn(
            |c| match c.router.take_reply(req_id) {
                Some(r) => Poll::Ready(r.map_err(Error::Xenstore)),
                None => Poll::Pending,
            },
            cx.waker(),
        )
    })
    .await;
    pending.0 = None;
    reply
}

/// The next path that changed under watch `token`.
pub async fn next_event(token: &str) -> Result<String, Error> {
    core::future::poll_fn(|cx| {
        with_conn(
            |c| match c.router.take_event(token) {
                Some(p) => Poll::Ready(Ok(p)),
                None => Poll::Pending,
            },
            cx.waker(),
        )
    })
    .await
}

/// Notes that xenstored registered watch `token` on `path` (to register it again after a
/// resume).
pub fn registered(path: &str, token: &str) {
    if let Some(c) = CONN.lock().as_mut() {
        c.watches.push((path.into(), token.into()));
    }
}

/// Whether watch `token` is (still) to be registered again after a resume.
pub fn is_registered(token: &str) -> bool {
    CONN.lock().as_ref().is_some_and(|c| c.watches.iter().any(|(_, t)| t == token))
}

/// Drops watch `token` from those registered again after a resume (before its UNWATCH is
/// sent, so that a resume under way does not register it again behind the UNWATCH).
pub fn unregistered(token: &str) {
    if let Some(c) = CONN.lock().as_mut() {
        c.watches.retain(|(_, t)| t != token);
    }
}

/// Starts (or stops) taking watch events for `token`.
pub fn set_watching(token: &str, on: bool) {
    if let Some(c) = CONN.lock().as_mut() {
        if on {
            c.router.add_watch(token);
        } else {
            c.router.remove_watch(token);
        }
    }
}
