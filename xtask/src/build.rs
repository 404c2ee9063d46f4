//! Building an application crate into a PVH image: `cargo build` for x86_64-unknown-none
//! with the static relocation model and the runtime's linker script.

use crate::elf::{self, Drivers};
use crate::{manifest, util};
use anyhow::{bail, Context, Result};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const TARGET: &str = "x86_64-unknown-none";

#[derive(Debug, Clone)]
pub struct Options {
    pub package: String,
    /// An app crate outside the workspace, by its Cargo.toml.
    pub manifest: Option<PathBuf>,
    pub release: bool,
    /// `--set KEY=VALUE`, checked by `keys::apply`.
    pub sets: Vec<String>,
}

impl Options {
    pub fn new(package: &str) -> Self {
        Options { package: package.to_string(), manifest: None, release: true, sets: vec![] }
    }

    /// An app crate in a directory of its own.
    pub fn standalone(cargo_toml: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(cargo_toml)
            .with_context(|| format!("reading {}", cargo_toml.display()))?;
        let doc: toml::Table =
            text.parse().with_context(|| format!("{} is not valid TOML", cargo_toml.display()))?;
        let name = doc
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .with_context(|| format!("{}: no package.name", cargo_toml.display()))?;
        Ok(Options {
            package: name.to_string(),
            manifest: Some(std::path::absolute(cargo_toml)?),
            release: true,
            sets: vec![],
        })
    }
}

/// A built image.
#[derive(Debug, Clone)]
pub struct Image {
    pub package: String,
    pub path: PathBuf,
    /// The drivers the image has (its `unikernel` note).
    pub drivers: Drivers,
}

impl Image {
    /// Prints where the image is and how big it is.
    pub fn describe(&self) -> Result<()> {
        let bytes = std::fs::metadata(&self.path)?.len();
        print!("{}: {} ({} bytes", self.package, self.path.display(), bytes);
        match stripped_size(&self.path) {
            Ok(s) => print!(", {s} stripped"),
            Err(e) => print!("; stripped size unknown: {e:#}"),
        }
        println!("; drivers: {})", self.drivers);
        Ok(())
    }
}

/// `-C` flags every image is built with.
fn rustflags() -> Vec<String> {
    let script = util::root().join("linker/pvh.ld");
    vec![
        // Loaded at its link address and never relocated: no PIE, no GOT indirection.
        "-Crelocation-model=static".into(),
        // Frame pointers make the crash reports' backtraces possible.
        "-Cforce-frame-pointers=yes".into(),
        format!("-Clink-arg=-T{}", script.display()),
    ]
}

