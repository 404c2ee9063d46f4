//! A key-value store kept on a block device as an append-only log of checksummed records.
//!
//! Layout, in sectors of the disk's sector size:
//! - sector 0: the superblock, `KVSTORE1` and a CRC-32 of it;
//! - then records, each starting on a sector boundary (see [`record`]).
//!
//! At start-up the log is replayed until the first sector that does not hold a valid
//! record. A record whose checksum or sequence number is wrong is a torn or corrupt write:
//! it and everything after it is reported and ignored, never served, and new records
//! overwrite it. A PUT or DELETE returns only after its record is written and flushed, so
//! an acknowledged change survives the guest being destroyed.

mod map;
pub mod record;

use crate::mem::{self, NoMemory};
use alloc::vec::Vec;
use kernel::block::{self, Disk};
use map::Map;
use record::{Cursor, Kind, ReplayError};
pub use record::{MAX_KEY, MAX_VALUE};

#[derive(Debug)]
pub enum Error {
    Disk(block::Error),
    /// The log has reached the end of the disk.
    Full,
    /// Key empty or longer than MAX_KEY, value longer than MAX_VALUE.
    TooLarge,
    /// The heap could not hold the record or the key.
    NoMemory,
    /// The store was closed (the guest is stopping).
    Closed,
}

impl From<block::Error> for Error {
    fn from(e: block::Error) -> Self {
        Error::Disk(e)
    }
}

impl From<NoMemory> for Error {
    fn from(_: NoMemory) -> Self {
        Error::NoMemory
    }
}

impl From<alloc::collections::TryReserveError> for Error {
    fn from(_: alloc::collections::TryReserveError) -> Self {
        Error::NoMemory
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Disk(e) => write!(f, "disk: {e}"),
            Error::Full => f.write_str("the store's disk is full"),
            Error::TooLarge => f.write_str("key or value too large"),
            Error::NoMemory => f.write_str("out of memory"),
            Error::Closed => f.write_str("the store is closed"),
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

/// The disk, as the replay reads it.
struct Sectors<'a>(&'a Disk);

impl record::Sectors for Sectors<'_> {
    type Error = block::Error;

    async fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), block::Error> {
        self.0.read_at(sector * self.0.sector_size() as u64, buf).await
    }
}

pub struct Store {
    disk: Disk,
    map: Map,
    /// Where the next record goes, and its sequence number.
    log: Cursor,
    pub recovery: Recovery,
    closed: bool,
}

impl Store {
    /// Opens the store on `disk`, formatting it if it holds no superblock.
    pub async fn open(disk: Disk) -> Result<Store, Error> {
        let ss = disk.sector_size();
        let mut sector = record::zeroed(ss)?;
        disk.read_at(0, &mut sector).await?;
        let log = Cursor::new(disk.capacity() / ss as u64);
        let mut store =
            Store { disk, map: Map::new(), log, recovery: Recovery::default(), closed: false };
        if !record::is_superblock(&sector) {
            store.disk.write_at(0, &record::superblock(ss)?).await?;
            store.disk.flush().await?;
            store.recovery.formatted = true;
            return Ok(store);
        }
        store.replay().await?;
        Ok(store)
    }

    async fn replay(&mut self) -> Result<(), Error> {
        let ss = self.disk.sector_size();
        let map = &mut self.map;
        let found = record::replay(&Sectors(&self.disk), &mut self.log, ss, |r| match r.kind {
            Kind::Put => map.insert_copy(r.key, r.value),
            Kind::Delete => {
                map.remove(r.key);
                Ok(())
            }
        })
        .await
        .map_err(|e| match e {
            ReplayError::Disk(e) => Error::Disk(e),
            ReplayError::NoMemory => Error::NoMemory,
        })?;
        if let Some(at) = found.corrupt_at {
            log::error!(
                "kv: bad record at sector {at} (torn or corrupt write): it and anything after it are ignored"
            );
        }
        self.recovery.records = found.records;
        self.recovery.corrupt_at = found.corrupt_at;
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.map.get(key)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Stores `value` under `key`; durable when this returns.
    pub async fn put(&mut self, key: &str, value: Vec<u8>) -> Result<(), Error> {
        // Memory for the key first: once the record is on disk, the map must take it.
        let owned = mem::try_string(key)?;
        self.map.reserve()?;
        self.append(Kind::Put, key, &value).await?;
        self.map.insert(owned, value)?;
        Ok(())
    }

    /// Removes `key`; true if it was there. Durable when this returns.
    pub async fn delete(&mut self, key: &str) -> Result<bool, Error> {
        if !self.map.contains(key) {
            return Ok(false);
        }
        self.append(Kind::Delete, key, &[]).await?;
        self.map.remove(key);
        Ok(true)
    }

    /// Flushes the disk and refuses changes from here on (reads still work).
    pub async fn close(&mut self) -> Result<(), Error> {
        self.closed = true;
        self.disk.flush().await?;
        Ok(())
    }

    async fn append(&mut self, kind: Kind, key: &str, value: &[u8]) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        if key.is_empty() || key.len() > MAX_KEY || value.len() > MAX_VALUE {
            return Err(Error::TooLarge);
        }
        let ss = self.disk.sector_size();
        let n = self.log.fits(key.len(), value.len(), ss).ok_or(Error::Full)?;
        let rec = record::encode(self.log.seq, kind, key.as_bytes(), value, ss)?;
        self.disk.write_at(self.log.tail * ss as u64, &rec).await?;
        self.disk.flush().await?;
        self.log.appended(n);
        Ok(())
    }
}
