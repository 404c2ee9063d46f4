//! `cargo xtask`: builds unikernel images and tests them.
//!
//! ```text
//! cargo xtask build [-p APP] [--debug]   build an app's image (default: app-example)
//! cargo xtask test                       host tests, plain-QEMU boot tests, Xen end-to-end tests
//! ```

mod build;
mod qemu;
mod test;
mod util;

use anyhow::{bail, Result};
use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <command> [options]

commands:
  build [-p APP] [--debug]  build APP (default app-example) into a PVH image and print its path
  test                      run every test: host tests, plain-QEMU boot tests
  help                      this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
        "test" => {
            if let Some(a) = rest.first() {
                bail!("`cargo xtask test` takes no arguments (got {a:?})");
            }
            test::run()
        }
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(true)
        }
        other => bail!("unknown command {other:?}\n\n{HELP}"),
    }
}
