//! A key-value store kept on a block device as an append-only log of checksummed records.
//!
//! Layout, in sectors of the disk's sector size:
//! - sector 0: the superblock, `KVSTORE1` and a CRC-32 of it;
//! - then records, each starting on a sector boundary: a 24-byte header (magic `KVR1`,
//!   sequence number, kind, key and value lengths, CRC-32 over the header's other fields,
//!   the key and the value), the key, the value, zero padding to the sector end.
//!
//! At start-up the log is replayed until the first sector that does not hold a valid
//! record. A record whose checksum or sequence number is wrong is a torn or corrupt write:
//! it and everything after it is reported and ignored, never served, and new records
//! overwrite it. A PUT or DELETE returns only after its record is written and flushed, so
//! an acknowledged change survives the guest being destroyed.

extern crate alloc;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use kernel::block::{self, Disk};

const SUPER_MAGIC: &[u8; 8] = b"KVSTORE1";
const RECORD_MAGIC: &[u8; 4] = b"KVR1";
const HEADER: usize = 24;
const PUT: u8 = 1;
const DELETE: u8 = 2;
pub const MAX_KEY: usize = 256;
pub const MAX_VALUE: usize = 64 * 1024;

/// CRC-32 (IEEE 802.3, as zlib), bitwise: records are small and written rarely.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = !0u32;
    for part in parts {
        for &b in *part {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
            }
        }
    }
    !crc
}

#[derive(Debug)]
pub enum Error {
    Disk(block::Error),
    /// The log has reached the end of the disk.
    Full,
    /// Key empty or longer than MAX_KEY, value longer than MAX_VALUE.
    TooLarge,
}

impl From<block::Error> for Error {
    fn from(e: block::Error) -> Self {
        Error::Disk(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Disk(e) => write!(f, "disk: {e}"),
            Error::Full => f.write_str("the store's disk is full"),
            Error::TooLarge => f.write_str("key or value too large"),
        }
    }
}

/// What the replay at start-up found.
#[derive(Debug, Default, Clone)]
pub struct Recovery {
    pub records: u64,
    /// The sector where a bad record (torn or corrupt) was found, if any.
    pub corrupt_at: Option<u64>,
    pub formatted: bool,
}

pub struct Store {
    disk: Disk,
    map: BTreeMap<String, Vec<u8>>,
    /// Next free sector and next sequence number.
    tail: u64,
    seq: u64,
    pub recovery: Recovery,
}

fn header(seq: u64, kind: u8, key: &[u8], value: &[u8]) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[0..4].copy_from_slice(RECORD_MAGIC);
    h[4..12].copy_from_slice(&seq.to_le_bytes());
    h[12] = kind;
    h[14..16].copy_from_slice(&(key.len() as u16).to_le_bytes());
    h[16..20].copy_from_slice(&(value.len() as u32).to_le_bytes());
    let crc = crc32(&[&h[4..20], key, value]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

impl Store {
    /// Opens the store on `disk`, formatting it if it holds no superblock.
    pub async fn open(disk: Disk) -> Result<Store, Error> {
        let ss = disk.sector_size();
        let mut sector = vec![0u8; ss];
        disk.read_at(0, &mut sector).await?;
        let mut store =
            Store { disk, map: BTreeMap::new(), tail: 1, seq: 1, recovery: Recovery::default() };
        let crc = crc32(&[&sector[..8]]).to_le_bytes();
        if &sector[..8] != SUPER_MAGIC || sector[8..12] != crc {
            let mut s = vec![0u8; ss];
            s[..8].copy_from_slice(SUPER_MAGIC);
            s[8..12].copy_from_slice(&crc32(&[SUPER_MAGIC]).to_le_bytes());
            // A zeroed second sector ends the (empty) log.
            s.extend_from_slice(&vec![0u8; ss]);
            store.disk.write_at(0, &s).await?;
            store.disk.flush().await?;
            store.recovery.formatted = true;
            return Ok(store);
        }
        store.replay().await?;
        Ok(store)
    }

    async fn replay(&mut self) -> Result<(), Error> {
        let ss = self.disk.sector_size() as u64;
        let sectors = self.disk.capacity() / ss;
        let mut first = vec![0u8; ss as usize];
        while self.tail < sectors {
            self.disk.read_at(self.tail * ss, &mut first).await?;
            if &first[0..4] != RECORD_MAGIC {
                return Ok(()); // the end of the log
            }
            let seq = u64::from_le_bytes(first[4..12].try_into().unwrap());
            let kind = first[12];
            let klen = u16::from_le_bytes([first[14], first[15]]) as usize;
            let vlen = u32::from_le_bytes(first[16..20].try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(first[20..24].try_into().unwrap());
            let len = (HEADER + klen + vlen) as u64;
            let n = len.div_ceil(ss);
            let plausible = seq == self.seq
                && (kind == PUT || kind == DELETE)
                && (1..=MAX_KEY).contains(&klen)
                && vlen <= MAX_VALUE
                && self.tail + n <= sectors;
            let mut rec = first.clone();
            if plausible && n > 1 {
                rec.resize((n * ss) as usize, 0);
                self.disk.read_at((self.tail + 1) * ss, &mut rec[ss as usize..]).await?;
            }
            let body = &rec[HEADER..];
            if !plausible
                || body.len() < klen + vlen
                || crc32(&[&rec[4..20], &body[..klen + vlen]]) != crc
            {
                log::error!(
                    "kv: bad record at sector {} (torn or corrupt write): it and anything after it are ignored",
                    self.tail
                );
                self.recovery.corrupt_at = Some(self.tail);
                return Ok(());
            }
            let Ok(key) = String::from_utf8(body[..klen].to_vec()) else {
                self.recovery.corrupt_at = Some(self.tail);
                return Ok(());
            };
            if kind == PUT {
                self.map.insert(key, body[klen..klen + vlen].to_vec());
            } else {
                self.map.remove(&key);
            }
            self.tail += n;
            self.seq += 1;
            self.recovery.records += 1;
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.map.get(key).map(|v| v.as_slice())
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Stores `value` under `key`; durable when this returns.
    pub async fn put(&mut self, key: &str, value: &[u8]) -> Result<(), Error> {
        self.append(PUT, key, value).await?;
        self.map.insert(key.into(), value.to_vec());
        Ok(())
    }

    /// Removes `key`; true if it was there. Durable when this returns.
    pub async fn delete(&mut self, key: &str) -> Result<bool, Error> {
        if !self.map.contains_key(key) {
            return Ok(false);
        }
        self.append(DELETE, key, &[]).await?;
        self.map.remove(key);
        Ok(true)
    }

    async fn append(&mut self, kind: u8, key: &str, value: &[u8]) -> Result<(), Error> {
        if key.is_empty() || key.len() > MAX_KEY || value.len() > MAX_VALUE {
            return Err(Error::TooLarge);
        }
        let ss = self.disk.sector_size() as u64;
        let mut rec = header(self.seq, kind, key.as_bytes(), value).to_vec();
        rec.extend_from_slice(key.as_bytes());
        rec.extend_from_slice(value);
        let n = (rec.len() as u64).div_ceil(ss);
        // One more zeroed sector ends the log, so that stale records left behind a
        // corrupt one are never replayed as if they followed.
        let end = self.tail + n + 1;
        if end > self.disk.capacity() / ss {
            return Err(Error::Full);
        }
        rec.resize(((n + 1) * ss) as usize, 0);
        self.disk.write_at(self.tail * ss, &rec).await?;
        self.disk.flush().await?;
        self.tail += n;
        self.seq += 1;
        Ok(())
    }
}
