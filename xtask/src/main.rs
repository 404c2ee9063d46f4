//! The runtime's own `cargo xtask` (the alias in .cargo/config.toml): see the library.

fn main() -> std::process::ExitCode {
    xtask::main()
}
