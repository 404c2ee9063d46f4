//! The unikernel manifest: `[package.metadata.unikernel]` in an app's Cargo.toml. Every key
//! is checked; an unknown key or a bad value is an error that names it.
//!
//! ```toml
//! [package.metadata.unikernel]
//! name = "web"                 # domain name (default: the package name)
//! memory = 64                  # MiB
//! vcpus = 1
//! cmdline = "log=info"         # xl's extra=
//! on_poweroff = "destroy"      # destroy | restart | preserve | rename-restart
//! on_reboot = "restart"
//! on_crash = "destroy"         # also coredump-destroy, coredump-restart
//!
//! [[package.metadata.unikernel.network]]
//! bridge = "xenbr0"
//! mac = "00:16:3e:00:00:10"    # optional
//! ip = "10.0.0.2/24"           # optional: passed on the command line as ip=, gw=
//! gateway = "10.0.0.1"
//!
//! [[package.metadata.unikernel.disk]]
//! path = "state.img"           # relative to the crate; must exist
//! vdev = "xvda"
//! mode = "rw"                  # r | rw
//!
//! [package.metadata.unikernel.check]  # what `cargo xtask test` checks under Xen, in the
//! console = "serving HTTP"             # app's own repository: a console line, and/or
//! http = "/"                           # a GET of this path at the first network's ip
//! status = 200                         # answering this status (default 200)
//! port = 80                            # on this port (default 80)
//! timeout = 120                        # seconds for each (default 120)
//!
//! [package.metadata.unikernel.keys.port]   # the app's configuration keys: see keys.rs
//! type = "u16"
//! default = 80
//! doc = "the HTTP port"
//! ```

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use toml::{Table, Value};
use xen_domain::{Access, Action, Bridge, Domain, DomainName, Mac, Vdev, Vif};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub bridge: Bridge,
    pub mac: Option<Mac>,
    pub ip: Option<String>,
    pub gateway: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    pub path: PathBuf,
    pub vdev: Vdev,
    pub writable: bool,
}

/// The app's own end-to-end check (`[package.metadata.unikernel.check]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Text the console must show.
    pub console: Option<String>,
    /// A path to GET at the first network's static address.
    pub http: Option<String>,
    pub status: u16,
    pub port: u16,
    pub timeout_secs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: DomainName,
    pub memory_mib: u32,
    pub vcpus: u32,
    pub cmdline: String,
    pub on_poweroff: Action,
    pub on_reboot: Action,
    pub on_crash: Action,
    pub networks: Vec<Network>,
    pub disks: Vec<Disk>,
    /// The app's configuration keys (the runtime's are `devices::config::runtime`).
    pub keys: devices::config::Schema,
    pub check: Option<Check>,
}

/// Checks a table's keys against `allowed`; names the first unknown one.
fn known_keys(t: &Table, what: &str, allowed: &[&str]) -> Result<()> {
    match t.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => bail!("{what}.{k}: unknown key (known: {})", allowed.join(", ")),
        None => Ok(()),
    }
}

fn string(t: &Table, what: &str, key: &str) -> Result<Option<String>> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => {
            if s.chars().any(|c| c.is_control()) {
                bail!("{what}.{key}: control characters are not allowed");
            }
            Ok(Some(s.clone()))
        }
        Some(v) => bail!("{what}.{key}: expected a string, found {}", v.type_str()),
    }
}

fn number(t: &Table, what: &str, key: &str, default: u32, range: (u32, u32)) -> Result<u32> {
    match t.get(key) {
        None => Ok(default),
        Some(Value::Integer(n)) if (i64::from(range.0)..=i64::from(range.1)).contains(n) => {
            Ok(*n as u32)
        }
        Some(Value::Integer(n)) => {
            bail!("{what}.{key}: {n} is out of range {}..={}", range.0, range.1)
        }
        Some(v) => bail!("{what}.{key}: expected an integer, found {}", v.type_str()),
    }
}

/// A string value checked by the xen-domain type it becomes; the error names the key.
fn typed<T: std::str::FromStr<Err = xen_domain::Error>>(
    t: &Table,
    what: &str,
    key: &str,
) -> Result<Option<T>> {
    string(t, what, key)?.map(|s| s.parse().with_context(|| format!("{what}.{key}"))).transpose()
}

