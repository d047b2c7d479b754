//! mindgate as a child process: its API key, start, resource counters from
//! /proc, and a graceful stop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_mindgate");
const LISTENING: &str = "mindgate listening on http://";

/// Creates an API key in the database and returns it.
pub fn create_key(db: &Path) -> String {
    let output = Command::new(BINARY)
        .args(["keys", "create", "--name", "bench", "--db"])
        .arg(db)
        .output()
        .expect("cannot run mindgate keys create");
    assert!(output.status.success(), "mindgate keys create failed");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .find(|token| token.starts_with("mg_"))
        .expect("no key in the output of mindgate keys create")
        .to_owned()
}

pub struct Mindgate {
    child: Child,
    pub address: SocketAddr,
}

impl Mindgate {
    /// Starts mindgate on a free port with the mock as its OpenAI and
    /// Anthropic upstream, and waits until it listens.
    pub fn start(db: &Path, upstream: SocketAddr, record_chats: bool) -> Mindgate {
        let mut child = Command::new(BINARY)
            .args(["--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .env("OPENAI_BASE_URL", format!("http://{upstream}/v1"))
            .env("OPENAI_API_KEY", "sk-bench")
            .env("ANTHROPIC_BASE_URL", format!("http://{upstream}"))
            .env("ANTHROPIC_API_KEY", "sk-ant-bench")
            .env(
                "MINDGATE_RECORD_CHATS",
                if record_chats { "on" } else { "off" },
            )
            // The listening line is at info; one access log line per request
            // would cost more than what is measured.
            .env("RUST_LOG", "info,actix_web::middleware::logger=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start mindgate");
        let stderr = child.stderr.take().expect("mindgate's stderr");
        let (listening, address) = mpsc::channel();
        // Drains stderr for mindgate's whole life so the pipe never fills;
        // warnings and errors are shown.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split(LISTENING).nth(1) {
                    let address = rest.split_whitespace().next().unwrap_or_default();
                    let _ = listening.send(address.parse::<SocketAddr>());
                } else if line.contains(" WARN ") || line.contains(" ERROR ") {
                    eprintln!("  mindgate: {line}");
                }
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(10))
            .expect("mindgate did not say where it listens within 10 s")
            .expect("mindgate's listening address");
        Mindgate { child, address }
    }

    /// User plus system CPU time used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("cannot read mindgate's /proc stat");
        // Fields after the command name, which may hold spaces: state is the
        // first, utime the 12th and stime the 13th.
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .expect("unexpected /proc stat")
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf only reads a system constant.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_secs_f64(ticks as f64 / per_second as f64)
    }

    /// Peak resident memory so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("cannot read mindgate's /proc status")
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("no VmHWM in /proc status")
    }

    /// SIGTERM, then waits: queued chat logs are written before it exits.
    pub fn stop(mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: signals our own child, which has not been waited for yet.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "cannot signal mindgate");
        let status = self.child.wait().expect("waiting for mindgate");
        assert!(status.success(), "mindgate exited with {status}");
    }
}
