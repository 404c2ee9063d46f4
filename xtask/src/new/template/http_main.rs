//! {{name}}: a minimal HTTP service on the unikernel runtime. It listens on its `port` key
//! (Cargo.toml) and answers each connection's request with what `routes` (src/routes.rs,
//! tested on the host) says, then closes it. The runtime's `cargo xtask build
//! --manifest-path Cargo.toml` (from the runtime's checkout) builds it into a PVH image, and
//! `cargo xtask run --manifest-path ...` runs it under Xen.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use kernel::net::{TcpListener, TcpStream};
use kernel::time::{timeout, Duration};
// The app's logic (src/lib.rs).
use {{crate}}::routes;

kernel::main!(main);

/// How long a client may take to send its request: a silent one holds a task and its
/// buffer until then.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Free heap below which a new connection is closed at once: its task and buffers would eat
/// into what the runtime keeps for the connections already open.
const RESERVE: usize = 256 * 1024;

async fn main() {
    kernel::println!("Hello from {{name}}!");
    // Declared in Cargo.toml with a default: always there, checked at boot.
    let port: u16 = kernel::config().int("port").unwrap_or(80);
    let mut listener = match TcpListener::bind(port).await {
        Ok(l) => l,
        Err(e) => {
            kernel::println!("{{name}}: cannot listen on port {port}: {e}");
            return;
        }
    };
    kernel::println!("{{name}}: serving HTTP on port {port}");
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) if kernel::mm::stats().free() < RESERVE => drop(stream),
            Ok((stream, _peer)) => kernel::spawn(serve(stream)),
            Err(e) => kernel::println!("{{name}}: accept: {e}"),
        }
    }
}

/// Reads one request head, answers it and closes the connection (dropping the stream sends
/// what is queued, then FIN).
async fn serve(mut stream: TcpStream) {
    let mut buf = [0u8; routes::MAX_HEAD];
    let mut len = 0;
    let answer = loop {
        // `answer` decides before the buffer is full, so there is room to read into.
        match timeout(REQUEST_TIMEOUT, stream.read(&mut buf[len..])).await {
            Ok(Ok(n @ 1..)) => len += n,
            _ => return, // closed, reset or too slow: nobody to answer
        }
        if let Some(answer) = routes::answer(&buf[..len]) {
            break answer;
        }
    };
    let mut out = [0u8; routes::MAX_RESPONSE];
    if let Some(response) = answer.render(&mut out) {
        let _ = stream.write_all(response).await;
    }
}
