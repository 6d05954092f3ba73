//! qmgrd for the tests: the binary (built once per run), a daemon process
//! on a socket and state directory of the test's own, a raw Varlink
//! client on `qmgr::service::varlink`, and clients that run as another
//! user (a Python script under `setpriv`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use qmgr::service::codec::{decode_failed, decode_job, JobSnapshot};
use qmgr::service::varlink::{Call, Connection, Reply, MAX_REPLY};
use serde_json::{json, Map, Value};

use super::{cargo_build, profile_dir, wait_until, BUILT_OUTPUTS};

/// The `qmgrd` binary of the workspace member `qmgrd/`, built for the
/// same profile as the tests (with the same package set as the library's
/// other outputs plus `qmgrd`, so that cargo resolves the same features
/// and builds nothing twice).
pub fn qmgrd_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            cargo_build(&[BUILT_OUTPUTS, &["-p", "qmgrd"]].concat());
            let bin = profile_dir().join("qmgrd");
            assert!(bin.exists(), "no {}", bin.display());
            bin
        })
        .clone()
}

/// Sends `signal` (`-TERM`, `-KILL`, …) to `pid` with the shell's `kill`.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill {signal} {pid}")])
        .status()
        .expect("run sh -c kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}

/// True when the tests run as root (the user-isolation tests need it to
/// run clients as other users); otherwise reports the skip.
pub fn running_as_root() -> bool {
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if !root {
        super::skipped("this test runs clients as other users and needs root");
    }
    root
}

/// A running qmgrd, killed when dropped.
pub struct Qmgrd {
    child: Option<Child>,
    /// The socket it listens on.
    pub socket: PathBuf,
    /// Its state directory.
    pub state: PathBuf,
    /// Its whole command line after the program (for restarts).
    args: Vec<String>,
    /// What it wrote to stderr (all its runs).
    log: Arc<Mutex<String>>,
}

impl Qmgrd {
    /// A daemon on `dir/sock` with state `dir/state`, in system mode
    /// unless `extra` (more options) says `--user`; returns once it
    /// accepts connections.
    pub fn start(dir: &Path, extra: &[&str]) -> Qmgrd {
        let socket = dir.join("sock");
        let state = dir.join("state");
        let mode = if extra.contains(&"--user") {
            None
        } else {
            Some("--system")
        };
        let mut args: Vec<String> = mode.into_iter().map(String::from).collect();
        args.extend([
            "--socket".into(),
            socket.to_str().unwrap().into(),
            "--state".into(),
            state.to_str().unwrap().into(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut daemon = Qmgrd {
            child: None,
            socket,
            state,
            args,
            log: Arc::default(),
        };
        daemon.launch();
        daemon
    }

    /// A daemon started by `command` (e.g. under a launcher) that serves
    /// `socket` once started; its stderr is captured. Does not wait.
    pub fn spawn_command(mut command: Command, socket: &Path, state: &Path) -> Qmgrd {
        let log: Arc<Mutex<String>> = Arc::default();
        let child = spawn_logged(&mut command, &log);
        Qmgrd {
            child: Some(child),
            socket: socket.to_path_buf(),
            state: state.to_path_buf(),
            args: Vec::new(),
            log,
        }
    }

    fn launch(&mut self) {
        let mut command = Command::new(qmgrd_bin());
        command.args(&self.args);
        self.child = Some(spawn_logged(&mut command, &self.log));
        let socket = self.socket.clone();
        wait_until(
            "qmgrd to accept connections",
            Duration::from_secs(60),
            || {
                if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                    panic!("qmgrd exited at start ({status}):\n{}", self.log());
                }
                std::os::unix::net::UnixStream::connect(&socket).is_ok()
            },
        );
    }

    /// Starts it again with the same command line (after a kill or an exit).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart of a running qmgrd");
        self.launch();
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("qmgrd is running").id()
    }

    /// SIGKILL, and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits (at most `limit`) for it to exit by itself; returns how.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("qmgrd is running");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("qmgrd did not exit within {limit:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, and waits for it to exit; returns how.
    pub fn terminate(&mut self) -> ExitStatus {
        send_signal(self.pid(), "-TERM");
        self.wait_exit(Duration::from_secs(60))
    }

    /// What it wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// A new connection to it.
    pub fn client(&self) -> Client {
        Client::connect(&self.socket)
    }
}

impl Drop for Qmgrd {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- qmgrd's stderr ---\n{}", self.log());
        }
    }
}

/// Spawns `command` with its stderr appended to `log` by a thread.
fn spawn_logged(command: &mut Command, log: &Arc<Mutex<String>>) -> Child {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let mut stderr = child.stderr.take().unwrap();
    let log = Arc::clone(log);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut chunk) {
            if n == 0 {
                break;
            }
            log.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    child
}

/// A raw Varlink client of one connection.
pub struct Client {
    /// The connection (for raw messages).
    pub conn: Connection,
}

impl Client {
    /// Connects to the daemon at `socket`.
    pub fn connect(socket: &Path) -> Client {
        let mut conn = Connection::connect(socket)
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", socket.display()));
        conn.set_limit(MAX_REPLY);
        Client { conn }
    }

    /// Calls `method` and returns its reply (within a minute).
    pub fn call(&mut self, method: &str, parameters: Value) -> Reply {
        self.conn
            .send_call(&Call::new(method, parameters))
            .unwrap_or_else(|e| panic!("{method}: cannot send: {e}"));
        self.next(method)
    }

