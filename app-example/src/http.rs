//! A small HTTP/1.1 server: requests parsed from the stream, keep-alive, bodies by
//! Content-Length, and 400 for anything malformed (the connection is then closed).

extern crate alloc;
use alloc::string::String;
use alloc::vec::Vec;
use kernel::net::{Error, TcpStream};

/// Largest request head (request line + headers) and body we accept.
const MAX_HEAD: usize = 8 * 1024;
pub const MAX_BODY: usize = 64 * 1024;

pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Extra header lines, each ending in CRLF.
    pub headers: String,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type, body: body.into(), headers: String::new() }
    }

    pub fn text(status: u16, body: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
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
    /// A malformed request: answer with this status and close.
    Bad(u16, &'static str),
}

/// Reads requests from one connection and answers them until either side closes.
pub async fn serve<F, Fut>(mut stream: TcpStream, mut handle: F)
where
    F: FnMut(Request) -> Fut,
    Fut: core::future::Future<Output = Response>,
{
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let req = match read_request(&mut stream, &mut buf).await {
            Ok(r) => r,
            Err(ReadError::Gone) => return,
            Err(ReadError::Bad(status, why)) => {
                let mut r = Response::text(status, why);
                r.body.extend_from_slice(b"\n");
                let _ = write_response(&mut stream, &r, false, false).await;
                return;
            }
        };
        let (keep_alive, head_only) = (req.keep_alive, req.method == "HEAD");
        let resp = handle(req).await;
        if write_response(&mut stream, &resp, keep_alive, head_only).await.is_err() || !keep_alive {
            return;
        }
    }
}

async fn write_response(
    stream: &mut TcpStream,
    r: &Response,
    keep_alive: bool,
    head_only: bool,
) -> Result<(), Error> {
    let mut out = alloc::format!(
        "HTTP/1.1 {} {}\r\nServer: app-example\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len(),
        r.headers,
        if keep_alive { "" } else { "Connection: close\r\n" },
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(&r.body);
    }
    stream.write_all(&out).await
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), ReadError> {
    let mut chunk = [0u8; 2048];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => Err(ReadError::Gone),
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
    }
}

async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Request, ReadError> {
    let head_len = loop {
        if let Some(end) = find_head_end(buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Bad(431, "request head too large"));
        }
        fill(stream, buf).await?;
    };
    let head = core::str::from_utf8(&buf[..head_len - 4])
        .map_err(|_| ReadError::Bad(400, "request head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400, "malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ReadError::Bad(400, "malformed method"));
    }
    if !path.starts_with('/') || path.bytes().any(|b| b.is_ascii_control()) {
        return Err(ReadError::Bad(400, "malformed request target"));
    }
    let mut keep_alive = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(ReadError::Bad(400, "unsupported HTTP version")),
    };
    let mut length = None;
    for h in lines {
        let Some((name, value)) = h.split_once(':') else {
            return Err(ReadError::Bad(400, "malformed header line"));
        };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(ReadError::Bad(400, "malformed header name"));
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value.parse().map_err(|_| ReadError::Bad(400, "bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(ReadError::Bad(400, "conflicting Content-Length"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ReadError::Bad(501, "Transfer-Encoding is not supported"));
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        }
    }
    let length = length.unwrap_or(0);
    if length > MAX_BODY {
        return Err(ReadError::Bad(413, "body too large"));
    }
    let (method, path) = (String::from(method), String::from(path));
    while buf.len() < head_len + length {
        fill(stream, buf).await?;
    }
    let body = buf[head_len..head_len + length].to_vec();
    buf.drain(..head_len + length);
    Ok(Request { method, path, body, keep_alive })
}
