//! One smoltcp `Interface` per vif, each with its own sockets and a task that polls it
//! whenever the backend signals, a socket operation asks (a "kick"), or smoltcp's next
//! timer is due. Applications reach the stack through `tcp` and `udp`.

use super::netfront::{self, Device};
use super::{budget, Error, SocketOptions};
use crate::time::{self, Instant};
use crate::xen::event;
use crate::xenbus::{Frontend, State};
use alloc::string::String;
use alloc::vec::Vec;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::task::{Poll, Waker};
use devices::config::net::{self as config, V4};
use smoltcp::iface::{Config as IfaceConfig, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::socket::{dhcpv4, tcp};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Cidr, Ipv6Cidr};

pub(super) struct Iface {
    pub iface: Interface,
    pub dev: Device,
    pub sockets: SocketSet<'static>,
    /// Sockets in `sockets`, and how many it may hold (its storage is reserved up front, so
    /// adding one never reallocates it).
    socket_count: usize,
    max_sockets: usize,
    dhcp: Option<SocketHandle>,
    /// TCP sockets their owner dropped: closing gracefully, removed once closed.
    pub orphans: Vec<SocketHandle>,
    /// The TCP listeners' backlogs on this interface.
    pub listeners: Vec<Listener>,
    kick: Option<Waker>,
    kicked: bool,
    /// The vif was detached (`xl network-detach`): its sockets are closed and it takes no
    /// new ones.
    pub unplugged: bool,
    pub dns: Vec<smoltcp::wire::Ipv4Address>,
    pub name: String,
}

/// Every interface, in vif order. Locked by tasks only (never from the upcall).
pub(super) static NET: spin::Mutex<Vec<Iface>> = spin::Mutex::new(Vec::new());
static READY: AtomicBool = AtomicBool::new(false);
static READY_WAITERS: spin::Mutex<Vec<Waker>> = spin::Mutex::new(Vec::new());

/// Counted by the vifs' devices as they drop SYNs (the gate) and frames (no memory).
pub(super) static SYNS_DROPPED: AtomicU64 = AtomicU64::new(0);
pub(super) static RX_DROPPED: AtomicU64 = AtomicU64::new(0);

/// The drop counters of [`super::Stats`].
pub(super) fn dropped() -> super::Stats {
    super::Stats {
        syns_dropped: SYNS_DROPPED.load(Ordering::Relaxed),
        rx_dropped: RX_DROPPED.load(Ordering::Relaxed),
        ..Default::default()
    }
}

pub(super) fn now() -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros((Instant::now().as_nanos() / 1000) as i64)
}

/// A listener's sockets on one interface: `backlog` of them, each listening or holding a
/// connection that is not accepted yet (as Linux's SYN and accept queues together).
pub(super) struct Listener {
    pub port: u16,
    pub options: SocketOptions,
    pub sockets: Vec<SocketHandle>,
    /// The task waiting in `accept`, woken by the sockets.
    pub waker: Option<Waker>,
}

/// A TCP socket with `o`'s buffers, or `NoMemory` if the budget cannot take them.
pub(super) fn new_tcp_socket(o: &SocketOptions) -> Result<tcp::Socket<'static>, Error> {
    if !budget::affordable(o.recv_buffer + o.send_buffer + budget::SOCKET_OVERHEAD) {
        return Err(Error::NoMemory);
    }
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(zeroed(o.recv_buffer)?),
        tcp::SocketBuffer::new(zeroed(o.send_buffer)?),
    );
    s.set_nagle_enabled(!o.nodelay);
    Ok(s)
}

/// A zeroed buffer of `n` bytes, or `NoMemory` if the heap has no block that large (the
/// budget counts bytes, and the free ones may be in smaller pieces).
pub(super) fn zeroed(n: usize) -> Result<Vec<u8>, Error> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::NoMemory)?;
    v.resize(n, 0);
    Ok(v)
}

