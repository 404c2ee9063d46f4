//! `cargo xtask test` in an app's own repository (see [`crate::util::app_root`]): the app's
//! host unit tests, its image, and its own check under Xen as its manifest declares it
//! (`[package.metadata.unikernel.check]`: a console line, a GET answering a status), in the
//! emulated Xen machine. One line per step and a summary, as the runtime's own test run.

use crate::manifest::Check;
use crate::rig::plan::{Plan, Step};
use crate::{build, rig, util};
use anyhow::Result;
use std::path::Path;
use std::time::{Duration, Instant};

/// dom0's side of the HTTP check: GETs `http://$IP:$PORT$URL_PATH` until it answers
/// `$STATUS` or `$SECS` seconds pass; says the last status (000: no answer).
const HTTP_CHECK: &str = include_str!("app_check.sh");

pub fn run(app: &Path) -> Result<bool> {
    let toml = app.join("Cargo.toml");
    let mut lines = Vec::new();
    let mut step = |name: &str, start: Instant, r: Result<String, String>| {
        let secs = start.elapsed().as_secs_f64();
        let line = match r {
            Ok(what) if what.is_empty() => format!("test {name}: ok ({secs:.1} s)"),
            Ok(what) => format!("test {name}: ok ({what}; {secs:.1} s)"),
            Err(why) => format!("test {name}: FAILED: {why}"),
        };
        println!("{line}");
        lines.push(line);
    };

    let start = Instant::now();
    if app.join("src/lib.rs").is_file() {
        let status = util::cargo().current_dir(app).args(["test", "--lib"]).status();
        let r = match status {
            Ok(s) if s.success() => Ok(String::new()),
            Ok(s) => Err(format!("cargo test --lib: {s}")),
            Err(e) => Err(format!("cannot run cargo test: {e}")),
        };
        step("unit", start, r);
    } else {
        println!("test unit: no src/lib.rs: nothing to unit-test on the host");
    }

    let start = Instant::now();
    let opts = build::Options::standalone(&toml)?;
    let built = crate::keys::load(&opts).and_then(|m| Ok((m, build::build(&opts)?)));
    let (manifest, image) = match built {
        Ok(b) => b,
        Err(e) => {
            step("image", start, Err(format!("{e:#}")));
            return Ok(summary(&lines));
        }
    };
    step("image", start, Ok(image.path.display().to_string()));

    let start = Instant::now();
    match &manifest.check {
        None => println!(
            "test xen: no [package.metadata.unikernel.check] in {}: nothing to check under Xen",
            toml.display()
        ),
        Some(check) => {
            let r = under_xen(&manifest, &image, check);
            step("xen", start, r);
        }
    }
    Ok(summary(&lines))
}

fn summary(lines: &[String]) -> bool {
    let failed: Vec<&String> = lines.iter().filter(|l| l.contains(": FAILED")).collect();
    println!("== summary: {} passed, {} failed", lines.len() - failed.len(), failed.len());
    for l in &failed {
        println!("{l}");
    }
    failed.is_empty()
}

/// Boots the image in the emulated machine (one guest, its manifest's devices) and checks
/// what `check` asks; `Ok` says what was seen.
fn under_xen(
    manifest: &crate::manifest::Manifest,
    image: &build::Image,
    check: &Check,
) -> Result<String, String> {
    util::ensure_host_tools().map_err(|e| format!("{e:#}"))?;
    let name = manifest.name.to_string();
    let mut guest = crate::run::manifest_guest(manifest, image).map_err(|e| format!("{e:#}"))?;
    if let Some(text) = &check.console {
        guest = guest.step(Step::WaitOutput(text.clone(), check.timeout_secs));
    }
    if let Some(path) = &check.http {
        // The manifest's check requires network[0].ip (Manifest::parse).
        let ip = manifest.networks.first().and_then(|n| n.ip.as_deref()).unwrap_or_default();
        let ip = ip.split('/').next().unwrap_or(ip);
        let (port, status, secs) =
            (check.port.to_string(), check.status.to_string(), check.timeout_secs.to_string());
        let vars = [
            ("IP", ip),
            ("PORT", port.as_str()),
            ("URL_PATH", path.as_str()),
            ("STATUS", status.as_str()),
            ("SECS", secs.as_str()),
        ];
        guest = guest.step(Step::Dom0("http".into(), crate::e2e::script(HTTP_CHECK, &vars, &[])));
    }
    let plan =
        Plan { batches: vec![vec![guest]], setup: vec!["rig_dhcpd".into()], ..Plan::default() };
    let timeout = Duration::from_secs(600 + 2 * u64::from(check.timeout_secs));
    let (report, out) =
        rig::run_plan_in("app-test", &plan, timeout).map_err(|e| format!("{e:#}"))?;
    for p in &report.problems {
        eprintln!("test xen: {p}");
    }
    let r = rig::plan::GuestResult::load(&out, &name).map_err(|e| format!("{e:#}"))?;
    let tail = || {
        let lines: Vec<&str> = r.console.lines().rev().take(15).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n    ")
    };
    if let Some(text) = &check.console {
        if !r.console.contains(text.as_str()) {
            return Err(format!(
                "the console never showed {text:?} (within {} s); its last lines:\n    {}",
                check.timeout_secs,
                tail()
            ));
        }
    }
    let mut seen = Vec::new();
    if let Some(text) = &check.console {
        seen.push(format!("console showed {text:?}"));
    }
    if let Some(path) = &check.http {
        let (_, output) = r.dom0.get("http").cloned().unwrap_or_default();
        let got = output.lines().rev().find_map(|l| l.strip_prefix("status ")).unwrap_or("000");
        if got != check.status.to_string() {
            let said = if got == "000" { "no answer".to_string() } else { format!("status {got}") };
            return Err(format!(
                "GET {path} on port {}: {said}, expected {} (within {} s); the console's last \
                 lines:\n    {}",
                check.port,
                check.status,
                check.timeout_secs,
                tail()
            ));
        }
        seen.push(format!("GET {path} answered {got}"));
    }
    Ok(seen.join(", "))
}
