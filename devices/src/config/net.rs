//! The addresses of each vif, from the typed configuration (the command line already checked
//! against the runtime's network keys, [`super::runtime`]). For vif 0:
//!
//! - `ip=10.0.0.10/24` a static IPv4 address and prefix; `ip=dhcp` or no `ip=`: DHCPv4.
//! - `gw=10.0.0.1` the IPv4 default route (static configuration only; DHCP brings its own).
//! - `ip6=fd00::10/64` a static IPv6 address beside the link-local one (always present,
//!   derived from the MAC, [`link_local`]); `gw6=fd00::1` the IPv6 default route.
//! - `dns=10.0.0.1` kept for applications; the runtime has no resolver.
//!
//! vif n (n >= 1) reads the same keys as `NAME_n` ([`super::indexed_name`]): `ip_1=`,
//! `gw_1=`, `ip6_1=`, ... A vif past [`super::schema::MAX_INDEX`] has no keys: DHCP.

use super::{indexed_name, Cidr, Config, Value};
use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr};

/// How a vif gets its IPv4 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V4 {
    Dhcp,
    Static { addr: Cidr<Ipv4Addr>, gateway: Option<Ipv4Addr> },
}

/// One vif's addresses, routes and name servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vif {
    pub v4: V4,
    pub v6: Option<Cidr<Ipv6Addr>>,
    pub gateway6: Option<Ipv6Addr>,
    pub dns: Vec<Ipv4Addr>,
}

/// The configuration of vif `index` from `config`, whose schema holds the runtime's
/// network keys (it panics otherwise, as every getter does for a key the schema lacks).
pub fn vif(config: &Config, index: u32) -> Vif {
    if index > super::schema::MAX_INDEX {
        return Vif { v4: V4::Dhcp, v6: None, gateway6: None, dns: Vec::new() };
    }
    let key = |name: &str| indexed_name(name, index);
    let v4 = match config.ipv4_cidr(&key("ip")) {
        None => V4::Dhcp,
        Some(addr) => V4::Static { addr, gateway: config.ipv4(&key("gw")) },
    };
    let dns = config.list(&key("dns")).unwrap_or_default();
    Vif {
        v4,
        v6: config.ipv6_cidr(&key("ip6")),
        gateway6: config.ipv6(&key("gw6")),
        dns: dns
            .iter()
            .filter_map(|v| match v {
                Value::Ipv4(a) => Some(*a),
                _ => None,
            })
            .collect(),
    }
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
    use super::super::{parse_cmdline, runtime, CmdlineError};
    use super::*;
    use alloc::string::{String, ToString};

    fn config(line: &str) -> Config {
        parse_cmdline(&runtime::schema(), line).unwrap()
    }

    fn errors(line: &str) -> Vec<String> {
        match parse_cmdline(&runtime::schema(), line) {
            Err(CmdlineError::Invalid(e)) => e.iter().map(|e| e.to_string()).collect(),
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn cidr4(a: [u8; 4], prefix_len: u8) -> Cidr<Ipv4Addr> {
        Cidr { addr: Ipv4Addr::from(a), prefix_len }
    }

    #[test]
    fn static_dhcp_and_indexed_keys() {
        let c = config(
            "log=info ip=10.0.0.10/24 gw=10.0.0.1 ip_1=192.168.1.2/16 dns=1.1.1.1,9.9.9.9 \
             gw_2=10.0.0.1",
        );
        let v = vif(&c, 0);
        assert_eq!(
            v.v4,
            V4::Static {
                addr: cidr4([10, 0, 0, 10], 24),
                gateway: Some(Ipv4Addr::new(10, 0, 0, 1))
            }
        );
        assert_eq!(v.dns, [Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(9, 9, 9, 9)]);
        assert_eq!((v.v6, v.gateway6), (None, None));
        // vif 1 has its own keys, none of vif 0's.
        let v1 = vif(&c, 1);
        assert_eq!(v1.v4, V4::Static { addr: cidr4([192, 168, 1, 2], 16), gateway: None });
        assert!(v1.dns.is_empty());
        // A gateway without a static address: DHCP brings its own.
        assert_eq!(vif(&c, 2).v4, V4::Dhcp);
        assert_eq!(vif(&c, 3).v4, V4::Dhcp);
        assert_eq!(vif(&config("ip=dhcp gw=10.0.0.1"), 0).v4, V4::Dhcp);
        assert_eq!(vif(&config(""), 0).v4, V4::Dhcp);
        assert!(vif(&config("dns="), 0).dns.is_empty());
        let v = vif(&config("ip6=fd00::10/64 gw6=fd00::1"), 0);
        assert_eq!(v.v6.unwrap().prefix_len, 64);
        assert_eq!(v.gateway6, Some("fd00::1".parse().unwrap()));
        assert_eq!(v.v4, V4::Dhcp);
        // Past the last index a vif has no keys.
        assert_eq!(vif(&c, 64).v4, V4::Dhcp);
    }

    /// `ip6` is vif 0's IPv6 address and `ip_6` vif 6's IPv4 one: both can be given.
    #[test]
    fn vif_6_and_the_ipv6_keys_are_apart() {
        let c =
            config("ip6=fd00::2/64 ip_6=10.0.6.2/24 gw_6=10.0.6.1 ip6_6=fd06::2/64 gw6_1=fd01::1");
        assert_eq!(vif(&c, 0).v6.unwrap().addr, "fd00::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(vif(&c, 0).v4, V4::Dhcp);
        let v6 = vif(&c, 6);
        assert_eq!(
            v6.v4,
            V4::Static {
                addr: cidr4([10, 0, 6, 2], 24),
                gateway: Some(Ipv4Addr::new(10, 0, 6, 1))
            }
        );
        assert_eq!(v6.v6.unwrap().addr, "fd06::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(vif(&c, 1).gateway6, Some("fd01::1".parse().unwrap()));
        assert_eq!(vif(&c, 1).v6, None);
    }

    /// The boot check refuses what the network could not use, naming the key as written.
    #[test]
    fn malformed_values_name_their_key() {
        for (line, key) in [
            ("ip=10.0.0.300/24", "ip="),
            ("ip=10.0.0.3", "ip="),
            ("ip=10.0.0.3/33", "ip="),
            ("ip=10.0.0.3/24 gw=x", "gw="),
            ("ip6=fd00::1", "ip6="),
            ("gw6=10.0.0.1", "gw6="),
            ("dns=1.1.1.1,", "dns="),
            ("ip_1=1.2.3.4", "ip_1="),
            ("ip6_2=fd00::1/129", "ip6_2="),
        ] {
            let e = errors(line);
            assert_eq!(e.len(), 1, "{line}: {e:?}");
            assert!(e[0].starts_with(key), "{line}: {e:?}");
        }
    }

    #[test]
    fn the_old_indexed_spelling_is_refused_with_the_new_one() {
        assert_eq!(
            errors("ip1=10.0.0.4/24 gw1=10.0.0.1 ip61=fd01::2/64 dns2=1.1.1.1"),
            [
                "ip1: unknown key (did you mean ip_1?)",
                "gw1: unknown key (did you mean gw_1?)",
                "ip61: unknown key (did you mean ip6_1?)",
                "dns2: unknown key (did you mean dns_2?)",
            ]
        );
    }

    #[test]
    fn link_local_from_mac() {
        let a = link_local([0x00, 0x16, 0x3e, 0x00, 0x00, 0x10]);
        assert_eq!(a, "fe80::216:3eff:fe00:10".parse::<Ipv6Addr>().unwrap());
    }
}
