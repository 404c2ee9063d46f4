//! Guests that crash: a panic, a CPU exception, a triple fault. Each ends the domain as
//! crashed, with a report on its console (or, for the triple fault, in Xen's log).

use super::{expect_console, expect_end, Env, Test};
use crate::rig::plan::{End, Guest, Step};

/// The test that triple-faults on purpose (every other guest fails its test if it does).
pub(super) const TRIPLE_FAULT: &str = "triple-fault";

pub(super) fn panic(env: &Env) -> Test {
    let guest = Guest::ours("panic", env.testapp, "test=panic").step(Step::WaitEnd(90));
    Test::new(guest, |r| {
        expect_end(r, End::Crash)?;
        expect_console(r, "panic: testapp: deliberate panic at testapp/src/main.rs")
    })
}

pub(super) fn page_fault(env: &Env) -> Test {
    let guest = Guest::ours("page-fault", env.testapp, "test=page-fault").step(Step::WaitEnd(90));
    Test::new(guest, |r| {
        expect_end(r, End::Crash)?;
        expect_console(r, "page fault at address 0x00007eadbeef0000: not present, read")
    })
}

/// The harness's own check: a triple fault ends the guest as crashed and is reported.
pub(super) fn triple_fault(env: &Env) -> Test {
    let mut guest = Guest::ours(TRIPLE_FAULT, env.testapp, "test=triple-fault");
    guest.config.memory_mib = 8; // its RAM is kept with the results
    Test::new(guest.step(Step::WaitEnd(90)), |r| {
        expect_end(r, End::Crash)?;
        match r.triple_faults.first() {
            Some(line) if line.contains("Triple fault") => {}
            _ => return Err("no triple fault in Xen's log".into()),
        }
        // At least its 8 MiB (xl gives a PVH guest 1 MiB of slack above), with the image
        // where it was loaded (1 MiB).
        let ram = r.ram.as_ref().ok_or("its RAM was not kept")?;
        let ram = std::fs::read(ram).map_err(|e| e.to_string())?;
        if ram.len() < 8 << 20 || ram[1 << 20..(1 << 20) + 64].iter().all(|&b| b == 0) {
            return Err(format!("its RAM came back as {} bytes, without the image", ram.len()));
        }
        Ok(())
    })
}
