//! The runtime's own keys, declared as an app declares its keys (the same attributes, in the
//! schema's encoding), in sections as mirage has them. The kernel carries this text in the
//! image's schema note beside the app's; the host tool lists it with the app's keys.

use super::Schema;

/// The runtime's keys, encoded (see [`super::schema`]). Indexed keys take `NAME_n` for vif n
/// (`ip_1=`, `gw_1=`, `ip6_1=`; [`super::indexed_name`]), so `ip6` is only vif 0's IPv6 key
/// and `ip_6` vif 6's IPv4 one. [`super::net`] reads them per vif.
pub const KEYS: &str = "\
unikernel-keys 1
network.ip type=ipv4-cidr stage=boot unset=dhcp indexed # the vif's IPv4 address and prefix; none or dhcp: DHCPv4
network.gw type=ipv4 stage=boot indexed # the vif's IPv4 default route (with a static ip)
network.ip6 type=ipv6-cidr stage=boot indexed # a static IPv6 address beside the link-local one
network.gw6 type=ipv6 stage=boot indexed # the vif's IPv6 default route
network.dns type=list of=ipv4 stage=boot indexed # name servers, for apps (the runtime has no resolver)
logging.log type=enum values=off,error,warn,info,debug,trace default=info stage=boot # log level
runtime.shutdown_grace type=duration default=10s stage=boot # how long an app that awaits lifecycle::requested() may take to stop
";

/// The runtime's keys.
pub fn schema() -> Schema {
    // KEYS is checked by the tests below; a bad edit fails them, not a boot.
    Schema::decode(KEYS).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_keys_decode_and_are_canonical() {
        let s = Schema::decode(KEYS).unwrap();
        assert_eq!(s.encode(), KEYS);
        assert_eq!(Schema::decode_trusted(KEYS), Ok(s.clone()));
        assert_eq!(s.sections(), ["network", "logging", "runtime"]);
    }

    #[test]
    fn the_runtime_keys_read_what_the_readme_documents() {
        let s = schema();
        let c = super::super::parse_cmdline(
            &s,
            "log=debug ip=10.0.0.2/24 gw=10.0.0.1 ip_1=dhcp ip6=fd00::2/64 gw6=fd00::1 \
             ip6_1=fd01::2/64 ip_6=10.0.6.2/24 dns=1.1.1.1,9.9.9.9 shutdown_grace=30",
        )
        .unwrap();
        assert_eq!(c.str("log"), Some("debug"));
        assert_eq!(c.ipv4_cidr("ip_1"), None);
        assert_eq!(c.ipv6_cidr("ip6_1").unwrap().prefix_len, 64);
        assert_eq!(c.ipv4_cidr("ip_6").unwrap().prefix_len, 24);
        assert_eq!(c.list("dns").unwrap().len(), 2);
        assert_eq!(c.duration("shutdown_grace"), Some(core::time::Duration::from_secs(30)));
        let d = super::super::parse_cmdline(&s, "").unwrap();
        assert_eq!(d.duration("shutdown_grace"), Some(core::time::Duration::from_secs(10)));
        assert_eq!(d.str("log"), Some("info"));
    }
}
