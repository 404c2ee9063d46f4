//! The ring's wire format (`io/blkif.h`): sizes, offsets in `struct blkif_request`,
//! `blkif_request_indirect`, `blkif_request_discard` and `blkif_response`, operation and
//! status codes, the encoding of each request into a ring slot and the decoding of a
//! response.

use crate::le::{i16_at, put_u16, put_u32, put_u64, u64_at};

pub const PAGE_SIZE: usize = 4096;
/// The unit of every sector quantity on the wire (see *Units*).
pub const WIRE_SECTOR: usize = 512;
/// A ring slot: `union blkif_sring_entry`, the size of `struct blkif_request`.
pub const SLOT: usize = 112;
/// `BLKIF_MAX_SEGMENTS_PER_REQUEST`: segments in a direct request.
pub const MAX_SEGMENTS: usize = 11;
/// `BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST`: entries of `indirect_grefs`.
pub const MAX_INDIRECT_PAGES: usize = 8;
/// `struct blkif_request_segment` entries in one indirect page.
pub const SEGMENTS_PER_INDIRECT_PAGE: usize = PAGE_SIZE / SEG_SIZE;

/// Offsets in `struct blkif_request` (read, write, flush, barrier).
pub const REQ_OPERATION: usize = 0;
pub const REQ_NR_SEGMENTS: usize = 1;
pub const REQ_HANDLE: usize = 2;
pub const REQ_ID: usize = 8;
pub const REQ_SECTOR: usize = 16;
pub const REQ_SEG: usize = 24;
/// `struct blkif_request_segment`, in a request or in an indirect page.
pub const SEG_SIZE: usize = 8;
pub const SEG_GREF: usize = 0;
pub const SEG_FIRST: usize = 4;
pub const SEG_LAST: usize = 5;
/// Offsets in `struct blkif_request_discard`.
pub const DISCARD_OPERATION: usize = 0;
pub const DISCARD_FLAG: usize = 1;
pub const DISCARD_HANDLE: usize = 2;
pub const DISCARD_ID: usize = 8;
pub const DISCARD_SECTOR: usize = 16;
pub const DISCARD_NR_SECTORS: usize = 24;
pub const DISCARD_SIZE: usize = 32;
/// Offsets in `struct blkif_request_indirect`. `handle` comes after `sector_number` here,
/// not at offset 2 as in the other requests.
pub const IND_OPERATION: usize = 0;
pub const IND_OP: usize = 1;
pub const IND_NR_SEGMENTS: usize = 2;
pub const IND_ID: usize = 8;
pub const IND_SECTOR: usize = 16;
pub const IND_HANDLE: usize = 24;
pub const IND_GREFS: usize = 28;
pub const IND_SIZE: usize = 64;
/// Offsets in `struct blkif_response`.
pub const RSP_ID: usize = 0;
pub const RSP_OPERATION: usize = 8;
pub const RSP_STATUS: usize = 10;
pub const RSP_SIZE: usize = 16;

pub const OP_READ: u8 = 0;
pub const OP_WRITE: u8 = 1;
pub const OP_WRITE_BARRIER: u8 = 2;
pub const OP_FLUSH_DISKCACHE: u8 = 3;
pub const OP_DISCARD: u8 = 5;
pub const OP_INDIRECT: u8 = 6;
/// `BLKIF_DISCARD_SECURE`, in a discard's `flag` (only if the backend has `discard-secure`).
pub const DISCARD_SECURE: u8 = 1;
pub const RSP_OKAY: i16 = 0;
pub const RSP_ERROR: i16 = -1;
pub const RSP_EOPNOTSUPP: i16 = -2;

/// A `struct blkif_response`, copied out of its slot (nothing in it is checked yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Response {
    pub id: u64,
    pub op: u8,
    pub status: i16,
}

impl Response {
    pub(super) fn decode(r: &[u8; RSP_SIZE]) -> Response {
        Response { id: u64_at(r, RSP_ID), op: r[RSP_OPERATION], status: i16_at(r, RSP_STATUS) }
    }
}

/// A segment of `bytes` (a multiple of 512) from the start of the page `gref`.
pub(super) fn segment(gref: u32, bytes: usize) -> [u8; SEG_SIZE] {
    let mut s = [0u8; SEG_SIZE];
    put_u32(&mut s, SEG_GREF, gref);
    s[SEG_FIRST] = 0;
    s[SEG_LAST] = (bytes / WIRE_SECTOR - 1) as u8;
    s
}

pub(super) fn rw_request(
    op: u8,
    handle: u16,
    id: u64,
    sector: u64,
    segs: &[[u8; SEG_SIZE]],
) -> [u8; SLOT] {
    let mut r = [0u8; SLOT];
    r[REQ_OPERATION] = op;
    r[REQ_NR_SEGMENTS] = segs.len() as u8;
    put_u16(&mut r, REQ_HANDLE, handle);
    put_u64(&mut r, REQ_ID, id);
    put_u64(&mut r, REQ_SECTOR, sector);
    for (i, s) in segs.iter().enumerate() {
        let at = REQ_SEG + i * SEG_SIZE;
        r[at..at + SEG_SIZE].copy_from_slice(s);
    }
    r
}

pub(super) fn indirect_request(
    op: u8,
    nseg: u16,
    handle: u16,
    id: u64,
    sector: u64,
    grefs: &[u32],
) -> [u8; SLOT] {
    let mut r = [0u8; SLOT];
    r[IND_OPERATION] = OP_INDIRECT;
    r[IND_OP] = op;
    put_u16(&mut r, IND_NR_SEGMENTS, nseg);
    put_u64(&mut r, IND_ID, id);
    put_u64(&mut r, IND_SECTOR, sector);
    put_u16(&mut r, IND_HANDLE, handle);
    for (i, &g) in grefs.iter().enumerate() {
        put_u32(&mut r, IND_GREFS + i * 4, g);
    }
    r
}

pub(super) fn discard_request(handle: u16, id: u64, sector: u64, nr_sectors: u64) -> [u8; SLOT] {
    let mut r = [0u8; SLOT];
    r[DISCARD_OPERATION] = OP_DISCARD;
    r[DISCARD_FLAG] = 0;
    put_u16(&mut r, DISCARD_HANDLE, handle);
    put_u64(&mut r, DISCARD_ID, id);
    put_u64(&mut r, DISCARD_SECTOR, sector);
    put_u64(&mut r, DISCARD_NR_SECTORS, nr_sectors);
    r
}
