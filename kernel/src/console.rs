//! The console: the Xen PV console once it is up, the debug port before that and without
//! Xen. [`println!`](crate::println) and the logger write here.

use crate::{arch::debugcon, xen};
use core::fmt::{self, Write};

/// A handle for `write!` to the console.
#[derive(Debug, Clone, Copy)]
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        print(format_args!("{s}"));
        Ok(())
    }

    fn write_fmt(&mut self, args: fmt::Arguments) -> fmt::Result {
        print(args);
        Ok(())
    }
}

/// Writes formatted text to the console: to the PV console in one piece (one notification
/// of dom0), else to the debug port.
pub fn print(args: fmt::Arguments) {
    if !xen::pv_console::write_fmt(args) {
        struct Port;
        impl Write for Port {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                debugcon::write(s.as_bytes());
                Ok(())
            }
        }
        let _ = Port.write_fmt(args);
    }
}

/// For crash reports: to the debug port (Xen's log, or QEMU's debugcon) and, unless the code
/// that crashed holds it, the PV console. Never waits for a lock.
pub fn emergency(args: fmt::Arguments) {
    struct Emergency;
    impl Write for Emergency {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            debugcon::write(s.as_bytes());
            if xen::present() {
                xen::pv_console::try_write(s.as_bytes());
            }
            Ok(())
        }
    }
    let _ = Emergency.write_fmt(args);
}

/// Prints to the console, like `std::print!`.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// Prints a line to the console, like `std::println!`.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
