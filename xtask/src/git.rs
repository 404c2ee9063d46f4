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

/// The full sha of HEAD.
pub fn head(dir: &Path) -> Option<String> {
    output(dir, &["rev-parse", "--verify", "HEAD^{commit}"]).filter(|s| !s.is_empty())
}

/// HEAD abbreviated, with `+modified` when tracked files have uncommitted changes.
pub fn describe(dir: &Path) -> Option<String> {
    // --exclude='*': the commit alone, not a tag's name.
    output(dir, &["describe", "--always", "--abbrev=7", "--exclude=*", "--dirty=+modified"])
        .filter(|s| !s.is_empty())
}

/// Uncommitted changes, untracked files included (HEAD lacks them too).
pub fn has_changes(dir: &Path) -> bool {
    output(dir, &["status", "--porcelain"]).is_some_and(|s| !s.is_empty())
}

/// The URL of a remote, as configured.
pub fn remote_url(dir: &Path, remote: &str) -> Option<String> {
    output(dir, &["remote", "get-url", remote]).filter(|s| !s.is_empty())
}

/// Whether the repository at `dir` (a work tree or a bare repository) has commit `rev`.
pub fn has_commit(dir: &Path, rev: &str) -> bool {
    output(dir, &["cat-file", "-e", &format!("{rev}^{{commit}}")]).is_some()
}

/// Whether a remote-tracking branch (as last fetched) contains `rev`: a hint that it was
/// pushed, not a proof.
pub fn on_remote_branch(dir: &Path, rev: &str) -> bool {
    output(dir, &["branch", "--remotes", "--contains", rev]).is_some_and(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_checkout_there_is_no_answer() {
        let dir = std::env::temp_dir().join(format!("xtask-git-none-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!((head(&dir), describe(&dir), remote_url(&dir, "origin")), (None, None, None));
        assert!(!has_changes(&dir) && !has_commit(&dir, "HEAD") && !on_remote_branch(&dir, "HEAD"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The runtime's own checkout (CI runs in a clone): HEAD is a full sha it has.
    #[test]
    fn the_runtime_checkout_has_its_head() {
        let root = crate::util::root();
        let Some(sha) = head(&root) else { return }; // a source tarball: nothing to check
        assert_eq!(sha.len(), 40, "{sha}");
        assert!(sha.bytes().all(|b| b.is_ascii_hexdigit()), "{sha}");
        assert!(has_commit(&root, &sha));
        assert!(describe(&root).unwrap().starts_with(&sha[..7]));
    }
}
