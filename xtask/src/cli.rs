//! The command line, parsed by clap from the types below: each command's options, its
//! `--help` (from the doc comments) and the errors for unknown options or missing values.
//! The overview (`cargo xtask`, `cargo xtask help`, `--help`) is [`HELP`], written by hand
//! because it is documentation; a test keeps it and the commands in step.

use crate::{build, fuzz, new, run, test};
use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const HELP: &str = "\
cargo xtask <command> [options]
cargo xtask --version       the runtime's version and git revision

APP is a workspace package (-p NAME, default app-example) or an app crate anywhere
(--manifest-path PATH/Cargo.toml). build, xl, run and describe take --set KEY=VALUE
(repeatable): a configuration key's value, checked against the keys before anything is
built (a boot key goes on the command line, a configure key is fixed in the image).

commands:
  run [-p APP] [--debug] [--forward HOSTPORT:GUESTPORT]... [--no-forward]
                            build APP and run it under Xen: `xl create -c` on a Xen host,
                            else in the emulated Xen machine, console on the terminal, the
                            guest's GUESTPORT (of network[0].ip) at 127.0.0.1:HOSTPORT
                            (default 8080:80); Ctrl-C stops it
  new NAME [--dir PARENT] [--template hello|http] [--git URL | --path]
                            create an app crate NAME in a directory of its own: hello (the
                            default) greets, http serves HTTP on its port key; the kernel
                            pinned to this checkout's HEAD in the git repository URL
                            (default: remote origin), or by path (--path, or no remote)
  xl [-p APP] [--debug]     build APP and write its xl config from its manifest
                            ([package.metadata.unikernel] in its Cargo.toml)
  build [-p APP] [--debug]  build APP (default app-example) into a PVH image and print its path
  describe [-p APP] [--dot] APP's devices and configuration keys (the runtime's and its own:
                            type, stage, default, the value the guest gets, doc); --dot: a
                            Graphviz graph of the app, its devices and the runtime pieces
  describe --image PATH     the keys a built image carries (its schema notes)
  bench net|blk|http|lifecycle|boot [--mib N] [--runs N] [--memory MIB]
                            our guest against the Linux PVH guest in one boot of the
                            emulated machine: TCP throughput both ways and HTTP requests/s
                            (net, N MiB per transfer, default 4), sequential and 4 KiB random
                            disk I/O (blk, over N MiB, default 32), app-example against nginx
                            under ab (http), xl save, restore, migrate and its downtime
                            (lifecycle, app-example at MIB), xl create to the first console
                            byte and to ready, entry to main, xenstore requests and
                            hypercalls of a hello app and app-example (boot); medians of N
                            runs (default 5), ratios in target/bench/
  test [host|qemu|e2e]...   run every test (or only the parts named): host tests, plain-QEMU boot tests, and the
                            end-to-end tests under real Xen in the emulated machine
  fuzz [--secs N] [--runs N] [TARGET]...
                            run the cargo-fuzz targets of devices/fuzz and app-example/fuzz
                            one after the other, N seconds each (default 60) or N executions;
                            installs nightly and cargo-fuzz if missing; crash inputs and logs
                            in target/fuzz/
  rig build                 build (or reuse) the emulated Xen machine's boot files
  rig shell                 boot the emulated Xen machine with an interactive dom0 shell
  help                      this text
";

