//! `cargo xtask describe [-p APP] [--set KEY=VALUE]... [--dot]`: what the app is made of,
//! from its manifest: the domain, its devices, and every configuration key (the runtime's
//! and the app's) with its type, stage, default, the value the guest would get and its doc;
//! secrets show `<secret>`. `--dot` prints the app, its devices and the runtime pieces they
//! bring in as a Graphviz graph. `--image PATH` lists the keys a built image carries in its
//! schema notes (kernel/src/xen/elfnote.rs) instead, whatever the manifest says now.

use crate::build::Options;
use crate::keys;
use crate::manifest::Manifest;
use anyhow::{bail, Context, Result};
use devices::config::{Config, Presence, Schema};
use std::fmt::Write;
use std::path::Path;

/// The app's listing, or with `dot` its Graphviz graph; `opts` are build's (the app and
/// its `--set`s).
pub fn app(opts: &Options, dot: bool) -> Result<bool> {
    let manifest = keys::load(opts)?;
    print!("{}", if dot { graph(&manifest)? } else { text(&manifest)? });
    Ok(true)
}

/// The keys of the built image at `path`.
pub fn image(path: &Path) -> Result<bool> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    print!("{}", image_text(&bytes).with_context(|| path.display().to_string())?);
    Ok(true)
}

/// Rows of aligned columns, two spaces apart; the last column is not padded.
fn table(rows: &[Vec<String>], indent: &str) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::from(indent);
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line += cell;
            } else {
                let _ = write!(line, "{cell:w$}  ", w = width[c]);
            }
        }
        out += line.trim_end();
        out.push('\n');
    }
    out
}

/// The listing.
pub fn text(m: &Manifest) -> Result<String> {
    let schema = keys::full_schema(&m.keys)?;
    let current = keys::current(m)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} MiB, {} vCPU; on_poweroff {}, on_reboot {}, on_crash {}",
        m.name,
        m.memory_mib,
        m.vcpus,
        m.on_poweroff.xl_name(),
        m.on_reboot.xl_name(),
        m.on_crash.xl_name()
    );
    let _ = writeln!(out, "command line: {}", devices::config::redact(&schema, &m.extra()));
    out += "\ndevices:\n";
    let mut rows = Vec::new();
    for (i, n) in m.networks.iter().enumerate() {
        let mut what = format!("bridge {}", n.bridge);
        if let Some(mac) = &n.mac {
            what += &format!(", mac {mac}");
        }
        rows.push(vec![format!("vif{i}"), "network".into(), what, "netfront, smoltcp".into()]);
    }
    for d in &m.disks {
        let mode = if d.writable { "rw" } else { "r" };
        let file = d.path.file_name().map_or(String::new(), |f| f.to_string_lossy().into_owned());
        rows.push(vec![
            d.vdev.to_string(),
            "disk".into(),
            format!("{file}, {mode}"),
            "blkfront".into(),
        ]);
    }
    if rows.is_empty() {
        out += "  none\n";
    } else {
        out += &table(&rows, "  ");
    }
    out += "\nkeys:\n";
    out += &keys_table(&schema, Some((&current, &m.extra())));
    Ok(out)
}

/// Every key by section; with the guest's configuration and command line, a VALUE column
/// and rows for a second, third... device's names the line gives (`ip_1=`).
fn keys_table(schema: &Schema, current: Option<(&Config, &str)>) -> String {
    let extra_names: Vec<&str> = current
        .map(|(_, line)| line)
        .unwrap_or("")
        .split_ascii_whitespace()
        .map(|w| w.split_once('=').map_or(w, |(k, _)| k))
        .filter(|n| schema.resolve(n).is_some_and(|(_, i)| i > 0))
        .collect();
    let mut header = vec!["KEY", "TYPE", "STAGE", "DEFAULT", "VALUE", "DOC"];
    if current.is_none() {
        header.remove(4);
    }
    let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
    for section in schema.sections() {
        rows.push(vec![format!("{section}:")]);
        for k in schema.keys.iter().filter(|k| k.section == section) {
            let none = || k.unset.clone().unwrap_or_else(|| "-".into());
            let default = match &k.presence {
                Presence::Default(v) => v.to_string(),
                Presence::Required => "(required)".into(),
                Presence::Optional => none(),
            };
            let names = std::iter::once(k.name.as_str()).chain(
                extra_names.iter().copied().filter(|n| schema.resolve(n).unwrap().0.name == k.name),
            );
            for name in names {
                let mut row =
                    vec![format!("  {name}"), k.ty.short(), k.stage.name().into(), default.clone()];
                if let Some((c, _)) = current {
                    row.push(c.get(name).map_or_else(none, |v| v.to_string()));
                }
                row.push(if name == k.name { k.doc.clone() } else { String::new() });
                rows.push(row);
            }
        }
    }
    table(&rows, "  ")
}