fn action(t: &Table, what: &str, key: &str, default: Action) -> Result<Action> {
    Ok(typed(t, what, key)?.unwrap_or(default))
}

fn valid_ipv4_cidr(s: &str, need_len: bool) -> bool {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    addr.parse::<std::net::Ipv4Addr>().is_ok()
        && match len {
            Some(l) => l.parse::<u8>().is_ok_and(|l| l <= 32),
            None => !need_len,
        }
}

fn array<'a>(t: &'a Table, what: &str, key: &str) -> Result<Vec<&'a Table>> {
    match t.get(key) {
        None => Ok(vec![]),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_table().with_context(|| format!("{what}.{key}[{i}]: expected a table"))
            })
            .collect(),
        Some(v) => bail!(
            "{what}.{key}: expected an array of tables ([[{what}.{key}]]), found {}",
            v.type_str()
        ),
    }
}

/// `[package.metadata.unikernel.check]`, checked against the networks it needs.
fn check(c: &Table, networks: &[Network]) -> Result<Check> {
    let what = "package.metadata.unikernel.check";
    known_keys(c, what, &["console", "http", "status", "port", "timeout"])?;
    let console = string(c, what, "console")?;
    let http = string(c, what, "http")?;
    if let Some(path) = &http {
        if !path.starts_with('/') || path.contains(|c: char| c.is_whitespace() || c == '\'') {
            bail!("{what}.http: {path:?} is not a path such as \"/\" or \"/health\"");
        }
        if networks.first().and_then(|n| n.ip.as_ref()).is_none() {
            bail!("{what}.http: needs a static address to reach: network[0].ip");
        }
    }
    if console.is_none() && http.is_none() {
        bail!("{what}: checks nothing: give console, http or both");
    }
    Ok(Check {
        console,
        http,
        status: number(c, what, "status", 200, (100, 599))? as u16,
        port: number(c, what, "port", 80, (1, 65535))? as u16,
        timeout_secs: number(c, what, "timeout", 120, (1, 3600))?,
    })
}

/// How many networks and disks the manifest in `cargo_toml` declares, checking nothing
/// else (building needs only this; [`Manifest::load`] checks the rest, disk files included).
pub fn declared_devices(cargo_toml: &Path) -> Result<(usize, usize)> {
    let text = std::fs::read_to_string(cargo_toml)
        .with_context(|| format!("reading {}", cargo_toml.display()))?;
    let doc: Table =
        text.parse().with_context(|| format!("{} is not valid TOML", cargo_toml.display()))?;
    let what = "package.metadata.unikernel";
    let m =
        match doc.get("package").and_then(|p| p.get("metadata")).and_then(|m| m.get("unikernel")) {
            None => return Ok((0, 0)),
            Some(Value::Table(t)) => t,
            Some(_) => bail!("{what}: expected a table"),
        };
    Ok((array(m, what, "network")?.len(), array(m, what, "disk")?.len()))
}

impl Manifest {
    /// Reads the manifest of the crate whose Cargo.toml is `cargo_toml`.
    pub fn load(cargo_toml: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(cargo_toml)
            .with_context(|| format!("reading {}", cargo_toml.display()))?;
        Manifest::parse(&text, cargo_toml.parent().unwrap_or(Path::new(".")))
            .with_context(|| format!("in {}", cargo_toml.display()))
    }

