//! `cargo xtask new NAME [--dir PARENT]`: a new app crate, in a directory of its own, that
//! depends on `kernel` alone and builds and runs with `cargo xtask ... --manifest-path`.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

const MAIN: &str = r#"//! A unikernel application: built with `cargo xtask build --manifest-path Cargo.toml`
//! (from the runtime's checkout), run with `cargo xtask run --manifest-path ...`.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

kernel::main!(main);

async fn main() {
    kernel::println!("Hello from {NAME}!");
    if let Ok(domid) = kernel::xenstore::read("domid").await {
        kernel::println!("{NAME} runs as domain {domid}");
    }
}
"#;

fn cargo_toml(name: &str, kernel: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"

[dependencies]
# The runtime's drivers are features: `features = ["net"]` for kernel::net (netfront, smoltcp),
# "block" for kernel::block (blkfront); an image has only those its app enables.
kernel = {{ path = "{}" }}

# How the app runs as a Xen guest (see the runtime's README).
[package.metadata.unikernel]
memory = 32
cmdline = "log=info"

# A crate of its own, not a member of another workspace.
[workspace]
{PROFILE}"#,
        kernel.display()
    )
    .replace("{PROFILE}", PROFILE)
}

/// The runtime workspace's `[profile.release]` (size over speed), which a crate outside the
/// workspace does not inherit: without it a new app's image was 546,152 bytes stripped
/// (cargo's default opt-level 3, no LTO) instead of 353,640. A test keeps it equal to the
/// workspace's (its per-package part, for smoltcp, as a comment).
const PROFILE: &str = r#"
# Size over speed, as the runtime's own workspace builds its images (see its Cargo.toml).
[profile.release]
opt-level = "z"
lto = "fat"
codegen-units = 1
debug = false
# With kernel's "net" feature, as the runtime's workspace keeps its TCP/IP stack fast (without
# it cargo warns that the name matches no package):
# [profile.release.package.smoltcp]
# opt-level = "s"
"#;

pub fn run(name: &str, parent: &Path) -> Result<bool> {
    let dir = create(name, parent)?;
    println!("created {}", dir.display());
    println!("build: cargo xtask build --manifest-path {}", dir.join("Cargo.toml").display());
    println!("run:   cargo xtask run --manifest-path {}", dir.join("Cargo.toml").display());
    Ok(true)
}

/// Writes the crate `name` under `parent`; returns its directory.
pub fn create(name: &str, parent: &Path) -> Result<PathBuf> {
    let valid = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!("{name:?} is not a crate name (letters, digits, '-', '_'; starting with a letter)");
    }
    let dir = std::path::absolute(parent.join(name))?;
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    std::fs::create_dir_all(dir.join("src"))?;
    let root = crate::util::root();
    std::fs::write(dir.join("Cargo.toml"), cargo_toml(name, &root.join("kernel")))?;
    std::fs::write(dir.join("src/main.rs"), MAIN.replace("{NAME}", name))?;
    std::fs::copy(root.join("rust-toolchain.toml"), dir.join("rust-toolchain.toml"))?;
    std::fs::write(dir.join(".gitignore"), "/target\n")?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release_profile(cargo_toml: &str) -> toml::Value {
        let doc: toml::Table = cargo_toml.parse().unwrap();
        doc["profile"]["release"].clone()
    }

    #[test]
    fn a_new_app_gets_the_workspace_release_profile() {
        let root = crate::util::root();
        let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let app = cargo_toml("demo", &root.join("kernel"));
        // The workspace's per-package settings (smoltcp's) are in a new app as a comment.
        let mut expected = release_profile(&workspace);
        let package = expected.as_table_mut().unwrap().remove("package").unwrap();
        assert_eq!(release_profile(&app), expected);
        for (name, settings) in package.as_table().unwrap() {
            assert!(app.contains(&format!("# [profile.release.package.{name}]")), "{name}");
            for (k, v) in settings.as_table().unwrap() {
                let v = format!("{:?}", v.as_str().expect("a string setting"));
                assert!(app.contains(&format!("# {k} = {v}")), "{k}");
            }
        }
    }
}
