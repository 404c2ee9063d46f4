//! Test plans for the emulated machine: which guests to create, what to wait for, which
//! dom0 commands to run against them; the shell script dom0 runs for it; the results.

use crate::xl::XlConfig;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xen_domain::{Access, Action, LegacyPrefix};

/// What to do with a guest once created, in order.
#[derive(Debug, Clone)]
pub enum Step {
    /// Wait until the console shows the text (seconds).
    WaitOutput(String, u32),
    /// Run a dom0 shell command; `$DOMID` is the guest's domain id. Output and exit code
    /// come back under the step's name.
    Dom0(String, String),
    /// Wait for the guest to shut down; `xl destroy` it after the seconds (0: never).
    WaitEnd(u32),
    /// Show the guest's console on the host's terminal from here on.
    Follow,
    /// Run a check on the host (say, a request through a [`Forward`]) while dom0 waits for
    /// it, up to the seconds. Its answer comes back under the step's name (see
    /// [`GuestResult::host`]); made with [`Step::host`].
    Host(String, u32, HostCheck),
}

impl Step {
    /// A [`Step::Host`]: `check` runs on the host, in a thread of its own, while the plan
    /// waits (at most `secs`); `Ok(text)` passes, `Err(why)` fails.
    pub fn host(
        name: &str,
        secs: u32,
        check: impl Fn() -> Result<String, String> + Send + Sync + 'static,
    ) -> Step {
        Step::Host(name.into(), secs, HostCheck(Arc::new(check)))
    }
}

/// The host side of a [`Step::Host`].
#[derive(Clone)]
pub struct HostCheck(pub Arc<dyn Fn() -> Result<String, String> + Send + Sync>);

impl std::fmt::Debug for HostCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostCheck")
    }
}

/// A guest's TCP port reachable from the host at `127.0.0.1:host_port` while the plan runs:
/// QEMU's user-mode networking (`restrict=on`, bound to 127.0.0.1) forwards the host port
/// to the same port of dom0 (10.0.2.15), where socat forwards it to the guest. Set up when
/// the plan starts; connections before the guest listens are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub host_port: u16,
    pub guest_ip: String,
    pub guest_port: u16,
}

/// A disk file of the host that a guest gets: as `phy:` (the harness attaches a loop
/// device in dom0) or as `file:` (xl's block hotplug script does).
#[derive(Debug, Clone)]
pub struct Disk {
    pub host_file: PathBuf,
    pub vdev: String,
    pub writable: bool,
    pub as_file: bool,
}

#[derive(Debug, Clone)]
pub struct Guest {
    pub config: XlConfig,
    /// Our image on the host; `None` for the Linux yardstick (its kernel is in dom0).
    pub image: Option<PathBuf>,
    pub disks: Vec<Disk>,
    pub steps: Vec<Step>,
    /// Ports of this guest reachable from the host.
    pub forwards: Vec<Forward>,
    /// Its `phy:` disks are the host files themselves, each given to the machine as a
    /// drive of its own (what the guest writes lands in the file at once, and stays there
    /// however the machine ends), instead of copies on the exchange disk that come back in
    /// the results. Their backend's `params` is `/dev/rig-disk-N`.
    pub shared_disks: bool,
    /// Console text that shows the guest booted, and how long to wait for it; a guest that
    /// stops before is created once more.
    pub boot_retry: Option<(String, u32)>,
    /// Keeps its own `on_poweroff` and `on_reboot` (the lifecycle tests watch xl act on
    /// them) instead of "preserve"; a crash is preserved all the same.
    pub own_actions: bool,
}

impl Guest {
    /// A guest running one of our images.
    pub fn ours(name: &str, image: &Path, cmdline: &str) -> Guest {
        let mut config = XlConfig::new(name, &format!("/work/images/{name}"));
        config.extra = cmdline.into();
        Guest {
            config,
            image: Some(image.to_path_buf()),
            disks: vec![],
            steps: vec![],
            forwards: vec![],
            shared_disks: false,
            boot_retry: None,
            own_actions: false,
        }
    }

    /// The Linux PVH yardstick guest (same kernel as dom0, busybox initramfs).
    pub fn linux(name: &str, cmdline: &str) -> Guest {
        let mut config = XlConfig::new(name, "/rig/vmlinuz");
        config.ramdisk = Some("/rig/linux-guest.img".into());
        config.extra = format!("console=hvc0 quiet {cmdline}");
        config.memory_mib = 128;
        let boot_retry = Some(("linux-guest: up".to_string(), 120));
        Guest {
            config,
            image: None,
            disks: vec![],
            steps: vec![],
            forwards: vec![],
            shared_disks: false,
            boot_retry,
            own_actions: false,
        }
    }

    pub fn step(mut self, s: Step) -> Self {
        self.steps.push(s);
        self
    }
}

