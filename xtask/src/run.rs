//! `cargo xtask run`: build an app and run it under Xen: with `xl create -c` where this
//! machine is a Xen dom0, else in the emulated Xen machine with the guest's console on the
//! terminal. Ctrl-C ends QEMU and everything in it.

use crate::build::{self, Options};
use crate::rig::plan::{End, Guest, GuestResult, Plan, Step};
use crate::{rig, util, xl};
use anyhow::{Context, Result};
use std::process::Command;
use std::time::Duration;

/// Whether `xl` works here, i.e. this is a Xen dom0 with the toolstack running.
fn xen_host() -> bool {
    Command::new("xl").arg("info").output().is_ok_and(|o| o.status.success())
}

pub fn run(args: &[String]) -> Result<bool> {
    let opts = Options::parse(args)?;
    let image = build::build(&opts)?;
    image.describe()?;
    let name = opts.package.clone();
    if xen_host() {
        let kernel = std::fs::canonicalize(&image.path)?;
        let cfg = xl::XlConfig::new(&name, &kernel.to_string_lossy());
        let file = image.path.with_extension("xl");
        std::fs::write(&file, cfg.render())?;
        eprintln!("run: xl create -c {}", file.display());
        util::run(Command::new("xl").arg("create").arg("-c").arg(&file))?;
        return Ok(true);
    }
    eprintln!("run: no Xen host here; starting the emulated Xen machine");
    util::ensure_host_tools()?;
    let guest = Guest::ours(&name, &image.path, "").step(Step::Follow).step(Step::WaitEnd(0));
    let plan = Plan { batches: vec![vec![guest]] };
    let (report, out) = rig::run_plan(&plan, Duration::from_secs(24 * 3600))?;
    for p in &report.problems {
        eprintln!("run: {p}");
    }
    let result = GuestResult::load(&out, &name).context("the guest's results did not come back")?;
    eprintln!("run: guest {name} ended: {:?}", result.end);
    Ok(result.end == Some(End::Poweroff))
}