/// `cargo xtask --version`: the runtime's version and, in a git checkout, its revision
/// (`cargo xtask 0.1.0 (git 1a2b3c4)`, `+modified` after it with uncommitted changes).
/// Asked of git once per run (a few milliseconds), as clap wants the text up front.
fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let version = env!("CARGO_PKG_VERSION");
        match crate::git::describe(&crate::util::root()) {
            Some(rev) => format!("{version} (git {rev})"),
            None => version.to_string(),
        }
    })
}

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", override_help = HELP, version = version())]
pub struct Cli {
    /// None: print the overview.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build APP and run it under Xen: `xl create -c` on a Xen host, else in the emulated
    /// Xen machine, with the console on the terminal; Ctrl-C stops it
    Run(RunArgs),
    /// Create an app crate NAME, in a directory of its own
    New(NewArgs),
    /// Build APP and write its xl config from its manifest ([package.metadata.unikernel])
    Xl(AppArgs),
    /// Build APP into a PVH image and print its path and size
    Build(AppArgs),
    /// APP's devices and configuration keys (the runtime's and its own: type, stage,
    /// default, the value the guest gets, doc), or the keys a built image carries
    Describe(DescribeArgs),
    /// Our guest against the Linux PVH guest in one boot of the emulated machine; medians
    /// of the runs, ratios in target/bench/
    #[command(subcommand)]
    Bench(Bench),
    /// Run every test, or only the parts named
    Test(TestArgs),
    /// Run the cargo-fuzz targets of devices/fuzz and app-example/fuzz one after the other
    /// (installs nightly and cargo-fuzz if missing; crash inputs and logs in target/fuzz/)
    Fuzz(FuzzArgs),
    /// The emulated Xen machine
    #[command(subcommand)]
    Rig(Rig),
}

