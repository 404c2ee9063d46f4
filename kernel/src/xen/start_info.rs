//! `struct hvm_start_info` (arch-x86/hvm/start_info.h): what the PVH loader hands us in %ebx.
//! Copied into our own memory once, at boot, before anything can overwrite it.

use super::abi::{hvm_memmap_table_entry, hvm_start_info, XEN_HVM_START_MAGIC_VALUE};

pub const MAX_CMDLINE: usize = 2048;
pub const MAX_MEMMAP: usize = 128;

/// The loader's start-of-day information, copied and validated.
pub struct BootInfo {
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
    memmap: [hvm_memmap_table_entry; MAX_MEMMAP],
    memmap_len: usize,
    /// More memory map entries than we keep, or a command line longer than we keep.
    pub truncated: bool,
}

impl BootInfo {
    pub fn cmdline(&self) -> &str {
        let bytes = &self.cmdline[..self.cmdline_len];
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            // Keep the valid prefix; from_utf8 on it cannot fail.
            Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
        }
    }

    pub fn memmap(&self) -> &[hvm_memmap_table_entry] {
        &self.memmap[..self.memmap_len]
    }

    /// Copies the start info at `paddr`.
    ///
    /// # Safety
    /// `paddr` must be the address the PVH loader passed, and it and everything it points to
    /// must still be intact and mapped (the boot tables map the low 4 GiB, where loaders put it).
    pub unsafe fn read(paddr: u64) -> Result<BootInfo, super::Error> {
        // SAFETY: the caller guarantees the structure is mapped and intact; read_unaligned
        // because the loader promises no alignment.
        let si = unsafe { (paddr as *const hvm_start_info).read_unaligned() };
        if si.magic != XEN_HVM_START_MAGIC_VALUE {
            return Err(super::Error::BadStartInfo { magic: si.magic });
        }
        if si.version < 1 || si.memmap_paddr == 0 {
            return Err(super::Error::NoMemoryMap { version: si.version });
        }
        let mut info = BootInfo {
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
            memmap: [hvm_memmap_table_entry::default(); MAX_MEMMAP],
            memmap_len: 0,
            truncated: false,
        };
        if si.cmdline_paddr != 0 {
            let p = si.cmdline_paddr as *const u8;
            while info.cmdline_len < MAX_CMDLINE {
                // SAFETY: the command line is a NUL-terminated string the loader placed in
                // mapped memory; we stop at the NUL or our buffer's end.
                let b = unsafe { p.add(info.cmdline_len).read() };
                if b == 0 {
                    break;
                }
                info.cmdline[info.cmdline_len] = b;
                info.cmdline_len += 1;
            }
            info.truncated |= info.cmdline_len == MAX_CMDLINE;
        }
        let entries = si.memmap_entries as usize;
        info.truncated |= entries > MAX_MEMMAP;
        info.memmap_len = entries.min(MAX_MEMMAP);
        for i in 0..info.memmap_len {
            // SAFETY: the loader put `memmap_entries` entries at memmap_paddr; we read fewer.
            info.memmap[i] = unsafe {
                (si.memmap_paddr as *const hvm_memmap_table_entry).add(i).read_unaligned()
            };
        }
        Ok(info)
    }
}
