//! Typed configuration keys, in the spirit of MirageOS's functoria: every key the runtime
//! and the app read is declared once, with a type, a default (or `required`), a stage and
//! a one-line doc. The runtime declares its own ([`runtime`]); an app declares its keys in
//! its manifest (`[package.metadata.unikernel.keys.NAME]`), which the host tool turns into a
//! [`Schema`] and carries in the image as an ELF note (see [`schema`] for the encoding).
//!
//! The command line (xl's `extra=`) is checked against the schema as a whole
//! ([`parse_cmdline`]): an unknown key, a bad value, a missing required key or a
//! configure-time key given at boot is an error that names the key, the value and the type
//! expected; `--help` asks for the listing ([`help`]).

pub mod net;
pub mod runtime;
pub mod schema;
pub mod value;

pub use schema::{indexed_name, Key, Presence, Schema, SchemaError, Stage};
pub use value::{Cidr, IntKind, Reason, Secret, Type, Value};

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::{self, Write};
use core::net::{Ipv4Addr, Ipv6Addr};
use core::time::Duration;

/// A value that is not one of its key's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    /// As written: `ip_1`, `port`.
    pub key: String,
    /// As written; empty for a secret's, which is never shown.
    pub value: String,
    /// What the type looks like: `u16 in 1..=65535`.
    pub expected: String,
    pub reason: Reason,
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            Reason::Syntax => "",
            Reason::OutOfRange => "out of range: ",
            Reason::NotOneOf => "",
        };
        write!(f, "{}={}: {why}expected {}", self.key, self.value, self.expected)
    }
}

/// What is wrong with one word of the command line, or with what it lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    Unknown {
        key: String,
        did_you_mean: Option<String>,
    },
    Bad(BadValue),
    /// A key that is not a bool, given without `=VALUE`.
    NeedsValue {
        key: String,
        expected: String,
    },
    Missing {
        key: String,
        expected: String,
    },
    Repeated {
        key: String,
    },
    /// A configure-time key: fixed in the image, not changed at boot.
    Fixed {
        key: String,
        value: String,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Unknown { key, did_you_mean: Some(k) } => {
                write!(f, "{key}: unknown key (did you mean {k}?)")
            }
            KeyError::Unknown { key, did_you_mean: None } => write!(f, "{key}: unknown key"),
            KeyError::Bad(b) => write!(f, "{b}"),
            KeyError::NeedsValue { key, expected } => {
                write!(f, "{key}: needs a value ({key}=VALUE): expected {expected}")
            }
            KeyError::Missing { key, expected } => {
                write!(f, "{key}: required, not given: expected {expected}")
            }
            KeyError::Repeated { key } => write!(f, "{key}: given more than once"),
            KeyError::Fixed { key, value } => write!(
                f,
                "{key}: fixed in the image ({key}={value}) when it was built; \
                 rebuild with --set {key}=VALUE to change it"
            ),
        }
    }
}

impl core::error::Error for KeyError {}

/// Why the command line gives no configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdlineError {
    /// `--help` was given: show [`help`].
    Help,
    /// Every problem found, in the order of the line (missing keys last).
    Invalid(Vec<KeyError>),
}

impl fmt::Display for CmdlineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdlineError::Help => f.write_str("--help"),
            CmdlineError::Invalid(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
        }
    }
}

impl core::error::Error for CmdlineError {}

/// The word that asks for the listing instead of a boot.
pub const HELP: &str = "--help";

/// The values of every key: given, default, or none.
#[derive(Debug, Clone)]
pub struct Config {
    /// By the name as written (`ip_1` for the second vif's `ip`), each name once; `None`:
    /// given as unset. A list, not a map: a few dozen keys at most, and the map's code
    /// would be most of a small image's configuration code.
    values: Vec<(String, Option<Value>)>,
    /// Every name that may be asked for: a typo in an app is a panic, not a silent `None`.
    schema: Schema,
}

