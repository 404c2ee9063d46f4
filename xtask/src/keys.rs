//! The app's configuration keys, declared in its manifest, and `--set KEY=VALUE`:
//!
//! ```toml
//! [package.metadata.unikernel.keys.port]
//! type = "u16"                 # bool, u8..u64, i8..i64, string, secret, ipv4, ipv6,
//! min = 1                      #   ipv4-cidr, ipv6-cidr, mac, enum, duration, size, list
//! default = 80                 # or required = true; neither: no value
//! stage = "boot"               # boot (the command line) | configure (fixed in the image)
//! doc = "the HTTP port"        # one line
//! section = "http"             # where listings group it (default: app)
//! ```
//!
//! `values = [...]` for an enum, `of = "TYPE"` for a list (with the element's parameters).
//! The declarations are checked by `devices::config` (the same code that reads the schema
//! back from an image), together with the runtime's own keys: one namespace, one listing.
//!
//! `--set KEY=VALUE` (build, xl, run, describe) is checked against that schema before anything
//! is built or started: a boot key's value goes on the command line (replacing the
//! manifest's), a configure key's is fixed in the image.

use crate::manifest::Manifest;
use anyhow::{bail, Context, Result};
use devices::config::{self, runtime, Key, Presence, Schema, Stage};
use toml::{Table, Value};

/// The app's manifest with `opts.sets` applied and the result checked.
pub fn load(opts: &crate::build::Options) -> Result<Manifest> {
    let mut manifest = Manifest::load(&crate::build::manifest_path(opts)?)?;
    apply(&mut manifest, &opts.sets)?;
    Ok(manifest)
}

/// The section app keys are listed in unless they name another.
pub const APP_SECTION: &str = "app";

/// A manifest value as the schema's attribute text: arrays joined with commas.
fn attr_text(what: &str, v: &Value) -> Result<String> {
    Ok(match v {
        Value::String(s) => s.clone(),
        Value::Integer(n) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Array(items) => {
            let texts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::Array(_) | Value::Table(_) => bail!("{what}: a list of lists"),
                    i => attr_text(what, i),
                })
                .collect::<Result<_>>()?;
            if texts.iter().any(|t| t.contains(',')) {
                bail!("{what}: an item holds a comma, which separates list items");
            }
            texts.join(",")
        }
        other => bail!(
            "{what}: expected a string, integer, boolean or array, found {}",
            other.type_str()
        ),
    })
}

/// The keys of `[package.metadata.unikernel.keys]` (`keys` is its value, if any).
pub fn from_manifest(keys: Option<&Value>) -> Result<Schema> {
    let mut schema = Schema::default();
    let Some(keys) = keys else { return Ok(schema) };
    let what = "package.metadata.unikernel.keys";
    let keys = keys.as_table().with_context(|| format!("{what}: expected a table"))?;
    for (name, decl) in keys {
        let w = format!("{what}.{name}");
        let decl: &Table = decl.as_table().with_context(|| format!("{w}: expected a table"))?;
        let mut attrs = Vec::new();
        let (mut section, mut doc) = (APP_SECTION.to_string(), String::new());
        for (a, v) in decl {
            let text = attr_text(&format!("{w}.{a}"), v)?;
            match a.as_str() {
                "section" => section = text,
                "doc" => doc = text,
                _ => attrs.push((a.as_str(), text)),
            }
        }
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(a, t)| (*a, t.as_str())).collect();
        let key = Key::from_attrs(&section, name, &attrs, &doc).map_err(|e| {
            let known = "section, doc, ".to_string() + &config::schema::ATTRIBUTES.join(", ");
            anyhow::anyhow!(
                "{w}: {}{}",
                e.what,
                if e.what.starts_with("unknown attribute") {
                    format!(" (manifest keys also take: {known})")
                } else {
                    String::new()
                }
            )
        })?;
        schema.push(key).map_err(|e| anyhow::anyhow!("{w}: {}", e.what))?;
    }
    full_schema(&schema)?;
    Ok(schema)
}

