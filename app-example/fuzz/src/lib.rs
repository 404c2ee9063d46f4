//! app-example's pure modules, included from its sources, with what the fuzz targets and
//! the unit tests share: an in-memory disk and a way to run the (never waiting) replay.

extern crate alloc;

#[path = "../../src/http/head.rs"]
pub mod head;
#[path = "../../src/kv/map.rs"]
pub mod map;
#[path = "../../src/kv/record.rs"]
pub mod record;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use record::{Cursor, Record, Replayed};

/// A disk image in memory; reads past its end fail.
pub struct Image<'a>(pub &'a [u8], pub usize);

#[derive(Debug, PartialEq, Eq)]
pub struct OutOfRange;

impl record::Sectors for Image<'_> {
    type Error = OutOfRange;

    async fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), OutOfRange> {
        let start = usize::try_from(sector).map_err(|_| OutOfRange)?.checked_mul(self.1);
        let end = start.and_then(|s| s.checked_add(buf.len())).ok_or(OutOfRange)?;
        buf.copy_from_slice(self.0.get(end - buf.len()..end).ok_or(OutOfRange)?);
        Ok(())
    }
}

/// Runs a future that never waits (the in-memory disk answers at once) to its end.
pub fn now<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("an in-memory replay waited"),
    }
}

