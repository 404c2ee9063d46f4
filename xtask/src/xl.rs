//! The xl files xtask writes, through the `xen-domain` crate: the settings every guest of
//! this project gets, and the guests of the emulated machine's plans.

use anyhow::{Context, Result};
use xen_domain::{Action, Disk, Domain, DomainName, TscMode};

/// A domain with what every guest of this project gets.
pub fn domain(name: DomainName, kernel: &str) -> Domain {
    let mut d = Domain::new(name, kernel);
    // Xen under QEMU's emulated SVM cannot decode every instruction it would have to
    // intercept when the TSC is emulated (RDTSCP was seen to fail): use the host TSC.
    d.tsc_mode = Some(TscMode::Native);
    d
}

/// A guest of a plan (`rig::plan::Guest`). The vifs are xl vif specs
/// (`bridge=xenbr0,mac=00:16:3e:00:00:01`), as the e2e tests and benchmarks write them;
/// they, the name and the rest are checked by [`XlConfig::domain`] when the plan is staged.
#[derive(Debug, Clone)]
pub struct XlConfig {
    pub name: String,
    /// Absolute path of the kernel image, as the machine running `xl` sees it.
    pub kernel: String,
    pub ramdisk: Option<String>,
    pub extra: String,
    pub memory_mib: u32,
    pub vcpus: u32,
    pub vifs: Vec<String>,
    pub disks: Vec<Disk>,
    pub on_poweroff: Action,
    pub on_reboot: Action,
    pub on_crash: Action,
}

impl XlConfig {
    pub fn new(name: &str, kernel: &str) -> Self {
        XlConfig {
            name: name.into(),
            kernel: kernel.into(),
            ramdisk: None,
            extra: String::new(),
            memory_mib: 32,
            vcpus: 1,
            vifs: vec![],
            disks: vec![],
            on_poweroff: Action::Destroy,
            on_reboot: Action::Restart,
            on_crash: Action::Destroy,
        }
    }

    /// The plan's guest for a domain (an app's, from its manifest).
    pub fn from_domain(d: &Domain) -> Self {
        XlConfig {
            name: d.name.to_string(),
            kernel: d.kernel.clone(),
            ramdisk: d.ramdisk.clone(),
            extra: d.extra.clone(),
            memory_mib: d.memory_mib,
            vcpus: d.vcpus,
            vifs: d.vifs.iter().map(|v| v.to_string()).collect(),
            disks: d.disks.clone(),
            on_poweroff: d.on_poweroff,
            on_reboot: d.on_reboot,
            on_crash: d.on_crash,
        }
    }

    /// The typed domain: every value checked.
    pub fn domain(&self) -> Result<Domain> {
        let what = || format!("guest {:?}", self.name);
        let mut d = domain(self.name.parse().with_context(what)?, &self.kernel);
        d.ramdisk = self.ramdisk.clone();
        d.extra = self.extra.clone();
        d.memory_mib = self.memory_mib;
        d.vcpus = self.vcpus;
        for v in &self.vifs {
            d.vifs.push(v.parse().with_context(what)?);
        }
        d.disks = self.disks.clone();
        d.on_poweroff = self.on_poweroff;
        d.on_reboot = self.on_reboot;
        d.on_crash = self.on_crash;
        d.check().with_context(what)?;
        Ok(d)
    }

    /// The xl file's text.
    pub fn render(&self) -> Result<String> {
        Ok(xen_domain::xl::render(&self.domain()?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_guest_round_trips_through_the_typed_domain() {
        let mut c = XlConfig::new("g", "/work/images/g");
        c.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:10".into());
        c.on_crash = Action::Preserve;
        let d = c.domain().unwrap();
        assert_eq!(d.tsc_mode, Some(TscMode::Native));
        assert_eq!(XlConfig::from_domain(&d).render().unwrap(), c.render().unwrap());
    }

    #[test]
    fn bad_plan_guests_are_errors_naming_the_guest() {
        let mut c = XlConfig::new("g", "/k");
        c.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00".into());
        let e = format!("{:#}", c.render().unwrap_err());
        assert!(e.starts_with("guest \"g\": MAC address"), "{e}");
        let e = format!("{:#}", XlConfig::new("a b", "/k").render().unwrap_err());
        assert!(e.contains("domain name \"a b\""), "{e}");
    }
}
