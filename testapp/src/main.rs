//! The runtime's test image. `test=<name>` on the command line picks what it does; the test
//! harness (`cargo xtask test`) checks the console output and how the domain ended. Every
//! key it reads is declared in its Cargo.toml (`[package.metadata.unikernel.keys]`).

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use kernel::selftest;

kernel::main!(main);

async fn main() {
    let test = kernel::config().str("test").unwrap_or("hello");
    kernel::println!("testapp: running {test}");
    match test {
        "hello" => kernel::println!("testapp: hello"),
        "panic" => panic!("testapp: deliberate panic"),
        "page-fault" => {
            let v = selftest::read_unmapped();
            kernel::println!("testapp: FAILED: read {v:#x} from an unmapped address");
        }
        "null" => {
            let v = selftest::read_page_zero();
            kernel::println!("testapp: FAILED: read {v:#x} from page 0");
        }
        "write-text" => {
            selftest::write_text();
            kernel::println!("testapp: FAILED: text is writable");
        }
        "triple-fault" => selftest::triple_fault(),
        "write-page-table" => {
            selftest::write_page_table();
            kernel::println!("testapp: FAILED: the page tables are writable");
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
        "grants" => grants(),
        "services" => services().await,
        "net" => net().await,
        "blk" => blk().await,
        "bench-blk" => bench_blk().await,
        "blk-save" => blk_save().await,
        "idle" => {
            kernel::println!("testapp: idle");
            selftest::idle_forever();
        }
        "hang" => loop {
            core::hint::spin_loop();
        },
        // The network services, and a 2 s sleep that dom0 pauses the domain in.
        "pause" => {
            kernel::spawn(net());
            timed_sleep().await;
            kernel::time::sleep(kernel::time::Duration::from_secs(3600)).await;
        }
        // The network services, and a disk attached later that is read until detached.
        "hotplug-blk" => {
            kernel::spawn(net());
            hotplug_blk().await;
            kernel::time::sleep(kernel::time::Duration::from_secs(3600)).await;
        }
        // Asks to be told of `xl shutdown`, then never finishes: the grace period ends it.
        "ignore-shutdown" => {
            kernel::println!("testapp: waiting for a shutdown request");
            let r = kernel::lifecycle::requested().await;
            kernel::println!("testapp: {r:?} requested; ignoring it");
            kernel::time::sleep(kernel::time::Duration::from_secs(3600)).await;
        }
        other => panic!("testapp: unknown test {other:?}"),
    }
}

/// dom0 starts the clock (data/go), we sleep 2 s between two writes (data/sleep = start,
/// end) it timestamps.
async fn timed_sleep() {
    use kernel::time::{sleep, Duration, Instant};
    use kernel::xenstore;
    let go = xenstore::watch("data/go").await.expect("watch go");
    while xenstore::read("data/go").await.is_err() {
        go.next().await.expect("watch event");
    }
    xenstore::write("data/sleep", "start").await.expect("write");
    let t = Instant::now();
    sleep(Duration::from_secs(2)).await;
    let slept = t.elapsed();
    xenstore::write("data/sleep", "end").await.expect("write");
    kernel::println!("testapp: slept {} ms by our clock", slept.as_millis());
}

/// Xen services end to end; dom0 plays its part (see xtask's e2e suite).
async fn services() {
    extern crate alloc;
    use kernel::time::{sleep, Duration};
    use kernel::xenstore;
    let domid = xenstore::read("domid").await.expect("read domid");
    let name = xenstore::read("name").await.expect("read name");
    kernel::println!("testapp: domid {domid} name {name}");
    match xenstore::read("data/no-such-key").await {
        Err(e) => kernel::println!("testapp: missing key gives: {e}"),
        Ok(v) => kernel::println!("testapp: FAILED: missing key read as {v:?}"),
    }
    xenstore::write("data/written-by-guest", "yes").await.expect("write data/");
    xenstore::set_perms("data/written-by-guest", &[&alloc::format!("n{domid}"), "r0"])
        .await
        .expect("set_perms");
    let perms = xenstore::get_perms("data/written-by-guest").await.expect("get_perms");
    let names = xenstore::directory("data").await.expect("directory");
    kernel::println!("testapp: perms {} dir {}", perms.join(","), names.join(","));
    let tx_value = xenstore::transaction(|tx| async move {
        tx.write("data/tx", "in-transaction").await?;
        tx.read("data/tx").await
    })
    .await
    .expect("transaction");
    kernel::println!("testapp: transaction read back {tx_value}");

    let watch = xenstore::watch("data/test").await.expect("watch");
    kernel::println!("testapp: watching data/test");
    loop {
        let path = watch.next().await.expect("watch event");
        if let Ok(v) = xenstore::read(&path).await {
            kernel::println!("testapp: watch fired: {path} = {v}");
            if v == "hello-from-dom0" {
                break;
            }
        }
    }
    watch.unwatch().await.expect("unwatch");

    timed_sleep().await;
    if let Some((s, _)) = kernel::time::wall_clock() {
        kernel::println!("testapp: wall clock {s} s since the epoch");
    }
    kernel::println!("testapp: idle");
    sleep(Duration::from_secs(3600)).await;
}

/// Grants one page to dom0 until the table (grown on demand) is full, then drops it, which
/// ends every grant.
fn grants() {
    use kernel::grant::{self, GrantedPage};
    let mut page = GrantedPage::new(0, true).expect("first grant");
    let mut n = 1;
    let err = loop {
        match page.share(0, n % 2 == 0) {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
    };
    let (frames, max, in_use) = grant::stats();
    kernel::println!("testapp: granted {n} refs in {frames}/{max} frames, then: {err}");
    drop(page);
    let ended = in_use - grant::stats().2;
    let again = GrantedPage::new(0, false).is_ok();
    kernel::println!("testapp: in use {in_use}, ended {ended}, grant after ending: {again}");
}

/// Network services for the end-to-end tests and `cargo xtask bench net`: TCP discard on
/// port 9, TCP source on port 19 (`bench_bytes=` bytes per connection, default 64 MiB),
/// a minimal HTTP responder on port 80, UDP echo on port 7. Prints every interface's IPv4
/// address once it has one (DHCP included).
/// `storm=1`: as many VM exits and entries as the vCPU can make (SCHEDOP_yield, 100 at a
/// time between the other tasks' turns), while the network runs: for hunting faults that
/// show at the first guest access after a VM entry (the triple fault of issue 13).
async fn hypercall_storm() {
    let mut n: u64 = 0;
    loop {
        for _ in 0..100 {
            kernel::selftest::sched_yield();
        }
        n += 100;
        if n.is_multiple_of(1_000_000) {
            kernel::println!("testapp: {n} hypercalls");
        }
        kernel::yield_now().await;
    }
}

async fn net() {
    extern crate alloc;
    use kernel::net::{SocketOptions, TcpListener, UdpSocket};
    let ifaces = kernel::net::interfaces().await;
    for (n, i) in ifaces.iter().enumerate() {
        match kernel::net::wait_ipv4(n).await {
            Ok(a) => kernel::println!("testapp: {} has {a}", i.name),
            Err(e) => kernel::println!("testapp: {}: {e}", i.name),
        }
    }
    let bytes: u64 = kernel::config().size("bench_bytes").unwrap_or(64 << 20);
    if kernel::config().bool("storm") == Some(true) {
        kernel::spawn(hypercall_storm());
    }
    let big =
        SocketOptions { backlog: 4, recv_buffer: 64 << 10, send_buffer: 64 << 10, nodelay: false };
    let mut discard = TcpListener::bind_with(9, big).await.expect("bind 9");
    let mut source = TcpListener::bind_with(19, big).await.expect("bind 19");
    let http = SocketOptions { backlog: 16, nodelay: true, ..SocketOptions::default() };
    let mut http = TcpListener::bind_with(80, http).await.expect("bind 80");
    let udp = UdpSocket::bind(7).await.expect("bind 7");
    kernel::spawn(async move {
        loop {
            let Ok((mut s, _)) = discard.accept().await else { continue };
            kernel::spawn(async move {
                let mut buf = alloc::vec![0u8; 64 << 10];
                let mut total = 0u64;
                while let Ok(n @ 1..) = s.read(&mut buf).await {
                    total += n as u64;
                }
                log::info!("discard: {total} bytes");
            });
        }
    });
    kernel::spawn(async move {
        loop {
            let Ok((mut s, _)) = source.accept().await else { continue };
            kernel::spawn(async move {
                let buf = alloc::vec![b'x'; 64 << 10];
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(buf.len() as u64) as usize;
                    if s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    left -= n as u64;
                }
                let _ = s.flush().await;
            });
        }
    });
    kernel::spawn(async move {
        loop {
            let Ok((mut s, _)) = http.accept().await else { continue };
            kernel::spawn(async move {
                // Answers every request head on the connection with a fixed page.
                let mut buf = alloc::vec![0u8; 4096];
                let mut have = 0;
                while let Ok(n @ 1..) = s.read(&mut buf[have..]).await {
                    have += n;
                    while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.copy_within(end + 4..have, 0);
                        have -= end + 4;
                        let body = "testapp: hello over HTTP\n";
                        let r = alloc::format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if s.write_all(r.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    if have == buf.len() {
                        return;
                    }
                }
            });
        }
    });
    kernel::println!("testapp: net services up");
    let mut buf = alloc::vec![0u8; 2048];
    loop {
        if let Ok((n, peer)) = udp.recv_from(&mut buf).await {
            let _ = udp.send_to(&buf[..n], peer).await;
        }
    }
}

/// FNV-1a, 64-bit: the checksum the e2e test recomputes on the host.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Block devices end to end: checksums the first MiB of xvda (prepared by the host), writes
/// a pattern to its second MiB and flushes; a write to the read-only xvdb must fail.
async fn blk() {
    extern crate alloc;
    let disks = kernel::block::disks().await;
    for d in &disks {
        kernel::println!(
            "testapp: disk {} {} bytes, sector {}, {}",
            d.name(),
            d.capacity(),
            d.sector_size(),
            if d.read_only() { "read-only" } else { "read-write" }
        );
    }
    let a = kernel::block::disk("xvda").await.expect("no xvda");
    let mut buf = alloc::vec![0u8; 1 << 20];
    a.read_at(0, &mut buf).await.expect("read xvda");
    kernel::println!("testapp: xvda first MiB fnv1a {:016x}", fnv1a(&buf));
    let pattern: alloc::vec::Vec<u8> = (0..1usize << 20).map(|i| (i * 31 + 7) as u8).collect();
    a.write_at(1 << 20, &pattern).await.expect("write xvda");
    a.flush().await.expect("flush xvda");
    let mut back = alloc::vec![0u8; 1 << 20];
    a.read_at(1 << 20, &mut back).await.expect("read back");
    assert!(back == pattern, "read back differs from what was written");
    kernel::println!("testapp: pattern written and flushed");
    if let Some(b) = kernel::block::disk("xvdb").await {
        match b.write_at(0, &[0u8; 512]).await {
            Ok(()) => kernel::println!("testapp: FAILED: wrote to read-only xvdb"),
            Err(e) => kernel::println!("testapp: xvdb write refused: {e}"),
        }
        let mut s = alloc::vec![0u8; 512];
        b.read_at(512, &mut s).await.expect("read xvdb");
        kernel::println!(
            "testapp: xvdb sector 1 starts {}",
            u64::from_le_bytes(s[..8].try_into().unwrap())
        );
    }
    kernel::println!("testapp: blk done");
}

/// Waits for a disk to be attached, prints the checksum of its first MiB, then reads it
/// over and over until the reads fail (it was detached).
async fn hotplug_blk() {
    extern crate alloc;
    let known = kernel::block::disks().await;
    kernel::println!("testapp: waiting for a disk");
    let d = kernel::block::disk_added(&known).await;
    let mut buf = alloc::vec![0u8; 1 << 20];
    d.read_at(0, &mut buf).await.expect("read the new disk");
    kernel::println!("testapp: {} first MiB fnv1a {:016x}", d.name(), fnv1a(&buf));
    let mut reads = 0u64;
    loop {
        match d.read_at(reads % 16 * 65536, &mut buf[..65536]).await {
            Ok(()) => reads += 1,
            Err(e) => {
                kernel::println!("testapp: reading {} failed: {e} (after {reads} reads)", d.name());
                break;
            }
        }
    }
    let left = kernel::block::disks().await.iter().filter(|x| x.name() == d.name()).count();
    kernel::println!("testapp: {} still listed: {}", d.name(), left > 0);
}

/// Byte `j` of MiB `m` of the pattern `blk-save` writes (xtask's check computes it too).
fn blk_save_byte(m: usize, j: usize) -> u8 {
    (j.wrapping_mul(7) ^ m.wrapping_mul(131) ^ (j >> 9)) as u8
}

/// Disk writes across `xl save` and `xl restore`: MiB after MiB of xvda's first
/// `bench_mib=` MiB (default 32), each written once with its own content, 50 ms apart (so
/// that the writing lasts some seconds and requests are in flight when the suspend comes);
/// then a flush, and everything read back and compared.
async fn blk_save() {
    extern crate alloc;
    let mib: usize = kernel::config().int("bench_mib").unwrap_or(32);
    let a = kernel::block::disk("xvda").await.expect("no xvda");
    kernel::println!("testapp: writing the pattern");
    let mut buf = alloc::vec![0u8; 1 << 20];
    for m in 0..mib {
        for (j, b) in buf.iter_mut().enumerate() {
            *b = blk_save_byte(m, j);
        }
        a.write_at((m as u64) << 20, &buf).await.expect("write xvda");
        kernel::time::sleep(kernel::time::Duration::from_millis(50)).await;
    }
    a.flush().await.expect("flush xvda");
    let mut bad = 0;
    for m in 0..mib {
        a.read_at((m as u64) << 20, &mut buf).await.expect("read xvda");
        bad += buf.iter().enumerate().filter(|&(j, &b)| b != blk_save_byte(m, j)).count();
    }
    kernel::println!(
        "testapp: pattern of {mib} MiB written and flushed, {bad} bytes differ, resumes {}",
        kernel::lifecycle::resumes()
    );
}

/// `cargo xtask bench blk`, our side (the Linux guest runs rig/blkbench.c, the same
/// phases): over the first `bench_mib=` MiB of xvda (default 32), sequential writes of
/// 1 MiB then a flush, sequential reads of 1 MiB, 4 KiB reads and 4 KiB writes (then a
/// flush) at `bench_ops=` pseudo-random offsets (default 1000), one request at a time,
/// `bench_runs=` times (default 3). Prints `bench PHASE ours SECONDS AMOUNT` lines.
async fn bench_blk() {
    extern crate alloc;
    let arg = |key: &str, default: u64| kernel::config().int(key).unwrap_or(default);
    let (mib, ops, runs) = (arg("bench_mib", 32), arg("bench_ops", 1000), arg("bench_runs", 3));
    let disk = kernel::block::disk("xvda").await.expect("no xvda");
    let bytes = mib << 20;
    assert!(disk.capacity() >= bytes, "xvda is smaller than bench_mib");
    let mut big = alloc::vec![0x5au8; 1 << 20];
    let mut small = alloc::vec![0xa5u8; 4096];
    let report = |phase: &str, t: kernel::time::Instant, amount: u64| {
        let secs = t.elapsed().as_secs_f64();
        kernel::println!("bench {phase} ours {secs:.3} {amount}");
    };
    for _ in 0..runs {
        let t = kernel::time::Instant::now();
        for off in (0..bytes).step_by(1 << 20) {
            disk.write_at(off, &big).await.expect("write");
        }
        disk.flush().await.expect("flush");
        report("seq-write", t, bytes);
        let t = kernel::time::Instant::now();
        for off in (0..bytes).step_by(1 << 20) {
            disk.read_at(off, &mut big).await.expect("read");
        }
        report("seq-read", t, bytes);
        let t = kernel::time::Instant::now();
        for off in offsets(ops, bytes) {
            disk.read_at(off, &mut small).await.expect("read");
        }
        report("rand-read", t, ops);
        let t = kernel::time::Instant::now();
        for off in offsets(ops, bytes) {
            disk.write_at(off, &small).await.expect("write");
        }
        disk.flush().await.expect("flush");
        report("rand-write", t, ops);
    }
    kernel::println!("testapp: bench done");
}

/// `n` 4 KiB-aligned offsets below `bytes`, from the LCG blkbench.c uses too.
fn offsets(n: u64, bytes: u64) -> impl Iterator<Item = u64> {
    let mut x: u64 = 12345;
    (0..n).map(move |_| {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((x >> 33) % (bytes / 4096)) * 4096
    })
}