    /// Parses Cargo.toml text; relative disk paths are taken from `dir`.
    pub fn parse(cargo_toml: &str, dir: &Path) -> Result<Manifest> {
        let doc: Table = cargo_toml.parse().context("not valid TOML")?;
        let package = doc.get("package").and_then(Value::as_table).context("no [package]")?;
        let pkg_name = package.get("name").and_then(Value::as_str).context("no package.name")?;
        let empty = Table::new();
        let m = match package.get("metadata").and_then(|m| m.get("unikernel")) {
            None => &empty,
            Some(Value::Table(t)) => t,
            Some(_) => bail!("package.metadata.unikernel: expected a table"),
        };
        let what = "package.metadata.unikernel";
        known_keys(
            m,
            what,
            &[
                "name",
                "memory",
                "vcpus",
                "cmdline",
                "on_poweroff",
                "on_reboot",
                "on_crash",
                "network",
                "disk",
                "keys",
                "check",
            ],
        )?;
        let name = match typed(m, what, "name")? {
            Some(name) => name,
            None => pkg_name.parse().with_context(|| format!("{what}.name (from package.name)"))?,
        };
        let mut networks = Vec::new();
        for (i, n) in array(m, what, "network")?.into_iter().enumerate() {
            let w = format!("{what}.network[{i}]");
            known_keys(n, &w, &["bridge", "mac", "ip", "gateway"])?;
            let bridge = typed(n, &w, "bridge")?.unwrap_or_else(|| "xenbr0".parse().unwrap());
            let mac = typed(n, &w, "mac")?;
            let ip = string(n, &w, "ip")?;
            if let Some(ip) = &ip {
                if !valid_ipv4_cidr(ip, true) {
                    bail!("{w}.ip: {ip:?} is not an IPv4 address with a prefix length, like 10.0.0.2/24");
                }
            }
            let gateway = string(n, &w, "gateway")?;
            if let Some(g) = &gateway {
                if !valid_ipv4_cidr(g, false) || g.contains('/') {
                    bail!("{w}.gateway: {g:?} is not an IPv4 address");
                }
            }
            networks.push(Network { bridge, mac, ip, gateway });
        }
        let mut disks = Vec::new();
        for (i, d) in array(m, what, "disk")?.into_iter().enumerate() {
            let w = format!("{what}.disk[{i}]");
            known_keys(d, &w, &["path", "vdev", "mode"])?;
            let path = string(d, &w, "path")?.with_context(|| format!("{w}.path: missing"))?;
            let path = dir.join(&path);
            if !path.is_file() {
                bail!("{w}.path: {} does not exist (create the disk image first)", path.display());
            }
            let vdev = match typed(d, &w, "vdev")? {
                Some(v) => v,
                None => Vdev::nth(i as u32).with_context(|| format!("{w}: too many disks"))?,
            };
            let writable = match string(d, &w, "mode")?.as_deref() {
                None | Some("rw") | Some("w") => true,
                Some("r") | Some("ro") => false,
                Some(o) => bail!("{w}.mode: {o:?} is not r or rw"),
            };
            disks.push(Disk { path: std::fs::canonicalize(&path)?, vdev, writable });
        }
        let check = match m.get("check") {
            None => None,
            Some(Value::Table(c)) => Some(check(c, &networks)?),
            Some(_) => bail!("{what}.check: expected a table"),
        };
        Ok(Manifest {
            check,
            name,
            memory_mib: number(m, what, "memory", 32, (4, 1 << 20))?,
            vcpus: number(m, what, "vcpus", 1, (1, 1))?,
            cmdline: string(m, what, "cmdline")?.unwrap_or_default(),
            on_poweroff: action(m, what, "on_poweroff", Action::Destroy)?,
            on_reboot: action(m, what, "on_reboot", Action::Restart)?,
            on_crash: action(m, what, "on_crash", Action::Destroy)?,
            networks,
            disks,
            keys: crate::keys::from_manifest(m.get("keys"))?,
        })
    }

    /// The guest's command line (xl's `extra=`): the manifest's `cmdline`, then each
    /// network's `ip=`/`gw=` (`ip_1=`, ... for the second) unless the line has that key.
    pub fn extra(&self) -> String {
        let mut words: Vec<String> =
            self.cmdline.split_ascii_whitespace().map(String::from).collect();
        for (i, n) in (0u32..).zip(&self.networks) {
            for (key, v) in [("ip", &n.ip), ("gw", &n.gateway)] {
                let key = devices::config::indexed_name(key, i);
                if let Some(v) = v.as_ref().filter(|_| !devices::cmdline::has(&self.cmdline, &key))
                {
                    words.push(format!("{key}={v}"));
                }
            }
        }
        words.join(" ")
    }

