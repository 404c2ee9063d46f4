//! Event channels (`event_channel.h`).

use super::abi::{self, evtchn_send, EvtchnPort};
use super::hypercall::hypercall_cmd;

/// Notifies the other end of `port`.
pub fn send(port: EvtchnPort) {
    let mut arg = evtchn_send { port };
    // SAFETY: EVTCHNOP_send takes a struct evtchn_send, which `arg` is.
    unsafe { hypercall_cmd(abi::HYPERVISOR_EVENT_CHANNEL_OP, abi::EVTCHNOP_SEND, &mut arg) };
}
