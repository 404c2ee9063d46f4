//! `cargo xtask run`: build an app and run it under Xen: with `xl create -c` where this
//! machine is a Xen dom0, else in the emulated Xen machine with the guest's console on the
//! terminal. Ctrl-C ends QEMU and everything in it. In the emulated machine, the guest's
//! ports are reachable from this host at 127.0.0.1 (`--forward HOSTPORT:GUESTPORT`,
//! default 8080:80 to the manifest's first static address).

use crate::build::{self, Options};
use crate::manifest::Manifest;
use crate::rig::plan::{Disk, End, Forward, Guest, GuestResult, Plan, Step};
use crate::xl::XlConfig;
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
    let manifest = crate::keys::load(opts)?;
    let image = build::build(opts)?;
    let file = image.path.with_extension("xl");
    std::fs::write(&file, manifest.xl_text(&image.path)?)?;
    Ok((manifest, image, file))
}

/// The app's guest as its manifest describes it, its kernel where dom0 finds it, and the
/// manifest's disk files as its disks (copies on the exchange disk unless the caller sets
/// `shared_disks`).
pub fn manifest_guest(manifest: &Manifest, image: &build::Image) -> Result<Guest> {
    let mut guest = Guest::ours(manifest.name.as_str(), &image.path, "");
    let kernel = guest.config.kernel.clone();
    guest.config = XlConfig::from_domain(&manifest.domain(&image.path)?);
    guest.config.kernel = kernel;
    guest.config.disks.clear();
    guest.disks = manifest
        .disks
        .iter()
        .map(|d| Disk {
            host_file: d.path.clone(),
            vdev: d.vdev.to_string(),
            writable: d.writable,
            as_file: false,
        })
        .collect();
    Ok(guest)
}

/// (host port, guest port)
pub type PortPair = (u16, u16);

/// The default forward: the host's 127.0.0.1:8080 to port 80 of the guest.
const DEFAULT_FORWARD: PortPair = (8080, 80);

/// Runs the app; `forwards` are the ports asked for (`--forward`, `--no-forward`), `None`
/// when nothing was asked and the default applies.
pub fn run(opts: &Options, forwards: Option<Vec<PortPair>>) -> Result<bool> {
    let (manifest, image, file) = write_xl(opts)?;
    image.describe()?;
    if xen_host() {
        eprintln!("run: xl create -c {}", file.display());
        eprintln!("run: Ctrl-] leaves the console; `xl destroy {}` stops the guest", manifest.name);
        util::run(Command::new("xl").arg("create").arg("-c").arg(&file))?;
        return Ok(true);
    }
    eprintln!("run: no Xen host here; starting the emulated Xen machine");
    util::ensure_host_tools()?;
    let name = manifest.name.to_string();
    let mut guest = manifest_guest(&manifest, &image)?;
    // The manifest's disk files themselves: nothing the guest wrote is lost with Ctrl-C.
    guest.shared_disks = true;
    // The guest's ports, at its first static address; a guest without one asks DHCP, which
    // dom0 serves.
    let ip = manifest.networks.first().and_then(|n| n.ip.as_deref());
    let ip = ip.map(|ip| ip.split('/').next().unwrap_or(ip).to_string());
    let explicit = forwards.is_some();
    let forwards = forwards.unwrap_or_else(|| vec![DEFAULT_FORWARD]);
    match &ip {
        Some(ip) => {
            for &(host_port, guest_port) in &forwards {
                guest.forwards.push(Forward { host_port, guest_ip: ip.clone(), guest_port });
                eprintln!(
                    "run: http://127.0.0.1:{host_port}/ reaches the guest's port {guest_port} \
                     ({ip}:{guest_port}) once it listens"
                );
            }
        }
        None if explicit && !forwards.is_empty() => {
            anyhow::bail!("--forward needs a static address: the manifest's network[0].ip")
        }
        None => {}
    }
    let guest = guest.step(Step::Follow).step(Step::WaitEnd(0));
    let plan =
        Plan { batches: vec![vec![guest]], setup: vec!["rig_dhcpd".into()], ..Plan::default() };
    eprintln!("run: Ctrl-C stops the machine");
    let (report, out) = rig::run_plan_in("run-app", &plan, Duration::from_secs(24 * 3600))?;
    for p in &report.problems {
        eprintln!("run: {p}");
    }
    let result = GuestResult::load(&out, &name).context("the guest's results did not come back")?;
    eprintln!("run: guest {name} ended: {:?}", result.end);
    Ok(result.end == Some(End::Poweroff))
}

/// `cargo xtask run` as a newcomer runs it: the example comes up, its status page answers
/// on the host's 127.0.0.1 through the forwards, and Ctrl-C (SIGINT to the whole process
/// group, as a terminal sends it) stops everything: the command exits, QEMU is gone and
/// the port is free again. Its output goes to `target/rig/run-check.log`.
pub fn check_run_command() -> Result<String, String> {
    use std::os::unix::process::CommandExt;
    use std::time::Instant;
    let port = rig::free_port().map_err(|e| e.to_string())?;
    let log_path = rig::dir().join("run-check.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut child = util::cargo()
        .current_dir(util::root())
        .args(["xtask", "run", "--forward", &format!("{port}:80")])
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("could not start cargo xtask run: {e}"))?;
    let pgid = child.id();
    let tail = || {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(20).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n    ")
    };
    let signal = |sig: &str| {
        let _ = Command::new("kill").args([sig, "--", &format!("-{pgid}")]).status();
    };
    // Wait for the status page, as long as the command keeps running.
    let answer = loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "cargo xtask run ended ({status}) before answering:\n    {}",
                tail()
            ));
        }
        match rig::http_get(port, "/", Duration::from_secs(5)) {
            Ok(a) => break Ok(a),
            Err(_) if start.elapsed() < Duration::from_secs(600) => continue,
            Err(e) => break Err(e),
        }
    };
    let up = start.elapsed().as_secs_f64();
    let stop = Instant::now();
    signal("-INT");
    let mut ended = None;
    while stop.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(status)) = child.try_wait() {
            ended = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if ended.is_none() {
        signal("-KILL");
        let _ = child.wait();
    }
    let stopped = stop.elapsed().as_secs_f64();
    match answer {
        Ok((200, body)) if body.contains("app-example: a Rust unikernel on Xen") => {}
        Ok((code, body)) => return Err(format!("127.0.0.1:{port} answered {code}: {body}")),
        Err(e) => return Err(format!("no status page on 127.0.0.1:{port}: {e}\n    {}", tail())),
    }
    if ended.is_none() {
        return Err(format!("still running 60 s after Ctrl-C:\n    {}", tail()));
    }
    // QEMU (the forward's listener) must be gone with it.
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        return Err(format!(
            "127.0.0.1:{port} still taken after Ctrl-C: QEMU outlived the command"
        ));
    }
    Ok(format!("status page after {up:.0} s; everything stopped {stopped:.1} s after Ctrl-C"))
}
