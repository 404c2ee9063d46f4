//! Every `#[repr(C)]` structure and constant of the Xen interface, compared with what the C
//! compiler says about Xen's own public headers (`/usr/include/xen`, Debian's `libxen-dev`).
//! The headers are the oracle: a mismatch here is a bug in our definitions.

use kernel::xen::abi;
use std::mem::{align_of, offset_of, size_of};
use std::process::Command;

/// `(C expression, value on the Rust side)` for every size, alignment, offset and constant.
macro_rules! layouts {
    ($( $rust:ident { $($f:ident $(as $cf:ident)?),* } )*) => {{
        let mut v: Vec<(String, usize)> = Vec::new();
        $(
            let c = concat!("struct ", stringify!($rust));
            v.push((format!("sizeof({c})"), size_of::<abi::$rust>()));
            v.push((format!("_Alignof({c})"), align_of::<abi::$rust>()));
            $( v.push((
                format!("offsetof({c}, {})", layouts!(@name $f $($cf)?)),
                offset_of!(abi::$rust, $f),
            )); )*
        )*
        v
    }};
    (@name $f:ident) => { stringify!($f) };
    (@name $f:ident $cf:ident) => { stringify!($cf) };
}

fn expected() -> Vec<(String, usize)> {
    let mut v = layouts! {
        hvm_start_info { magic, version, flags, nr_modules, modlist_paddr, cmdline_paddr,
            rsdp_paddr, memmap_paddr, memmap_entries, reserved }
        hvm_memmap_table_entry { addr, size, type_ as type, reserved }
        vcpu_time_info { version, pad0, tsc_timestamp, system_time, tsc_to_system_mul,
            tsc_shift, flags, pad1 }
        arch_vcpu_info { cr2, pad }
        vcpu_info { evtchn_upcall_pending, evtchn_upcall_mask, evtchn_pending_sel, arch, time }
        arch_shared_info { max_pfn, pfn_to_mfn_frame_list_list, nmi_reason, p2m_cr3, p2m_vaddr,
            p2m_generation }
        shared_info { vcpu_info, evtchn_pending, evtchn_mask, wc_version, wc_sec, wc_nsec,
            wc_sec_hi, arch }
        xen_hvm_param { domid, pad, index, value }
        xen_add_to_physmap { domid, size, space, idx, gpfn }
        sched_shutdown { reason }
        evtchn_send { port }
        sched_poll { ports, nr_ports, timeout }
        vcpu_set_singleshot_timer { timeout_abs_ns, flags }
        evtchn_bind_virq { virq, vcpu, port }
        evtchn_alloc_unbound { dom, remote_dom, port }
        evtchn_bind_interdomain { remote_dom, remote_port, local_port }
        evtchn_close { port }
        evtchn_unmask { port }
        gnttab_query_size { dom, nr_frames, max_nr_frames, status }
        grant_entry_v1 { flags, domid, frame }
    };
    let consts: &[(&str, usize)] = &[
        ("DOMID_SELF", abi::DOMID_SELF as usize),
        ("XEN_ELFNOTE_PHYS32_ENTRY", abi::XEN_ELFNOTE_PHYS32_ENTRY as usize),
        ("XEN_HVM_START_MAGIC_VALUE", abi::XEN_HVM_START_MAGIC_VALUE as usize),
        ("XEN_HVM_MEMMAP_TYPE_RAM", abi::XEN_HVM_MEMMAP_TYPE_RAM as usize),
        ("__HYPERVISOR_memory_op", abi::HYPERVISOR_MEMORY_OP),
        ("__HYPERVISOR_xen_version", abi::HYPERVISOR_XEN_VERSION),
        ("__HYPERVISOR_console_io", abi::HYPERVISOR_CONSOLE_IO),
        ("__HYPERVISOR_sched_op", abi::HYPERVISOR_SCHED_OP),
        ("__HYPERVISOR_event_channel_op", abi::HYPERVISOR_EVENT_CHANNEL_OP),
        ("__HYPERVISOR_hvm_op", abi::HYPERVISOR_HVM_OP),
        ("XEN_LEGACY_MAX_VCPUS", abi::XEN_LEGACY_MAX_VCPUS),
        ("HVMOP_set_param", abi::HVMOP_SET_PARAM),
        ("HVMOP_get_param", abi::HVMOP_GET_PARAM),
        ("HVM_PARAM_CALLBACK_IRQ", abi::HVM_PARAM_CALLBACK_IRQ as usize),
        ("HVM_PARAM_STORE_PFN", abi::HVM_PARAM_STORE_PFN as usize),
        ("HVM_PARAM_STORE_EVTCHN", abi::HVM_PARAM_STORE_EVTCHN as usize),
        ("HVM_PARAM_CONSOLE_PFN", abi::HVM_PARAM_CONSOLE_PFN as usize),
        ("HVM_PARAM_CONSOLE_EVTCHN", abi::HVM_PARAM_CONSOLE_EVTCHN as usize),
        ("XENMEM_add_to_physmap", abi::XENMEM_ADD_TO_PHYSMAP),
        ("XENMAPSPACE_shared_info", abi::XENMAPSPACE_SHARED_INFO as usize),
        ("XENMAPSPACE_grant_table", abi::XENMAPSPACE_GRANT_TABLE as usize),
        ("SCHEDOP_yield", abi::SCHEDOP_YIELD),
        ("SCHEDOP_block", abi::SCHEDOP_BLOCK),
        ("SCHEDOP_shutdown", abi::SCHEDOP_SHUTDOWN),
        ("SHUTDOWN_poweroff", abi::SHUTDOWN_POWEROFF as usize),
        ("SHUTDOWN_reboot", abi::SHUTDOWN_REBOOT as usize),
        ("SHUTDOWN_suspend", abi::SHUTDOWN_SUSPEND as usize),
        ("SHUTDOWN_crash", abi::SHUTDOWN_CRASH as usize),
        ("EVTCHNOP_send", abi::EVTCHNOP_SEND),
        ("EVTCHNOP_bind_interdomain", abi::EVTCHNOP_BIND_INTERDOMAIN),
        ("EVTCHNOP_bind_virq", abi::EVTCHNOP_BIND_VIRQ),
        ("EVTCHNOP_close", abi::EVTCHNOP_CLOSE),
        ("EVTCHNOP_alloc_unbound", abi::EVTCHNOP_ALLOC_UNBOUND),
        ("EVTCHNOP_unmask", abi::EVTCHNOP_UNMASK),
        ("SCHEDOP_poll", abi::SCHEDOP_POLL),
        ("__HYPERVISOR_vcpu_op", abi::HYPERVISOR_VCPU_OP),
        ("VCPUOP_set_singleshot_timer", abi::VCPUOP_SET_SINGLESHOT_TIMER),
        ("VIRQ_TIMER", abi::VIRQ_TIMER as usize),
        ("VIRQ_DEBUG", abi::VIRQ_DEBUG as usize),
        ("HVM_PARAM_CALLBACK_TYPE_VECTOR", abi::HVM_PARAM_CALLBACK_TYPE_VECTOR as usize),
        ("__HYPERVISOR_grant_table_op", abi::HYPERVISOR_GRANT_TABLE_OP),
        ("GNTTABOP_query_size", abi::GNTTABOP_QUERY_SIZE),
        ("GNTTAB_NR_RESERVED_ENTRIES", devices::gnttab::NR_RESERVED as usize),
        ("GTF_permit_access", devices::gnttab::GTF_PERMIT_ACCESS as usize),
        ("GTF_readonly", devices::gnttab::GTF_READONLY as usize),
        ("GTF_reading", devices::gnttab::GTF_READING as usize),
        ("GTF_writing", devices::gnttab::GTF_WRITING as usize),
        ("sizeof(struct grant_entry_v1)", devices::gnttab::ENTRY_SIZE),
        ("offsetof(struct grant_entry_v1, flags)", devices::gnttab::OFF_FLAGS),
        ("offsetof(struct grant_entry_v1, domid)", devices::gnttab::OFF_DOMID),
        ("offsetof(struct grant_entry_v1, frame)", devices::gnttab::OFF_FRAME),
        ("offsetof(struct blkif_sring, req_prod)", devices::ring::OFF_REQ_PROD),
        ("offsetof(struct blkif_sring, req_event)", devices::ring::OFF_REQ_EVENT),
        ("offsetof(struct blkif_sring, rsp_prod)", devices::ring::OFF_RSP_PROD),
        ("offsetof(struct blkif_sring, rsp_event)", devices::ring::OFF_RSP_EVENT),
        ("offsetof(struct blkif_sring, ring)", devices::ring::OFF_RING),
        ("offsetof(struct netif_tx_sring, ring)", devices::ring::OFF_RING),
        ("__CONST_RING_SIZE(netif_tx, 4096)", devices::ring::ring_size(4096, 12) as usize),
        ("__CONST_RING_SIZE(netif_rx, 4096)", devices::ring::ring_size(4096, 8) as usize),
        ("__CONST_RING_SIZE(blkif, 4096)", devices::ring::ring_size(4096, 112) as usize),
        ("sizeof(union netif_tx_sring_entry)", 12),
        ("offsetof(struct blkif_request, operation)", devices::blkfront::REQ_OPERATION),
        ("offsetof(struct blkif_request, nr_segments)", devices::blkfront::REQ_NR_SEGMENTS),
        ("offsetof(struct blkif_request, handle)", devices::blkfront::REQ_HANDLE),
        ("offsetof(struct blkif_request, id)", devices::blkfront::REQ_ID),
        ("offsetof(struct blkif_request, sector_number)", devices::blkfront::REQ_SECTOR),
        ("offsetof(struct blkif_request, seg)", devices::blkfront::REQ_SEG),
        ("sizeof(struct blkif_request)", devices::blkfront::SLOT),
        ("sizeof(struct blkif_request_segment)", devices::blkfront::SEG_SIZE),
        ("offsetof(struct blkif_request_segment, gref)", devices::blkfront::SEG_GREF),
        ("offsetof(struct blkif_request_segment, first_sect)", devices::blkfront::SEG_FIRST),
        ("offsetof(struct blkif_request_segment, last_sect)", devices::blkfront::SEG_LAST),
        (
            "offsetof(struct blkif_request_discard, nr_sectors)",
            devices::blkfront::DISCARD_NR_SECTORS,
        ),
        ("offsetof(struct blkif_request_discard, operation)", devices::blkfront::DISCARD_OPERATION),
        ("offsetof(struct blkif_request_discard, flag)", devices::blkfront::DISCARD_FLAG),
        ("offsetof(struct blkif_request_discard, handle)", devices::blkfront::DISCARD_HANDLE),
        ("offsetof(struct blkif_request_discard, id)", devices::blkfront::DISCARD_ID),
        (
            "offsetof(struct blkif_request_discard, sector_number)",
            devices::blkfront::DISCARD_SECTOR,
        ),
        ("sizeof(struct blkif_request_discard)", devices::blkfront::DISCARD_SIZE),
        ("offsetof(struct blkif_request_indirect, operation)", devices::blkfront::IND_OPERATION),
        ("offsetof(struct blkif_request_indirect, indirect_op)", devices::blkfront::IND_OP),
        (
            "offsetof(struct blkif_request_indirect, nr_segments)",
            devices::blkfront::IND_NR_SEGMENTS,
        ),
        ("offsetof(struct blkif_request_indirect, id)", devices::blkfront::IND_ID),
        ("offsetof(struct blkif_request_indirect, sector_number)", devices::blkfront::IND_SECTOR),
        ("offsetof(struct blkif_request_indirect, handle)", devices::blkfront::IND_HANDLE),
        ("offsetof(struct blkif_request_indirect, indirect_grefs)", devices::blkfront::IND_GREFS),
        ("sizeof(struct blkif_request_indirect)", devices::blkfront::IND_SIZE),
        (
            "sizeof(((struct blkif_request_indirect *)0)->indirect_grefs) / sizeof(grant_ref_t)",
            devices::blkfront::MAX_INDIRECT_PAGES,
        ),
        ("BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST", devices::blkfront::MAX_INDIRECT_PAGES),
        (
            "(4096 / sizeof(struct blkif_request_segment))",
            devices::blkfront::SEGMENTS_PER_INDIRECT_PAGE,
        ),
        ("offsetof(struct blkif_response, id)", devices::blkfront::RSP_ID),
        ("offsetof(struct blkif_response, operation)", devices::blkfront::RSP_OPERATION),
        ("offsetof(struct blkif_response, status)", devices::blkfront::RSP_STATUS),
        ("sizeof(struct blkif_response)", devices::blkfront::RSP_SIZE),
        ("sizeof(((struct blkif_response *)0)->status)", 2),
        ("sizeof(blkif_sector_t)", 8),
        ("sizeof(blkif_vdev_t)", 2),
        ("BLKIF_MAX_SEGMENTS_PER_REQUEST", devices::blkfront::MAX_SEGMENTS),
        ("BLKIF_OP_READ", devices::blkfront::OP_READ as usize),
        ("BLKIF_OP_WRITE", devices::blkfront::OP_WRITE as usize),
        ("BLKIF_OP_WRITE_BARRIER", devices::blkfront::OP_WRITE_BARRIER as usize),
        ("BLKIF_OP_FLUSH_DISKCACHE", devices::blkfront::OP_FLUSH_DISKCACHE as usize),
        ("BLKIF_OP_DISCARD", devices::blkfront::OP_DISCARD as usize),
        ("BLKIF_OP_INDIRECT", devices::blkfront::OP_INDIRECT as usize),
        ("BLKIF_DISCARD_SECURE", devices::blkfront::DISCARD_SECURE as usize),
        ("BLKIF_RSP_OKAY", devices::blkfront::RSP_OKAY as usize),
        ("(BLKIF_RSP_ERROR + 100)", (devices::blkfront::RSP_ERROR + 100) as usize),
        ("(BLKIF_RSP_EOPNOTSUPP + 100)", (devices::blkfront::RSP_EOPNOTSUPP + 100) as usize),
        ("VDISK_CDROM", devices::blkfront::VDISK_CDROM as usize),
        ("VDISK_REMOVABLE", devices::blkfront::VDISK_REMOVABLE as usize),
        ("VDISK_READONLY", devices::blkfront::VDISK_READONLY as usize),
        ("offsetof(struct netif_tx_request, gref)", devices::netfront::TXREQ_GREF),
        ("offsetof(struct netif_tx_request, offset)", devices::netfront::TXREQ_OFFSET),
        ("offsetof(struct netif_tx_request, flags)", devices::netfront::TXREQ_FLAGS),
        ("offsetof(struct netif_tx_request, id)", devices::netfront::TXREQ_ID),
        ("offsetof(struct netif_tx_request, size)", devices::netfront::TXREQ_SIZE),
        ("offsetof(struct netif_tx_response, id)", devices::netfront::TXRSP_ID),
        ("offsetof(struct netif_tx_response, status)", devices::netfront::TXRSP_STATUS),
        ("offsetof(struct netif_rx_request, id)", devices::netfront::RXREQ_ID),
        ("offsetof(struct netif_rx_request, gref)", devices::netfront::RXREQ_GREF),
        ("offsetof(struct netif_rx_response, id)", devices::netfront::RXRSP_ID),
        ("offsetof(struct netif_rx_response, offset)", devices::netfront::RXRSP_OFFSET),
        ("offsetof(struct netif_rx_response, flags)", devices::netfront::RXRSP_FLAGS),
        ("offsetof(struct netif_rx_response, status)", devices::netfront::RXRSP_STATUS),
        ("offsetof(struct netif_extra_info, flags)", devices::netfront::EXTRA_FLAGS),
        ("sizeof(struct netif_tx_request)", devices::netfront::TX_SLOT),
        ("sizeof(struct netif_rx_response)", devices::netfront::RX_SLOT),
        ("sizeof(struct netif_extra_info)", 8),
        ("NETTXF_more_data", devices::netfront::NETTXF_MORE_DATA as usize),
        ("NETRXF_more_data", devices::netfront::NETRXF_MORE_DATA as usize),
        ("NETRXF_extra_info", devices::netfront::NETRXF_EXTRA_INFO as usize),
        ("XEN_NETIF_EXTRA_FLAG_MORE", devices::netfront::XEN_NETIF_EXTRA_FLAG_MORE as usize),
        ("NETIF_RSP_OKAY", devices::netfront::NETIF_RSP_OKAY as usize),
        ("NETIF_RSP_NULL", devices::netfront::NETIF_RSP_NULL as usize),
        ("XEN_NETIF_MAX_TX_SIZE", devices::netfront::MAX_FRAME),
        ("XenbusStateInitialising", devices::xenbus::State::Initialising as usize),
        ("XenbusStateInitWait", devices::xenbus::State::InitWait as usize),
        ("XenbusStateInitialised", devices::xenbus::State::Initialised as usize),
        ("XenbusStateConnected", devices::xenbus::State::Connected as usize),
        ("XenbusStateClosing", devices::xenbus::State::Closing as usize),
        ("XenbusStateClosed", devices::xenbus::State::Closed as usize),
        ("XenbusStateReconfigured", devices::xenbus::State::Reconfigured as usize),
        ("sizeof(union netif_rx_sring_entry)", 8),
        ("sizeof(union blkif_sring_entry)", 112),
        ("sizeof(struct xsd_sockmsg)", devices::xenstore::HEADER_SIZE),
        ("sizeof(struct xenstore_domain_interface)", devices::xenstore::INTERFACE_SIZE),
        ("offsetof(struct xenstore_domain_interface, req)", devices::xenstore::OFF_REQ),
        ("offsetof(struct xenstore_domain_interface, rsp)", devices::xenstore::OFF_RSP),
        ("offsetof(struct xenstore_domain_interface, req_cons)", devices::xenstore::OFF_REQ_CONS),
        ("offsetof(struct xenstore_domain_interface, req_prod)", devices::xenstore::OFF_REQ_PROD),
        ("offsetof(struct xenstore_domain_interface, rsp_cons)", devices::xenstore::OFF_RSP_CONS),
        ("offsetof(struct xenstore_domain_interface, rsp_prod)", devices::xenstore::OFF_RSP_PROD),
        ("XENSTORE_RING_SIZE", devices::xenstore::RING_SIZE as usize),
        ("XENSTORE_PAYLOAD_MAX", devices::xenstore::PAYLOAD_MAX),
        ("XS_DIRECTORY", devices::xenstore::kind::DIRECTORY as usize),
        ("XS_READ", devices::xenstore::kind::READ as usize),
        ("XS_GET_PERMS", devices::xenstore::kind::GET_PERMS as usize),
        ("XS_WATCH", devices::xenstore::kind::WATCH as usize),
        ("XS_UNWATCH", devices::xenstore::kind::UNWATCH as usize),
        ("XS_TRANSACTION_START", devices::xenstore::kind::TRANSACTION_START as usize),
        ("XS_TRANSACTION_END", devices::xenstore::kind::TRANSACTION_END as usize),
        ("XS_GET_DOMAIN_PATH", devices::xenstore::kind::GET_DOMAIN_PATH as usize),
        ("XS_WRITE", devices::xenstore::kind::WRITE as usize),
        ("XS_MKDIR", devices::xenstore::kind::MKDIR as usize),
        ("XS_RM", devices::xenstore::kind::RM as usize),
        ("XS_SET_PERMS", devices::xenstore::kind::SET_PERMS as usize),
        ("XS_WATCH_EVENT", devices::xenstore::kind::WATCH_EVENT as usize),
        ("XS_ERROR", devices::xenstore::kind::ERROR as usize),
        ("CONSOLEIO_write", abi::CONSOLEIO_WRITE),
        // devices::console_ring reaches the console page by offset.
        ("sizeof(struct xencons_interface)", devices::console_ring::INTERFACE_SIZE),
        ("offsetof(struct xencons_interface, in)", devices::console_ring::OFF_IN),
        ("offsetof(struct xencons_interface, out)", devices::console_ring::OFF_OUT),
        ("offsetof(struct xencons_interface, in_cons)", devices::console_ring::OFF_IN_CONS),
        ("offsetof(struct xencons_interface, in_prod)", devices::console_ring::OFF_IN_PROD),
        ("offsetof(struct xencons_interface, out_cons)", devices::console_ring::OFF_OUT_CONS),
        ("offsetof(struct xencons_interface, out_prod)", devices::console_ring::OFF_OUT_PROD),
        ("sizeof(((struct xencons_interface *)0)->in)", devices::console_ring::IN_SIZE as usize),
        ("sizeof(((struct xencons_interface *)0)->out)", devices::console_ring::OUT_SIZE as usize),
    ];
    v.extend(consts.iter().map(|&(c, r)| (c.to_string(), r)));
    v
}

