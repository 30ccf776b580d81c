//! HTTP/1.1 over a raw loopback TCP stream, for framing that reqwest will not send: bodies
//! without a length, stalled bodies, headers sent byte by byte.

#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

/// A response read off a raw stream.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names in lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Parses the body as JSON, failing the test if it is not.
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

/// Opens a connection to `address`, given as `http://127.0.0.1:PORT`.
pub async fn connect(address: &str) -> TcpStream {
    let host = address.trim_start_matches("http://");
    TcpStream::connect(host)
        .await
        .expect("connects to the daemon")
}

/// Sends `request` as it is and reads one response within `limit`.
pub async fn exchange(address: &str, request: &[u8], limit: Duration) -> RawResponse {
    let mut stream = connect(address).await;
    stream.write_all(request).await.expect("request sent");
    read_response(&mut stream, limit)
        .await
        .expect("a response before the connection closed")
}

/// Reads one response, or `None` if the connection closes first. Fails the test if nothing
/// complete arrives within `limit`.
pub async fn read_response(stream: &mut TcpStream, limit: Duration) -> Option<RawResponse> {
    let deadline = Instant::now() + limit;
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end;
        }
        if !read_more(stream, &mut buffer, deadline).await {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("malformed status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map_or(0, |(_, value)| {
            value.parse::<usize>().expect("numeric length")
        });

    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        if !read_more(stream, &mut buffer, deadline).await {
            panic!("connection closed inside a response body");
        }
    }
    Some(RawResponse {
        status,
        headers,
        body: buffer[body_start..body_start + length].to_vec(),
    })
}

/// Waits until the peer closes the connection, reading and discarding anything it sends.
/// Returns how long that took, or `None` if it stayed open for all of `limit`.
pub async fn wait_for_close(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut scratch = [0u8; 4096];
    loop {
        let remaining = limit.checked_sub(started.elapsed())?;
        match timeout(remaining, stream.read(&mut scratch)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>, deadline: Instant) -> bool {
    let mut chunk = [0u8; 8192];
    let remaining = deadline.saturating_duration_since(Instant::now());
    match timeout(remaining, stream.read(&mut chunk)).await {
        Err(_) => panic!(
            "no complete response in time; received {:?}",
            String::from_utf8_lossy(buffer)
        ),
        Ok(Ok(0)) | Ok(Err(_)) => false,
        Ok(Ok(n)) => {
            buffer.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
