//! `cargo xtask`: builds unikernel images and tests them.
//!
//! ```text
//! cargo xtask build [-p APP] [--debug]   build an app's image (default: app-example)
//! cargo xtask test                       host tests, plain-QEMU boot tests, Xen end-to-end tests
//! ```

mod bench;
mod build;
mod describe;
mod e2e;
mod elf;
mod fuzz;
mod interrupt;
mod keys;
mod manifest;
mod new;
mod qemu;
mod rig;
mod run;
mod test;
mod util;
mod xl;

use anyhow::{bail, Result};
use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <command> [options]

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
  new NAME [--dir PARENT]   create an app crate NAME (in a directory of its own)
  xl [-p APP] [--debug]     build APP and write its xl config from its manifest
                            ([package.metadata.unikernel] in its Cargo.toml)
  build [-p APP] [--debug]  build APP (default app-example) into a PVH image and print its path
  describe [-p APP] [--dot] APP's devices and configuration keys (the runtime's and its own:
                            type, stage, default, the value the guest gets, doc); --dot: a
                            Graphviz graph of the app, its devices and the runtime pieces
  describe --image PATH     the keys a built image carries (its schema notes)
  bench net|blk|http|lifecycle [--mib N] [--runs N] [--memory MIB]
                            our guest against the Linux PVH guest in one boot of the
                            emulated machine: TCP throughput both ways and HTTP requests/s
                            (net, N MiB per transfer, default 4), sequential and 4 KiB random
                            disk I/O (blk, over N MiB, default 32), app-example against nginx
                            under ab (http), xl save, restore, migrate and its downtime
                            (lifecycle, app-example at MIB); medians of N runs (default 5),
                            ratios in target/bench/
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    interrupt::install();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<bool> {
    let Some((cmd, rest)) = args.split_first() else {
        print!("{HELP}");
        return Ok(true);
    };
    match cmd.as_str() {
        "build" => {
            let opts = build::Options::parse(rest)?;
            let image = build::build(&opts)?;
            image.describe()?;
            Ok(true)
        }
        "test" => test::run(test::Parts::parse(rest)?),
        "run" => run::run(rest),
        "bench" => bench::run(rest),
        "fuzz" => fuzz::run(&fuzz::Options::parse(rest)?),
        "new" => new::run(rest),
        "describe" => describe::run(rest),
        "xl" => {
            let opts = build::Options::parse(rest)?;
            let (_, _, file) = run::write_xl(&opts)?;
            println!("{}", file.display());
            Ok(true)
        }
        "rig" => match rest.first().map(String::as_str) {
            Some("build") => {
                util::ensure_host_tools()?;
                let _lock = rig::lock()?;
                rig::build()?;
                Ok(true)
            }
            Some("shell") => {
                util::ensure_host_tools()?;
                let _lock = rig::lock()?;
                let files = rig::build()?;
                // The last test run's exchange disk, if any, is unpacked in dom0's /work.
                let last = rig::dir().join("run/exchange.img");
                let exchange = last.exists().then_some(last);
                let how = rig::Boot { exchange, shell: true, ..rig::Boot::default() };
                rig::boot(&files, &how, &rig::dir().join("shell-serial.log"))?;
                Ok(true)
            }
            _ => bail!("usage: cargo xtask rig build|shell"),
        },
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(true)
        }
        other => bail!("unknown command {other:?}\n\n{HELP}"),
    }
}
