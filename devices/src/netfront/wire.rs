//! The rings' wire format (`io/netif.h`): slot sizes, offsets in the TX and RX request and
//! response structs, flags and statuses.

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
