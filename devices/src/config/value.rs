//! The types a key can have, the values they take, and parsing one value from its text.
//!
//! Every type has one canonical text form ([`Value`]'s `Display`), which parses back to the
//! same value: the schema carries defaults in it and `describe` shows them in it.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::time::Duration;

/// An address with its prefix length (at most 32 for IPv4, 128 for IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr<A> {
    pub addr: A,
    pub prefix_len: u8,
}

impl<A: fmt::Display> fmt::Display for Cidr<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// The integer types, each with the range it can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntKind {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
}

impl IntKind {
    const ALL: [(IntKind, &'static str); 8] = [
        (IntKind::U8, "u8"),
        (IntKind::U16, "u16"),
        (IntKind::U32, "u32"),
        (IntKind::U64, "u64"),
        (IntKind::I8, "i8"),
        (IntKind::I16, "i16"),
        (IntKind::I32, "i32"),
        (IntKind::I64, "i64"),
    ];

    pub fn from_name(name: &str) -> Option<IntKind> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(k, _)| *k == self).map(|(_, n)| *n).unwrap_or("?")
    }

    /// The smallest and largest value of the type.
    pub fn bounds(self) -> (i128, i128) {
        match self {
            IntKind::U8 => (0, u8::MAX.into()),
            IntKind::U16 => (0, u16::MAX.into()),
            IntKind::U32 => (0, u32::MAX.into()),
            IntKind::U64 => (0, u64::MAX.into()),
            IntKind::I8 => (i8::MIN.into(), i8::MAX.into()),
            IntKind::I16 => (i16::MIN.into(), i16::MAX.into()),
            IntKind::I32 => (i32::MIN.into(), i32::MAX.into()),
            IntKind::I64 => (i64::MIN.into(), i64::MAX.into()),
        }
    }
}

/// The type of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`); a bare `NAME` is `true`.
    Bool,
    /// An integer in `min..=max` (within the kind's own range); decimal or `0x` hex.
    Int {
        kind: IntKind,
        min: i128,
        max: i128,
    },
    String,
    /// A string that is never printed or logged.
    Secret,
    Ipv4,
    Ipv6,
    Ipv4Cidr,
    Ipv6Cidr,
    Mac,
    /// One of the words given.
    Enum(Vec<String>),
    /// `10s`, `500ms`, `1m30s`; units ns, us, ms, s, m, h; a bare number is seconds (as in
    /// systemd's time spans).
    Duration,
    /// Bytes: `4096`, `4KiB`, `16MiB`; units B, KiB, MiB, GiB, TiB.
    Size,
    /// Comma-separated values of another type (not a list, not a secret).
    List(Box<Type>),
}

/// A secret string: its `Debug` and `Display` show `<secret>`; [`Secret::expose`] is the
/// one way to the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: &str) -> Secret {
        Secret(String::from(s))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// A value of a [`Type`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Int(i128),
    String(String),
    Secret(Secret),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Ipv4Cidr(Cidr<Ipv4Addr>),
    Ipv6Cidr(Cidr<Ipv6Addr>),
    Mac([u8; 6]),
    Enum(String),
    Duration(Duration),
    Size(u64),
    List(Vec<Value>),
}

/// Why a text is not a value of a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not written as the type is written.
    Syntax,
    /// A number outside the type's range.
    OutOfRange,
    /// Not one of an enum's words.
    NotOneOf,
}

const DURATION_UNITS: [(&str, u128); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

const SIZE_UNITS: [(&str, u64); 5] =
    [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)];

