//! What the per-request certificate binding of a session costs (`flows::session_binding`):
//! the check run in a loop against a real quickstart database, beside the session load
//! it rides with, in wall time and CPU time per call.
//!
//! `cargo run --release -p mamori-conformance --bin binding-cost -- [CALLS]`

use std::time::Instant;

use anyhow::Context as _;
use mamori::flows::login::{Authenticated, Factor};
use mamori::flows::session_binding::{self, Binding, CertificateBinding};
use mamori_conformance::login_client::{dev_roots, provision_user};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let calls: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5000);
    mamori::server::tls::install_default_provider();
    let work = tempfile::tempdir()?;
    let status = std::process::Command::new(mamori_conformance::mamori_bin())
        .args(["quickstart", "--no-serve"])
        .current_dir(work.path())
        .output()?;
    anyhow::ensure!(status.status.success(), "quickstart failed: {}", String::from_utf8_lossy(&status.stderr));
    let config = work.path().join("mamori-data/mamori.toml");
    let app = mamori::app::App::open(&config).await?;
    let tenant = app.storage.tenants().get_by_slug("demo").await?.context("demo tenant")?;
    let hash = app.hasher.hash("Bench-Password-1").await?;
    provision_user(&app, &tenant, "bench", &hash, "Bench-Password-1", &dev_roots(&work.path().join("mamori-data"))?).await?;
    let user = app.storage.users().get_by_login_id(tenant.id, "bench").await?.context("user")?;
    let device = app.storage.devices().list_for_user(user.id, false).await?.into_iter().next().context("device")?;
    // A certificate of that device whose DER we keep: what a connection would present.
    let now = app.now();
    let owner = mamori::pki::CertificateOwner { user_id: Some(user.id), device_id: Some(device.id) };
    let issued = app
        .ca
        .issue_device_certificate(owner, "bench".to_owned(), None, mamori_ca::KeyAlgorithm::EcP256, now, now + time::Duration::days(1))
        .await?;
    let presented = issued.certificate_der.clone();
    let bound = CertificateBinding::of(&issued.serial_hex, &presented);
    let auth = Authenticated {
        user_id: user.id,
        factors: vec![Factor::Certificate, Factor::Pwd],
        auth_time: 0,
        auth_time_ms: 0,
        sid: String::new(),
        certificate: None,
    };
    let auth = Authenticated { certificate: Some(bound), ..auth };

    // The check as a request makes it (certificate and device read from the database).
    let measure = |label: &str, wall: std::time::Duration, cpu: f64| {
        println!("| {label} | {:.1} | {:.1} |", wall.as_secs_f64() * 1e6 / f64::from(calls), cpu * 1e6 / f64::from(calls));
    };
    println!("calls: {calls}");
    println!("| what | wall µs per call | CPU µs per call |");
    println!("|---|---:|---:|");
    let (start, cpu0) = (Instant::now(), mamori_conformance::cpu_seconds(std::process::id()));
    for _ in 0..calls {
        let verdict = session_binding::check(&app, &auth, Some(&presented), app.now()).await?;
        anyhow::ensure!(verdict == Binding::Holds, "{verdict:?}");
    }
    measure("certificate binding check", start.elapsed(), mamori_conformance::cpu_seconds(std::process::id()) - cpu0);
    // For scale: reading the user, which every portal page does as well.
    let (start, cpu0) = (Instant::now(), mamori_conformance::cpu_seconds(std::process::id()));
    for _ in 0..calls {
        app.storage.users().get(user.id).await?;
    }
    measure("one user read (for scale)", start.elapsed(), mamori_conformance::cpu_seconds(std::process::id()) - cpu0);
    Ok(())
}
