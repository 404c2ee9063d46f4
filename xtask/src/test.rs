//! `cargo xtask test`: every test of the project, with one summary line per test.
//!
//! 1. host tests: `cargo test` over the host-testable crates (protocols, ABI layouts, xtask);
//! 2. plain-QEMU boot tests: images boot without Xen; output and exit checked;
//! 3. end-to-end tests: guests under real Xen in the emulated machine (one boot for all).

use crate::build::{self, Image};
use crate::new::{Source, Template};
use crate::qemu::{self, Exit};
use crate::util;
use anyhow::Result;
use std::time::{Duration, Instant};

/// One plain-QEMU boot: the image, its command line, what its output must contain and how
/// it must end.
struct BootCase {
    name: &'static str,
    package: &'static str,
    cmdline: &'static str,
    expect: &'static [&'static str],
    exit: Exit,
}

/// Images built with `--set` (name, package, settings), booted as their name.
const VARIANTS: &[(&str, &str, &[&str])] =
    &[("app-example-greeting", "app-example", &["greeting=Greetings,configured-at-build"])];

const BOOT_CASES: &[BootCase] = &[
    BootCase {
        name: "hello",
        package: "app-example",
        cmdline: "",
        expect: &["Hello from app-example", "main returned: powering off"],
        exit: Exit::Poweroff,
    },
    BootCase {
        name: "log-level-from-cmdline",
        package: "app-example",
        cmdline: "log=debug",
        expect: &["[DEBUG kernel::runtime] command line: \"log=debug\""],
        exit: Exit::Poweroff,
    },
    // The command line against the image's keys (kernel/src/config.rs): refused lines power
    // off with exit code 78, never crash.
    BootCase {
        name: "config-unknown-key",
        package: "app-example",
        cmdline: "log=info prot=8080",
        expect: &[
            "config:   prot: unknown key (did you mean port?)",
            "config: exit 78 (bad configuration): powering off",
        ],
        exit: Exit::BadConfig,
    },
    BootCase {
        name: "config-bad-value",
        package: "app-example",
        cmdline: "port=0 log=loud",
        expect: &[
            "config:   port=0: out of range: expected u16 in 1..=65535",
            "config:   log=loud: expected one of off, error, warn, info, debug, trace",
            "config: exit 78 (bad configuration)",
        ],
        exit: Exit::BadConfig,
    },
    // The second vif's keys are ip_1=, gw_1=, ...: the old spelling names the new one.
    BootCase {
        name: "config-old-indexed-key",
        package: "app-example",
        cmdline: "ip1=10.0.0.4/24",
        expect: &["config:   ip1: unknown key (did you mean ip_1?)", "config: exit 78"],
        exit: Exit::BadConfig,
    },
    BootCase {
        name: "config-configure-key-at-boot",
        package: "app-example",
        cmdline: "greeting=hi",
        expect: &["config:   greeting: fixed in the image", "config: exit 78"],
        exit: Exit::BadConfig,
    },
    BootCase {
        name: "config-help",
        package: "app-example",
        cmdline: "port=0 --help",
        expect: &[
            "config: the keys of this image",
            "network:\n  ip=IPV4-CIDR",
            "  log=off|error|warn|info|debug|trace",
            "app:\n  greeting=STRING",
            "  port=U16",
            "the TCP port HTTP is served on (default 80)",
            "greeting=STRING",
            "config: --help given: not starting the app; exit 0",
        ],
        exit: Exit::Poweroff,
    },
    BootCase {
        name: "config-boot-key",
        package: "app-example",
        cmdline: "port=8080",
        // No network under plain QEMU: the bind fails, naming the port it was given.
        expect: &["app-example: cannot listen on port 8080"],
        exit: Exit::Poweroff,
    },
    BootCase {
        name: "config-configure-key",
        package: "app-example-greeting",
        cmdline: "",
        expect: &["app-example: greeting \"Greetings,configured-at-build\""],
        exit: Exit::Poweroff,
    },
    BootCase {
        name: "config-testapp-keys",
        package: "testapp",
        cmdline: "test=hello storm bench_mib=4",
        expect: &["testapp: hello"],
        exit: Exit::Poweroff,
    },
    BootCase {
        name: "heap",
        package: "testapp",
        cmdline: "test=heap",
        expect: &["testapp: heap ok 2417500 33554432"],
        exit: Exit::Poweroff,
    },
    BootCase {
        name: "panic-crashes",
        package: "testapp",
        cmdline: "test=panic",
        expect: &["panic: testapp: deliberate panic at testapp/src/main.rs:", "backtrace:"],
        exit: Exit::Crash,
    },
    BootCase {
        name: "page-fault-crashes",
        package: "testapp",
        cmdline: "test=page-fault",
        expect: &[
            "CPU exception: page fault (#PF), vector 14",
            "page fault at address 0x00007eadbeef0000: not present, read",
            "rip 0x",
        ],
        exit: Exit::Crash,
    },
    BootCase {
        name: "null-page-unmapped",
        package: "testapp",
        cmdline: "test=null",
        expect: &["page fault at address 0x0000000000000008: not present, read"],
        exit: Exit::Crash,
    },
    BootCase {
        name: "text-not-writable",
        package: "testapp",
        cmdline: "test=write-text",
        expect: &["protection violation, write"],
        exit: Exit::Crash,
    },
    BootCase {
        name: "page-tables-read-only",
        package: "testapp",
        cmdline: "test=write-page-table",
        expect: &["protection violation, write", "the CPU's tables or the page tables"],
        exit: Exit::Crash,
    },
    BootCase {
        name: "data-not-executable",
        package: "testapp",
        cmdline: "test=exec-data",
        expect: &["protection violation, instruction fetch"],
        exit: Exit::Crash,
    },
    BootCase {
        name: "stack-overflow-hits-guard",
        package: "testapp",
        cmdline: "test=stack-overflow",
        expect: &["the boot stack's guard page: stack overflow"],
        exit: Exit::Crash,
    },
];

