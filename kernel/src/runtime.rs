//! Start of day, the application's `main`, and the end of the domain (poweroff, reboot,
//! crash, panic).

use crate::arch::{self, cpu, debugcon};
use crate::executor::{self, Platform};
use crate::xen;
use crate::xen::sched::ShutdownReason;
use crate::xen::start_info::BootInfo;
use crate::{lifecycle, logger, mm, time};
use core::sync::atomic::{AtomicBool, Ordering};
use log::LevelFilter;

static BOOT_INFO: spin::Once<BootInfo> = spin::Once::new();

/// The guest's command line (xl's `extra=`), as the loader gave it: with the values of
/// secret keys, so not for printing (`kernel::config()` gives them typed, a secret as a
/// `Secret` that shows `<secret>`).
pub fn cmdline() -> &'static str {
    BOOT_INFO.get().map_or("", |b| b.cmdline())
}

/// Boot, once the CPU tables are loaded and the start info copied: Xen, logging, memory,
/// the configuration (the command line against the image's keys: `app_keys` is the app's
/// schema note), Xen services, then the app.
pub(crate) fn start(
    info: Result<BootInfo, xen::Error>,
    app_main: fn() -> crate::AppMain,
    app_keys: &'static str,
) -> ! {
    let t_start = cpu::rdtsc();
    let xen_version = xen::detect();
    let info = match info {
        Ok(info) => BOOT_INFO.call_once(|| info),
        Err(e) => {
            crate::console::emergency(format_args!("bad start info: {e}\n"));
            crash();
        }
    };
    let cmdline = info.cmdline();
    // Until the configuration is parsed (that needs the heap): the level as written, if it
    // is one; a bad one is refused with the rest of the line below.
    let level = devices::cmdline::get(cmdline, "log").and_then(logger::parse_level);
    logger::init(level.unwrap_or(LevelFilter::Info));
    if info.truncated {
        log::warn!("start info truncated: command line or memory map longer than kept");
    }
    let heap = mm::init(info.memmap());
    let t_heap = cpu::rdtsc();
    // Before any driver or the app reads a key; reported once the console is up.
    let config = crate::config::init(cmdline, app_keys);
    if let Some(level) = config.as_ref().ok().and_then(|c| c.str("log")) {
        log::set_max_level(logger::parse_level(level).unwrap_or(LevelFilter::Info));
    }
    let t_config = cpu::rdtsc();
    let mut t_xen = t_config;
    match xen_version {
        Some((major, minor)) => {
            for task in xen::init() {
                executor::spawn(task);
            }
            t_xen = cpu::rdtsc();
            if let Err(refused) = &config {
                refuse(refused);
            }
            match crate::xenstore::init() {
                Ok(reader) => {
                    executor::spawn(reader);
                    executor::spawn(lifecycle::watch_control());
                    #[cfg(not(all(feature = "net", feature = "block")))]
                    executor::spawn(driverless_devices());
                }
                Err(e) => log::error!("xenstore unavailable: {e}"),
            }
            #[cfg(feature = "net")]
            executor::spawn(crate::net::start());
            #[cfg(feature = "block")]
            executor::spawn(crate::block::start());
            log::info!("Xen {major}.{minor}, PVH guest; heap {} MiB", heap >> 20);
        }
        None => {
            if let Err(refused) = &config {
                refuse(refused);
            }
            #[cfg(feature = "net")]
            crate::net::no_network();
            #[cfg(feature = "block")]
            crate::block::set_ready();
            log::info!("no Xen found: plain PVH boot; heap {} MiB", heap >> 20)
        }
    }
    // Never the line as given: a secret key's value shows as <secret>. (A refused line
    // powered off above, its problems printed without any secret.)
    if let (Ok(c), true) = (&config, log::log_enabled!(log::Level::Debug)) {
        log::debug!("command line: {:?}", devices::config::redact(c.schema(), cmdline));
    }
    let t_main = cpu::rdtsc();
    let cycles = t_main.wrapping_sub(arch::boot_tsc());
    // The bench and the test summary read this line ("boot: N TSC cycles ...").
    let us = crate::xen::pvclock::tsc_to_ns(cycles).map(|ns| ns / 1000);
    let (requests, calls) = (crate::xenstore::conn::requests(), crate::xen::hypercall::calls());
    log::info!(
        "boot: {cycles} TSC cycles ({} us) from first instruction to main; \
         {requests} xenstore requests, {calls} hypercalls",
        Us(us)
    );
    log::info!(
        "boot stages (TSC cycles): CPU tables and start info {}, heap and page tables {}, \
         configuration {}, Xen layer {}, services {}",
        t_start.wrapping_sub(arch::boot_tsc()),
        t_heap.wrapping_sub(t_start),
        t_config.wrapping_sub(t_heap),
        t_xen.wrapping_sub(t_config),
        t_main.wrapping_sub(t_xen)
    );
    if xen_version.is_some() {
        cpu::enable_interrupts();
        executor::run(app_main(), &mut XenIdle);
    } else {
        executor::run(app_main(), &mut NoEvents);
    }
    // After a graceful request, what it asked for (a reboot request reboots).
    if lifecycle::pending() == Some(lifecycle::Request::Reboot) {
        log::info!("main returned: rebooting, as the toolstack asked");
        shutdown(ShutdownReason::Reboot)
    }
    log::info!("main returned: powering off");
    shutdown(ShutdownReason::Poweroff)
}