/// Replays `image` as the store does at start-up, giving every record served to `apply`.
pub fn replay_image(
    image: &[u8],
    sector_size: usize,
    mut apply: impl FnMut(Record<'_>),
) -> (Replayed, Cursor) {
    let mut log = Cursor::new((image.len() / sector_size) as u64);
    let found = now(record::replay(&Image(image, sector_size), &mut log, sector_size, |r| {
        apply(r);
        Ok(())
    }));
    match found {
        Ok(found) => (found, log),
        Err(e) => panic!("replay of an in-memory image failed: {e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use head::{parse, Reject, MAX_BODY, MAX_HEAD};
    use record::Kind;

    fn status(req: &str) -> u16 {
        match parse(req.as_bytes()) {
            Ok(Some(_)) => 200,
            Ok(None) => 0,
            Err(Reject { status, .. }) => status,
        }
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        let ka = |req: &str| parse(req.as_bytes()).unwrap().unwrap().keep_alive;
        assert!(ka("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.0\r\n\r\n"));
        assert!(ka("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.1\r\nconnection: Upgrade, Close\r\n\r\n"));
    }

    #[test]
    fn a_head_and_its_body_are_framed() {
        let req = b"PUT /kv/a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n";
        let h = parse(req).unwrap().unwrap();
        assert_eq!((h.method, h.path, h.body_len), ("PUT", "/kv/a", 5));
        assert_eq!(&req[h.len..h.len + h.body_len], b"hello");
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        assert_eq!(parse(b""), Ok(None));
    }

    #[test]
    fn what_is_refused() {
        assert_eq!(status("GET / HTTP/1.1 extra\r\n\r\n"), 400);
        assert_eq!(status("get / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET * HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET http://x/ HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/2.0\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nno colon\r\n\r\n"), 400);
        assert_eq!(status("PUT / HTTP/1.1\r\nContent-Length: +5\r\n\r\n"), 400);
        assert_eq!(status("PUT / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n"), 400);
        assert_eq!(status("PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"), 400);
        let twice =
            |a, b| format!("PUT / HTTP/1.1\r\nContent-Length: {a}\r\nContent-Length: {b}\r\n\r\n");
        assert_eq!(status(&twice(5, 6)), 400);
        assert_eq!(status(&twice(5, 5)), 200);
        assert_eq!(status(&format!("PUT / HTTP/1.1\r\nContent-Length: {MAX_BODY}\r\n\r\n")), 200);
        let over = MAX_BODY + 1;
        assert_eq!(status(&format!("PUT / HTTP/1.1\r\nContent-Length: {over}\r\n\r\n")), 413);
        assert_eq!(status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
    }

    #[test]
    fn too_large_heads_are_431() {
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD));
        assert_eq!(status(&long), 431);
        assert_eq!(status(&long[..MAX_HEAD - 1]), 0);
        let many: String = (0..head::MAX_HEADERS + 1).map(|i| format!("H{i}: v\r\n")).collect();
        assert_eq!(status(&format!("GET / HTTP/1.1\r\n{many}\r\n")), 431);
    }

    /// An image of `sectors` sectors holding `ops` as the store writes them.
    fn image(ss: usize, sectors: u64, ops: &[(Kind, &str, &[u8])]) -> (Vec<u8>, Vec<u64>) {
        let mut img = record::superblock(ss).unwrap();
        img.resize(sectors as usize * ss, 0);
        let mut log = record::Cursor::new(sectors);
        let mut starts = Vec::new();
        for &(kind, key, value) in ops {
            let n = log.fits(key.len(), value.len(), ss).unwrap();
            let rec = record::encode(log.seq, kind, key.as_bytes(), value, ss).unwrap();
            let at = log.tail as usize * ss;
            img[at..at + rec.len()].copy_from_slice(&rec);
            starts.push(log.tail);
            log.appended(n);
        }
        (img, starts)
    }

    fn served(img: &[u8], ss: usize) -> (Vec<(Kind, String, Vec<u8>)>, Replayed) {
        let mut got = Vec::new();
        let (found, _) =
            replay_image(img, ss, |r| got.push((r.kind, r.key.to_string(), r.value.to_vec())));
        (got, found)
    }

    #[test]
    fn crc32_is_zlibs() {
        assert_eq!(record::crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
        assert_eq!(record::crc32(&[record::SUPER_MAGIC]), 0x66C6_C7C2);
    }

    #[test]
    fn records_written_are_replayed() {
        let big = vec![7u8; 3000];
        let ops = [(Kind::Put, "a", &b"one"[..]), (Kind::Put, "b", &big), (Kind::Delete, "a", &[])];
        let (img, starts) = image(512, 64, &ops);
        assert!(record::is_superblock(&img[..512]));
        assert_eq!(starts, [1, 2, 8]); // 24 + 1 + 3000 bytes: 6 sectors
        let (got, found) = served(&img, 512);
        assert_eq!(found, Replayed { records: 3, corrupt_at: None });
        assert_eq!(got[1], (Kind::Put, "b".to_string(), big.clone()));
        let (_, log) = replay_image(&img, 512, |_| {});
        assert_eq!((log.tail, log.seq), (9, 4));
    }

    #[test]
    fn a_corrupt_record_and_what_follows_are_not_served() {
        let ops =
            [(Kind::Put, "a", &b"one"[..]), (Kind::Put, "torn", b"value"), (Kind::Put, "c", b"3")];
        let (mut img, _) = image(512, 16, &ops);
        img[2 * 512 + 24 + 4] ^= 1; // a byte of the second record's value, as e2e kv does
        let (got, found) = served(&img, 512);
        assert_eq!(got.len(), 1);
        assert_eq!(found, Replayed { records: 1, corrupt_at: Some(2) });
        // A wrong sequence number is corrupt too (a stale record behind the log's end).
        let (mut img, _) = image(512, 16, &ops);
        img[3 * 512 + 4] = 9;
        assert_eq!(served(&img, 512).1, Replayed { records: 2, corrupt_at: Some(3) });
    }

    #[test]
    fn a_record_must_fit_before_the_disk_end() {
        let log = record::Cursor::new(4);
        assert_eq!(log.fits(1, 512, 512), Some(2)); // sectors 1-2, the end mark in 3
        assert_eq!(log.fits(1, 1024, 512), None);
        // A header announcing more sectors than the disk has is corrupt, and nothing is
        // read past the end.
        let (mut img, _) = image(512, 4, &[(Kind::Put, "k", &[1; 500])]);
        img[16..20].copy_from_slice(&[0; 4]);
        img[512 + 16..512 + 20].copy_from_slice(&60_000u32.to_le_bytes());
        assert_eq!(served(&img, 512).1, Replayed { records: 0, corrupt_at: Some(1) });
    }

    #[test]
    fn the_map_keeps_keys_sorted_and_unique() {
        let mut m = map::Map::new();
        for k in ["m", "a", "z", "a"] {
            m.insert_copy(k, k.as_bytes()).unwrap();
        }
        assert_eq!(m.len(), 3);
        m.insert("m".to_string(), b"new".to_vec()).unwrap();
        assert_eq!(m.get("m"), Some(&b"new"[..]));
        assert!(m.remove("a") && !m.remove("a") && !m.contains("a"));
        assert_eq!((m.get("z"), m.len()), (Some(&b"z"[..]), 2));
    }
}
