//! TCP: [`TcpListener`] and [`TcpStream`], async and shaped like std's and tokio's.
//! A full send buffer makes `write` wait (backpressure); nothing is dropped silently.

use super::stack::{self, Listener, NET};
use super::{Error, SocketOptions};
use alloc::vec::Vec;
use core::future::poll_fn;
use core::sync::atomic::{AtomicU16, Ordering};
use core::task::Poll;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{Socket, State};
use smoltcp::wire::{IpAddress, IpEndpoint};

/// Listens on a port of every interface. Each interface keeps `backlog` sockets for it,
/// listening or holding a connection not accepted yet; a SYN beyond them is dropped (the
/// peer retries), never answered with a reset, however slow the app is to accept.
pub struct TcpListener {
    port: u16,
}

impl TcpListener {
    /// Listens on `port` with the default [`SocketOptions`].
    pub async fn bind(port: u16) -> Result<TcpListener, Error> {
        Self::bind_with(port, SocketOptions::default()).await
    }

    /// Listens on `port` with `options` (backlog and buffer sizes). As much of the backlog
    /// as the memory budget allows is allocated now, the rest as memory frees up.
    pub async fn bind_with(port: u16, options: SocketOptions) -> Result<TcpListener, Error> {
        if port == 0 || options.backlog == 0 {
            return Err(Error::InvalidInput);
        }
        stack::ready().await;
        let mut net = NET.lock();
        if net.iter().all(|i| i.unplugged) {
            return Err(Error::NoInterface);
        }
        // Every listening socket belongs to a listener's backlog.
        let in_use = net.iter().any(|i| i.listeners.iter().any(|l| l.port == port));
        if in_use {
            return Err(Error::AddrInUse);
        }
        for i in net.iter_mut().filter(|i| !i.unplugged) {
            i.listeners.push(Listener { port, options, sockets: Vec::new(), waker: None });
            i.replenish();
        }
        if net
            .iter()
            .all(|i| i.listeners.last().is_none_or(|l| l.port != port || l.sockets.is_empty()))
        {
            drop(net);
            drop(TcpListener { port });
            return Err(Error::NoMemory);
        }
        Ok(TcpListener { port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for a connection to be established and hands it over; a fresh listening
    /// socket takes its place in the backlog.
    pub async fn accept(&mut self) -> Result<(TcpStream, IpEndpoint), Error> {
        let port = self.port;
        poll_fn(|cx| {
            let mut net = NET.lock();
            for (n, iface) in net.iter_mut().enumerate() {
                let Some(l) = iface.listeners.iter().position(|l| l.port == port) else {
                    continue;
                };
                let mut taken = None;
                for (k, &h) in iface.listeners[l].sockets.iter().enumerate() {
                    let s = iface.sockets.get_mut::<Socket>(h);
                    match s.state() {
                        State::Listen | State::SynReceived => {}
                        // Reset during the handshake: listen again.
                        State::Closed => {
                            let _ = s.listen(port);
                        }
                        _ => {
                            taken = Some(k);
                            break;
                        }
                    }
                    s.register_recv_waker(cx.waker());
                }
                iface.listeners[l].waker = Some(cx.waker().clone());
                if let Some(k) = taken {
                    let h = iface.listeners[l].sockets.swap_remove(k);
                    let s = iface.sockets.get_mut::<Socket>(h);
                    let peer = s
                        .remote_endpoint()
                        .unwrap_or(IpEndpoint::new(IpAddress::v4(0, 0, 0, 0), 0));
                    iface.replenish();
                    return Poll::Ready(Ok((TcpStream { iface: n, handle: h }, peer)));
                }
            }
            Poll::Pending
        })
        .await
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let mut net = NET.lock();
        for i in net.iter_mut() {
            if let Some(l) = i.listeners.iter().position(|l| l.port == self.port) {
                for h in i.listeners.swap_remove(l).sockets {
                    i.remove_socket(h);
                }
            }
        }
    }
}

static NEXT_PORT: AtomicU16 = AtomicU16::new(49152);

fn ephemeral_port() -> u16 {
    let p = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
    if p == u16::MAX {
        NEXT_PORT.store(49152, Ordering::Relaxed);
    }
    p.max(49152)
}

/// A TCP connection. Dropping it closes it gracefully (FIN after the queued data).
pub struct TcpStream {
    iface: usize,
    handle: SocketHandle,
}

impl TcpStream {
    /// Connects to `remote` from the interface whose subnet holds it (else the first).
    pub async fn connect(remote: impl Into<IpEndpoint>) -> Result<TcpStream, Error> {
        Self::connect_with(remote, SocketOptions::default()).await
    }

    pub async fn connect_with(
        remote: impl Into<IpEndpoint>,
        options: SocketOptions,
    ) -> Result<TcpStream, Error> {
        let remote = remote.into();
        stack::ready().await;
        let stream = {
            let mut net = NET.lock();
            let n = super::route(&net, remote.addr).ok_or(Error::NoInterface)?;
            let i = &mut net[n];
            let mut s = stack::new_tcp_socket(&options)?;
            s.connect(i.iface.context(), remote, ephemeral_port())
                .map_err(|_| Error::Unreachable)?;
            let handle = i.add_socket(s)?;
            i.kick();
            TcpStream { iface: n, handle }
        };
        poll_fn(|cx| {
            stream.with(|s| match s.state() {
                State::SynSent | State::SynReceived => {
                    s.register_send_waker(cx.waker());
                    Poll::Pending
                }
                State::Established => Poll::Ready(Ok(())),
                _ => Poll::Ready(Err(Error::ConnectionRefused)),
            })
        })
        .await?;
        Ok(stream)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Socket<'static>) -> R) -> R {
        let mut net = NET.lock();
        let i = &mut net[self.iface];
        let r = f(i.sockets.get_mut::<Socket>(self.handle));
        i.kick();
        r
    }

    /// As [`Self::with`] for an operation that can fail, under the same lock: ready with
    /// `Disconnected` once the stream's interface was unplugged.
    fn poll_live<R>(
        &self,
        f: impl FnOnce(&mut Socket<'static>) -> Poll<Result<R, Error>>,
    ) -> Poll<Result<R, Error>> {
        let mut net = NET.lock();
        let i = &mut net[self.iface];
        if i.unplugged {
            return Poll::Ready(Err(Error::Disconnected));
        }
        let r = f(i.sockets.get_mut::<Socket>(self.handle));
        i.kick();
        r
    }

    pub fn peer_addr(&self) -> Option<IpEndpoint> {
        self.with(|s| s.remote_endpoint())
    }

    pub fn local_addr(&self) -> Option<IpEndpoint> {
        self.with(|s| s.local_endpoint())
    }

    /// Reads what has arrived (waiting for at least one byte); `Ok(0)` at end of stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            self.poll_live(|s| {
                if s.can_recv() {
                    return Poll::Ready(s.recv_slice(buf).map_err(|_| Error::ConnectionReset));
                }
                if !s.may_recv() {
                    // FIN received (0 = end of stream) or the connection is gone.
                    return Poll::Ready(Ok(0));
                }
                s.register_recv_waker(cx.waker());
                Poll::Pending
            })
        })
        .await
    }

    /// Queues some of `data` for sending, waiting while the send buffer is full.
    pub async fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        if data.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            self.poll_live(|s| {
                if !s.may_send() {
                    return Poll::Ready(Err(Error::ConnectionReset));
                }
                if s.can_send() {
                    return Poll::Ready(s.send_slice(data).map_err(|_| Error::ConnectionReset));
                }
                s.register_send_waker(cx.waker());
                Poll::Pending
            })
        })
        .await
    }

    pub async fn write_all(&mut self, mut data: &[u8]) -> Result<(), Error> {
        while !data.is_empty() {
            let n = self.write(data).await?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Waits until everything written has been acknowledged by the peer.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| {
            self.poll_live(|s| {
                if s.send_queue() == 0 {
                    return Poll::Ready(Ok(()));
                }
                if !s.may_send()
                    && !matches!(s.state(), State::FinWait1 | State::Closing | State::LastAck)
                {
                    return Poll::Ready(Err(Error::ConnectionReset));
                }
                s.register_send_waker(cx.waker());
                Poll::Pending
            })
        })
        .await
    }

    /// Closes our direction (FIN after the queued data); reading goes on.
    pub fn shutdown(&mut self) {
        self.with(|s| s.close());
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let mut net = NET.lock();
        let i = &mut net[self.iface];
        if i.unplugged {
            i.remove_socket(self.handle); // aborted already; nothing polls it any more
            return;
        }
        i.sockets.get_mut::<Socket>(self.handle).close();
        i.orphans.push(self.handle);
        i.kick();
    }
}
