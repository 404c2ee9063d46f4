//! Ctrl-C. A terminal sends SIGINT to the whole process group: xtask, cargo and QEMU. Most
//! commands simply end, as by default. While the emulated machine runs, xtask instead waits
//! for QEMU to end (it got the signal too), so the command returns only once the machine,
//! and the host ports its forwards hold, are gone.

use std::sync::atomic::{AtomicBool, Ordering};

static MACHINE: AtomicBool = AtomicBool::new(false);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The exit status of a command ended by SIGINT, as a shell reports it.
pub const EXIT_STATUS: i32 = 130;

pub fn install() {
    let handler = || {
        INTERRUPTED.store(true, Ordering::SeqCst);
        if !MACHINE.load(Ordering::SeqCst) {
            std::process::exit(EXIT_STATUS);
        }
    };
    if let Err(e) = ctrlc::set_handler(handler) {
        eprintln!("warning: Ctrl-C handler not installed ({e}); Ctrl-C may leave QEMU behind");
    }
}

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// While this lives, Ctrl-C only sets [`interrupted`]; the machine's loop ends QEMU.
pub struct MachineRunning(());

impl MachineRunning {
    pub fn start() -> Self {
        MACHINE.store(true, Ordering::SeqCst);
        MachineRunning(())
    }
}

impl Drop for MachineRunning {
    fn drop(&mut self) {
        MACHINE.store(false, Ordering::SeqCst);
    }
}
