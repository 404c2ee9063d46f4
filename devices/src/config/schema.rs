//! The schema: every key an image understands, and its text encoding, which travels in the
//! image as an ELF note and is read back by the host tool.
//!
//! The encoding is line-based so that `readelf -n` or `strings` shows it legibly:
//!
//! ```text
//! unikernel-keys 1
//! network.ip type=ipv4-cidr stage=boot unset=dhcp indexed # the first vif's IPv4 address
//! app.port type=u16 min=1 max=65535 default=80 # the port to listen on
//! app.greeting type=string default=hello%20world # what / answers
//! ```
//!
//! A key is `SECTION.NAME`, its attributes, then ` # ` and its one-line doc. Attribute values
//! are percent-escaped (`%`, space, `#`, control characters). The attributes are the ones the
//! manifest has (`[package.metadata.unikernel.keys.NAME]`), so both go through
//! [`Key::from_attrs`] and are checked the same way.

use super::value::{IntKind, Type, Value};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// When a key's value is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// On the command line: changed per deployment, without a rebuild.
    Boot,
    /// At build time: fixed in the image, refused on the command line.
    Configure,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Boot => "boot",
            Stage::Configure => "configure",
        }
    }
}

/// What a key holds when the command line does not give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    Default(Value),
    /// The command line must give it (a boot key) or the build must (a configure key).
    Required,
    /// No value: the app sees `None`.
    Optional,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Where listings group it: `network`, `logging`, `runtime`, `app`, ...
    pub section: String,
    pub name: String,
    pub ty: Type,
    pub stage: Stage,
    pub presence: Presence,
    /// One line.
    pub doc: String,
    /// A word that stands for "no value" (`ip=dhcp`).
    pub unset: Option<String>,
    /// `NAME_1=`, `NAME_2=`, ... are the same key for the second, third, ... device
    /// ([`indexed_name`]).
    pub indexed: bool,
}

/// The highest index an indexed key takes (`ip_63=`): more vifs than a domain may have.
pub const MAX_INDEX: u32 = 63;

/// How an indexed key is written for device `index`: `ip` for the first (0), `ip_1` for
/// the second. The `_` keeps names apart that a bare number would run together: `ip6_1`
/// is the second vif's `ip6`, `ip_6` the seventh's `ip`.
pub fn indexed_name(name: &str, index: u32) -> String {
    if index == 0 {
        String::from(name)
    } else {
        format!("{name}_{index}")
    }
}

/// `NAME_n` as `(NAME, n)`: 1 <= n <= [`MAX_INDEX`], without a leading zero.
fn split_index(name: &str) -> Option<(&str, u32)> {
    let (base, digits) = name.rsplit_once('_')?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let index: u32 = digits.parse().ok().filter(|n| (1..=MAX_INDEX).contains(n))?;
    Some((base, index))
}

/// A declaration that is not valid, named by its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// `SECTION.NAME`, or what else is wrong (`line 3`).
    pub key: String,
    pub what: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key {}: {}", self.key, self.what)
    }
}

impl core::error::Error for SchemaError {}

/// The attributes a declaration may have.
pub const ATTRIBUTES: &[&str] =
    &["type", "of", "min", "max", "values", "default", "required", "stage", "unset", "indexed"];

/// A section or key name: lowercase letters, digits and `_`, starting with a letter, at
/// most 32 bytes (a command-line word must stay short).
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

fn valid_word(w: &str) -> bool {
    !w.is_empty()
        && w.len() <= 32
        && w.bytes().all(|c| c.is_ascii_alphanumeric() || b"_-.".contains(&c))
}