/// Which app: a workspace package or a crate anywhere, and its keys' values.
#[derive(Debug, Clone, Args)]
pub struct App {
    /// A workspace package [default: the app whose repository this is, else app-example]
    #[arg(short, long, value_name = "APP", conflicts_with = "manifest_path")]
    pub package: Option<String>,
    /// An app crate anywhere (as made by `cargo xtask new`)
    #[arg(long, value_name = "PATH/Cargo.toml")]
    pub manifest_path: Option<PathBuf>,
    /// A configuration key's value, checked against the runtime's and the app's keys
    /// before anything is built: a boot key's replaces the manifest's on the command line,
    /// a configure key's is fixed in the image; repeatable
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

impl App {
    pub fn options(&self) -> Result<build::Options> {
        let mut o = match (&self.manifest_path, &self.package, crate::util::app_root()) {
            (Some(m), _, _) => build::Options::standalone(m)?,
            (None, Some(p), _) => build::Options::new(p),
            // Run from an app's own repository: that app.
            (None, None, Some(app)) => build::Options::standalone(&app.join("Cargo.toml"))?,
            (None, None, None) => build::Options::new("app-example"),
        };
        o.sets = self.sets.clone();
        Ok(o)
    }
}

/// An app to build: which, and how.
#[derive(Debug, Clone, Args)]
pub struct AppArgs {
    #[command(flatten)]
    pub app: App,
    /// A debug build instead of the release build
    #[arg(long, overrides_with = "release")]
    pub debug: bool,
    /// The release build (the default)
    #[arg(long, overrides_with = "debug", hide = true)]
    pub release: bool,
}

impl AppArgs {
    pub fn options(&self) -> Result<build::Options> {
        let mut o = self.app.options()?;
        o.release = !self.debug;
        Ok(o)
    }
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub app: App,
    /// A Graphviz graph of the app, its devices and the runtime pieces they bring in
    #[arg(long)]
    pub dot: bool,
    /// The keys a built image carries (its schema notes) instead of the manifest's
    #[arg(long, value_name = "PATH", conflicts_with_all = ["package", "manifest_path", "sets", "dot"])]
    pub image: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub app: AppArgs,
    /// In the emulated machine: the guest's GUESTPORT (at network[0].ip) at
    /// 127.0.0.1:HOSTPORT; repeatable [default: 8080:80]
    #[arg(long, value_name = "HOSTPORT:GUESTPORT", value_parser = port_pair)]
    pub forward: Vec<run::PortPair>,
    /// No port forwarded
    #[arg(long, conflicts_with = "forward")]
    pub no_forward: bool,
}

impl RunArgs {
    /// `None`: nothing asked, the default applies.
    pub fn forwards(&self) -> Option<Vec<run::PortPair>> {
        match (self.no_forward, self.forward.is_empty()) {
            (true, _) => Some(vec![]),
            (false, true) => None,
            (false, false) => Some(self.forward.clone()),
        }
    }
}

fn port_pair(v: &str) -> Result<run::PortPair, String> {
    v.split_once(':')
        .and_then(|(h, g)| Some((h.parse().ok()?, g.parse().ok()?)))
        .filter(|&(h, g)| h > 0 && g > 0)
        .ok_or_else(|| "expected HOSTPORT:GUESTPORT, ports 1-65535".into())
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The crate's name (letters, digits, '-', '_'; starting with a letter)
    pub name: String,
    /// Where its directory goes
    #[arg(long, value_name = "PARENT", default_value = ".")]
    pub dir: PathBuf,
    /// What the app does
    #[arg(long, value_enum, default_value = "hello")]
    pub template: new::Template,
    /// The kernel from this git repository, pinned to the runtime checkout's HEAD [default:
    /// the checkout's remote origin; without one, --path]
    #[arg(long, value_name = "URL", conflicts_with = "path")]
    pub git: Option<String>,
    /// The kernel by path, this checkout's (builds on this machine only)
    #[arg(long)]
    pub path: bool,
}

/// A positive number.
fn positive() -> clap::builder::RangedU64ValueParser {
    clap::value_parser!(u64).range(1..)
}

#[derive(Debug, Clone, Copy, Args)]
pub struct Runs {
    /// Runs of each measure, per guest (the table shows the median)
    #[arg(long, value_name = "N", default_value_t = crate::bench::RUNS, value_parser = positive())]
    pub runs: u64,
}

#[derive(Debug, Subcommand)]
pub enum Bench {
    /// TCP throughput both ways (testapp test=net against Linux) and HTTP requests/s
    Net {
        /// MiB per transfer [default: 4]
        #[arg(long, value_name = "N", value_parser = positive())]
        mib: Option<u64>,
        #[command(flatten)]
        runs: Runs,
    },
    /// Sequential 1 MiB and random 4 KiB disk I/O (testapp test=bench-blk against Linux)
    Blk {
        /// MiB the I/O covers [default: 32]
        #[arg(long, value_name = "N", value_parser = positive())]
        mib: Option<u64>,
        #[command(flatten)]
        runs: Runs,
    },
    /// ab -c 1, 10, 100: app-example against nginx in the Linux guest
    Http {
        #[command(flatten)]
        runs: Runs,
    },
    /// xl save, xl restore, xl migrate and its downtime: app-example against Linux
    Lifecycle {
        #[command(flatten)]
        runs: Runs,
        /// app-example's memory [default: its manifest's]
        #[arg(long, value_name = "MIB", value_parser = positive())]
        memory: Option<u64>,
    },
    /// xl create to the first console byte and to ready, entry to main, xenstore requests
    /// and hypercalls: a hello app and app-example against Linux
    Boot {
        #[command(flatten)]
        runs: Runs,
    },
}

impl Bench {
    /// (benchmark, --mib, --runs, --memory)
    pub fn parts(&self) -> (&'static str, Option<u64>, u64, Option<u64>) {
        match *self {
            Bench::Net { mib, runs } => ("net", mib, runs.runs, None),
            Bench::Blk { mib, runs } => ("blk", mib, runs.runs, None),
            Bench::Http { runs } => ("http", None, runs.runs, None),
            Bench::Lifecycle { runs, memory } => ("lifecycle", None, runs.runs, memory),
            Bench::Boot { runs } => ("boot", None, runs.runs, None),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// cargo test over the host-testable crates, and the lints
    Host,
    /// images booted under plain QEMU without Xen
    Qemu,
    /// guests under real Xen in the emulated machine (E2E_ONLY=a,b picks tests)
    E2e,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The parts to run [default: all]
    #[arg(value_enum, value_name = "PART")]
    pub parts: Vec<Part>,
}

impl TestArgs {
    pub fn parts(&self) -> test::Parts {
        if self.parts.is_empty() {
            return test::Parts::ALL;
        }
        let has = |p| self.parts.contains(&p);
        test::Parts { host: has(Part::Host), qemu: has(Part::Qemu), e2e: has(Part::E2e) }
    }
}

#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// Seconds each target runs [default: 60, unless --runs is given]
    #[arg(long, value_name = "N", value_parser = positive())]
    pub secs: Option<u64>,
    /// Executions each target runs
    #[arg(long, value_name = "N", value_parser = positive())]
    pub runs: Option<u64>,
    /// Only these targets [default: all]
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
}

impl FuzzArgs {
    pub fn options(&self) -> fuzz::Options {
        fuzz::Options::new(self.secs, self.runs, self.targets.clone())
    }
}

#[derive(Debug, Subcommand)]
pub enum Rig {
    /// Build (or reuse) the emulated Xen machine's boot files
    Build,
    /// Boot the emulated Xen machine with an interactive dom0 shell (the last test run's
    /// exchange disk unpacked in /work)
    Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo xtask").chain(line.split_whitespace()))
    }