impl Type {
    /// The type's name in the schema and the manifest (`u16`, `ipv4-cidr`, `list`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Int { kind, .. } => kind.name(),
            Type::String => "string",
            Type::Secret => "secret",
            Type::Ipv4 => "ipv4",
            Type::Ipv6 => "ipv6",
            Type::Ipv4Cidr => "ipv4-cidr",
            Type::Ipv6Cidr => "ipv6-cidr",
            Type::Mac => "mac",
            Type::Enum(_) => "enum",
            Type::Duration => "duration",
            Type::Size => "size",
            Type::List(_) => "list",
        }
    }

    /// What a value of the type looks like, for error messages and listings: `u16 in
    /// 1..=65535`, `one of info, debug`, `list of ipv4 (comma-separated)`.
    pub fn expected(&self) -> String {
        match self {
            Type::Int { kind, min, max } if (*min, *max) != kind.bounds() => {
                format!("{} in {}..={}", kind.name(), Int(*min), Int(*max))
            }
            Type::Ipv4 => "ipv4 (like 10.0.0.1)".into(),
            Type::Ipv6 => "ipv6 (like fd00::1)".into(),
            Type::Ipv4Cidr => "ipv4-cidr (like 10.0.0.2/24)".into(),
            Type::Ipv6Cidr => "ipv6-cidr (like fd00::2/64)".into(),
            Type::Mac => "mac (like 00:16:3e:00:00:01)".into(),
            Type::Bool => "bool (true or false)".into(),
            Type::Enum(values) => format!("one of {}", values.join(", ")),
            Type::Duration => "duration (like 10s, 500ms, 1m30s)".into(),
            Type::Size => "size (like 4096, 4KiB, 16MiB)".into(),
            Type::List(of) => format!("comma-separated list of {}", of.expected()),
            _ => self.name().to_string(),
        }
    }

    /// The type's short form in listings: `u16`, `enum(a|b)`, `list(ipv4)`.
    pub fn short(&self) -> String {
        match self {
            Type::Enum(values) => format!("enum({})", values.join("|")),
            Type::List(of) => format!("list({})", of.short()),
            Type::Int { kind, min, max } if (*min, *max) != kind.bounds() => {
                format!("{}({}..={})", kind.name(), Int(*min), Int(*max))
            }
            _ => self.name().to_string(),
        }
    }

    /// Parses `text` as a value of this type.
    pub fn parse(&self, text: &str) -> Result<Value, Reason> {
        use Reason::*;
        Ok(match self {
            Type::Bool => Value::Bool(match text {
                "true" | "yes" | "on" | "1" => true,
                "false" | "no" | "off" | "0" => false,
                _ => return Err(Syntax),
            }),
            Type::Int { min, max, .. } => {
                let n = parse_int(text)?;
                if n < *min || n > *max {
                    return Err(OutOfRange);
                }
                Value::Int(n)
            }
            Type::String => Value::String(text.into()),
            Type::Secret => Value::Secret(Secret::new(text)),
            Type::Ipv4 => Value::Ipv4(text.parse().map_err(|_| Syntax)?),
            Type::Ipv6 => Value::Ipv6(text.parse().map_err(|_| Syntax)?),
            Type::Ipv4Cidr => Value::Ipv4Cidr(cidr(text, 32)?),
            Type::Ipv6Cidr => Value::Ipv6Cidr(cidr(text, 128)?),
            Type::Mac => Value::Mac(mac(text).ok_or(Syntax)?),
            Type::Enum(values) => match values.iter().find(|v| *v == text) {
                Some(v) => Value::Enum(v.clone()),
                None => return Err(NotOneOf),
            },
            Type::Duration => Value::Duration(duration(text)?),
            Type::Size => Value::Size(size(text)?),
            Type::List(of) if text.is_empty() => {
                let _ = of;
                Value::List(Vec::new())
            }
            Type::List(of) => {
                Value::List(text.split(',').map(|t| of.parse(t)).collect::<Result<_, _>>()?)
            }
        })
    }

    /// Whether `value` is a value of this type (and within its range).
    pub fn admits(&self, value: &Value) -> bool {
        match (self, value) {
            (Type::Bool, Value::Bool(_))
            | (Type::String, Value::String(_))
            | (Type::Secret, Value::Secret(_))
            | (Type::Ipv4, Value::Ipv4(_))
            | (Type::Ipv6, Value::Ipv6(_))
            | (Type::Mac, Value::Mac(_))
            | (Type::Duration, Value::Duration(_))
            | (Type::Size, Value::Size(_)) => true,
            (Type::Ipv4Cidr, Value::Ipv4Cidr(c)) => c.prefix_len <= 32,
            (Type::Ipv6Cidr, Value::Ipv6Cidr(c)) => c.prefix_len <= 128,
            (Type::Int { min, max, .. }, Value::Int(n)) => (min..=max).contains(&n),
            (Type::Enum(values), Value::Enum(v)) => values.contains(v),
            (Type::List(of), Value::List(items)) => items.iter().all(|v| of.admits(v)),
            _ => false,
        }
    }
}

