//! A vif's connection to netback: the xenbus handshake, the granted pages and the event
//! channel around `devices::netfront`, and smoltcp's `Device` over it.

use super::gate::Gate;
use crate::xen::abi::EvtchnPort;
use crate::xen::event;
use crate::xen::gnttab::GrantedPage;
use crate::xenbus::{Error, Frontend, State};
use alloc::string::ToString;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use devices::netfront::{Buffer, NetError, Netfront};
use smoltcp::phy::{self, DeviceCapabilities, Medium};

/// Ethernet frames up to the bridge's 1500-byte MTU.
pub const MTU: usize = 1514;

pub type Front = Netfront<GrantedPage, GrantedPage>;

/// A connected vif.
pub struct Connection {
    pub front: Front,
    pub port: EvtchnPort,
}

/// Connects to the backend of `fe` (which must be in InitWait or later): grants the rings
/// and buffers, publishes them with our features, and waits for Connected.
pub async fn connect(fe: &Frontend) -> Result<Connection, Error> {
    let state = fe.backend_reached(|s| s >= State::InitWait).await?;
    if state > State::Connected {
        return Err(Error::BackendState(state));
    }
    let backend = fe.backend_id;
    let page = |readonly| GrantedPage::new(backend, readonly).map_err(Error::Grant);
    let (tx_ring, rx_ring) = (page(false)?, page(false)?);
    let (tx_ref, rx_ref) = (tx_ring.gref(), rx_ring.gref());
    // One page per ring slot (256) where memory allows, so that a full ring never waits
    // for a page; fewer in a small guest (see `budget`).
    let buffers = super::budget::netfront_pages();
    let mut tx = Vec::with_capacity(buffers);
    let mut rx = Vec::with_capacity(buffers);
    for _ in 0..buffers {
        let p = page(true)?;
        tx.push(Buffer { gref: p.gref(), mem: p });
        let p = page(false)?;
        rx.push(Buffer { gref: p.gref(), mem: p });
    }
    let front = Netfront::new(tx_ring, rx_ring, tx, rx);
    let port = event::alloc_unbound(backend)?;
    // Keys whose default is what we want are left out (each write is one request).
    let nodes = [
        ("tx-ring-ref", tx_ref.to_string()),
        ("rx-ring-ref", rx_ref.to_string()),
        ("event-channel", port.to_string()),
        ("request-rx-copy", "1".into()),
        ("feature-rx-notify", "1".into()),
        ("feature-sg", "1".into()),
        // A software stack computes and checks every checksum itself (IPv6 checksum
        // offload is off unless asked for).
        ("feature-no-csum-offload", "1".into()),
    ]
    .map(|(k, v)| (k.to_string(), v));
    let published = fe.publish(&nodes, State::Connected).await;
    if let Err(e) = published {
        let _ = event::close(port);
        return Err(e);
    }
    match fe.wait_backend(|s| s >= State::Connected).await {
        Ok(State::Connected) => Ok(Connection { front, port }),
        Ok(s) => {
            disconnect(fe, Connection { front, port }).await;
            Err(Error::BackendState(s))
        }
        Err(e) => Err(e),
    }
}

/// Tears a connection down after the backend left Connected: Closing, then Closed, as
/// netback unmaps the rings only when it sees us Closed; then the grants end (a page the
/// backend still maps is leaked rather than reused, see `GrantedPage`).
pub async fn disconnect(fe: &Frontend, c: Connection) {
    let settle = crate::time::Duration::from_secs(5);
    let _ = fe.switch_state(State::Closing).await;
    let closing: fn(State) -> bool =
        |s| s >= State::Closing || s == State::Unknown || s == State::InitWait;
    let _ = crate::time::timeout(settle, fe.wait_backend(closing)).await;
    let _ = fe.switch_state(State::Closed).await;
    let closed: fn(State) -> bool =
        |s| s == State::Closed || s == State::Unknown || s == State::InitWait;
    let _ = crate::time::timeout(settle, fe.wait_backend(closed)).await;
    let _ = event::close(c.port);
    drop(c.front.into_parts());
}

/// smoltcp's view of a vif. With no connection it neither sends nor receives.
pub struct Device {
    pub conn: Option<Connection>,
    /// The backend must be told about new TX requests / RX buffers.
    pub notify: bool,
    errors: u64,
    /// Which connection attempts get in (see `gate`).
    pub gate: Gate,
    /// Where smoltcp writes a frame to send, allocated once.
    scratch: Vec<u8>,
}

impl Device {
    pub fn new() -> Device {
        Device {
            conn: None,
            notify: false,
            errors: 0,
            gate: Gate::default(),
            scratch: Vec::with_capacity(MTU),
        }
    }

    fn report(&mut self, e: NetError) {
        self.errors += 1;
        if self.errors <= 10 || self.errors.is_power_of_two() {
            log::warn!("netfront: {e} (backend error #{})", self.errors);
        }
    }

    /// After smoltcp's poll: re-posts RX buffers, reclaims TX pages, notifies the backend
    /// if it asked.
    pub fn flush(&mut self) {
        let Some(c) = self.conn.as_mut() else { return };
        let posted = c.front.post_rx();
        let reaped = c.front.reap_tx();
        let port = c.port;
        if let Err(e) = reaped {
            self.report(e);
        }
        if core::mem::take(&mut self.notify) || posted {
            event::send(port);
        }
    }
}

pub struct RxToken(Vec<u8>);

pub struct TxToken<'a>(&'a mut Device);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        // smoltcp sends at most an MTU, for which `scratch` has room: no allocation.
        let mut frame = core::mem::take(&mut self.0.scratch);
        frame.clear();
        frame.resize(len, 0);
        let r = f(&mut frame);
        if let Some(c) = self.0.conn.as_mut() {
            match c.front.send(&frame) {
                Ok(notify) => self.0.notify |= notify,
                Err(e) => log::warn!("netfront: frame of {len} bytes not sent: {e:?}"),
            }
        }
        self.0.scratch = frame;
        r
    }
}

impl phy::Device for Device {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: smoltcp::time::Instant) -> Option<(RxToken, TxToken<'_>)> {
        loop {
            let c = self.conn.as_mut()?;
            match c.front.recv() {
                Ok(Some(frame)) if self.gate.admit(&frame) => {
                    return Some((RxToken(frame), TxToken(self)))
                }
                Ok(Some(_)) => {
                    super::stack::SYNS_DROPPED.fetch_add(1, Ordering::Relaxed);
                }
                Ok(None) => return None,
                Err(NetError::NoMemory) => {
                    super::stack::RX_DROPPED.fetch_add(1, Ordering::Relaxed);
                }
                Err(e @ NetError::Ring(_)) => {
                    // The indices are nonsense: nothing more can be read until they are not.
                    self.report(e);
                    return None;
                }
                Err(e) => self.report(e),
            }
        }
    }

    fn transmit(&mut self, _: smoltcp::time::Instant) -> Option<TxToken<'_>> {
        let c = self.conn.as_mut()?;
        if !c.front.can_send(MTU) {
            let reaped = c.front.reap_tx();
            let can = c.front.can_send(MTU);
            if let Err(e) = reaped {
                self.report(e);
            }
            if !can {
                return None;
            }
        }
        Some(TxToken(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps
    }
}