impl Key {
    /// Builds a key from its attributes (as in the manifest and the encoding; each value as
    /// text, `values` comma-separated) and checks it: known attributes, a known type, type
    /// parameters that fit it, a default of the type, no default for a secret.
    pub fn from_attrs(
        section: &str,
        name: &str,
        attrs: &[(&str, &str)],
        doc: &str,
    ) -> Result<Key, SchemaError> {
        let err = |what: String| SchemaError { key: format!("{section}.{name}"), what };
        for n in [section, name] {
            if !valid_name(n) {
                return Err(err(format!(
                    "{n:?}: a name is 1-32 lowercase letters, digits and '_', starting with a letter"
                )));
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for (a, _) in attrs {
            if !ATTRIBUTES.contains(a) {
                return Err(err(format!(
                    "unknown attribute {a} (known: {})",
                    ATTRIBUTES.join(", ")
                )));
            }
            if seen.contains(a) {
                return Err(err(format!("attribute {a} given twice")));
            }
            seen.push(a);
        }
        let get = |a: &str| attr(attrs, a);
        let flag = |a: &str| match get(a) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(v) => Err(err(format!("{a} = {v:?}: expected true or false"))),
        };
        if doc.contains(['\n', '\r']) {
            return Err(err("doc: one line only".into()));
        }
        let type_name = get("type").ok_or_else(|| err("no type".into()))?;
        let mut used = Vec::new();
        let ty = parse_type(type_name, attrs, &mut used).map_err(err)?;
        for a in ["of", "min", "max", "values"] {
            if get(a).is_some() && !used.contains(&a) {
                return Err(err(format!("{a}: not a parameter of type {type_name}")));
            }
        }
        let stage = match get("stage") {
            None | Some("boot") => Stage::Boot,
            Some("configure") => Stage::Configure,
            Some(s) => return Err(err(format!("stage = {s:?}: expected boot or configure"))),
        };
        let required = flag("required")?;
        let presence = match (get("default"), required) {
            (Some(_), true) => return Err(err("both a default and required = true".into())),
            (None, true) => Presence::Required,
            (None, false) => Presence::Optional,
            (Some(text), false) => Presence::Default(ty.parse(text).map_err(|_| {
                err(format!("default {text:?} is not a value of type {}", ty.expected()))
            })?),
        };
        if ty == Type::Secret {
            if matches!(presence, Presence::Default(_)) {
                return Err(err("a secret has no default: the image would show it".into()));
            }
            if stage == Stage::Configure {
                return Err(err("a secret is a boot key: the image would show it".into()));
            }
        }
        let unset = match get("unset") {
            Some(w) if !valid_word(w) => {
                return Err(err(format!("unset = {w:?}: expected a word like none")))
            }
            Some(w) if ty.parse(w).is_ok() => {
                return Err(err(format!("unset = {w:?} is also a value of the type")))
            }
            w => w.map(String::from),
        };
        Ok(Key {
            section: section.into(),
            name: name.into(),
            ty,
            stage,
            presence,
            doc: doc.into(),
            unset,
            indexed: flag("indexed")?,
        })
    }

    /// The attributes [`Key::from_attrs`] takes back, as text.
    pub fn attrs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        type_attrs(&self.ty, &mut out);
        if let Presence::Default(v) = &self.presence {
            out.push(("default", v.to_string()));
        }
        if self.presence == Presence::Required {
            out.push(("required", "true".into()));
        }
        out.push(("stage", self.stage.name().into()));
        if let Some(w) = &self.unset {
            out.push(("unset", w.clone()));
        }
        if self.indexed {
            out.push(("indexed", "true".into()));
        }
        out
    }

    /// How the key is written on the command line: `ip=IPV4-CIDR`, `verbose[=BOOL]`,
    /// `log=off|error|...`.
    pub fn usage(&self) -> String {
        match &self.ty {
            Type::Bool => format!("{}[=BOOL]", self.name),
            Type::Enum(values) => format!("{}={}", self.name, values.join("|")),
            ty => format!("{}={}", self.name, ty.name().to_ascii_uppercase()),
        }
    }
}

fn attr<'a>(attrs: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

