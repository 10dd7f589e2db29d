//! OCSP responses per second: reading a request for one certificate (with a 16-octet
//! nonce, as `openssl ocsp` sends), matching its issuer, and building and signing the
//! BasicOCSPResponse with the delegated P-256 signer; on one thread and on two. The
//! server adds its database reads (`pki/ocsp.rs`) on top; they are not measured here.
//!
//! Run: `cargo bench -p mamori-ca --bench ocsp -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::thread;
use std::time::{Duration as StdDuration, Instant};

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mamori_ca::{
    CaSubject, CertificateAuthority, CertificateUrls, DeviceCertificateRequest, KeyAlgorithm, OcspSigner, OcspStatus, OcspTimes,
    RevocationReason, parse_ocsp_request,
};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer as _;
use yasna::models::ObjectIdentifier;

const THREADS: u64 = 2;

struct Fixture {
    signer: OcspSigner,
    request: Vec<u8>,
    now: OffsetDateTime,
}

fn fixture() -> Fixture {
    let now = OffsetDateTime::now_utc();
    let subject = |cn: &str| CaSubject { common_name: cn.into(), organization: Some("Mamori Bench".into()) };
    let root = CertificateAuthority::create_root(&subject("Bench Root"), KeyAlgorithm::EcP256, now, now + Duration::days(3650)).unwrap();
    let ca = root.create_intermediate(&subject("Bench Devices"), KeyAlgorithm::EcP256, now, now + Duration::days(1825)).unwrap();
    let issued = ca
        .issue_device_certificate(&DeviceCertificateRequest {
            common_name: "Alice's laptop".into(),
            email: None,
            key_algorithm: KeyAlgorithm::EcP256,
            not_before: now,
            not_after: now + Duration::days(365),
            urls: CertificateUrls::default(),
        })
        .unwrap();
    let signer = ca.ocsp_signer(now, StdDuration::from_secs(2 * 86_400)).unwrap();

    // The request `openssl ocsp -issuer ca.pem -cert user.pem` sends: SHA-1 CertID, nonce.
    let (_, ca_cert) = x509_parser::certificate::X509Certificate::from_der(ca.certificate_der()).unwrap();
    let name_hash = digest(&SHA1_FOR_LEGACY_USE_ONLY, ca_cert.subject().as_raw());
    let key_hash = digest(&SHA1_FOR_LEGACY_USE_ONLY, &ca_cert.public_key().subject_public_key.data);
    let serial = hex::decode(&issued.serial_hex).unwrap();
    let request = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                w.next().write_oid(&ObjectIdentifier::from_slice(&[1, 3, 14, 3, 2, 26]));
                                w.next().write_null();
                            });
                            w.next().write_bytes(name_hash.as_ref());
                            w.next().write_bytes(key_hash.as_ref());
                            w.next().write_bigint_bytes(&serial, true);
                        });
                    });
                });
                w.next().write_tagged(yasna::Tag::context(2), |w| {
                    w.write_sequence(|w| {
                        w.next().write_sequence(|w| {
                            w.next().write_oid(&ObjectIdentifier::from_slice(&[1, 3, 6, 1, 5, 5, 7, 48, 1, 2]));
                            w.next().write_bytes(&yasna::construct_der(|w| w.write_bytes(&[0x5a; 16])));
                        });
                    });
                });
            });
        });
    });
    Fixture { signer, request, now }
}

/// One response: parse, match the issuer, sign.
fn respond(fixture: &Fixture, status: OcspStatus) -> usize {
    let query = parse_ocsp_request(&fixture.request).unwrap();
    assert!(query.certificates.iter().all(|c| fixture.signer.is_issuer_of(c)));
    let times = OcspTimes { produced_at: fixture.now, this_update: fixture.now, next_update: fixture.now + Duration::hours(24) };
    black_box(fixture.signer.respond(&query, &[status], times).unwrap()).len()
}

fn responses(c: &mut Criterion) {
    let fixture = fixture();
    let revoked = OcspStatus::Revoked { at: fixture.now, reason: RevocationReason::KeyCompromise };
    let mut group = c.benchmark_group("ocsp_response");
    group.throughput(Throughput::Elements(1));
    group.bench_function("good", |b| b.iter(|| respond(&fixture, OcspStatus::Good)));
    group.bench_function("revoked", |b| b.iter(|| respond(&fixture, revoked)));
    group.bench_function("good_2_threads", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            thread::scope(|scope| {
                for thread_index in 0..THREADS {
                    let share = iters / THREADS + u64::from(thread_index < iters % THREADS);
                    let fixture = &fixture;
                    scope.spawn(move || {
                        for _ in 0..share {
                            respond(fixture, OcspStatus::Good);
                        }
                    });
                }
            });
            started.elapsed()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(StdDuration::from_secs(1));
    targets = responses
}
criterion_main!(benches);
