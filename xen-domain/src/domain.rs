//! The guest as a whole.

use crate::{Disk, DomainName, Error, Vif};
use std::str::FromStr;

/// The kind of guest. Only PVH: the runtime boots through the PVH entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DomainType {
    #[default]
    Pvh,
}

impl DomainType {
    pub fn xl_name(self) -> &'static str {
        match self {
            DomainType::Pvh => "pvh",
        }
    }
}

/// What the toolstack does when the guest powers off, reboots or crashes (xl.cfg(5),
/// `on_poweroff`, `on_reboot`, `on_crash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Destroy,
    Restart,
    RenameRestart,
    /// Keep the domain, stopped, for inspection (`xl list` shows it).
    Preserve,
    CoredumpDestroy,
    CoredumpRestart,
}

impl Action {
    pub const NAMES: &'static [&'static str] = &[
        "destroy",
        "restart",
        "rename-restart",
        "preserve",
        "coredump-destroy",
        "coredump-restart",
    ];
    const ALL: [Action; 6] = [
        Action::Destroy,
        Action::Restart,
        Action::RenameRestart,
        Action::Preserve,
        Action::CoredumpDestroy,
        Action::CoredumpRestart,
    ];

    pub fn xl_name(self) -> &'static str {
        Action::NAMES[self as usize]
    }
}

impl FromStr for Action {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let i = Action::NAMES.iter().position(|n| *n == s);
        i.map(|i| Action::ALL[i]).ok_or_else(|| Error::Unknown {
            what: "shutdown action",
            text: s.into(),
            known: Action::NAMES,
        })
    }
}

/// How the guest's TSC is provided (xl.cfg(5), `tsc_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TscMode {
    Default,
    AlwaysEmulate,
    /// The host's TSC, never emulated.
    Native,
    NativeParavirt,
}

impl TscMode {
    pub fn xl_name(self) -> &'static str {
        match self {
            TscMode::Default => "default",
            TscMode::AlwaysEmulate => "always_emulate",
            TscMode::Native => "native",
            TscMode::NativeParavirt => "native_paravirt",
        }
    }
}

/// A guest. [`Domain::new`] gives xl's defaults for what it does not name; the fields are
/// then set directly. Renderers call [`Domain::check`] first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: DomainName,
    pub kind: DomainType,
    /// The kernel image, as the machine running the toolstack sees it.
    pub kernel: String,
    pub ramdisk: Option<String>,
    /// The guest's command line (xl's `extra`).
    pub extra: String,
    pub memory_mib: u32,
    pub vcpus: u32,
    pub on_poweroff: Action,
    pub on_reboot: Action,
    pub on_crash: Action,
    /// `None`: the toolstack's default.
    pub tsc_mode: Option<TscMode>,
    pub vifs: Vec<Vif>,
    pub disks: Vec<Disk>,
}

impl Domain {
    /// A PVH guest of 32 MiB and one vCPU, destroyed when it powers off or crashes and
    /// restarted when it reboots (xl's defaults for the actions).
    pub fn new(name: DomainName, kernel: &str) -> Domain {
        Domain {
            name,
            kind: DomainType::Pvh,
            kernel: kernel.into(),
            ramdisk: None,
            extra: String::new(),
            memory_mib: 32,
            vcpus: 1,
            on_poweroff: Action::Destroy,
            on_reboot: Action::Restart,
            on_crash: Action::Destroy,
            tsc_mode: None,
            vifs: Vec::new(),
            disks: Vec::new(),
        }
    }

    /// What the types alone do not rule out: zero sizes, an empty kernel path, disks with
    /// a target xl would misread, two disks with one vdev.
    pub fn check(&self) -> Result<(), Error> {
        if self.memory_mib == 0 {
            return Err(Error::Zero { field: "memory" });
        }
        if self.vcpus == 0 {
            return Err(Error::Zero { field: "vcpus" });
        }
        for (field, path) in [("kernel", Some(&self.kernel)), ("ramdisk", self.ramdisk.as_ref())] {
            if path.is_some_and(|p| p.is_empty()) {
                return Err(Error::Text { field, text: String::new(), why: "empty" });
            }
        }
        for (i, d) in self.disks.iter().enumerate() {
            d.check()?;
            if self.disks[..i].iter().any(|e| e.vdev == d.vdev) {
                return Err(Error::Vdev { text: d.vdev.to_string(), why: "used by two disks" });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_by_name() {
        for (i, n) in Action::NAMES.iter().enumerate() {
            assert_eq!(n.parse::<Action>().unwrap(), Action::ALL[i]);
            assert_eq!(Action::ALL[i].xl_name(), *n);
        }
        let e = "explode".parse::<Action>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"explode\" is not a shutdown action (one of destroy, restart, rename-restart, \
             preserve, coredump-destroy, coredump-restart)"
        );
    }

    #[test]
    fn check_refuses_what_xl_would() {
        let ok = Domain::new("d".parse().unwrap(), "/k");
        assert_eq!(ok.check(), Ok(()));
        let mut d = ok.clone();
        d.memory_mib = 0;
        assert_eq!(d.check(), Err(Error::Zero { field: "memory" }));
        let mut d = ok.clone();
        d.vcpus = 0;
        assert_eq!(d.check(), Err(Error::Zero { field: "vcpus" }));
        let mut d = ok.clone();
        d.kernel.clear();
        assert!(matches!(d.check(), Err(Error::Text { field: "kernel", .. })));
        let mut d = ok.clone();
        let disk = Disk::new("/a", "xvda".parse().unwrap()).unwrap();
        d.disks = vec![disk.clone(), Disk { target: "/b".into(), ..disk.clone() }];
        assert!(matches!(d.check(), Err(Error::Vdev { why: "used by two disks", .. })));
        d.disks = vec![Disk { target: "rel".into(), ..disk }];
        assert!(matches!(d.check(), Err(Error::Target { .. })));
    }
}
