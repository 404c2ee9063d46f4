//! Small helpers: the workspace root, running commands with clear errors.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The workspace root (the parent of xtask/).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().expect("xtask lives in the workspace").to_path_buf()
}

/// The `cargo` that runs us (keeps the pinned toolchain).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cmd` with inherited output; an error names the command if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

/// Host programs the emulated machine and the QEMU tests need, with their Debian packages.
const HOST_TOOLS: &[(&str, &str)] =
    &[("qemu-system-x86_64", "qemu-system-x86"), ("cpio", "cpio"), ("strip", "binutils")];

/// Installs missing host tools with apt-get (as CI does), or says what to install.
pub fn ensure_host_tools() -> Result<()> {
    let on_path = |p: &str| {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
    };
    let missing: Vec<&str> =
        HOST_TOOLS.iter().filter(|(p, _)| !on_path(p)).map(|(_, pkg)| *pkg).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("installing Debian packages: {}", missing.join(" "));
    let install = |cmd: &mut Command| run(cmd.env("DEBIAN_FRONTEND", "noninteractive"));
    install(Command::new("apt-get").args(["update", "-qq"]))
        .and_then(|_| {
            install(Command::new("apt-get").args(["install", "-y", "-qq"]).args(&missing))
        })
        .with_context(|| {
            format!(
                "could not install {} (run as root, or install them yourself)",
                missing.join(" ")
            )
        })
}
