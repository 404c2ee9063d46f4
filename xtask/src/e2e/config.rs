//! The configuration keys in the guest (issue 15): app-example built with a configure-time
//! key changed (`--set greeting=...`, the image `app-example-greeting`) shows it on its
//! status page, and with a boot-time key changed (`port=8080`) serves there; a command line
//! set directly in xl's `extra=` (past xtask's checks) with an unknown key, a bad value or
//! `--help` never starts the app: the console names the key (or lists the keys), the domain
//! powers off (not a crash) and `data/exit-code` holds the documented code (78 for a bad
//! configuration, 0 after `--help`).

use super::{dom0, dom0_cmd, expect_console, expect_dom0, expect_end, Env, Test};
use crate::rig::plan::{End, Guest, GuestResult, Step};

const IP: &str = "10.0.0.25";
/// The greeting the variant image was built with (`VARIANTS` in `xtask/src/test.rs`).
pub(super) const GREETING: &str = "Greetings,configured-at-build";

/// The configure key fixed in the image and the boot key on the line, both in effect.
pub(super) fn keys(env: &Env) -> Test {
    let mut guest = Guest::ours("config-keys", env.app_greeting, &format!("ip={IP}/24 port=8080"));
    guest.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:25".into());
    let guest = guest
        .step(Step::WaitOutput("app-example: serving HTTP on port 8080".into(), 90))
        .step(dom0("get", include_str!("sh/config-port.sh"), &[("IP", IP), ("PORT", "8080")]));
    Test::new(guest, |r| {
        expect_console(r, &format!("app-example: greeting \"{GREETING}\""))?;
        expect_dom0(r, "get", 0, &format!("{GREETING}\nname: config-keys"))?;
        expect_dom0(r, "get", 0, "port 80: 000")
    })
}

/// A guest of app-example (no devices: it stops before any) whose line the keys refuse or
/// that asks for `--help`; it must end powered off, with `code` in `data/exit-code`.
fn refused(env: &Env, name: &str, cmdline: &str) -> Guest {
    Guest::ours(name, env.app, cmdline)
        .step(Step::WaitEnd(60))
        .step(dom0_cmd("exit-code", "xenstore-read /local/domain/$DOMID/data/exit-code"))
}

fn expect_refused(r: &GuestResult, code: &str) -> Result<(), String> {
    expect_end(r, End::Poweroff)?;
    expect_dom0(r, "exit-code", 0, code)?;
    if r.console.contains("serving HTTP") || r.console.contains("Hello from app-example") {
        return Err("the app ran".into());
    }
    Ok(())
}

pub(super) fn unknown_key(env: &Env) -> Test {
    Test::new(refused(env, "config-unknown-key", "log=info prot=8080"), |r| {
        expect_console(r, "config:   prot: unknown key (did you mean port?)")?;
        expect_console(r, "config: exit 78 (bad configuration): powering off")?;
        expect_refused(r, "78")
    })
}

pub(super) fn bad_value(env: &Env) -> Test {
    Test::new(refused(env, "config-bad-value", "port=0 ip=10.0.0.300/24"), |r| {
        expect_console(r, "config:   port=0: out of range: expected u16 in 1..=65535")?;
        expect_console(r, "config:   ip=10.0.0.300/24: expected ipv4-cidr (like 10.0.0.2/24)")?;
        expect_console(r, "config: exit 78 (bad configuration): powering off")?;
        expect_refused(r, "78")
    })
}

pub(super) fn help(env: &Env) -> Test {
    Test::new(refused(env, "config-help", "--help"), |r| {
        expect_console(r, "config: the keys of this image")?;
        expect_console(r, "log=off|error|warn|info|debug|trace")?;
        expect_console(r, "the TCP port HTTP is served on (default 80)")?;
        expect_console(r, "greeting=STRING")?;
        expect_console(r, "config: --help given: not starting the app; exit 0")?;
        expect_refused(r, "0")
    })
}
