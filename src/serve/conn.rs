//! The accept loop: HTTP/1 connections, at most a configured number at once, each closed
//! when it sends no request head within the header timeout, drained gracefully at shutdown.
//!
//! `axum::serve` has neither a connection limit nor a header timeout (hyper's needs a timer,
//! which it does not set), so idle or half-sent connections were held for ever, each with
//! its buffers and task. This loop is the same hyper connection with those two bounds:
//!
//! - a connection over the limit gets a `503` with `Retry-After` written straight to its
//!   socket (a fixed 200 bytes, no task) and is closed, so the server's memory for
//!   connections is bounded by the limit, and a refused client is told why;
//! - hyper's header timeout starts whenever a connection waits for a request head, so it
//!   bounds both a slow head and an idle keep-alive connection. A slow *body* is bounded by
//!   the body deadline of [`super::body`].

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// The bounds on connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a connection may take to send a request head, or stay idle between requests.
    pub header_timeout: Duration,
}

/// What a connection over the limit reads before it is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 106\r\n\r\n\
{\"ok\":false,\"error\":{\"kind\":\"too_many_connections\",\"message\":\"the server's connection limit is reached\"}}\n";

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets every
/// connection finish the request it is serving, and returns when all have closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let max = limits.max_connections.clamp(1, u32::MAX as usize);
    let open = Arc::new(Semaphore::new(max));
    let (closing, closed) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            refuse(&stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = closed.wait_for(|c| *c) => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = closing.send(true);
    // Every connection holds a permit until it closes: all of them back means all closed.
    let _ = open.acquire_many(max as u32).await;
    Ok(())
}

/// Writes the refusal if the socket takes it at once (a fresh socket's buffer always does),
/// then drops the connection.
fn refuse(stream: &TcpStream) {
    let _ = stream.try_write(REFUSAL);
}

/// Out of file descriptors, or a connection reset before it was accepted: the former lasts,
/// so wait a little rather than spin.
async fn accept_failed(e: &io::Error) {
    if !matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn the_refusal_declares_its_body_length() {
        let text = std::str::from_utf8(super::REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{}",
            body.len()
        );
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }
}
