//! The xenstore wire protocol (`io/xs_wire.h`): messages of a 16-byte header (`struct
//! xsd_sockmsg`: type, request id, transaction id, payload length) and a payload of at most
//! 4096 bytes, carried over two 1 KiB byte rings in a page shared with xenstored.
//!
//! Replies are reassembled from whatever bytes the ring holds ([`Reassembler`]) and then
//! classified ([`Response`]); nothing is trusted: lengths, types, strings and error names are
//! checked and a bad stream gives a [`WireError`], never a panic.

use crate::byte_ring::{Corrupt, Layout};
use crate::le::{put_u32, u32_at};
use crate::shmem::SharedMem;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

pub const RING_SIZE: u32 = 1024;
pub const PAYLOAD_MAX: usize = 4096;
pub const HEADER_SIZE: usize = 16;
/// Offsets in `struct xenstore_domain_interface`.
pub const OFF_REQ: usize = 0;
pub const OFF_RSP: usize = 1024;
pub const OFF_REQ_CONS: usize = 2048;
pub const OFF_REQ_PROD: usize = 2052;
pub const OFF_RSP_CONS: usize = 2056;
pub const OFF_RSP_PROD: usize = 2060;
pub const INTERFACE_SIZE: usize = 2076;

pub const REQ: Layout =
    Layout { data: OFF_REQ, size: RING_SIZE, cons: OFF_REQ_CONS, prod: OFF_REQ_PROD };
pub const RSP: Layout =
    Layout { data: OFF_RSP, size: RING_SIZE, cons: OFF_RSP_CONS, prod: OFF_RSP_PROD };

/// Message types (`enum xsd_sockmsg_type`).
pub mod kind {
    pub const DIRECTORY: u32 = 1;
    pub const READ: u32 = 2;
    pub const GET_PERMS: u32 = 3;
    pub const WATCH: u32 = 4;
    pub const UNWATCH: u32 = 5;
    pub const TRANSACTION_START: u32 = 6;
    pub const TRANSACTION_END: u32 = 7;
    pub const GET_DOMAIN_PATH: u32 = 10;
    pub const WRITE: u32 = 11;
    pub const MKDIR: u32 = 12;
    pub const RM: u32 = 13;
    pub const SET_PERMS: u32 = 14;
    pub const WATCH_EVENT: u32 = 15;
    pub const ERROR: u32 = 16;
}

/// Why a message stream or a message cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// A header announced more than [`PAYLOAD_MAX`] bytes.
    Oversized(u32),
    /// The ring's indices are impossible.
    Ring(Corrupt),
    /// A payload that should hold strings does not (not NUL-separated, not UTF-8).
    BadPayload(u32),
    /// A request larger than the protocol allows.
    RequestTooLarge(usize),
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WireError::Oversized(n) => {
                write!(f, "xenstore message of {n} bytes (max {PAYLOAD_MAX})")
            }
            WireError::Ring(c) => write!(f, "xenstore {c}"),
            WireError::BadPayload(k) => {
                write!(f, "malformed payload in xenstore message of type {k}")
            }
            WireError::RequestTooLarge(n) => {
                write!(f, "xenstore request of {n} bytes (max {PAYLOAD_MAX})")
            }
        }
    }
}

impl core::error::Error for WireError {}

/// Errors xenstored reports by name (`xsd_errors` in xs_wire.h).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XsError {
    Inval,
    Acces,
    Exist,
    IsDir,
    NoEnt,
    NoMem,
    NoSpc,
    Io,
    NotEmpty,
    NoSys,
    Rofs,
    Busy,
    Again,
    IsConn,
    TooBig,
    Perm,
    /// A name we do not know.
    Other(String),
}