    /// The guest this app is, with its image at `kernel` (made absolute).
    pub fn domain(&self, kernel: &Path) -> Result<Domain> {
        let kernel = std::path::absolute(kernel)?;
        let mut d = crate::xl::domain(self.name.clone(), &kernel.to_string_lossy());
        d.memory_mib = self.memory_mib;
        d.vcpus = self.vcpus;
        for n in &self.networks {
            d.vifs.push(Vif { mac: n.mac, ..Vif::bridged(n.bridge.clone()) });
        }
        for disk in &self.disks {
            let mut x = xen_domain::Disk::new(&disk.path.to_string_lossy(), disk.vdev.clone())?;
            x.access = if disk.writable { Access::ReadWrite } else { Access::ReadOnly };
            d.disks.push(x);
        }
        d.extra = self.extra();
        d.on_poweroff = self.on_poweroff;
        d.on_reboot = self.on_reboot;
        d.on_crash = self.on_crash;
        d.check().context("package.metadata.unikernel")?;
        Ok(d)
    }

    /// The xl file's text for this app with its image at `kernel`.
    pub fn xl_text(&self, kernel: &Path) -> Result<String> {
        Ok(xen_domain::xl::render(&self.domain(kernel)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(meta: &str) -> Result<Manifest> {
        let text = format!("[package]\nname = \"demo\"\nversion = \"0.1.0\"\n{meta}");
        Manifest::parse(&text, Path::new(env!("CARGO_MANIFEST_DIR")))
    }

    fn err(meta: &str) -> String {
        format!("{:#}", parse(meta).unwrap_err())
    }

    #[test]
    fn defaults_without_a_manifest() {
        let m = parse("").unwrap();
        assert_eq!((m.name.as_str(), m.memory_mib, m.vcpus), ("demo", 32, 1));
    }

    #[test]
    fn bad_values_are_named() {
        let base = "[package.metadata.unikernel]\n";
        assert!(err(&format!("{base}memory = 0")).contains("unikernel.memory: 0 is out of range"));
        assert!(err(&format!("{base}memory = \"64\""))
            .contains("unikernel.memory: expected an integer"));
        assert!(err(&format!("{base}colour = 1")).contains("unikernel.colour: unknown key"));
        assert!(err(&format!("{base}on_crash = \"explode\"")).contains("unikernel.on_crash"));
        assert!(err(&format!("{base}name = \"a b\"")).contains("unikernel.name"));
        assert!(err(&format!("{base}cmdline = \"a\\nb\""))
            .contains("unikernel.cmdline: control characters"));
        let net = "[[package.metadata.unikernel.network]]\n";
        assert!(err(&format!("{net}mac = \"00:16:3e:00:00\"")).contains("network[0].mac"));
        assert!(err(&format!("{net}mac = \"01:16:3e:00:00:01\"")).contains("network[0].mac"));
        assert!(err(&format!("{net}ip = \"10.0.0.300/24\"")).contains("network[0].ip"));
        assert!(err(&format!("{net}ip = \"10.0.0.3\"")).contains("network[0].ip"));
        assert!(err(&format!("{net}speed = 1")).contains("network[0].speed: unknown key"));
        let disk = "[[package.metadata.unikernel.disk]]\n";
        assert!(err(&format!("{disk}path = \"no-such.img\"")).contains("disk[0].path"));
        assert!(
            err(&format!("{disk}path = \"Cargo.toml\"\nvdev = \"sda\"")).contains("disk[0].vdev")
        );
        assert!(err(&format!("{disk}path = \"Cargo.toml\"\nmode = \"x\"")).contains("disk[0].mode"));
    }

    #[test]
    fn strings_are_quoted_and_escaped_for_xl() {
        let m = parse("[package.metadata.unikernel]\ncmdline = 'say \"hi\" \\o/'").unwrap();
        let text = m.xl_text(Path::new("/k")).unwrap();
        assert!(text.contains(r#"extra = "say \"hi\" \\o/""#), "{text}");
    }

    /// The example's manifest, rendered, is the reviewed file xtask/tests/app-example.xl
    /// (with the kernel path of this checkout replaced by KERNEL).
    #[test]
    fn example_xl_matches_the_golden_file() {
        let root = crate::util::root();
        let m = Manifest::load(&root.join("app-example/Cargo.toml")).unwrap();
        let text = m.xl_text(Path::new("/KERNEL")).unwrap();
        let golden = std::fs::read_to_string(root.join("xtask/tests/app-example.xl")).unwrap();
        assert_eq!(text, golden);
    }
}
