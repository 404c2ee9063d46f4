//! The guest command line (xl's `extra=`, written by whoever configures the domain): any
//! UTF-8 text into `devices::cmdline` (pairs, get, has) and into the runtime's network
//! configuration parser, `devices::cmdline::net`.
//!
//! Checks: nothing panics; `pairs` gives one pair per word, keys without `=` or whitespace;
//! `get` is the last pair's value and agrees with `has`; a parsed static IPv4 prefix is at
//! most 32 and an IPv6 one at most 128; a static address or DHCP follows from the `ip`
//! key alone; every error names a key that is on the line.
#![no_main]

use devices::cmdline::{self, net as config};
use libfuzzer_sys::fuzz_target;

fn check_cmdline(line: &str) {
    let pairs: Vec<(&str, &str)> = cmdline::pairs(line).collect();
    assert_eq!(pairs.len(), line.split_ascii_whitespace().count());
    for (i, &(k, v)) in pairs.iter().enumerate() {
        assert!(!k.contains('=') && !k.contains(|c: char| c.is_ascii_whitespace()), "key {k:?}");
        assert!(!v.contains(|c: char| c.is_ascii_whitespace()), "value {v:?}");
        if i >= 32 {
            continue; // each lookup reads the whole line: the first keys are enough
        }
        assert!(cmdline::has(line, k));
        let last = pairs.iter().rev().find(|p| p.0 == k).unwrap().1;
        assert_eq!(cmdline::get(line, k), Some(last));
    }
    for key in ["log", "ip", "gw", "ip6", "dns", "", "="] {
        assert_eq!(cmdline::has(line, key), cmdline::get(line, key).is_some());
    }
}

/// The key `name` of vif `index`, as the parser names it.
fn key_name(name: &str, index: usize) -> String {
    devices::config::indexed_name(name, index as u32)
}

/// The value of the last word `KEY=VALUE` (bare words are flags, not keys with a value).
fn last_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("{key}=");
    line.split_ascii_whitespace().rev().find_map(|w| w.strip_prefix(prefix.as_str()))
}

fn check_config(line: &str, index: usize) {
    let parsed = config::parse(line, index);
    // Both modules read words split on ASCII whitespace only where the line has no other.
    let ascii_words = line.split_whitespace().eq(line.split_ascii_whitespace());
    match parsed {
        Ok(c) => {
            match &c.v4 {
                config::V4::Dhcp => {
                    if ascii_words {
                        let ip = last_value(line, &key_name("ip", index));
                        assert!(matches!(ip, None | Some("dhcp")), "DHCP with ip={ip:?}");
                    }
                }
                config::V4::Static { addr, gateway } => {
                    assert!(addr.prefix_len <= 32, "IPv4 prefix {}", addr.prefix_len);
                    if ascii_words {
                        let ip = last_value(line, &key_name("ip", index)).expect("an ip key");
                        let (a, _) = ip.split_once('/').expect("ADDR/LEN");
                        assert_eq!(a.parse::<std::net::Ipv4Addr>().ok(), Some(addr.addr));
                        let gw = last_value(line, &key_name("gw", index));
                        assert_eq!(gateway.is_some(), gw.is_some(), "gateway");
                    }
                }
            }
            if let Some(v6) = c.v6 {
                assert!(v6.prefix_len <= 128, "IPv6 prefix {}", v6.prefix_len);
            }
            assert!(c.dns.len() <= line.matches(',').count() + 1);
        }
        Err(e) => {
            // KEY one of the vif's keys, written KEY=VALUE on the line.
            let k = e.key.as_str();
            let keys = ["ip", "gw", "ip6", "gw6", "dns"].map(|n| key_name(n, index));
            assert!(keys.iter().any(|n| n == k), "error names {k:?}: {e}");
            assert!(line.contains(&format!("{k}={}", e.value)), "{e}: not on the line");
            assert_eq!(e.to_string(), format!("{k}={} is not valid", e.value));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&index, rest)) = data.split_first() else { return };
    let Ok(line) = std::str::from_utf8(rest) else { return };
    check_cmdline(line);
    for i in [0, 1, usize::from(index % 8)] {
        check_config(line, i);
    }
});
