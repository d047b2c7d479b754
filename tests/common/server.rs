//! The built `mindgate` binary, run as a command or as a server process,
//! free of the caller's mindgate settings.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Runs the mindgate binary, off the async runtime.
pub fn mindgate(args: &[&str]) -> impl std::future::Future<Output = Output> + 'static {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    async move {
        actix_web::rt::task::spawn_blocking(move || mindgate_blocking(&args))
            .await
            .expect("join")
    }
}

pub fn mindgate_blocking(args: &[String]) -> Output {
    mindgate_command(args).output().expect("run mindgate")
}

/// The mindgate binary with `args`, free of the caller's mindgate settings.
pub fn mindgate_command(args: &[String]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mindgate"));
    command.args(args);
    without_settings(&mut command);
    command
}

/// Clears the mindgate settings that `command` would inherit.
fn without_settings(command: &mut Command) {
    for name in [
        "MINDGATE_BASE_PATH",
        "MINDGATE_DB",
        "MINDGATE_LISTEN",
        "MINDGATE_RECORD_CHATS",
        "MINDGATE_SECRET_KEY",
        "MINDGATE_SECRET_KEY_FILE",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
    ] {
        command.env_remove(name);
    }
}

/// Runs the binary with `env` set and `stdin` on its standard input.
pub fn mindgate_with_stdin(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let mut child = mindgate_command(&args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mindgate");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `mindgate admin set-password EMAIL --db DB`, the password on stdin.
pub fn set_password(db: &Path, email: &str, password: &str) -> Output {
    let db = db.to_str().unwrap();
    mindgate_with_stdin(
        &["admin", "set-password", email, "--db", db],
        &[],
        &format!("{password}\n"),
    )
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A `mindgate` server process and the URL it logged, killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub url: String,
    /// What it logged before the URL.
    pub startup: Vec<String>,
    /// What it logs from then on, line by line.
    pub log: mpsc::Receiver<String>,
}

impl ServerProcess {
    /// `mindgate ARGS`, with `envs` set, logging at `info`.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mindgate"));
        command.args(args);
        ServerProcess::start_with(command, envs)
    }

    /// `mindgate serve` on a free port of 127.0.0.1 with the database at
    /// `db`, and `flags` after them.
    pub fn serve(db: &Path, flags: &[&str], envs: &[(&str, &str)]) -> ServerProcess {
        let db = db.to_str().expect("a UTF-8 path");
        let args = ["serve", "--listen", "127.0.0.1:0", "--db", db];
        ServerProcess::start(&[&args[..], flags].concat(), envs)
    }

    /// Runs `command`, which starts mindgate, and waits for its URL.
    pub fn start_with(mut command: Command, envs: &[(&str, &str)]) -> ServerProcess {
        without_settings(&mut command);
        let mut child = command
            .envs(envs.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mindgate");
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut startup = Vec::new();
        let url = loop {
            let line = log
                .recv_timeout(Duration::from_secs(30))
                .expect("the server logs its URL");
            if let Some(at) = line.find("listening on http://") {
                let rest = &line[at + "listening on ".len()..];
                break rest.split_whitespace().next().unwrap().to_owned();
            }
            startup.push(line);
        };
        ServerProcess {
            child,
            url,
            startup,
            log,
        }
    }

    /// SIGTERM, then the exit status and the rest of the log.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        // The shell's builtin kill: no procps needed.
        let killed = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status()
            .unwrap();
        assert!(killed.success());
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.log.try_iter().collect());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("mindgate did not stop within 10 s of SIGTERM");
    }

    /// The most memory the process has held, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmHWM in {status}"))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
