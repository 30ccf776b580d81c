//! A connection wrapper that bounds how long a client may take to send each request head.
//!
//! actix-web's `client_request_timeout` covers only the first request of a connection. Once a
//! response has gone out, a client could start the next request and then send its headers a
//! byte a minute, holding the connection for as long as it liked. `HeadTimeout` watches the
//! bytes of every later request: the head must end (a blank line) within the timeout of its
//! first byte, or the next read fails with `TimedOut` and actix-web drops the connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep, Sleep};

/// The position of a connection within its current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The head is complete, or this is the first request, which actix-web times itself.
    /// Ends when the server writes a response other than `100 Continue`.
    Serving,
    /// A response has gone out and the next request has not started.
    Idle,
    /// Bytes of a head have arrived. `matched` counts how much of the blank line that ends the
    /// head has been seen: 1 after `\r`, 2 after `\r\n`, 3 after `\r\n\r`.
    ReadingHead { matched: u8 },
}

/// An I/O stream whose reads fail once a request head, after the first, is late.
pub struct HeadTimeout<T> {
    io: T,
    timeout: Duration,
    phase: Phase,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<T> HeadTimeout<T> {
    pub fn new(io: T, timeout: Duration) -> Self {
        Self {
            io,
            timeout,
            phase: Phase::Serving,
            deadline: None,
        }
    }

    /// Advances the phase over `bytes`, which were just read.
    fn observe_read(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.phase == Phase::Idle {
            self.phase = Phase::ReadingHead { matched: 0 };
            self.deadline = Some(Box::pin(sleep(self.timeout)));
        }
        let Phase::ReadingHead { mut matched } = self.phase else {
            return;
        };
        for byte in bytes {
            matched = match (matched, byte) {
                (1, b'\n') => 2,
                (3, b'\n') => 4,
                // A bare `\n\n` also ends a head for actix-web's parser.
                (2, b'\n') => 4,
                (2, b'\r') => 3,
                (_, b'\r') => 1,
                (_, b'\n') => 2,
                _ => 0,
            };
            if matched == 4 {
                self.phase = Phase::Serving;
                self.deadline = None;
                return;
            }
        }
        self.phase = Phase::ReadingHead { matched };
    }
}

impl<T> HeadTimeout<T> {
    /// Marks the connection idle once a response goes out, because the next bytes the client
    /// sends start a new request. A `100 Continue` alone is no response: the body follows it.
    /// A response also ends a head whose blank line was not seen, as when a pipelined head
    /// was split across reads.
    fn observe_write(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || is_informational_only(bytes) {
            return;
        }
        self.phase = Phase::Idle;
        self.deadline = None;
    }
}

/// Whether `bytes` hold exactly one informational (1xx) response head and nothing after it.
fn is_informational_only(bytes: &[u8]) -> bool {
    let is_informational =
        bytes.len() > 10 && bytes.starts_with(b"HTTP/1.") && bytes[8] == b' ' && bytes[9] == b'1';
    let head_end = bytes.windows(4).position(|window| window == b"\r\n\r\n");
    is_informational && head_end == Some(bytes.len() - 4)
}

impl<T: AsyncRead + Unpin> AsyncRead for HeadTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(deadline) = this.deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request head not received in time",
                )));
            }
        }
        let filled = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.observe_read(&buf.filled()[filled..]);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HeadTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = polled {
            this.observe_write(&buf[..written]);
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after_first_response() -> HeadTimeout<()> {
        let mut stream = HeadTimeout::new((), Duration::from_secs(1));
        stream.phase = Phase::Idle;
        stream
    }

    #[tokio::test]
    async fn head_end_disarms_deadline() {
        let cases: [(&str, &[&[u8]]); 4] = [
            ("one read", &[b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"]),
            (
                "split blank line",
                &[b"GET / HTTP/1.1\r\n", b"Host: a\r", b"\n\r", b"\n"],
            ),
            ("bare newlines", &[b"GET / HTTP/1.1\nHost: a\n\n"]),
            ("head and body", &[b"POST / HTTP/1.1\r\n\r\n{\"a\": 1}"]),
        ];
        for (label, reads) in cases {
            let mut stream = after_first_response();

            for read in reads {
                stream.observe_read(read);
            }

            assert_eq!(stream.phase, Phase::Serving, "{label}");
            assert!(stream.deadline.is_none(), "{label}");
        }
    }

    #[tokio::test]
    async fn partial_head_arms_deadline() {
        let cases: [(&str, &[u8]); 3] = [
            ("request line", b"GET / HTTP/1.1\r\n"),
            ("one header", b"GET / HTTP/1.1\r\nHost: a\r\n"),
            ("carriage returns only", b"GET / HTTP/1.1\r\r\r\r"),
        ];
        for (label, read) in cases {
            let mut stream = after_first_response();

            stream.observe_read(read);

            assert!(matches!(stream.phase, Phase::ReadingHead { .. }), "{label}");
            assert!(stream.deadline.is_some(), "{label}");
        }
    }

    #[tokio::test]
    async fn first_request_is_left_to_actix() {
        let mut stream = HeadTimeout::new((), Duration::from_secs(1));

        stream.observe_read(b"GET / HTTP/1.1\r\n");

        assert_eq!(stream.phase, Phase::Serving);
        assert!(stream.deadline.is_none());
    }

    #[test]
    fn response_makes_connection_idle() {
        let cases: [(&str, Phase, &[u8], bool); 5] = [
            ("response", Phase::Serving, b"HTTP/1.1 200 OK\r\n", true),
            (
                "100 Continue",
                Phase::Serving,
                b"HTTP/1.1 100 Continue\r\n\r\n",
                false,
            ),
            (
                "100 Continue and response",
                Phase::Serving,
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",
                true,
            ),
            (
                "missed blank line",
                Phase::ReadingHead { matched: 2 },
                b"HTTP/1.1 200 OK\r\n",
                true,
            ),
            ("rest of a response", Phase::Idle, b"\"result\": {}}", true),
        ];
        for (label, phase, written, idle) in cases {
            let mut stream = HeadTimeout::new((), Duration::from_secs(1));
            stream.phase = phase;

            stream.observe_write(written);

            assert_eq!(stream.phase == Phase::Idle, idle, "{label}");
        }
    }

    #[tokio::test]
    async fn late_head_fails_read() {
        let (client, server) = tokio::io::duplex(1024);
        let mut stream = HeadTimeout::new(server, Duration::from_millis(100));
        stream.phase = Phase::Idle;
        let mut client = client;
        tokio::io::AsyncWriteExt::write_all(&mut client, b"GET / HT")
            .await
            .unwrap();
        let mut buffer = [0u8; 64];
        let first = tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await;

        let second = tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await;

        assert_eq!(first.unwrap(), 8);
        assert_eq!(second.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }
}
