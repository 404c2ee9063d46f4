//! The end-to-end suite: guests under real Xen in the emulated machine, all in one boot of
//! it. Each test is a guest (or a few) with its steps and a check of what came back.

use crate::build::Image;
use crate::rig::plan::{Disk, End, Forward, Guest, GuestResult, Plan, Step};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The test that triple-faults on purpose (every other guest fails its test if it does).
const TRIPLE_FAULT: &str = "triple-fault";

/// A test: the guest to run and how to judge its result.
struct Test {
    guest: Guest,
    check: fn(&GuestResult) -> Result<(), String>,
}

fn image<'a>(images: &'a [Image], package: &str) -> &'a Path {
    &images.iter().find(|i| i.package == package).expect("image built").path
}

fn expect_end(r: &GuestResult, end: End) -> Result<(), String> {
    match &r.end {
        Some(e) if *e == end => Ok(()),
        Some(e) => Err(format!("ended {e:?}, expected {end:?}")),
        None => Err(format!(
            "no end recorded (xl create rc {:?}: {})",
            r.create_rc,
            r.create_log.trim()
        )),
    }
}

fn expect_console(r: &GuestResult, text: &str) -> Result<(), String> {
    if r.console.contains(text) {
        Ok(())
    } else {
        let tail: Vec<&str> =
            r.console.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        Err(format!("console lacks {text:?}; console (last lines):\n    {}", tail.join("\n    ")))
    }
}

fn expect_dom0(r: &GuestResult, step: &str, rc: i32, text: &str) -> Result<(), String> {
    match r.dom0.get(step) {
        None => Err(format!("dom0 step {step} did not run")),
        Some((got, out)) if *got != rc || !out.contains(text) => Err(format!(
            "dom0 step {step}: exit {got} (expected {rc}), output lacks {text:?}:\n    {}",
            out.trim().replace('\n', "\n    ")
        )),
        Some(_) => Ok(()),
    }
}

/// A host step's result holds `text`.
fn expect_host(r: &GuestResult, step: &str, text: &str) -> Result<(), String> {
    match r.host.get(step) {
        None => Err(format!("host step {step} did not run")),
        Some(Err(why)) => Err(format!("host step {step}: {why}")),
        Some(Ok(out)) if !out.contains(text) => Err(format!(
            "host step {step}: answer lacks {text:?}:\n    {}",
            out.trim().replace('\n', "\n    ")
        )),
        Some(Ok(_)) => Ok(()),
    }
}

/// A host step that GETs `path` from the host's 127.0.0.1:`port` (a [`Forward`] to the
/// guest) while dom0 waits: passes with the body of a 200 answer.
fn host_http(step: &str, port: u16, path: &str) -> Step {
    let path = path.to_string();
    Step::host(step, 90, move || {
        match crate::rig::http_get(port, &path, Duration::from_secs(60))? {
            (200, body) => Ok(body),
            (code, body) => Err(format!("status {code}: {body}")),
        }
    })
}

/// dom0 timestamps the guest's writes of data/sleep ("start", then "end" 2 s later) as
/// xenstore-watch reports them, after starting the guest's clock with data/go.
/// Events: the watch's own first one, "start", "end"; each is stamped with the shell's
/// `read` of /proc/uptime (no fork between the event and its timestamp).
const SLEEP_MEASURE: &str = "f=/tmp/sleep-$DOMID; \
    (xenstore-watch -n 3 /local/domain/$DOMID/data/sleep | while read p; do \
       read up idle < /proc/uptime; echo \"$up\"; done > $f) & \
    sleep 1; xenstore-write /local/domain/$DOMID/data/go 1; wait; cat $f; \
    awk 'NR == 2 {s = $1} NR == 3 {e = $1} END {printf \"measured %.3f\\n\", e - s}' $f";

/// CPU seconds (`xl list` Time(s)) the guest uses in 5 s of idling.
const IDLE_CPU: &str = "t1=$(xl list $DOMID | awk 'NR == 2 {print $6}'); sleep 5; \
    t2=$(xl list $DOMID | awk 'NR == 2 {print $6}'); \
    echo \"cpu $(awk -v a=$t1 -v b=$t2 'BEGIN {print b - a}')\"";

/// The number after `word` in a dom0 step's output.
fn dom0_figure(r: &GuestResult, step: &str, word: &str) -> Result<f64, String> {
    let (_, out) = r.dom0.get(step).ok_or_else(|| format!("dom0 step {step} did not run"))?;
    out.lines().find_map(|l| l.strip_prefix(word).and_then(|v| v.trim().parse().ok())).ok_or_else(
        || {
            format!(
                "dom0 step {step} printed no {word:?} figure:\n    {}",
                out.trim().replace('\n', "\n    ")
            )
        },
    )
}

/// The checksum the `blk` guest must print (computed from the disk file before the run).
static BLK_SUM: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// The kv guest's disk file on the host.
static KV_DISK: std::sync::Mutex<PathBuf> = std::sync::Mutex::new(PathBuf::new());

