//! Compile-fail tests of the public surface: an app (safe code, built for the guest target)
//! cannot call the raw grant, hypercall, shared-page or memory-init functions. Each case is
//! a small app crate checked with `cargo check --target x86_64-unknown-none`; a case passes
//! when rustc refuses it with the error named, and a control app that uses the typed
//! handles must compile (so a refusal is not some unrelated breakage).

use std::path::{Path, PathBuf};
use std::process::Command;

/// (case, body of `async fn main`, the error rustc must give).
const REFUSED: &[(&str, &str, &str)] = &[
    (
        "raw-grant",
        "let _ = kernel::xen::gnttab::grant_access(0, 0x1000, false);",
        "module `gnttab` is private",
    ),
    (
        "raw-hypercall",
        "let _ = unsafe { kernel::xen::hypercall::hypercall(29, 0, 0, 0, 0, 0) };",
        "module `hypercall` is private",
    ),
    (
        "shared-page",
        "let _ = unsafe { kernel::xen::shared_page::SharedPage::new(0x1000, 4096) };",
        "module `shared_page` is private",
    ),
    ("memory-init", "let _ = kernel::mm::init(&[]);", "function `init` is private"),
    ("event-channels", "kernel::xen::event::send(1);", "module `event` is private"),
    ("xen-init", "kernel::xen::init();", "function `init` is private"),
    ("xen-detect", "let _ = kernel::xen::detect();", "function `detect` is private"),
];

/// What apps may do: grant through the owning handle, read the heap's counters.
const ALLOWED: &str = "let page = kernel::grant::GrantedPage::new(0, true).ok();
    let _ = page.map(|p| p.gref());
    let _ = kernel::grant::stats();
    let _ = kernel::mm::stats();";

fn write_app(dir: &Path, name: &str, body: &str) {
    let kernel = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             [dependencies]\nkernel = {{ path = {:?} }}\n\n[workspace]\n",
            kernel.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        format!("#![no_std]\n#![no_main]\n\nkernel::main!(main);\n\nasync fn main() {{\n    {body}\n}}\n"),
    )
    .unwrap();
}

/// `cargo check` of the app in `dir` for the guest target: (success, stderr).
fn check(dir: &Path, target_dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO"))
        .args(["check", "--quiet", "--target", "x86_64-unknown-none"])
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("running cargo");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn apps_cannot_reach_raw_xen_or_memory_functions() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("public-surface");
    let target_dir = root.join("target");
    let control = root.join("allowed");
    write_app(&control, "allowed", ALLOWED);
    let (ok, err) = check(&control, &target_dir);
    assert!(ok, "the control app, which uses only the typed handles, must compile:\n{err}");

    let mut failures = Vec::new();
    for (case, body, expected) in REFUSED {
        let dir = root.join(case);
        write_app(&dir, case, body);
        match check(&dir, &target_dir) {
            (true, _) => failures.push(format!("{case}: compiled, but must be refused")),
            (false, err) if !err.contains(expected) => {
                failures.push(format!("{case}: refused without {expected:?}:\n{err}"))
            }
            (false, _) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
