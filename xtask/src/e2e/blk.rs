//! Our disks: blkfront against Linux blkback, a read-only disk refusing writes, and what
//! the guest read and wrote checked against the host's files.

use super::{disk, expect_console, expect_end, Env, Test};
use crate::rig::plan::{Disk, End, Guest, Step};
use anyhow::Result;

/// FNV-1a, 64-bit, as testapp computes it.
pub(super) fn fnv1a(data: &[u8]) -> u64 {
    data.iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

pub(super) fn blk(env: &Env) -> Result<Test> {
    let disk_blk = env.pattern_disk("blk.img", 4)?;
    let disk_ro = env.pattern_disk("blk-ro.img", 1)?;
    let mut guest = Guest::ours("blk", env.testapp, "test=blk");
    guest.disks.push(disk(&disk_blk));
    guest.disks.push(Disk { vdev: "xvdb".into(), writable: false, ..disk(&disk_ro) });
    // The checksum the guest must print, of the disk file as it goes in.
    let expected_sum =
        format!("xvda first MiB fnv1a {:016x}", fnv1a(&std::fs::read(&disk_blk)?[..1 << 20]));
    Ok(Test::new(guest.step(Step::WaitEnd(90)), move |r| {
        expect_end(r, End::Poweroff)?;
        expect_console(r, "testapp: xvdb write refused: the disk is read-only")?;
        // Linux blkback offers multi-page rings, indirect requests and persistent grants.
        expect_console(r, "ring pages 4, indirect segments 256, persistent true")?;
        expect_console(r, "testapp: xvdb sector 1 starts 1")?;
        expect_console(r, "testapp: pattern written and flushed")?;
        expect_console(r, &expected_sum)?;
        let path = r.disks.get("xvda").ok_or("xvda did not come back")?;
        let data = std::fs::read(path).map_err(|e| e.to_string())?;
        let want: Vec<u8> = (0..1usize << 20).map(|i| (i * 31 + 7) as u8).collect();
        if data.get(1 << 20..2 << 20) != Some(&want[..]) {
            return Err("the disk file does not hold the pattern the guest wrote".into());
        }
        if data[512..520] != 1u64.to_le_bytes()
            || data[(2 << 20) + 512..(2 << 20) + 520] != ((2u64 << 20) / 512 + 1).to_le_bytes()
        {
            return Err("sectors outside the written range changed".into());
        }
        Ok(())
    }))
}