/// Builds `opts.package` for the PVH target and returns the image; its manifest and
/// `opts.sets` are checked first.
pub fn build(opts: &Options) -> Result<Image> {
    let manifest = crate::keys::load(opts)?;
    let dir = opts.manifest.as_ref().map_or_else(util::root, |m| m.parent().unwrap().into());
    util::ensure_target(&dir, TARGET)?;
    let mut cmd = util::cargo();
    match &opts.manifest {
        None => cmd.current_dir(util::root()).args(["build", "-p", &opts.package]),
        // From the app's directory, so that its own rust-toolchain.toml applies.
        Some(m) => cmd.current_dir(m.parent().unwrap()).arg("build").arg("--manifest-path").arg(m),
    };
    cmd.args(["--target", TARGET, "--message-format", "json-render-diagnostics"]);
    if opts.release {
        cmd.arg("--release");
    }
    // CARGO_ENCODED_RUSTFLAGS applies to the target only (build scripts keep theirs) and wins
    // over a RUSTFLAGS the user may have set.
    cmd.env("CARGO_ENCODED_RUSTFLAGS", rustflags().join("\x1f")).env_remove("RUSTFLAGS");
    // The app's keys (configure-time values fixed) for kernel::main!'s schema note.
    cmd.env("UNIKERNEL_APP_KEYS", manifest.keys.encode());
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().context("could not run cargo")?;
    let mut path = None;
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line?;
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin"))
            && msg["target"]["name"] == opts.package.as_str()
        {
            if let Some(exe) = msg["executable"].as_str() {
                path = Some(PathBuf::from(exe));
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("building {} failed", opts.package);
    }
    let path = path.with_context(|| format!("cargo built no binary named {}", opts.package))?;
    let drivers = elf::drivers(&std::fs::read(&path)?)
        .with_context(|| format!("reading the drivers note of {}", path.display()))?;
    let (networks, disks) = manifest::declared_devices(&manifest_path(opts)?)?;
    check_drivers(&opts.package, drivers, networks, disks)?;
    Ok(Image { package: opts.package.clone(), path, drivers })
}

/// Builds `opts` (with its `--set`s) and keeps the image as `target/images/NAME`, out of
/// cargo's way: the next build of the same package (other configure-time values) writes
/// cargo's file again. Build variants before the plain image of their package.
pub fn build_variant(opts: &Options, name: &str) -> Result<Image> {
    let image = build(opts)?;
    let dir = util::work_dir().join("images");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    std::fs::copy(&image.path, &path)
        .with_context(|| format!("copying {} to {}", image.path.display(), path.display()))?;
    Ok(Image { package: name.to_string(), path, drivers: image.drivers })
}

/// An image must have a driver for every kind of device its manifest declares: without it
/// the device would be attached and never used. (A driver without a declared device is
/// fine: devices are also attached later, `xl network-attach`, or by a test's own xl file.)
fn check_drivers(package: &str, drivers: Drivers, networks: usize, disks: usize) -> Result<()> {
    let missing = |kind: &str, n: usize, feature: &str| {
        anyhow::anyhow!(
            "{package}: its manifest declares {n} {kind}{} ([[package.metadata.unikernel.{kind}]]) \
             but the image has no {kind} driver: enable the kernel's `{feature}` feature \
             (kernel = {{ ..., features = [\"{feature}\"] }} in its Cargo.toml)",
            if n == 1 { "" } else { "s" }
        )
    };
    if networks > 0 && !drivers.net {
        return Err(missing("network", networks, "net"));
    }
    if disks > 0 && !drivers.block {
        return Err(missing("disk", disks, "block"));
    }
    Ok(())
}

/// Size of the image without symbols (what a deployment needs), via binutils' `strip`.
pub fn stripped_size(path: &Path) -> Result<u64> {
    let out = path.with_extension("stripped");
    let status = Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&out)
        .arg(path)
        .status()
        .context("running strip (binutils)")?;
    if !status.success() {
        bail!("strip failed");
    }
    let size = std::fs::metadata(&out)?.len();
    std::fs::remove_file(&out)?;
    Ok(size)
}

/// The Cargo.toml of the app `opts` names.
pub fn manifest_path(opts: &Options) -> Result<PathBuf> {
    if let Some(m) = &opts.manifest {
        return Ok(m.clone());
    }
    let package = opts.package.as_str();
    let out = util::cargo()
        .current_dir(util::root())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("running cargo metadata")?;
    anyhow::ensure!(out.status.success(), "cargo metadata failed");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    meta["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == package))
        .and_then(|p| p["manifest_path"].as_str())
        .map(PathBuf::from)
        .with_context(|| format!("no package {package} in the workspace"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_device_without_its_driver_is_refused() {
        let none = Drivers::default();
        let e = check_drivers("demo", none, 1, 0).unwrap_err().to_string();
        assert!(e.contains("declares 1 network (") && e.contains("`net` feature"), "{e}");
        let e = check_drivers("demo", Drivers { net: true, block: false }, 1, 2).unwrap_err();
        assert!(e.to_string().contains("declares 2 disks ("), "{e}");
        check_drivers("demo", Drivers { net: true, block: true }, 1, 2).unwrap();
        // Drivers for devices attached later are allowed.
        check_drivers("demo", Drivers { net: true, block: true }, 0, 0).unwrap();
        check_drivers("demo", none, 0, 0).unwrap();
    }
}
