//! The guest under the toolstack's lifecycle commands (issue 14): `xl shutdown` and
//! `xl reboot` reach app-example, which finishes its work and closes its store before the
//! domain ends; an app that asks to be told and never finishes is ended by its grace period;
//! `xl pause` stops time for nobody: a sleep due while paused ends right after the unpause.

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
/// and serves; `xl network-detach` takes it away again while the first keeps serving.
pub(super) fn hotplug(env: &Env) -> Test {
    let ip = "10.0.0.15";
    let mut guest = Guest::ours("hotplug", env.app, &format!("ip={ip}/24 ip1=10.0.0.16/24"));
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:15".into());
    let vars =
        [("NAME", "hotplug"), ("MAC", "00:16:3e:00:00:1f"), ("IP", ip), ("ADDR", "10.0.0.16")];
    let guest = guest
        .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
        .step(dom0("vif", include_str!("sh/hotplug-vif.sh"), &vars))
        .step(dom0("after", SAME_DOMAIN, &[]));
    Test::new(guest, |r| {
        expect_dom0(r, "vif", 0, ": 200")?;
        expect_console(r, "app-example: vif1 added: serving HTTP there too")?;
        expect_dom0(r, "vif", 0, "after detach: 200")?;
        if r.dom0["vif"].1.contains("detach failed") {
            return Err(format!("xl network-detach failed:\n{}", r.dom0["vif"].1));
        }
        expect_console(r, "vif1: unplugged")?;
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
