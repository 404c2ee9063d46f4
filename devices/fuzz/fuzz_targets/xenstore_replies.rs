//! Whatever xenstored (or a hostile dom0) writes into the response ring: the bytes are fed
//! to the reassembler in chunks chosen by the input, and every message is routed as the
//! client would. Nothing may panic; stray replies are counted.
#![no_main]

use devices::xenstore::{Reassembler, Router};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else { return };
    let mut r = Reassembler::new();
    let mut router = Router::new();
    router.add_watch("w1");
    for _ in 0..4 {
        router.start_request();
    }
    for chunk in stream.chunks(usize::from(split).max(1)) {
        r.feed(chunk);
        loop {
            match r.next_message() {
                Ok(Some(m)) => {
                    let id = m.header.req_id;
                    let _ = router.route(m);
                    let _ = router.take_reply(id);
                    let _ = router.take_event("w1");
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
