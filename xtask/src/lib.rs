//! `cargo xtask`: builds unikernel images, writes their xl files, runs and tests them.
//! The commands and their options: [`cli`] (`cargo xtask help`).
//!
//! A library as well as the runtime's own `cargo xtask`: an app in a repository of its own
//! gets a small tool crate (`xtask/` in the app, made by `cargo xtask new`) that depends on
//! this one at the runtime's pinned revision and calls [`main`], so that `cargo xtask ...`
//! works there with nothing but the app's repository.

mod app_test;
mod bench;
mod build;
mod cli;
mod describe;
mod e2e;
mod elf;
mod fuzz;
mod git;
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

use anyhow::Result;
use clap::Parser;
use cli::{Cli, Command, Rig, HELP};
use std::process::ExitCode;

/// Runs the tool on this process's command line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    interrupt::install();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<bool> {
    let Some(command) = cli.command else {
        print!("{HELP}");
        return Ok(true);
    };
    match command {
        Command::Build(app) => {
            let image = build::build(&app.options()?)?;
            image.describe()?;
            Ok(true)
        }
        Command::Test(t) => match util::app_root() {
            // In an app's own repository: that app's tests (its parts are the runtime's).
            Some(app) if t.parts.is_empty() => app_test::run(&app),
            Some(app) => anyhow::bail!(
                "in an app's repository ({}) `cargo xtask test` runs the app's own tests, \
                 which take no parts",
                app.display()
            ),
            None => test::run(t.parts()),
        },
        Command::Run(r) => run::run(&r.app.options()?, r.forwards()),
        Command::Bench(b) => {
            let (what, mib, runs, memory) = b.parts();
            bench::run(what, mib, runs, memory)
        }
        Command::Fuzz(f) => fuzz::run(&f.options()),
        Command::New(n) => new::run(&n.name, &n.dir, n.template, n.git.as_deref(), n.path),
        Command::Describe(d) => match &d.image {
            Some(image) => describe::image(image),
            None => describe::app(&d.app.options()?, d.dot),
        },
        Command::Xl(app) => {
            let (_, _, file) = run::write_xl(&app.options()?)?;
            println!("{}", file.display());
            Ok(true)
        }
        Command::Rig(Rig::Build) => {
            util::ensure_host_tools()?;
            let _lock = rig::lock()?;
            rig::build()?;
            Ok(true)
        }
        Command::Rig(Rig::Shell) => {
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
    }
}