/// Guests in a batch run at the same time; batches run one after the other.
#[derive(Debug, Default)]
pub struct Plan {
    pub batches: Vec<Vec<Guest>>,
    /// Extra files for /work: (path under /work, text).
    pub texts: Vec<(String, String)>,
    /// dom0 shell commands run before the first batch, in the plan's shell (so daemons they
    /// start keep running and lib.sh's functions are at hand), e.g. `rig_dhcpd`.
    pub setup: Vec<String>,
}

/// The plan script and the exchange tree's contents: host files and generated texts, each
/// with its path under /work; the host ports QEMU must forward and the host checks.
pub struct Staged {
    pub script: String,
    pub files: Vec<(PathBuf, String)>,
    pub texts: Vec<(String, String)>,
    pub forwards: Vec<u16>,
    /// (guest, step, check)
    pub host_steps: Vec<(String, String, HostCheck)>,
    /// Host files given to the machine as drives `rig-disk-N` (N the index), and whether
    /// they are writable.
    pub drives: Vec<(PathBuf, bool)>,
}

impl Plan {
    pub fn stage(&self) -> Result<Staged> {
        let mut files = Vec::new();
        let mut texts = self.texts.clone();
        let mut script =
            String::from("# generated by cargo xtask: the test plan\nmkdir -p /out/disks\n");
        let guests = || self.batches.iter().flatten();
        let mut forwards = Vec::new();
        for f in guests().flat_map(|g| &g.forwards) {
            writeln!(script, "rig_forward {} {} {}", f.host_port, f.guest_ip, f.guest_port)
                .unwrap();
            forwards.push(f.host_port);
        }
        let mut host_steps = Vec::new();
        for g in guests() {
            for s in &g.steps {
                if let Step::Host(step, _, check) = s {
                    host_steps.push((g.config.name.clone(), step.clone(), check.clone()));
                }
            }
        }
        if !host_steps.is_empty() {
            script += "rig_host_listen\n";
        }
        for cmd in &self.setup {
            writeln!(script, "{cmd}").unwrap();
        }
        let mut loop_no = 0;
        let mut drives = Vec::new();
        for batch in &self.batches {
            for g in batch {
                let name = &g.config.name;
                let mut config = g.config.clone();
                // Keep a stopped guest listed so that its shutdown reason can be read.
                if !g.own_actions {
                    config.on_poweroff = Action::Preserve;
                    config.on_reboot = Action::Preserve;
                }
                config.on_crash = Action::Preserve;
                if let Some(img) = &g.image {
                    files.push((img.clone(), format!("images/{name}")));
                }
                let mut setup = String::new();
                let mut teardown = String::new();
                for d in &g.disks {
                    let file = format!("disks/{name}-{}", d.vdev);
                    // In xl's old positional syntax, as the plans have always been written.
                    let disk = |target: &str, prefix| -> Result<xen_domain::Disk> {
                        let vdev = d.vdev.parse().with_context(|| format!("guest {name:?}"))?;
                        let mut x = xen_domain::Disk::new(target, vdev)?;
                        x.access = if d.writable { Access::ReadWrite } else { Access::ReadOnly };
                        x.legacy_prefix = Some(prefix);
                        Ok(x)
                    };
                    if g.shared_disks && !d.as_file {
                        let dev = format!("rig-disk-{}", drives.len());
                        drives.push((d.host_file.clone(), d.writable));
                        writeln!(setup, "rig_drive {dev}").unwrap();
                        config.disks.push(disk(&format!("/dev/{dev}"), LegacyPrefix::Phy)?);
                        continue;
                    }
                    files.push((d.host_file.clone(), file.clone()));
                    if d.as_file {
                        config.disks.push(disk(&format!("/work/{file}"), LegacyPrefix::File)?);
                    } else {
                        // Loop devices from the top down, away from those `losetup -f`
                        // hands the block script for file: disks.
                        let dev = format!("/dev/loop{}", 63 - loop_no);
                        loop_no += 1;
                        let ro = if d.writable { "" } else { "-r " };
                        writeln!(setup, "losetup {ro}{dev} /work/{file}").unwrap();
                        writeln!(teardown, "losetup -d {dev}").unwrap();
                        config.disks.push(disk(&dev, LegacyPrefix::Phy)?);
                    }
                    writeln!(teardown, "cp /work/{file} /out/{name}/disk-{}", d.vdev).unwrap();
                }
                texts.push((format!("cfg/{name}.cfg"), config.render()?));
                match &g.boot_retry {
                    None => write!(script, "(\n{setup}rig_create {name} /work/cfg/{name}.cfg\n")
                        .unwrap(),
                    Some((text, secs)) => write!(
                        script,
                        "(\n{setup}rig_create_retry {name} /work/cfg/{name}.cfg {} {secs}\n",
                        shell_quote(text)
                    )
                    .unwrap(),
                }
                // Assigned, then exported: `export X=$(...)` would mask the command's status.
                writeln!(script, "DOMID=$(xl domid {name} 2>/dev/null); export DOMID").unwrap();
                for s in &g.steps {
                    match s {
                        Step::WaitOutput(text, secs) => {
                            writeln!(script, "rig_wait_output {name} {} {secs}", shell_quote(text))
                                .unwrap()
                        }
                        Step::Dom0(step, cmd) => {
                            writeln!(script, "rig_dom0 {name} {step} {}", shell_quote(cmd)).unwrap()
                        }
                        Step::WaitEnd(secs) => {
                            writeln!(script, "rig_wait_end {name} {secs}").unwrap()
                        }
                        Step::Follow => writeln!(script, "rig_follow {name}").unwrap(),
                        Step::Host(step, secs, _) => {
                            writeln!(script, "rig_host {name} {step} {secs}").unwrap()
                        }
                    }
                }
                if g.steps.iter().any(|s| matches!(s, Step::Follow)) {
                    writeln!(script, "rig_unfollow {name}").unwrap();
                }
                write!(script, "rig_finish {name}\n{teardown})").unwrap();
                script += if batch.len() > 1 { " &\n" } else { "\n" };
            }
            script += "wait\n";
        }
        Ok(Staged { script, files, texts, forwards, host_steps, drives })
    }
}

