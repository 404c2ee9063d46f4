//! Networking: netfront vifs under smoltcp, with async TCP and UDP sockets.
//!
//! Every vif the toolstack gave the guest is brought up before `main` can use a socket
//! (the socket calls wait for it); addresses come from the command line's keys or DHCP, see
//! [`devices::config::net`]. A listener or UDP socket is bound on every interface;
//! outgoing connections and datagrams leave by the interface whose subnet holds the
//! destination, else the first.
//!
//! On the host only the SYN gate is compiled, for its tests.

#[cfg(target_os = "none")]
mod budget;
mod gate;
#[cfg(target_os = "none")]
mod netfront;
#[cfg(target_os = "none")]
mod stack;
#[cfg(target_os = "none")]
mod tcp;
#[cfg(target_os = "none")]
mod udp;

#[cfg(target_os = "none")]
use alloc::{string::String, vec::Vec};
#[cfg(target_os = "none")]
pub use smoltcp::wire::{IpAddress, IpCidr, IpEndpoint, Ipv4Address, Ipv6Address};
#[cfg(target_os = "none")]
pub use tcp::{TcpListener, TcpStream};
#[cfg(target_os = "none")]
pub use udp::UdpSocket;

#[cfg(target_os = "none")]
pub(crate) use stack::{forget_connections, start};

/// Without Xen there are no vifs: sockets fail at once with `NoInterface`.
#[cfg(target_os = "none")]
pub(crate) fn no_network() {
    stack::set_ready();
}

/// Socket errors.
#[cfg(target_os = "none")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The guest has no (working) network interface.
    NoInterface,
    /// Something else already listens on the port.
    AddrInUse,
    /// Port 0, a zero backlog, a datagram larger than the send buffer.
    InvalidInput,
    /// No route or source address for the destination.
    Unreachable,
    ConnectionRefused,
    ConnectionReset,
    /// A datagram longer than the receive buffer given; it was discarded.
    Truncated,
    /// The memory budget (see the README's memory budget) has no room for another socket.
    NoMemory,
    /// The connection's interface was unplugged (`xl network-detach`).
    Disconnected,
}

#[cfg(target_os = "none")]
impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::NoInterface => "no network interface",
            Error::AddrInUse => "address in use",
            Error::InvalidInput => "invalid argument",
            Error::Unreachable => "destination unreachable",
            Error::ConnectionRefused => "connection refused",
            Error::ConnectionReset => "connection reset",
            Error::Truncated => "datagram truncated",
            Error::NoMemory => "out of memory for sockets",
            Error::Disconnected => "interface unplugged",
        })
    }
}

#[cfg(target_os = "none")]
impl core::error::Error for Error {}

/// Buffer sizes and backlog of new sockets.
#[cfg(target_os = "none")]
#[derive(Debug, Clone, Copy)]
pub struct SocketOptions {
    /// Listening sockets kept ready per interface (connections accepted in parallel).
    pub backlog: usize,
    pub recv_buffer: usize,
    pub send_buffer: usize,
    /// Disable Nagle's algorithm (send small writes at once); default false.
    pub nodelay: bool,
}

#[cfg(target_os = "none")]
impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions { backlog: 8, recv_buffer: 16 * 1024, send_buffer: 16 * 1024, nodelay: false }
    }
}

/// What an interface looks like now.
#[cfg(target_os = "none")]
#[derive(Debug, Clone)]
pub struct InterfaceInfo {
    pub name: String,
    pub addrs: Vec<IpCidr>,
    pub dns: Vec<Ipv4Address>,
    pub connected: bool,
    /// Detached by the toolstack: down for good (it keeps its place in the list).
    pub unplugged: bool,
    /// Frames, bytes and errors of the current connection to the backend.
    pub stats: devices::netfront::Stats,
}

/// Waits until the toolstack has added an interface beyond the `known` first ones
/// (`xl network-attach`), and returns every interface then.
#[cfg(target_os = "none")]
pub async fn interface_added(known: usize) -> Vec<InterfaceInfo> {
    stack::ready().await;
    stack::more_than(known).await;
    interfaces_now()
}

/// Every interface, once the vifs found at boot are up.
#[cfg(target_os = "none")]
pub async fn interfaces() -> Vec<InterfaceInfo> {
    stack::ready().await;
    interfaces_now()
}

/// The interfaces up so far (without waiting for those still connecting).
#[cfg(target_os = "none")]
pub fn interfaces_now() -> Vec<InterfaceInfo> {
    stack::NET
        .lock()
        .iter()
        .map(|i| InterfaceInfo {
            name: i.name.clone(),
            addrs: i.iface.ip_addrs().to_vec(),
            dns: i.dns.clone(),
            connected: i.dev.conn.is_some(),
            unplugged: i.unplugged,
            stats: i.dev.conn.as_ref().map(|c| c.front.stats).unwrap_or_default(),
        })
        .collect()
}

/// Socket counts over every interface, and what the stack refused for want of memory or
/// of a free listening socket.
#[cfg(target_os = "none")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// TCP sockets waiting for a connection (a listener's backlog).
    pub tcp_listening: usize,
    /// TCP connections in the handshake, established, or being closed by their owner.
    pub tcp_connections: usize,
    /// Of those, connections their owner dropped, still closing gracefully.
    pub tcp_closing: usize,
    pub udp_sockets: usize,
    /// Connection attempts (SYNs) dropped because no listening socket was free or memory
    /// was short; the peer retries them.
    pub syns_dropped: u64,
    /// Frames received and dropped for want of memory.
    pub rx_dropped: u64,
}

/// What the stack holds now.
#[cfg(target_os = "none")]
pub fn stats() -> Stats {
    use smoltcp::socket::{tcp::State, Socket};
    let mut st = stack::dropped();
    for i in stack::NET.lock().iter() {
        st.tcp_closing += i.orphans.len();
        for (_, s) in i.sockets.iter() {
            match s {
                Socket::Tcp(t) if t.state() == State::Listen => st.tcp_listening += 1,
                Socket::Tcp(t) if t.state() != State::Closed => st.tcp_connections += 1,
                Socket::Udp(_) => st.udp_sockets += 1,
                _ => {}
            }
        }
    }
    st
}

/// Waits until interface `index` has an IPv4 address (static, or once DHCP gave one).
#[cfg(target_os = "none")]
pub async fn wait_ipv4(index: usize) -> Result<Ipv4Address, Error> {
    loop {
        match interfaces().await.get(index) {
            None => return Err(Error::NoInterface),
            Some(i) => {
                if let Some(a) = i.addrs.iter().find_map(|a| match a {
                    IpCidr::Ipv4(c) => Some(c.address()),
                    _ => None,
                }) {
                    return Ok(a);
                }
            }
        }
        crate::time::sleep(crate::time::Duration::from_millis(50)).await;
    }
}

/// The interface to reach `addr` from.
#[cfg(target_os = "none")]
fn route(net: &[stack::Iface], addr: IpAddress) -> Option<usize> {
    net.iter()
        .position(|i| i.iface.ip_addrs().iter().any(|c| c.contains_addr(&addr)))
        .or_else(|| net.iter().position(|i| !i.unplugged))
}
