//! UDP: [`UdpSocket`], bound to a port on every interface. `send_to` waits while the send
//! buffer is full rather than dropping the datagram.

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
    sockets: Vec<(usize, SocketHandle)>,
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
        let cost = options.recv_buffer + options.send_buffer + super::budget::SOCKET_OVERHEAD;
        let mut socket = UdpSocket { port, sockets: Vec::new() };
        for (n, i) in net.iter_mut().enumerate().filter(|(_, i)| !i.unplugged) {
            if !super::budget::affordable(cost) {
                drop(net);
                return Err(Error::NoMemory); // `socket` drops those added so far
            }
            let buf = |bytes| -> Result<_, Error> {
                Ok(PacketBuffer::new(vec![PacketMetadata::EMPTY; 64], stack::zeroed(bytes)?))
            };
            let added = buf(options.recv_buffer).and_then(|rx| {
                let mut s = Socket::new(rx, buf(options.send_buffer)?);
                s.bind(port).map_err(|_| Error::InvalidInput)?;
                i.add_socket(s)
            });
            match added {
                Ok(h) => socket.sockets.push((n, h)),
                Err(e) => {
                    drop(net);
                    return Err(e);
                }
            }
        }
        Ok(socket)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for a datagram; returns its length and sender. A datagram longer than `buf`
    /// is an error (`Truncated`) and is consumed.
    pub async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, IpEndpoint), Error> {
        poll_fn(|cx| {
            let mut net = NET.lock();
            for &(n, h) in &self.sockets {
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
            Poll::Pending
        })
        .await
    }

    /// Queues a datagram to `to`, waiting while the send buffer is full.
    pub async fn send_to(&self, data: &[u8], to: impl Into<IpEndpoint>) -> Result<(), Error> {
        let to = to.into();
        poll_fn(|cx| {
            let mut net = NET.lock();
            let Some(n) = super::route(&net, to.addr) else {
                return Poll::Ready(Err(Error::NoInterface));
            };
            let Some(&(_, h)) = self.sockets.iter().find(|s| s.0 == n) else {
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
        for &(n, h) in &self.sockets {
            net[n].remove_socket(h);
        }
    }
}