/// An integer as `{}` shows it, through `u64`'s formatting: every integer type's range fits
/// in `i64` or `u64`, and 128-bit formatting is code that nothing else in an image needs.
struct Int(i128);

impl fmt::Display for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            f.write_str("-")?;
        }
        write_u128(f, self.0.unsigned_abs())
    }
}

fn write_u128(f: &mut fmt::Formatter<'_>, n: u128) -> fmt::Result {
    const E19: u128 = 10_000_000_000_000_000_000;
    match u64::try_from(n) {
        Ok(n) => write!(f, "{n}"),
        Err(_) => {
            write_u128(f, n / E19)?;
            write!(f, "{:019}", (n % E19) as u64)
        }
    }
}

fn parse_int(text: &str) -> Result<i128, Reason> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (radix, digits) = match digits.strip_prefix("0x") {
        Some(hex) => (16, hex),
        None => (10, digits),
    };
    // i128::from_str_radix would take a second sign ("--1", "-+1").
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(Reason::Syntax);
    }
    // Anything past i128 is past every integer type's range.
    let n = i128::from_str_radix(digits, radix).map_err(|_| Reason::OutOfRange)?;
    Ok(if negative { -n } else { n })
}

fn cidr<A: core::str::FromStr>(text: &str, max: u8) -> Result<Cidr<A>, Reason> {
    let (addr, len) = text.split_once('/').ok_or(Reason::Syntax)?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reason::Syntax);
    }
    let prefix_len: u8 = len.parse().map_err(|_| Reason::OutOfRange)?;
    if prefix_len > max {
        return Err(Reason::OutOfRange);
    }
    Ok(Cidr { addr: addr.parse().map_err(|_| Reason::Syntax)?, prefix_len })
}

fn mac(text: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut out {
        let p = parts.next()?;
        if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *byte = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Splits `text` into (number, unit) runs: `1m30s` -> (1, "m"), (30, "s").
fn runs(text: &str) -> Result<Vec<(u128, &str)>, Reason> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(Reason::Syntax);
        }
        let n: u128 = rest[..digits].parse().map_err(|_| Reason::OutOfRange)?;
        rest = &rest[digits..];
        let unit = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        out.push((n, &rest[..unit]));
        rest = &rest[unit..];
    }
    if out.is_empty() {
        return Err(Reason::Syntax);
    }
    Ok(out)
}

