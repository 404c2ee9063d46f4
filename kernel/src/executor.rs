//! A cooperative async executor for the one vCPU. Tasks run until they wait; a woken task
//! goes to the back of a run queue, and the loop polls what the queue holds, so waking one
//! task costs O(1) however many others wait. When the queue is empty the executor asks its
//! [`Platform`] to idle (under Xen: block the vCPU until an event channel fires).
//!
//! Wakers are called from the event upcall too: waking never allocates and never blocks.
//! It pushes into a queue whose capacity is reserved, at spawn, for every task that can be
//! in it, under a lock that task code takes only with interrupts off.
//!
//! It knows nothing of Xen or of time, so the host tests below run it as it is.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::task::Wake;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};

/// A task's future, as [`spawn`] boxes it.
type BoxedFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the executor needs of the platform it runs on.
pub(crate) trait Platform {
    /// Wakes the tasks whose timers have expired.
    fn wake_timers(&mut self);
    /// Called when the run queue is empty: returns once an event may have woken a task.
    /// `still_empty` rechecks the queue; called with interrupts off, it closes the race with
    /// an upcall that wakes a task just before the vCPU would block. Returns `false` when
    /// nothing can ever wake a task (no event source).
    fn idle(&mut self, still_empty: &dyn Fn() -> bool) -> bool;
}

/// Masks interrupts around the run queue's lock (the upcall wakes tasks). Host tests have
/// no interrupts.
#[cfg(target_os = "none")]
use crate::arch::cpu::without_interrupts;
#[cfg(not(target_os = "none"))]
fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    f()
}

struct Task {
    executor: &'static Executor,
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

/// A run queue and its tasks. The runtime has one ([`spawn`]); tests make their own.
pub(crate) struct Executor {
    run_queue: spin::Mutex<RunQueue>,
}

#[cfg(target_os = "none")]
static EXECUTOR: Executor = Executor::new();

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.done.load(Ordering::Acquire) || self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        self.executor.with_queue(|q| {
            // Never grows here: `live` covers every task that can be queued.
            debug_assert!(q.queue.len() < q.queue.capacity());
            q.queue.push_back(self.clone());
        });
    }
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

/// Polls between looks at the timers while the queue stays busy.
const POLLS_PER_TIMER_CHECK: u32 = 32;

impl Executor {
    pub(crate) const fn new() -> Executor {
        Executor { run_queue: spin::Mutex::new(RunQueue { queue: VecDeque::new(), live: 0 }) }
    }

    /// Takes the run queue's lock with interrupts off.
    fn with_queue<R>(&self, f: impl FnOnce(&mut RunQueue) -> R) -> R {
        without_interrupts(|| f(&mut self.run_queue.lock()))
    }

