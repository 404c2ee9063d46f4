//! Booting an image under plain QEMU (no Xen): the PVH note is honoured by QEMU's `-kernel`,
//! output comes from the debug port 0xe9 and the guest ends QEMU through `isa-debug-exit`.

use anyhow::{Context, Result};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How the guest ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Poweroff,
    Crash,
    Reboot,
    /// The runtime refused the command line (`kernel::config::EXIT_BAD_CONFIG`, 78).
    BadConfig,
    /// QEMU ended some other way (its own error, or a triple fault with -no-reboot).
    Other(Option<i32>),
    TimedOut,
}

impl Exit {
    /// The runtime writes 0 (poweroff, and after `--help`), 1 (crash), 2 (reboot) or 78 (a
    /// command line its keys refuse) to isa-debug-exit, which ends QEMU with status
    /// (value << 1) | 1.
    fn from_status(code: Option<i32>) -> Exit {
        match code {
            Some(1) => Exit::Poweroff,
            Some(3) => Exit::Crash,
            Some(5) => Exit::Reboot,
            Some(157) => Exit::BadConfig,
            other => Exit::Other(other),
        }
    }
}

#[derive(Debug)]
pub struct Run {
    pub output: String,
    pub exit: Exit,
}

/// Boots `image` with `cmdline`, killing QEMU after `timeout`.
pub fn boot(image: &Path, cmdline: &str, timeout: Duration) -> Result<Run> {
    let start = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-machine", "q35", "-cpu", "max", "-m", "256", "-smp", "1"])
        .args(["-display", "none", "-serial", "none", "-monitor", "none", "-nic", "none"])
        .args(["-no-reboot", "-debugcon", "stdio"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=4"])
        .arg("-kernel")
        .arg(image)
        .args(["-append", cmdline])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("could not start qemu-system-x86_64 (Debian package qemu-system-x86)")?;
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        let _ = stderr.read_to_end(&mut out);
        out
    });
    let exit = loop {
        if let Some(status) = child.try_wait()? {
            break Exit::from_status(status.code());
        }
        if start.elapsed() > timeout {
            child.kill()?;
            child.wait()?;
            break Exit::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    Ok(Run { output, exit })
}
