//! Deliberate faults, for the runtime's crash tests only (feature `selftest`): each proves
//! that a protection holds and that the fault is reported.

/// Reads from `addr` (use an unmapped address to see a page fault report).
pub fn read_at(addr: u64) -> u64 {
    // SAFETY: not safe by design: this is the fault the test wants. The read is volatile so it
    // happens; whatever it faults on is reported by the trap handler, which ends the domain.
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

/// Writes into the image's text, which must be mapped read-only.
pub fn write_text() {
    let target = write_text as *const () as u64;
    // SAFETY: as for read_at: the write must fault; if it did not, text would be writable and
    // the caller reports that as a failure.
    unsafe { core::ptr::write_volatile(target as *mut u8, 0xcc) };
}

/// Writes into the root page table, which must be mapped read-only.
pub fn write_page_table() {
    let root = super::paging::root();
    // SAFETY: as for read_at: the write must fault; were the table writable, the value
    // written is the entry that is already there (PML4[511], unused: 0), so nothing changes
    // and the caller reports the failure.
    unsafe { core::ptr::write_volatile((root + 511 * 8) as *mut u64, 0) };
}

/// Jumps into a data page, which must be mapped no-execute.
pub fn execute_data() {
    static RET: [u8; 1] = [0xc3]; // ret
                                  // SAFETY: as for read_at: the fetch must fault; were rodata executable, the `ret` would
                                  // return here and the caller reports that as a failure.
    unsafe {
        let f: extern "C" fn() = core::mem::transmute(RET.as_ptr());
        f();
    }
}

/// Triple-faults: with an empty IDT no exception can be delivered, so the breakpoint
/// becomes #GP, then #DF, then a shutdown (under Xen, whatever HVM_PARAM_TRIPLE_FAULT_REASON
/// says; the test harness makes it a crash).
pub fn triple_fault() -> ! {
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let empty = Pointer { limit: 0, base: 0 };
    // SAFETY: not safe by design: this is the fault the test wants; nothing runs after it.
    unsafe { core::arch::asm!("cli", "lidt [{}]", "int3", in(reg) &empty, options(noreturn)) }
}

/// Recurses until the boot stack's guard page is hit.
#[allow(unconditional_recursion)]
pub fn overflow_stack(depth: u64) -> u64 {
    let pad = [depth; 64];
    core::hint::black_box(&pad);
    overflow_stack(depth + 1) + core::hint::black_box(pad[3])
}

/// Idles for good without using the CPU: SCHEDOP_block under Xen, `hlt` without.
pub fn idle_forever() -> ! {
    if crate::xen::present() {
        loop {
            crate::xen::sched::block();
        }
    }
    super::cpu::halt_forever()
}