    /// Adds a task, queued to run.
    fn add(&'static self, future: BoxedFuture) -> Arc<Task> {
        let task = Arc::new(Task {
            executor: self,
            future: spin::Mutex::new(Some(future)),
            queued: AtomicBool::new(true),
            done: AtomicBool::new(false),
        });
        let mut queue = VecDeque::new();
        loop {
            // Grown outside the interrupt-free section (allocation can be slow), then swapped in.
            let need = self.with_queue(|q| {
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

    /// Runs `future` as a task of its own.
    pub(crate) fn spawn(&'static self, future: impl Future<Output = ()> + Send + 'static) {
        self.add(Box::pin(future));
    }

    /// Polls `task` once, if it has not finished.
    fn poll(&self, task: Arc<Task>) {
        task.queued.store(false, Ordering::Release);
        let mut slot = task.future.lock();
        let Some(future) = slot.as_mut() else {
            // Finished while it was queued: this was its last entry.
            drop(slot);
            self.with_queue(|q| q.live -= 1);
            return;
        };
        let waker = Waker::from(task.clone());
        if future.as_mut().poll(&mut Context::from_waker(&waker)).is_pending() {
            return;
        }
        *slot = None;
        drop(slot);
        self.with_queue(|q| {
            task.done.store(true, Ordering::Release);
            // Still queued (woken during its last poll): retired when that entry is popped.
            if !task.queued.load(Ordering::Acquire) {
                q.live -= 1;
            }
        });
    }

    /// Runs `main` and every spawned task until `main` returns.
    pub(crate) fn run(
        &'static self,
        main: impl Future<Output = ()> + Send + 'static,
        platform: &mut impl Platform,
    ) {
        let main = self.add(Box::pin(main));
        let mut polls = 0;
        while !main.done.load(Ordering::Acquire) {
            if let Some(task) = self.with_queue(|q| q.queue.pop_front()) {
                self.poll(task);
                polls += 1;
                if polls % POLLS_PER_TIMER_CHECK == 0 {
                    platform.wake_timers();
                }
                continue;
            }
            platform.wake_timers();
            if self.with_queue(|q| q.queue.is_empty())
                && !platform.idle(&|| self.run_queue.lock().queue.is_empty())
            {
                panic!("every task waits, and nothing can wake them");
            }
        }
    }
}

/// Runs `future` as a task of its own, beside `main`.
#[cfg(target_os = "none")]
pub fn spawn(future: impl Future<Output = ()> + Send + 'static) {
    EXECUTOR.spawn(future);
}

/// Runs `main` and every spawned task on the runtime's executor until `main` returns.
#[cfg(target_os = "none")]
pub(crate) fn run(main: impl Future<Output = ()> + Send + 'static, platform: &mut impl Platform) {
    EXECUTOR.run(main, platform);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use core::sync::atomic::AtomicUsize;
    use std::sync::Mutex;

    fn executor() -> &'static Executor {
        Box::leak(Box::new(Executor::new()))
    }

    /// Counts the executor's calls; `on_idle` plays the event that arrives while it sleeps.
    #[derive(Default)]
    struct Counting {
        timer_checks: usize,
        idles: usize,
        on_idle: Option<Box<dyn FnMut()>>,
    }

    impl Platform for Counting {
        fn wake_timers(&mut self) {
            self.timer_checks += 1;
        }
        fn idle(&mut self, still_empty: &dyn Fn() -> bool) -> bool {
            assert!(still_empty(), "idle called with a task queued");
            self.idles += 1;
            match self.on_idle.as_mut() {
                Some(event) => {
                    event();
                    true
                }
                None => false,
            }
        }
    }

    #[test]
    fn spawned_tasks_run_in_order_beside_main() {
        let ex = executor();
        let order = Arc::new(Mutex::new(Vec::new()));
        let o = order.clone();
        ex.run(
            async move {
                for i in 1..=3 {
                    let o = o.clone();
                    ex.spawn(async move { o.lock().unwrap().push(i) });
                }
                while o.lock().unwrap().len() < 3 {
                    yield_now().await;
                }
            },
            &mut Counting::default(),
        );
        assert_eq!(*order.lock().unwrap(), [1, 2, 3]);
        assert_eq!(ex.run_queue.lock().live, 0, "every finished task is retired");
    }

    #[test]
    fn idle_waits_for_an_event_whose_wake_resumes_the_task() {
        let ex = executor();
        let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
        let fired = Arc::new(AtomicBool::new(false));
        let (w, f) = (waker.clone(), fired.clone());
        let mut platform = Counting {
            on_idle: Some(Box::new(move || {
                f.store(true, Ordering::Release);
                if let Some(w) = w.lock().unwrap().take() {
                    w.wake();
                }
            })),
            ..Counting::default()
        };
        ex.run(
            core::future::poll_fn(move |cx| {
                if fired.load(Ordering::Acquire) {
                    return Poll::Ready(());
                }
                *waker.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            }),
            &mut platform,
        );
        assert_eq!(platform.idles, 1);
    }

    #[test]
    #[should_panic(expected = "nothing can wake them")]
    fn every_task_waiting_with_no_event_source_panics() {
        executor().run(core::future::pending(), &mut Counting::default());
    }

    #[test]
    fn a_task_woken_many_times_is_queued_once() {
        let ex = executor();
        let polls = Arc::new(AtomicUsize::new(0));
        let p = polls.clone();
        ex.run(
            core::future::poll_fn(move |cx| {
                if p.fetch_add(1, Ordering::Relaxed) > 0 {
                    return Poll::Ready(());
                }
                for _ in 0..100 {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }),
            &mut Counting::default(),
        );
        assert_eq!(polls.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn waking_a_finished_task_does_nothing() {
        let ex = executor();
        let stale: Arc<Mutex<Option<Waker>>> = Arc::default();
        let s = stale.clone();
        ex.run(
            async move {
                let s2 = s.clone();
                ex.spawn(core::future::poll_fn(move |cx| {
                    *s2.lock().unwrap() = Some(cx.waker().clone());
                    Poll::Ready(())
                }));
                while s.lock().unwrap().is_none() {
                    yield_now().await;
                }
                s.lock().unwrap().take().unwrap().wake();
                yield_now().await;
            },
            &mut Counting::default(),
        );
        assert_eq!(ex.run_queue.lock().live, 0);
        assert!(ex.run_queue.lock().queue.is_empty());
    }

    #[test]
    fn timers_are_checked_while_the_queue_stays_busy() {
        let ex = executor();
        let mut platform = Counting::default();
        ex.run(
            async {
                for _ in 0..(POLLS_PER_TIMER_CHECK * 4) {
                    yield_now().await;
                }
            },
            &mut platform,
        );
        assert!(platform.timer_checks >= 4, "{} timer checks", platform.timer_checks);
        assert_eq!(platform.idles, 0);
    }

    #[test]
    fn many_tasks_grow_the_queue_outside_wakes() {
        let ex = executor();
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        ex.run(
            async move {
                for _ in 0..1000 {
                    let d = d.clone();
                    ex.spawn(async move {
                        yield_now().await;
                        d.fetch_add(1, Ordering::Relaxed);
                    });
                }
                while d.load(Ordering::Relaxed) < 1000 {
                    yield_now().await;
                }
            },
            &mut Counting::default(),
        );
        assert_eq!(done.load(Ordering::Relaxed), 1000);
        assert_eq!(ex.run_queue.lock().live, 0);
    }
}
