//! Names that end up in xenstore paths, in xl's command lines and in vif specs: checked when
//! made, so a [`crate::Domain`] holding them is right by construction.

use crate::Error;
use std::fmt;
use std::str::FromStr;

/// A domain name: 1-64 of ASCII letters, digits, `-`, `_`, `.`, not all digits (xl takes a
/// number as a domain id: `xl destroy 12` would not find a domain named `12`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainName(String);

impl FromStr for DomainName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why| Err(Error::Name { name: s.into(), why });
        if s.is_empty() {
            return bad("empty");
        }
        if s.len() > 64 {
            return bad("longer than 64 characters");
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return bad("only letters, digits, '-', '_' and '.' are allowed");
        }
        if s.chars().all(|c| c.is_ascii_digit()) {
            return bad("all digits: xl would take it for a domain id");
        }
        Ok(DomainName(s.into()))
    }
}

/// A bridge's interface name: what Linux takes (1-15 bytes) and what a vif spec can hold
/// (no `,` or `=`): ASCII letters, digits, `-`, `_`, `.`, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bridge(String);

impl FromStr for Bridge {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why| Err(Error::Bridge { name: s.into(), why });
        if s.is_empty() {
            return bad("empty");
        }
        if s.len() > 15 {
            return bad("longer than 15 characters (Linux's IFNAMSIZ)");
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || s == "."
            || s == ".."
        {
            return bad("not an interface name (letters, digits, '-', '_', '.')");
        }
        Ok(Bridge(s.into()))
    }
}

macro_rules! text_type {
    ($t:ty) => {
        impl $t {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_type!(DomainName);
text_type!(Bridge);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_xl_takes() {
        for ok in ["web", "app-example", "a.b_c-1", "x", &"n".repeat(64)] {
            assert_eq!(ok.parse::<DomainName>().unwrap().as_str(), ok);
        }
    }

    #[test]
    fn domain_names_refused_say_why() {
        let why = |s: &str| match s.parse::<DomainName>() {
            Err(Error::Name { why, .. }) => why,
            other => panic!("{s:?}: {other:?}"),
        };
        assert_eq!(why(""), "empty");
        assert!(why(&"n".repeat(65)).contains("64"));
        assert!(why("a b").contains("only letters"));
        assert!(why("web\"").contains("only letters"));
        assert!(why("42").contains("domain id"));
    }

    #[test]
    fn bridges() {
        assert_eq!("xenbr0".parse::<Bridge>().unwrap().to_string(), "xenbr0");
        for bad in ["", "br,mac=x", "a=b", "..", "sixteen-chars-xx", "br 0"] {
            assert!(matches!(bad.parse::<Bridge>(), Err(Error::Bridge { .. })), "{bad:?}");
        }
    }
}