/// Formatting and clippy, for the host crates and for the guest target.
const LINTS: &[(&str, &[&str], bool)] = &[
    ("rustfmt", &["fmt", "--all", "--check"], false),
    ("clippy-host", &["clippy", "--all-targets", "--", "-D", "warnings"], false),
    (
        "clippy-guest",
        &[
            "clippy",
            "--target",
            build::TARGET,
            "-p",
            "kernel",
            "-p",
            "devices",
            "-p",
            "app-example",
            "-p",
            "testapp",
            "--",
            "-D",
            "warnings",
        ],
        true,
    ),
    // The runtime as apps with fewer drivers build it (`net` and `block` are features).
    (
        "clippy-guest-no-drivers",
        &["clippy", "--target", build::TARGET, "-p", "kernel", "--", "-D", "warnings"],
        true,
    ),
    (
        "clippy-guest-net-only",
        &["clippy", "--target", build::TARGET, "-p", "kernel", "-F", "net", "--", "-D", "warnings"],
        true,
    ),
    (
        "clippy-guest-block-only",
        &[
            "clippy",
            "--target",
            build::TARGET,
            "-p",
            "kernel",
            "-F",
            "block",
            "--",
            "-D",
            "warnings",
        ],
        true,
    ),
];

const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Summary {
    passed: Vec<String>,
    failed: Vec<String>,
}

impl Summary {
    fn record(&mut self, kind: &str, name: &str, started: Instant, result: Result<(), String>) {
        self.record_secs(kind, name, started.elapsed().as_secs_f64(), result)
    }

    fn record_secs(&mut self, kind: &str, name: &str, secs: f64, result: Result<(), String>) {
        let line = match &result {
            Ok(()) => format!("{kind} {name}: ok ({secs:.1} s)"),
            Err(why) => format!("{kind} {name}: FAILED: {why}"),
        };
        println!("{line}");
        match result {
            Ok(()) => self.passed.push(line),
            Err(_) => self.failed.push(line),
        }
    }
}

/// Which parts of the suite to run (all, unless a developer narrows it).
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub host: bool,
    pub qemu: bool,
    pub e2e: bool,
}

impl Parts {
    pub const ALL: Parts = Parts { host: true, qemu: true, e2e: true };
}

