//! Assembling the initramfs images of the emulated machine from unpacked Debian packages:
//! dom0 (busybox, the Xen toolstack and its libraries, bash for the hotplug scripts, kernel
//! modules, our /init) and the Linux yardstick guest (busybox, netfront, blkfront).

use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util;

/// dom0's modules, loaded in this order (dependencies are added before their users).
pub const DOM0_MODULES: &[&str] = &[
    "xen-evtchn",
    "xen-gntdev",
    "xen-gntalloc",
    "xen-privcmd",
    "xenfs",
    "bridge",
    "xen-netback",
    "xen-blkback",
    "loop",
    // The exchange disk with the plan and the results.
    "virtio_pci",
    "virtio_blk",
    // Host networking for `cargo xtask run` (QEMU user-mode networking).
    "virtio_net",
];

/// Module parameters: enough loop devices for the disks of a plan's guests.
const MODULE_PARAMS: &[(&str, &str)] = &[("loop.ko", "max_loop=64")];

pub const GUEST_MODULES: &[&str] = &["xen-netfront", "xen-blkfront"];

/// Programs of the unpacked packages that dom0 gets in /bin (beside busybox, bash and the
/// Xen tools).
pub const DOM0_PROGRAMS: &[&str] = &["usr/bin/curl", "usr/bin/socat", "usr/bin/ab", "bin/ping"];

/// Where dom0's loader looks for shared objects.
const LIB_DIRS: &[&str] = &["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64"];

pub const DOM0_INIT: &str = include_str!("dom0-init.sh");
pub const DOM0_LIB: &str = include_str!("lib.sh");
pub const LOCKING: &str = include_str!("locking.sh");
pub const GUEST_INIT: &str = include_str!("linux-guest-init.sh");

/// dom0's tool that makes a triple fault end a guest as crashed (C, built static against
/// the host's libxenctrl from libxen-dev: the same Xen 4.17 as dom0's).
pub const TRIPLE_FAULT_CRASH: &str = include_str!("triple-fault-crash.c");

/// The Linux guest's side of `cargo xtask bench blk` (C, built static with the host's cc).
pub const GUEST_BLKBENCH: &str = include_str!("blkbench.c");

/// The kernel's loadable modules by name ('-' and '_' are the same to the kernel).
struct Modules {
    root: PathBuf,
    by_name: BTreeMap<String, PathBuf>,
}

fn norm(name: &str) -> String {
    name.replace('-', "_")
}

impl Modules {
    fn scan(modules_dir: &Path) -> Result<Modules> {
        let mut by_name = BTreeMap::new();
        let mut stack = vec![modules_dir.join("kernel")];
        while let Some(dir) = stack.pop() {
            for e in
                std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
            {
                let p = e?.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Some(n) =
                    p.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".ko"))
                {
                    by_name.insert(norm(n), p.strip_prefix(modules_dir)?.to_path_buf());
                }
            }
        }
        Ok(Modules { root: modules_dir.to_path_buf(), by_name })
    }

    /// The `depends=` entry of a module's .modinfo section.
    fn depends(&self, rel: &Path) -> Result<Vec<String>> {
        let bytes = std::fs::read(self.root.join(rel))?;
        let key = b"\0depends=";
        let Some(pos) = bytes.windows(key.len()).position(|w| w == key) else { return Ok(vec![]) };
        let rest = &bytes[pos + key.len()..];
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        let list = std::str::from_utf8(&rest[..end])?;
        Ok(list.split(',').filter(|s| !s.is_empty()).map(norm).collect())
    }

    /// `wanted` with their dependencies, each after what it depends on.
    fn closure(&self, wanted: &[&str]) -> Result<Vec<PathBuf>> {
        fn visit(
            m: &Modules,
            name: &str,
            seen: &mut BTreeSet<String>,
            out: &mut Vec<PathBuf>,
        ) -> Result<()> {
            if !seen.insert(name.to_string()) {
                return Ok(());
            }
            let Some(rel) = m.by_name.get(name) else {
                bail!("kernel module {name} is not in the kernel package");
            };
            for dep in m.depends(rel)? {
                visit(m, &dep, seen, out)?;
            }
            out.push(rel.clone());
            Ok(())
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for w in wanted {
            visit(self, &norm(w), &mut seen, &mut out)?;
        }
        Ok(out)
    }
}

/// Copies the modules `wanted` needs under `root/lib/modules` and writes their load order
/// to `list_file`.
fn install_modules(
    x: &Path,
    kernel_version: &str,
    wanted: &[&str],
    root: &Path,
    list_file: &Path,
) -> Result<()> {
    let modules = Modules::scan(&x.join("lib/modules").join(kernel_version))?;
    let order = modules.closure(wanted)?;
    let mut list = String::new();
    for rel in &order {
        let name = rel.file_name().unwrap();
        std::fs::copy(modules.root.join(rel), root.join("lib/modules").join(name))?;
        let name = name.to_string_lossy();
        let params = MODULE_PARAMS.iter().find(|(m, _)| *m == name).map_or("", |(_, p)| p);
        list += &format!("{name} {params}\n");
    }
    std::fs::write(list_file, list)?;
    Ok(())
}

