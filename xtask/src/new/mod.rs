//! `cargo xtask new NAME [--dir PARENT] [--template hello|http] [--git URL | --path]`: a new
//! app crate, in a directory of its own, that depends on `kernel` alone and builds, runs
//! and tests with `cargo xtask ...` in that directory (its tool crate `xtask/` is the
//! runtime's tool) or `cargo xtask ... --manifest-path` from the runtime's checkout. Every app gets its logic in a library with host
//! unit tests, a README, CI files (`.ci/run` and the GitHub and GitLab files that call it),
//! the runtime's toolchain file and its size-tuned release profile.

mod files;
pub mod kernel;

use anyhow::{bail, Result};
use clap::ValueEnum;
use std::path::{Path, PathBuf};

pub use kernel::Source;

/// What the new app does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Template {
    /// Greets, says which domain it runs as, and powers off
    Hello,
    /// A minimal HTTP service on kernel::net: a listener on its `port` key, a vif
    Http,
}

pub fn run(
    name: &str,
    parent: &Path,
    template: Template,
    git: Option<&str>,
    path: bool,
) -> Result<bool> {
    let root = crate::util::root();
    let choice = kernel::choose(&root, git, path)?;
    let dir = create(name, parent, template, &choice.source)?;
    println!("created {} (template {})", dir.display(), template_name(template));
    match &choice.source {
        Source::Git { url, rev } => println!("kernel: by git, {url} at {rev} ({})", choice.why),
        Source::Path(p) => println!("kernel: by path, {} ({})", p.display(), choice.why),
    }
    for w in &choice.warnings {
        eprintln!("warning: {w}");
    }
    println!("in {} (the runtime's tool comes with the app: xtask/):", dir.display());
    println!("  cargo xtask run    build the image and run it under Xen");
    println!("  cargo xtask test   unit tests, the image, and its check under Xen");
    println!("  bash .ci/run       what CI runs");
    Ok(true)
}

fn template_name(t: Template) -> String {
    t.to_possible_value().map_or_else(String::new, |v| v.get_name().to_string())
}

/// Writes the crate `name` under `parent` from `template`, its kernel from `kernel`;
/// returns its directory.
pub fn create(name: &str, parent: &Path, template: Template, kernel: &Source) -> Result<PathBuf> {
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
    let root = crate::util::root();
    let toolchain = std::fs::read_to_string(root.join("rust-toolchain.toml"))?;
    for (path, text) in files::render(name, template, kernel, &toolchain) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap())?;
        std::fs::write(&path, text)?;
    }
    make_executable(&dir.join(".ci/run"))?;
    Ok(dir)
}

fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
