//! The end-to-end suite: guests under real Xen in the emulated machine, all in one boot of
//! it. Each test is a guest (or a few) with its steps and a check of what came back; one
//! file per feature builds its tests, [`tests`] puts them in batches, [`run`] runs them.
//!
//! dom0's side of a test is a shell script in `sh/` (busybox sh, linted by shellcheck in
//! the host tests), given its parameters as shell variables by [`script`].

mod blk;
mod boot;
mod config;
mod crash;
mod devices;
mod kv;
mod lifecycle;
mod linux;
mod load;
mod net;
mod services;

use crate::build::Image;
use crate::rig::plan::{shell_quote, Disk, End, Guest, GuestResult, Plan, Step};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a test judges its guest's result. Values from the test's set-up (a checksum, a
/// disk file's path) are captured by the closure.
type Check = Box<dyn Fn(&GuestResult) -> Result<(), String>>;

/// A test: the guest to run and how to judge its result.
struct Test {
    guest: Guest,
    check: Check,
}

impl Test {
    fn new(guest: Guest, check: impl Fn(&GuestResult) -> Result<(), String> + 'static) -> Test {
        Test { guest, check: Box::new(check) }
    }
}

/// What the tests are built from.
struct Env<'a> {
    app: &'a Path,
    /// app-example built with `--set greeting=`[`config::GREETING`].
    app_greeting: &'a Path,
    testapp: &'a Path,
    /// Where tests write their disk files.
    scratch: &'a Path,
    /// The host port forwarded to the `net` guest's HTTP port.
    net_port: u16,
}

impl Env<'_> {
    /// A disk image of `mib` MiB in the scratch directory whose every 512-byte sector starts
    /// with its number.
    fn pattern_disk(&self, name: &str, mib: u64) -> Result<PathBuf> {
        let path = self.scratch.join(name);
        let mut data = vec![0u8; (mib << 20) as usize];
        for (i, sector) in data.chunks_mut(512).enumerate() {
            sector[..8].copy_from_slice(&(i as u64).to_le_bytes());
        }
        std::fs::write(&path, data)?;
        Ok(path)
    }
}

/// A writable `phy:` disk `xvda` of the host file.
fn disk(file: &Path) -> Disk {
    Disk { host_file: file.to_path_buf(), vdev: "xvda".into(), writable: true, as_file: false }
}

/// The tests, in batches: guests in a batch run side by side, batches one after the other.
/// Guests without devices run side by side; guests with devices one at a time (with a
/// 2-vCPU dom0, concurrent `xl create`s with hotplug saw dom0 programs crash; dom0 now has
/// one vCPU, which stopped that, but the device guests stay apart to be safe).
fn tests(env: &Env) -> Result<Vec<Vec<Test>>> {
    Ok(vec![
        vec![
            boot::hello(env),
            crash::panic(env),
            crash::page_fault(env),
            boot::reboot(env),
            services::grants(env),
            crash::triple_fault(env),
        ],
        vec![services::services(env)],
        vec![boot::hang(env)],
        vec![config::unknown_key(env), config::bad_value(env), config::help(env)],
        vec![config::keys(env)],
        vec![linux::linux(env)?],
        vec![devices::ours_devices(env)?],
        vec![net::net(env)],
        vec![blk::blk(env)?],
        vec![kv::kv(env)?],
        vec![load::load(env)],
        vec![load::load_small(env)],
        vec![load::load_tiny(env)],
        vec![load::conns(env)],
        vec![load::slowloris(env)],
        // A device guest beside one without devices, as above.
        vec![lifecycle::shutdown(env)?, lifecycle::shutdown_grace(env)],
        vec![lifecycle::pause(env)],
        vec![lifecycle::hotplug(env)],
        vec![lifecycle::hotplug_blk(env)],
        vec![lifecycle::save_restore(env)?],
        vec![lifecycle::save_restore_stream(env)],
        vec![lifecycle::save_restore_disk(env)?],
        vec![lifecycle::save_restore_20(env)?],
        vec![lifecycle::migrate(env)?],
    ])
}

/// A dom0 step's command: one of the `sh/` scripts, after lines that set its variables
/// (`NAME='value'`) and, if `args` is not empty, its positional parameters (`set -- ...`).
/// The script's opening comments (its shellcheck directive and what it does) stay in the
/// `.sh` file, out of the plan.
pub(crate) fn script(text: &str, vars: &[(&str, &str)], args: &[&str]) -> String {
    let mut cmd = String::new();
    for (name, value) in vars {
        cmd += &format!("{name}={}\n", shell_quote(value));
    }
    if !args.is_empty() {
        let args: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        cmd += &format!("set -- {}\n", args.join(" "));
    }
    for line in text.lines().skip_while(|l| l.starts_with('#')) {
        cmd += line;
        cmd.push('\n');
    }
    cmd
}

