//! The guest under the toolstack's lifecycle commands (issue 14): `xl shutdown` and
//! `xl reboot` reach app-example, which finishes its work and closes its store before the
//! domain ends; an app that asks to be told and never finishes is ended by its grace period;
//! `xl pause` stops time for nobody: a sleep due while paused ends right after the unpause.
//! `xl save` and `xl restore` of app-example: it resumes in the new domain and serves on.

use super::{
    disk, dom0, dom0_figure, expect_console, expect_dom0, expect_end, Env, Test, SAME_DOMAIN,
};
use crate::rig::plan::{End, Guest, GuestResult, Step};
use anyhow::Result;

const IP: &str = "10.0.0.13";

/// "shutdown: rc 0 in SECONDS s" from `step`, with SECONDS at most `max`.
fn expect_shutdown_within(r: &GuestResult, step: &str, max: f64) -> Result<f64, String> {
    expect_dom0(r, step, 0, "shutdown: rc 0 in ")?;
    let out = &r.dom0[step].1;
    let secs: f64 = out
        .split("shutdown: rc 0 in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("dom0 step {step}: no time in {out:?}"))?;
    if secs > max {
        return Err(format!("dom0 step {step}: xl shutdown -w took {secs} s (at most {max})"));
    }
    Ok(secs)
}

/// `xl shutdown -w` within 10 s, the key PUT just before served by a new guest on the same
/// disk, `xl reboot` back to serving.
pub(super) fn shutdown(env: &Env) -> Result<Test> {
    let disk_file = env.scratch.join("lifecycle.img");
    std::fs::write(&disk_file, vec![0u8; 8 << 20])?;
    let name = "shutdown";
    let mut guest = Guest::ours(name, env.app, &format!("ip={IP}/24"));
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:13".into());
    guest.disks.push(disk(&disk_file));
    guest.shared_disks = true;
    // xl itself destroys it on poweroff and restarts it on reboot, as for a user.
    guest.own_actions = true;
    let cfg = format!("/work/cfg/{name}.cfg");
    let guest = guest
        .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
        .step(dom0("shutdown", include_str!("sh/shutdown.sh"), &[("IP", IP)]))
        .step(dom0("restart", include_str!("sh/restart-get.sh"), &[("IP", IP), ("CFG", &cfg)]))
        .step(dom0("reboot", include_str!("sh/reboot.sh"), &[("IP", IP), ("NAME", name)]))
        .step(dom0("stop", "timeout 30 xl shutdown -w shutdown", &[]))
        .step(Step::WaitEnd(30));
    Ok(Test::new(guest, move |r| {
        expect_dom0(r, "shutdown", 0, "201 Created")?;
        expect_shutdown_within(r, "shutdown", 10.0)?;
        expect_dom0(r, "shutdown", 0, "domain gone")?;
        expect_console(r, "app-example: Poweroff requested: finishing in-flight requests")?;
        expect_console(r, "app-example: kv store closed (1 keys)")?;
        expect_console(r, "app-example: stopped cleanly")?;
        expect_console(r, "main returned: powering off")?;
        expect_dom0(r, "restart", 0, "got: said just now")?;
        expect_dom0(r, "reboot", 0, "app-example: a Rust unikernel on Xen")?;
        expect_console(r, "main returned: rebooting, as the toolstack asked")?;
        expect_dom0(r, "stop", 0, "")?;
        let data = std::fs::read(&disk_file).map_err(|e| e.to_string())?;
        if !data.windows(13).any(|w| w == b"said just now") {
            return Err("the host's disk file lacks the key PUT before the shutdown".into());
        }
        Ok(())
    }))
}

/// An app that awaits the request and then never finishes: `xl shutdown -w` still returns,
/// after the grace period (3 s here).
pub(super) fn shutdown_grace(env: &Env) -> Test {
    let guest = Guest::ours("shutdown-grace", env.testapp, "test=ignore-shutdown shutdown_grace=3")
        .step(Step::WaitOutput("testapp: waiting for a shutdown request".into(), 90))
        .step(dom0("shutdown", include_str!("sh/shutdown-ignored.sh"), &[]))
        .step(Step::WaitEnd(30));
    Test::new(guest, |r| {
        let secs = expect_shutdown_within(r, "shutdown", 10.0)?;
        if secs < 2.5 {
            return Err(format!("ended after {secs} s, before its 3 s grace period"));
        }
        expect_console(r, "testapp: Poweroff requested; ignoring it")?;
        expect_console(r, "the app did not finish within 3 s: ending the domain")?;
        expect_end(r, End::Poweroff)
    })
}

/// `xl pause` for 5 s in the middle of a 2 s sleep, then `xl unpause`: the sleep ends at
/// once (its deadline passed while paused), the guest serves HTTP at once, and its clock
/// counted the pause.
pub(super) fn pause(env: &Env) -> Test {
    let ip = "10.0.0.14";
    let mut guest = Guest::ours("pause", env.testapp, &format!("test=pause ip={ip}/24"));
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:14".into());
    let guest = guest.step(Step::WaitOutput("testapp: vif0 has 10.0.0.14".into(), 90)).step(dom0(
        "pause",
        include_str!("sh/pause.sh"),
        &[("IP", ip)],
    ));
    Test::new(guest, |r| {
        let paused_after = dom0_figure(r, "pause", "paused-after")?;
        if paused_after > 1.5 {
            return Err(format!("paused {paused_after} s into the 2 s sleep: too late to test"));
        }
        let ended = dom0_figure(r, "pause", "ended-after")?;
        if !(0.0..=1.0).contains(&ended) {
            return Err(format!(
                "the sleep ended {ended:.2} s after the unpause (expected at once)"
            ));
        }
        expect_dom0(r, "pause", 0, "http-code 200")?;
        let http = dom0_figure(r, "pause", "http-after")?;
        if http > 2.0 {
            return Err(format!("the first HTTP answer took {http:.2} s after the unpause"));
        }
        // The guest's clock counted the 5 s paused.
        let line =
            r.console.lines().find(|l| l.contains("testapp: slept ")).ok_or("no sleep report")?;
        let ms: u64 = line
            .split_whitespace()
            .find_map(|w| w.parse().ok())
            .ok_or_else(|| format!("odd sleep report: {line}"))?;
        if !(4500..=9000).contains(&ms) {
            return Err(format!("the guest's clock says the paused sleep took {ms} ms"));
        }
        Ok(())
    })
}

/// `xl network-attach` gives the running app-example a second vif that gets a DHCP lease
/// and serves (TCP, and UDP on a socket bound before it came); `xl network-detach` takes it away again (a connection open on it is
/// aborted) while the first keeps serving.
pub(super) fn hotplug(env: &Env) -> Test {
    let ip = "10.0.0.15";
    let mut guest = Guest::ours("hotplug", env.app, &format!("ip={ip}/24"));
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:15".into());
    let vars = [("NAME", "hotplug"), ("MAC", "00:16:3e:00:00:1f"), ("IP", ip)];
    let guest = guest
        .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
        .step(dom0("vif", include_str!("sh/hotplug-vif.sh"), &vars))
        .step(dom0("after", SAME_DOMAIN, &[]));
    Test::new(guest, |r| {
        expect_dom0(r, "vif", 0, ": 200")?;
        expect_console(r, "app-example: vif1 added: serving HTTP there too")?;
        expect_console(r, "vif1: DHCP gave 10.0.0.")?;
        // app-example's UDP echo socket was bound at boot, on vif0 alone.
        expect_dom0(r, "vif", 0, "udp on the second vif: udp second")?;
        expect_dom0(r, "vif", 0, "after detach: 200")?;
        if r.dom0["vif"].1.contains("detach failed") {
            return Err(format!("xl network-detach failed:\n{}", r.dom0["vif"].1));
        }
        expect_console(r, "vif1: unplugged")?;
        // The connection held open on vif1 was aborted, and the app let go of it.
        let before = dom0_figure(r, "vif", "connections before detach:")?;
        let after = dom0_figure(r, "vif", "connections after detach:")?;
        if before != after + 1.0 {
            return Err(format!("TCP connections: {before} before the detach, {after} after"));
        }
        expect_dom0(r, "after", 0, "same domain")
    })
}

/// `xl block-attach` of a disk to a running testapp, which finds it through
/// `block::disk_added` and reads it; `xl block-detach` while it reads fails the reads with
/// an error, and the guest keeps serving HTTP.
pub(super) fn hotplug_blk(env: &Env) -> Test {
    let ip = "10.0.0.17";
    let mut guest =
        Guest::ours("hotplug-blk", env.testapp, &format!("test=hotplug-blk ip={ip}/24"));
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:17".into());
    let guest = guest
        .step(Step::WaitOutput("testapp: waiting for a disk".into(), 90))
        .step(dom0(
            "blk",
            include_str!("sh/hotplug-blk.sh"),
            &[("NAME", "hotplug-blk"), ("IP", ip)],
        ))
        .step(dom0("after", SAME_DOMAIN, &[]));
    let content: Vec<u8> = b"hotplug-disk\n".iter().copied().cycle().take(1 << 20).collect();
    let sum = format!("testapp: xvdb first MiB fnv1a {:016x}", super::blk::fnv1a(&content));
    Test::new(guest, move |r| {
        expect_console(r, &sum)?;
        if r.dom0.get("blk").is_some_and(|(_, o)| o.contains("detach failed")) {
            return Err(format!("xl block-detach failed:\n{}", r.dom0["blk"].1));
        }
        expect_console(r, "testapp: reading xvdb failed: disk disconnected")?;
        expect_console(r, "testapp: xvdb still listed: false")?;
        expect_dom0(r, "blk", 0, "after detach: 200")?;
        expect_dom0(r, "after", 0, "same domain")
    })
}

const SR_IP: &str = "10.0.0.14";

/// `xl save -c` (a checkpoint: the suspend returns in place) of app-example with a disk,
/// then `xl save` and `xl restore`: all return 0; the guest serves on after the
/// checkpoint, and the restored guest (a new domain) serves its status page and the key PUT
/// before the save.
pub(super) fn save_restore(env: &Env) -> Result<Test> {
    let disk_file = env.scratch.join("save-restore.img");
    std::fs::write(&disk_file, vec![0u8; 8 << 20])?;
    let name = "save-restore";
    let mut guest = Guest::ours(name, env.app, &format!("ip={SR_IP}/24"));
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:14".into());
    guest.disks.push(disk(&disk_file));
    guest.shared_disks = true;
    let guest = guest
        .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
        .step(dom0(
            "save-restore",
            include_str!("sh/save-restore.sh"),
            &[("IP", SR_IP), ("NAME", name)],
        ))
        .step(dom0("stop", "timeout 30 xl shutdown -w save-restore", &[]))
        .step(Step::WaitEnd(30));
    Ok(Test::new(guest, move |r| {
        expect_dom0(r, "save-restore", 0, "201 Created")?;
        expect_dom0(r, "save-restore", 0, "checkpoint: rc 0")?;
        expect_dom0(r, "save-restore", 0, "in place: app-example: a Rust unikernel on Xen")?;
        expect_console(r, "suspend cancelled: resuming in place")?;
        expect_dom0(r, "save-restore", 0, "save: rc 0")?;
        expect_dom0(r, "save-restore", 0, "restore: rc 0")?;
        expect_dom0(r, "save-restore", 0, "app-example: a Rust unikernel on Xen")?;
        expect_dom0(r, "save-restore", 0, "got: kept in save")?;
        expect_console(r, "toolstack asks for suspend")?;
        expect_console(r, "resumed in a new domain (resume 1)")?;
        expect_console(r, "vif0: connected to the backend after the resume")?;
        expect_console(r, "xvda: connected to the backend after the resume")?;
        // The restored guest still takes graceful requests: its watches were registered
        // again.
        expect_dom0(r, "stop", 0, "")?;
        expect_console(r, "app-example: stopped cleanly")?;
        expect_end(r, End::Poweroff)
    }))
}

const STREAM_IP: &str = "10.0.0.15";
/// Bytes the transfer across the save and restore carries.
const STREAM_BYTES: u64 = 8 << 20;

/// A TCP transfer from testapp to dom0 (read slowly) running across `xl save` and
/// `xl restore`: it arrives whole and byte-exact.
pub(super) fn save_restore_stream(env: &Env) -> Test {
    let name = "save-restore-stream";
    let cmdline = format!("test=net ip={STREAM_IP}/24 bench_bytes={STREAM_BYTES}");
    let mut guest = Guest::ours(name, env.testapp, &cmdline);
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:15".into());
    let bytes = STREAM_BYTES.to_string();
    let guest =
        guest.step(Step::WaitOutput(format!("testapp: vif0 has {STREAM_IP}"), 90)).step(dom0(
            "stream",
            include_str!("sh/save-restore-stream.sh"),
            &[("IP", STREAM_IP), ("NAME", name), ("BYTES", &bytes)],
        ));
    Test::new(guest, move |r| {
        expect_dom0(r, "stream", 0, "save: rc 0")?;
        expect_dom0(r, "stream", 0, "restore: rc 0")?;
        expect_dom0(r, "stream", 0, &format!("received {STREAM_BYTES} bytes, 0 not x"))?;
        expect_console(r, "resumed in a new domain (resume 1)")?;
        Ok(())
    })
}

/// MiB of the pattern `save-restore-disk` writes.
const DISK_MIB: usize = 32;

/// Byte `j` of MiB `m` of testapp's `blk-save` pattern.
fn blk_save_byte(m: usize, j: usize) -> u8 {
    (j.wrapping_mul(7) ^ m.wrapping_mul(131) ^ (j >> 9)) as u8
}

/// Disk writes running across `xl save` and `xl restore` (testapp's `blk-save`: 1 MiB
/// writes, each MiB once): the guest reads back what it wrote, and the host's disk file
/// holds exactly the pattern.
pub(super) fn save_restore_disk(env: &Env) -> Result<Test> {
    let disk_file = env.scratch.join("save-restore-disk.img");
    std::fs::write(&disk_file, vec![0u8; (DISK_MIB + 1) << 20])?;
    let cmdline = format!("test=blk-save bench_mib={DISK_MIB}");
    let mut guest = Guest::ours("save-restore-disk", env.testapp, &cmdline);
    guest.disks.push(disk(&disk_file));
    let guest = guest
        .step(Step::WaitOutput("testapp: writing the pattern".into(), 90))
        .step(dom0("save-restore", include_str!("sh/save-then-restore.sh"), &[]))
        .step(Step::WaitEnd(120));
    Ok(Test::new(guest, move |r| {
        expect_dom0(r, "save-restore", 0, "save: rc 0")?;
        expect_dom0(r, "save-restore", 0, "restore: rc 0")?;
        expect_console(r, "resumed in a new domain (resume 1)")?;
        expect_console(r, "xvda: connected to the backend after the resume")?;
        expect_console(
            r,
            &format!("pattern of {DISK_MIB} MiB written and flushed, 0 bytes differ, resumes 1"),
        )?;
        expect_end(r, End::Poweroff)?;
        let path = r.disks.get("xvda").ok_or("xvda did not come back")?;
        let data = std::fs::read(path).map_err(|e| e.to_string())?;
        for m in 0..DISK_MIB {
            let at = m << 20;
            if let Some(j) = (0..1 << 20).find(|&j| data[at + j] != blk_save_byte(m, j)) {
                return Err(format!("the disk file differs from the pattern at byte {}", at + j));
            }
        }
        if data[DISK_MIB << 20..].iter().any(|&b| b != 0) {
            return Err("the MiB after the pattern was written to".into());
        }
        Ok(())
    }))
}

const CYCLES_IP: &str = "10.0.0.16";
const CYCLES: u32 = 20;

/// 20 cycles of `xl save` and `xl restore` of app-example (a vif and a disk): it serves
/// after each, and the grants and event channels it holds after the last are those after
/// the first (VIRQ_DEBUG's report, and `kernel::lifecycle::stats` on /metrics): nothing
/// leaks per cycle; the counters say 20 suspends, 20 resumes, 40 device reconnects.
pub(super) fn save_restore_20(env: &Env) -> Result<Test> {
    let disk_file = env.scratch.join("save-restore-20.img");
    std::fs::write(&disk_file, vec![0u8; 8 << 20])?;
    let name = "save-restore-20";
    let mut guest = Guest::ours(name, env.app, &format!("ip={CYCLES_IP}/24"));
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:16".into());
    guest.disks.push(disk(&disk_file));
    let n = CYCLES.to_string();
    let guest = guest.step(Step::WaitOutput("app-example: serving HTTP".into(), 90)).step(dom0(
        "cycles",
        include_str!("sh/save-restore-cycles.sh"),
        &[("IP", CYCLES_IP), ("NAME", name), ("N", &n)],
    ));
    Ok(Test::new(guest, move |r| {
        expect_dom0(r, "cycles", 0, &format!("cycles: {CYCLES} of {CYCLES}"))?;
        expect_console(r, &format!("resumed in a new domain (resume {CYCLES})"))?;
        let last = |key: &str| dom0_figure(r, "cycles", &format!("cycle {CYCLES} {key}"));
        let n = f64::from(CYCLES);
        for (key, want) in [
            ("xen_suspends_total", n),
            ("xen_resumes_total", n),
            ("xen_suspends_cancelled_total", 0.0),
            ("xen_device_reconnects_total", 2.0 * n),
        ] {
            if last(key)? != want {
                return Err(format!(
                    "/metrics after cycle {CYCLES}: {key} {}, not {want}",
                    last(key)?
                ));
            }
        }
        for key in ["xen_grants_in_use", "xen_event_channels"] {
            let first = dom0_figure(r, "cycles", &format!("cycle 1 {key}"))?;
            if last(key)? != first {
                return Err(format!(
                    "/metrics: {key} {first} after cycle 1, {} after {CYCLES}",
                    last(key)?
                ));
            }
        }
        // "VIRQ_DEBUG: grant frames F/M, grants in use G, event channels E, stray events S"
        let reports: Vec<&str> = r
            .console
            .lines()
            .filter_map(|l| l.split("VIRQ_DEBUG: ").nth(1))
            .map(|l| l.split(", stray events").next().unwrap_or(l))
            .collect();
        match reports[..] {
            [first, .., last] if first == last => Ok(()),
            [first, .., last] => {
                Err(format!("after cycle 1: {first}; after cycle {CYCLES}: {last}"))
            }
            _ => Err(format!("{} VIRQ_DEBUG reports on the console, not 2", reports.len())),
        }
    }))
}

const MIGRATE_IP: &str = "10.0.0.17";

/// `xl migrate` of app-example (a vif and a disk) to the same host, its receiving end run
/// directly instead of through ssh: it returns 0, and the migrated guest (a new domain)
/// serves its status page and the key PUT before the migration.
pub(super) fn migrate(env: &Env) -> Result<Test> {
    let disk_file = env.scratch.join("migrate.img");
    std::fs::write(&disk_file, vec![0u8; 8 << 20])?;
    let name = "migrate";
    let mut guest = Guest::ours(name, env.app, &format!("ip={MIGRATE_IP}/24"));
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:17".into());
    guest.disks.push(disk(&disk_file));
    guest.shared_disks = true;
    let guest = guest.step(Step::WaitOutput("app-example: serving HTTP".into(), 90)).step(dom0(
        "migrate",
        include_str!("sh/migrate.sh"),
        &[("IP", MIGRATE_IP), ("NAME", name)],
    ));
    Ok(Test::new(guest, move |r| {
        expect_dom0(r, "migrate", 0, "201 Created")?;
        expect_dom0(r, "migrate", 0, "migrate: rc 0")?;
        expect_dom0(r, "migrate", 0, "app-example: a Rust unikernel on Xen")?;
        expect_dom0(r, "migrate", 0, "got: kept in flight")?;
        expect_dom0(r, "migrate", 0, "resumed in a new domain (resume 1)")?;
        Ok(())
    }))
}
