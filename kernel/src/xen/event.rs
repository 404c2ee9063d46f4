//! Event channels (`event_channel.h`), 2-level ABI. Xen sets bits in shared_info's
//! `evtchn_pending` (masked by `evtchn_mask`), the word index in the vCPU's
//! `evtchn_pending_sel`, and `evtchn_upcall_pending`; with HVM_PARAM_CALLBACK_IRQ of vector
//! type it then injects [`UPCALL_VECTOR`](crate::arch::UPCALL_VECTOR). The upcall handler
//! only records which ports fired and wakes the tasks waiting on them.

use super::abi::{self, shared_info, vcpu_info, EvtchnPort};
use super::hypercall::{hypercall, hypercall_cmd};
use super::{hvm, shared_info as si, Error};
use crate::arch::{self, cpu};
use core::future::Future;
use core::mem::offset_of;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use core::task::{Context, Poll, Waker};

/// Ports we keep state for; higher ones are acknowledged and ignored (with a log line).
pub const NR_PORTS: usize = 1024;

struct Port {
    bound: AtomicBool,
    fired: AtomicBool,
    /// Taken by task code only with interrupts off, so the upcall never finds it held.
    waker: spin::Mutex<Option<Waker>>,
}

static PORTS: [Port; NR_PORTS] = [const {
    Port {
        bound: AtomicBool::new(false),
        fired: AtomicBool::new(false),
        waker: spin::Mutex::new(None),
    }
}; NR_PORTS];

static IGNORED: AtomicU64 = AtomicU64::new(0);

/// How many times the domain resumed in a new domain, where every port of before is gone.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// Which set of ports is current: a port number taken before the last resume (a different
/// epoch) names nothing of its owner's any more, and may name someone else's channel now.
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::Acquire)
}

/// After a resume in a new domain: forgets every port (the new domain has none of them) and
/// wakes their waiters, whose [`Wait`] then ends; their owners bind new ports.
pub fn forget_all() {
    EPOCH.fetch_add(1, Ordering::AcqRel);
    for p in &PORTS {
        p.bound.store(false, Ordering::Release);
        p.fired.store(false, Ordering::Release);
        let waker = cpu::without_interrupts(|| p.waker.lock().take());
        if let Some(w) = waker {
            w.wake();
        }
    }
}

fn op<T>(cmd: usize, arg: &mut T) -> Result<(), Error> {
    // SAFETY: every caller passes the argument structure that `cmd` takes (event_channel.h).
    let rc = unsafe { hypercall_cmd(abi::HYPERVISOR_EVENT_CHANNEL_OP, cmd, arg) };
    if rc < 0 {
        Err(Error::from_rc(rc))
    } else {
        Ok(())
    }
}

fn track(port: EvtchnPort) -> Result<EvtchnPort, Error> {
    match PORTS.get(port as usize) {
        Some(p) => {
            p.fired.store(false, Ordering::Relaxed);
            p.bound.store(true, Ordering::Release);
            Ok(port)
        }
        None => {
            let _ = close(port);
            Err(Error::PortOutOfRange(port))
        }
    }
}

/// Notifies the other end of `port`.
pub fn send(port: EvtchnPort) {
    let mut arg = abi::evtchn_send { port };
    if let Err(e) = op(abi::EVTCHNOP_SEND, &mut arg) {
        log::warn!("send on port {port}: {e}");
    }
}

/// Binds virtual interrupt `virq` of vCPU 0 to a new port.
pub fn bind_virq(virq: u32) -> Result<EvtchnPort, Error> {
    let mut arg = abi::evtchn_bind_virq { virq, vcpu: 0, port: 0 };
    op(abi::EVTCHNOP_BIND_VIRQ, &mut arg)?;
    track(arg.port)
}

/// A new port that domain `remote` may bind to (how a frontend offers a channel).
#[cfg(any(feature = "net", feature = "block"))]
pub fn alloc_unbound(remote: u16) -> Result<EvtchnPort, Error> {
    let mut arg = abi::evtchn_alloc_unbound { dom: abi::DOMID_SELF, remote_dom: remote, port: 0 };
    op(abi::EVTCHNOP_ALLOC_UNBOUND, &mut arg)?;
    track(arg.port)
}

/// Adopts a port Xen bound for us (console, xenstore).
pub fn adopt(port: EvtchnPort) -> Result<EvtchnPort, Error> {
    track(port)?;
    unmask(port);
    Ok(port)
}

/// Closes `port`; a task still waiting on it is woken (and sees nothing fired).
pub fn close(port: EvtchnPort) -> Result<(), Error> {
    if let Some(p) = PORTS.get(port as usize) {
        p.bound.store(false, Ordering::Release);
        let waker = cpu::without_interrupts(|| p.waker.lock().take());
        if let Some(w) = waker {
            w.wake();
        }
    }
    let mut arg = abi::evtchn_close { port };
    op(abi::EVTCHNOP_CLOSE, &mut arg)
}

