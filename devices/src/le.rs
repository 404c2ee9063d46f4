//! Little-endian fields of the wire structs (every Xen ring and xenstore struct is
//! little-endian on x86).
//!
//! The functions take fixed-size arrays: an entry from another domain is first copied out
//! of shared memory into one (its length is then known from its type), and only the
//! offsets are checked here. Those are the driver's own constants, so an offset past the
//! end is a bug in the driver and panics; nothing another domain writes can make it.

/// The `K` bytes at `at`.
fn bytes<const K: usize, const N: usize>(b: &[u8; N], at: usize) -> [u8; K] {
    let mut v = [0; K];
    v.copy_from_slice(&b[at..at + K]);
    v
}

pub fn u16_at<const N: usize>(b: &[u8; N], at: usize) -> u16 {
    u16::from_le_bytes(bytes(b, at))
}

pub fn i16_at<const N: usize>(b: &[u8; N], at: usize) -> i16 {
    i16::from_le_bytes(bytes(b, at))
}

pub fn u32_at<const N: usize>(b: &[u8; N], at: usize) -> u32 {
    u32::from_le_bytes(bytes(b, at))
}

pub fn u64_at<const N: usize>(b: &[u8; N], at: usize) -> u64 {
    u64::from_le_bytes(bytes(b, at))
}

pub fn put_u16<const N: usize>(b: &mut [u8; N], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub fn put_i16<const N: usize>(b: &mut [u8; N], at: usize, v: i16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u32<const N: usize>(b: &mut [u8; N], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u64<const N: usize>(b: &mut [u8; N], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_at_unaligned_offsets() {
        let mut b = [0u8; 17];
        put_u16(&mut b, 1, 0xabcd);
        put_i16(&mut b, 3, -2);
        put_u32(&mut b, 5, 0xdead_beef);
        put_u64(&mut b, 9, 0x0102_0304_0506_0708);
        assert_eq!(b[..5], [0, 0xcd, 0xab, 0xfe, 0xff]);
        assert_eq!(b[9], 0x08, "little-endian");
        assert_eq!(u16_at(&b, 1), 0xabcd);
        assert_eq!(i16_at(&b, 3), -2);
        assert_eq!(u32_at(&b, 5), 0xdead_beef);
        assert_eq!(u64_at(&b, 9), 0x0102_0304_0506_0708);
    }
}
