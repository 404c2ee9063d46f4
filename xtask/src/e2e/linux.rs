//! The Linux PVH yardstick guest on the same bridge and the same kinds of disk as ours:
//! what Linux does here is what the machine can do.

use super::{
    backend_state, disk, dom0, dom0_cmd, expect_console, expect_disk, expect_dom0, Env, Test,
};
use crate::rig::plan::{Disk, Guest, Step};
use anyhow::Result;

/// What the Linux guest writes at the start of its disk, to be found in the file that comes
/// back to the host.
const LINUX_MARKER: &str = "linux-guest-was-here";

pub(super) fn linux(env: &Env) -> Result<Test> {
    let mut guest = Guest::linux(
        "linux",
        &format!("rig.ip=10.0.0.2/24 rig.ip1=dhcp rig.httpd=1 rig.disk-marker={LINUX_MARKER}"),
    );
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:02".into());
    // A second vif configured by DHCP (dom0's rig_dhcpd).
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:12".into());
    guest.disks.push(disk(&env.pattern_disk("linux.img", 16)?));
    guest.disks.push(Disk {
        host_file: env.pattern_disk("linux-file.img", 8)?,
        vdev: "xvdb".into(),
        writable: true,
        as_file: true,
    });
    let guest = guest
        .step(Step::WaitOutput("linux-guest: ready".into(), 180))
        .step(Step::WaitOutput(format!("linux-guest: wrote {LINUX_MARKER}"), 30))
        .step(dom0_cmd("ping", "ping -c 3 -W 5 10.0.0.2"))
        // dom0's curl (with every shared object it loads) against busybox httpd.
        .step(dom0_cmd("curl", "curl -sS -m 20 http://10.0.0.2/"))
        .step(backend_state("vif-state", "vif", "0"))
        .step(dom0(
            "dhcp",
            include_str!("sh/dhcp-lease.sh"),
            &[("MAC", "00:16:3e:00:00:12"), ("WAIT", "60")],
        ))
        .step(backend_state("vbd-state", "vbd", "51712"))
        .step(backend_state("vbd-file-state", "vbd", "51728"));
    Ok(Test::new(guest, |r| {
        expect_console(r, "linux-guest: eth0 10.0.0.2/24")?;
        expect_console(r, "linux-guest: xvda 32768 sectors")?;
        expect_dom0(r, "ping", 0, "3 packets received")?;
        expect_dom0(r, "curl", 0, "linux-guest: hello over HTTP")?;
        expect_dom0(r, "vif-state", 0, "4")?;
        expect_dom0(r, "dhcp", 0, "lease 10.0.0.1")?;
        expect_dom0(r, "dhcp", 0, "2 packets received")?;
        expect_console(r, "(dhcp)")?;
        expect_dom0(r, "vbd-state", 0, "4")?;
        expect_dom0(r, "vbd-file-state", 0, "4")?;
        expect_console(r, "linux-guest: xvdb 16384 sectors")?;
        expect_disk(r, "xvda", LINUX_MARKER.as_bytes())?;
        expect_disk(r, "xvdb", b"\0\0\0\0\0\0\0\0")
    }))
}
