//! Our guest's devices as the toolstack sees them: two vifs and a disk connected (state 4)
//! whether or not the app uses them, and a vif unplugged while the guest runs.

use super::{backend_state, disk, dom0_cmd, expect_console, expect_dom0, Env, Test};
use crate::rig::plan::{Guest, Step};
use anyhow::Result;

pub(super) fn ours_devices(env: &Env) -> Result<Test> {
    let mut guest =
        Guest::ours("ours-devices", env.testapp, "test=net ip=10.0.0.3/24 ip_1=10.0.0.4/24");
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:03".into());
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:04".into());
    guest.disks.push(disk(&env.pattern_disk("ours.img", 16)?));
    let guest = guest
        .step(Step::WaitOutput("testapp: net services up".into(), 90))
        .step(backend_state("vif-state", "vif", "0"))
        .step(backend_state("vif1-state", "vif", "1"))
        .step(dom0_cmd("ping", "ping -c 2 -W 5 10.0.0.3 && ping -c 2 -W 5 10.0.0.4"))
        .step(backend_state("vbd-state", "vbd", "51712"))
        .step(dom0_cmd(
            "vbd-device",
            "xenstore-read /local/domain/0/backend/vbd/$DOMID/51712/physical-device",
        ))
        // Unplugging a vif: the guest must close its side so that xl's detach completes
        // (instead of timing out), end its grants, and keep the other vif working.
        .step(dom0_cmd("detach", "time xl network-detach $DOMID 1 && ping -c 2 -W 5 10.0.0.3"))
        .step(Step::WaitOutput("vif1: disconnected".into(), 30));
    Ok(Test::new(guest, |r| {
        expect_console(r, "testapp: vif1 has 10.0.0.4")?;
        expect_dom0(r, "vif-state", 0, "4")?;
        expect_dom0(r, "vif1-state", 0, "4")?;
        expect_dom0(r, "ping", 0, "2 packets received")?;
        expect_dom0(r, "vbd-state", 0, "4")?;
        expect_dom0(r, "vbd-device", 0, "7:")?;
        expect_dom0(r, "detach", 0, "2 packets received")?;
        if r.console.contains("leaking") {
            return Err("grants still mapped after the backend closed".into());
        }
        Ok(())
    }))
}
