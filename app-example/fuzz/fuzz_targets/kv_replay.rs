//! The key-value log's replay at start-up, over whatever a disk holds. The first byte
//! picks the sector size and the mode:
//! - raw: the rest is the disk image; every record served must check out against the
//!   image's own bytes (magic, sequence, CRC) and none may be read past the disk's end;
//! - written: the rest describes PUTs and DELETEs, written as the store writes them, then
//!   one byte of the image is changed (a torn or corrupt write); the replay must serve
//!   exactly the records before the one that byte belongs to, and the map must hold what
//!   they say.
//!
//! Nothing may panic.
#![no_main]

use app_example_fuzz::map::Map;
use app_example_fuzz::record::{self, crc32, Cursor, Kind, Record, HEADER};
use app_example_fuzz::replay_image;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let ss = if mode & 2 == 0 { 512 } else { 4096 };
    if mode & 1 == 0 {
        raw(rest, ss);
    } else {
        written(rest, ss);
    }
});

fn raw(image: &[u8], ss: usize) {
    let mut seq = 1;
    let mut next_at = 1;
    let (found, log) = replay_image(image, ss, |r| {
        assert_eq!(r.at, next_at, "records are contiguous");
        let start = r.at as usize * ss;
        let h = &image[start..start + HEADER];
        assert_eq!(&h[..4], b"KVR1");
        assert_eq!(u64::from_le_bytes(h[4..12].try_into().unwrap()), seq);
        let stored = u32::from_le_bytes(h[20..24].try_into().unwrap());
        assert_eq!(crc32(&[&h[4..20], r.key.as_bytes(), r.value]), stored, "served a bad CRC");
        let body = &image[start + HEADER..start + HEADER + r.key.len() + r.value.len()];
        assert_eq!(body, [r.key.as_bytes(), r.value].concat(), "served other bytes");
        seq += 1;
        next_at += (HEADER + r.key.len() + r.value.len()).div_ceil(ss) as u64;
    });
    assert_eq!(found.records, seq - 1);
    assert_eq!((log.tail, log.seq), (next_at, seq));
    assert!(found.corrupt_at.is_none_or(|at| at == log.tail));
}

/// One change to the store, as the written mode reads it from the input.
#[derive(Debug, Clone)]
struct Op {
    kind: Kind,
    key: String,
    value: Vec<u8>,
}

/// Ops from the input: per op a byte (bit 0: delete; the rest: key length - 1, keys over a
/// small alphabet so that they repeat), two bytes of value length, then the key's and the
/// value's bytes cycled from what follows.
fn ops(mut input: &[u8]) -> (Vec<Op>, &[u8]) {
    let mut ops = Vec::new();
    while let [k, l0, l1, tail @ ..] = input {
        let klen = usize::from(k >> 1) % 8 + 1;
        let vlen = usize::from(u16::from_le_bytes([*l0, *l1])) % 1500;
        let fill = |n: usize, salt: u8| -> Vec<u8> {
            (0..n)
                .map(|i| tail.get(i % tail.len().max(1)).copied().unwrap_or(salt) ^ salt)
                .collect()
        };
        let key = fill(klen, 0).iter().map(|b| char::from(b'a' + b % 4)).collect();
        let kind = if k & 1 == 1 { Kind::Delete } else { Kind::Put };
        let value = if kind == Kind::Put { fill(vlen, 0x5a) } else { Vec::new() };
        ops.push(Op { kind, key, value });
        input = tail.get(1..).unwrap_or_default();
        if ops.len() == 8 {
            break;
        }
    }
    (ops, input)
}

fn written(input: &[u8], ss: usize) {
    let (ops, rest) = ops(input);
    let [f0, f1, f2, x, spare, ..] = *rest else { return };
    // The disk: the superblock, the records, their end sector, a few spare sectors.
    let sectors = 2 + ops.iter().map(|o| sectors_of(o, ss)).sum::<u64>() + u64::from(spare % 4);
    let mut image = record::superblock(ss).unwrap();
    image.resize(sectors as usize * ss, 0);
    let mut log = Cursor::new(sectors);
    let mut starts = Vec::new();
    for o in &ops {
        let n = log.fits(o.key.len(), o.value.len(), ss).expect("the disk was sized to fit");
        let rec = record::encode(log.seq, o.kind, o.key.as_bytes(), &o.value, ss).unwrap();
        assert_eq!(rec.len() as u64, (n + 1) * ss as u64);
        let at = log.tail as usize * ss;
        image[at..at + rec.len()].copy_from_slice(&rec);
        starts.push(at..at + HEADER + o.key.len() + o.value.len());
        log.appended(n);
    }
    // One byte changed: the first record that holds it, and every one after, are lost.
    let offset = u32::from_le_bytes([f0, f1, f2, 0]) as usize % image.len();
    let hit = starts.iter().position(|r| r.contains(&offset)).unwrap_or(ops.len());
    if x != 0 {
        image[offset] ^= x;
    } else {
        // No change: every record must come back.
        return check(&image, ss, &ops, ops.len());
    }
    // A byte of sector 0 is the superblock's; replay does not read it.
    let hit = if offset < ss { ops.len() } else { hit };
    check(&image, ss, &ops, hit);
}

fn check(image: &[u8], ss: usize, ops: &[Op], served: usize) {
    let mut got = Vec::new();
    let mut map = Map::new();
    let (found, _) = replay_image(image, ss, |r: Record<'_>| {
        got.push((r.kind, r.key.to_string(), r.value.to_vec()));
        match r.kind {
            Kind::Put => map.insert_copy(r.key, r.value).unwrap(),
            Kind::Delete => {
                map.remove(r.key);
            }
        }
    });
    let want: Vec<_> =
        ops[..served].iter().map(|o| (o.kind, o.key.clone(), o.value.clone())).collect();
    assert_eq!(got, want, "served other records than those written before the damage");
    assert_eq!(found.records, served as u64);
    let mut model = BTreeMap::new();
    for o in &ops[..served] {
        match o.kind {
            Kind::Put => {
                model.insert(o.key.as_str(), o.value.as_slice());
            }
            Kind::Delete => {
                model.remove(o.key.as_str());
            }
        }
    }
    assert_eq!(map.len(), model.len());
    for (k, v) in model {
        assert_eq!(map.get(k), Some(v));
    }
}

fn sectors_of(o: &Op, ss: usize) -> u64 {
    (HEADER + o.key.len() + o.value.len()).div_ceil(ss) as u64
}