/// The keys a built image carries: its runtime's and its app's schema notes.
pub fn image_schema(elf: &[u8]) -> Result<Schema> {
    let mut schema = Schema::default();
    let mut found = 0;
    for (name, kind, desc) in crate::elf::notes(elf)? {
        if name != "Unikernel" || !(1..=2).contains(&kind) {
            continue;
        }
        let text = std::str::from_utf8(&desc).context("a schema note is not UTF-8")?;
        let part = Schema::decode(text).map_err(|e| anyhow::anyhow!("schema note {kind}: {e}"))?;
        schema.extend(part).map_err(|e| anyhow::anyhow!("{e}"))?;
        found += 1;
    }
    if found == 0 {
        bail!("no schema notes (Unikernel, types 1 and 2): built before issue 15, or not ours");
    }
    Ok(schema)
}

/// The listing of a built image's keys.
pub fn image_text(elf: &[u8]) -> Result<String> {
    Ok(format!("keys:\n{}", keys_table(&image_schema(elf)?, None)))
}

/// A double-quoted Graphviz ID.
fn id(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    format!("\"{escaped}\"")
}

/// The Graphviz picture: the app, its devices, the runtime pieces each brings in, and the
/// key sections next to what reads them.
pub fn graph(m: &Manifest) -> Result<String> {
    let schema: Schema = keys::full_schema(&m.keys)?;
    let mut g = String::new();
    let _ = writeln!(g, "digraph {} {{", id(m.name.as_str()));
    g += "  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n";
    let node = |g: &mut String, name: &str, label: &str, attrs: &str| {
        let _ = writeln!(g, "  {} [label={}{attrs}];", id(name), id(label));
    };
    let edge = |g: &mut String, a: &str, b: &str, attrs: &str| {
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{attrs}]") };
        let _ = writeln!(g, "  {} -> {}{attrs};", id(a), id(b));
    };
    node(
        &mut g,
        "app",
        &format!("{}\n{} MiB, {} vCPU", m.name, m.memory_mib, m.vcpus),
        ", shape=doubleoctagon",
    );
    // What every guest has.
    for (n, label) in [
        ("runtime", "runtime\nexecutor, heap, log"),
        ("console", "PV console"),
        ("xenstore", "xenstore"),
        ("evtchn", "event channels"),
        ("time", "time\npvclock, timer"),
        ("lifecycle", "lifecycle\ncontrol/shutdown, suspend"),
    ] {
        node(&mut g, n, label, "");
    }
    edge(&mut g, "app", "runtime", "");
    for n in ["console", "xenstore", "evtchn", "time", "lifecycle"] {
        edge(&mut g, "runtime", n, "");
    }
    edge(&mut g, "lifecycle", "xenstore", "");
    let has_net = !m.networks.is_empty();
    if has_net {
        node(&mut g, "smoltcp", "kernel::net\nsmoltcp TCP/IP", "");
        node(&mut g, "netfront", "netfront", "");
        edge(&mut g, "app", "smoltcp", "");
        edge(&mut g, "smoltcp", "netfront", "");
    }
    if !m.disks.is_empty() {
        node(&mut g, "blkfront", "blkfront", "");
        edge(&mut g, "app", "blkfront", "");
    }
    if has_net || !m.disks.is_empty() {
        node(&mut g, "grant", "grant table", "");
    }
    for (i, n) in m.networks.iter().enumerate() {
        let vif = format!("vif{i}");
        let mut label = format!("{vif}\nbridge {}", n.bridge);
        if let Some(mac) = &n.mac {
            label += &format!("\n{mac}");
        }
        node(&mut g, &vif, &label, ", shape=ellipse");
        edge(&mut g, "netfront", &vif, "");
    }
    for d in &m.disks {
        let mode = if d.writable { "rw" } else { "r" };
        node(&mut g, d.vdev.as_str(), &format!("{}\n{mode}", d.vdev), ", shape=ellipse");
        edge(&mut g, "blkfront", d.vdev.as_str(), "");
    }
    for driver in ["netfront", "blkfront"] {
        if (driver == "netfront" && has_net) || (driver == "blkfront" && !m.disks.is_empty()) {
            for n in ["grant", "evtchn", "xenstore"] {
                edge(&mut g, driver, n, "");
            }
        }
    }
    // Each section of keys beside what reads it.
    for section in schema.sections() {
        let names: Vec<&str> =
            schema.keys.iter().filter(|k| k.section == section).map(|k| k.name.as_str()).collect();
        let reader = match section {
            "network" if has_net => "smoltcp",
            "network" | "logging" => "runtime",
            "runtime" => "lifecycle",
            _ => "app",
        };
        let n = format!("keys:{section}");
        node(&mut g, &n, &format!("{section}\n{}", names.join(", ")), ", shape=note");
        edge(&mut g, &n, reader, "style=dashed");
    }
    g += "}\n";
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reviewed file, or its rewrite with `UPDATE_GOLDEN=1`.
    fn golden(name: &str, text: &str) {
        let path = crate::util::root().join("xtask/tests/golden").join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
            std::fs::write(&path, text).unwrap();
            return;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            text == want,
            "describe differs from {}:\n{text}\n(UPDATE_GOLDEN=1 cargo test -p xtask describe \
             rewrites it; review the diff)",
            path.display()
        );
    }

    fn example() -> Manifest {
        let root = crate::util::root();
        let mut m = Manifest::load(&root.join("app-example/Cargo.toml")).unwrap();
        keys::apply(&mut m, &[]).unwrap();
        m
    }

    /// app-example's listing and picture are the reviewed files in xtask/tests/golden/.
    #[test]
    fn app_example_describe_matches_golden() {
        let m = example();
        golden("app-example-describe.txt", &text(&m).unwrap());
        golden("app-example-describe.dot", &graph(&m).unwrap());
    }

    #[test]
    fn secrets_and_second_devices_show_in_the_listing() {
        let toml = "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n\
                    [package.metadata.unikernel.keys.token]\ntype = \"secret\"\ndoc = \"API\"\n\
                    [[package.metadata.unikernel.network]]\n\
                    [[package.metadata.unikernel.network]]\nip = \"10.0.1.2/24\"\n";
        let mut m = Manifest::parse(toml, Path::new(".")).unwrap();
        keys::apply(&mut m, &["token=hunter2".into()]).unwrap();
        let t = text(&m).unwrap();
        assert!(!t.contains("hunter2"), "{t}");
        assert!(t.contains("command line: token=<secret> ip_1=10.0.1.2/24\n"), "{t}");
        assert!(t.contains("    token           secret"), "{t}");
        assert!(t.contains("<secret>"), "{t}");
        assert!(t.contains("    ip_1            ipv4-cidr"), "{t}");
        assert!(t.contains("10.0.1.2/24"), "{t}");
        let g = graph(&m).unwrap();
        assert!(g.contains("\"netfront\" -> \"vif1\";"), "{g}");
        assert!(!g.contains("hunter2"));
    }

    /// An ELF64 header and one PT_NOTE segment holding `notes`.
    fn elf_with_notes(notes: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut b = vec![0u8; 0x40 + 0x38];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        let mut n = Vec::new();
        for (name, kind, desc) in notes {
            let name = format!("{name}\0");
            for v in [name.len() as u32, desc.len() as u32, *kind] {
                n.extend_from_slice(&v.to_le_bytes());
            }
            n.extend_from_slice(name.as_bytes());
            n.resize(n.len().next_multiple_of(4), 0);
            n.extend_from_slice(desc);
            n.resize(n.len().next_multiple_of(4), 0);
        }
        let off = b.len() as u64;
        b[0x40..0x44].copy_from_slice(&crate::elf::PT_NOTE.to_le_bytes());
        b[0x48..0x50].copy_from_slice(&off.to_le_bytes());
        b[0x60..0x68].copy_from_slice(&(n.len() as u64).to_le_bytes());
        b.extend_from_slice(&n);
        b
    }

    #[test]
    fn an_image_lists_the_keys_of_its_notes() {
        let m = Manifest::parse(
            "[package]\nname = \"demo\"\n[package.metadata.unikernel.keys.port]\n\
             type = \"u16\"\ndefault = 80\ndoc = \"the port\"\n",
            Path::new("."),
        )
        .unwrap();
        let app = m.keys.encode();
        let runtime = devices::config::runtime::KEYS;
        let elf = elf_with_notes(&[
            ("Xen", 0x12, &[0, 0, 0x10, 0]),
            ("Unikernel", 2, app.as_bytes()),
            ("Unikernel", 1, runtime.as_bytes()),
        ]);
        let s = image_schema(&elf).unwrap();
        assert_eq!(s.sections(), ["app", "network", "logging", "runtime"]);
        let t = image_text(&elf).unwrap();
        let words = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(t.lines().any(|l| words(l) == "port u16 boot 80 the port"), "{t}");
        let e = image_schema(&elf_with_notes(&[("Xen", 0x12, &[0; 4])])).unwrap_err();
        assert!(e.to_string().contains("no schema notes"));
        let bad = elf_with_notes(&[("Unikernel", 1, b"unikernel-keys 1\napp.x type=u17\n")]);
        assert!(format!("{:#}", image_schema(&bad).unwrap_err()).contains("u17"));
    }

    #[test]
    fn dot_ids_are_quoted() {
        assert_eq!(id("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }
}
