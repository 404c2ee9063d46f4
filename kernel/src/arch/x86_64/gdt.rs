//! The runtime's GDT: flat 64-bit code and data segments and a TSS whose interrupt stack
//! table gives the fatal traps their own stacks, so that a stack overflow (a fault on the
//! boot stack's guard page) is still reported instead of triple-faulting.

use super::paging;
use core::arch::asm;

pub const KERNEL_CS: u16 = 0x08;
const KERNEL_DS: u16 = 0x10;
const TSS_SEL: u16 = 0x18;

/// IST slot (1-based) for #DF, NMI and #MC.
pub const IST_FATAL: u8 = 1;
/// IST slot for #PF, which can be a stack overflow.
pub const IST_PAGE_FAULT: u8 = 2;

/// The 64-bit TSS (Intel SDM vol. 3, 8.7): only the IST entries are used.
#[repr(C, packed(4))]
struct Tss {
    reserved0: u32,
    rsp: [u64; 3],
    reserved1: u64,
    ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    iomap_base: u16,
}

/// Filled in by [`init`]; zero until then, as everything in `.bss.protected` (read-only
/// once the runtime's page tables are loaded).
#[link_section = ".bss.protected.tss"]
static mut TSS: Tss = Tss {
    reserved0: 0,
    rsp: [0; 3],
    reserved1: 0,
    ist: [0; 7],
    reserved2: 0,
    reserved3: 0,
    iomap_base: 0,
};

/// null, code, data, TSS (two slots), filled in by [`init`].
#[link_section = ".bss.protected.gdt"]
static mut GDT: [u64; 5] = [0; 5];

/// Flat 64-bit code and data descriptors. Accessed bits preset so the CPU never writes
/// them (the GDT is read-only after boot).
const CODE: u64 = 0x00af_9b00_0000_ffff;
const DATA: u64 = 0x00cf_9300_0000_ffff;

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u64,
}

pub fn init() {
    // SAFETY: runs once on the only CPU before interrupts are enabled, so nothing else
    // reads or writes these statics; the descriptors written are valid 64-bit descriptors
    // for memory that lives for the whole run, and the segment reload keeps the same flat
    // code/data layout as the boot GDT.
    unsafe {
        let tss = &raw mut TSS;
        (*tss).iomap_base = size_of::<Tss>() as u16;
        // The stacks are the linker script's, each below a guard page (paging.rs).
        for (slot, stack) in [IST_FATAL, IST_PAGE_FAULT].into_iter().zip(paging::ist_stacks()) {
            (*tss).ist[slot as usize - 1] = stack.end;
        }
        let base = tss as u64;
        let limit = size_of::<Tss>() as u64 - 1;
        let gdt = &raw mut GDT;
        (*gdt)[1] = CODE;
        (*gdt)[2] = DATA;
        // Available 64-bit TSS (type 9), present.
        (*gdt)[3] = (limit & 0xffff)
            | ((base & 0xff_ffff) << 16)
            | (0x89 << 40)
            | (((limit >> 16) & 0xf) << 48)
            | (((base >> 24) & 0xff) << 56);
        (*gdt)[4] = base >> 32;
        let ptr = Pointer { limit: (size_of::<[u64; 5]>() - 1) as u16, base: gdt as u64 };
        asm!(
            "lgdt [{ptr}]",
            "push {cs}",
            "lea {t}, [rip + 2f]",
            "push {t}",
            "retfq",
            "2:",
            "mov ds, {ds:e}",
            "mov es, {ds:e}",
            "mov ss, {ds:e}",
            "ltr {tss:x}",
            ptr = in(reg) &ptr,
            cs = const KERNEL_CS,
            ds = in(reg) u32::from(KERNEL_DS),
            tss = in(reg) TSS_SEL,
            t = out(reg) _,
        );
    }
}