    fn command(line: &str) -> Command {
        parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}")).command.unwrap()
    }

    fn kind(line: &str) -> clap::error::ErrorKind {
        parse(line).map(|_| ()).unwrap_err().kind()
    }

    #[test]
    fn version_is_the_packages_with_the_revision() {
        for flag in ["--version", "-V"] {
            let e = parse(flag).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
            let text = e.to_string();
            assert!(text.starts_with(concat!("cargo xtask ", env!("CARGO_PKG_VERSION"))), "{text}");
            if let Some(rev) = crate::git::describe(&crate::util::root()) {
                assert!(text.contains(&format!(" (git {rev})")), "{text}");
            }
        }
    }

    #[test]
    fn clap_accepts_the_definition() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_is_the_overview() {
        assert!(parse("").unwrap().command.is_none());
        for help in ["help", "--help", "-h"] {
            let e = parse(help).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
            assert_eq!(e.to_string().trim_end(), HELP.trim_end());
        }
    }

    #[test]
    fn app_options() {
        let Command::Build(a) = command("build") else { panic!() };
        let o = a.options().unwrap();
        assert_eq!(
            (o.package.as_str(), o.release, o.manifest.is_none()),
            ("app-example", true, true)
        );
        let Command::Xl(a) = command("xl -p testapp --debug") else { panic!() };
        let o = a.options().unwrap();
        assert_eq!((o.package.as_str(), o.release), ("testapp", false));
        let Command::Build(a) = command("build --package testapp --debug --release") else {
            panic!()
        };
        assert!(a.options().unwrap().release);
        let toml = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let Command::Build(a) = command(&format!("build --manifest-path {toml}")) else { panic!() };
        assert_eq!(a.options().unwrap().package, "xtask");
        use clap::error::ErrorKind::*;
        assert_eq!(kind(&format!("build -p a --manifest-path {toml}")), ArgumentConflict);
        assert_eq!(kind("build -p"), InvalidValue);
        assert_eq!(kind("build --fast"), UnknownArgument);
        assert_eq!(kind("build extra"), UnknownArgument);
    }

    #[test]
    fn sets_are_kept_in_order_wherever_they_are() {
        let toml = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        for line in [
            format!("build --set a=1 --manifest-path {toml} --set b=2"),
            format!("xl --manifest-path {toml} --set a=1 --set b=2"),
            format!("run --set a=1 --set b=2 --manifest-path {toml} --no-forward"),
            format!("describe --set a=1 --manifest-path {toml} --set b=2"),
        ] {
            let o = match command(&line) {
                Command::Build(a) | Command::Xl(a) => a.options(),
                Command::Run(r) => r.app.options(),
                Command::Describe(d) => d.app.options(),
                other => panic!("{other:?}"),
            }
            .unwrap();
            assert_eq!((o.package.as_str(), o.sets), ("xtask", vec!["a=1".into(), "b=2".into()]));
        }
        let Command::Build(a) = command("build") else { panic!() };
        assert!(a.options().unwrap().sets.is_empty());
        assert_eq!(kind("build --set"), clap::error::ErrorKind::InvalidValue);
    }

