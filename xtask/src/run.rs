//! `cargo xtask run`: build an app and run it under Xen: with `xl create -c` where this
//! machine is a Xen dom0, else in the emulated Xen machine with the guest's console on the
//! terminal. Ctrl-C ends QEMU and everything in it.

use crate::build::{self, Options};
use crate::manifest::Manifest;
use crate::rig::plan::{Disk, End, Guest, GuestResult, Plan, Step};
use crate::{rig, util};
use anyhow::{Context, Result};
use std::process::Command;
use std::time::Duration;

/// Whether `xl` works here, i.e. this is a Xen dom0 with the toolstack running.
fn xen_host() -> bool {
    Command::new("xl").arg("info").output().is_ok_and(|o| o.status.success())
}

/// Builds the app and writes its xl file (from its manifest) beside the image.
pub fn write_xl(opts: &Options) -> Result<(Manifest, build::Image, std::path::PathBuf)> {
    let manifest = Manifest::load(&build::manifest_path(opts)?)?;
    let image = build::build(opts)?;
    let file = image.path.with_extension("xl");
    std::fs::write(&file, manifest.xl_config(&image.path)?.render())?;
    Ok((manifest, image, file))
}

pub fn run(args: &[String]) -> Result<bool> {
    let opts = Options::parse(args)?;
    let (manifest, image, file) = write_xl(&opts)?;
    image.describe()?;
    if xen_host() {
        eprintln!("run: xl create -c {}", file.display());
        util::run(Command::new("xl").arg("create").arg("-c").arg(&file))?;
        return Ok(true);
    }
    eprintln!("run: no Xen host here; starting the emulated Xen machine");
    util::ensure_host_tools()?;
    let name = manifest.name.clone();
    let mut guest = Guest::ours(&name, &image.path, "");
    // The manifest's settings, with the kernel where dom0 finds it.
    let kernel = guest.config.kernel.clone();
    guest.config = manifest.xl_config(&image.path)?;
    guest.config.kernel = kernel;
    guest.config.disks.clear();
    guest.disks = manifest
        .disks
        .iter()
        .map(|d| Disk {
            host_file: d.path.clone(),
            vdev: d.vdev.clone(),
            writable: d.writable,
            as_file: false,
        })
        .collect();
    let guest = guest.step(Step::Follow).step(Step::WaitEnd(0));
    let plan = Plan { batches: vec![vec![guest]], ..Plan::default() };
    let (report, out) = rig::run_plan(&plan, Duration::from_secs(24 * 3600))?;
    for p in &report.problems {
        eprintln!("run: {p}");
    }
    let result = GuestResult::load(&out, &name).context("the guest's results did not come back")?;
    eprintln!("run: guest {name} ended: {:?}", result.end);
    Ok(result.end == Some(End::Poweroff))
}
