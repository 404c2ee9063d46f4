//! The xenbus device handshake (`io/xenbus.h`): the states a frontend and its backend
//! publish in xenstore, parsed from the backend's untrusted text.

/// `enum xenbus_state`, ordered as the handshake progresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Unknown = 0,
    Initialising = 1,
    InitWait = 2,
    Initialised = 3,
    Connected = 4,
    Closing = 5,
    Closed = 6,
    Reconfiguring = 7,
    Reconfigured = 8,
}

impl State {
    /// Parses a state node's value; anything but a number 0..=8 is `None`.
    pub fn parse(text: &str) -> Option<State> {
        use State::*;
        Some(match text.trim_end_matches('\0').trim().parse::<u8>().ok()? {
            0 => Unknown,
            1 => Initialising,
            2 => InitWait,
            3 => Initialised,
            4 => Connected,
            5 => Closing,
            6 => Closed,
            7 => Reconfiguring,
            8 => Reconfigured,
            _ => return None,
        })
    }

    /// The value written to xenstore.
    pub fn as_str(self) -> &'static str {
        ["0", "1", "2", "3", "4", "5", "6", "7", "8"][self as usize]
    }
}

/// Parses a MAC address as xenstore holds it (`00:16:3e:00:00:10`).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.trim_end_matches('\0').split(':');
    for b in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_and_print() {
        for n in 0..=8u8 {
            let s = State::parse(&std::format!("{n}")).unwrap();
            assert_eq!(s as u8, n);
            assert_eq!(s.as_str().parse::<u8>().unwrap(), n);
        }
        for bad in ["", "9", "-1", "4x", "connected", "256"] {
            assert_eq!(State::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn macs() {
        assert_eq!(parse_mac("00:16:3e:00:00:1a"), Some([0, 0x16, 0x3e, 0, 0, 0x1a]));
        for bad in
            ["", "00:16:3e:00:00", "00:16:3e:00:00:10:11", "0:16:3e:00:00:10", "zz:16:3e:00:00:10"]
        {
            assert_eq!(parse_mac(bad), None, "{bad:?}");
        }
    }
}