impl Iface {
    /// Adds a socket, if the interface has room for one more.
    pub fn add_socket<S: smoltcp::socket::AnySocket<'static>>(
        &mut self,
        s: S,
    ) -> Result<SocketHandle, Error> {
        if self.socket_count >= self.max_sockets {
            return Err(Error::NoMemory);
        }
        self.socket_count += 1;
        Ok(self.sockets.add(s))
    }

    pub fn remove_socket(&mut self, h: SocketHandle) {
        self.sockets.remove(h);
        self.socket_count -= 1;
    }

    /// Tops each listener's backlog up with fresh listening sockets, as far as the memory
    /// budget allows (the rest is added on a later poll).
    pub fn replenish(&mut self) {
        if self.unplugged {
            return;
        }
        for l in 0..self.listeners.len() {
            while self.listeners[l].sockets.len() < self.listeners[l].options.backlog {
                let Ok(mut s) = new_tcp_socket(&self.listeners[l].options) else { return };
                if s.listen(self.listeners[l].port).is_err() {
                    return;
                }
                if let Some(w) = &self.listeners[l].waker {
                    s.register_recv_waker(w);
                }
                let Ok(h) = self.add_socket(s) else { return };
                self.listeners[l].sockets.push(h);
            }
        }
    }

    /// Asks the interface's task to poll soon (after a socket operation).
    pub fn kick(&mut self) {
        self.kicked = true;
        if let Some(w) = self.kick.take() {
            w.wake();
        }
    }

    fn poll(&mut self) {
        let ts = now();
        self.replenish();
        let sockets = &self.sockets;
        let listening = self.listeners.iter().map(|l| {
            let free = l
                .sockets
                .iter()
                .filter(|&&h| sockets.get::<tcp::Socket>(h).state() == tcp::State::Listen);
            (l.port, free.count())
        });
        self.dev.gate.reset(listening, budget::short());
        for _ in 0..8 {
            let r = self.iface.poll(ts, &mut self.dev, &mut self.sockets);
            self.dev.flush();
            if r == PollResult::None {
                break;
            }
        }
        if let Some(h) = self.dhcp {
            let event = self.sockets.get_mut::<dhcpv4::Socket>(h).poll();
            match event {
                Some(dhcpv4::Event::Configured(c)) => {
                    let (addr, router) = (c.address, c.router);
                    self.dns = c.dns_servers.iter().copied().collect();
                    log::info!("{}: DHCP gave {addr}, router {router:?}", self.name);
                    self.set_v4(Some(addr), router);
                }
                // Also the socket's first event, before any lease: nothing was lost then.
                Some(dhcpv4::Event::Deconfigured) => {
                    if self.iface.ipv4_addr().is_some() {
                        log::warn!("{}: DHCP lease lost", self.name);
                    }
                    self.set_v4(None, None);
                }
                None => {}
            }
        }
        let mut i = 0;
        while i < self.orphans.len() {
            let h = self.orphans[i];
            let s = self.sockets.get::<tcp::Socket>(h);
            if matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait) {
                self.orphans.swap_remove(i);
                self.remove_socket(h);
            } else {
                i += 1;
            }
        }
    }

    fn set_v4(&mut self, addr: Option<Ipv4Cidr>, router: Option<smoltcp::wire::Ipv4Address>) {
        self.iface.update_ip_addrs(|addrs| {
            addrs.retain(|a| !matches!(a, IpCidr::Ipv4(_)));
            if let Some(a) = addr {
                let _ = addrs.push(IpCidr::Ipv4(a));
            }
        });
        self.iface.routes_mut().remove_default_ipv4_route();
        if let Some(r) = router {
            let _ = self.iface.routes_mut().add_default_ipv4_route(r);
        }
    }
}

