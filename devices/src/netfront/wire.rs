//! The rings' wire format (`io/netif.h`): slot sizes, offsets in the TX and RX request and
//! response structs, flags and statuses, and the encoding and decoding of each.

use crate::le::{i16_at, put_u16, put_u32, u16_at};

pub const PAGE_SIZE: usize = 4096;
/// Slot sizes: `union netif_tx_sring_entry`, `union netif_rx_sring_entry`.
pub const TX_SLOT: usize = 12;
pub const RX_SLOT: usize = 8;

/// Offsets in `struct netif_tx_request`.
pub const TXREQ_GREF: usize = 0;
pub const TXREQ_OFFSET: usize = 4;
pub const TXREQ_FLAGS: usize = 6;
pub const TXREQ_ID: usize = 8;
pub const TXREQ_SIZE: usize = 10;
/// Offsets in `struct netif_tx_response`.
pub const TXRSP_ID: usize = 0;
pub const TXRSP_STATUS: usize = 2;
/// Offsets in `struct netif_rx_request`.
pub const RXREQ_ID: usize = 0;
pub const RXREQ_GREF: usize = 4;
/// Offsets in `struct netif_rx_response`.
pub const RXRSP_ID: usize = 0;
pub const RXRSP_OFFSET: usize = 2;
pub const RXRSP_FLAGS: usize = 4;
pub const RXRSP_STATUS: usize = 6;
/// Offset of `flags` in `struct netif_extra_info`.
pub const EXTRA_FLAGS: usize = 1;

pub const NETTXF_MORE_DATA: u16 = 1 << 2;
pub const NETRXF_MORE_DATA: u16 = 1 << 2;
pub const NETRXF_EXTRA_INFO: u16 = 1 << 3;
pub const XEN_NETIF_EXTRA_FLAG_MORE: u8 = 1 << 0;
pub const NETIF_RSP_OKAY: i16 = 0;
pub const NETIF_RSP_NULL: i16 = 1;

/// Largest frame we send or accept: a 64 KiB IP packet in an Ethernet frame
/// (`XEN_NETIF_MAX_TX_SIZE` is 0xFFFF).
pub const MAX_FRAME: usize = 0xFFFF;

/// A `struct netif_tx_request` with its data at the start of the page `gref`.
pub(super) fn tx_request(gref: u32, flags: u16, id: u16, size: u16) -> [u8; TX_SLOT] {
    let mut r = [0u8; TX_SLOT];
    put_u32(&mut r, TXREQ_GREF, gref);
    put_u16(&mut r, TXREQ_OFFSET, 0);
    put_u16(&mut r, TXREQ_FLAGS, flags);
    put_u16(&mut r, TXREQ_ID, id);
    put_u16(&mut r, TXREQ_SIZE, size);
    r
}

pub(super) fn rx_request(id: u16, gref: u32) -> [u8; RX_SLOT] {
    let mut r = [0u8; RX_SLOT];
    put_u16(&mut r, RXREQ_ID, id);
    put_u32(&mut r, RXREQ_GREF, gref);
    r
}

/// A `struct netif_tx_response`, copied out of its slot (nothing in it is checked yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TxResponse {
    pub id: u16,
    pub status: i16,
}

impl TxResponse {
    pub(super) fn decode(r: &[u8; TX_SLOT]) -> TxResponse {
        TxResponse { id: u16_at(r, TXRSP_ID), status: i16_at(r, TXRSP_STATUS) }
    }
}

/// A `struct netif_rx_response`, copied out of its slot (nothing in it is checked yet).
/// `status` is the fragment's size when it is not negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RxResponse {
    pub id: u16,
    pub offset: u16,
    pub flags: u16,
    pub status: i16,
}

impl RxResponse {
    pub(super) fn decode(r: &[u8; RX_SLOT]) -> RxResponse {
        RxResponse {
            id: u16_at(r, RXRSP_ID),
            offset: u16_at(r, RXRSP_OFFSET),
            flags: u16_at(r, RXRSP_FLAGS),
            status: i16_at(r, RXRSP_STATUS),
        }
    }
}
