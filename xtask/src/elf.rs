//! Just enough ELF64 reading to check a built image (its program headers and the Xen PVH
//! entry note) and the emulated machine's programs (the shared objects they need).

use anyhow::{bail, ensure, Result};

pub const PT_LOAD: u32 = 1;
pub const PT_DYNAMIC: u32 = 2;
pub const PT_NOTE: u32 = 4;
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;

#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub kind: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
}

fn u16_at(b: &[u8], o: usize) -> Result<u16> {
    Ok(u16::from_le_bytes(
        b.get(o..o + 2).ok_or_else(|| anyhow::anyhow!("truncated ELF"))?.try_into()?,
    ))
}
fn u32_at(b: &[u8], o: usize) -> Result<u32> {
    Ok(u32::from_le_bytes(
        b.get(o..o + 4).ok_or_else(|| anyhow::anyhow!("truncated ELF"))?.try_into()?,
    ))
}
fn u64_at(b: &[u8], o: usize) -> Result<u64> {
    Ok(u64::from_le_bytes(
        b.get(o..o + 8).ok_or_else(|| anyhow::anyhow!("truncated ELF"))?.try_into()?,
    ))
}

/// The program headers of a little-endian ELF64 file.
pub fn segments(b: &[u8]) -> Result<Vec<Segment>> {
    ensure!(b.starts_with(b"\x7fELF\x02\x01"), "not a little-endian ELF64 file");
    let phoff = u64_at(b, 0x20)? as usize;
    let phentsize = u16_at(b, 0x36)? as usize;
    let phnum = u16_at(b, 0x38)? as usize;
    (0..phnum)
        .map(|i| {
            let o = phoff + i * phentsize;
            Ok(Segment {
                kind: u32_at(b, o)?,
                flags: u32_at(b, o + 4)?,
                offset: u64_at(b, o + 8)?,
                vaddr: u64_at(b, o + 0x10)?,
                filesz: u64_at(b, o + 0x20)?,
            })
        })
        .collect()
}

/// Notes `(name, type, desc)` in the PT_NOTE segments.
pub fn notes(b: &[u8]) -> Result<Vec<(String, u32, Vec<u8>)>> {
    let align4 = |n: usize| n.next_multiple_of(4);
    let mut out = Vec::new();
    for s in segments(b)?.into_iter().filter(|s| s.kind == PT_NOTE) {
        let (mut o, end) = (s.offset as usize, (s.offset + s.filesz) as usize);
        while o + 12 <= end {
            let (namesz, descsz, kind) =
                (u32_at(b, o)? as usize, u32_at(b, o + 4)? as usize, u32_at(b, o + 8)?);
            let name_at = o + 12;
            let desc_at = name_at + align4(namesz);
            let Some(desc) = b.get(desc_at..desc_at + descsz) else {
                bail!("note runs past the file")
            };
            let name = String::from_utf8_lossy(&b[name_at..name_at + namesz])
                .trim_end_matches('\0')
                .to_string();
            out.push((name, kind, desc.to_vec()));
            o = desc_at + align4(descsz);
        }
    }
    Ok(out)
}

/// The drivers built into an image, from the runtime's `Unikernel` note (type 3, a u32
/// descriptor: bit 0 `net`, bit 1 `block`; kernel/src/arch/x86_64/boot.rs writes it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drivers {
    pub net: bool,
    pub block: bool,
}

impl std::fmt::Display for Drivers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match (self.net, self.block) {
            (true, true) => "net, block",
            (true, false) => "net",
            (false, true) => "block",
            (false, false) => "none",
        })
    }
}

/// Types 1 and 2 are the configuration schemas (kernel/src/xen/elfnote.rs).
pub const NOTE_DRIVERS: u32 = 3;

pub fn drivers(b: &[u8]) -> Result<Drivers> {
    let found: Vec<u32> = notes(b)?
        .into_iter()
        .filter(|(n, k, d)| n == "Unikernel" && *k == NOTE_DRIVERS && d.len() == 4)
        .map(|(_, _, d)| u32::from_le_bytes(d[..4].try_into().unwrap()))
        .collect();
    ensure!(found.len() == 1, "expected one Unikernel drivers note, found {}", found.len());
    let bits = found[0];
    ensure!(bits & !3 == 0, "unknown drivers {bits:#x} in the Unikernel note");
    Ok(Drivers { net: bits & 1 != 0, block: bits & 2 != 0 })
}

/// The `DT_NEEDED` entries of a dynamically linked ELF64 file (the shared objects the
/// loader must find); empty for a static one.
pub fn needed(b: &[u8]) -> Result<Vec<String>> {
    const DT_NEEDED: u64 = 1;
    const DT_STRTAB: u64 = 5;
    let segs = segments(b)?;
    let Some(dynamic) = segs.iter().find(|s| s.kind == PT_DYNAMIC) else { return Ok(vec![]) };
    let mut names = Vec::new();
    let mut strtab = None;
    let mut o = dynamic.offset as usize;
    while o + 16 <= (dynamic.offset + dynamic.filesz) as usize {
        let (tag, val) = (u64_at(b, o)?, u64_at(b, o + 8)?);
        match tag {
            0 => break,
            DT_NEEDED => names.push(val),
            DT_STRTAB => strtab = Some(val),
            _ => {}
        }
        o += 16;
    }
    let Some(strtab) = strtab else { bail!("dynamic section without a string table") };
    // DT_STRTAB is an address: find the file offset through the segment that loads it.
    let strtab = segs
        .iter()
        .find(|s| s.kind == PT_LOAD && (s.vaddr..s.vaddr + s.filesz).contains(&strtab))
        .map(|s| strtab - s.vaddr + s.offset)
        .ok_or_else(|| anyhow::anyhow!("string table outside the loaded segments"))?;
    names
        .into_iter()
        .map(|n| {
            let at = (strtab + n) as usize;
            let rest = b.get(at..).ok_or_else(|| anyhow::anyhow!("truncated ELF"))?;
            let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
            Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
        })
        .collect()
}

