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
kernel = {{ path = "{}" }}

# How the app runs as a Xen guest (see the runtime's README).
[package.metadata.unikernel]
memory = 32
cmdline = "log=info"

# A crate of its own, not a member of another workspace.
[workspace]
"#,
        kernel.display()
    )
}

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
