//! The IDT and the handling of CPU exceptions. Every exception is fatal in this runtime (no
//! demand paging, no signals): the handler prints what happened, the registers and a
//! backtrace, then shuts the domain down as crashed.

use super::{cpu, gdt, paging};
use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};

core::arch::global_asm!(
    include_str!("traps.S"),
    trap_handler = sym trap_handler,
    upcall_handler = sym crate::xen::event::upcall,
    options(att_syntax)
);

extern "C" {
    /// Entry stub addresses for vectors 0..32, from `traps.S`.
    static trap_stubs: [u64; 32];
    /// Entry of Xen's event upcall vector, from `traps.S`.
    fn upcall_stub();
}

/// The IDT vector Xen delivers event-channel upcalls on.
pub const UPCALL_VECTOR: u8 = 0xf3;

/// What the stubs in `traps.S` leave on the stack, lowest address first.
#[repr(C)]
#[derive(Debug)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

const EMPTY_GATE: Gate = Gate {
    offset_low: 0,
    selector: 0,
    ist: 0,
    type_attr: 0,
    offset_mid: 0,
    offset_high: 0,
    reserved: 0,
};

/// Read-only once the runtime's page tables are loaded (see `.bss.protected` in pvh.ld).
#[link_section = ".bss.protected.idt"]
static mut IDT: [Gate; 256] = [EMPTY_GATE; 256];

/// A present, DPL 0 interrupt gate to `handler` (an entry stub).
fn gate(handler: u64, ist: u8) -> Gate {
    Gate {
        offset_low: handler as u16,
        selector: gdt::KERNEL_CS,
        ist,
        type_attr: 0x8e,
        offset_mid: (handler >> 16) as u16,
        offset_high: (handler >> 32) as u32,
        reserved: 0,
    }
}

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u64,
}

pub fn init() {
    // SAFETY: runs once on the only CPU before interrupts are enabled, so nothing else uses
    // the IDT; the stubs are the entry points of traps.S, which build a TrapFrame and return
    // with iretq; the IDT is a static that lives for the whole run.
    unsafe {
        let idt = (&raw mut IDT).cast::<Gate>();
        let stubs = (&raw const trap_stubs).read();
        for (vector, stub) in stubs.into_iter().enumerate() {
            let ist = match vector {
                2 | 8 | 18 => gdt::IST_FATAL,
                14 => gdt::IST_PAGE_FAULT,
                _ => 0,
            };
            idt.add(vector).write(gate(stub, ist));
        }
        idt.add(UPCALL_VECTOR as usize).write(gate(upcall_stub as *const () as u64, 0));
        let ptr = Pointer { limit: (size_of::<[Gate; 256]>() - 1) as u16, base: idt as u64 };
        asm!("lidt [{}]", in(reg) &ptr, options(readonly, nostack));
    }
}

const NAMES: [&str; 32] = [
    "divide error (#DE)",
    "debug (#DB)",
    "non-maskable interrupt (NMI)",
    "breakpoint (#BP)",
    "overflow (#OF)",
    "bound range exceeded (#BR)",
    "invalid opcode (#UD)",
    "device not available (#NM)",
    "double fault (#DF)",
    "coprocessor segment overrun",
    "invalid TSS (#TS)",
    "segment not present (#NP)",
    "stack-segment fault (#SS)",
    "general protection fault (#GP)",
    "page fault (#PF)",
    "reserved vector 15",
    "x87 floating-point exception (#MF)",
    "alignment check (#AC)",
    "machine check (#MC)",
    "SIMD floating-point exception (#XM)",
    "virtualization exception (#VE)",
    "control protection exception (#CP)",
    "reserved vector 22",
    "reserved vector 23",
    "reserved vector 24",
    "reserved vector 25",
    "reserved vector 26",
    "reserved vector 27",
    "hypervisor injection exception (#HV)",
    "VMM communication exception (#VC)",
    "security exception (#SX)",
    "reserved vector 31",
];

static IN_TRAP: AtomicBool = AtomicBool::new(false);

extern "C" fn trap_handler(frame: &TrapFrame) {
    use crate::console::emergency as say;
    if IN_TRAP.swap(true, Ordering::SeqCst) {
        say(format_args!("\nnested CPU exception, vector {}\n", frame.vector));
        crate::runtime::crash();
    }
    let vector = frame.vector as usize;
    let name = NAMES.get(vector).copied().unwrap_or("unknown vector");
    say(format_args!("\n*** CPU exception: {name}, vector {vector} ***\n"));
    if vector == 14 {
        let addr = cpu::read_cr2();
        let e = frame.error_code;
        let what = if e & 1 == 0 { "not present" } else { "protection violation" };
        let access = match (e & 2 != 0, e & 16 != 0) {
            (true, _) => "write",
            (false, true) => "instruction fetch",
            (false, false) => "read",
        };
        say(format_args!("page fault at address {addr:#018x}: {what}, {access}\n"));
        if paging::is_stack_guard(addr) {
            say(format_args!("(that is the boot stack's guard page: stack overflow)\n"));
        }
        if paging::is_protected(addr) {
            say(format_args!("(that is the CPU's tables or the page tables: read-only)\n"));
        }
    }
    dump(frame);
    crate::runtime::crash();
}

fn dump(f: &TrapFrame) {
    use crate::console::emergency as say;
    say(format_args!(
        "rip {:#018x}  rsp {:#018x}  rflags {:#010x}  error {:#x}\n",
        f.rip, f.rsp, f.rflags, f.error_code
    ));
    say(format_args!("rax {:#018x}  rbx {:#018x}  rcx {:#018x}\n", f.rax, f.rbx, f.rcx));
    say(format_args!("rdx {:#018x}  rsi {:#018x}  rdi {:#018x}\n", f.rdx, f.rsi, f.rdi));
    say(format_args!("rbp {:#018x}  r8  {:#018x}  r9  {:#018x}\n", f.rbp, f.r8, f.r9));
    say(format_args!("r10 {:#018x}  r11 {:#018x}  r12 {:#018x}\n", f.r10, f.r11, f.r12));
    say(format_args!("r13 {:#018x}  r14 {:#018x}  r15 {:#018x}\n", f.r13, f.r14, f.r15));
    say(format_args!("cs {:#x}  ss {:#x}\n", f.cs, f.ss));
    backtrace(f.rbp);
}

/// Prints return addresses by walking frame pointers, following a frame only while it
/// stays inside the boot stack (so a corrupt rbp cannot fault here).
pub fn backtrace(mut rbp: u64) {
    crate::console::emergency(format_args!("backtrace:"));
    for _ in 0..32 {
        if !rbp.is_multiple_of(8) || !paging::on_boot_stack(rbp, 16) {
            break;
        }
        // SAFETY: rbp is 8-aligned and [rbp, rbp + 16) lies on the mapped boot stack, so both
        // words can be read; their values are only printed or range-checked.
        let (next, ret) = unsafe { (*(rbp as *const u64), *((rbp + 8) as *const u64)) };
        crate::console::emergency(format_args!(" {ret:#x}"));
        rbp = next;
    }
    crate::console::emergency(format_args!("\n"));
}