/// A [`Step::Dom0`] running [`script`]`(text, vars, &[])`.
fn dom0(step: &str, text: &str, vars: &[(&str, &str)]) -> Step {
    Step::Dom0(step.into(), script(text, vars, &[]))
}

/// A [`Step::Dom0`] running one command line.
fn dom0_cmd(step: &str, cmd: &str) -> Step {
    Step::Dom0(step.into(), cmd.into())
}

/// `xenstore-read` of a backend's state node, by the guest's `$DOMID`.
fn backend_state(step: &str, kind: &str, dev: &str) -> Step {
    dom0_cmd(step, &format!("xenstore-read /local/domain/0/backend/{kind}/$DOMID/{dev}/state"))
}

/// The guest is still the domain it was created as (no reboot, no crash since): prints
/// "same domain".
const SAME_DOMAIN: &str = include_str!("sh/same-domain.sh");

fn expect_end(r: &GuestResult, end: End) -> Result<(), String> {
    match &r.end {
        Some(e) if *e == end => Ok(()),
        Some(e) => Err(format!("ended {e:?}, expected {end:?}")),
        None => Err(format!(
            "no end recorded (xl create rc {:?}: {})",
            r.create_rc,
            r.create_log.trim()
        )),
    }
}

fn expect_console(r: &GuestResult, text: &str) -> Result<(), String> {
    if r.console.contains(text) {
        Ok(())
    } else {
        let tail: Vec<&str> =
            r.console.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        Err(format!("console lacks {text:?}; console (last lines):\n    {}", tail.join("\n    ")))
    }
}

fn expect_dom0(r: &GuestResult, step: &str, rc: i32, text: &str) -> Result<(), String> {
    match r.dom0.get(step) {
        None => Err(format!("dom0 step {step} did not run")),
        Some((got, out)) if *got != rc || !out.contains(text) => Err(format!(
            "dom0 step {step}: exit {got} (expected {rc}), output lacks {text:?}:\n    {}",
            out.trim().replace('\n', "\n    ")
        )),
        Some(_) => Ok(()),
    }
}

/// A host step's result holds `text`.
fn expect_host(r: &GuestResult, step: &str, text: &str) -> Result<(), String> {
    match r.host.get(step) {
        None => Err(format!("host step {step} did not run")),
        Some(Err(why)) => Err(format!("host step {step}: {why}")),
        Some(Ok(out)) if !out.contains(text) => Err(format!(
            "host step {step}: answer lacks {text:?}:\n    {}",
            out.trim().replace('\n', "\n    ")
        )),
        Some(Ok(_)) => Ok(()),
    }
}

/// The number after `word` in a dom0 step's output.
fn dom0_figure(r: &GuestResult, step: &str, word: &str) -> Result<f64, String> {
    let (_, out) = r.dom0.get(step).ok_or_else(|| format!("dom0 step {step} did not run"))?;
    out.lines().find_map(|l| l.strip_prefix(word).and_then(|v| v.trim().parse().ok())).ok_or_else(
        || {
            format!(
                "dom0 step {step} printed no {word:?} figure:\n    {}",
                out.trim().replace('\n', "\n    ")
            )
        },
    )
}

/// The disk file that came back starts with `prefix` (and is otherwise the pattern).
fn expect_disk(r: &GuestResult, disk: &str, prefix: &[u8]) -> Result<(), String> {
    let Some(path) = r.disks.get(disk) else {
        return Err(format!("disk {disk} did not come back"));
    };
    let data = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    if !data.starts_with(prefix) {
        return Err(format!(
            "disk {disk} does not start with {:?}",
            String::from_utf8_lossy(prefix)
        ));
    }
    if data.len() < 1024 || data[512..520] != 1u64.to_le_bytes() {
        return Err(format!("disk {disk}: sector 1 lost its pattern"));
    }
    Ok(())
}

