//! Deliberate faults, for the runtime's crash tests only (feature `selftest`): each proves
//! that a protection holds and that the fault is reported.

/// An address that is canonical but above any RAM a guest has, so never mapped.
const UNMAPPED: u64 = 0x0000_7ead_beef_0000;

/// Reads from an address that is never mapped: a page fault, reported, ends the domain.
pub fn read_unmapped() -> u64 {
    // SAFETY: UNMAPPED is outside every range the page tables map (RAM, the image and the
    // shared rings, all far below it), so the read faults and the trap handler ends the
    // domain; nothing is read. Volatile, so that the read happens.
    unsafe { core::ptr::read_volatile(UNMAPPED as *const u64) }
}

/// Reads from page 0, which is left unmapped: a null-pointer fault, reported.
pub fn read_page_zero() -> u64 {
    // SAFETY: paging::init maps no part of page 0, so the read faults and ends the domain.
    unsafe { core::ptr::read_volatile(core::ptr::without_provenance::<u64>(8)) }
}

/// Writes into the image's text, which must be mapped read-only.
pub fn write_text() {
    let target = write_text as *const () as u64;
    // SAFETY: the text is mapped read-only, so the write faults and ends the domain. Were it
    // writable (the bug this finds), the one byte written is this function's own first byte,
    // already executed; the caller reports the failure and ends the domain.
    unsafe { core::ptr::write_volatile(target as *mut u8, 0xcc) };
}

/// Writes into the root page table, which must be mapped read-only.
pub fn write_page_table() {
    let root = super::paging::root();
    // SAFETY: the tables are mapped read-only, so the write faults; were the table writable, the value
    // written is the entry that is already there (PML4[511], unused: 0), so nothing changes
    // and the caller reports the failure.
    unsafe { core::ptr::write_volatile((root + 511 * 8) as *mut u64, 0) };
}

/// Jumps into a data page, which must be mapped no-execute.
pub fn execute_data() {
    // A `ret` instruction.
    static RET: [u8; 1] = [0xc3];
    // SAFETY: rodata is mapped no-execute, so the fetch faults; were it executable, the
    // `ret` would return here and the caller reports that as a failure.
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
