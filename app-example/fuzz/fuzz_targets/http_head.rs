//! Whatever a client sends as a request head. The first byte picks the size of the pieces
//! the bytes arrive in (bits 0-4), a start for them (bits 5-6: none, or a request line and
//! the start of a header, so that the fuzzer spends its time past the request line) and
//! whether a long header line follows that start (bit 7: the head then ends near the
//! size limit, where the input decides which side). The bytes are parsed as the server
//! does (again each time a newline has arrived, or at the limit), and the outcome must be
//! that of parsing everything at once. Nothing may panic, and what is accepted must be
//! within the limits.
#![no_main]

use app_example_fuzz::head::{self, Head, MAX_BODY, MAX_HEAD};
use libfuzzer_sys::fuzz_target;

const STARTS: [&[u8]; 4] = [
    b"",
    b"GET / HTTP/1.1\r\n",
    b"PUT /kv/key HTTP/1.1\r\nContent-Length: ",
    b"GET /status HTTP/1.0\r\nConnection: ",
];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let piece = usize::from(flags & 0x1f) + 1;
    let mut stream = STARTS[usize::from(flags >> 5 & 3)].to_vec();
    if flags & 0x80 != 0 {
        stream.extend_from_slice(b"X-Pad: ");
        stream.resize(MAX_HEAD - 64, b'a');
        stream.extend_from_slice(b"\r\n");
    }
    stream.extend_from_slice(rest);
    let stream = &stream[..];
    let whole = head::parse(stream);
    if let Ok(Some(h)) = &whole {
        check(stream, h);
    }
    if let Err(r) = &whole {
        assert!(matches!(r.status, 400 | 413 | 431 | 501), "{r:?}");
    }
    // Piece by piece, as read_request does.
    let mut buf = Vec::new();
    let mut scanned = 0;
    for chunk in stream.chunks(piece) {
        buf.extend_from_slice(chunk);
        if !(buf[scanned..].contains(&b'\n') || buf.len() >= MAX_HEAD) {
            scanned = buf.len();
            continue;
        }
        scanned = buf.len();
        match head::parse(&buf) {
            Ok(None) => assert!(buf.len() < MAX_HEAD, "an incomplete head past the limit"),
            got => {
                assert_eq!(got, whole, "pieces of {piece} bytes change the outcome");
                return;
            }
        }
    }
    // Everything arrived without an outcome (the last pieces had no newline): the stream
    // holds no complete head, and the server waits for more or for the limit.
    assert!(!matches!(whole, Ok(Some(_))), "a complete head was missed: {whole:?}");
});

fn check(stream: &[u8], h: &Head<'_>) {
    assert!(h.len <= stream.len() && h.len <= MAX_HEAD, "head length {}", h.len);
    assert!(h.body_len <= MAX_BODY, "body length {}", h.body_len);
    assert!(stream[..h.len].ends_with(b"\n"), "a head that does not end a line");
    assert!(h.path.starts_with('/'), "target {:?}", h.path);
    assert!(!h.method.is_empty() && h.method.bytes().all(|b| b.is_ascii_uppercase()));
    // Both are pieces of the head itself.
    let within = |s: &str| {
        let range = stream[..h.len].as_ptr_range();
        range.contains(&s.as_ptr()) && s.as_ptr() as usize + s.len() <= range.end as usize
    };
    assert!(within(h.method) && within(h.path));
}