const HEADERS: &[&str] = &[
    "xen/xen.h",
    "xen/elfnote.h",
    "xen/arch-x86/hvm/start_info.h",
    "xen/hvm/hvm_op.h",
    "xen/hvm/params.h",
    "xen/memory.h",
    "xen/sched.h",
    "xen/event_channel.h",
    "xen/io/console.h",
    "xen/grant_table.h",
    "xen/io/xs_wire.h",
    "xen/io/netif.h",
    "xen/io/xenbus.h",
    "xen/io/blkif.h",
    "xen/vcpu.h",
];

/// Compiles and runs a C program printing every expression's value, one per line.
fn c_values(exprs: &[&str]) -> Vec<usize> {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("abi_layout");
    std::fs::create_dir_all(&dir).unwrap();
    // The current interface (as a guest built today sees it), not the 0x0 compatibility one.
    let mut src = String::from(
        "#define __XEN_INTERFACE_VERSION__ __XEN_LATEST_INTERFACE_VERSION__\n\
         #include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n",
    );
    for h in HEADERS {
        src += &format!("#include <{h}>\n");
    }
    src += "int main(void) {\n";
    for e in exprs {
        src += &format!("    printf(\"%llu\\n\", (unsigned long long)({e}));\n");
    }
    src += "    return 0;\n}\n";
    let c = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&c, src).unwrap();
    let out =
        Command::new("cc").arg("-std=gnu11").arg("-o").arg(&exe).arg(&c).output().expect("run cc");
    assert!(
        out.status.success(),
        "compiling against Xen's public headers failed (is libxen-dev installed? \
         /usr/include/xen/arch-x86/hvm/start_info.h must exist):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.parse().unwrap()).collect()
}

#[test]
fn rust_abi_matches_xen_public_headers() {
    let expected = expected();
    let exprs: Vec<&str> = expected.iter().map(|(e, _)| e.as_str()).collect();
    let c = c_values(&exprs);
    assert_eq!(c.len(), expected.len());
    let wrong: Vec<String> = expected
        .iter()
        .zip(&c)
        .filter(|((_, rust), c)| rust != *c)
        .map(|((e, rust), c)| format!("{e}: C says {c}, Rust has {rust}"))
        .collect();
    assert!(wrong.is_empty(), "ABI mismatches:\n{}", wrong.join("\n"));
    assert!(expected.len() > 80, "checked only {} items", expected.len());
}
