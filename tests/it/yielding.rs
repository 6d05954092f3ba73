//! Yielding over a real bottleneck (issue 23): the CLI downloads from the
//! suite's HTTP server through a router with a slow, deep queue, all in
//! network namespaces the test makes (root, `ip` and `tc`):
//!
//! ```text
//! server (10.213.N.1)  ──  mid, a router  ──  client (10.214.N.2)
//!                          tbf 8 Mbit/s, 400 ms deep, each way
//! ```
//!
//! The queue's delay is what a background job must keep short, and what a
//! FOREGROUND job, like curl, fills: the test reads the queue's length from
//! `tc` while each kind of job runs, and the bytes that crossed it. A
//! download fills the queue toward the client, an upload (`qmgr upload`
//! to the suite's tus server) the one toward the server. Both ends send
//! with cubic, which fills a queue (the host's default may be bbr, which
//! keeps it short by itself).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::http_server::{patterned, Resource, TestServer};
use crate::support::upload_server::UploadServer;
use crate::support::{self, scratch};

/// The bottleneck, in bits per second and as `tc` writes it.
const RATE_BITS: u64 = 8_000_000;
const RATE: &str = "8mbit";

/// Three namespaces joined by two veth pairs; removed on drop.
struct Network {
    names: [String; 3],
    /// One bottleneck test at a time: each measures the share of the link
    /// its job takes, which another's processes on the same two CPUs
    /// would take from it (the upload's writes come later under load).
    _alone: std::sync::MutexGuard<'static, ()>,
    /// The server's and the client's addresses, mid's devices toward the
    /// client and toward the server (where the queues are), and the
    /// client's and the server's devices.
    server_ip: String,
    client_ip: String,
    queue_dev: String,
    upload_queue_dev: String,
    client_dev: String,
    server_dev: String,
}

