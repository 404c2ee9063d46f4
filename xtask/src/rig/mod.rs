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
    util::work_dir().join("rig")
}

/// One run of the machine at a time per checkout: runs share `target/rig/run` and the
/// boot files (and two TCG machines on this host's cores would crawl). A second run waits
/// for the first; the lock goes with the returned file, when it is dropped or the process
/// dies.
pub fn lock() -> Result<std::fs::File> {
    std::fs::create_dir_all(dir())?;
    let path = dir().join("run.lock");
    let f = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    if f.try_lock().is_err() {
        eprintln!("rig: another run of the machine holds {}; waiting for it", path.display());
        f.lock()?;
    }
    Ok(f)
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
    initramfs::GUEST_BLKBENCH.hash(&mut h);
    (initramfs::TRIPLE_FAULT_CRASH, initramfs::NGINX_CONF).hash(&mut h);
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
#[derive(Debug, Clone, Default)]
pub struct Boot {
    /// The exchange disk: dom0 unpacks it to /work.
    pub exchange: Option<PathBuf>,
    /// An interactive dom0 shell on the terminal instead of running a plan.
    pub shell: bool,
    /// Kill QEMU after this long.
    pub timeout: Duration,
    /// Ports of 127.0.0.1 QEMU forwards to the same ports of dom0 (10.0.2.15).
    pub forwards: Vec<u16>,
    /// Checks the host runs when dom0 asks (guest, step, check).
    pub host_steps: Vec<(String, String, plan::HostCheck)>,
    /// Host files given to dom0 as drives (after the exchange disk) with serial
    /// `rig-disk-N`, N the index, and whether they are writable.
    pub drives: Vec<(PathBuf, bool)>,
}

/// What a boot of the machine reported.
#[derive(Debug, Default)]
pub struct Report {
    /// Seconds from QEMU's start to dom0's toolstack being up.
    pub dom0_up: Option<f64>,
    pub results_written: bool,
    /// What the host checks returned, by (guest, step).
    pub host: std::collections::BTreeMap<(String, String), Result<String, String>>,
    pub problems: Vec<String>,
    pub seconds: f64,
}

/// dom0's address on QEMU's user-mode network, where forwarded ports arrive.
pub const DOM0_UPLINK_IP: &str = "10.0.2.15";

/// QEMU's network device: none, or user-mode networking that only forwards `forwards`
/// (127.0.0.1:PORT of the host to dom0's PORT). `restrict=on` keeps dom0 from reaching
/// anything through it; forwards are bound to 127.0.0.1 so only this host reaches them.
fn nic(forwards: &[u16]) -> String {
    if forwards.is_empty() {
        return "none".into();
    }
    let mut nic = String::from("user,model=virtio-net-pci,restrict=on");
    for p in forwards {
        nic += &format!(",hostfwd=tcp:127.0.0.1:{p}-{DOM0_UPLINK_IP}:{p}");
    }
    nic
}

/// QEMU's accelerator: TCG, one host thread per vCPU (`RIG_ACCEL` overrides it).
fn accel() -> String {
    std::env::var("RIG_ACCEL").unwrap_or_else(|_| "tcg,thread=multi".into())
}

fn qemu(files: &Files, mode: &str, timeout: Duration, forwards: &[u16]) -> Command {
    let mut cmd = Command::new("qemu-system-x86_64");
    let cpu = std::env::var("RIG_CPU").unwrap_or_else(|_| CPU.to_string());
    cmd.args(["-accel", &accel(), "-machine", "q35", "-cpu", &cpu, "-smp", "2"])
        .args(["-m", "3072", "-display", "none", "-no-reboot", "-nic", &nic(forwards)])
        .arg("-kernel")
        .arg(&files.xen)
        // smep/smap off: under QEMU's emulation the PV dom0 dies at its first exception
        // otherwise (a #PF in Xen's create_bounce_frame; found by the probe that preceded
        // this harness, in the team's notes outside the repository). One dom0 vCPU: fewer moving parts while hunting the AVX
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
    // For hunting emulator problems: e.g. RIG_QEMU_ARGS="-d int -D /tmp/qemu.log".
    if let Ok(extra) = std::env::var("RIG_QEMU_ARGS") {
        cmd.args(extra.split_whitespace());
    }
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
        let mut cmd = qemu(files, "shell", how.timeout, &how.forwards);
        cmd.args(["-serial", "mon:stdio"]);
        if let Some(disk) = &how.exchange {
            attach(&mut cmd, disk);
        }
        eprintln!("rig: booting Xen and dom0 (about a minute); Ctrl-A X quits QEMU");
        util::run(&mut cmd)?;
        return Ok(Report::default());
    }
    let exchange = how.exchange.as_ref().context("a plan needs an exchange disk")?;
    for &p in &how.forwards {
        // QEMU would fail with a terse message; say which port and what to do.
        std::net::TcpListener::bind(("127.0.0.1", p)).with_context(|| {
            format!("127.0.0.1:{p} is taken on this host: forward another port")
        })?;
    }
    let mut cmd = qemu(files, "plan", how.timeout, &how.forwards);
    cmd.args(["-serial", "stdio", "-monitor", "none"]);
    attach(&mut cmd, exchange);
    for (i, (file, writable)) in how.drives.iter().enumerate() {
        // cache=writeback: the guest's flush reaches the file as an fsync.
        let ro = if *writable { "off" } else { "on" };
        cmd.arg("-drive")
            .arg(format!(
                "file={},format=raw,if=none,id=disk{i},readonly={ro},cache=writeback",
                file.display()
            ))
            .args(["-device", &format!("virtio-blk-pci,drive=disk{i},serial=rig-disk-{i}")]);
    }
    // The serial input carries the host's answers to dom0's host steps.
    let stdin = if how.host_steps.is_empty() { Stdio::null() } else { Stdio::piped() };
    cmd.stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let _running = crate::interrupt::MachineRunning::start();
    let mut child =
        cmd.spawn().context("could not start qemu-system-x86_64 (package qemu-system-x86)")?;
    let mut interrupted_at: Option<Instant> = None;
    let stdout = child.stdout.take().unwrap();
    let serial_in = std::sync::Arc::new(std::sync::Mutex::new(child.stdin.take()));
    let host_results = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut host_threads = Vec::new();
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
                    } else if let Some(step) = msg.strip_prefix("host ") {
                        host_threads.push(host_step(how, step, &serial_in, &host_results));
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
        // Ctrl-C: QEMU got it too and is ending; one that has not within 10 s is killed.
        if crate::interrupt::interrupted()
            && interrupted_at.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(10)
        {
            child.kill()?;
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
    if crate::interrupt::interrupted() {
        eprintln!("rig: stopped by Ctrl-C after {:.1} s", start.elapsed().as_secs_f64());
        std::process::exit(crate::interrupt::EXIT_STATUS);
    }
    report.seconds = start.elapsed().as_secs_f64();
    for t in host_threads.into_iter().flatten() {
        if t.is_finished() {
            let _ = t.join();
        }
    }
    for (guest, step, result) in host_results.lock().unwrap().drain(..) {
        report.host.insert((guest, step), result);
    }
    for (guest, step, _) in &how.host_steps {
        report
            .host
            .entry((guest.clone(), step.clone()))
            .or_insert_with(|| Err("did not finish while the machine ran".into()));
    }
    Ok(report)
}

type HostResults = std::sync::Arc<std::sync::Mutex<Vec<(String, String, Result<String, String>)>>>;

/// Runs the host check dom0 asked for ("GUEST STEP") in a thread of its own; when it is
/// done, stores its result and tells dom0 on the serial input ("host-done GUEST STEP").
fn host_step(
    how: &Boot,
    asked: &str,
    serial_in: &std::sync::Arc<std::sync::Mutex<Option<std::process::ChildStdin>>>,
    results: &HostResults,
) -> Option<std::thread::JoinHandle<()>> {
    let (guest, step) = asked.trim().split_once(' ')?;
    let (guest, step) = (guest.to_string(), step.to_string());
    let check = how.host_steps.iter().find(|(g, s, _)| *g == guest && *s == step);
    let check = check.map(|(_, _, c)| c.clone());
    let (serial_in, results) = (serial_in.clone(), results.clone());
    Some(std::thread::spawn(move || {
        let result = match check {
            Some(c) => (c.0)(),
            None => Err(format!("no host check named {step} for guest {guest}")),
        };
        results.lock().unwrap().push((guest.clone(), step.clone(), result));
        if let Some(stdin) = serial_in.lock().unwrap().as_mut() {
            let _ = writeln!(stdin, "host-done {guest} {step}").and_then(|_| stdin.flush());
        }
    }))
}

/// A port of 127.0.0.1 that nothing listens on now (for a [`plan::Forward`]).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One HTTP/1.1 GET of `path` from `127.0.0.1:port` (`Connection: close`), retried until
/// `within` has passed while the connection fails or is cut before an answer (the guest
/// may not listen yet): the status code and the body.
pub fn http_get(port: u16, path: &str, within: Duration) -> Result<(u16, String), String> {
    use std::io::Read;
    let start = Instant::now();
    let once = || -> std::io::Result<Vec<u8>> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer)?;
        Ok(answer)
    };
    loop {
        let err = match once() {
            Ok(a) if !a.is_empty() => {
                let text = String::from_utf8_lossy(&a).into_owned();
                let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
                let status = head.split(' ').nth(1).and_then(|c| c.parse().ok());
                return match status {
                    Some(code) => Ok((code, body.to_string())),
                    None => Err(format!("not an HTTP answer: {head:?}")),
                };
            }
            Ok(_) => "connection closed without an answer".to_string(),
            Err(e) => e.to_string(),
        };
        if start.elapsed() >= within {
            return Err(format!("GET http://127.0.0.1:{port}{path}: {err}"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Runs `plan` in a fresh boot of the machine; results land in `target/rig/run/out`.
pub fn run_plan(plan: &plan::Plan, timeout: Duration) -> Result<(Report, PathBuf)> {
    run_plan_in("run", plan, timeout)
}

/// [`run_plan`] with its files in `target/rig/<name>` (so that, say, `cargo xtask run`
/// does not replace the last test run's results).
pub fn run_plan_in(name: &str, plan: &plan::Plan, timeout: Duration) -> Result<(Report, PathBuf)> {
    let _lock = lock()?;
    let files = build()?;
    let run = dir().join(name);
    let _ = std::fs::remove_dir_all(&run);
    let work = run.join("work");
    let out = run.join("out");
    std::fs::create_dir_all(&work)?;
    std::fs::create_dir_all(&out)?;
    let staged = plan.stage()?;
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
    let how = Boot {
        exchange: Some(exchange.clone()),
        shell: false,
        timeout,
        forwards: staged.forwards,
        host_steps: staged.host_steps,
        drives: staged.drives,
    };
    let report = boot(&files, &how, &run.join("serial.log"))?;
    if report.results_written {
        util::run(Command::new("tar").arg("-xf").arg(&exchange).arg("-C").arg(&out))?;
        // The host checks' results beside dom0's, for GuestResult.
        for ((guest, step), result) in &report.host {
            let dir = out.join(guest);
            if dir.is_dir() {
                let (rc, text) = match result {
                    Ok(t) => (0, t),
                    Err(t) => (1, t),
                };
                std::fs::write(dir.join(format!("host-{step}.out")), text)?;
                std::fs::write(dir.join(format!("host-{step}.rc")), format!("{rc}\n"))?;
            }
        }
        if !out.join(".complete").exists() {
            bail!(
                "dom0 wrote no complete results (serial log: {})",
                run.join("serial.log").display()
            );
        }
    }
    Ok((report, out))
}
