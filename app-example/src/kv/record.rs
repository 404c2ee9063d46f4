//! The store's on-disk format: the superblock and the log's records, encoded and decoded.
//!
//! Pure (no `kernel`): the replay at start-up is [`replay`] over the disk, and the fuzz
//! crate includes this file with `#[path]` to replay arbitrary disk images.
//!
//! A record starts on a sector boundary: a 24-byte header (magic `KVR1`, sequence number,
//! kind, a zero byte, key and value lengths, CRC-32 over the header's other fields, the key
//! and the value), the key, the value, zero padding to the sector end.

use alloc::collections::TryReserveError;
use alloc::vec::Vec;
use core::future::Future;

pub const SUPER_MAGIC: &[u8; 8] = b"KVSTORE1";
const RECORD_MAGIC: &[u8; 4] = b"KVR1";
pub const HEADER: usize = 24;
pub const MAX_KEY: usize = 256;
pub const MAX_VALUE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Put = 1,
    Delete = 2,
}

/// CRC-32 (IEEE 802.3, as zlib), a byte at a time: a replay checks every record on the
/// disk, and bit by bit that took seconds for a full disk under emulation.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = !0u32;
    for part in parts {
        for &b in *part {
            crc = CRC_TABLE[usize::from(crc as u8 ^ b)] ^ (crc >> 8);
        }
    }
    !crc
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = (c >> 1) ^ (0xEDB8_8320 & (c & 1).wrapping_neg());
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// Whether `sector` (sector 0) holds the store's superblock.
pub fn is_superblock(sector: &[u8]) -> bool {
    sector.len() >= 12
        && &sector[..8] == SUPER_MAGIC
        && sector[8..12] == crc32(&[SUPER_MAGIC]).to_le_bytes()
}

/// A new store's first two sectors: the superblock, and a zeroed sector that ends the
/// (empty) log.
pub fn superblock(sector_size: usize) -> Result<Vec<u8>, TryReserveError> {
    let mut s = zeroed(2 * sector_size)?;
    s[..8].copy_from_slice(SUPER_MAGIC);
    s[8..12].copy_from_slice(&crc32(&[SUPER_MAGIC]).to_le_bytes());
    Ok(s)
}

/// `len` zero bytes, or the allocation error.
pub fn zeroed(len: usize) -> Result<Vec<u8>, TryReserveError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)?;
    v.resize(len, 0);
    Ok(v)
}

/// Sectors a record of these lengths takes.
fn sectors(klen: usize, vlen: usize, sector_size: usize) -> u64 {
    (HEADER + klen + vlen).div_ceil(sector_size) as u64
}

/// The record, padded to whole sectors, then one zeroed sector more: it ends the log, so
/// that stale records left behind a corrupt one are never replayed as if they followed.
/// The key and value must be within [`MAX_KEY`] and [`MAX_VALUE`] (checked by the caller).
pub fn encode(
    seq: u64,
    kind: Kind,
    key: &[u8],
    value: &[u8],
    sector_size: usize,
) -> Result<Vec<u8>, TryReserveError> {
    let n = sectors(key.len(), value.len(), sector_size) as usize;
    let mut rec = zeroed((n + 1) * sector_size)?;
    rec[0..4].copy_from_slice(RECORD_MAGIC);
    rec[4..12].copy_from_slice(&seq.to_le_bytes());
    rec[12] = kind as u8;
    rec[14..16].copy_from_slice(&(key.len() as u16).to_le_bytes());
    rec[16..20].copy_from_slice(&(value.len() as u32).to_le_bytes());
    let crc = crc32(&[&rec[4..20], key, value]);
    rec[20..24].copy_from_slice(&crc.to_le_bytes());
    rec[HEADER..HEADER + key.len()].copy_from_slice(key);
    rec[HEADER + key.len()..HEADER + key.len() + value.len()].copy_from_slice(value);
    Ok(rec)
}

/// What a record's first sector announces, once found plausible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    klen: usize,
    vlen: usize,
    crc: u32,
    /// Sectors the record takes, its first included.
    pub sectors: u64,
}

/// One record, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The sector it starts at.
    pub at: u64,
    pub kind: Kind,
    pub key: &'a str,
    pub value: &'a [u8],
}

/// A torn or corrupt record: it and everything after it are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// Where the replay of a log is: the sector of the next record, and its sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub tail: u64,
    pub seq: u64,
    /// The disk's size in sectors.
    end: u64,
}

impl Cursor {
    /// At the first record of a log on a disk of `sectors` sectors.
    pub fn new(sectors: u64) -> Cursor {
        Cursor { tail: 1, seq: 1, end: sectors }
    }