fn mkdirs(root: &Path, dirs: &[&str]) -> Result<()> {
    for d in dirs {
        std::fs::create_dir_all(root.join(d))?;
    }
    Ok(())
}

fn write_exec(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// busybox plus a link for each of its applets in /bin.
fn install_busybox(x: &Path, root: &Path) -> Result<()> {
    let bb = x.join("bin/busybox");
    std::fs::copy(&bb, root.join("bin/busybox"))?;
    let list = Command::new(&bb).arg("--list").output().context("running busybox --list")?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = root.join("bin").join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", link)?;
        }
    }
    Ok(())
}

/// `cp -a SRC DST` (keeps symlinks, as the library packages need).
fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    if src.exists() {
        std::fs::create_dir_all(dst)?;
        let mut from = src.as_os_str().to_owned();
        from.push("/.");
        util::run(Command::new("cp").arg("-a").arg(from).arg(dst))?;
    }
    Ok(())
}

/// Writes `root` as a gzip-compressed newc cpio archive, every file owned by root.
pub fn pack(root: &Path, out: &Path) -> Result<()> {
    let script = format!(
        "set -o pipefail; cd '{}' && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1 > '{}'",
        root.display(),
        out.display()
    );
    util::run(Command::new("bash").arg("-c").arg(script))
        .context("packing initramfs (needs cpio, gzip)")
}

/// The dom0 root: everything under `root`, ready for [`pack`].
pub fn dom0_root(
    x: &Path,
    kernel_version: &str,
    guest_kernel: &Path,
    guest_initrd: &Path,
    root: &Path,
) -> Result<()> {
    mkdirs(
        root,
        &[
            "bin",
            "sbin",
            "etc/rig",
            "proc",
            "sys",
            "dev",
            "run",
            "tmp",
            "var/log",
            "var/lib/xen",
            "var/lib/xenstored",
            "root",
            "lib/modules",
            "usr/lib",
            "rig",
            "out",
            "work",
        ],
    )?;
    install_busybox(x, root)?;
    std::fs::copy(x.join("bin/bash"), root.join("bin/bash"))?;
    for p in DOM0_PROGRAMS {
        let dest = root.join("bin").join(Path::new(p).file_name().unwrap());
        // In place of busybox's applet link (copying onto the link would overwrite busybox).
        let _ = std::fs::remove_file(&dest);
        std::fs::copy(x.join(p), dest)
            .with_context(|| format!("{p} is not in the unpacked packages"))?;
    }
    // Shared objects and the dynamic loader, from the unpacked library packages.
    for d in LIB_DIRS {
        copy_tree(&x.join(d), &root.join(d))?;
    }
    let _ = std::fs::remove_dir_all(root.join("usr/lib/x86_64-linux-gnu/gconv"));
    // The toolstack: xl, xenstored, xenconsoled, xen-init-dom0, ... and xenstore-*.
    copy_tree(&x.join("usr/lib/xen-4.17"), &root.join("usr/lib/xen-4.17"))?;
    for e in std::fs::read_dir(x.join("usr/bin"))? {
        let p = e?.path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("xenstore") {
            std::fs::copy(&p, root.join("bin").join(&name))?;
        }
    }
    copy_tree(&x.join("etc/xen"), &root.join("etc/xen"))?;
    std::fs::write(root.join("etc/xen/scripts/locking.sh"), LOCKING)?;
    std::os::unix::fs::symlink("/run", root.join("var/run"))?;
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    std::fs::write(root.join("etc/group"), "root:x:0:\n")?;
    install_modules(x, kernel_version, DOM0_MODULES, root, &root.join("etc/rig/modules.list"))?;
    write_exec(&root.join("init"), DOM0_INIT)?;
    std::fs::write(root.join("etc/rig/lib.sh"), DOM0_LIB)?;
    build_triple_fault_crash(root)?;
    std::fs::copy(guest_kernel, root.join("rig/vmlinuz"))?;
    std::fs::copy(guest_initrd, root.join("rig/linux-guest.img"))?;
    check_libraries(root)
}

fn build_triple_fault_crash(root: &Path) -> Result<()> {
    let src = root.join("../triple-fault-crash.c");
    std::fs::write(&src, TRIPLE_FAULT_CRASH)?;
    let libs = ["xenctrl", "xencall", "xenforeignmemory", "xendevicemodel", "xengnttab"];
    let libs = libs.iter().chain(&["xenevtchn", "xentoollog", "xentoolcore", "pthread"]);
    util::run(
        Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(root.join("bin/rig-triple-fault-crash"))
            .arg(&src)
            .args(libs.map(|l| format!("-l{l}"))),
    )
    .context("building triple-fault-crash.c (needs gcc and libxen-dev)")?;
    std::fs::remove_file(&src)?;
    Ok(())
}