fn duration(text: &str) -> Result<Duration, Reason> {
    let runs = runs(text)?;
    let mut nanos: u128 = 0;
    for (i, (n, unit)) in runs.iter().enumerate() {
        let scale = match (*unit, runs.len()) {
            ("", 1) => 1_000_000_000,
            _ => DURATION_UNITS.iter().find(|(u, _)| u == unit).ok_or(Reason::Syntax)?.1,
        };
        // Units from the largest down, each once: `1m30s`, not `30s1m` or `1s1s`.
        if i > 0 && scale >= unit_scale(runs[i - 1].1) {
            return Err(Reason::Syntax);
        }
        nanos =
            n.checked_mul(scale).and_then(|v| v.checked_add(nanos)).ok_or(Reason::OutOfRange)?;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| Reason::OutOfRange)?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

fn unit_scale(unit: &str) -> u128 {
    DURATION_UNITS.iter().find(|(u, _)| *u == unit).map_or(0, |(_, s)| *s)
}

fn size(text: &str) -> Result<u64, Reason> {
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    if digits == 0 {
        return Err(Reason::Syntax);
    }
    let n: u64 = text[..digits].parse().map_err(|_| Reason::OutOfRange)?;
    let scale = match &text[digits..] {
        "" => 1,
        unit => SIZE_UNITS.iter().find(|(u, _)| *u == unit).ok_or(Reason::Syntax)?.1,
    };
    n.checked_mul(scale).ok_or(Reason::OutOfRange)
}

impl fmt::Display for Value {
    /// The canonical form, which [`Type::parse`] reads back; a secret shows `<secret>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{}", Int(*n)),
            Value::String(s) | Value::Enum(s) => f.write_str(s),
            Value::Secret(s) => write!(f, "{s}"),
            Value::Ipv4(a) => write!(f, "{a}"),
            Value::Ipv6(a) => write!(f, "{a}"),
            Value::Ipv4Cidr(c) => write!(f, "{c}"),
            Value::Ipv6Cidr(c) => write!(f, "{c}"),
            Value::Mac(m) => write!(
                f,
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            Value::Duration(d) => {
                let mut nanos = d.as_nanos();
                if nanos == 0 {
                    return f.write_str("0s");
                }
                for (unit, scale) in DURATION_UNITS {
                    if nanos >= scale {
                        write_u128(f, nanos / scale)?;
                        f.write_str(unit)?;
                        nanos %= scale;
                    }
                }
                Ok(())
            }
            Value::Size(n) => {
                let (unit, scale) = SIZE_UNITS
                    .iter()
                    .find(|(_, s)| *n != 0 && n % s == 0)
                    .copied()
                    .unwrap_or(("", 1));
                let unit = if unit == "B" { "" } else { unit };
                write!(f, "{}{unit}", n / scale)
            }
            Value::List(items) => {
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn u16_in(min: i128, max: i128) -> Type {
        Type::Int { kind: IntKind::U16, min, max }
    }

    #[test]
    fn bools() {
        for t in ["true", "yes", "on", "1"] {
            assert_eq!(Type::Bool.parse(t), Ok(Value::Bool(true)));
        }
        for t in ["false", "no", "off", "0"] {
            assert_eq!(Type::Bool.parse(t), Ok(Value::Bool(false)));
        }
        for t in ["", "True", "2", "y"] {
            assert_eq!(Type::Bool.parse(t), Err(Reason::Syntax), "{t:?}");
        }
    }

    #[test]
    fn integers_in_their_range() {
        let t = u16_in(1, 65535);
        assert_eq!(t.parse("80"), Ok(Value::Int(80)));
        assert_eq!(t.parse("0x50"), Ok(Value::Int(80)));
        assert_eq!(t.parse("0"), Err(Reason::OutOfRange));
        assert_eq!(t.parse("65536"), Err(Reason::OutOfRange));
        assert_eq!(t.parse("-1"), Err(Reason::OutOfRange));
        let huge = "9".repeat(60);
        assert_eq!(t.parse(&huge), Err(Reason::OutOfRange));
        for bad in ["", "-", "+1", "--1", "1.5", "0x", "12a", " 1"] {
            assert_eq!(t.parse(bad), Err(Reason::Syntax), "{bad:?}");
        }
        let i8 = Type::Int { kind: IntKind::I8, min: -128, max: 127 };
        assert_eq!(i8.parse("-128"), Ok(Value::Int(-128)));
        assert_eq!(i8.parse("-129"), Err(Reason::OutOfRange));
        assert_eq!(IntKind::U64.bounds().1, u64::MAX.into());
        assert_eq!(u16_in(1, 65535).expected(), "u16 in 1..=65535");
        assert_eq!(u16_in(0, 65535).expected(), "u16");
    }

    #[test]
    fn strings_and_secrets() {
        assert_eq!(Type::String.parse(""), Ok(Value::String("".into())));
        let s = Type::Secret.parse("hunter2").unwrap();
        assert_eq!(format!("{s}"), "<secret>");
        assert!(!format!("{s:?}").contains("hunter2"));
        let Value::Secret(s) = s else { panic!() };
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn addresses() {
        assert_eq!(Type::Ipv4.parse("10.0.0.1"), Ok(Value::Ipv4(Ipv4Addr::new(10, 0, 0, 1))));
        assert_eq!(Type::Ipv4.parse("10.0.0.256"), Err(Reason::Syntax));
        assert_eq!(Type::Ipv4.parse("fd00::1"), Err(Reason::Syntax));
        assert!(Type::Ipv6.parse("fd00::1").is_ok());
        assert_eq!(Type::Ipv6.parse("fd00:::1"), Err(Reason::Syntax));
        let c = Type::Ipv4Cidr.parse("10.0.0.2/24").unwrap();
        assert_eq!(c, Value::Ipv4Cidr(Cidr { addr: Ipv4Addr::new(10, 0, 0, 2), prefix_len: 24 }));
        assert_eq!(Type::Ipv4Cidr.parse("10.0.0.2/33"), Err(Reason::OutOfRange));
        assert_eq!(Type::Ipv4Cidr.parse("10.0.0.2/999"), Err(Reason::OutOfRange));
        for bad in ["10.0.0.2", "10.0.0.2/", "10.0.0.2/+4", "x/24", "/24"] {
            assert_eq!(Type::Ipv4Cidr.parse(bad), Err(Reason::Syntax), "{bad:?}");
        }
        assert!(Type::Ipv6Cidr.parse("fd00::2/128").is_ok());
        assert_eq!(Type::Ipv6Cidr.parse("fd00::2/129"), Err(Reason::OutOfRange));
        assert_eq!(Type::Ipv6Cidr.parse("10.0.0.2/24"), Err(Reason::Syntax));
    }

    #[test]
    fn macs() {
        assert_eq!(
            Type::Mac.parse("00:16:3E:00:00:10"),
            Ok(Value::Mac([0, 0x16, 0x3e, 0, 0, 0x10]))
        );
        for bad in [
            "00:16:3e:00:00",
            "00:16:3e:00:00:10:11",
            "0:16:3e:00:00:10",
            "00-16-3e-00-00-10",
            "zz:16:3e:00:00:10",
            "+0:16:3e:00:00:10",
        ] {
            assert_eq!(Type::Mac.parse(bad), Err(Reason::Syntax), "{bad:?}");
        }
    }

    #[test]
    fn enums() {
        let t = Type::Enum(vec!["info".into(), "debug".into()]);
        assert_eq!(t.parse("debug"), Ok(Value::Enum("debug".into())));
        assert_eq!(t.parse("DEBUG"), Err(Reason::NotOneOf));
        assert_eq!(t.expected(), "one of info, debug");
    }

    #[test]
    fn durations() {
        let d = |t| Type::Duration.parse(t);
        assert_eq!(d("10s"), Ok(Value::Duration(Duration::from_secs(10))));
        assert_eq!(d("10"), Ok(Value::Duration(Duration::from_secs(10))));
        assert_eq!(d("500ms"), Ok(Value::Duration(Duration::from_millis(500))));
        assert_eq!(d("1m30s"), Ok(Value::Duration(Duration::from_secs(90))));
        assert_eq!(d("2h"), Ok(Value::Duration(Duration::from_secs(7200))));
        assert_eq!(d("1s5ns"), Ok(Value::Duration(Duration::new(1, 5))));
        for bad in ["", "s", "10x", "1.5s", "-1s", "30s1m", "1s1s", "1 s", "10S", "1m30"] {
            assert_eq!(d(bad), Err(Reason::Syntax), "{bad:?}");
        }
        assert_eq!(d(&format!("{}h", u64::MAX)), Err(Reason::OutOfRange));
    }

    #[test]
    fn sizes() {
        let s = |t| Type::Size.parse(t);
        assert_eq!(s("4096"), Ok(Value::Size(4096)));
        assert_eq!(s("4096B"), Ok(Value::Size(4096)));
        assert_eq!(s("4KiB"), Ok(Value::Size(4096)));
        assert_eq!(s("16MiB"), Ok(Value::Size(16 << 20)));
        assert_eq!(s("1TiB"), Ok(Value::Size(1 << 40)));
        for bad in ["", "KiB", "4kib", "4KB", "4 KiB", "-4", "1.5MiB"] {
            assert_eq!(s(bad), Err(Reason::Syntax), "{bad:?}");
        }
        assert_eq!(s("17179869184GiB"), Err(Reason::OutOfRange));
    }

    #[test]
    fn lists() {
        let t = Type::List(Box::new(Type::Ipv4));
        assert_eq!(
            t.parse("1.1.1.1,9.9.9.9"),
            Ok(Value::List(vec![
                Value::Ipv4(Ipv4Addr::new(1, 1, 1, 1)),
                Value::Ipv4(Ipv4Addr::new(9, 9, 9, 9))
            ]))
        );
        assert_eq!(t.parse(""), Ok(Value::List(vec![])));
        assert_eq!(t.parse("1.1.1.1,"), Err(Reason::Syntax));
        let ports = Type::List(Box::new(u16_in(1, 100)));
        assert_eq!(ports.parse("1,200"), Err(Reason::OutOfRange));
        assert_eq!(ports.expected(), "comma-separated list of u16 in 1..=100");
    }

    #[test]
    fn integers_show_as_rust_shows_them() {
        for n in [
            0,
            1,
            -1,
            80,
            i64::MIN.into(),
            u64::MAX.into(),
            i128::MAX,
            i128::MIN,
            -(10i128.pow(19)),
            10i128.pow(19) + 7,
        ] {
            assert_eq!(Value::Int(n).to_string(), format!("{n}"));
        }
    }

    /// Every value's canonical text parses back to the same value.
    #[test]
    fn canonical_text_round_trips() {
        let cases: &[(Type, &str, &str)] = &[
            (Type::Bool, "yes", "true"),
            (u16_in(1, 65535), "0x50", "80"),
            (Type::Int { kind: IntKind::I64, min: i64::MIN.into(), max: 0 }, "-7", "-7"),
            (Type::String, "a=b", "a=b"),
            (Type::Ipv6, "fd00:0::1", "fd00::1"),
            (Type::Ipv6Cidr, "fd00::1/64", "fd00::1/64"),
            (Type::Mac, "00:16:3E:00:00:0A", "00:16:3e:00:00:0a"),
            (Type::Duration, "90s", "1m30s"),
            (Type::Duration, "0ms", "0s"),
            (Type::Duration, "1500ms", "1s500ms"),
            (Type::Size, "4096", "4KiB"),
            (Type::Size, "1000", "1000"),
            (Type::Size, "0", "0"),
            (Type::Size, "1048576KiB", "1GiB"),
            (Type::List(Box::new(Type::Duration)), "1,2ms", "1s,2ms"),
        ];
        for (t, text, canonical) in cases {
            let v = t.parse(text).unwrap();
            assert_eq!(format!("{v}"), *canonical, "{text:?}");
            assert_eq!(t.parse(canonical).as_ref(), Ok(&v), "{canonical:?}");
            assert!(t.admits(&v));
        }
    }
}
