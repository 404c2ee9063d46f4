//! A cooperative async executor for the one vCPU. Tasks run until they wait; when none is
//! ready the vCPU blocks in Xen until an event channel (a device, the timer, xenstore)
//! fires. Interrupt handlers never poll a task: they set a task's ready flag.

use crate::arch::cpu;
use crate::{time, xen};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

struct Task {
    future: Pin<Box<dyn Future<Output = ()> + Send>>,
    flag: Arc<Flag>,
    waker: Waker,
}

impl Task {
    fn new(future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Task {
        let flag = Arc::new(Flag(AtomicBool::new(true)));
        Task { future, waker: Waker::from(flag.clone()), flag }
    }

    /// Polls the task if it was woken; true once it has finished.
    fn run(&mut self) -> bool {
        if !self.flag.0.swap(false, Ordering::AcqRel) {
            return false;
        }
        self.future.as_mut().poll(&mut Context::from_waker(&self.waker)).is_ready()
    }
}

/// Tasks spawned and not yet taken over by the run loop.
static SPAWNED: spin::Mutex<Vec<Task>> = spin::Mutex::new(Vec::new());

/// Runs `future` as a task of its own, beside `main`.
pub fn spawn(future: impl Future<Output = ()> + Send + 'static) {
    SPAWNED.lock().push(Task::new(Box::pin(future)));
}

/// Yields to the other ready tasks once.
pub async fn yield_now() {
    let mut yielded = false;
    core::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Runs `main` and every spawned task until `main` returns.
pub(crate) fn run(main: impl Future<Output = ()> + Send + 'static) {
    let mut main = Task::new(Box::pin(main));
    let mut tasks: Vec<Task> = Vec::new();
    // Without Xen nothing should interrupt us (and a firmware-programmed PIC would send
    // its timer to an exception vector): interrupts stay off.
    let interrupts = xen::present();
    if interrupts {
        cpu::enable_interrupts();
    }
    loop {
        if main.run() {
            return;
        }
        tasks.append(&mut SPAWNED.lock());
        tasks.retain_mut(|t| !t.run());
        time::wake_expired();
        let ready = || {
            main.flag.0.load(Ordering::Acquire)
                || tasks.iter().any(|t| t.flag.0.load(Ordering::Acquire))
                || !SPAWNED.lock().is_empty()
        };
        if ready() {
            continue;
        }
        if !interrupts {
            panic!("every task waits, and without Xen nothing can wake them");
        }
        // Look once more with events held off, then sleep until one comes.
        cpu::disable_interrupts();
        if !ready() && !time::expired() {
            if let Some(deadline) = time::next_deadline() {
                xen::time::set_timer(deadline);
            }
            xen::event::idle(0);
        }
        cpu::enable_interrupts();
    }
}
