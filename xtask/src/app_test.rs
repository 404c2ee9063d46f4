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

/// dom0's side of the HTTP check: GETs `http://$IP:$PORT$URL_PATH` until it answers at all
/// or `$SECS` seconds pass; says the status (000: no answer).
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
    if let Some(text) = &check.console {
        if !r.console.contains(text.as_str()) {
            return Err(format!(
                "the console never showed {text:?} (within {} s); its last lines:\n    {}",
                check.timeout_secs,
                tail(&r.console, 15)
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
            let said = match got {
                "000" => format!("no answer within {} s", check.timeout_secs),
                _ => format!("status {got}"),
            };
            return Err(format!(
                "GET {path} on port {}: {said}, expected {}; the console's last lines:\n    {}",
                check.port,
                check.status,
                tail(&r.console, 15)
            ));
        }
        seen.push(format!("GET {path} answered {got}"));
    }
    Ok(seen.join(", "))
}

/// e2e `new-app-repo` and `new-app-repo-failing-check`: an app made by `cargo xtask new
/// --template http --git file://RUNTIME` (the runtime's committed HEAD) in a directory of
/// its own, committed to a fresh git repository and cloned elsewhere, where nothing of the
/// runtime is at hand but the pinned git URL: its `.ci/run` passes (unit tests, image, the
/// GET check under Xen). Then, with its check's path changed to one the app answers 404,
/// `.ci/run` fails and says which check. Only the emulated machine's assembled files are
/// copied into the clone, to spare it a rebuild of them.
/// A check's outcome (what was seen, or why it failed) and its seconds.
pub type Timed = (Result<String, String>, f64);

/// Each result comes with its seconds (the first includes making the app and its repository).
pub fn check_new_app_repo() -> (Timed, Timed) {
    let start = Instant::now();
    match new_app_repo() {
        Ok(clone) => {
            let passing = ci_run(&clone, "ci-pass.log").and_then(|(ok, log)| {
                let xen = log.lines().find(|l| l.starts_with("test xen: ")).unwrap_or_default();
                match (ok, xen.starts_with("test xen: ok")) {
                    (true, true) => Ok(xen.to_string()),
                    _ => Err(format!(".ci/run failed:\n    {}", tail(&log, 25))),
                }
            });
            let passing = (passing, start.elapsed().as_secs_f64());
            let start = Instant::now();
            let failing = break_check(&clone)
                .and_then(|()| ci_run(&clone, "ci-fail.log"))
                .and_then(|(ok, log)| {
                    let want =
                        "test xen: FAILED: GET /missing on port 80: status 404, expected 200";
                    match (ok, log.contains(want)) {
                        (false, true) => Ok("fails, naming the check".to_string()),
                        (true, _) => Err(format!(".ci/run passed:\n    {}", tail(&log, 25))),
                        (false, false) => {
                            Err(format!(".ci/run's output lacks {want:?}:\n    {}", tail(&log, 25)))
                        }
                    }
                });
            (passing, (failing, start.elapsed().as_secs_f64()))
        }
        Err(e) => {
            let e = format!("{e:#}");
            let secs = start.elapsed().as_secs_f64();
            ((Err(e.clone()), secs), (Err(e), 0.0))
        }
    }
}

/// The last `n` lines of `text`, indented under a message.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().rev().take(n).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n    ")
}

/// Makes the app, its repository and the clone; returns the clone's directory.
fn new_app_repo() -> Result<std::path::PathBuf> {
    use anyhow::Context;
    let base = util::work_dir().join("new-app-repo");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let root = std::path::absolute(util::root())?;
    let url = format!("file://{}", root.display());
    let made = base.join("made");
    // `cargo xtask new`, as a user runs it (not this process's own executable: the host
    // tests may have rebuilt it since it started, and /proc/self/exe then names a deleted
    // file).
    let status = util::cargo()
        .current_dir(&root)
        .args(["xtask", "new", "repoapp", "--template", "http", "--git", &url, "--dir"])
        .arg(&made)
        .status()
        .context("running cargo xtask new")?;
    anyhow::ensure!(status.success(), "cargo xtask new --git {url} failed ({status})");
    let repo = made.join("repoapp");
    let git = |dir: &Path, args: &[&str]| -> Result<()> {
        let out = std::process::Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=xtask", "-c", "user.email=xtask@localhost"])
            .args(args)
            .output()
            .context("running git")?;
        anyhow::ensure!(
            out.status.success(),
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    git(&repo, &["init", "-q"])?;
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "repoapp, as cargo xtask new made it"])?;
    let clone = base.join("clone");
    git(&base, &["clone", "-q", &repo.to_string_lossy(), &clone.to_string_lossy()])?;
    // The emulated machine's files, as this run assembled them (a cache, not the runtime).
    let rig = clone.join("target/xtask/rig");
    std::fs::create_dir_all(&rig)?;
    for d in ["build", "debs"] {
        let from = rig::dir().join(d);
        if from.is_dir() {
            util::run(std::process::Command::new("cp").arg("-a").arg(&from).arg(&rig))?;
        }
    }
    Ok(clone)
}

/// The check's GET of `/` becomes one of `/missing`, which the app answers 404.
fn break_check(clone: &Path) -> Result<(), String> {
    let toml = clone.join("Cargo.toml");
    let text = std::fs::read_to_string(&toml).map_err(|e| e.to_string())?;
    if !text.contains("http = \"/\"") {
        return Err(format!("{} has no check of http = \"/\"", toml.display()));
    }
    std::fs::write(&toml, text.replace("http = \"/\"", "http = \"/missing\""))
        .map_err(|e| e.to_string())
}

/// Runs the clone's `.ci/run` as CI would (a shell without this run's cargo variables);
/// whether it passed, and its output (kept in `log`).
fn ci_run(clone: &Path, log: &str) -> Result<(bool, String), String> {
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(".ci/run").current_dir(clone);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let cargo_var = k.starts_with("CARGO") && k != "CARGO_HOME";
        if cargo_var || k.starts_with("RUSTUP_TOOLCHAIN") || k == "E2E_ONLY" {
            cmd.env_remove(&k);
        }
    }
    let out = cmd.output().map_err(|e| format!("cannot run .ci/run: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::write(clone.join("..").join(log), &text);
    Ok((out.status.success(), text))
}