pub fn run(parts: Parts) -> Result<bool> {
    let mut summary = Summary::default();
    util::ensure_target(&util::root(), build::TARGET)?;
    util::ensure_host_tools()?;

    if parts.host {
        println!("== host tests: cargo test");
        let t = Instant::now();
        let host = util::run(util::cargo().current_dir(util::root()).arg("test"));
        summary.record("host", "cargo-test", t, host.map_err(|e| format!("{e:#}")));
        // app-example is a guest binary: its pure modules' unit tests live in its fuzz crate
        // (a workspace of its own), which builds on stable for `cargo test`.
        let t = Instant::now();
        let app = util::run(util::cargo().current_dir(util::root()).args([
            "test",
            "--manifest-path",
            "app-example/fuzz/Cargo.toml",
        ]));
        summary.record("host", "app-example-units", t, app.map_err(|e| format!("{e:#}")));
        for (name, args, target) in LINTS {
            let t = Instant::now();
            let mut cmd = util::cargo();
            cmd.current_dir(util::root()).args(*args);
            if *target {
                cmd.env("CARGO_ENCODED_RUSTFLAGS", "-Crelocation-model=static");
            }
            summary.record("lint", name, t, util::run(&mut cmd).map_err(|e| format!("{e:#}")));
        }
    }

    let mut images: Vec<Image> = Vec::new();
    // Before the plain builds: a variant's build writes its package's image too.
    for (name, package, sets) in VARIANTS {
        let opts = build::Options {
            sets: sets.iter().map(|s| s.to_string()).collect(),
            ..build::Options::new(package)
        };
        let image = build::build_variant(&opts, name)?;
        image.describe()?;
        images.push(image);
    }
    for package in ["app-example", "testapp"] {
        let image = build::build(&build::Options::new(package))?;
        image.describe()?;
        images.push(image);
    }
    let mut boot_cycles = None;
    if parts.qemu {
        println!("== image checks and plain-QEMU boot tests");
        for image in &images {
            let t = Instant::now();
            let result = std::fs::read(&image.path)
                .map_err(anyhow::Error::from)
                .and_then(|b| crate::elf::check_image(&b))
                .map_err(|e| format!("{e:#}"));
            summary.record("image", &format!("{}-pvh-note-and-wx", image.package), t, result);
        }
    }
    for case in BOOT_CASES.iter().filter(|_| parts.qemu) {
        let t = Instant::now();
        let image = images.iter().find(|i| i.package == case.package).expect("image built");
        let result = qemu::boot(&image.path, case.cmdline, BOOT_TIMEOUT)
            .map_err(|e| format!("{e:#}"))
            .and_then(|run| {
                if case.name == "hello" {
                    boot_cycles = boot_figure(&run.output);
                }
                check(case, &run)
            });
        summary.record("qemu", case.name, t, result);
    }

    let mut e2e = None;
    if parts.e2e {
        println!("== end-to-end tests under Xen (emulated machine)");
        let run = crate::e2e::run(&images, |name, secs, result| {
            summary.record_secs("e2e", name, secs, result)
        });
        match run {
            Ok(f) => e2e = Some(f),
            Err(e) => summary.record("e2e", "machine", Instant::now(), Err(format!("{e:#}"))),
        }
        // The README's first command, from the host's side: its own boot of the machine
        // (skipped when E2E_ONLY names other tests).
        let only = std::env::var("E2E_ONLY").unwrap_or_default();
        if only.is_empty() || only.split(',').any(|t| t == "cargo-xtask-run") {
            let t = Instant::now();
            let result = crate::run::check_run_command();
            if let Ok(how) = &result {
                println!("cargo xtask run: {how}");
            }
            summary.record("e2e", "cargo-xtask-run", t, result.map(|_| ()));
        }
        // An app as a project of its own: made, committed, cloned, its .ci/run booting it
        // under Xen (each .ci/run its own boot of the machine).
        if only.is_empty() || only.split(',').any(|t| t.starts_with("new-app-repo")) {
            let ((passing, secs), (failing, failing_secs)) = crate::app_test::check_new_app_repo();
            if let Ok(how) = &passing {
                println!("new-app-repo: {how}");
            }
            summary.record_secs("e2e", "new-app-repo", secs, passing.map(|_| ()));
            let failing = failing.map(|_| ());
            summary.record_secs("e2e", "new-app-repo-failing-check", failing_secs, failing);
        }
    }

    let mut new_app = None;
    if parts.qemu {
        for case in NEW_APPS {
            let t = Instant::now();
            let dir = make_new_app(case).map_err(|e| format!("{e:#}"));
            let image =
                dir.clone().and_then(|d| new_app_boots(case, &d).map_err(|e| format!("{e:#}")));
            summary.record("qemu", case.test, t, image.as_ref().map(|_| ()).map_err(Clone::clone));
            // In its directory, as its README says.
            let t = Instant::now();
            let units = dir.and_then(|d| {
                let test = util::run(util::cargo().current_dir(d).args(["test", "--lib"]));
                test.map_err(|e| format!("{e:#}"))
            });
            summary.record("qemu", &format!("{}-units", case.test), t, units);
            if case.template == Template::Hello {
                new_app = image.ok();
            }
        }
        let t = Instant::now();
        match keys_app() {
            Ok(image) => {
                for (name, result) in keys_app_cases(&image) {
                    summary.record("qemu", name, t, result);
                }
            }
            Err(e) => summary.record("qemu", "keys-app", t, Err(format!("{e:#}"))),
        }
    }

    println!("== figures");
    // Image sizes: the app `cargo xtask new` makes (built by the qemu part), the example and
    // the test image.
    match &new_app {
        Some(image) => {
            print!("new app as `cargo xtask new` makes it, ");
            image.describe()?;
        }
        None => {
            println!("new app as `cargo xtask new` makes it: not built (the qemu part builds it)")
        }
    }
    for image in &images {
        image.describe()?;
    }
    match boot_cycles {
        Some(c) => println!("plain-QEMU boot, first instruction to main: {c} TSC cycles"),
        None => println!("plain-QEMU boot cycles: not reported"),
    }
    if let Some(f) = e2e {
        println!(
            "emulated machine: {:.0} s in all; dom0 up after {}",
            f.machine_seconds,
            f.dom0_up.map_or("?".into(), |s| format!("{s:.1} s"))
        );
        let s = |v: &Option<f64>| v.map_or("?".into(), |v| format!("{v:.2} s"));
        // Entry to main under Xen: app-example without devices (hello) and with a vif and a
        // disk (kv).
        for (guest, line) in f.boot_lines.iter().filter(|(g, _)| g == "hello" || g == "kv") {
            println!("guest {guest} under Xen: {line}");
        }
        match f.serving_counts {
            Some((requests, calls)) => println!(
                "app-example with a vif and a disk, up to serving: {requests} xenstore \
                 requests, {calls} hypercalls (guest kv's /metrics)"
            ),
            None => println!("app-example's xenstore requests and hypercalls: not reported"),
        }
        for (guest, create, first) in &f.guests {
            println!(
                "guest {guest}: xl create took {}, first console output {} after it began",
                s(create),
                s(first)
            );
        }
    }

    println!("== summary: {} passed, {} failed", summary.passed.len(), summary.failed.len());
    for line in &summary.failed {
        println!("{line}");
    }
    Ok(summary.failed.is_empty())
}

