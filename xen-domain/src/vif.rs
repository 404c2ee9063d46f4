//! Virtual network interfaces: `vif = [ "bridge=xenbr0,mac=00:16:3e:00:00:01" ]`
//! (xl-network-configuration(5)).

use crate::{Bridge, Error};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A unicast MAC address. Written as xl and Linux write it, lower-case `00:16:3e:00:00:01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl FromStr for Mac {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why| Err(Error::Mac { text: s.into(), why });
        let mut bytes = [0u8; 6];
        let mut parts = s.split(':');
        for b in &mut bytes {
            let Some(p) = parts.next() else { return bad("fewer than 6 bytes") };
            if p.len() != 2 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
                return bad("each byte is two hex digits, like 00:16:3e:00:00:01");
            }
            *b = u8::from_str_radix(p, 16).expect("two hex digits");
        }
        if parts.next().is_some() {
            return bad("more than 6 bytes");
        }
        // A frame from a multicast source address is dropped by everyone, the bridge first.
        if bytes[0] & 1 != 0 {
            return bad("a multicast address (the first byte is odd)");
        }
        Ok(Mac(bytes))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// One vif. Fields left `None` are xl's defaults (bridge `xenbr0`, a random MAC in Xen's
/// 00:16:3e range).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vif {
    pub bridge: Option<Bridge>,
    pub mac: Option<Mac>,
    /// xl's `ip=`: the address the backend's hotplug script may filter or route for. The
    /// guest is not told it (a unikernel learns its address from its command line).
    pub ip: Option<IpAddr>,
}

impl Vif {
    /// A vif on `bridge`, the rest xl's defaults.
    pub fn bridged(bridge: Bridge) -> Vif {
        Vif { bridge: Some(bridge), ..Vif::default() }
    }
}

/// The vif spec, as it goes between the quotes: `bridge=xenbr0,mac=00:16:3e:00:00:01`.
impl fmt::Display for Vif {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut item = |f: &mut fmt::Formatter<'_>, k: &str, v: &dyn fmt::Display| {
            let r = write!(f, "{sep}{k}={v}");
            sep = ",";
            r
        };
        if let Some(b) = &self.bridge {
            item(f, "bridge", b)?;
        }
        if let Some(m) = &self.mac {
            item(f, "mac", m)?;
        }
        if let Some(ip) = &self.ip {
            item(f, "ip", ip)?;
        }
        Ok(())
    }
}

/// Reads a vif spec with the keys [`Vif`] has (`bridge`, `mac`, `ip`); any other key is an
/// error rather than silently dropped.
impl FromStr for Vif {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self, Error> {
        let bad = |why: String| Error::VifSpec { spec: spec.into(), why };
        let mut vif = Vif::default();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) =
                item.split_once('=').ok_or_else(|| bad(format!("{item:?} is not KEY=VALUE")))?;
            let twice = || bad(format!("{key} given twice"));
            match key {
                "bridge" if vif.bridge.is_some() => return Err(twice()),
                "bridge" => vif.bridge = Some(value.parse()?),
                "mac" if vif.mac.is_some() => return Err(twice()),
                "mac" => vif.mac = Some(value.parse()?),
                "ip" if vif.ip.is_some() => return Err(twice()),
                "ip" => {
                    vif.ip = Some(
                        value.parse().map_err(|_| bad(format!("{value:?}: not an IP address")))?,
                    )
                }
                _ => return Err(bad(format!("unknown key {key:?} (known: bridge, mac, ip)"))),
            }
        }
        Ok(vif)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_written_lower_case() {
        let m: Mac = "00:16:3E:00:00:1A".parse().unwrap();
        assert_eq!(m, Mac([0, 0x16, 0x3e, 0, 0, 0x1a]));
        assert_eq!(m.to_string(), "00:16:3e:00:00:1a");
    }

    #[test]
    fn bad_macs_say_why() {
        let why = |s: &str| match s.parse::<Mac>() {
            Err(Error::Mac { why, .. }) => why,
            other => panic!("{s:?}: {other:?}"),
        };
        assert_eq!(why("00:16:3e:00:00"), "fewer than 6 bytes");
        assert_eq!(why("00:16:3e:00:00:01:02"), "more than 6 bytes");
        assert!(why("0:16:3e:00:00:01").contains("two hex digits"));
        assert!(why("00:16:3e:00:00:0g").contains("two hex digits"));
        assert!(why("01:16:3e:00:00:01").contains("multicast"));
        assert_eq!(why(""), "each byte is two hex digits, like 00:16:3e:00:00:01");
    }

    #[test]
    fn vif_specs_round_trip() {
        for spec in [
            "bridge=xenbr0",
            "bridge=xenbr0,mac=00:16:3e:00:00:10",
            "mac=00:16:3e:00:00:01,ip=10.0.0.2",
            "",
        ] {
            let vif: Vif = spec.parse().unwrap();
            assert_eq!(vif.to_string(), spec);
        }
        let vif: Vif = " bridge=br1 , ip=fe80::1".parse().unwrap();
        assert_eq!(vif.to_string(), "bridge=br1,ip=fe80::1");
    }

    #[test]
    fn vif_specs_refused() {
        for bad in ["model=e1000", "bridge", "bridge=a,bridge=b", "ip=10.0.0.300", "bridge=a b"] {
            assert!(bad.parse::<Vif>().is_err(), "{bad:?}");
        }
        assert!(matches!("mac=01:00:00:00:00:00".parse::<Vif>(), Err(Error::Mac { .. })));
        let e = "rate=10Mb/s".parse::<Vif>().unwrap_err().to_string();
        assert!(e.contains("unknown key \"rate\""), "{e}");
    }
}
