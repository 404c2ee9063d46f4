//! `cargo xtask fuzz [--secs N] [--runs N] [TARGET...]`: every cargo-fuzz target of the
//! project, one after the other, with one summary line per target.
//!
//! The fuzz crates (`devices/fuzz`, `app-example/fuzz`; one not there yet is skipped) are
//! outside the workspace and need nightly and cargo-fuzz, which are installed when missing.
//! Their targets are the `[[bin]]` entries of each crate's Cargo.toml. Each runs for N
//! seconds (default 60) or N executions; corpora, crash inputs and each run's full log are
//! kept under `target/fuzz/<crate>/`, so runs build on each other.

use crate::util;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Fuzz crates, relative to the workspace root.
const CRATES: &[&str] = &["devices/fuzz", "app-example/fuzz"];
const DEFAULT_SECS: u64 = 60;
/// An input that takes longer than this is reported as a hang (libFuzzer `-timeout`).
const UNIT_TIMEOUT_SECS: u64 = 25;
/// The nightly toolchain cargo-fuzz builds with.
const TOOLCHAIN: &str = "nightly";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-max_total_time`, if any.
    pub secs: Option<u64>,
    /// `-runs`, if any.
    pub runs: Option<u64>,
    /// Only these targets (all if empty).
    pub targets: Vec<String>,
}

impl Options {
    /// `secs` or `runs` per target (both: whichever ends first; neither: 60 s), `targets`
    /// only (all if empty).
    pub fn new(secs: Option<u64>, runs: Option<u64>, targets: Vec<String>) -> Options {
        let secs = if secs.is_none() && runs.is_none() { Some(DEFAULT_SECS) } else { secs };
        Options { secs, runs, targets }
    }

    /// libFuzzer's arguments for one run.
    fn libfuzzer_args(&self) -> Vec<String> {
        let mut a =
            vec!["-print_final_stats=1".to_string(), format!("-timeout={UNIT_TIMEOUT_SECS}")];
        if let Some(s) = self.secs {
            a.push(format!("-max_total_time={s}"));
        }
        if let Some(r) = self.runs {
            a.push(format!("-runs={r}"));
        }
        a
    }
}

/// One fuzz target: its crate (relative to the root) and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub dir: String,
    pub name: String,
}

impl Target {
    /// `target/fuzz/<crate>/`: the name of the directory the fuzz crate is in.
    fn work_dir(&self, root: &Path) -> PathBuf {
        let owner = Path::new(&self.dir).parent().and_then(|p| p.file_name());
        let owner =
            owner.map_or_else(|| self.dir.replace('/', "-"), |o| o.to_string_lossy().into());
        root.join("target/fuzz").join(owner)
    }
}

/// The `[[bin]]` names of a fuzz crate's Cargo.toml.
pub fn bin_names(manifest: &str) -> Result<Vec<String>> {
    let t: toml::Table = manifest.parse().context("not TOML")?;
    let Some(bins) = t.get("bin") else { return Ok(Vec::new()) };
    let bins = bins.as_array().context("[[bin]] is not an array of tables")?;
    bins.iter()
        .map(|b| {
            let name = b.get("name").and_then(|n| n.as_str());
            name.map(str::to_string).context("a [[bin]] without a name")
        })
        .collect()
}

/// Every target of the fuzz crates that exist.
pub fn discover(root: &Path) -> Result<Vec<Target>> {
    let mut all = Vec::new();
    for dir in CRATES {
        let manifest = root.join(dir).join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let names = bin_names(&text).with_context(|| format!("{}", manifest.display()))?;
        all.extend(names.into_iter().map(|name| Target { dir: dir.to_string(), name }));
    }
    Ok(all)
}

/// What libFuzzer said at the end of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Inputs executed (`stat::number_of_executed_units`, or `Done N runs`).
    pub execs: Option<u64>,
    /// Seconds, from `Done N runs in S second(s)`.
    pub secs: Option<u64>,
    /// The input written for a crash, hang or out-of-memory (`Test unit written to PATH`).
    pub artifact: Option<String>,
    /// The first line that says what went wrong (a panic's message, libFuzzer's ERROR).
    pub problem: Option<String>,
}

pub fn parse_output(text: &str) -> Outcome {
    let mut o = Outcome::default();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("Done ") {
            // "Done 1234 runs in 20 second(s)"
            let w: Vec<&str> = rest.split_whitespace().collect();
            if let [n, "runs", "in", s, ..] = w[..] {
                o.execs = o.execs.or(n.parse().ok());
                o.secs = s.parse().ok();
            }
        } else if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
            if let Ok(n) = n.trim().parse() {
                o.execs = Some(n);
            }
        } else if let Some((_, path)) = line.split_once("Test unit written to ") {
            o.artifact = Some(path.trim().to_string());
        } else if line.contains(" panicked at ") && o.problem.is_none() {
            // "thread '<unnamed>' panicked at src/x.rs:1:2:" then the message.
            let at = line.split(" panicked at ").nth(1).unwrap_or("").trim_end_matches(':');
            let msg = lines.peek().map(|m| m.trim()).unwrap_or("");
            o.problem = Some(format!("panic at {at}: {msg}"));
        } else if line.contains("ERROR: libFuzzer:") && o.problem.is_none() {
            let what = line.split_once("ERROR: ").map_or(line, |(_, w)| w);
            o.problem = Some(what.to_string());
        }
    }
    o
}

/// What to show of a failed run's log: a panic's message and the backtrace frames in the
/// project's code, or libFuzzer's report.
pub fn excerpt(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.iter().position(|l| l.contains(" panicked at "));
    let Some(start) = start else {
        let start = lines.iter().position(|l| l.contains("ERROR: libFuzzer:"));
        let start = start.unwrap_or(lines.len().saturating_sub(10));
        return lines[start..].iter().take(10).map(|l| l.to_string()).collect();
    };
    let mut out = Vec::new();
    let mut it = lines[start..].iter().peekable();
    for l in it.by_ref() {
        if l.starts_with("stack backtrace:") {
            break;
        }
        out.push(l.to_string());
    }
    // Frames come as "  N: function" then "      at path:line:col".
    while let Some(frame) = it.next() {
        if !frame.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
            break;
        }
        let Some(at) = it.next_if(|l| l.trim_start().starts_with("at ")) else { continue };
        let path = at.trim_start().trim_start_matches("at ");
        let ours = !path.starts_with('/') || path.starts_with(&*util::root().to_string_lossy());
        if ours && !path.starts_with("./csu/") {
            out.push(format!("{}  ({path})", frame.trim()));
        }
    }
    out.truncate(16);
    out
}

/// The line reported for a run.
pub fn report(t: &Target, success: bool, o: &Outcome, log: &str, reproduce: &str) -> String {
    let execs = o.execs.map_or("?".to_string(), |n| n.to_string());
    if success {
        let secs = o.secs.map_or("?".to_string(), |s| s.to_string());
        return format!("fuzz {}: ok ({execs} executions, {secs} s)", t.name);
    }
    let problem = o.problem.as_deref().unwrap_or("the fuzzer failed");
    let mut line = format!("fuzz {}: FAILED: {problem} (after {execs} executions)", t.name);
    match &o.artifact {
        Some(a) => line += &format!("; input {a}; reproduce: {reproduce} {a}"),
        None => line += "; no input written",
    }
    line + &format!("; log {log}")
}

/// A command that runs in the nightly toolchain, without the pinned toolchain's variables
/// that `cargo xtask` was started with.
fn nightly(program: &str) -> Command {
    let mut c = Command::new("rustup");
    c.args(["run", TOOLCHAIN, program]).current_dir(util::root());
    for v in ["CARGO", "RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN", "CARGO_ENCODED_RUSTFLAGS"] {
        c.env_remove(v);
    }
    c
}

fn quietly_ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Installs nightly and cargo-fuzz if they are missing.
fn ensure_tools() -> Result<()> {
    if !quietly_ok(nightly("rustc").arg("--version")) {
        println!("fuzz: installing the {TOOLCHAIN} toolchain (rustup toolchain install {TOOLCHAIN} --profile minimal)");
        util::run(
            Command::new("rustup")
                .args(["toolchain", "install", TOOLCHAIN])
                .args(["--profile", "minimal"]),
        )
        .context("cargo-fuzz needs a nightly toolchain")?;
    }
    if !quietly_ok(nightly("cargo").args(["fuzz", "--version"])) {
        println!("fuzz: installing cargo-fuzz (cargo install cargo-fuzz --locked; it compiles for a few minutes)");
        util::run(util::cargo().current_dir(util::root()).args([
            "install",
            "cargo-fuzz",
            "--locked",
        ]))?;
    }
    Ok(())
}

/// `cargo fuzz SUBCOMMAND` with the options every run shares.
fn cargo_fuzz(sub: &str, dir: &str, build: &Path) -> Command {
    let mut c = nightly("cargo");
    c.args(["fuzz", sub, "--fuzz-dir", dir, "--sanitizer", "none", "--target-dir"]).arg(build);
    c
}

pub fn run(opts: &Options) -> Result<bool> {
    let root = util::root();
    let mut targets = discover(&root)?;
    if targets.is_empty() {
        bail!("no fuzz targets in {}", CRATES.join(", "));
    }
    if !opts.targets.is_empty() {
        for want in &opts.targets {
            if !targets.iter().any(|t| &t.name == want) {
                let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
                bail!("no fuzz target {want:?} (there are: {})", names.join(", "));
            }
        }
        targets.retain(|t| opts.targets.contains(&t.name));
    }
    ensure_tools()?;
    // The fuzz targets are safe Rust over safe Rust: AddressSanitizer would find nothing
    // that a panic does not, and halve the executions.
    let build = root.join("target/fuzz/build");
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    let mut dirs: Vec<&str> = targets.iter().map(|t| t.dir.as_str()).collect();
    dirs.dedup();
    for dir in dirs {
        println!("== fuzz: building {dir} (cargo +{TOOLCHAIN} fuzz build)");
        if let Err(e) = util::run(&mut cargo_fuzz("build", dir, &build)) {
            for t in targets.iter().filter(|t| t.dir == dir) {
                let line = format!("fuzz {}: FAILED: build: {e:#}", t.name);
                println!("{line}");
                failed.push(line);
            }
            continue;
        }
        for t in targets.iter().filter(|t| t.dir == dir) {
            let ok = run_one(t, opts, &root, &build)?;
            match ok {
                (true, line) => passed.push(line),
                (false, line) => failed.push(line),
            }
        }
    }
    println!("== fuzz summary: {} passed, {} failed", passed.len(), failed.len());
    for line in &failed {
        println!("{line}");
    }
    Ok(failed.is_empty())
}

/// Runs one target; prints and returns its line.
fn run_one(t: &Target, opts: &Options, root: &Path, build: &Path) -> Result<(bool, String)> {
    let work = t.work_dir(root);
    let corpus = work.join("corpus").join(&t.name);
    let artifacts = work.join("artifacts").join(&t.name);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    let log_path = work.join(format!("{}.log", t.name));
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("could not create {}", log_path.display()))?;
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let how = match (opts.secs, opts.runs) {
        (Some(s), Some(r)) => format!("{s} s or {r} executions"),
        (Some(s), None) => format!("{s} s"),
        (None, Some(r)) => format!("{r} executions"),
        (None, None) => "ever".into(),
    };
    println!("fuzz {}: running for {how} (log: {})", t.name, rel(&log_path));
    let mut cmd = cargo_fuzz("run", &t.dir, build);
    cmd.arg(&t.name).arg(&corpus);
    // A seed corpus that the crate keeps, if any (new inputs go to the first directory).
    let seeds = root.join(&t.dir).join("corpus").join(&t.name);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    let mut artifact_prefix = std::ffi::OsString::from("-artifact_prefix=");
    artifact_prefix.push(&artifacts);
    artifact_prefix.push("/");
    cmd.arg("--").args(opts.libfuzzer_args()).arg(artifact_prefix);
    cmd.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
    let status = cmd.status().with_context(|| format!("could not start {cmd:?}"))?;
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut outcome = parse_output(&text);
    if let Some(a) = &outcome.artifact {
        outcome.artifact = Some(rel(Path::new(a)));
    }
    let reproduce = format!(
        "cargo +{TOOLCHAIN} fuzz run --fuzz-dir {} --sanitizer none --target-dir {} {}",
        t.dir,
        rel(build),
        t.name
    );
    let success = status.success() && outcome.artifact.is_none();
    if !success {
        for l in excerpt(&text) {
            println!("    {l}");
        }
    }
    let line = report(t, success, &outcome, &rel(&log_path), &reproduce);
    println!("{line}");
    Ok((success, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = Options::new(None, None, vec![]);
        assert_eq!(o, Options { secs: Some(60), runs: None, targets: vec![] });
        let o = Options::new(Some(20), None, args(&["a", "b"]));
        assert_eq!(o, Options { secs: Some(20), runs: None, targets: args(&["a", "b"]) });
        let o = Options::new(None, Some(1_000_000), args(&["x"]));
        assert_eq!(o.secs, None);
        assert_eq!(o.runs, Some(1_000_000));
        assert!(o.libfuzzer_args().contains(&"-runs=1000000".to_string()));
        assert!(!o.libfuzzer_args().iter().any(|a| a.starts_with("-max_total_time")));
    }

    #[test]
    fn bins_of_a_fuzz_crate() {
        let toml = r#"
            [package]
            name = "f"
            [[bin]]
            name = "one"
            path = "fuzz_targets/one.rs"
            [[bin]]
            name = "two"
            path = "fuzz_targets/two.rs"
            [workspace]
        "#;
        assert_eq!(bin_names(toml).unwrap(), args(&["one", "two"]));
        assert_eq!(bin_names("[package]\nname = \"f\"\n").unwrap(), Vec::<String>::new());
        assert!(bin_names("[[bin]]\npath = \"x.rs\"\n").is_err());
    }

    #[test]
    fn the_project_has_the_devices_targets() {
        let manifest = std::fs::read_to_string(util::root().join("devices/fuzz/Cargo.toml"));
        let names = bin_names(&manifest.unwrap()).unwrap();
        for want in ["xenstore_replies", "netfront_responses", "blkfront_responses", "cmdline_keys"]
        {
            assert!(names.iter().any(|n| n == want), "{want}");
        }
        let t = Target { dir: "devices/fuzz".into(), name: names[0].clone() };
        assert_eq!(t.work_dir(Path::new("/r")), Path::new("/r/target/fuzz/devices"));
    }

    #[test]
    fn a_clean_run() {
        let log = "\
#1048576\tpulse  cov: 500 ft: 1600 corp: 400/5Kb exec/s: 3000 rss: 30Mb
Done 123456 runs in 20 second(s)
stat::number_of_executed_units: 123457
stat::average_exec_per_sec:     6172
";
        let o = parse_output(log);
        assert_eq!(o, Outcome { execs: Some(123457), secs: Some(20), ..Outcome::default() });
        let t = Target { dir: "devices/fuzz".into(), name: "n".into() };
        assert_eq!(report(&t, true, &o, "l", "r"), "fuzz n: ok (123457 executions, 20 s)");
        // Without the final stats, the Done line counts.
        let o = parse_output("Done 5 runs in 1 second(s)\n");
        assert_eq!((o.execs, o.secs), (Some(5), Some(1)));
    }

    #[test]
    fn a_crash() {
        let log = "\
#2\tINITED cov: 3 ft: 3 corp: 1/1b exec/s: 0 rss: 30Mb

thread '<unnamed>' (17718) panicked at fuzz_targets/x.rs:103:9:
front consumed up to 1, beyond the 0 responses
stack backtrace:
==17718== ERROR: libFuzzer: deadly signal
artifact_prefix='/w/target/fuzz/devices/artifacts/x/'; Test unit written to /w/target/fuzz/devices/artifacts/x/crash-f646
Base64: JY6O/D8AAAAAAAAAAI6OAwM=
stat::number_of_executed_units: 38597
";
        let o = parse_output(log);
        assert_eq!(o.execs, Some(38597));
        assert_eq!(o.artifact.as_deref(), Some("/w/target/fuzz/devices/artifacts/x/crash-f646"));
        assert_eq!(
            o.problem.as_deref(),
            Some(
                "panic at fuzz_targets/x.rs:103:9: front consumed up to 1, beyond the 0 responses"
            )
        );
        let t = Target { dir: "devices/fuzz".into(), name: "x".into() };
        let line = report(&t, false, &o, "target/fuzz/devices/x.log", "cargo fuzz run x");
        assert!(line.starts_with("fuzz x: FAILED: panic at fuzz_targets/x.rs:103:9: "), "{line}");
        assert!(line.contains("(after 38597 executions)"), "{line}");
        assert!(line
            .contains("reproduce: cargo fuzz run x /w/target/fuzz/devices/artifacts/x/crash-f646"));
        let shown = excerpt(log);
        assert_eq!(
            shown,
            [
                "thread '<unnamed>' (17718) panicked at fuzz_targets/x.rs:103:9:",
                "front consumed up to 1, beyond the 0 responses",
            ]
        );
        let with_frames = "\
thread '<unnamed>' (2) panicked at devices/src/netfront.rs:1:2:
boom
stack backtrace:
   0: __rustc::rust_begin_unwind
             at /rustc/92b5/library/std/src/panicking.rs:676:5
   2: __libfuzzer_sys_run
             at ./devices/fuzz/fuzz_targets/cmdline_keys.rs:95:5
   3: rust_fuzzer_test_input
             at /root/.cargo/registry/src/libfuzzer-sys-0.4.13/src/lib.rs:276:60
  10: __libc_start_call_main
             at ./csu/../sysdeps/nptl/libc_start_call_main.h:58:16
  12: _start
note: Some details are omitted
==2== ERROR: libFuzzer: deadly signal
";
        assert_eq!(
            excerpt(with_frames),
            [
                "thread '<unnamed>' (2) panicked at devices/src/netfront.rs:1:2:",
                "boom",
                "2: __libfuzzer_sys_run  (./devices/fuzz/fuzz_targets/cmdline_keys.rs:95:5)",
            ]
        );
        // A hang: libFuzzer's own words.
        let o = parse_output("ALARM: working on the last Unit for 26 seconds\n==1== ERROR: libFuzzer: timeout after 26 seconds\nTest unit written to ./timeout-ab\n");
        assert_eq!(o.problem.as_deref(), Some("libFuzzer: timeout after 26 seconds"));
        assert_eq!(o.artifact.as_deref(), Some("./timeout-ab"));
    }
}
