//! The example application. It grows into an HTTP service with state on a block device; for
//! now it greets, says who it is (from xenstore) and returns, which powers the domain off.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

kernel::main!(main);

async fn main() {
    kernel::println!("Hello from app-example, a Rust unikernel on Xen!");
    log::info!("command line: {:?}", kernel::cmdline());
    if let (Ok(domid), Ok(name)) =
        (kernel::xenstore::read("domid").await, kernel::xenstore::read("name").await)
    {
        kernel::println!("I am domain {domid}, named {name:?}");
    }
}
