//! Hypercalls through the hypercall page. Xen writes one stub per hypercall (32 bytes each)
//! into a page we give it by MSR; each stub loads the number and executes VMMCALL or VMCALL,
//! whichever this CPU has. x86_64 argument registers: rdi, rsi, rdx, r10, r8; result in rax.

use crate::arch::cpu;
use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

core::arch::global_asm!(
    ".pushsection .text.hypercall_page, \"ax\"",
    ".balign 4096",
    ".global hypercall_page",
    "hypercall_page:",
    ".fill 4096, 1, 0xcc", // int3 until Xen fills it in
    ".popsection",
);

extern "C" {
    static hypercall_page: u8;
}

static READY: AtomicBool = AtomicBool::new(false);

/// Hypercalls made since boot: each is a VM exit, the cost that boot and I/O paths count.
static CALLS: AtomicU64 = AtomicU64::new(0);

/// How many hypercalls the guest has made since boot.
pub fn calls() -> u64 {
    CALLS.load(Ordering::Relaxed)
}

/// Asks Xen to fill in the hypercall page, through the MSR that CPUID leaf base+2 named.
pub fn install(msr: u32) {
    let page = (&raw const hypercall_page) as u64;
    // SAFETY: writing the page's physical address (identity-mapped) to Xen's hypercall MSR
    // only makes Xen write the stubs into that page, which is reserved for them in .text.
    unsafe { cpu::wrmsr(msr, page) };
    READY.store(true, Ordering::Release);
}

/// Whether hypercalls can be made (Xen was found and the page installed).
pub fn ready() -> bool {
    READY.load(Ordering::Acquire)
}

/// Makes hypercall `op` with up to five arguments, returning Xen's result (negative errno on
/// failure).
///
/// # Safety
/// The arguments must be what hypercall `op` expects; pointer arguments must point to valid
/// memory of the right type for the whole call.
pub unsafe fn hypercall(op: usize, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
    debug_assert!(ready() && op < 128);
    CALLS.fetch_add(1, Ordering::Relaxed);
    let entry = (&raw const hypercall_page) as u64 + op as u64 * 32;
    let ret: i64;
    // SAFETY: `entry` is the stub Xen wrote for `op`; the caller vouches for the arguments.
    // The stub may clobber the argument registers, rcx and r11; memory may change.
    unsafe {
        asm!(
            "call {entry}",
            entry = in(reg) entry,
            inlateout("rdi") a1 => _,
            inlateout("rsi") a2 => _,
            inlateout("rdx") a3 => _,
            inlateout("r10") a4 => _,
            inlateout("r8") a5 => _,
            lateout("rax") ret,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    ret
}

/// A hypercall taking a command and a pointer to its argument structure.
///
/// # Safety
/// `arg` must be the structure that `op`/`cmd` expects.
pub unsafe fn hypercall_cmd<T>(op: usize, cmd: usize, arg: &mut T) -> i64 {
    // SAFETY: forwarded from the caller; `arg` is a live exclusive reference.
    unsafe { hypercall(op, cmd as u64, arg as *mut T as u64, 0, 0, 0) }
}
