//! xl configuration files (xl.cfg(5)): a typed description of a guest, written out with
//! every string quoted and escaped.

use std::fmt::Write;

/// A PVH guest as `xl create` sees it.
#[derive(Debug, Clone)]
pub struct XlConfig {
    pub name: String,
    /// Absolute path of the kernel image, as the machine running `xl` sees it.
    pub kernel: String,
    pub ramdisk: Option<String>,
    pub extra: String,
    pub memory_mib: u32,
    pub vcpus: u32,
    /// Entries of `vif = [...]`, e.g. `bridge=xenbr0,mac=00:16:3e:00:00:01`.
    pub vifs: Vec<String>,
    /// Entries of `disk = [...]`, e.g. `phy:/dev/loop0,xvda,w`.
    pub disks: Vec<String>,
    pub on_poweroff: String,
    pub on_reboot: String,
    pub on_crash: String,
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
            on_poweroff: "destroy".into(),
            on_reboot: "restart".into(),
            on_crash: "destroy".into(),
        }
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut kv = |k: &str, v: &str| writeln!(s, "{k} = {}", quote(v)).unwrap();
        kv("name", &self.name);
        kv("type", "pvh");
        kv("kernel", &self.kernel);
        if let Some(r) = &self.ramdisk {
            kv("ramdisk", r);
        }
        kv("extra", &self.extra);
        kv("on_poweroff", &self.on_poweroff);
        kv("on_reboot", &self.on_reboot);
        kv("on_crash", &self.on_crash);
        // Xen under QEMU's emulated SVM cannot decode every instruction it would have to
        // intercept when the TSC is emulated (RDTSCP was seen to fail): use the host TSC.
        kv("tsc_mode", "native");
        writeln!(s, "memory = {}", self.memory_mib).unwrap();
        writeln!(s, "vcpus = {}", self.vcpus).unwrap();
        for (key, list) in [("vif", &self.vifs), ("disk", &self.disks)] {
            if !list.is_empty() {
                let items: Vec<String> = list.iter().map(|v| quote(v)).collect();
                writeln!(s, "{key} = [ {} ]", items.join(", ")).unwrap();
            }
        }
        s
    }
}

/// A double-quoted xl.cfg string: backslash and double quote escaped.
pub fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