    #[test]
    fn describe_options() {
        let Command::Describe(d) = command("describe -p testapp --set log=debug --dot") else {
            panic!()
        };
        assert!(d.dot && d.image.is_none());
        let o = d.app.options().unwrap();
        assert_eq!((o.package.as_str(), o.sets), ("testapp", vec!["log=debug".into()]));
        let Command::Describe(d) = command("describe --image target/x") else { panic!() };
        assert_eq!(d.image, Some(PathBuf::from("target/x")));
        assert!(!d.dot);
        use clap::error::ErrorKind::*;
        for bad in [
            "describe --image x -p testapp",
            "describe --image x --dot",
            "describe --image x --set log=debug",
        ] {
            assert_eq!(kind(bad), ArgumentConflict, "{bad}");
        }
        assert_eq!(kind("describe --image"), InvalidValue);
        assert_eq!(kind("describe --debug"), UnknownArgument);
    }

    #[test]
    fn run_forwards() {
        let forwards = |line: &str| match command(line) {
            Command::Run(r) => r.forwards(),
            other => panic!("{other:?}"),
        };
        assert_eq!(forwards("run"), None);
        assert_eq!(forwards("run --no-forward"), Some(vec![]));
        assert_eq!(
            forwards("run -p app-example --forward 8080:80 --forward 2222:22"),
            Some(vec![(8080, 80), (2222, 22)])
        );
        use clap::error::ErrorKind::*;
        for bad in [
            "run --forward 8080",
            "run --forward 0:80",
            "run --forward 80:x",
            "run --forward 70000:80",
        ] {
            assert_eq!(kind(bad), ValueValidation, "{bad}");
        }
        assert_eq!(kind("run --forward 1:2 --no-forward"), ArgumentConflict);
        assert_eq!(kind("run --forward"), InvalidValue);
    }

    #[test]
    fn new_takes_a_name_and_a_parent() {
        let Command::New(n) = command("new web --dir /tmp") else { panic!() };
        assert_eq!((n.name.as_str(), n.dir.to_str().unwrap()), ("web", "/tmp"));
        let Command::New(n) = command("new web") else { panic!() };
        assert_eq!(n.dir, PathBuf::from("."));
        assert_eq!((n.template, n.git, n.path), (new::Template::Hello, None, false));
        use clap::error::ErrorKind::*;
        assert_eq!(kind("new"), MissingRequiredArgument);
        assert_eq!(kind("new a b"), UnknownArgument);
    }

    #[test]
    fn new_takes_a_template_and_the_kernels_source() {
        let Command::New(n) = command("new web --template http --git file:///srv/rt") else {
            panic!()
        };
        assert_eq!(
            (n.template, n.git.as_deref(), n.path),
            (new::Template::Http, Some("file:///srv/rt"), false)
        );
        let Command::New(n) = command("new web --path") else { panic!() };
        assert!(n.path && n.git.is_none());
        use clap::error::ErrorKind::*;
        assert_eq!(kind("new web --git u --path"), ArgumentConflict);
        assert_eq!(kind("new web --template nginx"), InvalidValue);
        assert_eq!(kind("new web --git"), InvalidValue);
    }

    #[test]
    fn bench_options_per_benchmark() {
        let parts = |line: &str| match command(line) {
            Command::Bench(b) => b.parts(),
            other => panic!("{other:?}"),
        };
        assert_eq!(parts("bench net"), ("net", None, 5, None));
        assert_eq!(parts("bench net --mib 16 --runs 3"), ("net", Some(16), 3, None));
        assert_eq!(parts("bench blk --mib 64"), ("blk", Some(64), 5, None));
        assert_eq!(parts("bench http --runs 1"), ("http", None, 1, None));
        assert_eq!(parts("bench lifecycle --runs 2 --memory 64"), ("lifecycle", None, 2, Some(64)));
        assert_eq!(parts("bench boot --runs 3"), ("boot", None, 3, None));
        use clap::error::ErrorKind::*;
        assert_eq!(kind("bench"), DisplayHelpOnMissingArgumentOrSubcommand);
        assert_eq!(kind("bench disk"), InvalidSubcommand);
        assert_eq!(kind("bench net --runs 0"), ValueValidation);
        assert_eq!(kind("bench net --runs x"), ValueValidation);
        assert_eq!(kind("bench http --mib 4"), UnknownArgument);
    }