    /// Whether the disk has a sector at the tail (else the log ends there).
    pub fn more(&self) -> bool {
        self.tail < self.end
    }

    /// Reads the header in `first`, the sector at the tail: `Ok(None)` where no record
    /// starts (the end of the log), `Err` where one starts that cannot be right.
    pub fn header(&self, first: &[u8]) -> Result<Option<Header>, Corrupt> {
        if first.len() < HEADER || &first[0..4] != RECORD_MAGIC {
            return Ok(None);
        }
        let seq = u64::from_le_bytes(first[4..12].try_into().unwrap_or_default());
        let kind = match first[12] {
            1 => Kind::Put,
            2 => Kind::Delete,
            _ => return Err(Corrupt),
        };
        let klen = usize::from(u16::from_le_bytes([first[14], first[15]]));
        let vlen = u32::from_le_bytes(first[16..20].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(first[20..24].try_into().unwrap_or_default());
        if seq != self.seq || !(1..=MAX_KEY).contains(&klen) || vlen > MAX_VALUE {
            return Err(Corrupt);
        }
        let sectors = sectors(klen, vlen, first.len());
        if sectors > self.end.saturating_sub(self.tail) {
            return Err(Corrupt);
        }
        Ok(Some(Header { kind, klen, vlen, crc, sectors }))
    }

    /// Checks the whole record `rec` (`h.sectors` sectors from the tail, `h` read from its
    /// first) and, if it is sound, moves past it.
    pub fn next<'a>(&mut self, h: &Header, rec: &'a [u8]) -> Result<Record<'a>, Corrupt> {
        let body = rec.get(HEADER..HEADER + h.klen + h.vlen).ok_or(Corrupt)?;
        let (key, value) = body.split_at(h.klen);
        if crc32(&[&rec[4..20], key, value]) != h.crc {
            return Err(Corrupt);
        }
        let key = core::str::from_utf8(key).map_err(|_| Corrupt)?;
        let at = self.tail;
        self.tail += h.sectors;
        self.seq += 1;
        Ok(Record { at, kind: h.kind, key, value })
    }

    /// Sectors [`encode`] writes for a record of these lengths before its end-of-log
    /// sector, or `None` if they and that sector do not fit before the disk's end.
    pub fn fits(&self, klen: usize, vlen: usize, sector_size: usize) -> Option<u64> {
        let n = sectors(klen, vlen, sector_size);
        (self.tail + n < self.end).then_some(n)
    }

    /// Moves past a record just appended (`sectors` long, from [`fits`](Self::fits)).
    pub fn appended(&mut self, sectors: u64) {
        self.tail += sectors;
        self.seq += 1;
    }
}

/// Whole sectors of the disk the log is on.
pub trait Sectors {
    type Error;
    /// Fills `buf` (whole sectors) from `sector` on.
    fn read(
        &self,
        sector: u64,
        buf: &mut [u8],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Why a replay stopped short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError<E> {
    Disk(E),
    NoMemory,
}

impl<E> From<TryReserveError> for ReplayError<E> {
    fn from(_: TryReserveError) -> Self {
        ReplayError::NoMemory
    }
}

/// What a replay found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    pub records: u64,
    /// The sector of a bad (torn or corrupt) record, where the log was cut.
    pub corrupt_at: Option<u64>,
}

/// Replays the log from `log` (a new cursor: sector 1) to its end or its first bad record,
/// giving every sound record to `apply` in order; `log` is left where the next record goes.
pub async fn replay<D: Sectors>(
    disk: &D,
    log: &mut Cursor,
    sector_size: usize,
    mut apply: impl FnMut(Record<'_>) -> Result<(), TryReserveError>,
) -> Result<Replayed, ReplayError<D::Error>> {
    let mut found = Replayed::default();
    let mut rec = zeroed(sector_size)?;
    while log.more() {
        rec.truncate(sector_size);
        disk.read(log.tail, &mut rec).await.map_err(ReplayError::Disk)?;
        let h = match log.header(&rec) {
            Ok(Some(h)) => h,
            Ok(None) => break, // the end of the log
            Err(Corrupt) => {
                found.corrupt_at = Some(log.tail);
                break;
            }
        };
        if h.sectors > 1 {
            let len = h.sectors as usize * sector_size;
            rec.try_reserve_exact(len - sector_size)?;
            rec.resize(len, 0);
            let rest = &mut rec[sector_size..];
            disk.read(log.tail + 1, rest).await.map_err(ReplayError::Disk)?;
        }
        match log.next(&h, &rec) {
            Ok(r) => apply(r)?,
            Err(Corrupt) => {
                found.corrupt_at = Some(log.tail);
                break;
            }
        }
        found.records += 1;
    }
    Ok(found)
}