fn check(case: &BootCase, run: &qemu::Run) -> Result<(), String> {
    let missing: Vec<&str> =
        case.expect.iter().copied().filter(|e| !run.output.contains(e)).collect();
    let problem = if run.exit != case.exit {
        Some(format!("ended {:?}, expected {:?}", run.exit, case.exit))
    } else if !missing.is_empty() {
        Some(format!("output lacks {missing:?}"))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => {
            let tail: Vec<&str> = run.output.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(format!("{p}; output (last lines):\n    {}", tail.join("\n    ")))
        }
    }
}

/// The runtime's "boot: N TSC cycles from first instruction to main" figure.
fn boot_figure(output: &str) -> Option<u64> {
    output.lines().find_map(|l| {
        let rest = l.split("boot: ").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// An app as `cargo xtask new` makes it: its template, and how its image must boot under
/// plain QEMU.
struct NewApp {
    test: &'static str,
    name: &'static str,
    template: Template,
    expect: &'static [&'static str],
}

const NEW_APPS: &[NewApp] = &[
    NewApp {
        test: "new-app-outside-workspace",
        name: "demoapp",
        template: Template::Hello,
        expect: &["Hello from demoapp!", "demoapp has no domain id: not under Xen?"],
    },
    // No network under plain QEMU: the bind fails, naming the port its key gave.
    NewApp {
        test: "new-app-http",
        name: "webapp",
        template: Template::Http,
        expect: &["Hello from webapp!", "webapp: cannot listen on port 80"],
    },
];

/// `cargo xtask new` makes a crate outside the workspace that depends on `kernel` alone
/// (by path: this checkout as it is). Returns its directory.
fn make_new_app(case: &NewApp) -> Result<std::path::PathBuf> {
    let parent = util::root().join("target/xtask-new").join(case.test);
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent)?;
    crate::new::create(case.name, &parent, case.template, &Source::local())
}

/// The new app builds into an image that boots as its case expects. Returns the image, for
/// its size.
fn new_app_boots(case: &NewApp, dir: &std::path::Path) -> Result<Image> {
    let image = build::build(&build::Options::standalone(&dir.join("Cargo.toml"))?)?;
    let run = qemu::boot(&image.path, "", BOOT_TIMEOUT)?;
    anyhow::ensure!(run.exit == Exit::Poweroff, "ended {:?}:\n{}", run.exit, run.output);
    let missing: Vec<_> = case.expect.iter().filter(|e| !run.output.contains(**e)).collect();
    anyhow::ensure!(missing.is_empty(), "output lacks {missing:?}:\n{}", run.output);
    Ok(image)
}

/// A secret given to `build --set` for the keys app: a boot key's value goes on the command
/// line (the manifest's, for xl), never into the image.
const BUILD_SECRET: &str = "build-secret-7f3a";
/// The secret the keys app's boots give it: their output must never hold it.
const BOOT_SECRET: &str = "hunter2-boot";

/// An app made by `cargo xtask new` with one key more, a required secret (`token`): the
/// runtime's keys checks for a required key and for secrets, on an app of their own rather
/// than testapp, every boot of which (here and in the e2e suite) would have to give it.
fn keys_app() -> Result<std::path::PathBuf> {
    let parent = util::root().join("target/xtask-new-keys");
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent)?;
    let dir = crate::new::create("keysapp", &parent, Template::Hello, &Source::local())?;
    let manifest = dir.join("Cargo.toml");
    let mut toml = std::fs::read_to_string(&manifest)?;
    toml += "\n[package.metadata.unikernel.keys.token]\ntype = \"secret\"\nrequired = true\n\
             doc = \"an API token\"\n";
    std::fs::write(&manifest, toml)?;
    let opts = build::Options {
        sets: vec![format!("token={BUILD_SECRET}")],
        ..build::Options::standalone(&manifest)?
    };
    Ok(build::build(&opts)?.path)
}

