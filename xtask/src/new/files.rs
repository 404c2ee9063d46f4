//! The files of a new app: its Cargo.toml (written here, as it depends on the template and
//! the kernel's source), and the template files of `template/`, whose `{{name}}` is the
//! package's name and `{{crate}}` its library's.

use super::{Source, Template};

const HELLO_MAIN: &str = include_str!("template/hello_main.rs");
const HELLO_LIB: &str = include_str!("template/hello_lib.rs");
const HTTP_MAIN: &str = include_str!("template/http_main.rs");
const HTTP_LIB: &str = include_str!("template/http_lib.rs");
const HTTP_ROUTES: &str = include_str!("template/http_routes.rs");
const README: &str = include_str!("template/readme.md.in");
/// Shellcheck-clean as it is (xtask/tests/shellcheck.rs checks every .sh here).
const CI_RUN: &str = include_str!("template/ci_run.sh");
const GITHUB_CI: &str = include_str!("template/github_ci.yml");
const GITLAB_CI: &str = include_str!("template/gitlab_ci.yml");

/// (path in the crate, text) of every file of the app `name`.
pub fn render(
    name: &str,
    template: Template,
    kernel: &Source,
    toolchain: &str,
) -> Vec<(&'static str, String)> {
    let fill =
        |text: &str| text.replace("{{name}}", name).replace("{{crate}}", &name.replace('-', "_"));
    let mut files = vec![
        ("Cargo.toml", fill(&cargo_toml(name, template, kernel))),
        ("README.md", fill(&readme(template, kernel))),
        ("rust-toolchain.toml", toolchain.to_string()),
        (".gitignore", "/target\n/xtask/target\n".to_string()),
        (".cargo/config.toml", CARGO_CONFIG.to_string()),
        ("xtask/Cargo.toml", tool_toml(name, kernel)),
        ("xtask/src/main.rs", TOOL_MAIN.to_string()),
        (".ci/run", CI_RUN.to_string()),
        (".github/workflows/ci.yml", GITHUB_CI.to_string()),
        (".gitlab-ci.yml", GITLAB_CI.to_string()),
    ];
    match template {
        Template::Hello => {
            files.push(("src/main.rs", fill(HELLO_MAIN)));
            files.push(("src/lib.rs", fill(HELLO_LIB)));
        }
        Template::Http => {
            files.push(("src/main.rs", fill(HTTP_MAIN)));
            files.push(("src/lib.rs", fill(HTTP_LIB)));
            files.push(("src/routes.rs", fill(HTTP_ROUTES)));
        }
    }
    files
}

fn cargo_toml(name: &str, template: Template, kernel: &Source) -> String {
    let pinned = match kernel {
        Source::Git { .. } => {
            "# The runtime: its repository at one commit, which cargo fetches. To move to another\n\
             # version, set rev to that commit's full sha (pushed there) and run\n\
             # `cargo update -p kernel` (README.md says more)."
        }
        Source::Path(_) => {
            "# The runtime: the kernel crate of a checkout on this machine, which builds here only\n\
             # (README.md says how to pin a commit of the runtime's repository instead)."
        }
    };
    let (features, manifest, smoltcp) = match template {
        Template::Hello => ("", HELLO_CHECK, SMOLTCP_UNUSED),
        Template::Http => (r#", features = ["net"]"#, HTTP_MANIFEST, SMOLTCP),
    };
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"

# The app's logic, free of kernel calls: `cargo test` runs its unit tests on this machine.
[lib]
path = "src/lib.rs"

# The image's entry, built for the guest alone (`cargo xtask build`): nothing to test here.
[[bin]]
name = "{name}"
path = "src/main.rs"
test = false

[dependencies]
{pinned}
# Its drivers are features: `features = ["net"]` for kernel::net (netfront, smoltcp), "block"
# for kernel::block (blkfront); an image has only those its app enables.
kernel = {{ {source}{features} }}

# How the app runs as a Xen guest (see the runtime's README).
[package.metadata.unikernel]
memory = 32
cmdline = "log=info"
{manifest}
# A crate of its own, not a member of another workspace.
[workspace]
{PROFILE}{smoltcp}"#,
        source = kernel.toml(),
    )
}

/// `cargo xtask` in the app's directory: the app's tool crate.
const CARGO_CONFIG: &str = r#"# `cargo xtask ...` (build, run, test, xl, describe), run from this directory: the runtime's
# tool at the revision xtask/Cargo.toml pins (built once, on first use, into xtask/target).
[alias]
xtask = "run --quiet --manifest-path xtask/Cargo.toml --"
"#;

/// The app's tool crate: the runtime's `xtask` library, from where the kernel comes.
fn tool_toml(name: &str, kernel: &Source) -> String {
    format!(
        r#"# The runtime's tool, `cargo xtask` here (the alias in .cargo/config.toml): the runtime's
# xtask crate from the same place and revision as the kernel dependency in ../Cargo.toml;
# keep the two the same when moving to another version.
[package]
name = "{name}-xtask"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
xtask = {{ {source} }}

# A crate of its own, not a member of the app's workspace.
[workspace]
"#,
        source = kernel.tool_toml(),
    )
}

