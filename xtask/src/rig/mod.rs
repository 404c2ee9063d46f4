//! The emulated Xen machine: QEMU (software emulation) running Debian's Xen 4.17 with a
//! Debian Linux dom0 from an initramfs we assemble. dom0 runs a test plan from an exchange
//! disk (a tar archive on a virtio disk) and writes the results back to it; lines of its
//! console starting with "@@rig " report progress to the host.

pub mod initramfs;
pub mod packages;
pub mod plan;

use crate::util;
use anyhow::{bail, Context, Result};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bump when the way the images are assembled changes, to invalidate caches.
const FORMAT: u32 = 1;

/// The emulated CPU (`RIG_CPU` overrides it). Without XSAVE, so no AVX: with `max`, AVX
/// instructions in guests (busybox's string functions) now and then raised #UD under Xen
/// under QEMU's emulation, seen as segfaults and crashes of dom0 programs and the Linux guest.
const CPU: &str = "max,-xsave";

/// The machine's boot files.
#[derive(Debug, Clone)]
pub struct Files {
    pub xen: PathBuf,
    pub vmlinuz: PathBuf,
    pub dom0: PathBuf,
}

pub fn dir() -> PathBuf {
    util::root().join("target/rig")
}

/// Builds the machine's boot files, or reuses them when no input changed (package
/// versions, dom0 and guest scripts, module lists).
pub fn build() -> Result<Files> {
    let dir = dir();
    let out = dir.join("build");
    let files =
        Files { xen: out.join("xen"), vmlinuz: out.join("vmlinuz"), dom0: out.join("dom0.img") };
    eprintln!("rig: resolving Debian packages");
    let kernel = packages::kernel_package()?;
    let kver = kernel.strip_prefix("linux-image-").context("odd kernel package name")?.to_string();
    let pkgs = packages::resolve(&kernel)?;
    let names = packages::file_names(&pkgs)?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (FORMAT, &names, initramfs::DOM0_INIT, initramfs::DOM0_LIB, initramfs::LOCKING).hash(&mut h);
    (initramfs::GUEST_INIT, initramfs::DOM0_MODULES, initramfs::GUEST_MODULES).hash(&mut h);
    initramfs::DOM0_PROGRAMS.hash(&mut h);
    let key = format!("{:016x}", h.finish());
    let stamp = out.join("inputs");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(key.as_str())
        && [&files.xen, &files.vmlinuz, &files.dom0].iter().all(|f| f.exists())
    {
        eprintln!("rig: boot files up to date ({})", out.display());
        return Ok(files);
    }
    let t = Instant::now();
    let debs = packages::download(&names, &dir.join("debs"))
        .context("step `download packages` failed: check that Debian's archive is reachable")?;
    eprintln!("rig: unpacking {} packages", debs.len());
    let x = dir.join("x");
    packages::extract(&debs, &x)?;
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let mut xen = std::fs::File::create(&files.xen)?;
    let gz = Command::new("gzip").arg("-dc").arg(x.join("boot/xen-4.17-amd64.gz")).output()?;
    anyhow::ensure!(gz.status.success(), "gunzip of the Xen hypervisor failed");
    xen.write_all(&gz.stdout)?;
    std::fs::copy(x.join(format!("boot/vmlinuz-{kver}")), &files.vmlinuz)?;

    eprintln!("rig: assembling the Linux guest initramfs");
    let guest_root = dir.join("guest-root");
    let _ = std::fs::remove_dir_all(&guest_root);
    initramfs::guest_root(&x, &kver, &guest_root).context("step `Linux guest initramfs` failed")?;
    let guest_img = out.join("linux-guest.img");
    initramfs::pack(&guest_root, &guest_img)?;

    eprintln!("rig: assembling the dom0 initramfs");
    let dom0_root = dir.join("dom0-root");
    let _ = std::fs::remove_dir_all(&dom0_root);
    initramfs::dom0_root(&x, &kver, &files.vmlinuz, &guest_img, &dom0_root)
        .context("step `dom0 initramfs` failed")?;
    eprintln!("rig: compressing the dom0 initramfs");
    initramfs::pack(&dom0_root, &files.dom0)?;
    for d in [&guest_root, &dom0_root, &x] {
        std::fs::remove_dir_all(d)?;
    }
    std::fs::write(&stamp, key)?;
    eprintln!(
        "rig: boot files built in {:.1} s (dom0 initramfs {} MiB)",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&files.dom0)?.len() >> 20
    );
    Ok(files)
}

/// How the machine runs.
#[derive(Debug, Clone)]
pub struct Boot {
    /// The exchange disk: dom0 unpacks it to /work.
    pub exchange: Option<PathBuf>,
    /// An interactive dom0 shell on the terminal instead of running a plan.
    pub shell: bool,
    /// Kill QEMU after this long.
    pub timeout: Duration,
}

/// What a boot of the machine reported.
#[derive(Debug, Default)]
pub struct Report {
    /// Seconds from QEMU's start to dom0's toolstack being up.
    pub dom0_up: Option<f64>,
    pub results_written: bool,
    pub problems: Vec<String>,
    pub seconds: f64,
}

