//! The PV console: the ring page Xen names in HVM_PARAM_CONSOLE_PFN, drained by xenconsoled
//! in dom0 (to `xl console` and the guest's console log), notified through
//! HVM_PARAM_CONSOLE_EVTCHN. The ring protocol itself is `devices::console_ring`.

use super::abi::{self, EvtchnPort};
use super::shared_page::{self, SharedPage};
use super::{event, sched};
use devices::console_ring::ConsoleRing;
use spin::Mutex;

struct Console {
    ring: ConsoleRing<SharedPage>,
    port: EvtchnPort,
}

static CONSOLE: Mutex<Option<Console>> = Mutex::new(None);

/// How many times a writer yields to dom0 waiting for ring space before it drops output
/// (xenconsoled gone): bounded so that a dead backend cannot hang the guest.
const MAX_WAITS: u32 = 100_000;

/// Finds and maps the console ring.
pub fn init() -> Result<(), super::Error> {
    let (page, port) =
        shared_page::from_hvm_params(abi::HVM_PARAM_CONSOLE_PFN, abi::HVM_PARAM_CONSOLE_EVTCHN)?;
    *CONSOLE.lock() = Some(Console { ring: ConsoleRing::new(page), port });
    Ok(())
}

impl Console {
    /// Puts `data` in the ring; xenconsoled is notified only when the ring is full (the
    /// caller notifies once at the end: each notification is a hypercall, a VM exit).
    fn write_all(&mut self, mut data: &[u8]) {
        let mut waits = 0;
        while !data.is_empty() {
            match self.ring.write(data) {
                Ok(0) => {
                    event::send(self.port);
                    if waits == MAX_WAITS {
                        return;
                    }
                    waits += 1;
                    sched::yield_now();
                }
                Ok(n) => data = &data[n..],
                Err(_) => return, // a corrupt ring: output is lost, the guest goes on
            }
        }
    }

    /// Writes `s`, turning "\n" into "\r\n" for terminals attached with `xl console`.
    fn write_text(&mut self, s: &[u8]) {
        for (i, line) in s.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                self.write_all(b"\r\n");
            }
            self.write_all(line);
        }
    }

    fn notify(&self) {
        event::send(self.port);
    }

    fn flush(&mut self) {
        for _ in 0..MAX_WAITS {
            match self.ring.pending() {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    event::send(self.port);
                    sched::yield_now();
                }
            }
        }
    }
}

/// Writes formatted text to the PV console under one lock, notifying xenconsoled once at
/// the end (not once per formatted piece); `false` if it is not set up.
pub fn write_fmt(args: core::fmt::Arguments) -> bool {
    struct Ring<'a>(&'a mut Console);
    impl core::fmt::Write for Ring<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            self.0.write_text(s.as_bytes());
            Ok(())
        }
    }
    match CONSOLE.lock().as_mut() {
        Some(c) => {
            let _ = core::fmt::Write::write_fmt(&mut Ring(c), args);
            c.notify();
            true
        }
        None => false,
    }
}

/// For crash reports: writes unless the console is locked by the code that crashed.
pub fn try_write(s: &[u8]) -> bool {
    match CONSOLE.try_lock().as_deref_mut() {
        Some(Some(c)) => {
            c.write_text(s);
            c.notify();
            true
        }
        _ => false,
    }
}

/// Waits (bounded) until xenconsoled has taken everything written, so that nothing is lost
/// when the domain stops.
pub fn flush() {
    if let Some(Some(c)) = CONSOLE.try_lock().as_deref_mut() {
        c.flush();
    }
}
