//! Every shell script under xtask/src (dom0's /init and plan helpers, the Linux guest's
//! /init, the e2e suite's dom0 steps) is shellcheck-clean: no finding at any severity.
//! Each script names its dialect (`# shellcheck shell=...`): busybox sh is checked as dash.

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
