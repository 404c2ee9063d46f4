//! The runtime's test image. `test=<name>` on the command line picks what it does; the test
//! harness (`cargo xtask test`) checks the console output and how the domain ended.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use kernel::selftest;

kernel::main!(main);

/// An address that is canonical but never mapped.
const UNMAPPED: u64 = 0x0000_7ead_beef_0000;

fn main() {
    let test = kernel::cmdline()
        .split_ascii_whitespace()
        .find_map(|w| w.strip_prefix("test="))
        .unwrap_or("hello");
    kernel::println!("testapp: running {test}");
    match test {
        "hello" => kernel::println!("testapp: hello"),
        "panic" => panic!("testapp: deliberate panic"),
        "page-fault" => {
            let v = selftest::read_at(UNMAPPED);
            kernel::println!("testapp: FAILED: read {v:#x} from an unmapped address");
        }
        "null" => {
            let v = selftest::read_at(8);
            kernel::println!("testapp: FAILED: read {v:#x} from page 0");
        }
        "write-text" => {
            selftest::write_text();
            kernel::println!("testapp: FAILED: text is writable");
        }
        "exec-data" => {
            selftest::execute_data();
            kernel::println!("testapp: FAILED: rodata is executable");
        }
        "stack-overflow" => {
            let n = selftest::overflow_stack(0);
            kernel::println!("testapp: FAILED: recursion returned {n}");
        }
        "heap" => {
            // Allocate and free more than a first-fit toy heap would survive.
            extern crate alloc;
            let mut v = alloc::vec::Vec::new();
            for i in 0..1000u32 {
                v.push(alloc::vec![i as u8; 1 + (i as usize * 37) % 5000]);
            }
            let sum: usize = v.iter().map(|b| b.len()).sum();
            drop(v);
            let big = alloc::vec![0xa5u8; 32 << 20];
            kernel::println!(
                "testapp: heap ok {sum} {}",
                big.iter().filter(|&&b| b == 0xa5).count()
            );
        }
        "reboot" => kernel::reboot(),
        "idle" => {
            kernel::println!("testapp: idle");
            selftest::idle_forever();
        }
        "hang" => loop {
            core::hint::spin_loop();
        },
        other => panic!("testapp: unknown test {other:?}"),
    }
}