fn parse_type(
    name: &str,
    attrs: &[(&str, &str)],
    used: &mut Vec<&'static str>,
) -> Result<Type, String> {
    let get = |a: &str| attr(attrs, a);
    if let Some(t) = simple_type(name) {
        return Ok(t);
    }
    Ok(match name {
        "enum" => {
            used.push("values");
            let values = get("values").ok_or("an enum needs values")?;
            let values: Vec<String> = values.split(',').map(String::from).collect();
            if let Some(v) = values.iter().find(|v| !valid_word(v)) {
                return Err(format!("values: {v:?} is not a word like info or read-only"));
            }
            if values.iter().enumerate().any(|(i, v)| values[..i].contains(v)) {
                return Err("values: a value is given twice".into());
            }
            Type::Enum(values)
        }
        "list" => {
            used.push("of");
            let of = get("of").ok_or("a list needs of = TYPE")?;
            if matches!(of, "list" | "secret") {
                return Err(format!("of = {of:?}: a list holds neither lists nor secrets"));
            }
            Type::List(Box::new(parse_type(of, attrs, used)?))
        }
        other => match IntKind::from_name(other) {
            Some(kind) => {
                used.extend(["min", "max"]);
                let (lo, hi) = kind.bounds();
                let bound = |a: &str, d: i128| -> Result<i128, String> {
                    match get(a) {
                        None => Ok(d),
                        Some(t) => match (Type::Int { kind, min: lo, max: hi }).parse(t) {
                            Ok(Value::Int(n)) => Ok(n),
                            _ => Err(format!("{a} = {t}: not a {other}")),
                        },
                    }
                };
                let (min, max) = (bound("min", lo)?, bound("max", hi)?);
                if min > max {
                    return Err(format!("min {min} is above max {max}"));
                }
                Type::Int { kind, min, max }
            }
            None => {
                return Err(format!(
                    "type {other:?} is not one of bool, u8..u64, i8..i64, string, secret, \
                     ipv4, ipv6, ipv4-cidr, ipv6-cidr, mac, enum, duration, size, list"
                ))
            }
        },
    })
}

fn type_attrs(ty: &Type, out: &mut Vec<(&'static str, String)>) {
    let key = if out.is_empty() { "type" } else { "of" };
    out.push((key, ty.name().into()));
    match ty {
        Type::Int { kind, min, max } => {
            let (lo, hi) = kind.bounds();
            if *min != lo {
                out.push(("min", min.to_string()));
            }
            if *max != hi {
                out.push(("max", max.to_string()));
            }
        }
        Type::Enum(values) => out.push(("values", values.join(","))),
        Type::List(of) => type_attrs(of, out),
        _ => {}
    }
}

/// Every key of an image: the runtime's and the app's, in one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    pub keys: Vec<Key>,
}

/// The first line of an encoded schema.
pub const MAGIC: &str = "unikernel-keys 1";

impl Schema {
    /// Adds `key`; refuses a name some key already has, or one that is an indexed key's
    /// name for a device (`ip_1` beside an indexed `ip`).
    pub fn push(&mut self, key: Key) -> Result<(), SchemaError> {
        let err = |what: String| SchemaError { key: format!("{}.{}", key.section, key.name), what };
        if let Some(other) = self.keys.iter().find(|k| k.name == key.name) {
            return Err(err(format!(
                "{} is already a key (in section {})",
                key.name, other.section
            )));
        }
        let device_of = |name: &str, base: &Key| {
            base.indexed && split_index(name).is_some_and(|(b, _)| b == base.name)
        };
        if let Some(other) =
            self.keys.iter().find(|k| device_of(&key.name, k) || device_of(&k.name, &key))
        {
            return Err(err(format!(
                "{} and {} are one indexed key's names (NAME_n is NAME for device n)",
                other.name, key.name
            )));
        }
        self.keys.push(key);
        Ok(())
    }

    /// Adds every key of `other`.
    pub fn extend(&mut self, other: Schema) -> Result<(), SchemaError> {
        other.keys.into_iter().try_for_each(|k| self.push(k))
    }

