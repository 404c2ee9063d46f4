//! TCP: [`TcpListener`] and [`TcpStream`], async and shaped like std's and tokio's.
//! A full send buffer makes `write` wait (backpressure); nothing is dropped silently.

use super::stack::{self, NET};
use super::{Error, SocketOptions};
use alloc::vec;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::sync::atomic::{AtomicU16, Ordering};
use core::task::Poll;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, Socket, State};
use smoltcp::wire::{IpAddress, IpEndpoint};

fn new_socket(o: &SocketOptions) -> Socket<'static> {
    let mut s = Socket::new(
        tcp::SocketBuffer::new(vec![0; o.recv_buffer]),
        tcp::SocketBuffer::new(vec![0; o.send_buffer]),
    );
    s.set_nagle_enabled(!o.nodelay);
    s
}

/// Listens on a port of every interface, with a backlog of sockets waiting for SYNs.
pub struct TcpListener {
    port: u16,
    options: SocketOptions,
    /// (interface, socket) for every listening socket.
    waiting: Vec<(usize, SocketHandle)>,
}

impl TcpListener {
    /// Listens on `port` with the default [`SocketOptions`].
    pub async fn bind(port: u16) -> Result<TcpListener, Error> {
        Self::bind_with(port, SocketOptions::default()).await
    }

    pub async fn bind_with(port: u16, options: SocketOptions) -> Result<TcpListener, Error> {
        if port == 0 || options.backlog == 0 {
            return Err(Error::InvalidInput);
        }
        stack::ready().await;
        let mut net = NET.lock();
        if net.is_empty() {
            return Err(Error::NoInterface);
        }
        let in_use = net.iter().any(|i| {
            i.sockets.iter().any(|(_, s)| match s {
                smoltcp::socket::Socket::Tcp(t) => {
                    t.state() == State::Listen && t.listen_endpoint().port == port
                }
                _ => false,
            })
        });
        if in_use {
            return Err(Error::AddrInUse);
        }
        let mut waiting = Vec::new();
        for (n, i) in net.iter_mut().enumerate() {
            for _ in 0..options.backlog {
                let mut s = new_socket(&options);
                s.listen(port).map_err(|_| Error::InvalidInput)?;
                waiting.push((n, i.sockets.add(s)));
            }
        }
        Ok(TcpListener { port, options, waiting })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for a connection to be established and hands it over; a fresh socket takes
    /// its place in the backlog.
    pub async fn accept(&mut self) -> Result<(TcpStream, IpEndpoint), Error> {
        poll_fn(|cx| {
            let mut net = NET.lock();
            for w in self.waiting.iter_mut() {
                let (n, h) = *w;
                let iface = &mut net[n];
                let s = iface.sockets.get_mut::<Socket>(h);
                match s.state() {
                    State::Listen | State::SynReceived => {
                        s.register_recv_waker(cx.waker());
                        continue;
                    }
                    State::Closed => {
                        // Reset during the handshake: listen again.
                        let _ = s.listen(self.port);
                        s.register_recv_waker(cx.waker());
                        continue;
                    }
                    _ => {}
                }
                let peer =
                    s.remote_endpoint().unwrap_or(IpEndpoint::new(IpAddress::v4(0, 0, 0, 0), 0));
                let mut fresh = new_socket(&self.options);
                let _ = fresh.listen(self.port);
                fresh.register_recv_waker(cx.waker());
                w.1 = iface.sockets.add(fresh);
                return Poll::Ready(Ok((TcpStream { iface: n, handle: h }, peer)));
            }
            Poll::Pending
        })
        .await
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let mut net = NET.lock();
        for &(n, h) in &self.waiting {
            net[n].sockets.remove(h);
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
            let mut s = new_socket(&options);
            s.connect(i.iface.context(), remote, ephemeral_port())
                .map_err(|_| Error::Unreachable)?;
            let handle = i.sockets.add(s);
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
            self.with(|s| {
                if s.can_recv() {
                    return Poll::Ready(s.recv_slice(buf).map_err(|_| Error::ConnectionReset));
                }
                if !s.may_recv() {
                    // FIN received (0 = end of stream) or the connection is gone.
                    return Poll::Ready(match s.state() {
                        State::Closed if s.remote_endpoint().is_none() => Ok(0),
                        _ => Ok(0),
                    });
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
            self.with(|s| {
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
            self.with(|s| {
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
        i.sockets.get_mut::<Socket>(self.handle).close();
        i.orphans.push(self.handle);
        i.kick();
    }
}