const TOOL_MAIN: &str = r#"//! `cargo xtask` for this app: the runtime's tool (see Cargo.toml).

fn main() -> std::process::ExitCode {
    xtask::main()
}
"#;

/// The hello template's check under Xen (`cargo xtask test`).
const HELLO_CHECK: &str = r#"
# What `cargo xtask test` checks when it boots the image under Xen: the greeting.
[package.metadata.unikernel.check]
console = "Hello from {{name}}!"
"#;

/// The http template's key and vif.
const HTTP_MANIFEST: &str = r#"
# Its key, read with kernel::config(): `port=8080` on the command line serves there.
[package.metadata.unikernel.keys.port]
type = "u16"
min = 1
default = 80
doc = "the TCP port HTTP is served on"
stage = "boot"

# Its vif, on the bridge xenbr0 (the emulated Xen machine's is 10.0.0.1/24). With a static
# address `cargo xtask run` forwards the host's 127.0.0.1:8080 to its port 80; without ip and
# gateway it asks DHCP.
[[package.metadata.unikernel.network]]
bridge = "xenbr0"
ip = "10.0.0.20/24"
gateway = "10.0.0.1"

# What `cargo xtask test` checks when it boots the image under Xen: the app says it serves,
# and a GET of / at the vif's address (from dom0) answers 200.
[package.metadata.unikernel.check]
console = "serving HTTP on port"
http = "/"
status = 200
"#;

/// The runtime workspace's `[profile.release]` (size over speed), which a crate outside the
/// workspace does not inherit: without it a new app's image was 546,152 bytes stripped
/// (cargo's default opt-level 3, no LTO) instead of 353,640. A test keeps it equal to the
/// workspace's, its per-package part (smoltcp's) as [`SMOLTCP`], or [`SMOLTCP_UNUSED`].
const PROFILE: &str = r#"
# Size over speed, as the runtime's own workspace builds its images (see its Cargo.toml).
[profile.release]
opt-level = "z"
lto = "fat"
codegen-units = 1
debug = false
"#;
/// For an app with `net`.
const SMOLTCP: &str = r#"# The TCP/IP stack (kernel's "net" feature) at "s", as the runtime's workspace keeps it fast.
[profile.release.package.smoltcp]
opt-level = "s"
"#;
/// For an app without it, where cargo would warn that the name matches no package.
const SMOLTCP_UNUSED: &str = r#"# With kernel's "net" feature, as the runtime's workspace keeps its TCP/IP stack fast (without
# it cargo warns that the name matches no package):
# [profile.release.package.smoltcp]
# opt-level = "s"
"#;

/// The README's text for `template` and `kernel`.
fn readme(template: Template, kernel: &Source) -> String {
    let kernel = match kernel {
        Source::Git { url, rev } => format!(
            "`kernel = {{ git = \"{url}\", rev = \"{rev}\" }}`: the runtime's repository at one \
             commit, which cargo fetches (once, into its cache), here and in CI. To move to another \
             version of the runtime (its CHANGELOG.md says what changed): set `rev` to that \
             commit's full sha (`git rev-parse HEAD` in the runtime's checkout; it must be \
             pushed to that repository) here and in `xtask/Cargo.toml` (the tool of the same \
             revision), then run `cargo update -p kernel` (Cargo.lock records the commit too)."
        ),
        Source::Path(p) => format!(
            "`kernel = {{ path = \"{}\" }}`: the kernel crate of a runtime checkout on this \
             machine, as it is now, uncommitted changes included (`xtask/Cargo.toml` takes the \
             tool from the same checkout). No other machine has that path, so CI elsewhere \
             cannot build the app this way. To pin a commit of the \
             runtime's repository instead, write `kernel = {{ git = \"URL\", rev = \"FULL-SHA\" \
             }}` (what `cargo xtask new --git URL` writes, from HEAD of the runtime's checkout) \
             with the URL of a repository that has that commit, and run `cargo update -p \
             kernel`; to move to another version later, change `rev` the same way.",
            p.display()
        ),
    };
    let (about, modules, run, devices, keys) = match template {
        Template::Hello => (
            "A unikernel application for Xen, made by the runtime's `cargo xtask new`: it \
             greets, says which domain it runs as, and powers off.",
            "",
            "",
            ", and no devices: a network (`[[package.metadata.unikernel.network]]`) needs the \
             kernel's `net` feature, a disk (`[[package.metadata.unikernel.disk]]`) its `block` \
             feature",
            "The app declares no keys of its own yet.",
        ),
        Template::Http => (
            "A minimal HTTP service for Xen, made by the runtime's `cargo xtask new --template \
             http`: it listens on its `port` key (80 by default) and answers `GET /` with 200 \
             and a greeting, any other request with 404 and a malformed one with 400 \
             (src/routes.rs), one request per connection.",
            ", src/routes.rs",
            " The guest's vif has the static address 10.0.0.20/24 on the bridge `xenbr0`, and \
             in the emulated machine `cargo xtask run` forwards the host's 127.0.0.1:8080 to \
             its port 80: `curl http://127.0.0.1:8080/` gets the greeting (for another port, \
             `--forward 8080:PORT`).",
            ", and its network: one vif on the bridge `xenbr0` with a static address (`ip`, \
             `gateway`; without them the guest asks DHCP), which the kernel's `net` feature \
             drives",
            "Its one key, `port` (u16, default 80), is the TCP port it serves: \
             `cmdline = \"log=info port=8080\"` serves on 8080.",
        ),
    };
    let text = README
        .replace("{{about}}", about)
        .replace("{{modules}}", modules)
        .replace("{{run}}", run)
        .replace("{{devices}}", devices)
        .replace("{{keys}}", keys)
        .replace("{{kernel}}", &kernel);
    // Paragraphs filled in are wrapped again; headings and code blocks stay as they are.
    let blocks: Vec<String> = text
        .split("\n\n")
        .map(|b| if b.starts_with('#') || b.starts_with("```") { b.to_string() } else { wrap(b) })
        .collect();
    blocks.join("\n\n").trim_end().to_string() + "\n"
}

