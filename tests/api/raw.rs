//! HTTP/1.1 by hand over a TCP socket, for what a real client will not
//! send: unfinished bodies, malformed heads.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

/// What came back on a connection, up to its close.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
    /// Whether the server closed the connection (rather than `within` passing).
    pub closed: bool,
}

impl RawResponse {
    /// A header's value (lower-cased name), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Connects to the app and sends `bytes`, leaving the connection open.
pub async fn send_raw(app: &TestApp, bytes: &[u8]) -> TcpStream {
    let addr = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before it has read everything (a
    // head it refuses): what it sent is still there to read.
    if let Err(e) = stream.write_all(bytes).await {
        eprintln!("the server stopped reading after a part of the request: {e}");
    }
    stream
}

/// Reads until the server closes the connection or `within` passes (which
/// only bounds a hang: it is never what a test waits for).
pub async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> RawResponse {
    let (received, closed) = read_bytes_until_closed(stream, within).await;
    let split = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no response head (closed: {closed}): {:?}",
                String::from_utf8_lossy(&received)
            )
        });
    let head = String::from_utf8_lossy(&received[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    RawResponse {
        status,
        head,
        body: received[split + 4..].to_vec(),
        closed,
    }
}

/// Everything received until the server closed the connection (true) or
/// `within` passed (false).
pub async fn read_bytes_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    let closed = actix_web::rt::time::timeout(within, read_all).await.is_ok();
    (received, closed)
}

/// Sends `bytes` on a new connection and reads what comes back.
pub async fn exchange(app: &TestApp, bytes: &[u8], within: Duration) -> RawResponse {
    let mut stream = send_raw(app, bytes).await;
    read_until_closed(&mut stream, within).await
}
