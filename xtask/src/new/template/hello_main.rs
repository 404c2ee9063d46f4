//! {{name}}: a unikernel application. The runtime's `cargo xtask build --manifest-path
//! Cargo.toml` (from the runtime's checkout) builds it into a PVH image, and `cargo xtask run
//! --manifest-path ...` runs it under Xen. Its logic is in src/lib.rs, tested on the host.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use {{crate}}::Whereabouts;

kernel::main!(main);

async fn main() {
    kernel::println!("Hello from {{name}}!");
    let domid = kernel::xenstore::read("domid").await.ok();
    let whereabouts = Whereabouts {
        app: "{{name}}",
        domid: domid.as_deref(),
    };
    kernel::println!("{whereabouts}");
}
