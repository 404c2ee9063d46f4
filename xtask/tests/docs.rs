//! The documents stay true to the repository: the commands the README lists are the tool's
//! own (and every one of the tool's is listed), the options the documents show are the
//! commands' own, and every repository file a document or a comment of the emulated
//! machine's sources names exists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Commands whose first argument picks what they do (`rig build`, `bench net`).
const FAMILIES: &[&str] = &["rig", "bench"];

/// The commands `cargo xtask help` lists: the first word of each entry under "commands:"
/// (with the second for a family, each of its `a|b` alternatives).
fn help_commands() -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).arg("help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let entries = help.split_once("\ncommands:\n").expect("a commands: section").1;
    let mut commands = BTreeSet::new();
    for line in entries.lines() {
        // Entries are indented by two spaces, their continuation lines by more.
        let Some(entry) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) else {
            continue;
        };
        let mut words = entry.split_whitespace();
        let command = words.next().unwrap();
        if FAMILIES.contains(&command) {
            for sub in words.next().unwrap().split('|') {
                commands.insert(format!("{command} {sub}"));
            }
        } else {
            commands.insert(command.to_string());
        }
    }
    commands
}

/// The commands a document names as `cargo xtask COMMAND` (with the second word for a
/// family).
fn mentioned_commands(text: &str) -> BTreeSet<String> {
    let mut commands = BTreeSet::new();
    for (_, rest) in text.match_indices("cargo xtask ").map(|(i, _)| text.split_at(i + 12)) {
        let word = |s: &str| -> String {
            s.chars().take_while(|c| c.is_ascii_lowercase() || *c == '-').collect()
        };
        let command = word(rest);
        // `cargo xtask --version` is an option of the tool, not a command.
        if command.is_empty() || command.starts_with('-') {
            continue;
        }
        if FAMILIES.contains(&command.as_str()) {
            let sub = word(rest[command.len()..].trim_start_matches(' '));
            if !sub.is_empty() {
                commands.insert(format!("{command} {sub}"));
                continue;
            }
        }
        commands.insert(command);
    }
    commands
}

#[test]
fn readme_lists_the_tools_commands() {
    let help = help_commands();
    assert!(help.contains("test") && help.contains("rig shell"), "{help:?}");
    let readme = mentioned_commands(&read(&root().join("README.md")));
    let families: Vec<String> = FAMILIES.iter().map(|f| f.to_string()).collect();
    let unknown: Vec<_> =
        readme.iter().filter(|c| !help.contains(*c) && !families.contains(c)).collect();
    assert!(unknown.is_empty(), "README.md names commands `cargo xtask help` lacks: {unknown:?}");
    let missing: Vec<_> = help.iter().filter(|c| !readme.contains(*c)).collect();
    assert!(missing.is_empty(), "README.md does not mention: {missing:?}");
    // The other documents' commands exist too.
    for doc in &DOCUMENTS[1..] {
        let named = mentioned_commands(&read(&root().join(doc)));
        let unknown: Vec<_> =
            named.iter().filter(|c| !help.contains(*c) && !families.contains(c)).collect();
        assert!(unknown.is_empty(), "{doc} names commands `cargo xtask help` lacks: {unknown:?}");
    }
    // And the tool refuses what it does not list.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).arg("no-such-command").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"));
}

/// The documents CI and a newcomer follow.
const DOCUMENTS: &[&str] = &["README.md", "TESTING.md", ".ci/run"];