    /// The next reply (of a call with `more`), within a minute.
    pub fn next(&mut self, what: &str) -> Reply {
        self.conn
            .read_reply(Some(Duration::from_secs(60)))
            .unwrap_or_else(|e| panic!("{what}: no reply: {e}"))
    }

    /// Calls `method`, which must succeed; returns its parameters.
    pub fn ok(&mut self, method: &str, parameters: Value) -> Value {
        let reply = self.call(method, parameters.clone());
        match reply.into_result() {
            Ok(map) => Value::Object(map),
            Err((name, p)) => panic!("{method}({parameters}) failed: {name} {p:?}"),
        }
    }

    /// Calls `method`, which must fail with `io.qmgr.Failed`; returns the error.
    pub fn failed(&mut self, method: &str, parameters: Value) -> qmgr::Error {
        let reply = self.call(method, parameters.clone());
        assert_eq!(
            reply.error.as_deref(),
            Some("io.qmgr.Failed"),
            "{method}({parameters}) gave {reply:?}"
        );
        decode_failed(&reply.parameters).unwrap()
    }

    /// Calls `method`, which must fail with the error `name`; returns its
    /// parameters.
    pub fn error(&mut self, method: &str, parameters: Value, name: &str) -> Map<String, Value> {
        let reply = self.call(method, parameters.clone());
        assert_eq!(
            reply.error.as_deref(),
            Some(name),
            "{method}({parameters}) gave {reply:?}"
        );
        reply.parameters
    }

    /// Creates a job; returns its id.
    pub fn create(&mut self, name: &str) -> String {
        let out = self.ok("io.qmgr.CreateJob", json!({ "display_name": name }));
        out["job"]["id"].as_str().unwrap().to_string()
    }

    /// The job `id` as the daemon reports it.
    pub fn job(&mut self, id: &str) -> JobSnapshot {
        let out = self.ok("io.qmgr.GetJob", json!({ "id": id }));
        decode_job(&out["job"], "job").unwrap()
    }
}

/// A Python client (standard library only) that sends `calls` in turn on
/// one connection and prints each reply as one JSON line (`{"eof": true}`
/// if the daemon closed the connection). `"$ID"` in a call stands for the
/// id of the last job a reply returned. With `hang`, it then prints
/// `ready` and sleeps until killed.
const PY_CLIENT: &str = r#"
import json, socket, sys, time
path, calls = sys.argv[1], json.loads(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
buf, last = b"", ""
for call in calls:
    try:
        s.sendall(json.dumps(call).replace("$ID", last).encode() + b"\0")
    except OSError:
        pass  # a daemon that refused the connection: its reply is still to read
    while b"\0" not in buf:
        try:
            chunk = s.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            print(json.dumps({"eof": True}), flush=True)
            sys.exit(0)
        buf += chunk
    msg, _, buf = buf.partition(b"\0")
    reply = json.loads(msg)
    job = reply.get("parameters", {}).get("job")
    if isinstance(job, dict):
        last = job["id"]
    print(json.dumps(reply), flush=True)
if len(sys.argv) > 3 and sys.argv[3] == "hang":
    print("ready", flush=True)
    time.sleep(3600)
"#;

/// The system's Python (not a per-user install another user cannot run).
pub fn system_python() -> Option<PathBuf> {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A running Python client (see `PY_CLIENT`), its output lines on a channel.
pub struct PyClient {
    /// The process.
    pub child: Child,
    lines: Receiver<String>,
}

impl PyClient {
    /// Starts the client on `socket` with `calls`, as the user `user` of
    /// group `group` when given (through `setpriv`, groups cleared).
    pub fn start(
        user: Option<(&str, &str)>,
        socket: &Path,
        calls: &[Value],
        hang: bool,
    ) -> PyClient {
        let python = system_python().expect("a system python3");
        let mut command = match user {
            Some((user, group)) => {
                let mut c = Command::new("setpriv");
                c.args([
                    &format!("--reuid={user}"),
                    &format!("--regid={group}"),
                    "--clear-groups",
                ])
                .arg(&python);
                c
            }
            None => Command::new(&python),
        };
        command
            .arg("-c")
            .arg(PY_CLIENT)
            .arg(socket)
            .arg(Value::Array(calls.to_vec()).to_string());
        if hang {
            command.arg("hang");
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .current_dir("/")
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        PyClient { child, lines }
    }

    /// The next line it prints (within a minute).
    pub fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(60))
            .expect("a line from the Python client")
    }
}

impl Drop for PyClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One call of a list for [`calls_as`].
pub fn call(method: &str, parameters: Value) -> Value {
    json!({"method": method, "parameters": parameters})
}

/// Runs `calls` as `user` (of `group`) on one connection; returns the
/// replies (fewer, ending with `{"eof": true}`, if the daemon hung up).
pub fn calls_as(user: &str, group: &str, socket: &Path, calls: &[Value]) -> Vec<Value> {
    let client = PyClient::start(Some((user, group)), socket, calls, false);
    let mut replies = Vec::new();
    while replies.len() < calls.len() {
        let line = client.line();
        let reply: Value = serde_json::from_str(&line).unwrap();
        let eof = reply.get("eof").is_some();
        replies.push(reply);
        if eof {
            break;
        }
    }
    replies
}
