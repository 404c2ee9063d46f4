//! The example application: an HTTP/1.1 service on port 80 (key `port`) with a status page
//! that opens with its `greeting` (a configure-time key, fixed in the image), metrics
//! (`/metrics`, Prometheus text format) and a key-value store kept on its disk
//! (`/kv/<key>`: PUT, GET, DELETE), and a UDP echo on port 7.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

mod http;
mod kv;
mod mem;
mod metrics;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use core::task::Poll;
use http::{Request, Response};
use kernel::net::{SocketOptions, TcpListener, UdpSocket};
use kernel::time::Instant;
use mem::{NoMemory, TryWriter};

kernel::main!(main);

static REQUESTS: AtomicU64 = AtomicU64::new(0);
/// Requests being handled now (a graceful stop waits for them).
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Requests answered 503 and connections closed at accept while memory was short.
static REFUSED: AtomicU64 = AtomicU64::new(0);
/// The store, once open; its operations wait on the disk, so requests queue on an async
/// mutex (async-lock: no_std without a critical-section implementation).
static STORE: spin::Once<async_lock::Mutex<kv::Store>> = spin::Once::new();
static ME: spin::Once<Me> = spin::Once::new();

/// What the status page says about this guest.
struct Me {
    name: String,
    domid: String,
    started: Instant,
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
                    Some(at) => alloc::format!(", CORRUPT record at sector {at} ignored"),
                    None => String::new(),
                }
            );
            STORE.call_once(|| async_lock::Mutex::new(s));
        }
        Err(e) => kernel::println!("app-example: kv store unavailable: {e}"),
    }
}

async fn kv_route(method: &str, key: &str, body: Vec<u8>) -> Response {
    if key.is_empty() || key.len() > kv::MAX_KEY || key.contains('/') {
        return Response::text(400, "bad key\n");
    }
    if !matches!(method, "GET" | "HEAD" | "PUT" | "DELETE") {
        return method_not_allowed("GET, HEAD, PUT, DELETE");
    }
    let Some(store) = STORE.get() else {
        return Response::text(503, "no disk: the key-value store is off\n");
    };
    let mut store = store.lock().await;
    match method {
        "GET" | "HEAD" => match store.get(key).map(mem::try_copy) {
            Some(Ok(v)) => Response::new(200, "application/octet-stream", v),
            Some(Err(NoMemory)) => Response::no_memory(),
            None => Response::text(404, "no such key\n"),
        },
        "PUT" => match store.put(key, body).await {
            Ok(()) => Response::text(201, "stored\n"),
            Err(kv::Error::Full) => Response::text(507, "store full\n"),
            Err(kv::Error::TooLarge) => Response::text(413, "value too large\n"),
            Err(kv::Error::NoMemory) => Response::no_memory(),
            Err(kv::Error::Closed) => Response::text(503, "stopping\n"),
            Err(e) => {
                log::error!("kv put: {e}");
                Response::text(500, "disk error\n")
            }
        },
        _ => match store.delete(key).await {
            Ok(true) => Response::text(200, "deleted\n"),
            Ok(false) => Response::text(404, "no such key\n"),
            Err(kv::Error::NoMemory) => Response::no_memory(),
            Err(kv::Error::Closed) => Response::text(503, "stopping\n"),
            Err(e) => {
                log::error!("kv delete: {e}");
                Response::text(500, "disk error\n")
            }
        },
    }
}

async fn main() {
    kernel::println!("Hello from app-example, a Rust unikernel on Xen!");
    kernel::println!("app-example: greeting {:?}", kernel::config().str("greeting").unwrap_or(""));
    let name = kernel::xenstore::read("name").await.unwrap_or_default();
    let domid = kernel::xenstore::read("domid").await.unwrap_or_default();
    kernel::println!("I am domain {domid}, named {name:?}");
    kernel::spawn(udp_echo());
    open_store().await;
    // Declared in Cargo.toml with a default: always there, checked at boot.
    let port: u16 = kernel::config().int("port").unwrap_or(80);
    let options = SocketOptions { backlog: 32, ..SocketOptions::default() };
    let mut listener = match TcpListener::bind_with(port, options).await {
        Ok(l) => l,
        Err(e) => {
            kernel::println!("app-example: cannot listen on port {port}: {e}");
            return;
        }
    };
    let interfaces = kernel::net::interfaces().await;
    for i in &interfaces {
        kernel::println!("app-example: {} {:?}", i.name, i.addrs);
    }
    kernel::println!("app-example: serving HTTP on port {port}, UDP echo on port 7");
    kernel::spawn(report_added(interfaces.len()));
    ME.call_once(|| Me { name, domid, started: Instant::now() });
    let mut stop = pin!(kernel::lifecycle::requested());
    let request = loop {
        let mut accept = pin!(listener.accept());
        let next = poll_fn(|cx| match stop.as_mut().poll(cx) {
            Poll::Ready(r) => Poll::Ready(Err(r)),
            Poll::Pending => accept.as_mut().poll(cx).map(Ok),
        });
        match next.await {
            Err(request) => break request,
            // A connection's task and buffers would eat into the reserve: close it at once.
            Ok(Ok(_)) if mem::short() => {
                REFUSED.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Ok((stream, _peer))) => kernel::spawn(http::serve(stream, handle)),
            Ok(Err(e)) => log::warn!("accept: {e}"),
        }
    };
    stop_gracefully(request, listener).await;
}

