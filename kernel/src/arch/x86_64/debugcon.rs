//! The debug port 0xe9: QEMU's `-debugcon`, and under Xen the guest's line in Xen's own log
//! (`(dN) ...`, shown with `guest_loglvl=all`). Used before the PV console is up, without
//! Xen, and for crash reports.

use super::cpu;

const PORT: u16 = 0xe9;
/// QEMU's `isa-debug-exit` device, configured by the test harness at this port.
const EXIT_PORT: u16 = 0xf4;

/// Writes `bytes` to the debug port.
pub fn write(bytes: &[u8]) {
    for &b in bytes {
        // SAFETY: port 0xe9 is the debug console (QEMU debugcon, Xen's HVM debug port);
        // where nothing listens, the write is ignored.
        unsafe { cpu::outb(PORT, b) };
    }
}

/// Asks QEMU's `isa-debug-exit` device to end QEMU with status `(code << 1) | 1`.
/// Returns if there is no such device.
pub fn qemu_exit(code: u32) {
    // SAFETY: without Xen, port 0xf4 is isa-debug-exit or nothing; writing it either ends
    // QEMU or is ignored.
    unsafe { cpu::outl(EXIT_PORT, code) };
}
