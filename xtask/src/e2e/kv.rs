//! app-example's key-value store on its disk: a PUT survives `xl destroy` and a new guest
//! on the disk serves it; a record corrupted on the disk is reported and never served.

use super::{disk, dom0, dom0_cmd, expect_console, expect_dom0, Env, Test};
use crate::rig::plan::{Guest, Step};
use anyhow::Result;

const IP: &str = "10.0.0.11";

pub(super) fn kv(env: &Env) -> Result<Test> {
    let disk_kv = env.scratch.join("kv.img");
    std::fs::write(&disk_kv, vec![0u8; 8 << 20])?;
    let mut guest = Guest::ours("kv", env.app, &format!("ip={IP}/24"));
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:11".into());
    guest.disks.push(disk(&disk_kv));
    // The host's file itself (as `cargo xtask run` gives an app its disks).
    guest.shared_disks = true;
    let cfg = "/work/cfg/kv.cfg";
    let guest = guest
        .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
        // For the test summary's figures: what bringing up a vif and a disk cost.
        .step(dom0_cmd(super::BOOT_COUNTS, &format!("curl -s -m 10 http://{IP}/metrics")))
        .step(dom0("put", include_str!("sh/kv-put.sh"), &[("IP", IP)]))
        .step(dom0("restart", include_str!("sh/kv-restart.sh"), &[("IP", IP), ("CFG", cfg)]))
        .step(dom0(
            "corrupt",
            include_str!("sh/kv-corrupt.sh"),
            &[("IP", IP), ("NAME", "kv"), ("CFG", cfg)],
        ));
    Ok(Test::new(guest, move |r| {
        expect_console(r, "kv store: 0 records replayed, 0 keys, disk formatted")?;
        expect_dom0(r, "put", 0, "201 Created")?;
        expect_dom0(r, "restart", 0, "got: kept across a destroy")?;
        expect_console(r, "kv store: 3 records replayed, 1 keys")?;
        expect_dom0(r, "corrupt", 0, "torn: HTTP/1.1 201 Created")?;
        expect_dom0(r, "corrupt", 0, "flipped byte 2076")?;
        expect_console(r, "kv store: 3 records replayed, 1 keys, CORRUPT record at sector 4")?;
        expect_dom0(r, "corrupt", 0, "disk /dev/rig-disk-")?;
        expect_dom0(r, "corrupt", 0, "after: 404 greeting: kept across a destroy")?;
        // The records are in the host's file, the torn one as dom0 left it.
        let data = std::fs::read(&disk_kv).map_err(|e| e.to_string())?;
        if !data.windows(21).any(|w| w == b"kept across a destroy") || data[2076] != b'X' {
            return Err("the host's disk file lacks the records".into());
        }
        Ok(())
    }))
}
