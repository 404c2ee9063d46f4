//! Small helpers: the workspace root, running commands with clear errors.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The workspace root (the parent of xtask/).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().expect("xtask lives in the workspace").to_path_buf()
}

/// The app project the tool runs in when it runs from an app's own repository (through the
/// tool crate `cargo xtask new` puts in it): the nearest directory at or above the current
/// one whose Cargo.toml has `[package.metadata.unikernel]`, unless it is one of the runtime
/// workspace's own apps. `None` in the runtime's checkout, where apps are named with `-p` or
/// `--manifest-path`.
pub fn app_root() -> Option<PathBuf> {
    // Asked by every command's defaults and each path under work_dir(); the answer cannot
    // change during a run (the tool never changes its directory).
    static APP: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    APP.get_or_init(find_app_root).clone()
}

fn find_app_root() -> Option<PathBuf> {
    let root = std::path::absolute(root()).ok()?;
    let cwd = std::env::current_dir().ok()?;
    let app = cwd.ancestors().find(|d| is_app(&d.join("Cargo.toml")))?;
    // The workspace's own apps (app-example, testapp) are the runtime's; an app made under
    // its target/ (as the tests make them) is one of its own.
    if app.starts_with(&root) && !app.starts_with(root.join("target")) {
        return None;
    }
    Some(app.to_path_buf())
}

/// Whether `manifest` is an app's: a package with a `[package.metadata.unikernel]` table.
fn is_app(manifest: &std::path::Path) -> bool {
    let Ok(text) = std::fs::read_to_string(manifest) else { return false };
    let Ok(doc) = text.parse::<toml::Table>() else { return false };
    doc.get("package").and_then(|p| p.get("metadata")).and_then(|m| m.get("unikernel")).is_some()
}

/// Where the tool keeps what it makes (the emulated machine's files, image copies): the
/// runtime's `target/`, or, run from an app's repository, that app's `target/xtask/` (the
/// runtime's checkout is then cargo's copy of a git dependency, not a place to write).
pub fn work_dir() -> PathBuf {
    match app_root() {
        Some(app) => app.join("target/xtask"),
        None => root().join("target"),
    }
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

/// Host programs (or, as absolute paths, files) the tests and the emulated machine need,
/// with their Debian packages: `xtask/host-packages.txt`, which `.ci/run` reads too.
const HOST_PACKAGES: &str = include_str!("../host-packages.txt");

/// The (program or file, package) pairs of [`HOST_PACKAGES`].
fn host_tools() -> impl Iterator<Item = (&'static str, &'static str)> {
    HOST_PACKAGES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .map(|(tool, pkg)| (tool.trim(), pkg.trim()))
}

/// Installs missing host tools with apt-get (as CI does), or says what to install.
pub fn ensure_host_tools() -> Result<()> {
    let on_path = |p: &str| {
        if p.starts_with('/') {
            return std::path::Path::new(p).exists();
        }
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
    };
    let missing: Vec<&str> =
        host_tools().filter(|(p, _)| !on_path(p)).map(|(_, pkg)| pkg).collect();
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

/// Adds the guest target (`x86_64-unknown-none`) to the toolchain that builds in `dir` when
/// it lacks it: rustup installs a toolchain's targets only when it installs the toolchain,
/// so one that was there before (or installed with auto-install off) may not have it.
pub fn ensure_target(dir: &std::path::Path, target: &str) -> Result<()> {
    let out = Command::new("rustc").current_dir(dir).args(["--print", "sysroot"]).output();
    let Ok(out) = out else { return Ok(()) };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || sysroot.join("lib/rustlib").join(target).is_dir() {
        return Ok(());
    }
    eprintln!("installing the Rust target {target} (rustup target add)");
    run(Command::new("rustup").current_dir(dir).args(["target", "add", target]))
        .with_context(|| format!("the toolchain lacks {target}: rustup target add {target}"))
}

#[cfg(test)]
mod tests {
    /// Every line of the package list is a tool and a package (a typo would silently drop
    /// a package from both installers).
    #[test]
    fn host_packages_parse() {
        let lines =
            super::HOST_PACKAGES.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        for line in lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words.len(), 2, "xtask/host-packages.txt: {line:?} is not TOOL PACKAGE");
        }
        let tools: Vec<_> = super::host_tools().collect();
        assert!(tools.contains(&("shellcheck", "shellcheck")), "{tools:?}");
        assert!(tools.contains(&("dot", "graphviz")), "{tools:?}");
        assert!(tools.contains(&("qemu-system-x86_64", "qemu-system-x86")), "{tools:?}");
    }
}
