//! The SYN gate: decides, before smoltcp sees a frame, whether a connection attempt gets
//! in. smoltcp answers a SYN that no listening socket takes with a reset, which a client
//! reports as "connection reset" at once; Linux instead drops a SYN its full accept queue
//! cannot take, and the client retries it. The gate does what Linux does: a SYN to a port
//! we listen on passes only while that port has a free listening socket (counted down as
//! SYNs pass in one poll) and memory is not short; otherwise it is dropped, and counted.
//! SYNs to ports nobody listens on pass, so that smoltcp refuses them with a reset.

use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, Ipv6Packet, TcpPacket,
};

/// The destination port of a frame that opens a TCP connection (SYN without ACK).
pub fn syn_port(frame: &[u8]) -> Option<u16> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let (proto, payload) = match eth.ethertype() {
        EthernetProtocol::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            // Only the first fragment carries the TCP header.
            if ip.frag_offset() != 0 {
                return None;
            }
            (ip.next_header(), &eth.payload()[usize::from(ip.header_len())..])
        }
        EthernetProtocol::Ipv6 => {
            let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
            (ip.next_header(), ip.payload())
        }
        _ => return None,
    };
    if proto != IpProtocol::Tcp {
        return None;
    }
    let tcp = TcpPacket::new_checked(payload).ok()?;
    (tcp.syn() && !tcp.ack()).then(|| tcp.dst_port())
}

/// Free listening sockets per port for the frames of one poll.
#[derive(Debug, Default)]
pub struct Gate {
    /// (port, listening sockets still free).
    free: alloc::vec::Vec<(u16, usize)>,
    /// Memory is short: no SYN passes.
    short: bool,
}

impl Gate {
    /// Starts a poll: `listening` gives each listened port's free sockets.
    pub fn reset(&mut self, listening: impl Iterator<Item = (u16, usize)>, short: bool) {
        self.free.clear();
        self.free.extend(listening);
        self.short = short;
    }

    /// Whether `frame` may go on to the stack.
    pub fn admit(&mut self, frame: &[u8]) -> bool {
        let Some(port) = syn_port(frame) else { return true };
        let Some(free) = self.free.iter_mut().find(|(p, _)| *p == port).map(|(_, n)| n) else {
            return true;
        };
        if self.short || *free == 0 {
            return false;
        }
        *free -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// An Ethernet + IPv4 (or IPv6) + TCP frame with the given flags byte.
    fn frame(v6: bool, flags: u8, port: u16) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        let tcp = {
            let mut t = vec![0u8; 20];
            t[0..2].copy_from_slice(&40000u16.to_be_bytes());
            t[2..4].copy_from_slice(&port.to_be_bytes());
            t[12] = 5 << 4;
            t[13] = flags;
            t
        };
        if v6 {
            f.extend_from_slice(&[0x86, 0xdd]);
            let mut ip = vec![0u8; 40];
            ip[0] = 6 << 4;
            ip[4..6].copy_from_slice(&(tcp.len() as u16).to_be_bytes());
            ip[6] = 6;
            f.extend(ip);
        } else {
            f.extend_from_slice(&[0x08, 0x00]);
            let mut ip = vec![0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
            ip[9] = 6;
            f.extend(ip);
        }
        f.extend(tcp);
        f
    }

    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;

    #[test]
    fn finds_the_port_of_a_syn_only() {
        for v6 in [false, true] {
            assert_eq!(syn_port(&frame(v6, SYN, 80)), Some(80));
            assert_eq!(syn_port(&frame(v6, SYN | ACK, 80)), None);
            assert_eq!(syn_port(&frame(v6, ACK, 80)), None);
        }
        assert_eq!(syn_port(&frame(false, SYN, 80)[..40]), None, "truncated");
        assert_eq!(syn_port(b"short"), None);
    }

    #[test]
    fn drops_syns_beyond_the_free_sockets_and_when_short() {
        let mut g = Gate::default();
        g.reset([(80, 2)].into_iter(), false);
        let syn = frame(false, SYN, 80);
        assert!(g.admit(&syn) && g.admit(&syn));
        assert!(!g.admit(&syn), "no free listening socket left");
        assert!(g.admit(&frame(false, ACK, 80)), "segments of open connections pass");
        assert!(g.admit(&frame(false, SYN, 22)), "unlistened ports are refused by the stack");
        g.reset([(80, 5)].into_iter(), true);
        assert!(!g.admit(&syn), "memory short");
    }
}