/// FNV-1a, 64-bit, as testapp computes it.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Two PUTs and a DELETE of another key, answered 201/201/200.
const KV_PUT: &str = "req() { printf \"$1 /kv/$2 HTTP/1.1\\r\\nContent-Length: ${#3}\\r\\nConnection: close\\r\\n\\r\\n$3\" \
    | nc -w 5 10.0.0.11 80 | head -1; }; req PUT greeting 'kept across a destroy'; req PUT other x; \
    req DELETE other";

/// Destroys the guest after its PUTs returned and starts a new one on the same disk.
const KV_RESTART: &str = "xl destroy $DOMID && rig_xl_create /work/cfg/kv.cfg > /dev/null && \
    i=0; while [ $i -lt 60 ]; do v=$(wget -q -O - http://10.0.0.11/kv/greeting) && break; \
    sleep 1; i=$((i+1)); done; echo \"got: $v\"";

/// A fourth record (PUT torn, in sector 4 after the superblock and three records), the
/// guest destroyed, one byte of that record's value flipped on the disk, a new guest: the
/// record must be found corrupt and never served, the older keys still are.
const KV_CORRUPT: &str = "echo \"torn: $(printf 'PUT /kv/torn HTTP/1.1\\r\\nContent-Length: 5\\r\\nConnection: close\\r\\n\\r\\nvalue' \
    | nc -w 5 10.0.0.11 80 | head -1)\" && d=/local/domain/0/backend/vbd/$(xl domid kv)/51712 && \
    disk=$(xenstore-read $d/params) && echo \"disk $disk\" && xl destroy kv && off=$((4 * 512 + 24 + 4)) && \
    printf X | dd of=$disk bs=1 seek=$off conv=notrunc,fsync 2> /dev/null && \
    echo \"flipped byte $off\" && rig_xl_create /work/cfg/kv.cfg > /dev/null && \
    i=0; while [ $i -lt 60 ]; do c=$(curl -s -o /dev/null -w '%{http_code}' http://10.0.0.11/kv/torn) \
    && [ \"$c\" != 000 ] && break; sleep 1; i=$((i+1)); done; \
    echo \"after: $c greeting: $(curl -sS -m 10 http://10.0.0.11/kv/greeting)\"";

/// 200 requests one after the other on one keep-alive connection (curl reuses it only if
/// every answer's framing is right); prints "ok N" with N the 200 answers, and how many
/// connections curl opened.
const HTTP_SEQUENTIAL: &str = "u=''; i=0; while [ $i -lt 200 ]; do u=\"$u -o /dev/null http://10.0.0.10/\"; i=$((i+1)); done; \
    curl -sS -m 120 -w '%{http_code} %{num_connects}\\n' $u > /tmp/seq; \
    echo ok $(grep -c '^200 ' /tmp/seq), connections $(awk '{n+=$2} END {print n}' /tmp/seq)";

/// 50 requests at once, each its own curl; prints "ok N" with N the successes.
const HTTP_CONCURRENT: &str = "rm -rf /tmp/c; mkdir /tmp/c; i=0; while [ $i -lt 50 ]; do \
    (curl -sS -m 60 -o /tmp/c/$i http://10.0.0.10/ && grep -q '^requests:' /tmp/c/$i && touch /tmp/c/ok$i) & \
    i=$((i+1)); done; wait; echo ok $(ls /tmp/c | grep -c '^ok')";

/// Three datagrams to the UDP echo port, each answered.
const UDP_ECHO: &str =
    "for w in one two three; do echo \"udp $w\" | socat -t 5 - UDP:10.0.0.10:7; done";

/// The net guest's second vif has no `ip1=`: it asks dom0's DHCP server; its lease is
/// pinged and its status page fetched through it.
const NET_DHCP: &str = "a=$(rig_wait_lease 00:16:3e:00:00:1a 90) && echo \"lease $a\" && \
    ping -c 2 -W 5 $a && curl -sS -m 20 http://$a/";

/// A request line that is not HTTP: the answer must be 400.
const HTTP_MALFORMED: &str = "printf 'GET / HTTP/1.1 extra\r\n\r\n' | nc -w 5 10.0.0.10 80";

/// app-example as a guest of `memory` MiB with one vif at `ip`.
fn load_guest(name: &str, app: &Path, memory: u32, ip: &str, mac: &str) -> Guest {
    let mut g = Guest::ours(name, app, &format!("log=info ip={ip}/24 gw=10.0.0.1"));
    g.config.memory_mib = memory;
    g.config.vifs.push(format!("bridge=xenbr0,mac={mac}"));
    g
}

/// app-example's page whose length never changes (ab counts a length that differs from
/// the first answer's as a failed request).
const LOAD_PATH: &str = "/hello";

/// ApacheBench from dom0 with `args` against app-example's [`LOAD_PATH`] at `ip`; ab's
/// summary and how it ended. ab's own timeout (-s) is 30 s a request.
fn ab(args: &str, ip: &str) -> String {
    format!(
        "ab -q -s 30 {args} http://{ip}{LOAD_PATH} > /tmp/ab.out 2>&1; rc=$?; \
         grep -E '^(Complete|Failed|Non-2xx|Requests per|Time taken)|Connect:|apr_' /tmp/ab.out; \
         tail -3 /tmp/ab.out | grep -v '^$'; echo \"ab exit $rc\"; exit $rc"
    )
}