/// What `ldd` would check, for every program in the root: each shared object a program
/// needs, and each one those need, is in the loader's directories.
fn check_libraries(root: &Path) -> Result<()> {
    let find = |name: &str| LIB_DIRS.iter().map(|d| root.join(d).join(name)).find(|p| p.exists());
    let mut programs = Vec::new();
    for d in ["bin", "sbin", "usr/lib/xen-4.17/bin"] {
        for e in std::fs::read_dir(root.join(d))? {
            let p = e?.path();
            if p.is_file() && !p.is_symlink() {
                programs.push(p);
            }
        }
    }
    let mut missing = BTreeSet::new();
    let mut seen = BTreeSet::new();
    while let Some(p) = programs.pop() {
        let bytes = std::fs::read(&p)?;
        if !bytes.starts_with(b"\x7fELF") {
            continue; // a script
        }
        let needed =
            crate::elf::needed(&bytes).with_context(|| format!("reading {}", p.display()))?;
        for lib in needed {
            match find(&lib) {
                Some(path) if seen.insert(lib.clone()) => programs.push(path),
                Some(_) => {}
                None => {
                    missing.insert(format!("{lib} (for {})", p.strip_prefix(root)?.display()));
                }
            }
        }
    }
    if !missing.is_empty() {
        bail!(
            "shared objects missing from dom0 (add their packages): {}",
            missing.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

/// `path` of the unpacked packages `x`, with its symbolic links followed inside `x` (an
/// absolute link target is a path of the package tree, not of the host).
fn resolve_in(x: &Path, path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..16 {
        match std::fs::read_link(&p) {
            Ok(t) if t.is_absolute() => p = x.join(t.strip_prefix("/")?),
            Ok(t) => p = p.parent().context("link without a parent")?.join(t),
            Err(_) => return Ok(p),
        }
    }
    bail!("{}: too many levels of links", path.display())
}

/// Copies program `rel` of the unpacked packages into `root/bin`, with the dynamic loader
/// and every shared object it needs, transitively (as `ldd` would list them).
fn install_dynamic(x: &Path, rel: &str, root: &Path) -> Result<()> {
    let name = Path::new(rel).file_name().context("a program path")?;
    std::fs::copy(x.join(rel), root.join("bin").join(name))
        .with_context(|| format!("{rel} is not in the unpacked packages"))?;
    let mut todo = vec![x.join(rel)];
    let mut seen = BTreeSet::new();
    while let Some(p) = todo.pop() {
        for lib in crate::elf::needed(&std::fs::read(&p)?)? {
            if !seen.insert(lib.clone()) {
                continue;
            }
            let (dir, src) = LIB_DIRS
                .iter()
                .map(|d| (d, x.join(d).join(&lib)))
                .find(|(_, p)| p.exists())
                .with_context(|| format!("{lib} (for {rel}) is not in the unpacked packages"))?;
            let src = resolve_in(x, &src)?;
            std::fs::create_dir_all(root.join(dir))?;
            std::fs::copy(&src, root.join(dir).join(&lib))?;
            todo.push(src);
        }
    }
    let loader = "lib64/ld-linux-x86-64.so.2";
    std::fs::create_dir_all(root.join("lib64"))?;
    std::fs::copy(resolve_in(x, &x.join(loader))?, root.join(loader))?;
    Ok(())
}

/// nginx in the Linux guest: one worker, a small static page (`rig.nginx=1` starts it).
pub const NGINX_CONF: &str = "\
user root;
worker_processes 1;
daemon on;
pid /tmp/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path /tmp;
    proxy_temp_path /tmp;
    fastcgi_temp_path /tmp;
    uwsgi_temp_path /tmp;
    scgi_temp_path /tmp;
    keepalive_requests 1000000;
    server {
        listen 80 backlog=4096;
        root /www;
    }
}
";

/// The Linux yardstick guest's root.
pub fn guest_root(x: &Path, kernel_version: &str, root: &Path) -> Result<()> {
    mkdirs(root, &["bin", "etc", "proc", "sys", "dev", "tmp", "lib/modules"])?;
    std::fs::copy(x.join("bin/busybox"), root.join("bin/busybox"))?;
    // nginx, the real server `cargo xtask bench http` measures app-example against.
    install_dynamic(x, "usr/sbin/nginx", root)?;
    std::fs::write(root.join("etc/nginx.conf"), NGINX_CONF)?;
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    std::fs::write(root.join("etc/group"), "root:x:0:\n")?;
    install_modules(x, kernel_version, GUEST_MODULES, root, &root.join("etc/modules.list"))?;
    write_exec(&root.join("init"), GUEST_INIT)?;
    let src = root.join("../blkbench.c");
    std::fs::write(&src, GUEST_BLKBENCH)?;
    crate::util::run(
        std::process::Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(root.join("bin/blkbench"))
            .arg(&src),
    )
    .context("building blkbench.c (needs gcc and libc6-dev)")?;
    Ok(())
}