/// Unmasks `port` (Xen re-raises it if it became pending while masked).
pub fn unmask(port: EvtchnPort) {
    let mut arg = abi::evtchn_unmask { port };
    if let Err(e) = op(abi::EVTCHNOP_UNMASK, &mut arg) {
        log::warn!("unmask port {port}: {e}");
    }
}

/// Waits until `port` fires, or until a resume in a new domain ends every port (see
/// [`epoch`]: the owner then finds its new port).
pub fn wait(port: EvtchnPort) -> Wait {
    Wait { port, epoch: epoch() }
}

/// Future of [`wait`].
#[derive(Debug)]
pub struct Wait {
    port: EvtchnPort,
    epoch: u64,
}

impl Future for Wait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(p) = PORTS.get(self.port as usize) else { return Poll::Ready(()) };
        // Not after a resume: the number may be another owner's now, whose waker this
        // would replace.
        if self.epoch != epoch() {
            return Poll::Ready(());
        }
        if p.fired.swap(false, Ordering::AcqRel) || !p.bound.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        cpu::without_interrupts(|| *p.waker.lock() = Some(cx.waker().clone()));
        if p.fired.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

fn shared() -> Option<u64> {
    si::addr()
}

fn atomic_u64(base: u64, offset: usize) -> &'static AtomicU64 {
    // SAFETY: `base` is the mapped shared_info page, which lives for the whole run; the
    // offsets are of 8-aligned u64 fields inside it, and Xen only accesses them atomically
    // too (set_bit/xchg), so an AtomicU64 view is sound.
    unsafe { &*((base + offset as u64) as *const AtomicU64) }
}

fn vcpu0(field: usize) -> usize {
    offset_of!(shared_info, vcpu_info) + field
}

/// The upcall handler, called from the `traps.S` stub with interrupts disabled.
pub extern "C" fn upcall() {
    let Some(base) = shared() else { return };
    // SAFETY: a byte of the mapped shared_info page; Xen sets it, we clear it, before
    // scanning (so that an event arriving during the scan raises a new upcall).
    let pending = unsafe {
        &*((base + vcpu0(offset_of!(vcpu_info, evtchn_upcall_pending)) as u64) as *const AtomicU8)
    };
    pending.store(0, Ordering::SeqCst);
    let sel = atomic_u64(base, vcpu0(offset_of!(vcpu_info, evtchn_pending_sel)))
        .swap(0, Ordering::AcqRel);
    let mut words = sel;
    while words != 0 {
        let w = words.trailing_zeros() as usize;
        words &= words - 1;
        let pending = atomic_u64(base, offset_of!(shared_info, evtchn_pending) + w * 8);
        let mask = atomic_u64(base, offset_of!(shared_info, evtchn_mask) + w * 8);
        let mut bits = pending.load(Ordering::Acquire) & !mask.load(Ordering::Acquire);
        while bits != 0 {
            let b = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            pending.fetch_and(!(1 << b), Ordering::AcqRel);
            fire(w * 64 + b);
        }
    }
}

fn fire(port: usize) {
    match PORTS.get(port) {
        Some(p) if p.bound.load(Ordering::Acquire) => {
            p.fired.store(true, Ordering::Release);
            // Never blocks: task code holds this lock only with interrupts off.
            if let Some(w) = p.waker.lock().as_ref() {
                w.wake_by_ref();
            }
        }
        _ => {
            IGNORED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Ports bound now (what a leak of event channels would show in).
pub fn bound() -> usize {
    PORTS.iter().filter(|p| p.bound.load(Ordering::Relaxed)).count()
}

/// Events on ports we do not track (a misbehaving peer, or a bug): counted, not acted on.
pub fn ignored() -> u64 {
    IGNORED.load(Ordering::Relaxed)
}

/// Routes event upcalls to [`arch::UPCALL_VECTOR`].
pub fn init() -> Result<(), Error> {
    let value = (abi::HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | u64::from(arch::UPCALL_VECTOR);
    hvm::set_param(abi::HVM_PARAM_CALLBACK_IRQ, value)
}

/// Blocks the vCPU until one of our bound ports is pending or `deadline_ns` (system time;
/// 0: none) passes. Called with interrupts disabled: SCHEDOP_poll checks the ports'
/// pending bits itself, so an event that arrived after the caller looked for work is not
/// lost (SCHEDOP_block, under an HVM callback, decides by the interrupt flag instead).
pub fn idle(deadline_ns: u64) {
    let mut ports = [0 as EvtchnPort; 128];
    let mut n = 0;
    for (i, p) in PORTS.iter().enumerate() {
        if p.bound.load(Ordering::Acquire) && n < ports.len() {
            ports[n] = i as EvtchnPort;
            n += 1;
        }
    }
    let mut arg =
        abi::sched_poll { ports: ports.as_ptr() as u64, nr_ports: n as u32, timeout: deadline_ns };
    // SAFETY: SCHEDOP_poll takes a struct sched_poll whose `ports` points to `nr_ports`
    // ports; the array lives on this stack for the whole call.
    unsafe {
        hypercall(
            abi::HYPERVISOR_SCHED_OP,
            abi::SCHEDOP_POLL as u64,
            &mut arg as *mut _ as u64,
            0,
            0,
            0,
        )
    };
}