/// The image boots as PVH (a Xen PHYS32_ENTRY note equal to the ELF entry) and no segment
/// is both writable and executable.
pub fn check_image(b: &[u8]) -> Result<()> {
    let entry = u64_at(b, 0x18)?;
    let pvh: Vec<u32> = notes(b)?
        .into_iter()
        .filter(|(n, k, d)| n == "Xen" && *k == 0x12 && d.len() == 4)
        .map(|(_, _, d)| u32::from_le_bytes(d[..4].try_into().unwrap()))
        .collect();
    ensure!(pvh.len() == 1, "expected one Xen PHYS32_ENTRY (0x12) note, found {}", pvh.len());
    ensure!(u64::from(pvh[0]) == entry, "PVH entry {:#x} is not the ELF entry {entry:#x}", pvh[0]);
    for s in segments(b)?.iter().filter(|s| s.kind == PT_LOAD) {
        ensure!(
            s.flags & (PF_W | PF_X) != PF_W | PF_X,
            "a segment at file offset {:#x} is writable and executable",
            s.offset
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF64 header, one PT_LOAD with `load_flags` and one PT_NOTE holding a Xen note of
    /// type `note_type` with descriptor `desc`.
    fn image(load_flags: u32, note_type: u32, desc: u32, entry: u64) -> Vec<u8> {
        image_with(load_flags, "Xen", note_type, desc, entry)
    }

    /// The same with a note named `name` (of at most 11 bytes).
    fn image_with(load_flags: u32, name: &str, note_type: u32, desc: u32, entry: u64) -> Vec<u8> {
        let mut b = vec![0u8; 0x40 + 2 * 0x38];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[0x18..0x20].copy_from_slice(&entry.to_le_bytes());
        b[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        let note_off = b.len() as u64;
        let mut note = Vec::new();
        let namesz = name.len() as u32 + 1;
        for v in [namesz, 4, note_type] {
            note.extend_from_slice(&v.to_le_bytes());
        }
        note.extend_from_slice(name.as_bytes());
        note.resize(note.len() + (namesz as usize).next_multiple_of(4) - name.len(), 0);
        note.extend_from_slice(&desc.to_le_bytes());
        let ph = |b: &mut Vec<u8>, i: usize, kind: u32, flags: u32, off: u64, size: u64| {
            let o = 0x40 + i * 0x38;
            b[o..o + 4].copy_from_slice(&kind.to_le_bytes());
            b[o + 4..o + 8].copy_from_slice(&flags.to_le_bytes());
            b[o + 8..o + 16].copy_from_slice(&off.to_le_bytes());
            b[o + 0x20..o + 0x28].copy_from_slice(&size.to_le_bytes());
        };
        ph(&mut b, 0, PT_LOAD, load_flags, 0, 0x40);
        ph(&mut b, 1, PT_NOTE, 4, note_off, note.len() as u64);
        b.extend_from_slice(&note);
        b
    }

    #[test]
    fn needed_libraries_of_this_test_program() {
        // The test binary is a dynamically linked host program: it needs libc.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let libs = needed(&me).unwrap();
        assert!(libs.iter().any(|l| l.starts_with("libc.so")), "{libs:?}");
        // A static (or no-dynamic-section) file needs nothing.
        assert!(needed(&image(5, 0x12, 0x100000, 0x100000)).unwrap().is_empty());
    }

    #[test]
    fn a_pvh_image_with_separate_rights_passes() {
        check_image(&image(PF_X | 4, 0x12, 0x100000, 0x100000)).unwrap();
    }

    #[test]
    fn writable_and_executable_segments_are_refused() {
        let e = check_image(&image(PF_X | PF_W | 4, 0x12, 0x100000, 0x100000)).unwrap_err();
        assert!(e.to_string().contains("writable and executable"), "{e}");
    }

    #[test]
    fn a_missing_or_wrong_entry_note_is_refused() {
        assert!(check_image(&image(5, 0x11, 0x100000, 0x100000)).is_err());
        assert!(check_image(&image(5, 0x12, 0x200000, 0x100000)).is_err());
    }

    #[test]
    fn the_drivers_note_says_which_drivers_an_image_has() {
        let d = |bits| drivers(&image_with(5, "Unikernel", NOTE_DRIVERS, bits, 0x100000));
        assert_eq!(d(0).unwrap(), Drivers { net: false, block: false });
        assert_eq!(d(1).unwrap(), Drivers { net: true, block: false });
        assert_eq!(d(3).unwrap().to_string(), "net, block");
        assert!(d(4).is_err(), "an unknown driver bit is refused");
        // A Xen note is not a drivers note.
        assert!(drivers(&image(5, NOTE_DRIVERS, 1, 0x100000)).is_err());
    }
}
