//! Debian packages for the emulated Xen machine: resolved with `apt-cache`, fetched with
//! `apt-get download` into `target/rig/debs`, unpacked with `dpkg-deb -x`. Nothing is
//! installed on the host.

use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Packages taken whole; their library dependencies are added by [`resolve`].
pub const TOOLS: &[&str] = &[
    "xen-hypervisor-4.17-amd64",
    "xen-utils-4.17",
    "xen-utils-common",
    "xenstore-utils",
    "busybox-static",
    // The hotplug scripts in /etc/xen/scripts are bash scripts.
    "bash",
    // `xl` loads libgcc_s.so.1 at run time (pthread_cancel).
    "libgcc-s1",
    // HTTP client for plans (keep-alive, timings, many URLs per run; busybox wget has none).
    "curl",
    // Forwards ports from QEMU's user-mode network to guests (`cargo xtask run`).
    "socat",
    // ApacheBench, the load generator of the `load` tests and `cargo xtask bench http`.
    "apache2-utils",
    // The Linux guest's web server for `cargo xtask bench http`.
    "nginx",
    // Timestamped pings at 10 ms (busybox ping has neither): `bench lifecycle`'s downtime.
    "iputils-ping",
];

/// Library packages the resolver would follow but no program in the machine loads. The
/// initramfs check ([`super::initramfs`]) proves every program's shared objects are there.
const UNNEEDED: &[&str] = &[
    // SASL's Berkeley DB plugin (libdb5.3, 1.8 MB), dlopen()ed by SASL logins only; curl's
    // LDAP support links libsasl2 but HTTP never uses it.
    "libsasl2-modules-db",
];

/// The Debian kernel behind `linux-image-amd64`: dom0 and the Linux yardstick guest.
pub fn kernel_package() -> Result<String> {
    let out = apt(&["apt-cache", "depends", "linux-image-amd64"])?;
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-amd64"))
        .map(str::to_string)
        .context("apt-cache names no kernel behind linux-image-amd64")
}

/// Runs an apt command; if the package lists are missing (a fresh machine), runs
/// `apt-get update` once and retries.
fn apt(args: &[&str]) -> Result<String> {
    let run = || Command::new(args[0]).args(&args[1..]).env("LC_ALL", "C").output();
    let mut out = run().with_context(|| format!("running {}", args.join(" ")))?;
    if !out.status.success() {
        eprintln!("rig: {} failed; refreshing package lists (apt-get update)", args.join(" "));
        crate::util::run(Command::new("apt-get").args(["update", "-qq"]))
            .context("apt-get update failed (needs root and Debian's archive)")?;
        out = run()?;
    }
    if !out.status.success() {
        bail!("{} failed:\n{}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The tools plus the library packages they depend on, transitively (only `lib*`
/// dependencies are followed: the dom0 needs the binaries' shared objects, not python).
pub fn resolve(kernel: &str) -> Result<BTreeSet<String>> {
    let mut all: BTreeSet<String> = TOOLS.iter().map(|s| s.to_string()).collect();
    all.insert(kernel.to_string());
    let mut frontier: Vec<String> = TOOLS.iter().map(|s| s.to_string()).collect();
    while !frontier.is_empty() {
        let mut args = vec!["apt-cache", "depends", "--no-recommends", "--no-suggests"];
        args.extend(frontier.iter().map(String::as_str));
        let out = apt(&args)?;
        frontier = out
            .lines()
            .filter_map(|l| l.trim().trim_start_matches('|').strip_prefix("Depends: "))
            .filter(|p| !p.starts_with('<'))
            .map(|p| p.split(':').next().unwrap_or(p).to_string())
            .filter(|p| p.starts_with("lib") || p == "zlib1g")
            .filter(|p| !UNNEEDED.contains(&p.as_str()))
            .filter(|p| !all.contains(p))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        all.extend(frontier.iter().cloned());
    }
    Ok(all)
}

/// The archive's file name of each package (it carries the version, so it keys the cache).
pub fn file_names(packages: &BTreeSet<String>) -> Result<Vec<String>> {
    let mut args = vec!["apt-get", "download", "--print-uris"];
    args.extend(packages.iter().map(String::as_str));
    let out = apt(&args)?;
    let names: Vec<String> =
        out.lines().filter_map(|l| l.split_whitespace().nth(1)).map(str::to_string).collect();
    if names.len() != packages.len() {
        bail!(
            "apt-get download --print-uris named {} files for {} packages",
            names.len(),
            packages.len()
        );
    }
    Ok(names)
}

/// Downloads what `debs` lacks; returns the paths of all the packages' files.
pub fn download(names: &[String], debs: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(debs)?;
    // A package's file is named PACKAGE_VERSION_ARCH.deb.
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !debs.join(n).exists())
        .filter_map(|n| n.split('_').next())
        .collect();
    if !missing.is_empty() {
        eprintln!("rig: downloading {} Debian packages (apt-get download)", missing.len());
        let out = Command::new("apt-get")
            .arg("download")
            .args(&missing)
            .current_dir(debs)
            .output()
            .context("running apt-get download")?;
        if !out.status.success() {
            bail!("apt-get download failed:\n{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    Ok(names.iter().map(|n| debs.join(n)).collect())
}

/// Unpacks every package into `dir` (emptied first).
pub fn extract(files: &[PathBuf], dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    for f in files {
        crate::util::run(Command::new("dpkg-deb").arg("-x").arg(f).arg(dir))
            .with_context(|| format!("unpacking {}", f.display()))?;
    }
    Ok(())
}