impl Config {
    fn value(&self, name: &str) -> Option<&Option<Value>> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// Equal when they hold the same values, in whatever order.
impl PartialEq for Config {
    fn eq(&self, other: &Config) -> bool {
        self.schema == other.schema
            && self.values.len() == other.values.len()
            && self.values.iter().all(|(n, v)| other.value(n) == Some(v))
    }
}

impl Eq for Config {}

/// Parses one `key=value` as `key` holds it; `name` is the name as written.
pub fn parse_value(key: &Key, name: &str, text: &str) -> Result<Option<Value>, BadValue> {
    if key.unset.as_deref() == Some(text) {
        return Ok(None);
    }
    key.ty.parse(text).map(Some).map_err(|reason| BadValue {
        key: name.into(),
        value: if key.ty == Type::Secret { String::new() } else { text.into() },
        expected: key.ty.expected(),
        reason,
    })
}

/// Checks the command line against `schema`: whitespace-separated `key=value` words (a
/// bare `key` is `key=true` for a bool); every problem is reported, not just the first.
pub fn parse_cmdline(schema: &Schema, cmdline: &str) -> Result<Config, CmdlineError> {
    let words: Vec<&str> = cmdline.split_ascii_whitespace().collect();
    if words.contains(&HELP) {
        return Err(CmdlineError::Help);
    }
    let mut errors = Vec::new();
    // In the order of the line, each name once (a repeated one is an error).
    let mut given: Vec<(String, Option<Value>)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for word in words {
        let (name, text) = match word.split_once('=') {
            Some((n, t)) => (n, Some(t)),
            None => (word, None),
        };
        let Some((key, _)) = schema.resolve(name) else {
            errors
                .push(KeyError::Unknown { key: name.into(), did_you_mean: nearest(schema, name) });
            continue;
        };
        if seen.contains(&name) {
            errors.push(KeyError::Repeated { key: name.into() });
            continue;
        }
        seen.push(name);
        if key.stage == Stage::Configure {
            let value = match &key.presence {
                Presence::Default(v) => v.to_string(),
                _ => String::from("?"),
            };
            errors.push(KeyError::Fixed { key: name.into(), value });
            continue;
        }
        let text = match (text, &key.ty) {
            (Some(t), _) => t,
            (None, Type::Bool) => "true",
            (None, ty) => {
                errors.push(KeyError::NeedsValue { key: name.into(), expected: ty.expected() });
                continue;
            }
        };
        match parse_value(key, name, text) {
            Ok(v) => given.push((name.into(), v)),
            Err(b) => errors.push(KeyError::Bad(b)),
        }
    }
    let mut values = Vec::new();
    for key in &schema.keys {
        match (&key.presence, given.iter().any(|(n, _)| *n == key.name)) {
            (Presence::Required, false) => errors
                .push(KeyError::Missing { key: key.name.clone(), expected: key.ty.expected() }),
            (Presence::Default(v), false) => values.push((key.name.clone(), Some(v.clone()))),
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(CmdlineError::Invalid(errors));
    }
    values.extend(given);
    Ok(Config { values, schema: schema.clone() })
}

/// `line` with every secret key's value replaced by `<secret>` (`token=<secret>`), words
/// one space apart: what may be shown or logged of a line (the guest's debug log, `cargo
/// xtask describe`). A line the check refused is not shown at all: its unknown keys' values
/// are left as written (one may be a misspelt secret's).
pub fn redact(schema: &Schema, line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for w in line.split_ascii_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        match w.split_once('=') {
            Some((k, _)) if schema.resolve(k).is_some_and(|(k, _)| k.ty == Type::Secret) => {
                out.push_str(k);
                out.push_str("=<secret>");
            }
            _ => out.push_str(w),
        }
    }
    out
}

/// The name `name` was meant as: an indexed key's in the old spelling (`ip1` is `ip_1`
/// now), else the key whose name is one edit away, if there is exactly one such.
fn nearest(schema: &Schema, name: &str) -> Option<String> {
    if let Some(n) = schema.respelled(name) {
        return Some(n);
    }
    let mut near = schema.keys.iter().filter(|k| one_edit(&k.name, name));
    match (near.next(), near.next()) {
        (Some(k), None) => Some(k.name.clone()),
        _ => None,
    }
}

/// Whether `a` and `b` differ by one inserted, removed, replaced or swapped character.
fn one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix =
        a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    match (ra.len(), rb.len()) {
        (0, 0) => false,
        (1, 0) | (0, 1) | (1, 1) => true,
        (2, 2) => ra[0] == rb[1] && ra[1] == rb[0],
        _ => false,
    }
}

