//! Time from Xen: the monotonic system time of the vCPU's `vcpu_time_info` (pvclock) and
//! the wall clock in shared_info.

use super::abi::{shared_info, vcpu_info, vcpu_time_info};
use super::shared_info as si;
use crate::arch::cpu;
use core::mem::offset_of;
use core::sync::atomic::{fence, Ordering};

fn read<T: Copy>(base: u64, offset: usize) -> T {
    // SAFETY: `offset` is that of a field of type T inside the mapped shared_info page, which
    // lives for the whole run; volatile because Xen updates it concurrently (the version
    // protocol below decides which reads count).
    unsafe { ((base + offset as u64) as *const T).read_volatile() }
}

fn time_field(f: usize) -> usize {
    offset_of!(shared_info, vcpu_info) + offset_of!(vcpu_info, time) + f
}

/// Nanoseconds of Xen system time (since the domain's vCPU time base), from pvclock.
/// `None` without Xen.
pub fn system_time_ns() -> Option<u64> {
    let base = si::addr()?;
    loop {
        let version: u32 = read(base, time_field(offset_of!(vcpu_time_info, version)));
        if version & 1 != 0 {
            continue; // Xen is updating it
        }
        fence(Ordering::Acquire);
        let tsc_timestamp: u64 = read(base, time_field(offset_of!(vcpu_time_info, tsc_timestamp)));
        let system_time: u64 = read(base, time_field(offset_of!(vcpu_time_info, system_time)));
        let mul: u32 = read(base, time_field(offset_of!(vcpu_time_info, tsc_to_system_mul)));
        let shift: i8 = read(base, time_field(offset_of!(vcpu_time_info, tsc_shift)));
        let tsc = cpu::rdtsc();
        fence(Ordering::Acquire);
        if read::<u32>(base, time_field(offset_of!(vcpu_time_info, version))) != version {
            continue;
        }
        return Some(system_time.wrapping_add(scale(tsc.wrapping_sub(tsc_timestamp), mul, shift)));
    }
}

/// TSC cycles in nanoseconds, by pvclock's scale (`ns = (cycles << shift) * mul >> 32`).
fn scale(mut cycles: u64, mul: u32, shift: i8) -> u64 {
    if shift >= 0 {
        cycles <<= shift;
    } else {
        cycles >>= -shift;
    }
    ((u128::from(cycles) * u128::from(mul)) >> 32) as u64
}

/// `cycles` of this vCPU's TSC in nanoseconds (`None` without Xen).
pub fn tsc_to_ns(cycles: u64) -> Option<u64> {
    let base = si::addr()?;
    loop {
        let version: u32 = read(base, time_field(offset_of!(vcpu_time_info, version)));
        fence(Ordering::Acquire);
        let mul: u32 = read(base, time_field(offset_of!(vcpu_time_info, tsc_to_system_mul)));
        let shift: i8 = read(base, time_field(offset_of!(vcpu_time_info, tsc_shift)));
        fence(Ordering::Acquire);
        if version & 1 == 0
            && read::<u32>(base, time_field(offset_of!(vcpu_time_info, version))) == version
        {
            return Some(scale(cycles, mul, shift));
        }
    }
}

/// Wall-clock time (seconds and nanoseconds since the Unix epoch): the boot-time wall
/// clock Xen keeps in shared_info plus the system time.
pub fn wall_clock() -> Option<(u64, u32)> {
    let base = si::addr()?;
    let (sec, nsec) = loop {
        let v: u32 = read(base, offset_of!(shared_info, wc_version));
        if v & 1 != 0 {
            continue;
        }
        fence(Ordering::Acquire);
        let lo: u32 = read(base, offset_of!(shared_info, wc_sec));
        let hi: u32 = read(base, offset_of!(shared_info, wc_sec_hi));
        let nsec: u32 = read(base, offset_of!(shared_info, wc_nsec));
        fence(Ordering::Acquire);
        if read::<u32>(base, offset_of!(shared_info, wc_version)) == v {
            break ((u64::from(hi) << 32) | u64::from(lo), nsec);
        }
    };
    let total = u128::from(sec) * 1_000_000_000 + u128::from(nsec) + u128::from(system_time_ns()?);
    Some(((total / 1_000_000_000) as u64, (total % 1_000_000_000) as u32))
}
