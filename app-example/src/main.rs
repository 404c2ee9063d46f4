//! The example application: an HTTP/1.1 service on port 80 with a status page and a
//! key-value store kept on its disk (`/kv/<key>`: PUT, GET, DELETE), and a UDP echo on
//! port 7.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

mod http;
mod kv;

use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicU64, Ordering};
use http::{Request, Response};
use kernel::net::{SocketOptions, TcpListener, UdpSocket};
use kernel::time::Instant;

kernel::main!(main);

static REQUESTS: AtomicU64 = AtomicU64::new(0);
/// The store, taken out by the request using it (its operations wait on the disk).
static STORE: spin::Mutex<Option<kv::Store>> = spin::Mutex::new(None);
static HAVE_STORE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

async fn take_store() -> Option<kv::Store> {
    while HAVE_STORE.load(Ordering::Acquire) {
        if let Some(s) = STORE.lock().take() {
            return Some(s);
        }
        kernel::yield_now().await;
    }
    None
}

fn put_back(s: kv::Store) {
    *STORE.lock() = Some(s);
}

async fn open_store() {
    let Some(disk) = kernel::block::disks().await.into_iter().next() else {
        kernel::println!("app-example: no disk: the key-value store is off");
        return;
    };
    match kv::Store::open(disk).await {
        Ok(s) => {
            let r = &s.recovery;
            kernel::println!(
                "app-example: kv store: {} records replayed, {} keys{}{}",
                r.records,
                s.len(),
                if r.formatted { ", disk formatted" } else { "" },
                match r.corrupt_at {
                    Some(at) => format!(", CORRUPT record at sector {at} ignored"),
                    None => String::new(),
                }
            );
            put_back(s);
            HAVE_STORE.store(true, Ordering::Release);
        }
        Err(e) => kernel::println!("app-example: kv store unavailable: {e}"),
    }
}

async fn kv_route(req: &Request, key: &str) -> Response {
    if key.is_empty() || key.len() > kv::MAX_KEY || key.contains('/') {
        return Response::text(400, "bad key\n");
    }
    if !matches!(req.method.as_str(), "GET" | "HEAD" | "PUT" | "DELETE") {
        return method_not_allowed("GET, HEAD, PUT, DELETE");
    }
    let Some(mut store) = take_store().await else {
        return Response::text(503, "no disk: the key-value store is off\n");
    };
    let r = match req.method.as_str() {
        "GET" | "HEAD" => match store.get(key) {
            Some(v) => Response::new(200, "application/octet-stream", v.to_vec()),
            None => Response::text(404, "no such key\n"),
        },
        "PUT" => match store.put(key, &req.body).await {
            Ok(()) => Response::text(201, "stored\n"),
            Err(kv::Error::Full) => Response::text(507, "store full\n"),
            Err(kv::Error::TooLarge) => Response::text(413, "value too large\n"),
            Err(e) => {
                log::error!("kv put: {e}");
                Response::text(500, "disk error\n")
            }
        },
        _ => match store.delete(key).await {
            Ok(true) => Response::text(200, "deleted\n"),
            Ok(false) => Response::text(404, "no such key\n"),
            Err(e) => {
                log::error!("kv delete: {e}");
                Response::text(500, "disk error\n")
            }
        },
    };
    put_back(store);
    r
}

async fn main() {
    kernel::println!("Hello from app-example, a Rust unikernel on Xen!");
    let name = kernel::xenstore::read("name").await.unwrap_or_default();
    let domid = kernel::xenstore::read("domid").await.unwrap_or_default();
    kernel::println!("I am domain {domid}, named {name:?}");
    kernel::spawn(udp_echo());
    open_store().await;
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
                    let (name, domid) = (name.clone(), domid.clone());
                    async move {
                        REQUESTS.fetch_add(1, Ordering::Relaxed);
                        match req.path.strip_prefix("/kv/") {
                            Some(key) => kv_route(&req, key).await,
                            None => route(&req, || status_page(&name, &domid, started)),
                        }
                    }
                }));
            }
            Err(e) => log::warn!("accept: {e}"),
        }
    }
}

fn route(req: &Request, page: impl FnOnce() -> String) -> Response {
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
        s += &format!("{}:", i.name);
        for a in &i.addrs {
            s += &format!(" {a}");
        }
        s += &format!(
            " (rx {} frames, tx {} frames, backend errors {})\n",
            i.stats.rx_frames, i.stats.tx_frames, i.stats.protocol_errors
        );
    }
    if let Some(st) = STORE.lock().as_ref() {
        s += &format!("kv: {} keys\n", st.len());
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
