//! app-example under load (issue 13), ApacheBench and friends from dom0: many requests,
//! small guests, a burst of connections, slow clients. Refusing work is allowed where
//! memory is short; crashing, rebooting or not serving afterwards is not.

use super::{dom0, dom0_cmd, dom0_figure, expect_dom0, script, Env, Test, SAME_DOMAIN};
use crate::rig::plan::{Guest, GuestResult, Step};
use std::path::Path;

const AB: &str = include_str!("sh/ab.sh");
const HEAP_USED: &str = include_str!("sh/heap-used.sh");

/// app-example's page whose length never changes (ab counts a length that differs from
/// the first answer's as a failed request).
const LOAD_PATH: &str = "/hello";

/// app-example as a guest of `memory` MiB with one vif at `ip`, serving HTTP.
fn load_guest(name: &str, app: &Path, memory: u32, ip: &str, mac: &str) -> Guest {
    let mut g = Guest::ours(name, app, &format!("log=info ip={ip}/24 gw=10.0.0.1"));
    g.config.memory_mib = memory;
    g.config.vifs.push(format!("bridge=xenbr0,mac={mac}"));
    g.step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
}

/// ApacheBench with `args` against [`LOAD_PATH`] at `ip`.
fn ab(step: &str, ip: &str, args: &[&str]) -> Step {
    Step::Dom0(step.into(), script(AB, &[("URL", &format!("http://{ip}{LOAD_PATH}"))], args))
}

/// The guest is still the domain it was created as.
fn same_domain() -> Step {
    dom0("after", SAME_DOMAIN, &[])
}

/// ab completed `n` requests with none failed and every answer a 2xx.
fn expect_ab(r: &GuestResult, step: &str, n: u32) -> Result<(), String> {
    expect_dom0(r, step, 0, &format!("Complete requests:      {n}"))?;
    expect_dom0(r, step, 0, "Failed requests:        0")?;
    match r.dom0.get(step) {
        Some((_, out)) if out.contains("Non-2xx") => {
            Err(format!("dom0 step {step}: answers other than 2xx:\n    {}", out.trim()))
        }
        _ => Ok(()),
    }
}

/// 32 MiB serves 20,000 requests on new connections and 20,000 on keep-alive ones.
pub(super) fn load(env: &Env) -> Test {
    let ip = "10.0.0.20";
    let guest = load_guest("load", env.app, 32, ip, "00:16:3e:00:00:20")
        .step(ab("close", ip, &["-n", "20000", "-c", "50"]))
        .step(ab("keepalive", ip, &["-n", "20000", "-c", "10", "-k"]))
        .step(same_domain());
    Test::new(guest, |r| {
        expect_ab(r, "close", 20000)?;
        expect_ab(r, "keepalive", 20000)?;
        expect_dom0(r, "after", 0, "same domain")
    })
}

/// Refusing is allowed at 8 MiB, crashing is not (-r: ab goes on after a reset).
pub(super) fn load_small(env: &Env) -> Test {
    let ip = "10.0.0.21";
    let guest = load_guest("load-small", env.app, 8, ip, "00:16:3e:00:00:21")
        .step(ab("ab", ip, &["-r", "-n", "5000", "-c", "100"]))
        .step(same_domain())
        .step(dom0_cmd("status", &format!("curl -sS -m 20 http://{ip}/")));
    Test::new(guest, |r| {
        expect_dom0(r, "ab", 0, "Complete requests:      5000")?;
        expect_dom0(r, "after", 0, "same domain")?;
        expect_dom0(r, "status", 0, "app-example: a Rust unikernel on Xen")
    })
}

/// 4 MiB boots and serves.
pub(super) fn load_tiny(env: &Env) -> Test {
    let ip = "10.0.0.22";
    let guest = load_guest("load-tiny", env.app, 4, ip, "00:16:3e:00:00:22")
        .step(dom0_cmd("status", &format!("curl -sS -m 20 http://{ip}/")))
        .step(same_domain());
    Test::new(guest, |r| {
        expect_dom0(r, "status", 0, "app-example: a Rust unikernel on Xen")?;
        expect_dom0(r, "after", 0, "same domain")
    })
}

/// 1,000 connections at once, each answered or refused; the next request is answered
/// within a second, and the heap comes back to what it was.
pub(super) fn conns(env: &Env) -> Test {
    let ip = "10.0.0.23";
    let url = format!("http://{ip}{LOAD_PATH}");
    let guest = load_guest("conns", env.app, 32, ip, "00:16:3e:00:00:23")
        .step(dom0("before", HEAP_USED, &[("IP", ip)]))
        .step(dom0("burst", include_str!("sh/conns-burst.sh"), &[("URL", &url), ("N", "1000")]))
        .step(dom0("settled", HEAP_USED, &[("IP", ip), ("SLEEP", "5")]))
        .step(same_domain());
    Test::new(guest, |r| {
        expect_dom0(r, "burst", 0, "Complete requests:      1000")?;
        expect_dom0(r, "burst", 0, "next request: 200")?;
        expect_dom0(r, "after", 0, "same domain")?;
        let before = dom0_figure(r, "before", "heap_used_bytes")?;
        let after = dom0_figure(r, "settled", "heap_used_bytes")?;
        if (after - before).abs() > before * 0.1 {
            return Err(format!("heap used {before} before the burst, {after} after"));
        }
        Ok(())
    })
}

/// 200 clients trickling request heads do not stop service.
pub(super) fn slowloris(env: &Env) -> Test {
    let ip = "10.0.0.24";
    let guest = load_guest("slowloris", env.app, 32, ip, "00:16:3e:00:00:24")
        .step(dom0("attack", include_str!("sh/slowloris.sh"), &[("IP", ip), ("N", "200")]))
        .step(same_domain());
    Test::new(guest, |r| {
        expect_dom0(r, "attack", 0, "slow clients connected: 200 ")?;
        expect_dom0(r, "attack", 0, "normal requests served: 5 of 5")?;
        expect_dom0(r, "after", 0, "same domain")
    })
}
