//! Xen's public interface, as Rust types: the `#[repr(C)]` structures and constants from the
//! headers of Xen 4.17 (`/usr/include/xen`, Debian's `libxen-dev`). Field names are the C
//! names so that `tests/abi_layout.rs` can compare every offset with the C compiler's.
//!
//! Only what the runtime uses is here; each item names the header that defines it.

#![allow(missing_docs, non_camel_case_types)]

pub type DomId = u16;
pub type EvtchnPort = u32;

/// `DOMID_SELF` (xen.h).
pub const DOMID_SELF: DomId = 0x7ff0;

// ---- elfnote.h
pub const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

// ---- arch-x86/hvm/start_info.h
pub const XEN_HVM_START_MAGIC_VALUE: u32 = 0x336e_c578;
pub const XEN_HVM_MEMMAP_TYPE_RAM: u32 = 1;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct hvm_start_info {
    pub magic: u32,
    pub version: u32,
    pub flags: u32,
    pub nr_modules: u32,
    pub modlist_paddr: u64,
    pub cmdline_paddr: u64,
    pub rsdp_paddr: u64,
    /// Version 1 and later.
    pub memmap_paddr: u64,
    pub memmap_entries: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct hvm_memmap_table_entry {
    pub addr: u64,
    pub size: u64,
    pub type_: u32,
    pub reserved: u32,
}

// ---- xen.h: hypercall numbers
pub const HYPERVISOR_MEMORY_OP: usize = 12;
pub const HYPERVISOR_GRANT_TABLE_OP: usize = 20;
pub const HYPERVISOR_VCPU_OP: usize = 24;
pub const HYPERVISOR_XEN_VERSION: usize = 17;
pub const HYPERVISOR_CONSOLE_IO: usize = 18;
pub const HYPERVISOR_SCHED_OP: usize = 29;
pub const HYPERVISOR_EVENT_CHANNEL_OP: usize = 32;
pub const HYPERVISOR_HVM_OP: usize = 34;

// ---- xen.h: shared_info and the per-vCPU info in it (x86_64 layout)
pub const XEN_LEGACY_MAX_VCPUS: usize = 32;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vcpu_time_info {
    pub version: u32,
    pub pad0: u32,
    pub tsc_timestamp: u64,
    pub system_time: u64,
    pub tsc_to_system_mul: u32,
    pub tsc_shift: i8,
    pub flags: u8,
    pub pad1: [u8; 2],
}

/// arch-x86/xen-x86_64.h
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct arch_vcpu_info {
    pub cr2: u64,
    pub pad: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vcpu_info {
    pub evtchn_upcall_pending: u8,
    pub evtchn_upcall_mask: u8,
    pub evtchn_pending_sel: u64,
    pub arch: arch_vcpu_info,
    pub time: vcpu_time_info,
}

/// arch-x86/xen.h
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct arch_shared_info {
    pub max_pfn: u64,
    pub pfn_to_mfn_frame_list_list: u64,
    pub nmi_reason: u64,
    pub p2m_cr3: u64,
    pub p2m_vaddr: u64,
    pub p2m_generation: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct shared_info {
    pub vcpu_info: [vcpu_info; XEN_LEGACY_MAX_VCPUS],
    pub evtchn_pending: [u64; 64],
    pub evtchn_mask: [u64; 64],
    pub wc_version: u32,
    pub wc_sec: u32,
    pub wc_nsec: u32,
    pub wc_sec_hi: u32,
    pub arch: arch_shared_info,
}

// ---- hvm/hvm_op.h, hvm/params.h
pub const HVMOP_SET_PARAM: usize = 0;
pub const HVMOP_GET_PARAM: usize = 1;
pub const HVM_PARAM_CALLBACK_IRQ: u32 = 0;
pub const HVM_PARAM_STORE_PFN: u32 = 1;
pub const HVM_PARAM_STORE_EVTCHN: u32 = 2;
pub const HVM_PARAM_CONSOLE_PFN: u32 = 17;
pub const HVM_PARAM_CONSOLE_EVTCHN: u32 = 18;
/// HVM_PARAM_CALLBACK_IRQ value type: deliver events as this IDT vector (bits 0-7).
pub const HVM_PARAM_CALLBACK_TYPE_VECTOR: u64 = 2;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct xen_hvm_param {
    pub domid: DomId,
    pub pad: u16,
    pub index: u32,
    pub value: u64,
}

// ---- memory.h
pub const XENMEM_ADD_TO_PHYSMAP: usize = 7;
pub const XENMAPSPACE_SHARED_INFO: u32 = 0;
pub const XENMAPSPACE_GRANT_TABLE: u32 = 1;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct xen_add_to_physmap {
    pub domid: DomId,
    pub size: u16,
    pub space: u32,
    pub idx: u64,
    pub gpfn: u64,
}

// ---- sched.h
pub const SCHEDOP_YIELD: usize = 0;
pub const SCHEDOP_BLOCK: usize = 1;
pub const SCHEDOP_SHUTDOWN: usize = 2;
pub const SCHEDOP_POLL: usize = 3;
pub const SHUTDOWN_POWEROFF: u32 = 0;
pub const SHUTDOWN_REBOOT: u32 = 1;
/// Save/restore/migration: SCHEDOP_shutdown returns 1 if cancelled, 0 in the new domain.
pub const SHUTDOWN_SUSPEND: u32 = 2;
pub const SHUTDOWN_CRASH: u32 = 3;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct sched_shutdown {
    pub reason: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct sched_poll {
    /// Guest handle: address of an array of `nr_ports` ports.
    pub ports: u64,
    pub nr_ports: u32,
    /// Absolute system time (ns) to give up at; 0 for none.
    pub timeout: u64,
}

// ---- vcpu.h
pub const VCPUOP_SET_SINGLESHOT_TIMER: usize = 8;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct vcpu_set_singleshot_timer {
    pub timeout_abs_ns: u64,
    pub flags: u32,
}

// ---- xen.h: virtual interrupts
pub const VIRQ_TIMER: u32 = 0;
pub const VIRQ_DEBUG: u32 = 1;

// ---- event_channel.h
pub const EVTCHNOP_BIND_INTERDOMAIN: usize = 0;
pub const EVTCHNOP_BIND_VIRQ: usize = 1;
pub const EVTCHNOP_CLOSE: usize = 3;
pub const EVTCHNOP_SEND: usize = 4;
pub const EVTCHNOP_ALLOC_UNBOUND: usize = 6;
pub const EVTCHNOP_UNMASK: usize = 9;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct evtchn_bind_virq {
    pub virq: u32,
    pub vcpu: u32,
    pub port: EvtchnPort,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct evtchn_alloc_unbound {
    pub dom: DomId,
    pub remote_dom: DomId,
    pub port: EvtchnPort,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct evtchn_bind_interdomain {
    pub remote_dom: DomId,
    pub remote_port: EvtchnPort,
    pub local_port: EvtchnPort,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct evtchn_close {
    pub port: EvtchnPort,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct evtchn_unmask {
    pub port: EvtchnPort,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct evtchn_send {
    pub port: EvtchnPort,
}

// ---- xen.h: console_io (last-resort debug output; dropped for domUs by release builds)
pub const CONSOLEIO_WRITE: usize = 0;

// ---- grant_table.h
pub const GNTTABOP_QUERY_SIZE: usize = 6;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct gnttab_query_size {
    pub dom: DomId,
    pub nr_frames: u32,
    pub max_nr_frames: u32,
    pub status: i16,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct grant_entry_v1 {
    pub flags: u16,
    pub domid: DomId,
    pub frame: u32,
}
