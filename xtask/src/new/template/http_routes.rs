//! What the service answers, as a function of the bytes a client sent: no kernel calls and
//! no allocation, so that it runs (and is tested) on the host and nothing a client sends can
//! make it fail. `GET /` is answered 200, any other well-formed request 404, a malformed
//! one 400, and a head longer than [`MAX_HEAD`] 431.

use core::fmt::{self, Write as _};

/// The longest request head read (request line and header fields).
pub const MAX_HEAD: usize = 2048;
/// Room for the longest response [`Answer::render`] writes.
pub const MAX_RESPONSE: usize = 256;

/// The page `GET /` gets.
pub const GREETING: &str = "Hello from {{name}}, a Rust unikernel on Xen!\n";

/// A response: its status and a short text body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: &'static str,
}

impl Answer {
    pub const OK: Answer = Answer {
        status: 200,
        body: GREETING,
    };
    pub const BAD_REQUEST: Answer = Answer {
        status: 400,
        body: "bad request\n",
    };
    pub const NOT_FOUND: Answer = Answer {
        status: 404,
        body: "not found\n",
    };
    pub const TOO_LARGE: Answer = Answer {
        status: 431,
        body: "request head too large\n",
    };

    pub fn reason(&self) -> &'static str {
        match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            431 => "Request Header Fields Too Large",
            _ => "",
        }
    }

    /// The whole response (status line, header fields, body) written into `out`, or `None`
    /// when it does not fit.
    pub fn render<'a>(&self, out: &'a mut [u8]) -> Option<&'a [u8]> {
        let mut w = Cursor { out, len: 0 };
        write!(
            w,
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            self.status,
            self.reason(),
            self.body.len(),
            self.body
        )
        .ok()?;
        let Cursor { out, len } = w;
        Some(&out[..len])
    }
}

/// The answer to the bytes received so far, or `None` while the request head is not
/// complete (the caller reads more). Never `None` once `received` holds [`MAX_HEAD`] bytes.
pub fn answer(received: &[u8]) -> Option<Answer> {
    match head_len(received) {
        Some(len) if len <= MAX_HEAD => Some(route(&received[..len])),
        Some(_) => Some(Answer::TOO_LARGE),
        None if received.len() >= MAX_HEAD => Some(Answer::TOO_LARGE),
        None => None,
    }
}

/// The length of the head, up to its empty line: CRLF CRLF, or bare LFs, which a server may
/// accept (RFC 9112, 2.2).
fn head_len(b: &[u8]) -> Option<usize> {
    let end = b.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    match (end, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn route(head: &[u8]) -> Answer {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some((method, target)) = request_line(line) else {
        return Answer::BAD_REQUEST;
    };
    // The path, without the query.
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    match (method, path) {
        (b"GET", b"/") => Answer::OK,
        _ => Answer::NOT_FOUND,
    }
}

/// `METHOD SP TARGET SP HTTP/1.x` (RFC 9112, 3): the method and the target, which must be
/// in origin form (a path).
fn request_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut parts = line.split(|&b| b == b' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let token = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    let well_formed = parts.next().is_none()
        && !method.is_empty()
        && method.iter().all(token)
        && target.starts_with(b"/")
        && target.iter().all(u8::is_ascii_graphic)
        && matches!(version, b"HTTP/1.0" | b"HTTP/1.1");
    well_formed.then_some((method, target))
}

/// Writes into a byte slice; fails instead of growing.
struct Cursor<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.out
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(request: &str) -> Option<Answer> {
        answer(request.as_bytes())
    }

    #[test]
    fn get_root_is_the_greeting() {
        assert_eq!(get("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Some(Answer::OK));
        assert_eq!(get("GET /?lang=en HTTP/1.0\r\n\r\n"), Some(Answer::OK));
        assert_eq!(get("GET / HTTP/1.1\n\n"), Some(Answer::OK));
    }

    #[test]
    fn anything_else_is_not_found() {
        for request in [
            "GET /other HTTP/1.1\r\n\r\n",
            "POST / HTTP/1.1\r\n\r\n",
            "get / HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(get(request), Some(Answer::NOT_FOUND), "{request:?}");
        }
    }

    #[test]
    fn malformed_requests_are_bad() {
        for request in [
            "\r\n\r\n",
            "GET\r\n\r\n",
            "GET /\r\n\r\n",
            "GET / HTTP/2\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 extra\r\n\r\n",
            "GET http://host/ HTTP/1.1\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET /\u{e9} HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(get(request), Some(Answer::BAD_REQUEST), "{request:?}");
        }
        assert_eq!(
            answer(b"GET /\xff HTTP/1.1\r\n\r\n"),
            Some(Answer::BAD_REQUEST)
        );
    }

    /// Byte by byte, no answer until the head is complete, then the answer to the whole.
    #[test]
    fn an_incomplete_head_waits_for_more() {
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for end in 0..request.len() {
            assert_eq!(answer(&request[..end]), None, "{end}");
        }
        assert_eq!(answer(request), Some(Answer::OK));
    }

    #[test]
    fn a_head_too_long_is_refused_once_the_buffer_is_full() {
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(MAX_HEAD - 1, b'a');
        assert_eq!(answer(&long), None);
        long.push(b'a');
        assert_eq!(answer(&long), Some(Answer::TOO_LARGE));
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(answer(&long), Some(Answer::TOO_LARGE));
    }

    #[test]
    fn responses_are_complete_and_fit() {
        let mut out = [0u8; MAX_RESPONSE];
        let text = Answer::NOT_FOUND.render(&mut out).unwrap();
        assert_eq!(
            text,
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\
              Content-Length: 10\r\nConnection: close\r\n\r\nnot found\n"
        );
        for a in [
            Answer::OK,
            Answer::BAD_REQUEST,
            Answer::NOT_FOUND,
            Answer::TOO_LARGE,
        ] {
            let text = a.render(&mut out).unwrap();
            let text = core::str::from_utf8(text).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(
                head.contains(&format!("Content-Length: {}", body.len())),
                "{head}"
            );
            assert!(!a.reason().is_empty());
        }
        assert_eq!(Answer::OK.render(&mut [0u8; 16]), None);
    }

    /// Every request of up to two arbitrary bytes after a valid start, or alone, is answered
    /// or waited for without a panic.
    #[test]
    fn no_input_panics() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let _ = answer(&[a, b]);
                let _ = answer(&[b"GET / HTTP/1.1\r\n".as_slice(), &[a, b, b'\n', b'\n']].concat());
            }
        }
    }
}
