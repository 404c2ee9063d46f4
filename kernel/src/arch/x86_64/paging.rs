//! The runtime's page tables: an identity map (virtual == physical) of the image and of RAM,
//! with the image's sections mapped by what they hold (text read+execute, rodata read-only,
//! data/bss/stack read+write, never executable), page 0 and the stack's guard page left out,
//! and everything else no-execute. The boot tables (`boot.S`, 4 GiB RWX) are dropped at
//! [`init`].

use core::arch::asm;
use core::ops::Range;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const HUGE: u64 = 1 << 7;
const NO_EXEC: u64 = 1 << 63;
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

pub const PAGE_SIZE: u64 = 4096;
const HUGE_SIZE: u64 = 2 << 20;

/// How a range may be accessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadExec,
    Read,
    ReadWrite,
}

impl Access {
    fn bits(self) -> u64 {
        match self {
            Access::ReadExec => PRESENT,
            Access::Read => PRESENT | NO_EXEC,
            Access::ReadWrite => PRESENT | WRITABLE | NO_EXEC,
        }
    }
}

extern "C" {
    static __image_start: u8;
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __protected_start: u8;
    static __protected_end: u8;
    static __data_end: u8;
    static __stack_guard: u8;
    static __boot_stack_bottom: u8;
    static __boot_stack_top: u8;
    static __ist_fatal_bottom: u8;
    static __ist_fatal_top: u8;
    static __ist_page_fault_bottom: u8;
    static __ist_page_fault_top: u8;
    static __image_end: u8;
}

macro_rules! addr {
    ($sym:ident) => {
        (&raw const $sym) as u64
    };
}

/// The image's pieces, from the symbols of `linker/pvh.ld`.
pub fn image() -> Range<u64> {
    addr!(__image_start)..addr!(__image_end)
}

fn boot_stack() -> Range<u64> {
    addr!(__boot_stack_bottom)..addr!(__boot_stack_top)
}

/// Whether `[addr, addr + len)` lies on the boot stack.
pub fn on_boot_stack(addr: u64, len: u64) -> bool {
    let s = boot_stack();
    addr >= s.start && addr.checked_add(len).is_some_and(|end| end <= s.end)
}

/// The interrupt stacks (IST) of the fatal traps and of #PF, each with an unmapped guard
/// page below it.
pub fn ist_stacks() -> [Range<u64>; 2] {
    [
        addr!(__ist_fatal_bottom)..addr!(__ist_fatal_top),
        addr!(__ist_page_fault_bottom)..addr!(__ist_page_fault_top),
    ]
}

/// Whether `addr` is in an unmapped guard page below the boot stack or an IST stack.
pub fn is_stack_guard(addr: u64) -> bool {
    (addr!(__stack_guard)..addr!(__boot_stack_bottom)).contains(&addr)
        || ist_stacks().iter().any(|s| (s.start - PAGE_SIZE..s.start).contains(&addr))
}

#[repr(C, align(4096))]
struct Table([u64; 512]);

/// Physical address of the PML4 in use once [`init`] has run.
static ROOT: AtomicU64 = AtomicU64::new(0);

/// Page-table pages in the image's read-only-after-boot area: enough for the image, a few
/// GiB of RAM and Xen's special pages; beyond them, tables come from the heap (and stay
/// writable).
const POOL_PAGES: usize = 16;

#[link_section = ".bss.protected.page_tables"]
static mut POOL: [Table; POOL_PAGES] = [const { Table([0; 512]) }; POOL_PAGES];
static POOL_USED: AtomicUsize = AtomicUsize::new(0);

/// A zeroed page-table page: from the pool, else from the heap. While the boot tables are
/// live, the heap only holds memory below 4 GiB, which they map.
fn new_table() -> u64 {
    let n = POOL_USED.fetch_add(1, Ordering::Relaxed);
    if n < POOL_PAGES {
        // SAFETY: each pool index is handed out once (fetch_add); the page is zeroed .bss.
        return unsafe { (&raw mut POOL).cast::<Table>().add(n) } as u64;
    }
    let table = alloc::boxed::Box::new(Table([0; 512]));
    alloc::boxed::Box::into_raw(table) as u64
}

/// Runs `f`, which writes our page tables or CPU tables, with CR0.WP clear (supervisor
/// writes then ignore read-only mappings) and interrupts off; both restored after.
fn with_protected_writable<R>(f: impl FnOnce() -> R) -> R {
    super::cpu::without_interrupts(|| {
        const WP: u64 = 1 << 16;
        let cr0: u64;
        // SAFETY: reading CR0 has no side effect.
        unsafe { asm!("mov {}, cr0", out(reg) cr0, options(nomem, nostack)) };
        // SAFETY: clearing WP only lets this CPU's supervisor writes through read-only
        // mappings, for the duration of `f`, which writes only the tables it means to.
        unsafe { asm!("mov cr0, {}", in(reg) cr0 & !WP, options(nostack)) };
        let r = f();
        // SAFETY: restores CR0 as it was.
        unsafe { asm!("mov cr0, {}", in(reg) cr0, options(nostack)) };
        r
    })
}