/// `cargo xtask COMMAND --help` (a family's COMMAND is two words).
fn command_help(command: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(command.split(' '))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo xtask {command} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Every command has its own `--help`, and every option a document shows with a command
/// (`cargo xtask fuzz --secs 20`, `cargo xtask bench net [--mib N]`) is in it.
#[test]
fn documented_options_exist() {
    for command in help_commands().into_iter().filter(|c| c != "help") {
        let help = command_help(&command);
        assert!(help.contains(&format!("Usage: cargo xtask {command}")), "{command}: {help}");
    }
    let mut checked = 0;
    for doc in DOCUMENTS {
        let text = read(&root().join(doc));
        for (i, _) in text.match_indices("cargo xtask ") {
            let line = text[i + 12..].lines().next().unwrap_or("");
            // The invocation ends with its code span, a comment, a pipe or a string.
            let line = line.split(['`', '#', '|', '"', ';']).next().unwrap();
            let command = mentioned_commands(&format!("cargo xtask {line}"));
            let Some(command) = command.first() else { continue };
            let options: Vec<&str> = line
                .split_whitespace()
                .map(|w| w.trim_start_matches('[').trim_end_matches([']', '.', ',', ')']))
                .filter(|w| w.starts_with("--"))
                .collect();
            if options.is_empty() {
                continue;
            }
            let help = command_help(command);
            for o in options {
                assert!(
                    help.contains(&format!("{o} ")) || help.contains(&format!("{o}\n")),
                    "{doc}: `cargo xtask {command} {o}`: not an option of cargo xtask {command}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} documented options found");
}

/// The tool's own options a document shows (`cargo xtask --version`) are in `cargo xtask
/// help`, and work.
#[test]
fn documented_tool_options_exist() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).arg("help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let mut checked = 0;
    for doc in DOCUMENTS {
        let text = read(&root().join(doc));
        for (i, _) in text.match_indices("cargo xtask -") {
            let option: String = text[i + 12..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            assert!(
                help.contains(&option),
                "{doc}: `cargo xtask {option}`: not in `cargo xtask help`"
            );
            let out = Command::new(env!("CARGO_BIN_EXE_xtask")).arg(&option).output().unwrap();
            assert!(out.status.success(), "{doc}: `cargo xtask {option}` failed");
            checked += 1;
        }
    }
    assert!(checked >= 1, "README.md shows no `cargo xtask --version`");
}

/// Every file of the repository (relative paths), without build output and git's files.
fn repo_files(dir: &Path, rel: &Path, found: &mut BTreeSet<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let rel = rel.join(&name);
        if entry.path().is_dir() {
            found.insert(rel.join(""));
            repo_files(&entry.path(), &rel, found);
        } else {
            found.insert(rel);
        }
    }
}

/// Extensions of the files documents name.
const EXTENSIONS: &[&str] = &["md", "rs", "sh", "toml", "c", "ld", "xl", "txt", "S"];

/// Names that look like repository files but are not: made at run time, or examples.
const NOT_REPO_FILES: &[&str] = &[
    "plan.sh",   // generated for each run of the emulated machine
    "state.img", // the manifest example's disk, in an app's crate
    "run.lock",  // target/rig/run.lock
    "routes.rs", // in an app made by `cargo xtask new --template http`
];

/// The comments of a source file (`//` and `/* */` in Rust and C, `#` in shell), or all
/// of a document.
fn comments(path: &Path, text: &str) -> String {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mut out = String::new();
    for line in text.lines() {
        let comment = match ext {
            "rs" | "c" => line.split_once("//").map(|(_, c)| c).or_else(|| {
                let t = line.trim_start();
                (t.starts_with("/*") || t.starts_with('*')).then_some(t)
            }),
            "sh" => line.split_once('#').map(|(_, c)| c).filter(|_| !line.contains("$#")),
            _ => Some(line),
        };
        out += comment.unwrap_or("");
        out.push('\n');
    }
    out
}

/// Words of `text` that name files or directories: with a known extension, or a path
/// under one of the repository's top-level directories.
fn file_names<'a>(text: &'a str, top: &BTreeSet<String>) -> Vec<&'a str> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    text.split(|c| !is_name(c))
        .map(|w| w.trim_end_matches(['.', ',']))
        .filter(|w| {
            let ext = w.rsplit_once('.');
            let has_ext = ext.is_some_and(|(stem, e)| !stem.is_empty() && EXTENSIONS.contains(&e));
            let under_top = w.split_once('/').is_some_and(|(first, _)| top.contains(first));
            has_ext || under_top
        })
        .collect()
}

#[test]
fn documents_name_files_that_exist() {
    let root = root();
    let mut files = BTreeSet::new();
    repo_files(&root, Path::new(""), &mut files);
    let top: BTreeSet<String> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir() && e.file_name() != "target")
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // Every Markdown file, and the sources of the emulated machine (their comments cite
    // files; their code names paths inside dom0, which are absolute and skipped).
    let mut documents: Vec<PathBuf> =
        files.iter().filter(|f| f.extension().is_some_and(|e| e == "md")).cloned().collect();
    documents.extend(files.iter().filter(|f| f.starts_with("xtask/src/rig/")).cloned());
    assert!(documents.contains(&PathBuf::from("TESTING.md")), "{documents:?}");
    let mut dangling = Vec::new();
    for doc in &documents {
        let Ok(text) = std::fs::read_to_string(root.join(doc)) else { continue };
        let text = comments(doc, &text);
        let dir = doc.parent().unwrap();
        for name in file_names(&text, &top) {
            // Absolute paths (in dom0, on the host), build output, examples.
            // Placeholders (`PATH/Cargo.toml`) too.
            let first = name.split('/').next().unwrap();
            let placeholder = name.contains('/') && first.chars().all(|c| c.is_ascii_uppercase());
            if placeholder
                || name.starts_with('/')
                || name.starts_with("target/")
                || name.starts_with("../")
            {
                continue;
            }
            let base = name.trim_end_matches('/').rsplit('/').next().unwrap();
            if NOT_REPO_FILES.contains(&base) || name.starts_with('.') && !name.starts_with(".ci") {
                continue;
            }
            let want = Path::new(name.trim_end_matches('/'));
            // From the root, beside the document, as the end of a path (`src/net/` in a
            // crate's listing), or, for a bare name, anywhere.
            let exists = |p: &Path| files.contains(p) || files.contains(&p.join(""));
            let found = exists(want)
                || exists(&dir.join(want))
                || files.iter().any(|f| f.ends_with(want))
                || !name.contains('/')
                    && files.iter().any(|f| f.file_name() == Some(base.as_ref()));
            if !found {
                dangling.push(format!("{}: {name}", doc.display()));
            }
        }
    }
    assert!(
        dangling.is_empty(),
        "documents name files that do not exist:\n  {}",
        dangling.join("\n  ")
    );
}