impl Network {
    /// Builds the network, or says why it cannot (not root, no `ip`/`tc`).
    fn build() -> Option<Network> {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            support::skipped("network namespaces need root (run the suite as root)");
            return None;
        }
        if !tool_runs("ip", &["-V"]) || !tool_runs("tc", &["-V"]) {
            support::skipped("iproute2 (ip, tc) is not installed");
            return None;
        }
        // Each test of the process builds its own network.
        static BUILT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let built = BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let n = (std::process::id() * 2 + built) % 200 + 20;
        let tag = format!(
            "qy{}{}",
            std::process::id(),
            ["", "u", "v", "w"][built as usize % 4]
        );
        let names = [
            format!("{tag}-srv"),
            format!("{tag}-mid"),
            format!("{tag}-cli"),
        ];
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let net = Network {
            _alone: ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner()),
            server_ip: format!("10.213.{n}.1"),
            client_ip: format!("10.214.{n}.2"),
            queue_dev: format!("{tag}c"),
            upload_queue_dev: format!("{tag}b"),
            client_dev: format!("{tag}d"),
            server_dev: format!("{tag}a"),
            names,
        };
        let [srv, mid, cli] = &net.names;
        let (a, b, c, d) = (
            net.server_dev.clone(),
            net.upload_queue_dev.clone(),
            net.queue_dev.clone(),
            net.client_dev.clone(),
        );
        for ns in &net.names {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        ip(&["link", "set", &a, "netns", srv]);
        ip(&["link", "set", &b, "netns", mid]);
        ip(&["link", "add", &c, "type", "veth", "peer", "name", &d]);
        ip(&["link", "set", &c, "netns", mid]);
        ip(&["link", "set", &d, "netns", cli]);
        let mid_a = format!("10.213.{n}.2");
        let mid_c = format!("10.214.{n}.1");
        for (ns, dev, addr) in [
            (srv, &a, &net.server_ip),
            (mid, &b, &mid_a),
            (mid, &c, &mid_c),
            (cli, &d, &net.client_ip),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            // One packet per segment, so that the queue counts as a
            // router's does (ethtool is optional: tbf's burst below
            // takes a 64 KiB super-packet too).
            let _ = Command::new("ip")
                .args(["netns", "exec", ns, "ethtool", "-K", dev])
                .args(["tso", "off", "gso", "off", "gro", "off"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        netns_exec(mid, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        ip(&[
            "-n",
            srv,
            "route",
            "add",
            &format!("10.214.{n}.0/24"),
            "via",
            &mid_a,
            "congctl",
            "cubic",
        ]);
        ip(&[
            "-n",
            cli,
            "route",
            "add",
            &format!("10.213.{n}.0/24"),
            "via",
            &mid_c,
            "congctl",
            "cubic",
        ]);
        for dev in [&c, &b] {
            netns_exec(
                mid,
                &[
                    "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", RATE, "burst",
                    "66000", "latency", "400ms",
                ],
            );
        }
        Some(net)
    }

    /// A listener on the server's address (a socket belongs to the
    /// namespace it was made in: made on a thread that entered it).
    fn listen_in_server(&self) -> TcpListener {
        let path = format!("/var/run/netns/{}", self.names[0]);
        let addr = format!("{}:0", self.server_ip);
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).expect("the server's namespace");
            use std::os::fd::AsRawFd;
            // SAFETY: a valid namespace file descriptor; setns changes
            // only this thread's network namespace.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            TcpListener::bind(addr).expect("bind in the server's namespace")
        })
        .join()
        .unwrap()
    }

    /// The length in bytes of the queue on mid's `dev` (`backlog NNNb` of
    /// `tc -s qdisc`).
    fn queued(&self, dev: &str) -> u64 {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.names[1], "tc", "-s", "qdisc", "show"])
            .args(["dev", dev])
            .output()
            .expect("tc");
        let text = String::from_utf8_lossy(&out.stdout);
        let backlog = text
            .split_whitespace()
            .skip_while(|w| *w != "backlog")
            .nth(1)
            .unwrap_or_else(|| panic!("no backlog in {text}"));
        parse_size(backlog)
    }

    /// The bytes the interface `dev` of namespace `ns` (an index of
    /// `names`) has received.
    fn received(&self, ns: usize, dev: &str) -> u64 {
        let path = format!("/sys/class/net/{dev}/statistics/rx_bytes");
        let out = Command::new("ip")
            .args(["netns", "exec", &self.names[ns], "cat", &path])
            .output()
            .expect("cat");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    /// `qmgr ARGS` in the client's namespace, as a user would start it.
    fn qmgr(&self, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.names[2]])
            .arg(support::qmgr_bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("qmgr in the client's namespace")
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for ns in &self.names {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn tool_runs(tool: &str, args: &[&str]) -> bool {
    Command::new(tool)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("ip");
    assert!(status.success(), "ip {}", args.join(" "));
}

fn netns_exec(ns: &str, args: &[&str]) {
    let status = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .status()
        .expect("ip netns exec");
    assert!(status.success(), "{}", args.join(" "));
}

/// `123b`, `45Kb`, `6Mb` (tc's units of 1,000... or 1,024: tc prints
/// bytes below 1 KiB, then Kb = 1,024 bytes).
fn parse_size(text: &str) -> u64 {
    let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u64 = digits.parse().unwrap_or(0);
    match &text[digits.len()..] {
        "Kb" => n << 10,
        "Mb" => n << 20,
        _ => n,
    }
}

/// What one job did to the link while it ran: the queue's median delay
/// and the share of the bottleneck the client received.
struct Seen {
    delay: Duration,
    share: f64,
}

/// Which way a watched job moves its bytes.
#[derive(Clone, Copy)]
enum Way {
    Download,
    Upload,
}

/// Runs `qmgr transfer` (or `qmgr upload`) `--priority PRIORITY` of
/// `from` to `to` for `RUN`, and watches the queue its bytes cross after
/// its first seconds (a transfer starts by filling it).
fn watch(net: &Network, way: Way, from: &str, to: &std::path::Path, priority: &str) -> Seen {
    const WARM_UP: Duration = Duration::from_secs(3);
    const RUN: Duration = Duration::from_secs(9);
    let to = to.to_str().unwrap();
    let mut child = match way {
        Way::Download => {
            let _ = std::fs::remove_file(to);
            net.qmgr(&["transfer", "--quiet", "--priority", priority, from, to])
        }
        Way::Upload => net.qmgr(&["upload", "--quiet", "--priority", priority, to, from]),
    };
    let (queue, receiver, receiving) = match way {
        Way::Download => (&net.queue_dev, 2, &net.client_dev),
        Way::Upload => (&net.upload_queue_dev, 0, &net.server_dev),
    };
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut received = None;
    while started.elapsed() < RUN {
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() < WARM_UP {
            continue;
        }
        received.get_or_insert_with(|| (Instant::now(), net.received(receiver, receiving)));
        samples.push(net.queued(queue));
    }
    let (since, before) = received.unwrap();
    let moved = net.received(receiver, receiving) - before;
    let elapsed = since.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    samples.sort_unstable();
    let median = samples[samples.len() / 2];
    let rate = RATE_BITS as f64 / 8.0;
    Seen {
        delay: Duration::from_secs_f64(median as f64 / rate),
        share: moved as f64 / (rate * elapsed.as_secs_f64()),
    }
}

/// Asserts that a background job kept the queue short: under 60 ms.
fn assert_short_queue(low: &Seen) {
    assert!(
        low.delay < Duration::from_millis(60),
        "low: {:?}",
        low.delay
    );
}

/// Prints what a job alone did to the link (`what` names the case).
fn report(what: &str, seen: &Seen) {
    eprintln!(
        "{what}: queue delay {:?} ({:.0}% of the link)",
        seen.delay,
        seen.share * 100.0
    );
}

/// FOREGROUND competes like curl: cubic fills the deep queue; LOW keeps
/// it near its 15 ms target, and still uses more than `least` of the
/// link it has to itself.
fn assert_yields(low: &Seen, foreground: &Seen, least: f64) {
    assert!(
        foreground.delay > Duration::from_millis(150),
        "foreground: {:?}",
        foreground.delay
    );
    assert!(foreground.share > 0.85, "foreground: {}", foreground.share);
    assert_short_queue(low);
    assert!(low.share > least, "low: {}", low.share);
}

#[test]
fn a_background_job_keeps_the_bottlenecks_queue_short_and_a_foreground_one_fills_it() {
    let Some(net) = Network::build() else {
        return;
    };
    let server = TestServer::start_on(net.listen_in_server());
    // Longer than any run at the bottleneck's rate (1 MB/s).
    server.add("/big", Resource::new(patterned(24 << 20, 23)));
    let url = format!("http://{}/big", server.addr());
    let dir = scratch("yielding");
    let out = dir.join("big");

    let low = watch(&net, Way::Download, &url, &out, "low");
    let foreground = watch(&net, Way::Download, &url, &out, "foreground");
    eprintln!(
        "queue delay: low {:?} ({:.0}% of the link), foreground {:?} ({:.0}%)",
        low.delay,
        low.share * 100.0,
        foreground.delay,
        foreground.share * 100.0
    );
    assert_yields(&low, &foreground, 0.7);
}

#[test]
fn a_background_upload_keeps_the_queue_toward_the_server_short() {
    let Some(net) = Network::build() else {
        return;
    };
    let dir = scratch("yielding-upload");
    let server = UploadServer::start_with(net.listen_in_server(), &dir.join("server"));
    let url = server.url("/tus/");
    // Longer than any run at the bottleneck's rate (1 MB/s).
    let file = dir.join("big");
    std::fs::write(&file, patterned(24 << 20, 29)).unwrap();

    let low = watch(&net, Way::Upload, &url, &file, "low");
    let foreground = watch(&net, Way::Upload, &url, &file, "foreground");
    eprintln!(
        "upload queue delay: low {:?} ({:.0}% of the link), foreground {:?} ({:.0}%)",
        low.delay,
        low.share * 100.0,
        foreground.delay,
        foreground.share * 100.0
    );
    // Until the sender held its next piece back for the socket to send
    // the last ones (SendFlow::hold), it sampled its connection only as
    // blocked writes returned (every 50-100 ms here, seconds at its
    // floor), and took 56-84% of the link; 93-96% in three runs since. The
    // bound stays the old one until more runs under load show more.
    assert_yields(&low, &foreground, 0.5);
}

/// A server that does not use TCP timestamps: the receiver's kernel then
/// times the round trip once per window of data, from no echo, and the
/// controller must still see the queue build and keep it short. The
/// kernel's own figure (`tcpi_rcv_rtt`) never grows then: without the
/// handshakes timed instead (`yielder::probe`) a LOW job filled the queue
/// (389 ms, 100% of the link). Windows servers send no timestamps by
/// default.
#[test]
fn a_background_job_yields_with_a_server_that_sends_no_tcp_timestamps() {
    let Some(net) = Network::build() else {
        return;
    };
    netns_exec(
        &net.names[0],
        &["sysctl", "-qw", "net.ipv4.tcp_timestamps=0"],
    );
    let server = TestServer::start_on(net.listen_in_server());
    server.add("/big", Resource::new(patterned(24 << 20, 31)));
    let url = format!("http://{}/big", server.addr());
    let dir = scratch("yielding-no-timestamps");
    let low = watch(&net, Way::Download, &url, &dir.join("big"), "low");
    report("no timestamps", &low);
    assert_short_queue(&low);
    assert!(low.share > 0.7, "low: {}", low.share);
}

/// A server without TCP timestamps that answers no handshake after the
/// first second (a firewall's limit on new connections, or on purpose):
/// the probes time none, and the kernel's own figure never grows. With no
/// delay measured, the rate keeps close to what arrives and the windows,
/// from the connections' own handshakes, bound the queue: before, the job
/// filled it (375 ms, all of the link).
#[test]
fn a_server_without_timestamps_that_refuses_the_probes_is_still_yielded_to() {
    let Some(net) = Network::build() else {
        return;
    };
    let (srv, dev) = (net.names[0].clone(), net.server_dev.clone());
    netns_exec(&srv, &["sysctl", "-qw", "net.ipv4.tcp_timestamps=0"]);
    let server = TestServer::start_on(net.listen_in_server());
    server.add("/big", Resource::new(patterned(24 << 20, 37)));
    let url = format!("http://{}/big", server.addr());
    let dir = scratch("yielding-refused-probes");
    // Once the job's connections carry its body (the client received
    // 256 KiB: they and the first probes were answered), every
    // handshake's answer the server sends is dropped (SYN and ACK set: an
    // htb class whose queue holds none). A fixed second was too short for
    // a qmgr started on a busy machine, whose own handshakes then went
    // unanswered.
    let low = std::thread::scope(|scope| {
        scope.spawn(|| {
            let before = net.received(2, &net.client_dev);
            let deadline = Instant::now() + Duration::from_secs(30);
            while net.received(2, &net.client_dev) < before + (256 << 10) {
                assert!(Instant::now() < deadline, "the job never began");
                std::thread::sleep(Duration::from_millis(20));
            }
            let tc = |args: &str| {
                let mut all = vec!["tc"];
                all.extend(args.split_whitespace());
                netns_exec(&srv, &all);
            };
            tc(&format!("qdisc add dev {dev} root handle 1: htb default 1"));
            tc(&format!(
                "class add dev {dev} parent 1: classid 1:1 htb rate 10gbit"
            ));
            tc(&format!(
                "class add dev {dev} parent 1: classid 1:2 htb rate 8bit"
            ));
            tc(&format!(
                "qdisc add dev {dev} parent 1:2 handle 20: pfifo limit 0"
            ));
            tc(&format!(
                "filter add dev {dev} parent 1: protocol ip prio 1 u32 match u8 0x12 0x12 at 33 flowid 1:2"
            ));
        });
        watch(&net, Way::Download, &url, &dir.join("big"), "low")
    });
    report("probes refused", &low);
    assert_short_queue(&low);
    assert!(low.share > 0.7, "low: {}", low.share);
}