/// Waits until the vifs found at boot are up (or failed): the socket API calls this first.
pub(super) async fn ready() {
    poll_fn(|cx| {
        if READY.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        READY_WAITERS.lock().push(cx.waker().clone());
        if READY.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

pub(super) fn set_ready() {
    READY.store(true, Ordering::Release);
    for w in READY_WAITERS.lock().drain(..) {
        w.wake();
    }
}

/// Brings up every vif in xenstore and serves each from a task of its own; then brings up
/// the vifs the toolstack adds later (`xl network-attach`).
pub async fn start() {
    let mut known = Vec::new();
    for path in crate::xenbus::devices("vif").await {
        attach(&path, known.len()).await;
        known.push(path);
    }
    set_ready();
    let watch = match crate::xenstore::watch("device/vif").await {
        Ok(w) => w,
        Err(e) => {
            log::warn!("cannot watch device/vif ({e}): vifs attached later stay down");
            return;
        }
    };
    // Every change under device/vif fires (our own state writes too): only new paths count.
    while watch.next().await.is_ok() {
        for path in crate::xenbus::devices("vif").await {
            if !known.contains(&path) {
                attach(&path, known.len()).await;
                known.push(path);
                wake_added();
            }
        }
    }
}

/// Brings up the vif at `path` as interface `index`, with its keys (`ip=`, ... for vif 0,
/// `ip_1=`, ... for vif 1) as the boot check (`crate::config`) read them.
async fn attach(path: &str, index: usize) {
    let name = alloc::format!("vif{index}");
    let cfg = config::vif(crate::config(), u32::try_from(index).unwrap_or(u32::MAX));
    match bring_up(path, &name, &cfg).await {
        Ok(fe) => {
            let slot = NET.lock().len() - 1;
            crate::spawn(serve(slot, fe));
        }
        Err(e) => log::error!("{name} ({path}): {e}; interface left down"),
    }
}

/// Tasks waiting for an interface to be added.
static ADDED_WAITERS: spin::Mutex<Vec<Waker>> = spin::Mutex::new(Vec::new());

fn wake_added() {
    for w in ADDED_WAITERS.lock().drain(..) {
        w.wake();
    }
}

/// Has `waker` woken when the next interface is added (for polls that cover every
/// interface, such as a UDP socket's).
pub(super) fn wake_when_added(waker: &Waker) {
    let mut w = ADDED_WAITERS.lock();
    if !w.iter().any(|w| w.will_wake(waker)) {
        w.push(waker.clone());
    }
}

/// Waits until there are more than `known` interfaces.
pub(super) async fn more_than(known: usize) {
    poll_fn(|cx| {
        if NET.lock().len() > known {
            return Poll::Ready(());
        }
        wake_when_added(cx.waker());
        if NET.lock().len() > known {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

async fn bring_up(
    path: &str,
    name: &str,
    cfg: &config::Vif,
) -> Result<Frontend, crate::xenbus::Error> {
    let fe = Frontend::open(path).await?;
    let mac = fe.read("mac").await?;
    let mac = devices::xenbus::parse_mac(&mac).ok_or_else(|| crate::xenbus::Error::BadNode {
        path: alloc::format!("{path}/mac"),
        value: mac.clone(),
    })?;
    let conn = netfront::connect(&fe).await?;
    let mut dev = Device::new();
    dev.conn = Some(conn);
    let mut ic = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    ic.random_seed = Instant::now().as_nanos()
        ^ u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0]);
    let mut iface = Interface::new(ic, &mut dev, now());
    let max_sockets = budget::max_sockets();
    let mut sockets = SocketSet::new(Vec::with_capacity(max_sockets));
    let mut dhcp = None;
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::Ipv6(Ipv6Cidr::new(config::link_local(mac), 64)));
        if let Some(v6) = cfg.v6 {
            let _ = a.push(IpCidr::Ipv6(Ipv6Cidr::new(v6.addr, v6.prefix_len)));
        }
    });
    if let Some(g) = cfg.gateway6 {
        let _ = iface.routes_mut().add_default_ipv6_route(g);
    }
    let mut i = Iface {
        iface,
        dev,
        sockets: SocketSet::new(Vec::new()),
        socket_count: 0,
        max_sockets,
        dhcp: None,
        orphans: Vec::new(),
        // A vif added after boot listens where the others do (their backlogs fill it).
        listeners: NET.lock().first().map_or(Vec::new(), |n| {
            let copy = |l: &Listener| Listener {
                port: l.port,
                options: l.options,
                sockets: Vec::new(),
                waker: l.waker.clone(),
            };
            n.listeners.iter().map(copy).collect()
        }),
        kick: None,
        kicked: false,
        unplugged: false,
        dns: cfg.dns.clone(),
        name: name.into(),
    };
    match cfg.v4 {
        V4::Static { addr, gateway } => {
            let addr = Ipv4Cidr::new(addr.addr, addr.prefix_len);
            i.set_v4(Some(addr), gateway);
            log::info!("{name}: {} at {addr}, gateway {gateway:?}", EthernetAddress(mac));
        }
        V4::Dhcp => {
            dhcp = Some(sockets.add(dhcpv4::Socket::new()));
            i.socket_count += 1;
            log::info!("{name}: {} asking DHCP for an address", EthernetAddress(mac));
        }
    }
    i.sockets = sockets;
    i.dhcp = dhcp;
    NET.lock().push(i);
    Ok(fe)
}

/// After a resume in a new domain, before any task runs: the vifs' connections belong to
/// backends that are gone (their ports too), so they are dropped unused; each interface's
/// task connects to the new backend ([`serve`]). Sockets and addresses stay.
pub(crate) fn forget_connections() {
    for i in NET.lock().iter_mut() {
        // The grants were written back into the new table and nothing maps the pages:
        // dropping ends them and frees the pages. The port is not closed: its number may
        // be another channel's now.
        drop(i.dev.conn.take());
    }
}

/// How [`serve_backend`] ended.
enum Ended {
    /// The vif was unplugged, or its backend never came back.
    Gone,
    /// The domain resumed in a new domain: a new backend, at a new path.
    Resumed,
}

/// Polls interface `slot` for as long as the guest runs; reconnects after the backend
/// closes and comes back, and after a resume in a new domain (`xl restore`, migration),
/// to the new backend: TCP connections carry on, as the MAC and addresses stay. Once the
/// vif is gone for good, it is unplugged.
async fn serve(slot: usize, fe: Frontend) {
    serve_resumes(slot, fe).await;
    unplug(slot);
}

/// The vif at `slot` is gone: its connections are aborted (their reads and writes fail
/// with `Disconnected`); its listening, closing and DHCP sockets are freed.
fn unplug(slot: usize) {
    let mut net = NET.lock();
    let i = &mut net[slot];
    i.unplugged = true;
    // Freed: the sockets nobody owns (closing ones, the backlogs' and DHCP's).
    let mut freed: Vec<SocketHandle> = core::mem::take(&mut i.orphans);
    freed.extend(i.listeners.drain(..).flat_map(|l| l.sockets));
    freed.extend(i.dhcp.take());
    // Its addresses go, so that no route picks it.
    i.iface.update_ip_addrs(|a| a.clear());
    i.iface.routes_mut().remove_default_ipv4_route();
    i.iface.routes_mut().remove_default_ipv6_route();
    let mut aborted = 0;
    for (h, socket) in i.sockets.iter_mut() {
        // The streams' sockets: aborting wakes the tasks waiting on them, which then fail
        // with `Disconnected`; each is freed when its stream is dropped.
        if let smoltcp::socket::Socket::Tcp(s) = socket {
            if !freed.contains(&h) {
                s.abort();
                aborted += 1;
            }
        }
    }
    for h in freed {
        i.remove_socket(h);
    }
    log::info!("{}: {aborted} connections aborted", i.name);
}

async fn serve_resumes(slot: usize, mut fe: Frontend) {
    while let Ended::Resumed = serve_backend(slot, &fe).await {
        let name = NET.lock()[slot].name.clone();
        log::info!("{name}: resumed in a new domain; connecting to its backend");
        let mut tries = 0;
        loop {
            let connected = match Frontend::open(&fe.path).await {
                Ok(f) => {
                    fe = f;
                    netfront::connect(&fe).await
                }
                Err(e) => Err(e),
            };
            match connected {
                Ok(c) => {
                    NET.lock()[slot].dev.conn = Some(c);
                    crate::xenbus::count_reconnect();
                    log::info!("{name}: connected to the backend after the resume");
                    break;
                }
                Err(e) if tries < 10 => {
                    log::warn!("{name}: connecting after the resume failed: {e}; retrying");
                    tries += 1;
                    time::sleep(time::Duration::from_secs(1)).await;
                }
                Err(e) => {
                    log::error!("{name}: no backend after the resume ({e}); interface down");
                    return;
                }
            }
        }
    }
}

/// Serves interface `slot` with the backend of `fe` until it is gone or the domain resumes
/// in a new domain.
async fn serve_backend(slot: usize, fe: &Frontend) -> Ended {
    let epoch = event::epoch();
    let port = NET.lock()[slot].dev.conn.as_ref().map(|c| c.port);
    let Some(mut port) = port else { return Ended::Gone };
    // The backend leaving Connected is noticed by this watch.
    let watch = match crate::xenstore::watch(&alloc::format!("{}/state", fe.backend)).await {
        Ok(w) => Some(w),
        Err(e) => {
            log::warn!("cannot watch the backend of {}: {e}", fe.path);
            None
        }
    };
    let backend_changed = AtomicBool::new(false);
    let ended = loop {
        if event::epoch() != epoch {
            break Ended::Resumed;
        }
        let delay = {
            let mut net = NET.lock();
            let i = &mut net[slot];
            i.kicked = false;
            i.poll();
            i.iface.poll_delay(now(), &i.sockets)
        };
        let deadline = delay.map(|d| Instant::now() + time::Duration::from_micros(d.micros()));
        let mut ev = pin!(event::wait(port));
        let mut sleep = deadline.map(|d| alloc::boxed::Box::pin(time::sleep_until(d)));
        let mut changed = watch.as_ref().map(|w| alloc::boxed::Box::pin(w.next()));
        poll_fn(|cx| {
            if ev.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            if let Some(s) = sleep.as_mut() {
                if s.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
            if let Some(c) = changed.as_mut() {
                if c.as_mut().poll(cx).is_ready() {
                    backend_changed.store(true, Ordering::Relaxed);
                    return Poll::Ready(());
                }
            }
            let mut net = NET.lock();
            let i = &mut net[slot];
            if i.kicked {
                return Poll::Ready(());
            }
            i.kick = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        drop(changed);
        if event::epoch() != epoch {
            break Ended::Resumed;
        }
        if backend_changed.swap(false, Ordering::Relaxed)
            && fe.backend_state().await != State::Connected
        {
            if event::epoch() != epoch {
                break Ended::Resumed;
            }
            port = match reconnect(slot, fe).await {
                Some(p) => p,
                None => break Ended::Gone,
            };
        }
    };
    if let Some(w) = watch {
        // After a resume the watch names the old backend's path: of no use any more.
        let _ = w.unwatch().await;
    }
    ended
}

/// The backend left Connected: tear down, wait for it to come back, connect again.
async fn reconnect(slot: usize, fe: &Frontend) -> Option<crate::xen::abi::EvtchnPort> {
    let name = NET.lock()[slot].name.clone();
    log::warn!("{name}: backend left Connected; disconnecting");
    let conn = NET.lock()[slot].dev.conn.take();
    if let Some(c) = conn {
        netfront::disconnect(fe, c).await;
    }
    log::info!("{name}: disconnected");
    loop {
        // A restarted backend waits in InitWait for us to start over; an unplugged one
        // (`xl network-detach`: libxl sets its `online` to 0, then removes its nodes) is
        // gone for good: nothing to write back.
        let online = fe.backend_read("online").await;
        if fe.backend_state().await == State::Unknown || online.as_deref() == Some("0") {
            log::info!("{name}: unplugged");
            return None;
        }
        let _ = fe.switch_state(State::Initialising).await;
        if fe.wait_backend(|s| s == State::InitWait).await.is_err() {
            return None;
        }
        match netfront::connect(fe).await {
            Ok(c) => {
                let port = c.port;
                NET.lock()[slot].dev.conn = Some(c);
                crate::xenbus::count_reconnect();
                log::info!("{name}: reconnected to the backend");
                return Some(port);
            }
            Err(e) => log::warn!("{name}: reconnecting failed: {e}"),
        }
    }
}
