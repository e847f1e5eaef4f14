//! The accept loop of `stepwise serve`, with the limits `axum::serve` does
//! not expose: a connection must send a request's head within
//! [`Limits::head`], and at most [`Limits::connections`] are open at once.
//! Without them, a few hundred idle or half-sent connections held the
//! server's sockets for minutes and left none for real clients.

use std::future::Future;
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

pub struct Limits {
    /// How long a request's head may take to arrive, counted from the
    /// moment the connection is ready for one. hyper starts this clock when
    /// a connection opens and again when it answers, so it is also the
    /// idle keep-alive timeout. A request being answered (a GetActivityTask
    /// long poll) is not timed.
    pub head: Duration,
    /// Connections served at once. Beyond it, new connections wait in the
    /// listen backlog (the kernel's queue) until one closes; the open ones
    /// keep being answered.
    pub connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            head: Duration::from_secs(10),
            connections: 1024,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets every
/// open connection finish the request it is answering and returns.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.connections));
    let (stop, stopping) = watch::channel(());
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.head);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // The client gave up before we took the connection.
                Err(e) if matches!(
                    e.kind(),
                    ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
                ) => continue,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some
                    // to close rather than spin.
                    eprintln!("stepwise: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stopping.changed() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    let _ = stop.send(());
    // Every connection holds a permit until it closes.
    let all = u32::try_from(limits.connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Instant;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    use super::*;

    /// A server whose every answer takes `answer` to come; it stops when the
    /// sender is dropped.
    async fn start(limits: Limits, answer: Duration) -> (SocketAddr, oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(move || async move {
            tokio::time::sleep(answer).await;
            "ok"
        });
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, limits, async {
            let _ = stopped.await;
        }));
        (addr, stop)
    }

    /// What the server sends on a connection until it closes it.
    async fn read_all(mut conn: TcpStream) -> String {
        let mut out = Vec::new();
        let read = conn.read_to_end(&mut out);
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("the server closes the connection")
            .ok();
        String::from_utf8_lossy(&out).into_owned()
    }

    async fn get(addr: SocketAddr) -> String {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        read_all(conn).await
    }

    fn limits(head_ms: u64, connections: usize) -> Limits {
        Limits {
            head: Duration::from_millis(head_ms),
            connections,
        }
    }

    #[tokio::test]
    async fn a_half_sent_head_is_cut_off() {
        let (addr, _stop) = start(limits(200, 8), Duration::ZERO).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"POST / HTTP/1.1\r\nHost:").await.unwrap();
        let started = Instant::now();
        read_all(conn).await;
        assert!(started.elapsed() >= Duration::from_millis(150));
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed() {
        let (addr, _stop) = start(limits(200, 8), Duration::ZERO).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert!(read_all(conn).await.starts_with("HTTP/1.1 200"));
    }

    #[tokio::test]
    async fn a_slow_answer_is_not_cut_off() {
        let (addr, _stop) = start(limits(100, 8), Duration::from_millis(500)).await;
        assert!(get(addr).await.ends_with("ok"));
    }

    #[tokio::test]
    async fn beyond_the_bound_a_connection_waits_for_one_to_close() {
        let (addr, _stop) = start(limits(300, 1), Duration::ZERO).await;
        let _idle = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        assert!(get(addr).await.ends_with("ok"));
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn shutdown_lets_the_answer_in_progress_finish() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(|| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "ok"
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, limits(1000, 8), async {
            let _ = stopped.await;
        }));
        let answer = tokio::spawn(get(addr));
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(stop);
        assert!(answer.await.unwrap().ends_with("ok"));
        tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .expect("the server returns once its connections close")
            .unwrap();
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
