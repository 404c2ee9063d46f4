//! app-example on the network: ICMP (v4 and v6), HTTP from dom0 and from the host through a
//! forwarded port, keep-alive and concurrent requests, a malformed one, UDP echo, and a
//! second vif configured by DHCP.

use super::{backend_state, dom0, dom0_cmd, expect_console, expect_dom0, expect_host, Env, Test};
use crate::rig::plan::{Forward, Guest, Step};
use std::time::Duration;

const IP: &str = "10.0.0.10";
/// Requests on one keep-alive connection, and requests at once.
const SEQUENTIAL: u32 = 200;
const CONCURRENT: u32 = 50;

/// A host step that GETs `path` from the host's 127.0.0.1:`port` (a [`Forward`] to the
/// guest) while dom0 waits: passes with the body of a 200 answer.
fn host_http(step: &str, port: u16, path: &str) -> Step {
    let path = path.to_string();
    Step::host(step, 90, move || {
        match crate::rig::http_get(port, &path, Duration::from_secs(60))? {
            (200, body) => Ok(body),
            (code, body) => Err(format!("status {code}: {body}")),
        }
    })
}

pub(super) fn net(env: &Env) -> Test {
    let mut guest = Guest::ours("net", env.app, &format!("log=info ip={IP}/24 gw=10.0.0.1"));
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:10".into());
    // No ip_1=: DHCP.
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:1a".into());
    // Its status page on the host's 127.0.0.1, as `cargo xtask run` forwards it.
    guest.forwards.push(Forward { host_port: env.net_port, guest_ip: IP.into(), guest_port: 80 });
    let ip = &[("IP", IP)];
    let (seq, conc) = (SEQUENTIAL.to_string(), CONCURRENT.to_string());
    let guest = guest
        .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
        .step(dom0_cmd("ping", &format!("ping -c 3 -W 5 {IP}")))
        .step(dom0_cmd("ping6", "ping -6 -c 2 -W 5 -I xenbr0 fe80::216:3eff:fe00:10"))
        .step(dom0_cmd("status", &format!("curl -sS -m 20 -i http://{IP}/")))
        .step(host_http("forward", env.net_port, "/"))
        .step(dom0("sequential", include_str!("sh/http-sequential.sh"), &[("IP", IP), ("N", &seq)]))
        .step(dom0(
            "concurrent",
            include_str!("sh/http-concurrent.sh"),
            &[("IP", IP), ("N", &conc)],
        ))
        .step(dom0("malformed", include_str!("sh/http-malformed.sh"), ip))
        .step(dom0("after", include_str!("sh/http-after.sh"), ip))
        .step(dom0("udp", include_str!("sh/udp-echo.sh"), ip))
        // The second vif's lease, pinged and its status page fetched through it.
        .step(dom0(
            "dhcp",
            include_str!("sh/dhcp-lease.sh"),
            &[("MAC", "00:16:3e:00:00:1a"), ("WAIT", "90"), ("GET", "1")],
        ))
        .step(backend_state("vif-state", "vif", "0"));
    Test::new(guest, |r| {
        expect_dom0(r, "vif-state", 0, "4")?;
        expect_dom0(r, "ping", 0, "3 packets received")?;
        expect_dom0(r, "ping6", 0, "2 packets received")?;
        expect_dom0(r, "status", 0, "HTTP/1.1 200 OK")?;
        expect_dom0(r, "status", 0, "app-example: a Rust unikernel on Xen")?;
        expect_host(r, "forward", "app-example: a Rust unikernel on Xen")?;
        expect_dom0(r, "sequential", 0, &format!("ok {SEQUENTIAL}, connections 1"))?;
        expect_dom0(r, "concurrent", 0, &format!("ok {CONCURRENT}"))?;
        expect_dom0(r, "malformed", 0, "HTTP/1.1 400 Bad Request")?;
        expect_dom0(r, "after", 0, "nope: 404")?;
        expect_dom0(r, "after", 0, "requests:")?;
        expect_dom0(r, "udp", 0, "udp one\nudp two\nudp three")?;
        expect_dom0(r, "dhcp", 0, "lease 10.0.0.1")?;
        expect_dom0(r, "dhcp", 0, "2 packets received")?;
        expect_dom0(r, "dhcp", 0, "app-example: a Rust unikernel on Xen")?;
        expect_console(r, "vif1: DHCP gave 10.0.0.1")
    })
}
