//! UDP: [`UdpSocket`], bound to a port on every interface, those the toolstack adds later
//! (`xl network-attach`) included. `send_to` waits while the send buffer is full rather than
//! dropping the datagram.

use super::stack::{self, NET};
use super::{Error, SocketOptions};
use alloc::vec;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::task::Poll;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp::{self, PacketBuffer, PacketMetadata, Socket};
use smoltcp::wire::IpEndpoint;

pub struct UdpSocket {
    port: u16,
    options: SocketOptions,
    /// Taken only under `NET`'s lock (which orders it).
    bound: spin::Mutex<Bound>,
}

/// The interfaces a socket covers: a smoltcp socket on each of the first `seen` interfaces
/// that was plugged in when it was looked at.
struct Bound {
    seen: usize,
    sockets: Vec<(usize, SocketHandle)>,
}

/// A smoltcp socket bound to `port` with buffers of `options`, added to interface `i`.
fn add_to(i: &mut stack::Iface, port: u16, options: &SocketOptions) -> Result<SocketHandle, Error> {
    let cost = options.recv_buffer + options.send_buffer + super::budget::SOCKET_OVERHEAD;
    if !super::budget::affordable(cost) {
        return Err(Error::NoMemory);
    }
    let buf = |bytes| -> Result<_, Error> {
        Ok(PacketBuffer::new(vec![PacketMetadata::EMPTY; 64], stack::zeroed(bytes)?))
    };
    let mut s = Socket::new(buf(options.recv_buffer)?, buf(options.send_buffer)?);
    s.bind(port).map_err(|_| Error::InvalidInput)?;
    i.add_socket(s)
}

impl UdpSocket {
    pub async fn bind(port: u16) -> Result<UdpSocket, Error> {
        Self::bind_with(port, SocketOptions::default()).await
    }

    /// Binds `port` with buffers of `options` (each holds up to 64 datagrams).
    pub async fn bind_with(port: u16, options: SocketOptions) -> Result<UdpSocket, Error> {
        if port == 0 {
            return Err(Error::InvalidInput);
        }
        stack::ready().await;
        let mut net = NET.lock();
        if net.iter().all(|i| i.unplugged) {
            return Err(Error::NoInterface);
        }
        let in_use = net.iter().any(|i| {
            i.sockets.iter().any(
                |(_, s)| matches!(s, smoltcp::socket::Socket::Udp(u) if u.endpoint().port == port),
            )
        });
        if in_use {
            return Err(Error::AddrInUse);
        }
        let mut sockets = Vec::new();
        for (n, i) in net.iter_mut().enumerate().filter(|(_, i)| !i.unplugged) {
            match add_to(i, port, &options) {
                Ok(h) => sockets.push((n, h)),
                Err(e) => {
                    for (n, h) in sockets {
                        net[n].remove_socket(h);
                    }
                    return Err(e);
                }
            }
        }
        let bound = spin::Mutex::new(Bound { seen: net.len(), sockets });
        Ok(UdpSocket { port, options, bound })
    }

    /// Binds the port on the interfaces added since this socket last looked (a vif that
    /// `xl network-attach` brought up), as far as the memory budget allows (the rest are
    /// tried again at the next call).
    fn cover(&self, net: &mut [stack::Iface], bound: &mut Bound) {
        while bound.seen < net.len() {
            let n = bound.seen;
            if !net[n].unplugged {
                match add_to(&mut net[n], self.port, &self.options) {
                    Ok(h) => bound.sockets.push((n, h)),
                    Err(_) => break,
                }
            }
            bound.seen += 1;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for a datagram; returns its length and sender. A datagram longer than `buf`
    /// is an error (`Truncated`) and is consumed.
    pub async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, IpEndpoint), Error> {
        poll_fn(|cx| {
            let mut net = NET.lock();
            let mut bound = self.bound.lock();
            self.cover(&mut net, &mut bound);
            for &(n, h) in &bound.sockets {
                let i = &mut net[n];
                let s = i.sockets.get_mut::<Socket>(h);
                if s.can_recv() {
                    let r = match s.recv_slice(buf) {
                        Ok((len, meta)) => Ok((len, meta.endpoint)),
                        Err(udp::RecvError::Truncated) => {
                            let _ = s.recv();
                            Err(Error::Truncated)
                        }
                        Err(_) => continue,
                    };
                    return Poll::Ready(r);
                }
                s.register_recv_waker(cx.waker());
            }
            // A vif added meanwhile gets a socket of ours at the next poll.
            stack::wake_when_added(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Queues a datagram to `to`, waiting while the send buffer is full. It leaves by the
    /// route to `to` (the first interface with an address in its subnet), from that
    /// interface's address, whichever interface a datagram from `to` came in on.
    pub async fn send_to(&self, data: &[u8], to: impl Into<IpEndpoint>) -> Result<(), Error> {
        let to = to.into();
        poll_fn(|cx| {
            let mut net = NET.lock();
            let mut bound = self.bound.lock();
            self.cover(&mut net, &mut bound);
            let Some(n) = super::route(&net, to.addr) else {
                return Poll::Ready(Err(Error::NoInterface));
            };
            let Some(&(_, h)) = bound.sockets.iter().find(|s| s.0 == n) else {
                return Poll::Ready(Err(Error::NoInterface));
            };
            let i = &mut net[n];
            let s = i.sockets.get_mut::<Socket>(h);
            let r = match s.send_slice(data, to) {
                Ok(()) => Ok(()),
                Err(udp::SendError::BufferFull) if data.len() <= s.payload_send_capacity() => {
                    s.register_send_waker(cx.waker());
                    return Poll::Pending;
                }
                Err(udp::SendError::BufferFull) => Err(Error::InvalidInput),
                Err(udp::SendError::Unaddressable) => Err(Error::Unreachable),
            };
            i.kick();
            Poll::Ready(r)
        })
        .await
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        let mut net = NET.lock();
        for &(n, h) in &self.bound.lock().sockets {
            net[n].remove_socket(h);
        }
    }
}
