//! The example application. It grows into an HTTP service with state on a block device; for
//! now it greets and returns, which powers the domain off.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

kernel::main!(main);

fn main() {
    kernel::println!("Hello from app-example, a Rust unikernel on Xen!");
    log::info!("command line: {:?}", kernel::cmdline());
}