/// app-example's heap in use, from its /metrics, as `heap_used_bytes N`.
fn heap_used(ip: &str) -> String {
    format!("curl -sS -m 20 http://{ip}/metrics | grep -E '^heap_(size|used|available)_bytes '")
}

/// 1,000 connections at once (ab -c 1000), each answered or refused; then, as soon as ab
/// is done, one more request that must be answered within a second.
const CONNS_BURST: &str = "ulimit -n 4096; ab -r -q -s 120 -n 1000 -c 1000 http://IP/hello > /tmp/ab.out 2>&1; \
    rc=$?; echo \"next request: $(curl -s -m 1 -o /dev/null -w '%{http_code}' http://IP/hello)\"; \
    grep -E '^(Complete|Failed|Non-2xx|Time taken)|Connect:|apr_' /tmp/ab.out; echo \"ab exit $rc\"";

/// 200 connections that each send a request head one byte every 5 s (busybox nc; dom0
/// takes a while to start them all, so the count is awaited), and meanwhile five ordinary
/// requests, each of which must be answered within 10 s. Killing
/// the nc processes ends the clients (their next write fails); `killall sleep` would also
/// end dom0's watchdog, which powers the machine off.
const SLOWLORIS: &str = "i=0; while [ $i -lt 200 ]; do \
      ( (printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\n'; while :; do sleep 5; printf X; done) \
        | nc IP 80 > /dev/null 2>&1 ) < /dev/null > /dev/null 2>&1 & i=$((i+1)); done; \
    n=0; j=0; while [ $j -lt 60 ]; do n=$(netstat -tn | grep -c 'IP:80 *ESTABLISHED'); \
      [ $n -ge 200 ] && break; [ $((j % 5)) = 0 ] && echo \"at $j s: $n connected, \
      $(ps | grep -c '[n]c IP') nc running\"; sleep 1; j=$((j+1)); done; \
    echo \"slow clients connected: $n (after $j s)\"; \
    curl -s -m 10 http://IP/metrics | grep -E '^(tcp_|http_)'; ok=0; \
    for k in 1 2 3 4 5; do c=$(curl -s -m 10 -o /dev/null -w '%{http_code}' http://IP/hello); \
      echo \"request $k: $c\"; [ \"$c\" = 200 ] && ok=$((ok+1)); sleep 2; done; \
    echo \"normal requests served: $ok of 5\"; \
    echo \"slow clients still connected: $(netstat -tn | grep -c 'IP:80 *ESTABLISHED')\"; \
    killall nc > /dev/null 2>&1; true";

/// ab completed `n` requests with none failed and every answer a 2xx.
fn expect_ab(r: &GuestResult, step: &str, n: u32) -> Result<(), String> {
    expect_dom0(r, step, 0, &format!("Complete requests:      {n}"))?;
    expect_dom0(r, step, 0, "Failed requests:        0")?;
    match r.dom0.get(step) {
        Some((_, out)) if out.contains("Non-2xx") => {
            Err(format!("dom0 step {step}: answers other than 2xx:\n    {}", out.trim()))
        }
        _ => Ok(()),
    }
}

/// The guest is still the domain it was created as (no reboot, no crash since).
const SAME_DOMAIN: &str = "now=$(xl domid $(xl domname $DOMID 2>/dev/null) 2>/dev/null); \
    st=$(rig_state $(xl domname $DOMID)); echo \"domid $DOMID now ${now:-gone}, state $st\"; \
    [ \"$now\" = \"$DOMID\" ] && case $st in *c*|*s*) false ;; *) echo same domain ;; esac";

/// What the Linux guest writes at the start of its disk, to be found in the file that comes
/// back to the host.
const LINUX_MARKER: &str = "linux-guest-was-here";

/// The disk file that came back starts with `prefix` (and is otherwise the pattern).
fn expect_disk(r: &GuestResult, disk: &str, prefix: &[u8]) -> Result<(), String> {
    let Some(path) = r.disks.get(disk) else {
        return Err(format!("disk {disk} did not come back"));
    };
    let data = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    if !data.starts_with(prefix) {
        return Err(format!(
            "disk {disk} does not start with {:?}",
            String::from_utf8_lossy(prefix)
        ));
    }
    if data.len() < 1024 || data[512..520] != 1u64.to_le_bytes() {
        return Err(format!("disk {disk}: sector 1 lost its pattern"));
    }
    Ok(())
}

/// A disk image of `mib` MiB whose every 512-byte sector starts with its number.
fn pattern_disk(path: &Path, mib: u64) -> Result<PathBuf> {
    let mut data = vec![0u8; (mib << 20) as usize];
    for (i, sector) in data.chunks_mut(512).enumerate() {
        sector[..8].copy_from_slice(&(i as u64).to_le_bytes());
    }
    std::fs::write(path, data)?;
    Ok(path.to_path_buf())
}

/// `xenstore-read` of a backend's state node, by the guest's `$DOMID`.
fn backend_state(kind: &str, dev: &str) -> String {
    format!("xenstore-read /local/domain/0/backend/{kind}/$DOMID/{dev}/state")
}

