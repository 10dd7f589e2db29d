//! A client that never finishes its request head is dropped on both listeners, so a
//! handful of slow connections cannot hold the server's sockets and tasks for ever.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mamori_conformance::Quickstart;
use mamori_conformance::login_client::dev_roots;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_never_ends_is_dropped_on_both_listeners() -> anyhow::Result<()> {
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let qs = Quickstart::start(work.path());
    let roots = dev_roots(&qs.data_dir())?;
    let tls = Arc::new(rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth());
    for url in [qs.main_url.clone(), qs.mtls_url.clone()] {
        let addr = url.replace("https://localhost", "127.0.0.1");
        let started = Instant::now();
        let tcp = tokio::net::TcpStream::connect(&addr).await?;
        let mut stream = tokio_rustls::TlsConnector::from(Arc::clone(&tls)).connect(ServerName::try_from("localhost")?, tcp).await?;
        // Honest requests on this connection would be answered; this head never ends.
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n").await?;
        let mut buf = [0u8; 1024];
        // The server must close well within a minute (it promises 10 s); a read that
        // returns 0 bytes or an error is the close.
        let closed = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "{url}: a never-ending request head kept the connection open for a minute");
        assert!(started.elapsed() >= Duration::from_secs(5), "{url}: dropped before a slow but honest client could finish");
    }
    qs.stop();
    Ok(())
}
