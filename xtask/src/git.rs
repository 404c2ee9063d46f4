//! What git says about a checkout (the runtime's, for `--version` and for the kernel
//! dependency `cargo xtask new` writes). Every question has an answer without git: `None`
//! or `false` when git is missing or the directory is not a checkout.

use std::path::Path;
use std::process::Command;

/// `git -C dir ARGS`' output, trimmed, when it succeeds.
fn output(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// HEAD abbreviated, with `+modified` when tracked files have uncommitted changes.
pub fn describe(dir: &Path) -> Option<String> {
    // --exclude='*': the commit alone, not a tag's name.
    output(dir, &["describe", "--always", "--abbrev=7", "--exclude=*", "--dirty=+modified"])
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_checkout_there_is_no_answer() {
        let dir = std::env::temp_dir().join(format!("xtask-git-none-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(describe(&dir), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
