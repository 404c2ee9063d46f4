//! Guests that boot and end as they should: power off, reboot, or hang until destroyed;
//! and the xl files `cargo xtask xl` writes, parsed by the real xl.

use super::{dom0, expect_console, expect_dom0, expect_end, Env, Test};
use crate::rig::plan::{End, Guest, Step};

pub(super) fn hello(env: &Env) -> Test {
    let guest = Guest::ours("hello", env.app, "").step(Step::WaitEnd(90)).step(dom0(
        "xl-dry-run",
        include_str!("sh/xl-dry-run.sh"),
        &[],
    ));
    Test::new(guest, |r| {
        // Every xl file `cargo xtask xl` generated is accepted by the real xl.
        expect_dom0(r, "xl-dry-run", 0, "app-example")?;
        expect_dom0(r, "xl-dry-run", 0, r#"say \"hi\" \\o/"#)?;
        if r.dom0.get("xl-dry-run").is_some_and(|(_, o)| o.contains("FAILED")) {
            return Err(format!("xl refused a generated file:\n{}", r.dom0["xl-dry-run"].1));
        }
        expect_end(r, End::Poweroff)?;
        expect_console(r, "Hello from app-example")?;
        expect_console(r, "Xen 4.17, PVH guest")
    })
}

pub(super) fn reboot(env: &Env) -> Test {
    let guest = Guest::ours("reboot", env.testapp, "test=reboot").step(Step::WaitEnd(90));
    Test::new(guest, |r| expect_end(r, End::Reboot))
}

pub(super) fn hang(env: &Env) -> Test {
    let guest = Guest::ours("hang", env.testapp, "test=hang")
        .step(Step::WaitOutput("testapp: running hang".into(), 90))
        .step(Step::WaitEnd(10));
    Test::new(guest, |r| {
        expect_console(r, "testapp: running hang")?;
        expect_end(r, End::Timeout)
    })
}