/// The keys app's boots, one summary line each: without its required key it powers off
/// with exit 78 naming the key; its secret shows in no output (debug log of the command
/// line, errors, --help) nor in the image.
fn keys_app_cases(image: &std::path::Path) -> Vec<(&'static str, Result<(), String>)> {
    let boot = |cmdline: &str, exit: Exit, expect: &[&str]| -> Result<(), String> {
        let run = qemu::boot(image, cmdline, BOOT_TIMEOUT).map_err(|e| format!("{e:#}"))?;
        let missing: Vec<&&str> = expect.iter().filter(|e| !run.output.contains(**e)).collect();
        if run.exit != exit || !missing.is_empty() || run.output.contains(BOOT_SECRET) {
            return Err(format!(
                "{cmdline:?}: ended {:?} (expected {exit:?}), lacks {missing:?}, shows the \
                 secret: {}; output:\n{}",
                run.exit,
                run.output.contains(BOOT_SECRET),
                run.output
            ));
        }
        Ok(())
    };
    let required = boot(
        "log=info",
        Exit::BadConfig,
        &[
            "config:   token: required, not given: expected secret",
            "config: exit 78 (bad configuration): powering off",
        ],
    );
    let secret = (|| {
        let bytes = std::fs::read(image).map_err(|e| e.to_string())?;
        if bytes.windows(BUILD_SECRET.len()).any(|w| w == BUILD_SECRET.as_bytes()) {
            return Err(format!("the image holds the secret given to build --set {BUILD_SECRET}"));
        }
        let s = BOOT_SECRET;
        boot(
            &format!("log=debug token={s}"),
            Exit::Poweroff,
            &["command line: \"log=debug token=<secret>\"", "Hello from keysapp!"],
        )?;
        boot(
            &format!("token={s} token={s}2 tokn={s}3 log=loud"),
            Exit::BadConfig,
            &["config:   token: given more than once", "tokn: unknown key (did you mean token?)"],
        )?;
        boot(
            &format!("token={s} --help"),
            Exit::Poweroff,
            &["token=SECRET", "an API token (required)", "config: --help given"],
        )
    })();
    vec![("new-app-required-key", required), ("new-app-secret-never-shown", secret)]
}
