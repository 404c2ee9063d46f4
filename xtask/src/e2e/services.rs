//! Xen's services as a guest uses them: xenstore (reads, writes, transactions, watches),
//! the clock and timers as dom0 sees them, idling without CPU, grant tables.

use super::{dom0, dom0_cmd, dom0_figure, expect_console, expect_end, Env, Test};
use crate::rig::plan::{End, Guest, Step};

pub(super) fn services(env: &Env) -> Test {
    let guest = Guest::ours("services", env.testapp, "test=services")
        .step(Step::WaitOutput("testapp: watching data/test".into(), 120))
        .step(dom0_cmd("write", "xenstore-write /local/domain/$DOMID/data/test hello-from-dom0"))
        .step(Step::WaitOutput("= hello-from-dom0".into(), 60))
        .step(dom0("sleep", include_str!("sh/sleep-measure.sh"), &[]))
        .step(Step::WaitOutput("testapp: idle".into(), 60))
        .step(dom0("idle-cpu", include_str!("sh/idle-cpu.sh"), &[]));
    Test::new(guest, |r| {
        expect_console(r, "testapp: domid ")?;
        expect_console(r, " name services")?;
        expect_console(r, "testapp: missing key gives: xenstore error NoEnt")?;
        expect_console(r, "testapp: transaction read back in-transaction")?;
        expect_console(r, ",r0 dir ")?;
        expect_console(r, "written-by-guest")?;
        expect_console(r, "data/test = hello-from-dom0")?;
        let slept = dom0_figure(r, "sleep", "measured")?;
        if (slept - 2.0).abs() > 0.05 {
            return Err(format!("dom0 measured the guest's 2 s sleep as {slept:.3} s"));
        }
        let cpu = dom0_figure(r, "idle-cpu", "cpu")?;
        if cpu > 0.1 {
            return Err(format!("idle guest used {cpu:.1} s of CPU in 5 s"));
        }
        Ok(())
    })
}

pub(super) fn grants(env: &Env) -> Test {
    let guest = Guest::ours("grants", env.testapp, "test=grants").step(Step::WaitEnd(120));
    Test::new(guest, |r| {
        expect_end(r, End::Poweroff)?;
        // "granted N refs in F/M frames, then: grant references exhausted"
        let line =
            r.console.lines().find(|l| l.contains("testapp: granted ")).ok_or("no grant report")?;
        let nums: Vec<u64> =
            line.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
        let [n, frames, max] = nums[..] else {
            return Err(format!("odd grant report: {line}"));
        };
        if frames != max
            || max < 2
            || n != max * 512 - 8
            || !line.ends_with("grant references exhausted")
        {
            return Err(format!("grant table did not grow to its limit: {line}"));
        }
        expect_console(r, &format!("ended {n}, grant after ending: true"))
    })
}
