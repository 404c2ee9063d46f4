//! Time for applications: a monotonic [`Instant`] (Xen system time, pvclock), the wall
//! clock, and async [`sleep`]/[`timeout`] on the one-shot timer.

use alloc::collections::BTreeMap;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll, Waker};
pub use core::time::Duration;

/// A point of monotonic time, in nanoseconds of Xen system time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// Now. Panics without Xen, which is the only clock the runtime knows.
    pub fn now() -> Instant {
        Instant(crate::xen::pvclock::system_time_ns().expect("no clock: time needs Xen's pvclock"))
    }

    pub fn as_nanos(&self) -> u64 {
        self.0
    }

    pub fn duration_since(&self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.as_nanos().min(u128::from(u64::MAX)) as u64))
    }
}

/// Wall-clock time as (seconds, nanoseconds) since the Unix epoch.
pub fn wall_clock() -> Option<(u64, u32)> {
    crate::xen::pvclock::wall_clock()
}

/// Armed timers by (deadline, owner id): the earliest is the first entry, and arming or
/// disarming one costs O(log n) however many connections wait.
static TIMERS: spin::Mutex<BTreeMap<(u64, u64), Waker>> = spin::Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Waits until `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline: deadline.0, id: NEXT_ID.fetch_add(1, Ordering::Relaxed), armed: false }
}

/// Waits for `d`.
pub fn sleep(d: Duration) -> Sleep {
    sleep_until(Instant::now() + d)
}

/// Future of [`sleep`].
#[derive(Debug)]
pub struct Sleep {
    deadline: u64,
    id: u64,
    armed: bool,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let key = (self.deadline, self.id);
        if Instant::now().0 >= self.deadline {
            if core::mem::take(&mut self.armed) {
                TIMERS.lock().remove(&key);
            }
            return Poll::Ready(());
        }
        let mut timers = TIMERS.lock();
        match timers.get_mut(&key) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => *w = cx.waker().clone(),
            None => {
                timers.insert(key, cx.waker().clone());
            }
        }
        self.armed = true;
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if self.armed {
            TIMERS.lock().remove(&(self.deadline, self.id));
        }
    }
}

/// `future` ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl core::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("timed out")
    }
}

impl core::error::Error for Elapsed {}

/// Runs `future` for at most `d`.
pub async fn timeout<F: Future>(d: Duration, future: F) -> Result<F::Output, Elapsed> {
    let mut future = core::pin::pin!(future);
    let mut sleep = core::pin::pin!(sleep(d));
    core::future::poll_fn(|cx| {
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        sleep.as_mut().poll(cx).map(|()| Err(Elapsed))
    })
    .await
}

/// Wakes the sleepers whose deadline has passed (each stays armed until its `Sleep` is
/// polled or dropped, which finds it due).
pub(crate) fn wake_expired() {
    let Some(first) = next_deadline() else { return };
    let now = Instant::now().0;
    if first > now {
        return;
    }
    let mut timers = TIMERS.lock();
    while let Some(entry) = timers.first_entry() {
        if entry.key().0 > now {
            break;
        }
        entry.remove().wake();
    }
}

/// Whether a sleeper is due now.
pub(crate) fn expired() -> bool {
    next_deadline()
        .is_some_and(|d| crate::xen::pvclock::system_time_ns().is_none_or(|now| d <= now))
}

/// The earliest deadline of an armed timer.
pub(crate) fn next_deadline() -> Option<u64> {
    TIMERS.lock().first_key_value().map(|(k, _)| k.0)
}
