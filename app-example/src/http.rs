//! A small HTTP/1.1 server: request heads parsed by [`head`] (httparse), keep-alive,
//! bodies by Content-Length, and an error status for anything malformed (the connection is
//! then closed). Every buffer is allocated fallibly: a short heap is answered 503, or the
//! connection is dropped when even that cannot be written.

pub mod head;

use crate::mem::{self, NoMemory, TryWriter};
use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use kernel::net::TcpStream;

/// Bytes asked of the stream at a time.
const READ_CHUNK: usize = 2048;

/// How long a request may take to arrive, from the end of the previous answer (or the
/// connection's start) to its last body byte. A connection idle for longer is closed, and
/// one whose request is still incomplete gets 408: a client trickling a head (slowloris)
/// cannot hold a connection and its buffers for ever.
const REQUEST_TIMEOUT: kernel::time::Duration = kernel::time::Duration::from_secs(60);

pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Cow<'static, [u8]>,
    /// The methods a 405 names in its `Allow` header.
    pub allow: Option<&'static str>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Response {
        Response { status, content_type, body: Cow::Owned(body), allow: None }
    }

    pub fn text(status: u16, body: &'static str) -> Response {
        let body = Cow::Borrowed(body.as_bytes());
        Response { status, content_type: "text/plain; charset=utf-8", body, allow: None }
    }

    /// What a short heap gets.
    pub fn no_memory() -> Response {
        Response::text(503, "out of memory, try again later\n")
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

/// Why a request could not be read.
enum ReadError {
    /// The peer closed or reset the connection (nothing to answer).
    Gone,
    /// The request did not arrive within [`REQUEST_TIMEOUT`].
    TimedOut,
    /// Answer with this and close.
    Refuse(Response),
}

impl From<head::Reject> for ReadError {
    fn from(r: head::Reject) -> Self {
        let mut resp = Response::text(r.status, r.why);
        // The reason, with a newline if there is memory for one.
        if let Ok(mut body) = mem::try_copy(r.why.as_bytes()) {
            if body.try_reserve_exact(1).is_ok() {
                body.push(b'\n');
                resp.body = Cow::Owned(body);
            }
        }
        ReadError::Refuse(resp)
    }
}

impl From<NoMemory> for ReadError {
    fn from(_: NoMemory) -> Self {
        ReadError::Refuse(Response::no_memory())
    }
}

/// Reads requests from one connection and answers them until either side closes.
pub async fn serve<F, Fut>(mut stream: TcpStream, mut handle: F)
where
    F: FnMut(Request) -> Fut,
    Fut: core::future::Future<Output = Response>,
{
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let read = kernel::time::timeout(REQUEST_TIMEOUT, read_request(&mut stream, &mut buf));
        let req = match read.await.unwrap_or(Err(ReadError::TimedOut)) {
            Ok(r) => r,
            Err(ReadError::TimedOut) if !buf.is_empty() => {
                let r = Response::text(408, "request not received in time\n");
                let _ = write_response(&mut stream, &r, false, false).await;
                return;
            }
            Err(ReadError::Gone | ReadError::TimedOut) => return,
            Err(ReadError::Refuse(r)) => {
                let _ = write_response(&mut stream, &r, false, false).await;
                return;
            }
        };
        let (keep_alive, head_only) = (req.keep_alive, req.method == "HEAD");
        let resp = handle(req).await;
        // A 503 closes: the client retries elsewhere or later, and we hold less.
        let keep_alive = keep_alive && resp.status != 503;
        if write_response(&mut stream, &resp, keep_alive, head_only).await.is_err() || !keep_alive {
            return;
        }
    }
}

/// Writes `r` in one piece; `Err` if the stream failed or there was no memory for it.
async fn write_response(
    stream: &mut TcpStream,
    r: &Response,
    keep_alive: bool,
    head_only: bool,
) -> Result<(), ()> {
    let body: &[u8] = if head_only { &[] } else { &r.body };
    let mut out = Vec::new();
    out.try_reserve_exact(256 + body.len()).map_err(drop)?;
    write!(
        TryWriter(&mut out),
        "HTTP/1.1 {} {}\r\nServer: app-example\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len(),
    )
    .map_err(drop)?;
    if let Some(allow) = r.allow {
        write!(TryWriter(&mut out), "Allow: {allow}\r\n").map_err(drop)?;
    }
    // Said both ways: an HTTP/1.0 client (ab -k) keeps a connection only when told so, and
    // otherwise reads until the server closes.
    let connection = if keep_alive { "keep-alive" } else { "close" };
    write!(TryWriter(&mut out), "Connection: {connection}\r\n\r\n").map_err(drop)?;
    out.try_reserve_exact(body.len()).map_err(drop)?;
    out.extend_from_slice(body);
    stream.write_all(&out).await.map_err(drop)
}

/// Reads up to `max` more bytes onto `buf`.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, max: usize) -> Result<(), ReadError> {
    if mem::short() {
        return Err(NoMemory.into());
    }
    let len = buf.len();
    buf.try_reserve(max).map_err(NoMemory::from)?;
    buf.resize(len + max, 0); // within the capacity just reserved
    let n = stream.read(&mut buf[len..]).await.unwrap_or(0);
    buf.truncate(len + n);
    if n == 0 {
        return Err(ReadError::Gone);
    }
    Ok(())
}

async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Request, ReadError> {
    // The head can only end at a newline: parse again only when one has arrived.
    let mut scanned = 0;
    let (method, path, keep_alive, head_len, body_len) = loop {
        // (From MAX_HEAD bytes on, parse refuses what is still incomplete.)
        if buf[scanned..].contains(&b'\n') || buf.len() >= head::MAX_HEAD {
            if let Some(h) = head::parse(buf)? {
                break (
                    mem::try_string(h.method)?,
                    mem::try_string(h.path)?,
                    h.keep_alive,
                    h.len,
                    h.body_len,
                );
            }
        }
        scanned = buf.len();
        fill(stream, buf, READ_CHUNK).await?;
    };
    let end = head_len + body_len;
    if buf.len() < end {
        buf.try_reserve_exact(end - buf.len()).map_err(NoMemory::from)?;
    }
    while buf.len() < end {
        fill(stream, buf, (end - buf.len()).min(READ_CHUNK)).await?;
    }
    // The buffer becomes the body; what follows it (a pipelined request) moves to a new one.
    let mut body = core::mem::take(buf);
    if body.len() > end {
        *buf = mem::try_copy(&body[end..])?;
        body.truncate(end);
    }
    body.drain(..head_len);
    Ok(Request { method, path, body, keep_alive })
}
