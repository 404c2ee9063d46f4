//! Where a new app's `kernel` dependency comes from: a commit of the runtime's repository
//! (`git` and `rev`), which builds anywhere that reaches the repository, or this checkout's
//! kernel crate by path, which builds on this machine only.

use crate::git;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The runtime's repository at one commit (a full sha).
    Git { url: String, rev: String },
    /// The kernel crate's directory.
    Path(PathBuf),
}

/// The source chosen, why, and what may stop cargo from fetching it.
#[derive(Debug)]
pub struct Choice {
    pub source: Source,
    pub why: String,
    pub warnings: Vec<String>,
}

impl Source {
    /// This checkout's kernel crate.
    pub fn local() -> Source {
        Source::Path(crate::util::root().join("kernel"))
    }

    /// The runtime's tool (its `xtask` crate) from the same place, as TOML keys: the app's
    /// tool crate (`xtask/` in the app) depends on it.
    pub fn tool_toml(&self) -> String {
        match self {
            Source::Git { .. } => self.toml(),
            Source::Path(kernel) => {
                let tool =
                    kernel.parent().map_or_else(|| kernel.join("../xtask"), |r| r.join("xtask"));
                format!("path = {}", quoted(&tool.to_string_lossy()))
            }
        }
    }

    /// The dependency's keys, as TOML (`git = "...", rev = "..."` or `path = "..."`).
    pub fn toml(&self) -> String {
        match self {
            Source::Git { url, rev } => format!("git = {}, rev = {}", quoted(url), quoted(rev)),
            Source::Path(p) => format!("path = {}", quoted(&p.to_string_lossy())),
        }
    }
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            c if c.is_control() => out += &format!("\\u{:04X}", c as u32),
            c => out.push(c),
        }
    }
    out + "\""
}

/// Chooses the source for the runtime checkout at `root`: by path with `--path`; else at
/// HEAD of `--git URL`, or of the checkout's remote `origin`; else (no remote) by path.
pub fn choose(root: &Path, git_url: Option<&str>, by_path: bool) -> Result<Choice> {
    let path = |why: &str| Choice {
        source: Source::Path(root.join("kernel")),
        why: why.into(),
        warnings: vec![],
    };
    if by_path {
        return Ok(path("--path"));
    }
    let (url, why) =
        match git_url {
            Some(url) => (cargo_url(url, &std::env::current_dir()?), "--git".to_string()),
            None => match git::remote_url(root, "origin") {
                Some(remote) => {
                    (cargo_url(&remote, root), "the runtime checkout's remote origin".into())
                }
                None => return Ok(path(
                    "the runtime's checkout has no remote origin; --git URL pins a commit instead",
                )),
            },
        };
    let Some(rev) = git::head(root) else {
        if git_url.is_some() {
            bail!(
                "--git: cannot pin the kernel to a commit: {} is not a git checkout \
                 (--path depends on it by path)",
                root.display()
            );
        }
        return Ok(path("the runtime's checkout has no commit to pin"));
    };
    let warnings = warnings(root, &url, &rev);
    Ok(Choice { source: Source::Git { url, rev }, why, warnings })
}

/// What may keep cargo from fetching `rev` from `url`: changes HEAD lacks, and a commit
/// that may not be in the repository at `url`.
fn warnings(root: &Path, url: &str, rev: &str) -> Vec<String> {
    let short = &rev[..rev.len().min(12)];
    let mut warnings = Vec::new();
    if git::has_changes(root) {
        warnings.push(format!(
            "the runtime's checkout has uncommitted changes: the app gets HEAD ({short}) \
             without them"
        ));
    }
    let reachable = match url.strip_prefix("file://") {
        // A repository on this machine: ask it.
        Some(path) => git::has_commit(Path::new(path), rev),
        // Elsewhere: the remote-tracking branches, as last fetched, are all we know.
        None => git::on_remote_branch(root, rev),
    };
    if !reachable {
        warnings.push(format!(
            "HEAD ({short}) may not be pushed to {url}: push it, or cargo cannot fetch the \
             kernel at that revision"
        ));
    }
    warnings
}

/// A git remote as cargo takes it: git's scp-like `user@host:path` becomes
/// `ssh://user@host/path`, a local path a `file://` URL (relative to `base`).
fn cargo_url(remote: &str, base: &Path) -> String {
    if remote.contains("://") {
        return remote.to_string();
    }
    // git's rule: a colon before any slash makes it scp-like.
    if let Some((host, path)) = remote.split_once(':') {
        if !host.is_empty() && !host.contains('/') {
            return format!("ssh://{host}/{}", path.trim_start_matches('/'));
        }
    }
    let path = std::path::absolute(base.join(remote)).unwrap_or_else(|_| base.join(remote));
    format!("file://{}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_become_urls_cargo_takes() {
        let base = Path::new("/src/app");
        assert_eq!(cargo_url("https://h/r.git", base), "https://h/r.git");
        assert_eq!(cargo_url("ssh://git@h/r.git", base), "ssh://git@h/r.git");
        assert_eq!(cargo_url("file:///srv/r.git", base), "file:///srv/r.git");
        assert_eq!(cargo_url("git@github.com:org/r.git", base), "ssh://git@github.com/org/r.git");
        assert_eq!(cargo_url("host:/srv/r.git", base), "ssh://host/srv/r.git");
        assert_eq!(cargo_url("/srv/r.git", base), "file:///srv/r.git");
        assert_eq!(cargo_url("../r.git", base), "file:///src/app/../r.git");
        assert_eq!(cargo_url("./a:b", base), "file:///src/app/a:b");
    }

    #[test]
    fn toml_strings_are_escaped() {
        let s = Source::Git { url: "file:///a \"b\"\\c".into(), rev: "0".repeat(40) };
        let t: toml::Table = format!("k = {{ {} }}", s.toml()).parse().unwrap();
        assert_eq!(t["k"]["git"].as_str(), Some("file:///a \"b\"\\c"));
        let s = Source::Path("/x/\u{7f}y".into());
        let t: toml::Table = format!("k = {{ {} }}", s.toml()).parse().unwrap();
        assert_eq!(t["k"]["path"].as_str(), Some("/x/\u{7f}y"));
    }

    #[test]
    fn path_when_asked() {
        let root = crate::util::root();
        let c = choose(&root, None, true).unwrap();
        assert_eq!(c.source, Source::Path(root.join("kernel")));
        assert!(c.warnings.is_empty());
    }

    /// `--git file://` to this very checkout: its HEAD, which that repository has.
    #[test]
    fn git_pins_head() {
        let root = crate::util::root();
        let Some(head) = git::head(&root) else { return }; // a source tarball
        let url = format!("file://{}", root.display());
        let c = choose(&root, Some(&url), false).unwrap();
        assert_eq!(c.source, Source::Git { url, rev: head });
        assert!(!c.warnings.iter().any(|w| w.contains("may not be pushed")), "{:?}", c.warnings);
        // A repository without that commit is warned about.
        let empty = std::env::temp_dir().join(format!("xtask-empty-repo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&empty);
        crate::util::run(
            std::process::Command::new("git").args(["init", "-q", "--bare"]).arg(&empty),
        )
        .unwrap();
        let c = choose(&root, Some(&format!("file://{}", empty.display())), false).unwrap();
        assert!(c.warnings.iter().any(|w| w.contains("may not be pushed")), "{:?}", c.warnings);
        std::fs::remove_dir_all(&empty).unwrap();
    }
}
