//! `cargo xtask describe --dot` is a graph Graphviz reads: Debian's `dot -Tsvg` renders it
//! with no error and no warning, for app-example and for an app with two vifs and a key
//! section of its own. Fails (does not skip) when dot is missing: graphviz is in
//! xtask/host-packages.txt, which `cargo xtask test` and .ci/run install.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn describe_dot(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("describe")
        .args(args)
        .arg("--dot")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "describe {args:?} --dot failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Renders `graph` with `dot -Tsvg`; panics on any error or warning.
fn render(what: &str, graph: &str) {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run dot ({e}): install it (apt-get install graphviz; \
                 `cargo xtask test` installs the host packages in xtask/host-packages.txt)"
            )
        });
    child.stdin.take().unwrap().write_all(graph.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "dot -Tsvg on {what}'s graph: {}\n{stderr}\ngraph:\n{graph}",
        out.status
    );
    let svg = String::from_utf8_lossy(&out.stdout);
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "{what}: not an SVG:\n{svg}");
}

#[test]
fn describe_dot_renders_with_graphviz() {
    let graph = describe_dot(&["-p", "app-example"]);
    assert!(graph.starts_with("digraph \"app-example\" {"), "{graph}");
    render("app-example", &graph);

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("graphviz-app");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("Cargo.toml");
    std::fs::write(
        &manifest,
        "[package]\nname = \"two-vifs\"\nversion = \"0.1.0\"\n\
         [package.metadata.unikernel]\ncmdline = \"log=info\"\n\
         [package.metadata.unikernel.keys.token]\ntype = \"secret\"\nsection = \"auth\"\n\
         doc = \"an \\\"API\\\" token\"\n\
         [[package.metadata.unikernel.network]]\nbridge = \"xenbr0\"\n\
         mac = \"00:16:3e:00:00:10\"\n\
         [[package.metadata.unikernel.network]]\nbridge = \"xenbr1\"\nip = \"10.0.1.2/24\"\n",
    )
    .unwrap();
    let graph = describe_dot(&["--manifest-path", manifest.to_str().unwrap()]);
    assert!(graph.contains("\"vif1\""), "{graph}");
    render("two-vifs", &graph);
}