impl XsError {
    pub fn from_name(name: &str) -> XsError {
        match name {
            "EINVAL" => XsError::Inval,
            "EACCES" => XsError::Acces,
            "EEXIST" => XsError::Exist,
            "EISDIR" => XsError::IsDir,
            "ENOENT" => XsError::NoEnt,
            "ENOMEM" => XsError::NoMem,
            "ENOSPC" => XsError::NoSpc,
            "EIO" => XsError::Io,
            "ENOTEMPTY" => XsError::NotEmpty,
            "ENOSYS" => XsError::NoSys,
            "EROFS" => XsError::Rofs,
            "EBUSY" => XsError::Busy,
            "EAGAIN" => XsError::Again,
            "EISCONN" => XsError::IsConn,
            "E2BIG" => XsError::TooBig,
            "EPERM" => XsError::Perm,
            other => XsError::Other(other.to_string()),
        }
    }
}

impl core::fmt::Display for XsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            XsError::Other(s) => write!(f, "xenstore error {s:?}"),
            e => write!(f, "xenstore error {e:?}"),
        }
    }
}

impl core::error::Error for XsError {}

/// The fixed header of every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: u32,
    pub req_id: u32,
    pub tx_id: u32,
    pub len: u32,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0; HEADER_SIZE];
        for (i, v) in [self.kind, self.req_id, self.tx_id, self.len].into_iter().enumerate() {
            put_u32(&mut b, i * 4, v);
        }
        b
    }

    pub fn decode(b: &[u8; HEADER_SIZE]) -> Result<Header, WireError> {
        let word = |i: usize| u32_at(b, i * 4);
        let h = Header { kind: word(0), req_id: word(1), tx_id: word(2), len: word(3) };
        if h.len as usize > PAYLOAD_MAX {
            return Err(WireError::Oversized(h.len));
        }
        Ok(h)
    }
}

/// A whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub body: Vec<u8>,
}

/// Builds a request: header and `payload`.
pub fn request(kind: u32, req_id: u32, tx_id: u32, payload: &[u8]) -> Result<Vec<u8>, WireError> {
    if payload.len() > PAYLOAD_MAX {
        return Err(WireError::RequestTooLarge(payload.len()));
    }
    let h = Header { kind, req_id, tx_id, len: payload.len() as u32 };
    let mut v = Vec::with_capacity(HEADER_SIZE + payload.len());
    v.extend_from_slice(&h.encode());
    v.extend_from_slice(payload);
    Ok(v)
}

/// `a\0b\0...`: the payload of most requests.
pub fn nul_terminated(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    for p in parts {
        v.extend_from_slice(p);
        v.push(0);
    }
    v
}

/// Collects bytes from the response ring and cuts them into messages.
#[derive(Debug, Default)]
pub struct Reassembler {
    buf: Vec<u8>,
}

impl Reassembler {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, if the bytes for one have arrived. After an error the
    /// stream cannot be resynchronised; the caller drops the connection state.
    pub fn next_message(&mut self) -> Result<Option<Message>, WireError> {
        let Some(head) = self.buf.first_chunk::<HEADER_SIZE>() else { return Ok(None) };
        let header = match Header::decode(head) {
            Ok(h) => h,
            Err(e) => {
                self.buf.clear();
                return Err(e);
            }
        };
        let total = HEADER_SIZE + header.len as usize;
        if self.buf.len() < total {
            return Ok(None);
        }
        let body = self.buf[HEADER_SIZE..total].to_vec();
        self.buf.drain(..total);
        Ok(Some(Message { header, body }))
    }

    /// Moves what the response ring holds into the reassembler, advancing `cons`.
    pub fn fill_from<M: SharedMem>(&mut self, mem: &M, cons: &mut u32) -> Result<usize, WireError> {
        let mut chunk = [0u8; RING_SIZE as usize];
        let n = RSP.consume(mem, cons, &mut chunk).map_err(WireError::Ring)?;
        self.feed(&chunk[..n]);
        Ok(n)
    }
}

/// What a message from xenstored means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The answer to request `req_id`: its payload, or the error xenstored named.
    Reply { req_id: u32, result: Result<Vec<u8>, XsError> },
    /// A watch fired: `path` changed; `token` says which watch.
    WatchEvent { path: String, token: String },
}