impl Config {
    /// The value of `name` (`ip_1` for an indexed key's second), `None` when it has none.
    /// An indexed key's default holds for every index (`mtu_3` defaults as `mtu` does).
    /// Panics when the schema has no such key: that is a typo in the program.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let (key, index) = self.key(name);
        match (self.value(name), index, &key.presence) {
            (Some(v), _, _) => v.as_ref(),
            (None, 1.., Presence::Default(v)) => Some(v),
            _ => None,
        }
    }

    fn key(&self, name: &str) -> (&Key, u32) {
        self.schema.resolve(name).unwrap_or_else(|| panic!("no key {name:?} in the schema"))
    }

    fn typed<'a, T>(
        &'a self,
        name: &str,
        want: &str,
        f: impl Fn(&'a Value) -> Option<T>,
    ) -> Option<T> {
        let v = self.get(name)?;
        let ty = self.key(name).0.ty.name();
        Some(f(v).unwrap_or_else(|| panic!("key {name} is of type {ty}, not {want}")))
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.typed(name, "bool", |v| match v {
            Value::Bool(b) => Some(*b),
            _ => None,
        })
    }

    /// An integer key as `T`; the key's range must fit `T` (a `u16` key read as `u8` panics
    /// if the value does not fit).
    pub fn int<T: TryFrom<i128>>(&self, name: &str) -> Option<T> {
        self.typed(name, core::any::type_name::<T>(), |v| match v {
            Value::Int(n) => T::try_from(*n).ok(),
            _ => None,
        })
    }

    /// A string or enum key's text.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.typed(name, "string", |v| match v {
            Value::String(s) | Value::Enum(s) => Some(s.as_str()),
            _ => None,
        })
    }

    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.typed(name, "secret", |v| match v {
            Value::Secret(s) => Some(s),
            _ => None,
        })
    }

    pub fn ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        self.typed(name, "ipv4", |v| match v {
            Value::Ipv4(a) => Some(*a),
            _ => None,
        })
    }

    pub fn ipv6(&self, name: &str) -> Option<Ipv6Addr> {
        self.typed(name, "ipv6", |v| match v {
            Value::Ipv6(a) => Some(*a),
            _ => None,
        })
    }

    pub fn ipv4_cidr(&self, name: &str) -> Option<Cidr<Ipv4Addr>> {
        self.typed(name, "ipv4-cidr", |v| match v {
            Value::Ipv4Cidr(c) => Some(*c),
            _ => None,
        })
    }

    pub fn ipv6_cidr(&self, name: &str) -> Option<Cidr<Ipv6Addr>> {
        self.typed(name, "ipv6-cidr", |v| match v {
            Value::Ipv6Cidr(c) => Some(*c),
            _ => None,
        })
    }

    pub fn mac(&self, name: &str) -> Option<[u8; 6]> {
        self.typed(name, "mac", |v| match v {
            Value::Mac(m) => Some(*m),
            _ => None,
        })
    }

    pub fn duration(&self, name: &str) -> Option<Duration> {
        self.typed(name, "duration", |v| match v {
            Value::Duration(d) => Some(*d),
            _ => None,
        })
    }

    /// A size key, in bytes.
    pub fn size(&self, name: &str) -> Option<u64> {
        self.typed(name, "size", |v| match v {
            Value::Size(n) => Some(*n),
            _ => None,
        })
    }

    pub fn list(&self, name: &str) -> Option<&[Value]> {
        self.typed(name, "list", |v| match v {
            Value::List(items) => Some(items.as_slice()),
            _ => None,
        })
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }
}

