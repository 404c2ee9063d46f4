//! The request head (request line and headers), parsed with `httparse`, and the framing
//! rules of this server: bodies by Content-Length only, limits on the head and the body.
//!
//! Pure (no `kernel`, no allocation), so that the fuzz crate includes it with `#[path]`.

/// Largest request head (request line + headers) and body we accept.
pub const MAX_HEAD: usize = 8 * 1024;
pub const MAX_BODY: usize = 64 * 1024;
/// Most header lines in one request; more is answered 431.
pub const MAX_HEADERS: usize = 48;

/// A complete request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Whether the connection stays open after the answer.
    pub keep_alive: bool,
    /// Bytes of the head, the blank line included: the body starts there.
    pub len: usize,
    /// The body's length (Content-Length, 0 without one); at most [`MAX_BODY`].
    pub body_len: usize,
}

/// Why a request is refused: the status and a short reason for the answer's body. The
/// connection is closed after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject {
    pub status: u16,
    pub why: &'static str,
}

const fn reject(status: u16, why: &'static str) -> Reject {
    Reject { status, why }
}

/// Parses the head at the start of `buf`: `Ok(None)` while it is incomplete (read more
/// and call again with the whole buffer).
pub fn parse(buf: &[u8]) -> Result<Option<Head<'_>>, Reject> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    // A head that has not ended within MAX_HEAD bytes is too large, however it goes on.
    let len = match req.parse(&buf[..buf.len().min(MAX_HEAD)]) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(reject(431, "request head too large"));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(reject(431, "too many headers")),
        Err(httparse::Error::Version) => return Err(reject(400, "unsupported HTTP version")),
        Err(httparse::Error::HeaderName | httparse::Error::HeaderValue) => {
            return Err(reject(400, "malformed header line"));
        }
        Err(_) => return Err(reject(400, "malformed request line")),
    };
    // Complete means httparse has all three; methods are upper case here (as before).
    let (Some(method), Some(path), Some(version)) = (req.method, req.path, req.version) else {
        return Err(reject(400, "malformed request line"));
    };
    if !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(reject(400, "malformed method"));
    }
    // Origin form only: no `*`, no absolute URIs (we are not a proxy).
    if !path.starts_with('/') {
        return Err(reject(400, "malformed request target"));
    }
    let mut keep_alive = version == 1;
    let mut length = None;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = content_length(h.value).ok_or(reject(400, "bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(reject(400, "conflicting Content-Length"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(reject(501, "Transfer-Encoding is not supported"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for option in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if option.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if option.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let body_len = length.unwrap_or(0);
    if body_len > MAX_BODY {
        return Err(reject(413, "body too large"));
    }
    Ok(Some(Head { method, path, keep_alive, len, body_len }))
}

/// A Content-Length value: decimal digits only (no sign, no list), without overflow.
fn content_length(value: &[u8]) -> Option<usize> {
    let digits = value.trim_ascii();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}