/// Splits a payload of NUL-terminated UTF-8 strings (a trailing NUL is optional).
pub fn strings(body: &[u8]) -> Option<Vec<&str>> {
    let body = body.strip_suffix(&[0]).unwrap_or(body);
    if body.is_empty() {
        return Some(Vec::new());
    }
    body.split(|&b| b == 0).map(|s| core::str::from_utf8(s).ok()).collect()
}

impl Response {
    pub fn classify(msg: Message) -> Result<Response, WireError> {
        let k = msg.header.kind;
        match k {
            kind::WATCH_EVENT => match strings(&msg.body).as_deref() {
                Some([path, token]) => {
                    Ok(Response::WatchEvent { path: path.to_string(), token: token.to_string() })
                }
                _ => Err(WireError::BadPayload(k)),
            },
            kind::ERROR => match strings(&msg.body).as_deref() {
                Some([name]) => Ok(Response::Reply {
                    req_id: msg.header.req_id,
                    result: Err(XsError::from_name(name)),
                }),
                _ => Err(WireError::BadPayload(k)),
            },
            _ => Ok(Response::Reply { req_id: msg.header.req_id, result: Ok(msg.body) }),
        }
    }
}

/// A reply's payload, or the error xenstored answered.
pub type Reply = Result<Vec<u8>, XsError>;

/// Client-side bookkeeping: request ids handed out and not yet answered, replies waiting
/// to be taken, watch events queued by token. A reply nobody asked for (unknown or
/// repeated id) is dropped and counted, never stored.
///
/// Plain vectors searched in order, not maps: a guest has a few requests in flight and a
/// few watches (one per device and service), and each map type compiled in costs an image
/// about 4.5 KB of B-tree code (these four were 18 KB of a 136 KB hello image).
#[derive(Debug, Default)]
pub struct Router {
    next_id: u32,
    /// Requests sent, by id: `None` until the reply comes, then the reply until taken.
    requests: Vec<(u32, Option<Reply>)>,
    /// The watches we take events for, by token, with their events not yet taken.
    watches: Vec<(String, VecDeque<String>)>,
    /// Replies for ids we were not waiting for.
    pub unexpected: u64,
}

/// Events kept per watch before the oldest are dropped (a watch nobody reads).
pub const MAX_QUEUED_EVENTS: usize = 256;

impl Router {
    pub fn new() -> Self {
        Router { next_id: 1, ..Self::default() }
    }

    /// A fresh request id, remembered as outstanding.
    pub fn start_request(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        if !self.requests.iter().any(|(i, _)| *i == id) {
            self.requests.push((id, None));
        }
        id
    }

    /// Files a message from xenstored.
    pub fn route(&mut self, msg: Message) -> Result<(), WireError> {
        match Response::classify(msg)? {
            Response::Reply { req_id, result } => {
                match self.requests.iter_mut().find(|(i, r)| *i == req_id && r.is_none()) {
                    Some((_, r)) => *r = Some(result),
                    None => self.unexpected += 1,
                }
            }
            Response::WatchEvent { path, token } => {
                match self.watches.iter_mut().find(|(t, _)| *t == token) {
                    Some((_, q)) => {
                        if q.len() == MAX_QUEUED_EVENTS {
                            q.pop_front();
                        }
                        q.push_back(path);
                    }
                    None => self.unexpected += 1,
                }
            }
        }
        Ok(())
    }

    /// Requests sent (or being sent) whose reply has not come.
    pub fn in_flight(&self) -> usize {
        self.requests.iter().filter(|(_, r)| r.is_none()).count()
    }

    /// The reply to `req_id`, once it has come.
    pub fn take_reply(&mut self, req_id: u32) -> Option<Reply> {
        let at = self.requests.iter().position(|(i, r)| *i == req_id && r.is_some())?;
        self.requests.swap_remove(at).1
    }