fn qemu(files: &Files, mode: &str, timeout: Duration) -> Command {
    let mut cmd = Command::new("qemu-system-x86_64");
    let cpu = std::env::var("RIG_CPU").unwrap_or_else(|_| CPU.to_string());
    cmd.args(["-accel", "tcg,thread=multi", "-machine", "q35", "-cpu", &cpu, "-smp", "2"])
        .args(["-m", "3072", "-display", "none", "-no-reboot", "-nic", "none"])
        .arg("-kernel")
        .arg(&files.xen)
        // smep/smap off: under QEMU's emulation the PV dom0 dies at its first exception
        // otherwise (see RIG.md). One dom0 vCPU: fewer moving parts while hunting the AVX
        // crashes above, and stable since; guests get the other CPU.
        .args([
            "-append",
            "dom0_mem=1024M,max:1024M dom0_max_vcpus=1 console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all \
             console_timestamps=boot smep=0 smap=0",
        ])
        .arg("-initrd")
        .arg(format!(
            "{} console=hvc0 earlyprintk=xen loglevel=4 rig.mode={mode} rig.watchdog={} rig.trace={},{}",
            files.vmlinuz.display(),
            timeout.as_secs(),
            // RIG_TRACE=1 shows every command of the plan (`set -x`) in the serial log.
            u8::from(std::env::var_os("RIG_TRACE").is_some_and(|v| v == "1")),
            files.dom0.display()
        ));
    cmd
}

/// Boots the machine. With an exchange disk, dom0 runs the plan on it and powers off;
/// progress lines are shown and the serial log kept in `log`.
pub fn boot(files: &Files, how: &Boot, log: &Path) -> Result<Report> {
    let attach = |cmd: &mut Command, disk: &Path| {
        cmd.arg("-drive")
            .arg(format!("file={},format=raw,if=none,id=xchg", disk.display()))
            .args(["-device", "virtio-blk-pci,drive=xchg"]);
    };
    if how.shell {
        let mut cmd = qemu(files, "shell", how.timeout);
        cmd.args(["-serial", "mon:stdio"]);
        if let Some(disk) = &how.exchange {
            attach(&mut cmd, disk);
        }
        eprintln!("rig: booting Xen and dom0 (about a minute); Ctrl-A X quits QEMU");
        util::run(&mut cmd)?;
        return Ok(Report::default());
    }
    let exchange = how.exchange.as_ref().context("a plan needs an exchange disk")?;
    let mut cmd = qemu(files, "plan", how.timeout);
    cmd.args(["-serial", "stdio", "-monitor", "none"]);
    attach(&mut cmd, exchange);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child =
        cmd.spawn().context("could not start qemu-system-x86_64 (package qemu-system-x86)")?;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            if tx.send(String::from_utf8_lossy(&line).trim_end().to_string()).is_err() {
                break;
            }
        }
    });
    let mut serial = std::fs::File::create(log)?;
    let mut report = Report::default();
    let mut finished_at = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                writeln!(serial, "{line}")?;
                let secs = start.elapsed().as_secs_f64();
                if let Some(text) = line.split("@@con ").nth(1) {
                    println!("{text}");
                } else if let Some(msg) = line.split("@@rig ").nth(1) {
                    eprintln!("rig: [{secs:6.1} s] {msg}");
                    if msg.starts_with("dom0-up") {
                        report.dom0_up = Some(secs);
                    } else if msg.starts_with("results-written") {
                        report.results_written = true;
                        finished_at.get_or_insert(Instant::now());
                    } else if msg.starts_with("watchdog") || msg.starts_with("error") {
                        report.problems.push(msg.to_string());
                    }
                } else if line.contains("Panic on CPU") || line.contains("Kernel panic") {
                    report.problems.push(line.clone());
                    finished_at.get_or_insert(Instant::now());
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if child.try_wait()?.is_some() {
            break;
        }
        // dom0's poweroff may leave Xen halted rather than QEMU ended.
        if finished_at.is_some_and(|t| t.elapsed() > Duration::from_secs(5)) {
            child.kill()?;
            break;
        }
        if start.elapsed() > how.timeout + Duration::from_secs(60) {
            child.kill()?;
            report
                .problems
                .push(format!("machine still running after {} s: killed", how.timeout.as_secs()));
            break;
        }
    }
    child.wait()?;
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Runs `plan` in a fresh boot of the machine; results land in `target/rig/run/out`.
pub fn run_plan(plan: &plan::Plan, timeout: Duration) -> Result<(Report, PathBuf)> {
    let files = build()?;
    let run = dir().join("run");
    let _ = std::fs::remove_dir_all(&run);
    let work = run.join("work");
    let out = run.join("out");
    std::fs::create_dir_all(&work)?;
    std::fs::create_dir_all(&out)?;
    let staged = plan.stage();
    std::fs::write(work.join("plan.sh"), &staged.script)?;
    let mut bytes = 0;
    for (src, dst) in &staged.files {
        let dst = work.join(dst);
        std::fs::create_dir_all(dst.parent().unwrap())?;
        bytes += std::fs::copy(src, &dst).with_context(|| format!("copying {}", src.display()))?;
    }
    for (dst, text) in &staged.texts {
        let dst = work.join(dst);
        std::fs::create_dir_all(dst.parent().unwrap())?;
        std::fs::write(dst, text)?;
    }
    // The disk holds the plan going in and the results (disks included) coming back.
    let exchange = run.join("exchange.img");
    util::run(Command::new("tar").arg("-cf").arg(&exchange).arg("-C").arg(&work).arg("."))?;
    let size = (bytes * 2 + (64 << 20)).next_multiple_of(1 << 20);
    std::fs::File::options().write(true).open(&exchange)?.set_len(size)?;
    let report = boot(
        &files,
        &Boot { exchange: Some(exchange.clone()), shell: false, timeout },
        &run.join("serial.log"),
    )?;
    if report.results_written {
        util::run(Command::new("tar").arg("-xf").arg(&exchange).arg("-C").arg(&out))?;
        if !out.join(".complete").exists() {
            bail!(
                "dom0 wrote no complete results (serial log: {})",
                run.join("serial.log").display()
            );
        }
    }
    Ok((report, out))
}
