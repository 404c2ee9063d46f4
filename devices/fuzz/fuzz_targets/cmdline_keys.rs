//! The guest command line (xl's `extra=`, written by whoever configures the domain): any
//! UTF-8 text into `devices::cmdline` (pairs, get, has), into the boot check against the
//! runtime's keys and an app's (`devices::config::parse_cmdline`), and from its typed
//! values into each vif's network configuration (`devices::config::net::vif`).
//!
//! Checks: nothing panics; `pairs` gives one pair per word, keys without `=` or whitespace;
//! `get` is the last pair's value and agrees with `has`; every error names a key written on
//! the line (a suggestion names a key of the schema) and never shows a secret's value; a
//! vif's static IPv4 prefix is at most 32 and an IPv6 one at most 128; a static address or
//! DHCP follows from the vif's `ip` key alone (`ip`, `ip_1`, ...), and its gateway from its
//! `gw` key.
#![no_main]

use devices::cmdline;
use devices::config::{self, net, CmdlineError, Key, KeyError, Schema};
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

/// The runtime's keys and an app's, one of them a secret.
fn schema() -> Schema {
    let mut s = config::runtime::schema();
    for (name, attrs) in [
        ("token", &[("type", "secret")][..]),
        ("port", &[("type", "u16"), ("min", "1"), ("default", "80")][..]),
    ] {
        s.push(Key::from_attrs("app", name, attrs, "doc").unwrap()).unwrap();
    }
    s
}

/// The value of the word `KEY=VALUE` (the check refuses a repeated key: there is one).
fn value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    values(line, key).next()
}

/// The values of every word `KEY=VALUE` on the line.
fn values<'a>(line: &'a str, key: &str) -> impl Iterator<Item = &'a str> {
    let prefix = format!("{key}=");
    line.split_ascii_whitespace().filter_map(move |w| w.strip_prefix(prefix.as_str()))
}

fn check_vif(line: &str, c: &config::Config, index: u32) {
    let v = net::vif(c, index);
    let ip = value(line, &config::indexed_name("ip", index));
    match &v.v4 {
        net::V4::Dhcp => assert!(matches!(ip, None | Some("dhcp")), "DHCP with ip={ip:?}"),
        net::V4::Static { addr, gateway } => {
            assert!(addr.prefix_len <= 32, "IPv4 prefix {}", addr.prefix_len);
            let (a, _) = ip.expect("an ip key").split_once('/').expect("ADDR/LEN");
            assert_eq!(a.parse::<std::net::Ipv4Addr>().ok(), Some(addr.addr));
            let gw = value(line, &config::indexed_name("gw", index));
            assert_eq!(gateway.is_some(), gw.is_some(), "gateway");
        }
    }
    if let Some(v6) = v.v6 {
        assert!(v6.prefix_len <= 128, "IPv6 prefix {}", v6.prefix_len);
    }
    assert!(v.dns.len() <= line.matches(',').count() + 1);
}

fn check_config(line: &str, schema: &Schema, indexes: [u32; 3]) {
    let names: Vec<&str> =
        line.split_ascii_whitespace().map(|w| w.split_once('=').map_or(w, |(k, _)| k)).collect();
    match config::parse_cmdline(schema, line) {
        Ok(c) => {
            for i in indexes {
                check_vif(line, &c, i);
            }
        }
        Err(CmdlineError::Help) => assert!(names.contains(&config::HELP)),
        Err(CmdlineError::Invalid(errors)) => {
            assert!(!errors.is_empty());
            let secret =
                value(line, "token").filter(|v| !v.is_empty()).map(|s| format!("token={s}"));
            for e in &errors {
                let text = e.to_string();
                let key = match e {
                    KeyError::Unknown { key, did_you_mean } => {
                        if let Some(n) = did_you_mean {
                            assert!(schema.resolve(n).is_some(), "{text}: suggests {n}");
                        }
                        key
                    }
                    KeyError::Bad(b) => &b.key,
                    KeyError::NeedsValue { key, .. }
                    | KeyError::Repeated { key }
                    | KeyError::Fixed { key, .. } => key,
                    KeyError::Missing { key, .. } => key,
                };
                // An error may echo its own key's value as written, even when that value
                // happens to hold the text `token=SECRET` (`dns=x,token=S token=S`): that is
                // what the user typed for this key, not the secret's value.
                if let Some(s) = &secret {
                    let echoed = values(line, key).any(|v| v.contains(s.as_str()));
                    assert!(echoed || !text.contains(s.as_str()), "{text}: shows the secret");
                }
                if let KeyError::Missing { .. } = e {
                    assert!(schema.key(key).is_some(), "{text}");
                    continue;
                }
                assert!(names.contains(&key.as_str()), "{text}: {key:?} is not on the line");
                assert!(text.starts_with(key.as_str()), "{text}: does not start with its key");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&index, rest)) = data.split_first() else { return };
    let Ok(line) = std::str::from_utf8(rest) else { return };
    check_cmdline(line);
    check_config(line, &schema(), [0, 1, u32::from(index % 8)]);
});
