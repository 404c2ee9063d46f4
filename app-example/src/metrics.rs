//! `/metrics`: the heap, the network stack, every vif and disk, and this app's counters,
//! in Prometheus' text exposition format (version 0.0.4).

use crate::mem::{NoMemory, TryWriter};
use alloc::vec::Vec;
use core::fmt::{self, Display, Write as _};
use kernel::block::{self, Disk};
use kernel::net::InterfaceInfo;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What only the app knows.
pub struct App {
    pub requests: u64,
    pub refused: u64,
    pub uptime_secs: u64,
    /// Keys in the store, if it is there and not busy.
    pub kv_keys: Option<usize>,
}

type VifCounter = fn(&InterfaceInfo) -> u64;
type DiskCounter = fn(&block::Stats) -> u64;

const VIF: &[(&str, &str, VifCounter)] = &[
    ("vif_rx_frames_total", "Frames received.", |i| i.stats.rx_frames),
    ("vif_rx_bytes_total", "Bytes received.", |i| i.stats.rx_bytes),
    ("vif_rx_errors_total", "Received frames the backend failed or sent invalid.", |i| {
        i.stats.rx_errors
    }),
    ("vif_tx_frames_total", "Frames sent.", |i| i.stats.tx_frames),
    ("vif_tx_bytes_total", "Bytes sent.", |i| i.stats.tx_bytes),
    ("vif_tx_errors_total", "Frames the backend failed or dropped.", |i| i.stats.tx_errors),
    ("vif_protocol_errors_total", "Backend responses that broke the protocol.", |i| {
        i.stats.protocol_errors
    }),
    ("vif_connected", "1 while the vif is connected to its backend.", |i| u64::from(i.connected)),
];

const DISK: &[(&str, &str, DiskCounter)] = &[
    ("disk_requests_total", "Ring requests sent.", |s| s.requests),
    ("disk_indirect_requests_total", "Of those, indirect requests.", |s| s.indirect_requests),
    ("disk_read_bytes_total", "Bytes read successfully.", |s| s.bytes_read),
    ("disk_written_bytes_total", "Bytes written successfully.", |s| s.bytes_written),
    ("disk_failed_ops_total", "Operations the backend failed.", |s| s.failed_ops),
    ("disk_protocol_errors_total", "Backend responses that broke the protocol.", |s| {
        s.protocol_errors
    }),
];

/// The page, or `NoMemory` if it could not be built.
pub fn render(app: &App, vifs: &[InterfaceInfo], disks: &[Disk]) -> Result<Vec<u8>, NoMemory> {
    let mut out = Vec::new();
    out.try_reserve(4096)?;
    write(&mut Page(TryWriter(&mut out)), app, vifs, disks).map_err(|_| NoMemory)?;
    Ok(out)
}

fn write(p: &mut Page, app: &App, vifs: &[InterfaceInfo], disks: &[Disk]) -> fmt::Result {
    let heap = kernel::mm::stats();
    p.one("heap_size_bytes", "gauge", "Bytes of RAM the heap manages.", heap.size)?;
    p.one("heap_used_bytes", "gauge", "Bytes allocated now.", heap.used)?;
    p.one("heap_peak_bytes", "gauge", "The most bytes allocated at once since boot.", heap.peak)?;
    let what = "Bytes the allocator can still hand out (after its own overhead).";
    p.one("heap_available_bytes", "gauge", what, heap.available)?;
    p.one(
        "heap_alloc_failures_total",
        "counter",
        "Allocations refused for want of memory.",
        heap.failed,
    )?;
    let net = kernel::net::stats();
    p.one(
        "tcp_listening_sockets",
        "gauge",
        "TCP sockets waiting for a connection.",
        net.tcp_listening,
    )?;
    p.one("tcp_connections", "gauge", "TCP connections open or closing.", net.tcp_connections)?;
    p.one(
        "tcp_closing_connections",
        "gauge",
        "TCP connections dropped by their owner, still closing.",
        net.tcp_closing,
    )?;
    p.one("udp_sockets", "gauge", "UDP sockets.", net.udp_sockets)?;
    p.one(
        "tcp_syns_dropped_total",
        "counter",
        "Connection attempts dropped (no free listening socket or memory short).",
        net.syns_dropped,
    )?;
    p.one(
        "net_rx_dropped_total",
        "counter",
        "Frames received and dropped for want of memory.",
        net.rx_dropped,
    )?;
    let life = kernel::lifecycle::stats();
    p.one("xen_suspends_total", "counter", "Suspends begun (xl save, migrate).", life.suspends)?;
    p.one("xen_resumes_total", "counter", "Of those, resumed in a new domain.", life.resumes)?;
    let what = "Of those, resumed in place (a checkpoint or a cancelled suspend).";
    p.one("xen_suspends_cancelled_total", "counter", what, life.cancelled)?;
    let what = "Devices connected to a backend again.";
    p.one("xen_device_reconnects_total", "counter", what, life.reconnects)?;
    p.one("xen_grants_in_use", "gauge", "Grant references in use.", life.grants)?;
    p.one("xen_event_channels", "gauge", "Event channels bound.", life.event_channels)?;
    let what = "Events that came on a port nobody waits on.";
    p.one("xen_stray_events_total", "counter", what, life.stray_events)?;
    p.one("xen_hypercalls_total", "counter", "Hypercalls made since boot.", life.hypercalls)?;
    let what = "xenstore requests sent since boot.";
    p.one("xen_xenstore_requests_total", "counter", what, life.xenstore_requests)?;
    for (name, help, get) in VIF {
        let kind = if name.ends_with("_total") { "counter" } else { "gauge" };
        p.family(name, kind, help)?;
        for i in vifs {
            p.sample(name, Some(("vif", &i.name)), get(i))?;
        }
    }
    for (name, help, get) in DISK {
        p.family(name, "counter", help)?;
        for d in disks {
            p.sample(name, Some(("disk", d.name())), get(&d.stats()))?;
        }
    }
    p.one("http_requests_total", "counter", "HTTP requests received.", app.requests)?;
    p.one(
        "http_refused_total",
        "counter",
        "Requests answered 503 and connections closed at accept while memory was short.",
        app.refused,
    )?;
    p.one(
        "uptime_seconds",
        "gauge",
        "Seconds since app-example started serving.",
        app.uptime_secs,
    )?;
    if let Some(keys) = app.kv_keys {
        p.one("kv_keys", "gauge", "Keys in the key-value store.", keys)?;
    }
    Ok(())
}

struct Page<'a>(TryWriter<'a>);

impl Page<'_> {
    fn family(&mut self, name: &str, kind: &str, help: &str) -> fmt::Result {
        write!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}\n")
    }

    fn sample(&mut self, name: &str, label: Option<(&str, &str)>, v: impl Display) -> fmt::Result {
        self.0.write_str(name)?;
        if let Some((label, value)) = label {
            write!(self.0, "{{{label}=\"")?;
            // The format's escapes, for names the toolstack chose.
            for c in value.chars() {
                match c {
                    '\\' => self.0.write_str("\\\\")?,
                    '"' => self.0.write_str("\\\"")?,
                    '\n' => self.0.write_str("\\n")?,
                    c => self.0.write_char(c)?,
                }
            }
            self.0.write_str("\"}")?;
        }
        writeln!(self.0, " {v}")
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, v: impl Display) -> fmt::Result {
        self.family(name, kind, help)?;
        self.sample(name, None, v)
    }
}
