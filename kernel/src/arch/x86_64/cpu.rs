//! Thin wrappers around single x86 instructions.

use core::arch::asm;

/// `cpuid` for `leaf`/`subleaf`: (eax, ebx, ecx, edx).
pub fn cpuid(leaf: u32, subleaf: u32) -> (u32, u32, u32, u32) {
    let r = core::arch::x86_64::__cpuid_count(leaf, subleaf);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// Reads the time-stamp counter (`rdtsc`; not `rdtscp`, which Xen under QEMU's emulated SVM
/// cannot decode).
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads the TSC; CR4.TSD is clear, so it is allowed at CPL 0.
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Writes a model-specific register.
///
/// # Safety
/// The caller must know what writing `value` to `msr` does to the machine.
pub unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: the caller vouches for the effect of the write.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32,
             options(nostack))
    };
}

/// Writes a byte to an I/O port.
///
/// # Safety
/// The caller must know which device sits at `port` and what the write does.
pub unsafe fn outb(port: u16, value: u8) {
    // SAFETY: the caller vouches for the device at `port`.
    unsafe { asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack)) };
}

/// Writes a 32-bit value to an I/O port.
///
/// # Safety
/// As for [`outb`].
pub unsafe fn outl(port: u16, value: u32) {
    // SAFETY: the caller vouches for the device at `port`.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack)) };
}

/// The faulting address of the last page fault.
pub fn read_cr2() -> u64 {
    let v: u64;
    // SAFETY: reading CR2 has no side effect.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack)) };
    v
}

/// The current frame pointer (the image is built with frame pointers).
pub fn read_rbp() -> u64 {
    let v: u64;
    // SAFETY: copying rbp has no side effect.
    unsafe { asm!("mov {}, rbp", out(reg) v, options(nomem, nostack)) };
    v
}

/// Enables SSE: CR0.MP set, CR0.EM clear, CR4.OSFXSR | OSXMMEXCPT. The image is compiled
/// for the soft-float ABI, so the runtime itself never touches XMM state (interrupt entry
/// needs no FPU save); this lets application code opt into SSE with `#[target_feature]`.
pub fn enable_sse() {
    // SAFETY: only the FPU/SSE control bits change; every x86_64 CPU has SSE2.
    unsafe {
        asm!(
            "mov {t}, cr0",
            "and {t}, ~(1 << 2)",
            "or {t}, (1 << 1)",
            "mov cr0, {t}",
            "mov {t}, cr4",
            "or {t}, (1 << 9) | (1 << 10)",
            "mov cr4, {t}",
            t = out(reg) _,
            options(nomem, nostack)
        )
    };
}

/// Lets interrupts (Xen's event upcall) in. Also a compiler barrier (no `nomem`): memory
/// accesses meant to happen with interrupts off are not moved past it.
pub fn enable_interrupts() {
    // SAFETY: the IDT is loaded and every vector that can arrive has a handler.
    unsafe { asm!("sti", options(nostack)) };
}

/// Keeps interrupts out. A compiler barrier too, as [`enable_interrupts`].
pub fn disable_interrupts() {
    // SAFETY: only masks maskable interrupts.
    unsafe { asm!("cli", options(nostack)) };
}

/// Whether interrupts are enabled (RFLAGS.IF).
pub fn interrupts_enabled() -> bool {
    let flags: u64;
    // SAFETY: reads RFLAGS through the stack; no other effect.
    unsafe { asm!("pushfq", "pop {}", out(reg) flags, options(nomem, preserves_flags)) };
    flags & (1 << 9) != 0
}

/// Runs `f` with interrupts disabled, restoring their state afterwards: for data shared
/// with the event upcall.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    let were = interrupts_enabled();
    disable_interrupts();
    let r = f();
    if were {
        enable_interrupts();
    }
    r
}

/// Stops this CPU for good: interrupts off, `hlt` forever.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: with interrupts disabled, hlt only stops the CPU; nothing else depends on it.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}