/// Wraps a paragraph at 92 columns (the README's width), never inside a code span.
fn wrap(text: &str) -> String {
    let mut tokens: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match tokens.last_mut() {
            Some(open) if open.matches('`').count() % 2 == 1 => {
                open.push(' ');
                open.push_str(word);
            }
            _ => tokens.push(word.to_string()),
        }
    }
    let mut out = String::new();
    let mut line = 0;
    for token in tokens {
        if line > 0 && line + 1 + token.len() > 92 {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        line += token.len();
        out += &token;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use std::path::Path;

    fn release_profile(cargo_toml: &str) -> toml::Value {
        let doc: toml::Table = cargo_toml.parse().unwrap();
        doc["profile"]["release"].clone()
    }

    fn sources() -> [Source; 2] {
        [
            Source::local(),
            Source::Git { url: "https://example.org/rt.git".into(), rev: "a".repeat(40) },
        ]
    }

    #[test]
    fn a_new_app_gets_the_workspace_release_profile() {
        let root = crate::util::root();
        let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let workspace = release_profile(&workspace);
        // With `net`, all of it, smoltcp's part included.
        let http = cargo_toml("demo", Template::Http, &Source::local());
        assert_eq!(release_profile(&http), workspace);
        // Without, the per-package settings (smoltcp's) are there as a comment.
        let hello = cargo_toml("demo", Template::Hello, &Source::local());
        let mut expected = workspace.clone();
        let package = expected.as_table_mut().unwrap().remove("package").unwrap();
        assert_eq!(release_profile(&hello), expected);
        for (name, settings) in package.as_table().unwrap() {
            assert!(hello.contains(&format!("# [profile.release.package.{name}]")), "{name}");
            for (k, v) in settings.as_table().unwrap() {
                let v = format!("{:?}", v.as_str().expect("a string setting"));
                assert!(hello.contains(&format!("# {k} = {v}")), "{k}");
            }
        }
    }

    /// Every template's manifest is one `cargo xtask` takes, with the kernel's source and
    /// the features its devices need; every placeholder is filled.
    #[test]
    fn every_template_makes_a_valid_app() {
        for template in [Template::Hello, Template::Http] {
            for source in sources() {
                let files = render("my-app", template, &source, "[toolchain]\n");
                let text = |path: &str| &files.iter().find(|(p, _)| *p == path).unwrap().1;
                let toml = text("Cargo.toml");
                let m = Manifest::parse(toml, Path::new("/nowhere")).unwrap();
                let doc: toml::Table = toml.parse().unwrap();
                let kernel = doc["dependencies"]["kernel"].as_table().unwrap();
                let features =
                    kernel.get("features").and_then(|f| f.as_array()).map_or(0, Vec::len);
                match template {
                    Template::Hello => assert!(m.networks.is_empty() && features == 0),
                    Template::Http => {
                        assert_eq!(
                            (m.networks.len(), kernel["features"][0].as_str()),
                            (1, Some("net"))
                        );
                        assert!(m.keys.encode().contains("port"), "{}", m.keys.encode());
                    }
                }
                match &source {
                    Source::Git { url, rev } => {
                        assert_eq!(
                            (kernel["git"].as_str(), kernel["rev"].as_str()),
                            (Some(&**url), Some(&**rev))
                        );
                        assert!(text("README.md").contains(&format!("rev = \"{rev}\"")));
                    }
                    Source::Path(p) => {
                        assert_eq!(kernel["path"].as_str(), Some(&*p.to_string_lossy()));
                    }
                }
                assert!(text("src/main.rs").contains("use my_app::"));
                // `{{name}}`, not GitHub's `${{ secrets.X }}`.
                for (path, text) in &files {
                    let left = text
                        .match_indices("{{")
                        .any(|(i, _)| text[i + 2..].starts_with(|c: char| c.is_ascii_alphabetic()));
                    assert!(!left, "{path}: a placeholder left:\n{text}");
                }
                let readme = text("README.md");
                assert!(readme.lines().all(|l| l.len() <= 92 || l.contains("rev = ")), "{readme}");
            }
        }
    }
}
