//! `cargo xtask new` as a user runs it: the files it writes (CI files that are valid YAML
//! and call `.ci/run`, sources rustfmt leaves alone), the kernel dependency pinned to this
//! checkout's HEAD with `--git file://`, and the options it refuses. (Building and booting
//! the apps is the qemu layer's: xtask/src/test.rs.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A fresh directory for this test's apps.
fn parent(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("new-app").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn xtask_new(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).arg("new").args(args).output().unwrap()
}

/// Makes the app `name` under `parent`; panics with the command's output if it fails.
fn made(name: &str, parent: &Path, args: &[&str]) -> (PathBuf, String) {
    let out = xtask_new(&[&[name, "--dir", parent.to_str().unwrap()], args].concat());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    (parent.join(name), text)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn yaml(path: &Path) -> Yaml {
    let docs = YamlLoader::load_from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    assert_eq!(docs.len(), 1, "{}", path.display());
    docs.into_iter().next().unwrap()
}

/// The lines of a job's script: GitHub's steps' `run`, or GitLab's `script`.
fn commands(job: &Yaml) -> Vec<String> {
    let mut lines = Vec::new();
    for step in job["steps"].as_vec().into_iter().flatten() {
        lines.extend(step["run"].as_str().map(|r| r.lines().map(String::from).collect::<Vec<_>>()));
    }
    let script = job["script"].as_vec().into_iter().flatten();
    lines.extend(script.map(|l| vec![l.as_str().expect("a script line").to_string()]));
    lines.concat().into_iter().map(|l| l.trim().to_string()).collect()
}

#[test]
fn ci_files_are_yaml_that_call_ci_run() {
    let parent = parent("ci");
    for template in ["hello", "http"] {
        let (dir, _) = made(template, &parent, &["--template", template, "--path"]);
        let github = yaml(&dir.join(".github/workflows/ci.yml"));
        let gitlab = yaml(&dir.join(".gitlab-ci.yml"));
        // The tests: .ci/run, and nothing else to keep in step with it.
        assert!(github["on"]["push"].is_null() && !github["on"]["pull_request"].is_badvalue());
        assert_eq!(commands(&github["jobs"]["test"]), ["bash .ci/run"]);
        assert_eq!(commands(&gitlab["test"]), ["bash .ci/run"]);
        // Deploys: only with the secrets, and with the runtime's (future) deploy command.
        let deploy = "cargo xtask deploy --host \"$DEPLOY_HOST\"";
        let job = &github["jobs"]["deploy"];
        assert_eq!(job["needs"].as_str(), Some("test"));
        assert_eq!(job["env"]["DEPLOY_HOST"].as_str(), Some("${{ secrets.DEPLOY_HOST }}"));
        for step in job["steps"].as_vec().unwrap() {
            let gate = step["if"].as_str().unwrap_or_default();
            assert!(
                gate.contains("env.DEPLOY_HOST != ''") && gate.contains("env.DEPLOY_SSH_KEY != ''")
            );
        }
        assert!(commands(job).contains(&deploy.to_string()), "{:?}", commands(job));
        let job = &gitlab["deploy"];
        let rule = job["rules"][0]["if"].as_str().unwrap();
        assert!(rule.contains("$DEPLOY_HOST") && rule.contains("$DEPLOY_SSH_KEY"), "{rule}");
        assert!(commands(job).contains(&deploy.to_string()), "{:?}", commands(job));
        // .ci/run itself: executable, bash, the summary line.
        let run = dir.join(".ci/run");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&run).unwrap().permissions().mode() & 0o111, 0o111);
        let text = read(&run);
        assert!(text.starts_with("#!/usr/bin/env bash\n") && text.contains("set -euo pipefail"));
        assert!(text.contains("cargo xtask test") && text.contains("== summary: "));
    }
}

/// `--git file://...` pins the kernel to this checkout's HEAD, the full sha.
#[test]
fn git_pins_the_kernel_to_head() {
    let root = root();
    let head = Command::new("git").arg("-C").arg(&root).args(["rev-parse", "HEAD"]).output();
    let Some(head) = head.ok().filter(|o| o.status.success()) else { return }; // no checkout
    let head = String::from_utf8(head.stdout).unwrap().trim().to_string();
    let url = format!("file://{}", root.display());
    let parent = parent("git");
    for template in ["hello", "http"] {
        let (dir, out) = made(template, &parent, &["--template", template, "--git", &url]);
        let doc: toml::Table = read(&dir.join("Cargo.toml")).parse().unwrap();
        let kernel = doc["dependencies"]["kernel"].as_table().unwrap();
        assert_eq!(kernel["git"].as_str(), Some(url.as_str()));
        assert_eq!(kernel["rev"].as_str(), Some(head.as_str()));
        assert_eq!(head.len(), 40);
        assert!(kernel.get("path").is_none());
        assert!(out.contains(&format!("kernel: by git, {url} at {head} (--git)")), "{out}");
    }
    // --path: this checkout's kernel crate.
    let (dir, out) = made("bypath", &parent, &["--path"]);
    let doc: toml::Table = read(&dir.join("Cargo.toml")).parse().unwrap();
    let path = root.join("kernel");
    assert_eq!(doc["dependencies"]["kernel"]["path"].as_str(), path.to_str());
    assert!(out.contains(&format!("kernel: by path, {} (--path)", path.display())), "{out}");
}

#[test]
fn conflicting_or_bad_options_are_refused() {
    let parent = parent("refused");
    let dir = parent.to_str().unwrap();
    for (args, says) in [
        (&["a", "--dir", dir, "--git", "file:///x", "--path"][..], "cannot be used with"),
        (&["a", "--dir", dir, "--template", "nginx"], "invalid value 'nginx'"),
        (&["1a", "--dir", dir, "--path"], "is not a crate name"),
    ] {
        let out = xtask_new(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 0, "a refused app left files");
}

/// The sources of every template are as rustfmt writes them.
#[test]
fn sources_are_rustfmt_clean() {
    let parent = parent("fmt");
    // rustfmt's defaults, as in an app's own directory, not this workspace's rustfmt.toml
    // (rustfmt looks for one in the parent directories).
    std::fs::write(parent.join("rustfmt.toml"), "").unwrap();
    for template in ["hello", "http"] {
        let (dir, _) =
            made(&format!("fmt-{template}"), &parent, &["--template", template, "--path"]);
        let sources: Vec<PathBuf> =
            std::fs::read_dir(dir.join("src")).unwrap().map(|e| e.unwrap().path()).collect();
        let out = Command::new("rustfmt")
            .args(["--check", "--edition", "2021"])
            .args(&sources)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
}
