//! Addresses of each vif, from the command line. For the first vif:
//!
//! - `ip=10.0.0.10/24` a static IPv4 address and prefix; `ip=dhcp` or no `ip=`: DHCPv4.
//! - `gw=10.0.0.1` the IPv4 default route (static configuration only; DHCP brings its own).
//! - `ip6=fd00::10/64` a static IPv6 address beside the link-local one (always present,
//!   derived from the MAC); `gw6=fd00::1` the IPv6 default route.
//! - `dns=10.0.0.1` kept for applications (`Interface::dns`); the runtime has no resolver.
//!
//! The n-th vif (n >= 1) reads the same keys as `NAME_n`: `ip_1=`, `gw_1=`, `ip6_1=`, ...
//! ([`crate::config::indexed_name`]).

use alloc::string::String;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr};

/// An address with its prefix length (at most 32 for IPv4, 128 for IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr<A> {
    pub addr: A,
    pub prefix_len: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V4 {
    Dhcp,
    Static { addr: Cidr<Ipv4Addr>, gateway: Option<Ipv4Addr> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub v4: V4,
    pub v6: Option<Cidr<Ipv6Addr>>,
    pub gateway6: Option<Ipv6Addr>,
    pub dns: Vec<Ipv4Addr>,
}

/// A key of the line holds a value that is not valid for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadKey {
    /// The key as written (`ip`, `gw_1`, ...).
    pub key: String,
    pub value: String,
}

impl core::fmt::Display for BadKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}={} is not valid", self.key, self.value)
    }
}

impl core::error::Error for BadKey {}

fn key_name(name: &str, index: usize) -> String {
    crate::config::indexed_name(name, u32::try_from(index).unwrap_or(u32::MAX))
}

fn key<'a>(cmdline: &'a str, name: &str, index: usize) -> Option<&'a str> {
    let name = key_name(name, index);
    // Words split as `super::pairs` splits them (ASCII whitespace), so both agree.
    cmdline
        .split_ascii_whitespace()
        .rev()
        .find_map(|w| w.strip_prefix(name.as_str())?.strip_prefix('='))
}

fn cidr<A: core::str::FromStr>(s: &str, max: u8) -> Option<Cidr<A>> {
    let (a, p) = s.split_once('/')?;
    let prefix_len: u8 = p.parse().ok()?;
    (prefix_len <= max).then_some(())?;
    Some(Cidr { addr: a.parse().ok()?, prefix_len })
}

/// The configuration of vif `index`; an error names the key that is malformed.
pub fn parse(cmdline: &str, index: usize) -> Result<Config, BadKey> {
    let bad = |k: &str, v: &str| BadKey { key: key_name(k, index), value: String::from(v) };
    let v4 = match key(cmdline, "ip", index) {
        None | Some("dhcp") => V4::Dhcp,
        Some(v) => V4::Static {
            addr: cidr(v, 32).ok_or_else(|| bad("ip", v))?,
            gateway: match key(cmdline, "gw", index) {
                Some(g) => Some(g.parse().map_err(|_| bad("gw", g))?),
                None => None,
            },
        },
    };
    let v6 = match key(cmdline, "ip6", index) {
        Some(v) => Some(cidr(v, 128).ok_or_else(|| bad("ip6", v))?),
        None => None,
    };
    let gateway6 = match key(cmdline, "gw6", index) {
        Some(g) => Some(g.parse().map_err(|_| bad("gw6", g))?),
        None => None,
    };
    let mut dns = Vec::new();
    // `dns=` is an empty list, as the key's type (`devices::config::runtime`) reads it.
    if let Some(v) = key(cmdline, "dns", index).filter(|v| !v.is_empty()) {
        for a in v.split(',') {
            dns.push(a.parse().map_err(|_| bad("dns", v))?);
        }
    }
    Ok(Config { v4, v6, gateway6, dns })
}

/// The link-local address for `mac` (modified EUI-64, RFC 4291).
pub fn link_local(mac: [u8; 6]) -> Ipv6Addr {
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        mac[0] ^ 2,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_dhcp_and_indexed_keys() {
        let c = parse(
            "log=info ip=10.0.0.10/24 gw=10.0.0.1 ip_1=192.168.1.2/16 dns=1.1.1.1,9.9.9.9",
            0,
        )
        .unwrap();
        assert_eq!(
            c.v4,
            V4::Static {
                addr: Cidr { addr: Ipv4Addr::new(10, 0, 0, 10), prefix_len: 24 },
                gateway: Some(Ipv4Addr::new(10, 0, 0, 1))
            }
        );
        assert_eq!(c.dns.len(), 2);
        assert!(parse("dns=", 0).unwrap().dns.is_empty());
        let c1 = parse("ip=10.0.0.10/24 ip_1=192.168.1.2/16", 1).unwrap();
        assert_eq!(
            c1.v4,
            V4::Static {
                addr: Cidr { addr: Ipv4Addr::new(192, 168, 1, 2), prefix_len: 16 },
                gateway: None
            }
        );
        assert_eq!(parse("ip=10.0.0.10/24", 2).unwrap().v4, V4::Dhcp);
        assert_eq!(parse("ip=dhcp", 0).unwrap().v4, V4::Dhcp);
        let c = parse("ip6=fd00::10/64 gw6=fd00::1", 0).unwrap();
        assert_eq!(c.v6.unwrap().prefix_len, 64);
        assert!(c.gateway6.is_some());
    }

    #[test]
    fn malformed_values_name_their_key() {
        for (line, key) in [
            ("ip=10.0.0.300/24", "ip="),
            ("ip=10.0.0.3", "ip="),
            ("ip=10.0.0.3/33", "ip="),
            ("ip=10.0.0.3/24 gw=x", "gw="),
            ("ip6=fd00::1", "ip6="),
            ("dns=1.1.1.1,", "dns="),
            ("ip_1=1.2.3.4", "ip_1="),
        ] {
            let index = if key == "ip_1=" { 1 } else { 0 };
            let e = parse(line, index).unwrap_err();
            assert!(alloc::format!("{e}").starts_with(key), "{line}: {e}");
        }
    }

    #[test]
    fn link_local_from_mac() {
        let a = link_local([0x00, 0x16, 0x3e, 0x00, 0x00, 0x10]);
        assert_eq!(a, "fe80::216:3eff:fe00:10".parse::<Ipv6Addr>().unwrap());
    }
}
