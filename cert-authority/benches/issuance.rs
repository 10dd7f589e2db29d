//! Issuance throughput: device certificates per second (P-256 and RSA 2048, with and
//! without a modern PKCS#12 export), the same over two threads, and the time to sign
//! a CRL of 100,000 entries.
//!
//! Run: `cargo bench -p mamori-ca -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::thread;
use std::time::{Duration as StdDuration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mamori_ca::{
    CaSubject, CertificateAuthority, CertificateUrls, DeviceCertificateRequest, KeyAlgorithm, Pkcs12Format, RevocationReason,
    RevokedCertificate, export_pkcs12,
};
use time::{Duration, OffsetDateTime};

const THREADS: u64 = 2;

struct Fixture {
    ca: CertificateAuthority,
    chain: Vec<Vec<u8>>,
    now: OffsetDateTime,
}

fn fixture() -> Fixture {
    let now = OffsetDateTime::now_utc();
    let subject = |cn: &str| CaSubject { common_name: cn.into(), organization: Some("Mamori Bench".into()) };
    let root = CertificateAuthority::create_root(&subject("Bench Root"), KeyAlgorithm::EcP256, now, now + Duration::days(3650)).unwrap();
    // Devices are issued by an intermediate, as in a real deployment.
    let ca = root.create_intermediate(&subject("Bench Devices"), KeyAlgorithm::EcP256, now, now + Duration::days(1825)).unwrap();
    let mut chain = vec![ca.certificate_der().to_vec()];
    chain.extend(ca.chain_der().iter().cloned());
    Fixture { ca, chain, now }
}

fn request(now: OffsetDateTime, key_algorithm: KeyAlgorithm) -> DeviceCertificateRequest {
    DeviceCertificateRequest {
        common_name: "Alice's laptop".into(),
        email: Some("alice@example.com".into()),
        key_algorithm,
        not_before: now,
        not_after: now + Duration::days(365),
        urls: CertificateUrls {
            crl_distribution_point: Some("https://id.example/pki/devices.crl".into()),
            ocsp: None,
            ca_issuers: Some("https://id.example/pki/devices.der".into()),
        },
    }
}

/// One unit of work: issue, and optionally export as modern PKCS#12.
fn issue(fixture: &Fixture, req: &DeviceCertificateRequest, with_pkcs12: bool) -> usize {
    let issued = fixture.ca.issue_device_certificate(req).unwrap();
    if with_pkcs12 {
        let p12 = export_pkcs12(&issued, &fixture.chain, "correct horse battery staple", "Alice's laptop", Pkcs12Format::Modern).unwrap();
        return black_box(p12).len();
    }
    black_box(issued).certificate_der.len()
}

fn device_certificates(c: &mut Criterion) {
    let fixture = fixture();
    let mut group = c.benchmark_group("device_certificate");
    group.throughput(Throughput::Elements(1));
    for (name, alg) in [("p256", KeyAlgorithm::EcP256), ("rsa2048", KeyAlgorithm::Rsa2048)] {
        if alg != KeyAlgorithm::EcP256 {
            // RSA key generation takes tens of milliseconds; ten samples are plenty.
            group.sample_size(10);
        }
        let req = request(fixture.now, alg);
        group.bench_function(name, |b| b.iter(|| issue(&fixture, &req, false)));
        group.bench_function(format!("{name}_pkcs12"), |b| b.iter(|| issue(&fixture, &req, true)));
    }
    group.finish();
}

/// The same work spread over two threads, as a server on two cores would run it.
fn device_certificates_parallel(c: &mut Criterion) {
    let fixture = fixture();
    let mut group = c.benchmark_group("device_certificate_2_threads");
    group.throughput(Throughput::Elements(1));
    for (name, alg, with_pkcs12) in [("p256", KeyAlgorithm::EcP256, false), ("p256_pkcs12", KeyAlgorithm::EcP256, true)] {
        let req = request(fixture.now, alg);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                thread::scope(|scope| {
                    for thread_index in 0..THREADS {
                        // Spread the remainder so exactly `iters` units are done.
                        let share = iters / THREADS + u64::from(thread_index < iters % THREADS);
                        let (fixture, req) = (&fixture, &req);
                        scope.spawn(move || {
                            for _ in 0..share {
                                issue(fixture, req, with_pkcs12);
                            }
                        });
                    }
                });
                started.elapsed()
            })
        });
    }
    group.finish();
}

fn crl_100k(c: &mut Criterion) {
    let fixture = fixture();
    let entries: Vec<RevokedCertificate> = (1..=100_000u64)
        .map(|i| RevokedCertificate {
            // 128-bit serials like the ones we issue.
            serial_hex: format!("{:032x}", (u128::from(i) << 64) | 0x7f3a_9c21_55e0_1b44),
            revoked_at: fixture.now - Duration::seconds(i as i64),
            reason: if i % 3 == 0 { RevocationReason::Unspecified } else { RevocationReason::KeyCompromise },
        })
        .collect();
    let mut group = c.benchmark_group("crl");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign_100k_entries", |b| {
        b.iter(|| {
            let crl = fixture.ca.sign_crl(&entries, 1, fixture.now, fixture.now + Duration::days(7)).unwrap();
            black_box(crl.der.len())
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(StdDuration::from_secs(1));
    targets = device_certificates, device_certificates_parallel, crl_100k
}
criterion_main!(benches);