    /// Gives up on `req_id` (its waiter went away); a late reply will count as unexpected.
    pub fn abandon(&mut self, req_id: u32) {
        self.requests.retain(|(i, _)| *i != req_id);
    }

    /// Starts accepting events for `token`.
    pub fn add_watch(&mut self, token: &str) {
        if !self.watches.iter().any(|(t, _)| t == token) {
            self.watches.push((token.to_string(), VecDeque::new()));
        }
    }

    /// Stops accepting events for `token` and drops those queued.
    pub fn remove_watch(&mut self, token: &str) {
        self.watches.retain(|(t, _)| t != token);
    }

    /// The next path that changed under `token`.
    pub fn take_event(&mut self, token: &str) -> Option<String> {
        self.watches.iter_mut().find(|(t, _)| t == token).and_then(|(_, q)| q.pop_front())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shmem::testing::TestMem;
    use alloc::vec;

    fn msg(kind: u32, req_id: u32, body: &[u8]) -> Vec<u8> {
        request(kind, req_id, 0, body).unwrap()
    }

    #[test]
    fn messages_split_anywhere_are_reassembled() {
        let mut stream = msg(kind::READ, 7, b"hello");
        stream.extend(msg(kind::WATCH_EVENT, 0, b"/a/b\0tok\0"));
        for cut in 0..stream.len() {
            let mut r = Reassembler::new();
            r.feed(&stream[..cut]);
            let mut got = vec![];
            while let Some(m) = r.next_message().unwrap() {
                got.push(m);
            }
            r.feed(&stream[cut..]);
            while let Some(m) = r.next_message().unwrap() {
                got.push(m);
            }
            assert_eq!(got.len(), 2, "cut at {cut}");
            assert_eq!(got[0].body, b"hello");
            assert_eq!(
                Response::classify(got[1].clone()).unwrap(),
                Response::WatchEvent { path: "/a/b".into(), token: "tok".into() }
            );
        }
    }

    #[test]
    fn oversized_lengths_are_errors() {
        let mut r = Reassembler::new();
        let h = Header { kind: kind::READ, req_id: 1, tx_id: 0, len: 4097 };
        r.feed(&h.encode());
        assert_eq!(r.next_message(), Err(WireError::Oversized(4097)));
        assert_eq!(r.next_message(), Ok(None));
        assert_eq!(request(kind::WRITE, 1, 0, &[0; 4097]), Err(WireError::RequestTooLarge(4097)));
    }

    #[test]
    fn errors_are_typed_and_bad_payloads_refused() {
        let m = |k, b: &[u8]| Message {
            header: Header { kind: k, req_id: 3, tx_id: 0, len: b.len() as u32 },
            body: b.to_vec(),
        };
        assert_eq!(
            Response::classify(m(kind::ERROR, b"ENOENT\0")).unwrap(),
            Response::Reply { req_id: 3, result: Err(XsError::NoEnt) }
        );
        assert_eq!(
            Response::classify(m(kind::ERROR, b"EWHAT\0")).unwrap(),
            Response::Reply { req_id: 3, result: Err(XsError::Other("EWHAT".into())) }
        );
        assert!(Response::classify(m(kind::WATCH_EVENT, b"only-path\0")).is_err());
        assert!(Response::classify(m(kind::WATCH_EVENT, b"\xff\xfe\0tok\0")).is_err());
        assert!(Response::classify(m(kind::ERROR, b"A\0B\0")).is_err());
    }

    #[test]
    fn directory_payloads_split_into_names() {
        assert_eq!(strings(b"a\0bb\0c\0"), Some(vec!["a", "bb", "c"]));
        assert_eq!(strings(b""), Some(vec![]));
        assert_eq!(strings(b"\xff\0"), None);
    }

    #[test]
    fn requests_travel_through_the_ring_and_replies_back() {
        let mem = TestMem::new(4096);
        let mut prod = 0;
        let req = msg(kind::READ, 1, b"domid\0");
        assert_eq!(REQ.produce(&mem, &mut prod, &req).unwrap(), req.len());
        let mut out = vec![0; req.len()];
        mem.read(OFF_REQ, &mut out);
        assert_eq!(out, req);
        // The "daemon" answers into the response ring.
        let reply = msg(kind::READ, 1, b"5");
        let mut dprod = 0;
        RSP.produce(&mem, &mut dprod, &reply).unwrap();
        let (mut r, mut cons) = (Reassembler::new(), 0);
        r.fill_from(&mem, &mut cons).unwrap();
        assert_eq!(r.next_message().unwrap().unwrap().body, b"5");
        assert_eq!(mem.load_u32(OFF_RSP_CONS), cons);
    }

    #[test]
    fn a_producer_running_ahead_is_an_error() {
        let mem = TestMem::new(4096);
        mem.store_u32(OFF_RSP_PROD, RING_SIZE + 1);
        let (mut r, mut cons) = (Reassembler::new(), 0);
        assert!(matches!(r.fill_from(&mem, &mut cons), Err(WireError::Ring(_))));
    }

    fn reply(req_id: u32, body: &[u8]) -> Message {
        Message {
            header: Header { kind: kind::READ, req_id, tx_id: 0, len: body.len() as u32 },
            body: body.to_vec(),
        }
    }

    #[test]
    fn replies_reach_their_request_and_strays_are_counted() {
        let mut r = Router::new();
        let a = r.start_request();
        let b = r.start_request();
        assert_ne!(a, b);
        r.route(reply(b, b"B")).unwrap();
        r.route(reply(999, b"stray")).unwrap();
        r.route(reply(b, b"again")).unwrap();
        assert_eq!(r.unexpected, 2);
        assert_eq!(r.take_reply(a), None);
        assert_eq!(r.take_reply(b), Some(Ok(b"B".to_vec())));
        r.abandon(a);
        r.route(reply(a, b"late")).unwrap();
        assert_eq!(r.take_reply(a), None);
        assert_eq!(r.unexpected, 3);
    }

    #[test]
    fn watch_events_go_to_their_token_only() {
        let mut r = Router::new();
        r.add_watch("w1");
        let ev = |p: &str, t: &str| {
            let body = nul_terminated(&[p.as_bytes(), t.as_bytes()]);
            Message {
                header: Header {
                    kind: kind::WATCH_EVENT,
                    req_id: 0,
                    tx_id: 0,
                    len: body.len() as u32,
                },
                body,
            }
        };
        r.route(ev("data/a", "w1")).unwrap();
        r.route(ev("data/b", "w2")).unwrap();
        assert_eq!(r.take_event("w1").as_deref(), Some("data/a"));
        assert_eq!(r.take_event("w1"), None);
        assert_eq!(r.take_event("w2"), None);
        assert_eq!(r.unexpected, 1);
        for i in 0..MAX_QUEUED_EVENTS + 10 {
            r.route(ev(&std::format!("p{i}"), "w1")).unwrap();
        }
        assert_eq!(r.take_event("w1").as_deref(), Some("p10"));
        r.remove_watch("w1");
        assert_eq!(r.take_event("w1"), None);
    }

    /// Random byte streams (a deterministic xorshift, a million of them, short) never panic
    /// the reassembler or the classifier. The coverage-guided fuzz target is fuzz/.
    #[test]
    fn random_streams_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200_000 {
            let len = (next() % 64) as usize;
            let mut data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if next() % 2 == 0 && data.len() >= 16 {
                // Plausible headers reach the body paths.
                data[12..16].copy_from_slice(&((next() % 48) as u32).to_le_bytes());
                data[0..4].copy_from_slice(&((next() % 18) as u32).to_le_bytes());
            }
            let mut r = Reassembler::new();
            r.feed(&data);
            let mut router = Router::new();
            router.add_watch("w1");
            router.start_request();
            while let Ok(Some(m)) = r.next_message() {
                let _ = router.route(m);
            }
        }
    }
}