/// The runtime's keys and the app's: an app key may not reuse a runtime key's name.
pub fn full_schema(app: &Schema) -> Result<Schema> {
    let mut all = runtime::schema();
    for k in &app.keys {
        if let Some(r) = all.resolve(&k.name) {
            bail!(
                "package.metadata.unikernel.keys.{}: the runtime has this key ({}.{}{})",
                k.name,
                r.0.section,
                r.0.name,
                if r.1 > 0 { format!(", for device {}", r.1) } else { String::new() }
            );
        }
    }
    all.extend(app.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(all)
}

/// Applies `--set KEY=VALUE` settings to the manifest (a boot key's word replaces the one
/// on its command line, a configure key's value becomes the image's) and checks the
/// resulting command line against every key. Errors name the key, the value and the type.
pub fn apply(manifest: &mut Manifest, sets: &[String]) -> Result<()> {
    let schema = full_schema(&manifest.keys)?;
    let mut errors = Vec::new();
    for set in sets {
        let Some((name, text)) = set.split_once('=') else {
            errors.push(format!("--set {set}: expected KEY=VALUE"));
            continue;
        };
        let Some((key, _)) = schema.resolve(name) else {
            let e = config::parse_cmdline(&schema, name).err();
            let why = match e {
                Some(config::CmdlineError::Invalid(e)) if !e.is_empty() => e[0].to_string(),
                _ => format!("{name}: unknown key"),
            };
            errors.push(format!("--set {why}"));
            continue;
        };
        if text.chars().any(char::is_whitespace) {
            errors.push(format!(
                "--set {name}: the value holds whitespace, which the command line splits at"
            ));
            continue;
        }
        let value = match config::parse_value(key, name, text) {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!("--set {e}"));
                continue;
            }
        };
        match key.stage {
            Stage::Boot => manifest.cmdline = replace_word(&manifest.cmdline, name, set),
            Stage::Configure => {
                let k = manifest.keys.keys.iter_mut().find(|k| k.name == name);
                let k = k.context("a configure-time key outside the app's schema")?;
                k.presence = value.map_or(Presence::Optional, Presence::Default);
            }
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    check(manifest)
}

/// `line` with `name`'s word (if any) replaced by `word`, else with `word` added.
fn replace_word(line: &str, name: &str, word: &str) -> String {
    let mut words: Vec<&str> = line
        .split_ascii_whitespace()
        .filter(|w| w.split_once('=').map_or(*w, |(k, _)| k) != name)
        .collect();
    words.push(word);
    words.join(" ")
}

/// Checks the command line the guest will get against every key, and that each
/// configure-time key has its value.
pub fn check(manifest: &Manifest) -> Result<()> {
    let schema = full_schema(&manifest.keys)?;
    let mut errors: Vec<String> = schema
        .keys
        .iter()
        .filter(|k| k.stage == Stage::Configure && k.presence == Presence::Required)
        .map(|k| {
            format!(
                "{}: required at build time: --set {}=VALUE ({})",
                k.name,
                k.name,
                k.ty.expected()
            )
        })
        .collect();
    match config::parse_cmdline(&schema, &manifest.extra()) {
        Ok(_) => {}
        Err(config::CmdlineError::Help) => errors.push("the command line holds --help".into()),
        Err(config::CmdlineError::Invalid(e)) => errors.extend(
            e.iter()
                // Reported above, with how to give it.
                .filter(|e| {
                    !matches!(e, config::KeyError::Missing { key, .. }
                    if schema.key(key).is_some_and(|k| k.stage == Stage::Configure))
                })
                .map(|e| e.to_string()),
        ),
    }
    if !errors.is_empty() {
        bail!("the configuration of {} is not valid:\n  {}", manifest.name, errors.join("\n  "));
    }
    Ok(())
}

/// The configuration the guest will see: every key's value from the command line the
/// manifest and the settings make.
pub fn current(manifest: &Manifest) -> Result<config::Config> {
    let schema = full_schema(&manifest.keys)?;
    config::parse_cmdline(&schema, &manifest.extra()).map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest(keys: &str, cmdline: &str) -> Result<Manifest> {
        let text = format!(
            "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n\
             [package.metadata.unikernel]\ncmdline = \"{cmdline}\"\n{keys}"
        );
        Manifest::parse(&text, Path::new(env!("CARGO_MANIFEST_DIR")))
    }

    const KEYS: &str = r#"
[package.metadata.unikernel.keys.port]
type = "u16"
min = 1
default = 80
doc = "the HTTP port"
[package.metadata.unikernel.keys.mode]
type = "enum"
values = ["fast", "safe"]
default = "safe"
section = "http"
[package.metadata.unikernel.keys.cache]
type = "size"
default = "4MiB"
stage = "configure"
[package.metadata.unikernel.keys.peers]
type = "list"
of = "ipv4"
default = ["10.0.0.1", "10.0.0.2"]
[package.metadata.unikernel.keys.token]
type = "secret"
"#;

    fn err(r: Result<impl std::fmt::Debug>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn manifest_keys_become_the_app_schema() {
        let m = manifest(KEYS, "log=info").unwrap();
        let s = &m.keys;
        assert_eq!(s.keys.len(), 5);
        let port = s.key("port").unwrap();
        assert_eq!((port.section.as_str(), port.doc.as_str()), ("app", "the HTTP port"));
        assert_eq!(s.key("mode").unwrap().section, "http");
        assert_eq!(
            s.key("peers").unwrap().presence.clone(),
            Presence::Default(
                config::Type::List(Box::new(config::Type::Ipv4))
                    .parse("10.0.0.1,10.0.0.2")
                    .unwrap()
            )
        );
        let all = full_schema(s).unwrap();
        assert_eq!(all.sections(), ["network", "logging", "runtime", "app", "http"]);
    }

    #[test]
    fn bad_declarations_are_named() {
        let k = "[package.metadata.unikernel.keys.port]\n";
        assert_eq!(
            err(manifest(&format!("{k}type = \"u16\"\ndefault = 0x1FFFF"), "")),
            "package.metadata.unikernel.keys.port: default \"131071\" is not a value of type u16"
        );
        assert!(err(manifest(&format!("{k}type = \"u16\"\ncolour = 1"), ""))
            .contains("keys.port: unknown attribute colour (known: type, of,"));
        assert!(err(manifest(&format!("{k}type = 5"), "")).contains("keys.port: type \"5\""));
        assert!(err(manifest(&format!("{k}type = 1.5"), "")).contains("keys.port.type: expected"));
        let log = "[package.metadata.unikernel.keys.log]\ntype = \"bool\"\n";
        assert_eq!(
            err(manifest(log, "")),
            "package.metadata.unikernel.keys.log: the runtime has this key (logging.log)"
        );
        let ip2 = "[package.metadata.unikernel.keys.ip_2]\ntype = \"bool\"\n";
        assert!(err(manifest(ip2, "")).contains("(network.ip, for device 2)"));
        assert!(err(manifest("[package.metadata.unikernel.keys]\nport = 1", ""))
            .contains("keys.port: expected a table"));
    }

    #[test]
    fn sets_replace_boot_words_and_fix_configure_values() {
        let mut m = manifest(KEYS, "log=info port=81").unwrap();
        let sets = ["port=8080", "log=debug", "cache=16MiB", "token=s3cr3t", "ip_1=dhcp"];
        apply(&mut m, &sets.map(String::from)).unwrap();
        assert_eq!(m.cmdline, "port=8080 log=debug token=s3cr3t ip_1=dhcp");
        assert_eq!(
            m.keys.key("cache").unwrap().presence,
            Presence::Default(config::Value::Size(16 << 20))
        );
        let c = current(&m).unwrap();
        assert_eq!(c.int::<u16>("port"), Some(8080));
        assert_eq!(c.size("cache"), Some(16 << 20));
    }

    #[test]
    fn bad_sets_name_key_value_and_type() {
        let mut m = manifest(KEYS, "").unwrap();
        let sets = ["port=0", "prot=1", "mode=slow", "ip=10.0.0.1", "x", "port=1 2", "token=a"];
        assert_eq!(
            err(apply(&mut m, &sets.map(String::from))),
            "--set port=0: out of range: expected u16 in 1..=65535\n\
             --set prot: unknown key (did you mean port?)\n\
             --set mode=slow: expected one of fast, safe\n\
             --set ip=10.0.0.1: expected ipv4-cidr (like 10.0.0.2/24)\n\
             --set x: expected KEY=VALUE\n\
             --set port: the value holds whitespace, which the command line splits at"
        );
    }

    #[test]
    fn the_manifest_command_line_is_checked_too() {
        let e = err(manifest(KEYS, "log=loud cache=1MiB").and_then(|m| check(&m)));
        assert_eq!(
            e,
            "the configuration of demo is not valid:\n  \
             log=loud: expected one of off, error, warn, info, debug, trace\n  \
             cache: fixed in the image (cache=4MiB) when it was built; rebuild with --set \
             cache=VALUE to change it"
        );
        let required = "[package.metadata.unikernel.keys.seed]\ntype = \"u64\"\nrequired = true\n\
                        stage = \"configure\"\n[package.metadata.unikernel.keys.name]\n\
                        type = \"string\"\nrequired = true\n";
        assert_eq!(
            err(manifest(required, "").and_then(|m| check(&m))),
            "the configuration of demo is not valid:\n  \
             seed: required at build time: --set seed=VALUE (u64)\n  \
             name: required, not given: expected string"
        );
        let mut m = manifest(required, "").unwrap();
        apply(&mut m, &["seed=7".into(), "name=x".into()]).unwrap();
    }

    #[test]
    fn a_set_ip_wins_over_the_network_table() {
        let net = "[[package.metadata.unikernel.network]]\nip = \"10.0.0.2/24\"\n";
        let mut m = manifest(net, "").unwrap();
        assert_eq!(m.extra(), "ip=10.0.0.2/24");
        apply(&mut m, &["ip=10.0.0.3/24".into()]).unwrap();
        assert_eq!(m.extra(), "ip=10.0.0.3/24");
    }

    /// No error of `--set` or of the manifest's line shows a secret's value, nor does
    /// the manifest's schema (a secret has no default).
    #[test]
    fn a_secret_is_never_shown() {
        let mut m = manifest(KEYS, "").unwrap();
        let sets = ["token=hunter2 x", "tokn=hunter2", "token", "port=0"].map(String::from);
        let e = err(apply(&mut m, &sets));
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("--set token: the value holds whitespace"), "{e}");
        assert!(e.contains("--set tokn: unknown key (did you mean token?)"), "{e}");
        let repeated = manifest(KEYS, "token=hunter2 token=hunter3").unwrap();
        let e = err(check(&repeated));
        assert!(e.contains("token: given more than once") && !e.contains("hunter"), "{e}");
        apply(&mut m, &["token=hunter2".into()]).unwrap();
        assert_eq!(m.extra(), "token=hunter2");
        assert!(!m.keys.encode().contains("hunter2"));
        assert!(!format!("{:?}", current(&m).unwrap()).contains("hunter2"));
        let declared = "[package.metadata.unikernel.keys.token]\ntype = \"secret\"\n\
                        default = \"hunter2\"\n";
        let e = err(manifest(declared, ""));
        assert!(e.contains("a secret has no default") && !e.contains("hunter2"), "{e}");
    }

    /// The second network's keys are `ip_1=`, `gw_1=`; `ip1=`, their old spelling, is an
    /// unknown key whose message says the new one.
    #[test]
    fn a_second_network_takes_ip_1() {
        let net = "[[package.metadata.unikernel.network]]
                   [[package.metadata.unikernel.network]]
ip = \"10.0.1.2/24\"
                   gateway = \"10.0.1.1\"
";
        let mut m = manifest(net, "").unwrap();
        assert_eq!(m.extra(), "ip_1=10.0.1.2/24 gw_1=10.0.1.1");
        assert_eq!(
            err(apply(&mut m, &["ip1=dhcp".into()])),
            "--set ip1: unknown key (did you mean ip_1?)"
        );
        apply(&mut m, &["ip_1=dhcp".into()]).unwrap();
        assert_eq!(m.extra(), "ip_1=dhcp gw_1=10.0.1.1");
        let old = manifest(net, "ip61=fd01::2/64").unwrap();
        assert!(err(check(&old)).contains("ip61: unknown key (did you mean ip6_1?)"));
    }
}
