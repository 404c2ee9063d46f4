//! A cooperative async executor for the one vCPU. Tasks run until they wait; a woken task
//! goes to the back of a run queue, and the loop polls what the queue holds, so waking one
//! task costs O(1) however many others wait. When the queue is empty the vCPU blocks in Xen
//! until an event channel (a device, the timer, xenstore) fires.
//!
//! Wakers are called from the event upcall too: waking never allocates and never blocks.
//! It pushes into a queue whose capacity is reserved, at spawn, for every task that can be
//! in it, under a lock that task code takes only with interrupts off.

use crate::arch::cpu;
use crate::{time, xen};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::task::Wake;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};

type BoxedFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Task {
    /// `None` once the task has finished.
    future: spin::Mutex<Option<BoxedFuture>>,
    /// In the run queue (so a second wake does not queue it twice).
    queued: AtomicBool,
    done: AtomicBool,
}

struct RunQueue {
    queue: VecDeque<Arc<Task>>,
    /// Tasks that may still be in the queue: spawned and not finished, or finished while
    /// queued and not yet popped. The queue's capacity is kept at least this.
    live: usize,
}

static RUN_QUEUE: spin::Mutex<RunQueue> =
    spin::Mutex::new(RunQueue { queue: VecDeque::new(), live: 0 });

/// Takes the run queue's lock with interrupts off (the upcall wakes tasks).
fn with_queue<R>(f: impl FnOnce(&mut RunQueue) -> R) -> R {
    cpu::without_interrupts(|| f(&mut RUN_QUEUE.lock()))
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.done.load(Ordering::Acquire) || self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        with_queue(|q| {
            // Never grows here: `live` covers every task that can be queued.
            debug_assert!(q.queue.len() < q.queue.capacity());
            q.queue.push_back(self.clone());
        });
    }
}

/// Adds a task, queued to run.
fn add(future: BoxedFuture) -> Arc<Task> {
    let task = Arc::new(Task {
        future: spin::Mutex::new(Some(future)),
        queued: AtomicBool::new(true),
        done: AtomicBool::new(false),
    });
    let mut queue = VecDeque::new();
    loop {
        // Grown outside the interrupt-free section (allocation can be slow), then swapped in.
        let need = with_queue(|q| {
            if q.queue.capacity() > q.live {
                q.live += 1;
                q.queue.push_back(task.clone());
                return None;
            }
            if queue.capacity() > q.live {
                queue.extend(q.queue.drain(..));
                core::mem::swap(&mut queue, &mut q.queue);
                q.live += 1;
                q.queue.push_back(task.clone());
                return None;
            }
            Some(q.live + 1)
        });
        let Some(need) = need else { return task };
        queue = VecDeque::with_capacity((need * 2).max(16));
    }
}

/// Runs `future` as a task of its own, beside `main`.
pub fn spawn(future: impl Future<Output = ()> + Send + 'static) {
    add(Box::pin(future));
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

/// Polls `task` once, if it has not finished.
fn poll(task: Arc<Task>) {
    task.queued.store(false, Ordering::Release);
    let mut slot = task.future.lock();
    let Some(future) = slot.as_mut() else {
        // Finished while it was queued: this was its last entry.
        drop(slot);
        with_queue(|q| q.live -= 1);
        return;
    };
    let waker = Waker::from(task.clone());
    if future.as_mut().poll(&mut Context::from_waker(&waker)).is_pending() {
        return;
    }
    *slot = None;
    drop(slot);
    with_queue(|q| {
        task.done.store(true, Ordering::Release);
        // Still queued (woken during its last poll): retired when that entry is popped.
        if !task.queued.load(Ordering::Acquire) {
            q.live -= 1;
        }
    });
}

/// Polls between looks at the timers while the queue stays busy.
const POLLS_PER_TIMER_CHECK: u32 = 32;

/// Runs `main` and every spawned task until `main` returns.
pub(crate) fn run(main: impl Future<Output = ()> + Send + 'static) {
    let main = add(Box::pin(main));
    // Without Xen nothing should interrupt us (and a firmware-programmed PIC would send
    // its timer to an exception vector): interrupts stay off.
    let interrupts = xen::present();
    if interrupts {
        cpu::enable_interrupts();
    }
    let mut polls = 0;
    while !main.done.load(Ordering::Acquire) {
        if let Some(task) = with_queue(|q| q.queue.pop_front()) {
            poll(task);
            polls += 1;
            if polls % POLLS_PER_TIMER_CHECK == 0 {
                time::wake_expired();
            }
            continue;
        }
        time::wake_expired();
        if !interrupts {
            if with_queue(|q| q.queue.is_empty()) {
                panic!("every task waits, and without Xen nothing can wake them");
            }
            continue;
        }
        // Look once more with events held off, then sleep until one comes.
        cpu::disable_interrupts();
        if RUN_QUEUE.lock().queue.is_empty() && !time::expired() {
            if let Some(deadline) = time::next_deadline() {
                xen::time::set_timer(deadline);
            }
            xen::event::idle(0);
        }
        cpu::enable_interrupts();
    }
}