/// The listing `--help` prints: every key by section, with its type, default and doc.
pub fn help(schema: &Schema) -> String {
    let mut s = String::new();
    let width = schema.keys.iter().map(|k| k.usage().len()).max().unwrap_or(0);
    for section in schema.sections() {
        let _ = writeln!(s, "{section}:");
        for k in schema.keys.iter().filter(|k| k.section == section) {
            let mut notes: Vec<String> = Vec::new();
            match (&k.presence, k.stage) {
                (Presence::Default(v), Stage::Configure) => notes.push(format!("fixed: {v}")),
                (Presence::Default(v), Stage::Boot) => notes.push(format!("default {v}")),
                (Presence::Required, _) => notes.push("required".into()),
                (Presence::Optional, _) => {}
            }
            if let Some(w) = &k.unset {
                notes.push(format!("{w}: none"));
            }
            if k.indexed {
                notes.push(format!("{}=... for the second device", indexed_name(&k.name, 1)));
            }
            let notes =
                if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
            let _ = writeln!(s, "  {:width$}  {}{notes}", k.usage(), k.doc);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn schema() -> Schema {
        let mut s = Schema::default();
        let decls: &[(&str, &[(&str, &str)])] = &[
            ("ip", &[("type", "ipv4-cidr"), ("unset", "dhcp"), ("indexed", "true")]),
            ("gw", &[("type", "ipv4"), ("indexed", "true")]),
            ("mtu", &[("type", "u16"), ("min", "68"), ("default", "1500"), ("indexed", "true")]),
            ("port", &[("type", "u16"), ("min", "1"), ("default", "80")]),
            ("token", &[("type", "secret"), ("required", "true")]),
            ("verbose", &[("type", "bool"), ("default", "false")]),
            ("cache", &[("type", "size"), ("default", "4MiB"), ("stage", "configure")]),
            ("mode", &[("type", "enum"), ("values", "fast,safe"), ("default", "safe")]),
        ];
        for (name, attrs) in decls {
            s.push(Key::from_attrs("app", name, attrs, "doc").unwrap()).unwrap();
        }
        s
    }

    fn errors(line: &str) -> Vec<String> {
        match parse_cmdline(&schema(), line) {
            Err(CmdlineError::Invalid(e)) => e.iter().map(|e| e.to_string()).collect(),
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn a_valid_line_gives_typed_values_and_defaults() {
        let c =
            parse_cmdline(&schema(), " ip=10.0.0.2/24 ip_1=dhcp gw_2=10.0.0.1 token=s3 verbose ")
                .unwrap();
        assert_eq!(c.ipv4_cidr("ip").unwrap().prefix_len, 24);
        assert_eq!(c.ipv4_cidr("ip_1"), None);
        assert_eq!(c.ipv4_cidr("ip_5"), None);
        assert_eq!(c.ipv4("gw_2"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(c.int::<u16>("port"), Some(80));
        assert_eq!(c.int::<u16>("mtu_3"), Some(1500));
        assert_eq!(c.secret("token").unwrap().expose(), "s3");
        assert_eq!(c.bool("verbose"), Some(true));
        assert_eq!(c.size("cache"), Some(4 << 20));
        assert_eq!(c.str("mode"), Some("safe"));
    }

    #[test]
    #[should_panic(expected = "no key \"prot\"")]
    fn asking_for_an_undeclared_key_panics() {
        parse_cmdline(&schema(), "token=x").unwrap().get("prot");
    }

    #[test]
    #[should_panic(expected = "key port is of type u16, not bool")]
    fn asking_with_the_wrong_type_panics() {
        parse_cmdline(&schema(), "token=x").unwrap().bool("port");
    }

    #[test]
    fn every_problem_is_named() {
        assert_eq!(
            errors("prot=8080 port=0 mode=slow ip=10.0.0.1 gw=x verbose=2 port=9 cache=1MiB mtu"),
            vec![
                "prot: unknown key (did you mean port?)",
                "port=0: out of range: expected u16 in 1..=65535",
                "mode=slow: expected one of fast, safe",
                "ip=10.0.0.1: expected ipv4-cidr (like 10.0.0.2/24)",
                "gw=x: expected ipv4 (like 10.0.0.1)",
                "verbose=2: expected bool (true or false)",
                "port: given more than once",
                "cache: fixed in the image (cache=4MiB) when it was built; rebuild with --set \
                 cache=VALUE to change it",
                "mtu: needs a value (mtu=VALUE): expected u16 in 68..=65535",
                "token: required, not given: expected secret",
            ]
        );
        assert_eq!(
            errors("token=a ip_64=dhcp ip99=dhcp zz"),
            vec!["ip_64: unknown key", "ip99: unknown key", "zz: unknown key"]
        );
    }

    #[test]
    fn the_old_spelling_of_a_devices_key_says_the_new_one() {
        assert_eq!(
            errors("token=a ip1=dhcp gw12=10.0.0.1 mtu3=9000"),
            vec![
                "ip1: unknown key (did you mean ip_1?)",
                "gw12: unknown key (did you mean gw_12?)",
                "mtu3: unknown key (did you mean mtu_3?)",
            ]
        );
    }

    #[test]
    fn a_secret_is_never_echoed() {
        let c = parse_cmdline(&schema(), "token=hunter2").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.get("token").unwrap().to_string(), "<secret>");
        assert_eq!(c.secret("token").unwrap().expose(), "hunter2");
    }

    /// Whatever else is wrong with the line, no message shows a secret's value: a repeated
    /// secret, a secret beside bad values, a bare secret key, a line with --help.
    #[test]
    fn no_error_shows_a_secret() {
        for line in [
            "token=hunter2 token=hunter2",
            "token=hunter2 port=0 mode=slow",
            "token=hunter2 cache=1MiB prot=1",
            "token=hunter2 --help",
            "token",
        ] {
            let e = match parse_cmdline(&schema(), line) {
                Err(e) => e,
                Ok(c) => panic!("{line:?}: accepted: {c:?}"),
            };
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("hunter2"), "{line:?}: {shown}");
        }
    }

    /// --help lists a secret key with its type and whether it is required, never a value.
    #[test]
    fn the_listing_shows_no_secret() {
        let mut s = schema();
        let h = help(&s);
        assert!(h.contains("  token=SECRET    doc (required)\n"), "{h}");
        // A default can only come from a schema built by hand (from_attrs refuses one): even
        // then the listing and the encoding show <secret>.
        let token = s.keys.iter_mut().find(|k| k.name == "token").unwrap();
        token.presence = Presence::Default(Value::Secret(Secret::new("hunter2")));
        let h = help(&s);
        assert!(!h.contains("hunter2") && h.contains("token=SECRET    doc (default <secret>)"));
        assert!(!s.encode().contains("hunter2"));
    }

    #[test]
    fn a_shown_line_has_its_secrets_redacted() {
        let s = schema();
        assert_eq!(
            redact(&s, "  ip=10.0.0.2/24 token=hunter2   verbose  token=a=b tokn=x token "),
            "ip=10.0.0.2/24 token=<secret> verbose token=<secret> tokn=x token"
        );
        assert_eq!(redact(&s, ""), "");
    }

    #[test]
    fn help_wins_over_errors() {
        assert_eq!(parse_cmdline(&schema(), "bogus=1 --help"), Err(CmdlineError::Help));
    }

    #[test]
    fn the_listing_has_every_key() {
        let h = help(&schema());
        assert!(h.starts_with("app:\n"));
        assert!(h.contains("  ip=IPV4-CIDR    doc (dhcp: none; ip_1=... for the second device)\n"));
        assert!(h.contains("  token=SECRET    doc (required)\n"), "{h}");
        assert!(h.contains("  cache=SIZE      doc (fixed: 4MiB)\n"), "{h}");
        assert!(h.contains("  verbose[=BOOL]  doc (default false)\n"), "{h}");
        assert!(h.contains("  mode=fast|safe  doc (default safe)\n"), "{h}");
    }

    #[test]
    fn near_names() {
        assert!(one_edit("port", "prot"));
        assert!(one_edit("port", "ports"));
        assert!(one_edit("port", "pot"));
        assert!(one_edit("port", "part"));
        assert!(!one_edit("port", "port"));
        assert!(!one_edit("port", "trop"));
    }
}
