//! {{name}}'s logic, free of kernel calls so that `cargo test` runs its unit tests on this
//! machine (src/main.rs, the image's entry with the network I/O, is built for the guest
//! alone).

#![cfg_attr(not(test), no_std)]

pub mod routes;