/// xl files generated from manifests (the example's, and one with every quoting trap),
/// for `xl create -n` in dom0.
fn xl_files() -> Result<Vec<(String, String)>> {
    use crate::manifest::Manifest;
    let root = crate::util::root();
    let kernel = Path::new("/work/images/hello");
    let example = Manifest::load(&root.join("app-example/Cargo.toml"))?.xl_text(kernel)?;
    let tricky = Manifest::parse(
        "[package]\nname = \"tricky\"\n[package.metadata.unikernel]\ncmdline = 'say \"hi\" \\o/'\n\
         on_crash = \"coredump-destroy\"\n[[package.metadata.unikernel.network]]\nip = \"10.0.0.9/24\"\n",
        &root,
    )?
    .xl_text(kernel)?;
    Ok(vec![("xl/app-example.xl".into(), example), ("xl/tricky.xl".into(), tricky)])
}

/// The tests `E2E_ONLY` (a comma-separated list of names, if set) keeps, and their plan.
fn plan(env: &Env, only: Option<&str>) -> Result<(Vec<Vec<Test>>, Plan)> {
    let mut batches = tests(env)?;
    if let Some(only) = only {
        let only: Vec<&str> = only.split(',').collect();
        for b in &mut batches {
            b.retain(|t| only.contains(&t.guest.config.name.as_str()));
        }
        batches.retain(|b| !b.is_empty());
    }
    let plan = Plan {
        batches: batches.iter().map(|b| b.iter().map(|t| t.guest.clone()).collect()).collect(),
        texts: xl_files()?,
        // Guests without a static address get one from 10.0.0.100-199.
        setup: vec!["rig_dhcpd".into()],
    };
    Ok((batches, plan))
}

/// Figures worth reporting from a run.
#[derive(Debug, Default)]
pub struct Figures {
    pub dom0_up: Option<f64>,
    pub machine_seconds: f64,
    /// Per guest: seconds `xl create` took, and from `xl create` to first console output.
    pub guests: Vec<(String, Option<f64>, Option<f64>)>,
    /// Per guest of ours: its boot line ("N TSC cycles (U us) from first instruction to
    /// main; ..."), as the runtime wrote it.
    pub boot_lines: Vec<(String, String)>,
    /// app-example with a vif and a disk (the kv guest), once serving: xenstore requests
    /// and hypercalls since boot, from its /metrics.
    pub serving_counts: Option<(u64, u64)>,
}

/// The dom0 step of the kv test that fetches /metrics once app-example serves.
const BOOT_COUNTS: &str = "boot-counts";