/// Single-quotes a string for sh.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// How a guest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Poweroff,
    Reboot,
    Crash,
    /// Still running at its deadline: destroyed.
    Timeout,
    Other(String),
}

/// What came back for one guest.
#[derive(Debug, Clone)]
pub struct GuestResult {
    pub console: String,
    pub end: Option<End>,
    pub create_rc: Option<i32>,
    pub create_log: String,
    /// Seconds from `xl create` to the first console output.
    pub first_output: Option<f64>,
    /// Seconds `xl create` took.
    pub create_time: Option<f64>,
    /// Seconds from `xl create` to the guest's removal.
    pub total_time: Option<f64>,
    pub dom0: BTreeMap<String, (i32, String)>,
    /// What each [`Step::Host`] check returned, by step name.
    pub host: BTreeMap<String, Result<String, String>>,
    pub missing_output: Vec<String>,
    /// Disk files as they came back, by virtual device (`xvda`).
    pub disks: BTreeMap<String, PathBuf>,
    /// Xen's log lines about triple faults of the guest (each ended it as crashed).
    pub triple_faults: Vec<String>,
    /// After a triple fault: the guest's RAM (offset = guest physical address).
    pub ram: Option<PathBuf>,
}

fn read(dir: &Path, f: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(f)).ok()
}

fn num(dir: &Path, f: &str) -> Option<f64> {
    read(dir, f)?.trim().parse().ok()
}

impl GuestResult {
    pub fn load(out: &Path, name: &str) -> Result<GuestResult> {
        let dir = out.join(name);
        anyhow::ensure!(dir.is_dir(), "no results for guest {name}");
        let end = read(&dir, "end").map(|e| match e.trim() {
            "0" => End::Poweroff,
            "1" => End::Reboot,
            "3" => End::Crash,
            "timeout" => End::Timeout,
            other => End::Other(other.to_string()),
        });
        let mut dom0 = BTreeMap::new();
        let mut host = BTreeMap::new();
        for e in std::fs::read_dir(&dir).context("reading results")? {
            let f = e?.file_name().to_string_lossy().into_owned();
            let rc = || read(&dir, &f).and_then(|s| s.trim().parse().ok()).unwrap_or(-1);
            if let Some(step) = f.strip_prefix("dom0-").and_then(|s| s.strip_suffix(".rc")) {
                let out = read(&dir, &format!("dom0-{step}.out")).unwrap_or_default();
                dom0.insert(step.to_string(), (rc(), out));
            } else if let Some(step) = f.strip_prefix("host-").and_then(|s| s.strip_suffix(".rc")) {
                let out = read(&dir, &format!("host-{step}.out")).unwrap_or_default();
                host.insert(step.to_string(), if rc() == 0 { Ok(out) } else { Err(out) });
            }
        }
        let t_create = num(&dir, "t_create");
        Ok(GuestResult {
            console: read(&dir, "console").unwrap_or_default().replace('\r', ""),
            end,
            create_rc: read(&dir, "create.rc").and_then(|s| s.trim().parse().ok()),
            create_log: read(&dir, "create.log").unwrap_or_default(),
            first_output: t_create.zip(num(&dir, "t_first_output")).map(|(a, b)| b - a),
            create_time: t_create.zip(num(&dir, "t_created")).map(|(a, b)| b - a),
            total_time: t_create.zip(num(&dir, "t_done")).map(|(a, b)| b - a),
            dom0,
            host,
            disks: std::fs::read_dir(&dir)?
                .flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    Some((n.strip_prefix("disk-")?.to_string(), e.path()))
                })
                .collect(),
            ram: Some(dir.join("ram")).filter(|p| p.exists()),
            triple_faults: read(&dir, "triple_faults")
                .map(|s| s.lines().map(str::to_string).collect())
                .unwrap_or_default(),
            missing_output: read(&dir, "missing_output")
                .map(|s| s.lines().map(str::to_string).collect())
                .unwrap_or_default(),
        })
    }
}