    #[test]
    fn test_parts() {
        let parts = |line: &str| match command(line) {
            Command::Test(t) => {
                let p = t.parts();
                (p.host, p.qemu, p.e2e)
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(parts("test"), (true, true, true));
        assert_eq!(parts("test host"), (true, false, false));
        assert_eq!(parts("test qemu e2e"), (false, true, true));
        assert_eq!(kind("test lint"), clap::error::ErrorKind::InvalidValue);
    }

    #[test]
    fn fuzz_options() {
        let options = |line: &str| match command(line) {
            Command::Fuzz(f) => f.options(),
            other => panic!("{other:?}"),
        };
        let o = options("fuzz");
        assert_eq!((o.secs, o.runs, o.targets.len()), (Some(60), None, 0));
        let o = options("fuzz --secs 300 netfront_responses");
        assert_eq!((o.secs, o.runs), (Some(300), None));
        assert_eq!(o.targets, ["netfront_responses"]);
        let o = options("fuzz --runs 1000000 a b");
        assert_eq!((o.secs, o.runs, o.targets.len()), (None, Some(1_000_000), 2));
        use clap::error::ErrorKind::*;
        assert_eq!(kind("fuzz --secs"), InvalidValue);
        assert_eq!(kind("fuzz --secs 0"), ValueValidation);
        assert_eq!(kind("fuzz --secs x"), ValueValidation);
        assert_eq!(kind("fuzz --fast"), UnknownArgument);
    }

    #[test]
    fn rig_commands() {
        assert!(matches!(command("rig build"), Command::Rig(Rig::Build)));
        assert!(matches!(command("rig shell"), Command::Rig(Rig::Shell)));
        assert_eq!(kind("rig"), clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
    }

    #[test]
    fn unknown_commands_are_refused() {
        assert_eq!(kind("no-such-command"), clap::error::ErrorKind::InvalidSubcommand);
    }

    /// The overview's entries (`  run [-p APP] ...`) and clap's commands are the same set,
    /// and every option an entry shows is one its command takes.
    #[test]
    fn the_overview_matches_the_commands() {
        let cli = Cli::command();
        let entries = HELP.split_once("\ncommands:\n").unwrap().1;
        let mut listed = Vec::new();
        for line in entries.lines() {
            let Some(entry) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) else {
                continue;
            };
            let mut words = entry.split_whitespace();
            let name = words.next().unwrap();
            if name == "help" {
                continue;
            }
            listed.push(name.to_string());
            let cmd = cli.find_subcommand(name).unwrap_or_else(|| panic!("no command {name}"));
            let words: Vec<&str> = words.collect();
            // A family's alternatives (`net|blk`, `build`) are its subcommands; an option
            // shown for them is taken by at least one.
            let mut cmds = vec![cmd];
            if cmd.has_subcommands() {
                cmds = words[0].split('|').map(|s| cmd.find_subcommand(s).unwrap()).collect();
            }
            for w in &words {
                let Some(long) = w.trim_start_matches('[').strip_prefix("--") else { continue };
                let long = long.trim_end_matches([']', '.']);
                let takes =
                    |c: &clap::Command| c.get_arguments().any(|a| a.get_long() == Some(long));
                assert!(cmds.iter().any(|c| takes(c)), "{name}: --{long} is not an option of it");
            }
        }
        let commands: Vec<String> =
            cli.get_subcommands().map(|c| c.get_name().to_string()).collect();
        for c in &commands {
            assert!(listed.contains(c), "the overview does not list {c}");
        }
    }
}
