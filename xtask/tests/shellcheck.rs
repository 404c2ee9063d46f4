//! Every shell script under xtask/src (dom0's /init and plan helpers, the Linux guest's
//! /init, the e2e suite's dom0 steps) is shellcheck-clean: no finding at any severity.
//! Each script names its dialect (`# shellcheck shell=...`): busybox sh is checked as dash.
//! So is the `.ci/run` a new app gets (its template is one of those scripts too).

use std::path::{Path, PathBuf};
use std::process::Command;

fn scripts(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scripts(&path, found);
        } else if path.extension().is_some_and(|e| e == "sh") {
            found.push(path);
        }
    }
}

#[test]
fn shell_scripts_are_shellcheck_clean() {
    let mut found = Vec::new();
    scripts(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
    found.sort();
    assert!(found.len() > 10, "too few scripts found: {found:?}");
    // -x: follow `source` directives (dom0's /init sources lib.sh).
    let out = Command::new("shellcheck").arg("-x").args(&found).output().unwrap_or_else(|e| {
        panic!(
            "cannot run shellcheck ({e}): install it (apt-get install shellcheck; \
             `cargo xtask test` installs the host packages in xtask/host-packages.txt)"
        )
    });
    assert!(
        out.status.success(),
        "shellcheck found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `.ci/run` a new app gets (`cargo xtask new`), as written.
#[test]
fn a_new_apps_ci_script_is_shellcheck_clean() {
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shellcheck-new-app");
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["new", "app", "--path", "--dir"])
        .arg(&parent)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new("shellcheck").arg(parent.join("app/.ci/run")).output().unwrap();
    assert!(
        out.status.success(),
        "shellcheck found problems in a new app's .ci/run:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