/// Whether `addr` is in the area that is read-only once the runtime is up (CPU tables and
/// page tables).
pub fn is_protected(addr: u64) -> bool {
    (addr!(__protected_start)..addr!(__protected_end)).contains(&addr)
}

/// The runtime's root page table (for the crash tests).
#[cfg(feature = "selftest")]
pub fn root() -> u64 {
    ROOT.load(Ordering::Relaxed)
}

/// The table that `entry` points to, made if absent; `None` if `entry` maps a 2 MiB page.
///
/// # Safety
/// `entry` must point to an entry of a live page table of ours, and the tables it leads to
/// must be mapped (identity) in the current address space.
unsafe fn next_level(entry: *mut u64) -> Option<*mut u64> {
    // SAFETY: the caller guarantees `entry` is a valid entry of one of our tables.
    unsafe {
        if *entry & HUGE != 0 {
            return None;
        }
        if *entry & PRESENT == 0 {
            *entry = new_table() | PRESENT | WRITABLE;
        }
        Some((*entry & ADDR_MASK) as *mut u64)
    }
}

/// Identity-maps the page-aligned `range` with `access`, in 2 MiB pages where the range
/// covers one whole, else 4 KiB pages. Addresses already mapped by a 2 MiB page are skipped.
///
/// # Safety
/// `root` must be our PML4, and mapping `range` must not change how memory that is in use
/// can be accessed (callers map each address once).
unsafe fn map(root: u64, range: Range<u64>, access: Access) {
    let mut a = range.start;
    while a < range.end {
        let idx = |level: u32| ((a >> (12 + 9 * level)) & 511) as usize;
        // SAFETY: `root` and every table reached from it are ours and identity-mapped
        // (heap memory below 4 GiB during init, all RAM afterwards); indices are < 512.
        unsafe {
            let pml4e = (root as *mut u64).add(idx(3));
            let Some(pdpt) = next_level(pml4e) else { unreachable!() };
            let Some(pd) = next_level(pdpt.add(idx(2))) else { unreachable!() };
            let pde = pd.add(idx(1));
            if a.is_multiple_of(HUGE_SIZE) && a + HUGE_SIZE <= range.end && *pde & PRESENT == 0 {
                *pde = a | HUGE | access.bits();
                a += HUGE_SIZE;
                continue;
            }
            // None: inside a 2 MiB page mapped earlier.
            if let Some(pt) = next_level(pde) {
                *pt.add(idx(0)) = a | access.bits();
            }
        }
        a += PAGE_SIZE;
    }
}

fn page_down(a: u64) -> u64 {
    a & !(PAGE_SIZE - 1)
}

fn page_up(a: u64) -> u64 {
    page_down(a + PAGE_SIZE - 1)
}

/// Builds the runtime's page tables for the image and the given RAM ranges and switches to
/// them. Must run after the heap holds memory (it allocates the tables there).
pub fn init(ram: impl Iterator<Item = Range<u64>>) {
    let root = new_table();
    let image = image();
    let sections = [
        (addr!(__text_start)..addr!(__text_end), Access::ReadExec),
        (addr!(__rodata_start)..addr!(__rodata_end), Access::Read),
        (addr!(__data_start)..addr!(__protected_start), Access::ReadWrite),
        // Written before CR3 is loaded below (GDT, TSS and IDT earlier, the tables now),
        // read-only from then on.
        (addr!(__protected_start)..addr!(__protected_end), Access::Read),
        (addr!(__protected_end)..addr!(__data_end), Access::ReadWrite),
        (boot_stack(), Access::ReadWrite),
        (ist_stacks()[0].clone(), Access::ReadWrite),
        (ist_stacks()[1].clone(), Access::ReadWrite),
    ];
    // SAFETY: `root` is a fresh table; the image's ranges are disjoint and page-aligned by the
    // linker script; RAM ranges have the image and page 0 cut out, so each address is mapped
    // once. Nothing uses these tables until CR3 is loaded below, and they map everything the
    // running code touches (image, stack, heap) with the rights it needs.
    unsafe {
        for (range, access) in sections {
            map(root, range, access);
        }
        for r in ram {
            let r = page_up(r.start.max(PAGE_SIZE))..page_down(r.end);
            let below = r.start..r.end.min(image.start);
            let above = r.start.max(image.end)..r.end;
            for part in [below, above] {
                if part.start < part.end {
                    map(root, part, Access::ReadWrite);
                }
            }
        }
        ROOT.store(root, Ordering::Relaxed);
        asm!("mov cr3, {}", in(reg) root, options(nostack));
    }
}

/// Maps one page outside RAM that Xen shares with us (console or xenstore ring), read+write,
/// no-execute.
pub fn map_shared_page(paddr: u64) {
    let root = ROOT.load(Ordering::Relaxed);
    assert!(root != 0, "paging not initialised");
    let page = page_down(paddr);
    // SAFETY: `root` is our live PML4 (its tables read-only, hence the WP window). The page
    // is a Xen-provided frame outside RAM and the image, so no existing mapping of in-use
    // memory changes; invlpg drops any stale entry.
    with_protected_writable(|| unsafe {
        map(root, page..page + PAGE_SIZE, Access::ReadWrite);
        asm!("invlpg [{}]", in(reg) page, options(nostack));
    });
}