/// Says when the toolstack adds a vif (`xl network-attach`): it serves HTTP like the others.
async fn report_added(mut known: usize) {
    loop {
        let now = kernel::net::interface_added(known).await;
        for i in &now[known..] {
            kernel::println!("app-example: {} added: serving HTTP there too", i.name);
        }
        known = now.len();
    }
}

/// Stops accepting, lets the requests being handled finish, and closes the store; the
/// runtime then ends the domain as asked (or sooner, if this outlasts its grace period).
async fn stop_gracefully(request: kernel::lifecycle::Request, listener: TcpListener) {
    kernel::println!("app-example: {request:?} requested: finishing in-flight requests");
    drop(listener);
    while IN_FLIGHT.load(Ordering::Acquire) > 0 {
        kernel::time::sleep(kernel::time::Duration::from_millis(10)).await;
    }
    if let Some(store) = STORE.get() {
        let mut store = store.lock().await;
        match store.close().await {
            Ok(()) => kernel::println!("app-example: kv store closed ({} keys)", store.len()),
            Err(e) => kernel::println!("app-example: closing the kv store: {e}"),
        }
    }
    kernel::println!("app-example: stopped cleanly");
}

/// Counts a request from its start until its response is ready.
struct InFlight;

impl InFlight {
    fn new() -> InFlight {
        IN_FLIGHT.fetch_add(1, Ordering::AcqRel);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn handle(req: Request) -> Response {
    let _in_flight = InFlight::new();
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    if mem::short() {
        REFUSED.fetch_add(1, Ordering::Relaxed);
        return Response::no_memory();
    }
    let Request { method, path, body, .. } = req;
    if let Some(key) = path.strip_prefix("/kv/") {
        return kv_route(&method, key, body).await;
    }
    let page = match path.as_str() {
        "/" | "/status" | "/metrics" | "/hello" if !matches!(method.as_str(), "GET" | "HEAD") => {
            return method_not_allowed("GET, HEAD");
        }
        "/" | "/status" => status_page(),
        // A page that never changes (load tests and benchmarks compare its length).
        "/hello" => Ok(Response::text(200, "hello from app-example\n")),
        "/metrics" => metrics_page().await,
        _ => return Response::text(404, "not found\n"),
    };
    page.unwrap_or_else(|NoMemory| Response::no_memory())
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut r = Response::text(405, "method not allowed\n");
    r.allow = Some(allow);
    r
}

fn uptime_secs() -> u64 {
    ME.get().map_or(0, |me| me.started.elapsed().as_secs())
}

fn kv_keys() -> Option<usize> {
    STORE.get()?.try_lock().map(|s| s.len())
}

fn status_page() -> Result<Response, NoMemory> {
    let mut out = Vec::new();
    out.try_reserve(1024)?;
    let w = &mut TryWriter(&mut out);
    let (name, domid) = ME.get().map_or(("", ""), |m| (&m.name, &m.domid));
    write!(
        w,
        "{}\nname: {name}\ndomid: {domid}\nuptime: {} s\nrequests: {}\n",
        kernel::config().str("greeting").unwrap_or(""),
        uptime_secs(),
        REQUESTS.load(Ordering::Relaxed),
    )
    .map_err(|_| NoMemory)?;
    for i in kernel::net::interfaces_now() {
        write!(w, "{}:", i.name).map_err(|_| NoMemory)?;
        for a in &i.addrs {
            write!(w, " {a}").map_err(|_| NoMemory)?;
        }
        writeln!(
            w,
            " (rx {} frames, tx {} frames, backend errors {})",
            i.stats.rx_frames, i.stats.tx_frames, i.stats.protocol_errors
        )
        .map_err(|_| NoMemory)?;
    }
    if STORE.get().is_some() {
        match kv_keys() {
            Some(n) => writeln!(w, "kv: {n} keys"),
            None => writeln!(w, "kv: busy"),
        }
        .map_err(|_| NoMemory)?;
    }
    Ok(Response::new(200, "text/plain; charset=utf-8", out))
}

async fn metrics_page() -> Result<Response, NoMemory> {
    let app = metrics::App {
        requests: REQUESTS.load(Ordering::Relaxed),
        refused: REFUSED.load(Ordering::Relaxed),
        uptime_secs: uptime_secs(),
        kv_keys: kv_keys(),
    };
    let disks = kernel::block::disks().await;
    let page = metrics::render(&app, &kernel::net::interfaces_now(), &disks)?;
    Ok(Response::new(200, metrics::CONTENT_TYPE, page))
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
