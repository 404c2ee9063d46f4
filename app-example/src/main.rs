//! The example application: an HTTP/1.1 service on port 80 with a status page, and a UDP
//! echo on port 7.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

mod http;

use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicU64, Ordering};
use http::{Request, Response};
use kernel::net::{SocketOptions, TcpListener, UdpSocket};
use kernel::time::Instant;

kernel::main!(main);

static REQUESTS: AtomicU64 = AtomicU64::new(0);

async fn main() {
    kernel::println!("Hello from app-example, a Rust unikernel on Xen!");
    let name = kernel::xenstore::read("name").await.unwrap_or_default();
    let domid = kernel::xenstore::read("domid").await.unwrap_or_default();
    kernel::println!("I am domain {domid}, named {name:?}");
    kernel::spawn(udp_echo());
    let options = SocketOptions { backlog: 32, ..SocketOptions::default() };
    let mut listener = match TcpListener::bind_with(80, options).await {
        Ok(l) => l,
        Err(e) => {
            kernel::println!("app-example: cannot listen on port 80: {e}");
            return;
        }
    };
    for i in kernel::net::interfaces().await {
        kernel::println!("app-example: {} {:?}", i.name, i.addrs);
    }
    kernel::println!("app-example: serving HTTP on port 80, UDP echo on port 7");
    let started = Instant::now();
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                let (name, domid) = (name.clone(), domid.clone());
                kernel::spawn(http::serve(stream, move |req: Request| {
                    let r = route(&req, || status_page(&name, &domid, started));
                    async move { r }
                }));
            }
            Err(e) => log::warn!("accept: {e}"),
        }
    }
}

fn route(req: &Request, page: impl FnOnce() -> String) -> Response {
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    match req.path.as_str() {
        "/" | "/status" => match req.method.as_str() {
            "GET" | "HEAD" => Response::text(200, &page()),
            _ => method_not_allowed("GET, HEAD"),
        },
        _ => Response::text(404, "not found\n"),
    }
}

fn method_not_allowed(allow: &str) -> Response {
    let mut r = Response::text(405, "method not allowed\n");
    r.headers = format!("Allow: {allow}\r\n");
    r
}

fn status_page(name: &str, domid: &str, started: Instant) -> String {
    let mut s = format!(
        "app-example: a Rust unikernel on Xen\nname: {name}\ndomid: {domid}\nuptime: {} s\nrequests: {}\n",
        started.elapsed().as_secs(),
        REQUESTS.load(Ordering::Relaxed),
    );
    for i in kernel::net::interfaces_now() {
        s += &format!("{}: {:?}\n", i.name, i.addrs);
    }
    s
}

async fn udp_echo() {
    let socket = match UdpSocket::bind(7).await {
        Ok(s) => s,
        Err(e) => {
            log::warn!("UDP echo: cannot bind port 7: {e}");
            return;
        }
    };
    let mut buf = alloc::vec![0u8; 2048];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                if let Err(e) = socket.send_to(&buf[..n], peer).await {
                    log::warn!("UDP echo to {peer}: {e}");
                }
            }
            Err(e) => log::warn!("UDP echo: {e}"),
        }
    }
}
