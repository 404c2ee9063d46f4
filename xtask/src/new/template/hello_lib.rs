//! {{name}}'s logic, free of kernel calls so that `cargo test` runs its unit tests on this
//! machine (src/main.rs, the image's entry, is built for the guest alone).

#![cfg_attr(not(test), no_std)]

use core::fmt;

/// What the app says about where it runs: its domain id, when xenstore told it one.
pub struct Whereabouts<'a> {
    pub app: &'a str,
    pub domid: Option<&'a str>,
}

impl fmt::Display for Whereabouts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.domid.map(str::trim).filter(|d| !d.is_empty()) {
            Some(domid) => write!(f, "{} runs as domain {domid}", self.app),
            // Under plain QEMU (no Xen) there is no xenstore to ask.
            None => write!(f, "{} has no domain id: not under Xen?", self.app),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_domain() {
        let w = Whereabouts {
            app: "demo",
            domid: Some("7"),
        };
        assert_eq!(w.to_string(), "demo runs as domain 7");
    }

    #[test]
    fn says_when_there_is_no_domain_id() {
        for domid in [None, Some(""), Some(" ")] {
            let w = Whereabouts { app: "demo", domid };
            assert_eq!(w.to_string(), "demo has no domain id: not under Xen?");
        }
    }
}