    pub fn key(&self, name: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The key a command-line name stands for, with its index: an exact name (index 0),
    /// else an indexed key's `NAME_n` ([`indexed_name`]; 1 <= n <= [`MAX_INDEX`], no
    /// leading zero).
    pub fn resolve(&self, name: &str) -> Option<(&Key, u32)> {
        if let Some(k) = self.key(name) {
            return Some((k, 0));
        }
        let (base, index) = split_index(name)?;
        self.key(base).filter(|k| k.indexed).map(|k| (k, index))
    }

    /// What a name in the old spelling of indexed keys (`NAMEn`, before `NAME_n`) is
    /// written as now: `ip1` -> `ip_1`, `ip61` -> `ip6_1` (the old reading took the longest
    /// key name first); `None` for any other name, and for a name that is a key now (`ip6`).
    pub fn respelled(&self, name: &str) -> Option<String> {
        if self.resolve(name).is_some() {
            return None;
        }
        let digits = name.bytes().rev().take_while(u8::is_ascii_digit).count();
        (name.len() - digits..name.len()).rev().find_map(|at| {
            let (base, index) = name.split_at(at);
            let index: u32 = index.parse().ok().filter(|n| (1..=MAX_INDEX).contains(n))?;
            (!name[at..].starts_with('0') && self.key(base)?.indexed)
                .then(|| indexed_name(base, index))
        })
    }

    /// The sections in the order their first key comes.
    pub fn sections(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for k in &self.keys {
            if !out.contains(&k.section.as_str()) {
                out.push(&k.section);
            }
        }
        out
    }

    /// The text encoding (see the module doc).
    pub fn encode(&self) -> String {
        let mut s = String::from(MAGIC);
        s.push('\n');
        for k in &self.keys {
            let _ = write!(s, "{}.{}", k.section, k.name);
            for (a, v) in k.attrs() {
                if a == "required" || a == "indexed" {
                    let _ = write!(s, " {a}");
                } else {
                    let _ = write!(s, " {a}={}", escape(&v));
                }
            }
            if !k.doc.is_empty() {
                let _ = write!(s, " # {}", k.doc);
            }
            s.push('\n');
        }
        s
    }

    /// Reads an encoding back, checking every key as [`Key::from_attrs`] does.
    pub fn decode(text: &str) -> Result<Schema, SchemaError> {
        let mut lines = text.lines().enumerate();
        let line_err = |n: usize, what: &str| SchemaError {
            key: format!("(line {})", n + 1),
            what: what.into(),
        };
        match lines.next() {
            Some((_, MAGIC)) => {}
            _ => return Err(line_err(0, "not a schema: no \"unikernel-keys 1\" line")),
        }
        let mut schema = Schema::default();
        for (n, line) in lines {
            if line.is_empty() {
                continue;
            }
            let (decl, doc) = match line.split_once(" # ") {
                Some((d, doc)) => (d, doc),
                None => (line, ""),
            };
            let mut words = decl.split(' ');
            let full = words.next().unwrap_or("");
            let (section, name) =
                full.split_once('.').ok_or_else(|| line_err(n, "expected SECTION.NAME"))?;
            let mut raw = Vec::new();
            for w in words {
                let (a, v) = match w.split_once('=') {
                    Some((a, v)) => (a, unescape(v).ok_or_else(|| line_err(n, "bad escape"))?),
                    None => (w, String::from("true")),
                };
                raw.push((a, v));
            }
            let attrs: Vec<(&str, &str)> = raw.iter().map(|(a, v)| (*a, v.as_str())).collect();
            schema.push(Key::from_attrs(section, name, &attrs, doc)?)?;
        }
        Ok(schema)
    }

    /// Reads an encoding that was checked when it was written: an image's own schema notes
    /// at boot (the host tool encodes the app's keys from [`Key::from_attrs`]; the runtime's
    /// are checked by this crate's tests). For every text [`Schema::decode`] accepts it
    /// gives the same schema, with a fraction of the code: it checks only what it needs to
    /// read a key (the first line, `SECTION.NAME`, a known type, a default of the type, one
    /// key per name), and says no more than the line of anything else.
    pub fn decode_trusted(text: &str) -> Result<Schema, SchemaError> {
        let bad = |n: usize| SchemaError { key: format!("(line {})", n + 1), what: "bad".into() };
        let mut lines = text.lines().enumerate();
        if lines.next().map(|(_, l)| l) != Some(MAGIC) {
            return Err(bad(0));
        }
        let mut schema = Schema::default();
        for (n, line) in lines {
            if line.is_empty() {
                continue;
            }
            // By bytes: `split_once(" # ")`'s substring search is a kilobyte of code.
            let doc_at = line.as_bytes().windows(3).position(|w| w == b" # ");
            let (decl, doc) = doc_at.map_or((line, ""), |at| (&line[..at], &line[at + 3..]));
            let mut words = decl.split(' ');
            let (section, name) = words.next().and_then(|w| w.split_once('.')).ok_or(bad(n))?;
            let mut attrs: Vec<(&str, String)> = Vec::new();
            for w in words {
                attrs.push(match w.split_once('=') {
                    Some((a, v)) => (a, unescape(v).ok_or(bad(n))?),
                    None => (w, String::from("true")),
                });
            }
            let get = |a: &str| attrs.iter().find(|(k, _)| *k == a).map(|(_, v)| v.as_str());
            let ty = get("type").and_then(|t| trusted_type(t, &get)).ok_or(bad(n))?;
            let presence = match (get("default"), get("required")) {
                (Some(text), _) => Presence::Default(ty.parse(text).map_err(|_| bad(n))?),
                (None, Some(_)) => Presence::Required,
                (None, None) => Presence::Optional,
            };
            let key = Key {
                section: section.into(),
                name: name.into(),
                stage: if get("stage") == Some("configure") {
                    Stage::Configure
                } else {
                    Stage::Boot
                },
                presence,
                doc: doc.into(),
                unset: get("unset").map(String::from),
                indexed: get("indexed").is_some(),
                ty,
            };
            if schema.key(name).is_some() {
                return Err(bad(n));
            }
            schema.keys.push(key);
        }
        Ok(schema)
    }
}

/// The types that take no parameters, by name.
fn simple_type(name: &str) -> Option<Type> {
    Some(match name {
        "bool" => Type::Bool,
        "string" => Type::String,
        "secret" => Type::Secret,
        "ipv4" => Type::Ipv4,
        "ipv6" => Type::Ipv6,
        "ipv4-cidr" => Type::Ipv4Cidr,
        "ipv6-cidr" => Type::Ipv6Cidr,
        "mac" => Type::Mac,
        "duration" => Type::Duration,
        "size" => Type::Size,
        _ => return None,
    })
}

/// The type named `name` with its parameters from `get`, trusting them to be as
/// [`parse_type`] accepts them.
fn trusted_type<'a>(name: &str, get: &dyn Fn(&str) -> Option<&'a str>) -> Option<Type> {
    if let Some(t) = simple_type(name) {
        return Some(t);
    }
    Some(match name {
        "enum" => Type::Enum(get("values")?.split(',').map(String::from).collect()),
        "list" => Type::List(Box::new(trusted_type(get("of")?, get)?)),
        other => {
            let kind = IntKind::from_name(other)?;
            let (min, max) = kind.bounds();
            let whole = Type::Int { kind, min, max };
            let bound = |a: &str, d: i128| match get(a).map(|t| whole.parse(t)) {
                None => Some(d),
                Some(Ok(Value::Int(n))) => Some(n),
                Some(_) => None,
            };
            Type::Int { kind, min: bound("min", min)?, max: bound("max", max)? }
        }
    })
}

fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if c == '%' || c == ' ' || c == '#' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn unescape(v: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(v.len());
    let mut it = v.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next()?, it.next()?];
            bytes.push(u8::from_str_radix(core::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn key(name: &str, attrs: &[(&str, &str)]) -> Result<Key, SchemaError> {
        Key::from_attrs("app", name, attrs, "a key")
    }

    fn what(name: &str, attrs: &[(&str, &str)]) -> String {
        key(name, attrs).unwrap_err().to_string()
    }

    #[test]
    fn declarations_are_checked() {
        assert!(what("Port", &[("type", "u16")]).contains("lowercase"));
        assert!(what("port", &[]).contains("no type"));
        assert!(what("port", &[("type", "u17")]).contains("type \"u17\" is not one of"));
        assert!(what("port", &[("type", "u16"), ("colour", "red")]).contains("unknown attribute"));
        assert!(what("port", &[("type", "u16"), ("min", "5"), ("max", "4")]).contains("above"));
        assert!(what("port", &[("type", "u16"), ("max", "70000")]).contains("max = 70000"));
        assert!(what("port", &[("type", "string"), ("min", "1")]).contains("not a parameter"));
        assert!(what("port", &[("type", "u16"), ("default", "0x1_0000")]).contains("default"));
        assert_eq!(
            what("port", &[("type", "u16"), ("min", "1"), ("default", "0")]),
            "key app.port: default \"0\" is not a value of type u16 in 1..=65535"
        );
        assert!(
            what("p", &[("type", "u16"), ("default", "1"), ("required", "true")]).contains("both")
        );
        assert!(what("p", &[("type", "u16"), ("stage", "run")]).contains("boot or configure"));
        assert!(what("p", &[("type", "enum")]).contains("needs values"));
        assert!(what("p", &[("type", "enum"), ("values", "a,a")]).contains("twice"));
        assert!(what("p", &[("type", "enum"), ("values", "a,b c")]).contains("not a word"));
        assert!(what("p", &[("type", "list")]).contains("needs of"));
        assert!(what("p", &[("type", "list"), ("of", "secret")]).contains("neither"));
        assert!(what("p", &[("type", "list"), ("of", "list")]).contains("neither"));
        assert!(what("p", &[("type", "secret"), ("default", "x")]).contains("no default"));
        assert!(what("p", &[("type", "secret"), ("stage", "configure")]).contains("boot key"));
        assert!(what("p", &[("type", "ipv4"), ("unset", "1.2.3.4")]).contains("also a value"));
        assert!(what("p", &[("type", "bool"), ("indexed", "maybe")]).contains("true or false"));
        assert!(Key::from_attrs("app", "p", &[("type", "bool")], "two\nlines").is_err());
    }

    #[test]
    fn names_are_one_namespace() {
        let mut s = Schema::default();
        s.push(key("port", &[("type", "u16")]).unwrap()).unwrap();
        let mut other = key("port", &[("type", "bool")]).unwrap();
        other.section = "network".into();
        let e = s.push(other).unwrap_err();
        assert_eq!(e.to_string(), "key network.port: port is already a key (in section app)");
    }

    #[test]
    fn indexed_names_resolve_after_exact_ones() {
        let mut s = Schema::default();
        s.push(key("ip", &[("type", "ipv4-cidr"), ("indexed", "true")]).unwrap()).unwrap();
        s.push(key("ip6", &[("type", "ipv6-cidr"), ("indexed", "true")]).unwrap()).unwrap();
        s.push(key("port", &[("type", "u16")]).unwrap()).unwrap();
        let r = |n: &str| s.resolve(n).map(|(k, i)| (k.name.as_str(), i));
        assert_eq!(r("ip"), Some(("ip", 0)));
        assert_eq!(r("ip_2"), Some(("ip", 2)));
        assert_eq!(r("ip_59"), Some(("ip", 59)));
        assert_eq!(r("ip_63"), Some(("ip", 63)));
        // vif 6's IPv4 address and vif 0's IPv6 one are two names.
        assert_eq!(r("ip_6"), Some(("ip", 6)));
        assert_eq!(r("ip6"), Some(("ip6", 0)));
        assert_eq!(r("ip6_1"), Some(("ip6", 1)));
        assert_eq!(r("ip6_6"), Some(("ip6", 6)));
        for none in [
            "ip1", "ip61", "ip_64", "ip_01", "ip_0", "ip_", "ip__1", "ip_1_1", "ip_+1", "port_1",
            "ipx", "x", "", "_1",
        ] {
            assert!(s.resolve(none).is_none(), "{none}");
        }
    }

    #[test]
    fn the_old_spelling_of_indexed_names_is_respelled() {
        let mut s = Schema::default();
        s.push(key("ip", &[("type", "ipv4-cidr"), ("indexed", "true")]).unwrap()).unwrap();
        s.push(key("ip6", &[("type", "ipv6-cidr"), ("indexed", "true")]).unwrap()).unwrap();
        s.push(key("port", &[("type", "u16")]).unwrap()).unwrap();
        let r = |n: &str| s.respelled(n);
        assert_eq!(r("ip1").as_deref(), Some("ip_1"));
        assert_eq!(r("ip16").as_deref(), Some("ip_16"));
        assert_eq!(r("ip61").as_deref(), Some("ip6_1"));
        assert_eq!(r("ip63").as_deref(), Some("ip6_3"));
        assert_eq!(r("ip64").as_deref(), Some("ip6_4"));
        for none in ["ip", "ip6", "ip0", "ip01", "ip99", "port1", "ip_1", "x1"] {
            assert_eq!(r(none), None, "{none}");
        }
    }

    #[test]
    fn a_name_cannot_be_an_indexed_keys_device_name() {
        let ip = || key("ip", &[("type", "ipv4-cidr"), ("indexed", "true")]).unwrap();
        let mut s = Schema::default();
        s.push(ip()).unwrap();
        let e = s.push(key("ip_2", &[("type", "bool")]).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "key app.ip_2: ip and ip_2 are one indexed key's names (NAME_n is NAME for device n)"
        );
        let mut s = Schema::default();
        s.push(key("ip_2", &[("type", "bool")]).unwrap()).unwrap();
        assert!(s.push(ip()).is_err());
        // Not a device's name: no index, index 0, or a key that is not indexed.
        let mut s = Schema::default();
        s.push(ip()).unwrap();
        s.push(key("ip_0", &[("type", "bool")]).unwrap()).unwrap();
        s.push(key("ip_x", &[("type", "bool")]).unwrap()).unwrap();
        s.push(key("port", &[("type", "u16")]).unwrap()).unwrap();
        s.push(key("port_1", &[("type", "u16")]).unwrap()).unwrap();
    }

    fn sample() -> Schema {
        let mut s = Schema::default();
        type Decl<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);
        let decls: &[Decl] = &[
            (
                "network",
                "ip",
                &[("type", "ipv4-cidr"), ("unset", "dhcp"), ("indexed", "true")],
                "the first vif's address # not a comment",
            ),
            ("network", "dns", &[("type", "list"), ("of", "ipv4"), ("default", "")], ""),
            (
                "logging",
                "log",
                &[("type", "enum"), ("values", "info,debug"), ("default", "info")],
                "level",
            ),
            ("app", "port", &[("type", "u16"), ("min", "1"), ("default", "80")], "listen here"),
            ("app", "greeting", &[("type", "string"), ("default", "hello world #1 100%")], "hi"),
            ("app", "token", &[("type", "secret"), ("required", "true")], "API token"),
            ("app", "cache", &[("type", "size"), ("default", "16MiB"), ("stage", "configure")], ""),
            ("app", "grace", &[("type", "duration"), ("default", "90s")], ""),
            (
                "app",
                "peers",
                &[("type", "list"), ("of", "u8"), ("max", "9"), ("default", "1,2")],
                "",
            ),
            ("app", "mac", &[("type", "mac")], "ünïcode doc"),
            ("app", "net6", &[("type", "ipv6-cidr"), ("default", "fd00::1/64")], ""),
            ("app", "gw6", &[("type", "ipv6")], ""),
            ("app", "debug", &[("type", "bool"), ("default", "false")], ""),
            ("app", "offset", &[("type", "i64"), ("default", "-5")], ""),
            ("app", "gw", &[("type", "ipv4"), ("default", "10.0.0.1")], ""),
        ];
        for (section, name, attrs, doc) in decls {
            s.push(Key::from_attrs(section, name, attrs, doc).unwrap()).unwrap();
        }
        s
    }

    #[test]
    fn schema_round_trips_through_its_encoding() {
        let s = sample();
        let text = s.encode();
        assert_eq!(Schema::decode(&text), Ok(s.clone()));
        assert_eq!(Schema::decode_trusted(&text), Ok(s.clone()));
        assert!(text.contains("app.greeting type=string default=hello%20world%20%231%20100%25 "));
        assert!(text.contains("network.ip type=ipv4-cidr stage=boot unset=dhcp indexed # the"));
        assert!(text.contains("app.token type=secret required stage=boot # API token\n"));
        assert!(text.contains("app.peers type=list of=u8 max=9 default=1,2 "));
        assert_eq!(s.sections(), vec!["network", "logging", "app"]);
    }

    #[test]
    fn bad_encodings_are_refused() {
        assert!(Schema::decode("").is_err());
        assert!(Schema::decode("unikernel-keys 2\n").is_err());
        assert_eq!(Schema::decode("unikernel-keys 1\n"), Ok(Schema::default()));
        let bad = |body: &str| Schema::decode(&format!("{MAGIC}\n{body}\n")).unwrap_err();
        assert!(bad("port type=u16").what.contains("SECTION.NAME"));
        assert_eq!(bad("app.port type=u16 default=%4").what, "bad escape");
        assert_eq!(bad("app.port type=u16 default=%FF").what, "bad escape");
        assert!(bad("app.port type=u16 default=x").what.contains("default"));
        assert!(bad("app.p type=u8\napp.p type=u8").what.contains("already"));
    }

    #[test]
    fn the_trusted_decoder_refuses_what_it_cannot_read() {
        assert!(Schema::decode_trusted("").is_err());
        assert!(Schema::decode_trusted("unikernel-keys 2\n").is_err());
        assert_eq!(Schema::decode_trusted("unikernel-keys 1\n"), Ok(Schema::default()));
        let bad = |body: &str| Schema::decode_trusted(&format!("{MAGIC}\n{body}\n")).unwrap_err();
        assert_eq!(bad("port type=u16").key, "(line 2)");
        assert_eq!(bad("app.p type=u8\napp.p type=u8").key, "(line 3)");
        for body in [
            "app.port type=u16 default=%4",
            "app.port type=u17",
            "app.port",
            "app.port type=u16 default=x",
            "app.port type=u16 min=x",
            "app.port type=list",
            "app.port type=enum",
        ] {
            bad(body);
        }
    }
}