fn tests(images: &[Image], scratch: &Path) -> Result<Vec<Vec<Test>>> {
    let app = image(images, "app-example");
    let testapp = image(images, "testapp");
    let disk_linux = pattern_disk(&scratch.join("linux.img"), 16)?;
    let disk_ours = pattern_disk(&scratch.join("ours.img"), 16)?;
    let disk = |file: &PathBuf| Disk {
        host_file: file.clone(),
        vdev: "xvda".into(),
        writable: true,
        as_file: false,
    };
    let disk_file = pattern_disk(&scratch.join("linux-file.img"), 8)?;

    let hello = Test {
        guest: Guest::ours("hello", app, "").step(Step::WaitEnd(90)).step(Step::Dom0(
            "xl-dry-run".into(),
            "for f in /work/xl/*.xl; do xl create -n $f || echo FAILED: $f; done".into(),
        )),
        check: |r| {
            // Every xl file `cargo xtask xl` generated is accepted by the real xl.
            expect_dom0(r, "xl-dry-run", 0, "app-example")?;
            expect_dom0(r, "xl-dry-run", 0, r#"say \"hi\" \\o/"#)?;
            if r.dom0.get("xl-dry-run").is_some_and(|(_, o)| o.contains("FAILED")) {
                return Err(format!("xl refused a generated file:\n{}", r.dom0["xl-dry-run"].1));
            }
            expect_end(r, End::Poweroff)?;
            expect_console(r, "Hello from app-example")?;
            expect_console(r, "Xen 4.17, PVH guest")
        },
    };
    let panic = Test {
        guest: Guest::ours("panic", testapp, "test=panic").step(Step::WaitEnd(90)),
        check: |r| {
            expect_end(r, End::Crash)?;
            expect_console(r, "panic: testapp: deliberate panic at testapp/src/main.rs")
        },
    };
    let page_fault = Test {
        guest: Guest::ours("page-fault", testapp, "test=page-fault").step(Step::WaitEnd(90)),
        check: |r| {
            expect_end(r, End::Crash)?;
            expect_console(r, "page fault at address 0x00007eadbeef0000: not present, read")
        },
    };
    // The harness's own check: a triple fault ends the guest as crashed and is reported.
    let triple_fault = Test {
        guest: {
            let mut g = Guest::ours(TRIPLE_FAULT, testapp, "test=triple-fault");
            g.config.memory_mib = 8; // its RAM is kept with the results
            g.step(Step::WaitEnd(90))
        },
        check: |r| {
            expect_end(r, End::Crash)?;
            match r.triple_faults.first() {
                Some(line) if line.contains("Triple fault") => {}
                _ => return Err("no triple fault in Xen's log".into()),
            }
            // At least its 8 MiB (xl gives a PVH guest 1 MiB of slack above), with the
            // image where it was loaded (1 MiB).
            let ram = r.ram.as_ref().ok_or("its RAM was not kept")?;
            let ram = std::fs::read(ram).map_err(|e| e.to_string())?;
            if ram.len() < 8 << 20 || ram[1 << 20..(1 << 20) + 64].iter().all(|&b| b == 0) {
                return Err(format!("its RAM came back as {} bytes, without the image", ram.len()));
            }
            Ok(())
        },
    };
    let reboot = Test {
        guest: Guest::ours("reboot", testapp, "test=reboot").step(Step::WaitEnd(90)),
        check: |r| expect_end(r, End::Reboot),
    };
    let services = Test {
        guest: Guest::ours("services", testapp, "test=services")
            .step(Step::WaitOutput("testapp: watching data/test".into(), 120))
            .step(Step::Dom0(
                "write".into(),
                "xenstore-write /local/domain/$DOMID/data/test hello-from-dom0".into(),
            ))
            .step(Step::WaitOutput("= hello-from-dom0".into(), 60))
            .step(Step::Dom0("sleep".into(), SLEEP_MEASURE.into()))
            .step(Step::WaitOutput("testapp: idle".into(), 60))
            .step(Step::Dom0("idle-cpu".into(), IDLE_CPU.into())),
        check: |r| {
            expect_console(r, "testapp: domid ")?;
            expect_console(r, " name services")?;
            expect_console(r, "testapp: missing key gives: xenstore error NoEnt")?;
            expect_console(r, "testapp: transaction read back in-transaction")?;
            expect_console(r, ",r0 dir ")?;
            expect_console(r, "written-by-guest")?;
            expect_console(r, "data/test = hello-from-dom0")?;
            let slept = dom0_figure(r, "sleep", "measured")?;
            if (slept - 2.0).abs() > 0.05 {
                return Err(format!("dom0 measured the guest's 2 s sleep as {slept:.3} s"));
            }
            let cpu = dom0_figure(r, "idle-cpu", "cpu")?;
            if cpu > 0.1 {
                return Err(format!("idle guest used {cpu:.1} s of CPU in 5 s"));
            }
            Ok(())
        },
    };
    let grants = Test {
        guest: Guest::ours("grants", testapp, "test=grants").step(Step::WaitEnd(120)),
        check: |r| {
            expect_end(r, End::Poweroff)?;
            // "granted N refs in F/M frames, then: grant references exhausted"
            let line = r
                .console
                .lines()
                .find(|l| l.contains("testapp: granted "))
                .ok_or("no grant report")?;
            let nums: Vec<u64> =
                line.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
            let [n, frames, max] = nums[..] else {
                return Err(format!("odd grant report: {line}"));
            };
            if frames != max
                || max < 2
                || n != max * 512 - 8
                || !line.ends_with("grant references exhausted")
            {
                return Err(format!("grant table did not grow to its limit: {line}"));
            }
            expect_console(r, &format!("ended {n}, grant after ending: true"))
        },
    };
    let hang = Test {
        guest: Guest::ours("hang", testapp, "test=hang")
            .step(Step::WaitOutput("testapp: running hang".into(), 90))
            .step(Step::WaitEnd(10)),
        check: |r| {
            expect_console(r, "testapp: running hang")?;
            expect_end(r, End::Timeout)
        },
    };
    let mut linux = Guest::linux(
        "linux",
        &format!("rig.ip=10.0.0.2/24 rig.ip1=dhcp rig.httpd=1 rig.disk-marker={LINUX_MARKER}"),
    );
    linux.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:02".into());
    // A second vif configured by DHCP (dom0's rig_dhcpd).
    linux.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:12".into());
    linux.disks.push(disk(&disk_linux));
    linux.disks.push(Disk {
        host_file: disk_file,
        vdev: "xvdb".into(),
        writable: true,
        as_file: true,
    });
    let linux = Test {
        guest: linux
            .step(Step::WaitOutput("linux-guest: ready".into(), 180))
            .step(Step::WaitOutput(format!("linux-guest: wrote {LINUX_MARKER}"), 30))
            .step(Step::Dom0("ping".into(), "ping -c 3 -W 5 10.0.0.2".into()))
            // dom0's curl (with every shared object it loads) against busybox httpd.
            .step(Step::Dom0("curl".into(), "curl -sS -m 20 http://10.0.0.2/".into()))
            .step(Step::Dom0("vif-state".into(), backend_state("vif", "0")))
            .step(Step::Dom0(
                "dhcp".into(),
                "a=$(rig_wait_lease 00:16:3e:00:00:12 60) && echo \"lease $a\" && ping -c 2 -W 5 $a"
                    .into(),
            ))
            .step(Step::Dom0("vbd-state".into(), backend_state("vbd", "51712")))
            .step(Step::Dom0("vbd-file-state".into(), backend_state("vbd", "51728"))),
        check: |r| {
            expect_console(r, "linux-guest: eth0 10.0.0.2/24")?;
            expect_console(r, "linux-guest: xvda 32768 sectors")?;
            expect_dom0(r, "ping", 0, "3 packets received")?;
            expect_dom0(r, "curl", 0, "linux-guest: hello over HTTP")?;
            expect_dom0(r, "vif-state", 0, "4")?;
            expect_dom0(r, "dhcp", 0, "lease 10.0.0.1")?;
            expect_dom0(r, "dhcp", 0, "2 packets received")?;
            expect_console(r, "(dhcp)")?;
            expect_dom0(r, "vbd-state", 0, "4")?;
            expect_dom0(r, "vbd-file-state", 0, "4")?;
            expect_console(r, "linux-guest: xvdb 16384 sectors")?;
            expect_disk(r, "xvda", LINUX_MARKER.as_bytes())?;
            expect_disk(r, "xvdb", b"\0\0\0\0\0\0\0\0")
        },
    };
    // Two vifs (several per guest) and a disk.
    let mut ours = Guest::ours("ours-devices", testapp, "test=net ip=10.0.0.3/24 ip1=10.0.0.4/24");
    ours.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:03".into());
    ours.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:04".into());
    ours.disks.push(disk(&disk_ours));
    let ours = Test {
        guest: ours
            .step(Step::WaitOutput("testapp: net services up".into(), 90))
            .step(Step::Dom0("vif-state".into(), backend_state("vif", "0")))
            .step(Step::Dom0("vif1-state".into(), backend_state("vif", "1")))
            .step(Step::Dom0(
                "ping".into(),
                "ping -c 2 -W 5 10.0.0.3 && ping -c 2 -W 5 10.0.0.4".into(),
            ))
            .step(Step::Dom0("vbd-state".into(), backend_state("vbd", "51712")))
            .step(Step::Dom0(
                "vbd-device".into(),
                "xenstore-read /local/domain/0/backend/vbd/$DOMID/51712/physical-device".into(),
            ))
            // Unplugging a vif: the guest must close its side so that xl's detach completes
            // (instead of timing out), end its grants, and keep the other vif working.
            .step(Step::Dom0(
                "detach".into(),
                "time xl network-detach $DOMID 1 && ping -c 2 -W 5 10.0.0.3".into(),
            ))
            .step(Step::WaitOutput("vif1: disconnected".into(), 30)),
        // blkfront and netfront connect the devices (state 4) whether or not the app uses them.
        check: |r| {
            expect_console(r, "testapp: vif1 has 10.0.0.4")?;
            expect_dom0(r, "vif-state", 0, "4")?;
            expect_dom0(r, "vif1-state", 0, "4")?;
            expect_dom0(r, "ping", 0, "2 packets received")?;
            expect_dom0(r, "vbd-state", 0, "4")?;
            expect_dom0(r, "vbd-device", 0, "7:")?;
            expect_dom0(r, "detach", 0, "2 packets received")?;
            if r.console.contains("leaking") {
                return Err("grants still mapped after the backend closed".into());
            }
            Ok(())
        },
    };
    let disk_blk = pattern_disk(&scratch.join("blk.img"), 4)?;
    let disk_ro = pattern_disk(&scratch.join("blk-ro.img"), 1)?;
    let mut blk = Guest::ours("blk", testapp, "test=blk");
    blk.disks.push(disk(&disk_blk));
    blk.disks.push(Disk { vdev: "xvdb".into(), writable: false, ..disk(&disk_ro) });
    let expected_sum =
        format!("xvda first MiB fnv1a {:016x}", fnv1a(&std::fs::read(&disk_blk)?[..1 << 20]));
    let blk = Test {
        guest: blk.step(Step::WaitEnd(90)),
        check: |r| {
            expect_end(r, End::Poweroff)?;
            expect_console(r, "testapp: xvdb write refused: the disk is read-only")?;
            // Linux blkback offers multi-page rings, indirect requests and persistent grants.
            expect_console(r, "ring pages 4, indirect segments 256, persistent true")?;
            expect_console(r, "testapp: xvdb sector 1 starts 1")?;
            expect_console(r, "testapp: pattern written and flushed")?;
            expect_console(r, BLK_SUM.lock().unwrap().as_str())?;
            let path = r.disks.get("xvda").ok_or("xvda did not come back")?;
            let data = std::fs::read(path).map_err(|e| e.to_string())?;
            let want: Vec<u8> = (0..1usize << 20).map(|i| (i * 31 + 7) as u8).collect();
            if data.get(1 << 20..2 << 20) != Some(&want[..]) {
                return Err("the disk file does not hold the pattern the guest wrote".into());
            }
            if data[512..520] != 1u64.to_le_bytes()
                || data[(2 << 20) + 512..(2 << 20) + 520] != ((2u64 << 20) / 512 + 1).to_le_bytes()
            {
                return Err("sectors outside the written range changed".into());
            }
            Ok(())
        },
    };
    *BLK_SUM.lock().unwrap() = expected_sum;
    // The key-value store: a PUT survives `xl destroy`, and a new guest on the disk serves it.
    let disk_kv = scratch.join("kv.img");
    *KV_DISK.lock().unwrap() = disk_kv.clone();
    std::fs::write(&disk_kv, vec![0u8; 8 << 20])?;
    let mut kv = Guest::ours("kv", app, "ip=10.0.0.11/24");
    kv.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:11".into());
    kv.disks.push(disk(&disk_kv));
    // The host's file itself (as `cargo xtask run` gives an app its disks).
    kv.shared_disks = true;
    let kv = Test {
        guest: kv
            .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
            .step(Step::Dom0("put".into(), KV_PUT.into()))
            .step(Step::Dom0("restart".into(), KV_RESTART.into()))
            .step(Step::Dom0("corrupt".into(), KV_CORRUPT.into())),
        check: |r| {
            expect_console(r, "kv store: 0 records replayed, 0 keys, disk formatted")?;
            expect_dom0(r, "put", 0, "201 Created")?;
            expect_dom0(r, "restart", 0, "got: kept across a destroy")?;
            expect_console(r, "kv store: 3 records replayed, 1 keys")?;
            expect_dom0(r, "corrupt", 0, "torn: HTTP/1.1 201 Created")?;
            expect_dom0(r, "corrupt", 0, "flipped byte 2076")?;
            expect_console(r, "kv store: 3 records replayed, 1 keys, CORRUPT record at sector 4")?;
            expect_dom0(r, "corrupt", 0, "disk /dev/rig-disk-")?;
            expect_dom0(r, "corrupt", 0, "after: 404 greeting: kept across a destroy")?;
            // The records are in the host's file, the torn one as dom0 left it.
            let data =
                std::fs::read(KV_DISK.lock().unwrap().as_path()).map_err(|e| e.to_string())?;
            if !data.windows(21).any(|w| w == b"kept across a destroy") || data[2076] != b'X' {
                return Err("the host's disk file lacks the records".into());
            }
            Ok(())
        },
    };
    let mut app_net = Guest::ours("net", app, "log=info ip=10.0.0.10/24 gw=10.0.0.1");
    app_net.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:10".into());
    // No ip1=: DHCP.
    app_net.config.vifs.push("bridge=xenbr0,mac=00:16:3e:00:00:1a".into());
    // Its status page on the host's 127.0.0.1, as `cargo xtask run` forwards it.
    let net_port = crate::rig::free_port()?;
    app_net.forwards.push(Forward {
        host_port: net_port,
        guest_ip: "10.0.0.10".into(),
        guest_port: 80,
    });
    let net = Test {
        guest: app_net
            .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
            .step(Step::Dom0("ping".into(), "ping -c 3 -W 5 10.0.0.10".into()))
            .step(Step::Dom0(
                "ping6".into(),
                "ping -6 -c 2 -W 5 -I xenbr0 fe80::216:3eff:fe00:10".into(),
            ))
            .step(Step::Dom0("status".into(), "curl -sS -m 20 -i http://10.0.0.10/".into()))
            .step(host_http("forward", net_port, "/"))
            .step(Step::Dom0("sequential".into(), HTTP_SEQUENTIAL.into()))
            .step(Step::Dom0("concurrent".into(), HTTP_CONCURRENT.into()))
            .step(Step::Dom0("malformed".into(), HTTP_MALFORMED.into()))
            .step(Step::Dom0(
                "after".into(),
                "curl -s -m 20 -o /dev/null -w 'nope: %{http_code}\\n' http://10.0.0.10/nope; \
                 curl -sS -m 20 http://10.0.0.10/"
                    .into(),
            ))
            .step(Step::Dom0("udp".into(), UDP_ECHO.into()))
            .step(Step::Dom0("dhcp".into(), NET_DHCP.into()))
            .step(Step::Dom0("vif-state".into(), backend_state("vif", "0"))),
        check: |r| {
            expect_dom0(r, "vif-state", 0, "4")?;
            expect_dom0(r, "ping", 0, "3 packets received")?;
            expect_dom0(r, "ping6", 0, "2 packets received")?;
            expect_dom0(r, "status", 0, "HTTP/1.1 200 OK")?;
            expect_dom0(r, "status", 0, "app-example: a Rust unikernel on Xen")?;
            expect_host(r, "forward", "app-example: a Rust unikernel on Xen")?;
            expect_dom0(r, "sequential", 0, "ok 200, connections 1")?;
            expect_dom0(r, "concurrent", 0, "ok 50")?;
            expect_dom0(r, "malformed", 0, "HTTP/1.1 400 Bad Request")?;
            expect_dom0(r, "after", 0, "nope: 404")?;
            expect_dom0(r, "after", 0, "requests:")?;
            expect_dom0(r, "udp", 0, "udp one\nudp two\nudp three")?;
            expect_dom0(r, "dhcp", 0, "lease 10.0.0.1")?;
            expect_dom0(r, "dhcp", 0, "2 packets received")?;
            expect_dom0(r, "dhcp", 0, "app-example: a Rust unikernel on Xen")?;
            expect_console(r, "vif1: DHCP gave 10.0.0.1")
        },
    };
    // Under load (issue 13): ApacheBench from dom0 against app-example's fixed-size page.
    let load = Test {
        guest: load_guest("load", app, 32, "10.0.0.20", "00:16:3e:00:00:20")
            .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
            .step(Step::Dom0("close".into(), ab("-n 20000 -c 50", "10.0.0.20")))
            .step(Step::Dom0("keepalive".into(), ab("-n 20000 -c 10 -k", "10.0.0.20")))
            .step(Step::Dom0("after".into(), SAME_DOMAIN.into())),
        check: |r| {
            expect_ab(r, "close", 20000)?;
            expect_ab(r, "keepalive", 20000)?;
            expect_dom0(r, "after", 0, "same domain")
        },
    };
    // Refusing is allowed at 8 MiB, crashing is not (-r: ab goes on after a reset).
    let load_small = Test {
        guest: load_guest("load-small", app, 8, "10.0.0.21", "00:16:3e:00:00:21")
            .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
            .step(Step::Dom0("ab".into(), ab("-r -n 5000 -c 100", "10.0.0.21")))
            .step(Step::Dom0("after".into(), SAME_DOMAIN.into()))
            .step(Step::Dom0("status".into(), "curl -sS -m 20 http://10.0.0.21/".into())),
        check: |r| {
            expect_dom0(r, "ab", 0, "Complete requests:      5000")?;
            expect_dom0(r, "after", 0, "same domain")?;
            expect_dom0(r, "status", 0, "app-example: a Rust unikernel on Xen")
        },
    };
    let load_tiny = Test {
        guest: load_guest("load-tiny", app, 4, "10.0.0.22", "00:16:3e:00:00:22")
            .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
            .step(Step::Dom0("status".into(), "curl -sS -m 20 http://10.0.0.22/".into()))
            .step(Step::Dom0("after".into(), SAME_DOMAIN.into())),
        check: |r| {
            expect_dom0(r, "status", 0, "app-example: a Rust unikernel on Xen")?;
            expect_dom0(r, "after", 0, "same domain")
        },
    };
    let conns = Test {
        guest: load_guest("conns", app, 32, "10.0.0.23", "00:16:3e:00:00:23")
            .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
            .step(Step::Dom0("before".into(), heap_used("10.0.0.23")))
            .step(Step::Dom0("burst".into(), CONNS_BURST.replace("IP", "10.0.0.23")))
            .step(Step::Dom0("settled".into(), format!("sleep 5; {}", heap_used("10.0.0.23"))))
            .step(Step::Dom0("after".into(), SAME_DOMAIN.into())),
        check: |r| {
            expect_dom0(r, "burst", 0, "Complete requests:      1000")?;
            expect_dom0(r, "burst", 0, "next request: 200")?;
            expect_dom0(r, "after", 0, "same domain")?;
            let before = dom0_figure(r, "before", "heap_used_bytes")?;
            let after = dom0_figure(r, "settled", "heap_used_bytes")?;
            if (after - before).abs() > before * 0.1 {
                return Err(format!("heap used {before} before the burst, {after} after"));
            }
            Ok(())
        },
    };
    let slowloris = Test {
        guest: load_guest("slowloris", app, 32, "10.0.0.24", "00:16:3e:00:00:24")
            .step(Step::WaitOutput("app-example: serving HTTP".into(), 90))
            .step(Step::Dom0("attack".into(), SLOWLORIS.replace("IP", "10.0.0.24")))
            .step(Step::Dom0("after".into(), SAME_DOMAIN.into())),
        check: |r| {
            expect_dom0(r, "attack", 0, "slow clients connected: 200 ")?;
            expect_dom0(r, "attack", 0, "normal requests served: 5 of 5")?;
            expect_dom0(r, "after", 0, "same domain")
        },
    };
    // Guests without devices run side by side; guests with devices one at a time (with a
    // 2-vCPU dom0, concurrent `xl create`s with hotplug saw dom0 programs crash; dom0 now
    // has one vCPU, which stopped that, but the device guests stay apart to be safe).
    Ok(vec![
        vec![hello, panic, page_fault, reboot, grants, triple_fault],
        vec![services],
        vec![hang],
        vec![linux],
        vec![ours],
        vec![net],
        vec![blk],
        vec![kv],
        vec![load],
        vec![load_small],
        vec![load_tiny],
        vec![conns],
        vec![slowloris],
    ])
}

/// xl files generated from manifests (the example's, and one with every quoting trap),
/// for `xl create -n` in dom0.
fn xl_files() -> Result<Vec<(String, String)>> {
    use crate::manifest::Manifest;
    let root = crate::util::root();
    let kernel = Path::new("/work/images/hello");
    let example = Manifest::load(&root.join("app-example/Cargo.toml"))?.xl_config(kernel)?;
    let tricky = Manifest::parse(
        "[package]\nname = \"tricky\"\n[package.metadata.unikernel]\ncmdline = 'say \"hi\" \\o/'\n\
         on_crash = \"coredump-destroy\"\n[[package.metadata.unikernel.network]]\nip = \"10.0.0.9/24\"\n",
        &root,
    )?
    .xl_config(kernel)?;
    Ok(vec![
        ("xl/app-example.xl".into(), example.render()),
        ("xl/tricky.xl".into(), tricky.render()),
    ])
}

/// Figures worth reporting from a run.
#[derive(Debug, Default)]
pub struct Figures {
    pub dom0_up: Option<f64>,
    pub machine_seconds: f64,
    /// Per guest: seconds `xl create` took, and from `xl create` to first console output.
    pub guests: Vec<(String, Option<f64>, Option<f64>)>,
}

/// Runs the suite; calls `record(name, result)` once per test.
pub fn run(
    images: &[Image],
    mut record: impl FnMut(&str, f64, Result<(), String>),
) -> Result<Figures> {
    let scratch = crate::rig::dir().join("e2e");
    std::fs::create_dir_all(&scratch)?;
    let mut batches = tests(images, &scratch)?;
    // For working on one test: E2E_ONLY=name,name runs just those.
    if let Ok(only) = std::env::var("E2E_ONLY") {
        let only: Vec<&str> = only.split(',').collect();
        for b in &mut batches {
            b.retain(|t| only.contains(&t.guest.config.name.as_str()));
        }
        batches.retain(|b| !b.is_empty());
    }
    let plan = Plan {
        batches: batches.iter().map(|b| b.iter().map(|t| t.guest.clone()).collect()).collect(),
        texts: xl_files()?,
        // Guests without a static address get one from 10.0.0.100-199.
        setup: vec!["rig_dhcpd".into()],
    };
    let (report, out) = crate::rig::run_plan(&plan, Duration::from_secs(1500))?;
    let mut figures =
        Figures { dom0_up: report.dom0_up, machine_seconds: report.seconds, ..Default::default() };
    for t in batches.iter().flatten() {
        let name = &t.guest.config.name;
        let (secs, result) = match GuestResult::load(&out, name) {
            Ok(r) => {
                figures.guests.push((name.clone(), r.create_time, r.first_output));
                let mut result = (t.check)(&r);
                if !r.triple_faults.is_empty() && name != TRIPLE_FAULT {
                    result = Err(format!("triple fault: {}", r.triple_faults.join("; ")));
                } else if result.is_ok() && !r.missing_output.is_empty() {
                    result = Err(format!("console never showed {:?}", r.missing_output));
                }
                (r.total_time.unwrap_or(0.0), result)
            }
            Err(e) => {
                let why = if report.problems.is_empty() {
                    format!("{e:#}")
                } else {
                    format!("{e:#}; machine: {}", report.problems.join("; "))
                };
                (0.0, Err(why))
            }
        };
        record(name, secs, result);
    }
    Ok(figures)
}