/// A counter's value in Prometheus text (`NAME VALUE` lines).
fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Runs the suite; calls `record(name, result)` once per test.
pub fn run(
    images: &[Image],
    mut record: impl FnMut(&str, f64, Result<(), String>),
) -> Result<Figures> {
    let scratch = crate::rig::dir().join("e2e");
    std::fs::create_dir_all(&scratch)?;
    let image = |package: &str| {
        images.iter().find(|i| i.package == package).map(|i| i.path.clone()).expect("image built")
    };
    let (app, testapp) = (image("app-example"), image("testapp"));
    let app_greeting = image("app-example-greeting");
    let env = Env {
        app: &app,
        app_greeting: &app_greeting,
        testapp: &testapp,
        scratch: &scratch,
        net_port: crate::rig::free_port()?,
    };
    // For working on one test: E2E_ONLY=name,name runs just those.
    let (batches, plan) = plan(&env, std::env::var("E2E_ONLY").ok().as_deref())?;
    // The whole suite takes about 1200 s on an idle machine of this kind; on a loaded one
    // (other builds beside the emulation) a 1500 s watchdog cut it off near its end.
    let (report, out) = crate::rig::run_plan(&plan, Duration::from_secs(2400))?;
    let mut figures =
        Figures { dom0_up: report.dom0_up, machine_seconds: report.seconds, ..Default::default() };
    for t in batches.iter().flatten() {
        let name = &t.guest.config.name;
        let (secs, result) = match GuestResult::load(&out, name) {
            Ok(r) => {
                figures.guests.push((name.clone(), r.create_time, r.first_output));
                if let Some(l) = r.console.lines().find_map(|l| l.split("] boot: ").nth(1)) {
                    figures.boot_lines.push((name.clone(), l.trim().to_string()));
                }
                if let Some((0, m)) = r.dom0.get(BOOT_COUNTS) {
                    let get = |n| metric(m, n);
                    figures.serving_counts =
                        get("xen_xenstore_requests_total").zip(get("xen_hypercalls_total"));
                }
                let mut result = (t.check)(&r);
                if !r.triple_faults.is_empty() && name != crash::TRIPLE_FAULT {
                    result = Err(format!("triple fault: {}", r.triple_faults.join("; ")));
                } else if result.is_ok() && !r.missing_output.is_empty() {
                    result = Err(format!("console never showed {:?}", r.missing_output));
                }
                (r.total_time.unwrap_or(0.0), result)
            }
            Err(e) => {
                let why = if report.problems.is_empty() {
                    format!("{e:#}")
                } else {
                    format!("{e:#}; machine: {}", report.problems.join("; "))
                };
                (0.0, Err(why))
            }
        };
        record(name, secs, result);
    }
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_reads_a_counter_by_its_exact_name() {
        let text = "# TYPE xen_hypercalls_total counter\nxen_hypercalls_total 263\n\
                    xen_xenstore_requests_total 80\nxen_hypercalls_total_x 1\n";
        assert_eq!(metric(text, "xen_hypercalls_total"), Some(263));
        assert_eq!(metric(text, "xen_xenstore_requests_total"), Some(80));
        assert_eq!(metric(text, "xen_grants_in_use"), None);
    }

    /// The plan the suite gives dom0, rendered as dom0 gets it (plan.sh, the generated
    /// files, and which host file goes where), for fixed image paths and forward port.
    fn rendered_plan() -> String {
        let scratch = std::env::temp_dir().join(format!("xtask-e2e-golden-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).unwrap();
        let env = Env {
            app: Path::new("/images/app-example"),
            app_greeting: Path::new("/images/app-example-greeting"),
            testapp: Path::new("/images/testapp"),
            scratch: &scratch,
            net_port: 18080,
        };
        let (_, plan) = plan(&env, None).unwrap();
        let staged = plan.stage().unwrap();
        let mut out = format!("==== plan.sh\n{}", staged.script);
        for (path, text) in &staged.texts {
            out += &format!("==== {path}\n{text}");
        }
        out += "==== files\n";
        for (src, dst) in &staged.files {
            let src =
                src.strip_prefix(&scratch).map_or(src.clone(), |s| Path::new("SCRATCH").join(s));
            out += &format!("{dst} <- {}\n", src.display());
        }
        for (i, (src, writable)) in staged.drives.iter().enumerate() {
            let src =
                src.strip_prefix(&scratch).map_or(src.clone(), |s| Path::new("SCRATCH").join(s));
            out += &format!("drive rig-disk-{i} <- {} (writable {writable})\n", src.display());
        }
        std::fs::remove_dir_all(&scratch).unwrap();
        out
    }

    /// What dom0 runs for the suite is reviewed: a change to a test's steps or scripts, or
    /// to how plans are rendered, shows in the diff of `xtask/tests/golden/e2e-plan.txt`.
    /// `UPDATE_GOLDEN=1 cargo test -p xtask` rewrites it.
    #[test]
    fn e2e_plan_matches_golden() {
        let golden = crate::util::root().join("xtask/tests/golden/e2e-plan.txt");
        let plan = rendered_plan();
        if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, &plan).unwrap();
            return;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if plan != want {
            let line = plan.lines().zip(want.lines()).position(|(a, b)| a != b);
            let line = line.unwrap_or(plan.lines().count().min(want.lines().count()));
            panic!(
                "the e2e plan differs from {} from line {}:\n  now:    {:?}\n  golden: {:?}\n\
                 (UPDATE_GOLDEN=1 cargo test -p xtask rewrites it; review the diff)",
                golden.display(),
                line + 1,
                plan.lines().nth(line).unwrap_or(""),
                want.lines().nth(line).unwrap_or(""),
            );
        }
    }

    /// A script's parameters come first, quoted for sh; its opening comments stay out.
    #[test]
    fn script_sets_parameters_then_runs() {
        let text = "# shellcheck shell=dash\n# What it does.\n: \"${IP:?}\"\n# kept\nab \"$@\"\n";
        assert_eq!(
            script(text, &[("IP", "10.0.0.1"), ("Q", "it's")], &["-n", "2"]),
            "IP='10.0.0.1'\nQ='it'\\''s'\nset -- '-n' '2'\n: \"${IP:?}\"\n# kept\nab \"$@\"\n"
        );
    }

    /// The test names: E2E_ONLY and the README use them.
    #[test]
    fn test_names() {
        let scratch = std::env::temp_dir().join(format!("xtask-e2e-names-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).unwrap();
        let env = Env {
            app: Path::new("/a"),
            app_greeting: Path::new("/g"),
            testapp: Path::new("/t"),
            scratch: &scratch,
            net_port: 1,
        };
        let (batches, _) = plan(&env, Some("net,kv")).unwrap();
        std::fs::remove_dir_all(&scratch).unwrap();
        let names: Vec<&str> =
            batches.iter().flatten().map(|t| t.guest.config.name.as_str()).collect();
        assert_eq!(names, ["net", "kv"]);
    }
}