/// Says which devices the toolstack attached that this image has no driver for (an xl file
/// that disagrees with the app's manifest): they are never connected.
#[cfg(not(all(feature = "net", feature = "block")))]
async fn driverless_devices() {
    let kinds = [("vif", "net", cfg!(feature = "net")), ("vbd", "block", cfg!(feature = "block"))];
    for (kind, feature, driver) in kinds {
        if driver {
            continue;
        }
        let ids = crate::xenstore::directory(&alloc::format!("device/{kind}")).await;
        if let Some(n @ 1..) = ids.ok().map(|ids| ids.len()) {
            log::warn!("{n} {kind}(s) attached, but the image has no {kind} driver (kernel feature `{feature}`): not used");
        }
    }
}

/// The executor's platform under Xen: the runtime's timers, and the vCPU blocked in Xen
/// until an event channel (a device, the timer, xenstore) fires.
struct XenIdle;

impl Platform for XenIdle {
    fn wake_timers(&mut self) {
        time::wake_expired();
    }

    fn idle(&mut self, still_empty: &dyn Fn() -> bool) -> bool {
        // Look once more with events held off, then sleep until one comes.
        cpu::disable_interrupts();
        if still_empty() && !time::expired() {
            if let Some(deadline) = time::next_deadline() {
                xen::timer::set_timer(deadline);
            }
            xen::event::idle(0);
        }
        cpu::enable_interrupts();
        true
    }
}

/// Without Xen nothing should interrupt us (and a firmware-programmed PIC would send its
/// timer to an exception vector): interrupts stay off, and an idle executor stays idle.
struct NoEvents;

impl Platform for NoEvents {
    fn wake_timers(&mut self) {}

    fn idle(&mut self, _: &dyn Fn() -> bool) -> bool {
        false
    }
}

fn shutdown(reason: ShutdownReason) -> ! {
    if xen::present() {
        xen::pv_console::flush();
        xen::sched::shutdown(reason);
        debugcon::write(b"SCHEDOP_shutdown failed\n");
    } else {
        // isa-debug-exit: QEMU exits with status (code << 1) | 1.
        debugcon::qemu_exit(match reason {
            ShutdownReason::Poweroff => 0,
            ShutdownReason::Crash => 1,
            ShutdownReason::Reboot => 2,
        });
    }
    cpu::halt_forever()
}

/// A command line the image's keys refuse, or `--help`: the problems or the listing on the
/// console, then a power-off (never a crash: `on_crash = "restart"` would boot the same line
/// again and again) with the exit code of [`crate::config`]. Under Xen the code also goes to
/// xenstore, `data/exit-code` (for a toolstack that keeps the domain, `on_poweroff =
/// "preserve"`, or watches the node); nothing else runs, no driver, no app.
fn refuse(refused: &crate::config::Refused) -> ! {
    refused.report();
    let code = refused.exit_code();
    if xen::present() {
        match crate::xenstore::init() {
            Ok(reader) => {
                executor::spawn(reader);
                cpu::enable_interrupts();
                executor::run(record_exit_code(code), &mut XenIdle);
                cpu::disable_interrupts();
            }
            Err(e) => log::error!("xenstore unavailable: {e}; exit code not recorded"),
        }
        xen::pv_console::flush();
        xen::sched::shutdown(ShutdownReason::Poweroff);
        debugcon::write(b"SCHEDOP_shutdown failed\n");
    } else {
        debugcon::qemu_exit(code);
    }
    cpu::halt_forever()
}

/// Writes `data/exit-code` (a directory the guest may write), waiting at most 5 s.
async fn record_exit_code(code: u32) {
    let value = alloc::format!("{code}");
    let write = crate::xenstore::write("data/exit-code", &value);
    match time::timeout(time::Duration::from_secs(5), write).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => log::warn!("writing data/exit-code: {e}"),
        Err(_) => log::warn!("writing data/exit-code: no answer in 5 s"),
    }
}

/// Powers the domain off.
pub fn poweroff() -> ! {
    log::info!("powering off");
    shutdown(ShutdownReason::Poweroff)
}

/// Asks the toolstack to restart the domain.
pub fn reboot() -> ! {
    log::info!("rebooting");
    shutdown(ShutdownReason::Reboot)
}

/// Stops the domain as crashed.
pub(crate) fn crash() -> ! {
    shutdown(ShutdownReason::Crash)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    static PANICKING: AtomicBool = AtomicBool::new(false);
    if PANICKING.swap(true, Ordering::SeqCst) {
        crate::console::emergency(format_args!("\npanic while panicking\n"));
        crash();
    }
    let at = info.location().map(|l| (l.file(), l.line(), l.column())).unwrap_or(("?", 0, 0));
    crate::console::emergency(format_args!(
        "\npanic: {} at {}:{}:{}\n",
        info.message(),
        at.0,
        at.1,
        at.2
    ));
    arch::backtrace(cpu::read_rbp());
    crash()
}

/// Microseconds, or `?` where there is no clock to convert cycles with (plain PVH boot).
struct Us(Option<u64>);

impl core::fmt::Display for Us {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(us) => write!(f, "{us}"),
            None => f.write_str("?"),
        }
    }
}
