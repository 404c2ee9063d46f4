//! The one error type: what was wrong, with the value, so a caller can add where it came from.

use std::fmt;

/// A value xl would refuse, misread, or that cannot be written in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Not a domain name (see [`crate::DomainName`]).
    Name { name: String, why: &'static str },
    /// Not a bridge's interface name (see [`crate::Bridge`]).
    Bridge { name: String, why: &'static str },
    /// Not a unicast MAC address `xx:xx:xx:xx:xx:xx`.
    Mac { text: String, why: &'static str },
    /// Not a virtual disk name xl takes (see [`crate::Vdev`]).
    Vdev { text: String, why: &'static str },
    /// A disk target xl would read otherwise than meant.
    Target { target: String, why: &'static str },
    /// A vif spec with a key this crate does not model, or a bad value.
    VifSpec { spec: String, why: String },
    /// Not one of xl's names for the value (an action, a format, a TSC mode).
    Unknown { what: &'static str, text: String, known: &'static [&'static str] },
    /// A number that must not be zero (memory, vcpus).
    Zero { field: &'static str },
    /// Free text with a character xl.cfg has no way to write (a control character without a
    /// C escape, such as NUL), or an empty one where xl needs a value.
    Text { field: &'static str, text: String, why: &'static str },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Name { name, why } => write!(f, "domain name {name:?}: {why}"),
            Error::Bridge { name, why } => write!(f, "bridge {name:?}: {why}"),
            Error::Mac { text, why } => write!(f, "MAC address {text:?}: {why}"),
            Error::Vdev { text, why } => write!(f, "vdev {text:?}: {why}"),
            Error::Target { target, why } => write!(f, "disk target {target:?}: {why}"),
            Error::VifSpec { spec, why } => write!(f, "vif {spec:?}: {why}"),
            Error::Unknown { what, text, known } => {
                write!(f, "{text:?} is not a {what} (one of {})", known.join(", "))
            }
            Error::Zero { field } => write!(f, "{field}: must not be 0"),
            Error::Text { field, text, why } => write!(f, "{field} {text:?}: {why}"),
        }
    }
}

impl std::error::Error for Error {}
