//! The store's keys and values in memory: a vector sorted by key, so that every
//! allocation (a new slot, a key's copy) can fail cleanly instead of panicking, as a
//! `BTreeMap`'s node allocations cannot.
//!
//! Pure (no `kernel`): the fuzz crate includes it with `#[path]`.

use alloc::collections::TryReserveError;
use alloc::string::String;
use alloc::vec::Vec;

#[derive(Debug, Default)]
pub struct Map {
    entries: Vec<(String, Vec<u8>)>,
}

impl Map {
    pub const fn new() -> Map {
        Map { entries: Vec::new() }
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.find(key).ok().map(|i| self.entries[i].1.as_slice())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    #[allow(clippy::len_without_is_empty)] // only ever counted
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Makes room for one more key, so that the next [`insert`](Self::insert) cannot fail.
    pub fn reserve(&mut self) -> Result<(), TryReserveError> {
        self.entries.try_reserve(1)
    }

    /// Sets `key` to `value`; fails, changing nothing, if memory is short.
    pub fn insert(&mut self, key: String, value: Vec<u8>) -> Result<(), TryReserveError> {
        match self.find(&key) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => {
                self.entries.try_reserve(1)?;
                self.entries.insert(i, (key, value));
            }
        }
        Ok(())
    }

    /// Sets `key` to a copy of `value`; fails, changing nothing, if memory is short.
    pub fn insert_copy(&mut self, key: &str, value: &[u8]) -> Result<(), TryReserveError> {
        let mut k = String::new();
        k.try_reserve_exact(key.len())?;
        k.push_str(key);
        let mut v = Vec::new();
        v.try_reserve_exact(value.len())?;
        v.extend_from_slice(value);
        self.insert(k, v)
    }

    /// Removes `key`; true if it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        match self.find(key) {
            Ok(i) => {
                self.entries.remove(i);
                true
            }
            Err(_) => false,
        }
    }
}
