//! `mamori ca …`: create or import the CA, issue, revoke, publish the CRL.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mamori_ca::{CaSubject, KeyAlgorithm, Pkcs12Format, RevocationReason};

use super::{CaCommand, CaKeyType, DeviceKeyType, OutputFormat};
use crate::app::App;
use crate::pki::{CaSource, CertificateOwner};

pub async fn run(config: &Path, command: CaCommand) -> anyhow::Result<()> {
    let app = App::open(config).await?;
    match command {
        CaCommand::Init(args) => {
            let source = match (args.import_cert, args.import_key) {
                (Some(cert), Some(key)) => CaSource::Import {
                    certificate_pem: read_text(&cert, "CA certificate")?,
                    key_pem: read_text(&key, "CA private key")?,
                    chain_pem: args.import_chain.as_deref().map(|p| read_text(p, "CA chain")).transpose()?,
                },
                _ => CaSource::Create {
                    subject: CaSubject { common_name: args.common_name, organization: args.organization },
                    key: match args.key_type {
                        CaKeyType::P256 => KeyAlgorithm::EcP256,
                        CaKeyType::Rsa3072 => KeyAlgorithm::Rsa3072,
                    },
                    years: args.years,
                    intermediate: args.intermediate,
                },
            };
            let summary = app.ca.init(source, args.replace, app.now()).await?;
            super::output::print(args.output.output, &summary, || {
                format!(
                    "certificate authority ready: {} ({}), SHA-256 {}",
                    summary.common_name, summary.key_algorithm, summary.fingerprint_sha256
                )
            })
        }
        CaCommand::Issue(args) => issue(&app, args).await,
        CaCommand::Revoke(args) => {
            let reason: RevocationReason = args.reason.parse().map_err(|_| {
                anyhow::anyhow!(
                    "--reason {}: not a revocation reason (unspecified, key-compromise, ca-compromise, affiliation-changed, superseded, cessation-of-operation, certificate-hold, privilege-withdrawn)",
                    args.reason
                )
            })?;
            let revoked = app.ca.revoke(&args.serial, reason, app.now()).await?;
            let serial = mamori_storage::serial_key(&args.serial);
            // Its sessions would end at their next request anyway; the user's others too.
            let (tenant, ended) = match revoked.user_id {
                Some(user_id) => {
                    let tenant = match app.storage.users().get(user_id).await {
                        Ok(user) => app.storage.tenants().get(user.tenant_id).await.ok(),
                        Err(_) => None,
                    };
                    (tenant, Some(crate::flows::session_end::end_all(&app, user_id).await))
                }
                None => (None, None),
            };
            // The target as `admin certificate revoke` writes it, so one search finds both.
            let target = match &tenant {
                Some(t) => format!("tenant:{}/certificate:{}", t.slug, revoked.serial_hex),
                None => format!("certificate:{}", revoked.serial_hex),
            };
            let ended_count = ended.as_ref().and_then(|e| e.as_ref().ok().copied());
            crate::admin::audit::record(
                &app,
                &crate::admin::Principal::local_cli(),
                tenant.as_ref().map(|t| t.id),
                "certificate.revoke",
                &target,
                serde_json::json!({"reason": reason.as_str(), "subject": revoked.subject_cn, "sessions_ended": ended_count}),
            )
            .await;
            let ended = ended.map(|e| super::admin::sessions_ended(e, &format!("revoked {serial}"))).transpose()?;
            let out = crate::admin::api::schema::CertificateOut::from(&revoked);
            let json = serde_json::json!({
                "serial": out.serial, "subject": out.subject_cn, "status": out.status,
                "revocation_reason": reason.as_str(), "revoked_at": revoked.revoked_at.map(super::output::time),
                "sessions_ended": ended,
            });
            super::output::print(args.output.output, &json, || match ended {
                Some(n) => format!(
                    "revoked {serial} ({reason}); the next CRL lists it; ended {n} session(s) of its user and the relying sites' tokens from them"
                ),
                None => format!("revoked {serial} ({reason}); the next CRL lists it"),
            })
        }
        CaCommand::Crl(args) => {
            let json_out = args.output.output == OutputFormat::Json;
            anyhow::ensure!(!(json_out && args.der && args.out.is_none()), "--der with --output json needs --out FILE (JSON carries PEM)");
            let crl = app.ca.current_crl(app.now()).await?;
            let bytes = if args.der { crl.der.clone() } else { crl.pem.clone().into_bytes() };
            let mut json = serde_json::json!({ "crl_number": crl.crl_number, "next_update": super::output::time(crl.next_update) });
            match (&args.out, json_out) {
                (Some(path), _) => {
                    write_out(Some(path), &bytes, "CRL")?;
                    json["out"] = path.display().to_string().into();
                }
                (None, true) => json["pem"] = crl.pem.clone().into(),
                (None, false) => write_out(None, &bytes, "CRL")?,
            }
            if json_out {
                super::output::print(OutputFormat::Json, &json, String::new)
            } else {
                super::output::note(&format!("CRL number {}, next update {}", crl.crl_number, super::output::time(crl.next_update)));
                Ok(())
            }
        }
        CaCommand::Chain(args) => {
            let pem = app.ca.published_chain_pem().await?;
            match (&args.out, args.output.output) {
                (Some(path), format) => {
                    write_out(Some(path), pem.as_bytes(), "CA chain")?;
                    super::output::print(format, &serde_json::json!({ "out": path.display().to_string() }), String::new)
                }
                (None, OutputFormat::Json) => super::output::print(OutputFormat::Json, &serde_json::json!({ "pem": pem }), String::new),
                (None, OutputFormat::Text) => write_out(None, pem.as_bytes(), "CA chain"),
            }
        }
        CaCommand::Show(out) => {
            let summary = app.ca.summary().await?;
            match out.output {
                OutputFormat::Json => super::output::line(&serde_json::to_string_pretty(&summary)?),
                OutputFormat::Text => super::output::line(&super::output::fields(&[
                    ("common name", summary.common_name.clone()),
                    ("key algorithm", summary.key_algorithm.to_string()),
                    ("SHA-256", summary.fingerprint_sha256.clone()),
                    ("CRL", format!("/ca/{}/crl.der (also /ca/crl.der while active)", summary.url_key)),
                    ("OCSP", format!("/ca/{}/ocsp", summary.url_key)),
                    ("valid until", super::output::time(summary.not_after)),
                    ("chain length", summary.chain_length.to_string()),
                ])),
            }
        }
    }
}

async fn issue(app: &App, args: super::CaIssueArgs) -> anyhow::Result<()> {
    let now = app.now();
    let not_after = now + time::Duration::days(i64::from(args.days.max(1)));
    let owner = CertificateOwner::default();
    let issued = if let Some(csr_path) = &args.csr {
        let csr = std::fs::read(csr_path).with_context(|| format!("cannot read CSR file {}", csr_path.display()))?;
        app.ca
            .issue_from_csr(owner, csr, args.common_name, args.email, now, not_after)
            .await
            .with_context(|| format!("CSR file {}", csr_path.display()))?
    } else {
        let Some(p12_path) = &args.p12 else {
            anyhow::bail!("give --csr FILE (the key stays on the device) or --p12 FILE --password-file FILE (a new key)");
        };
        let password_path = args.password_file.as_ref().context("--p12 needs --password-file")?;
        let password = read_text(password_path, "PKCS#12 password")?;
        let password = password.trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            anyhow::bail!("password file {} is empty", password_path.display());
        }
        let key = match args.key_type.unwrap_or(DeviceKeyType::P256) {
            DeviceKeyType::P256 => KeyAlgorithm::EcP256,
            DeviceKeyType::Rsa2048 => KeyAlgorithm::Rsa2048,
        };
        let cn = args.common_name.clone();
        // Before the certificate exists: a path that cannot be written issues nothing.
        let pending = PendingFile::create(p12_path).with_context(|| format!("cannot write {}", p12_path.display()))?;
        let issued = app.ca.issue_device_certificate(owner, args.common_name, args.email, key, now, not_after).await?;
        let format = if args.legacy { Pkcs12Format::Legacy } else { Pkcs12Format::Modern };
        let chain = app.ca.pkcs12_chain().await?;
        let p12 = mamori_ca::export_pkcs12(&issued, &chain, password, &cn, format)?;
        pending.finish(&p12).with_context(|| format!("cannot write {}", p12_path.display()))?;
        if args.output.output == OutputFormat::Text {
            super::output::note(&format!("wrote {} ({format} PKCS#12)", p12_path.display()));
        }
        issued
    };
    let mut json = serde_json::json!({
        "serial": issued.serial_hex, "subject": issued.subject_common_name, "not_after": super::output::time(issued.not_after),
        "p12": args.p12.as_ref().map(|p| p.display().to_string()),
    });
    match (&args.out, args.output.output) {
        (Some(path), _) => {
            write_out(Some(path), issued.certificate_pem.as_bytes(), "certificate")?;
            json["out"] = path.display().to_string().into();
        }
        (None, OutputFormat::Json) => json["certificate_pem"] = issued.certificate_pem.clone().into(),
        (None, OutputFormat::Text) => write_out(None, issued.certificate_pem.as_bytes(), "certificate")?,
    }
    match args.output.output {
        OutputFormat::Json => super::output::print(OutputFormat::Json, &json, String::new),
        OutputFormat::Text => {
            super::output::note(&format!(
                "issued serial {} for {}, valid until {}",
                issued.serial_hex,
                issued.subject_common_name,
                super::output::time(issued.not_after)
            ));
            Ok(())
        }
    }
}

fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} file {}", path.display()))
}

fn write_out(path: Option<&Path>, bytes: &[u8], what: &str) -> anyhow::Result<()> {
    match path {
        Some(path) => write_file_atomically(path, bytes).with_context(|| format!("cannot write {what} to {}", path.display())),
        None => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush()).map_err(|e| super::output::OutputFailed(e).into())
        }
    }
}

/// Writes beside the target and renames, so a reader never sees half a file.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    PendingFile::create(path)?.finish(bytes)
}

/// A file that will hold what is about to be made (a certificate and its key): created
/// beside its target before the work, so a path that cannot be written fails before
/// anything is issued; written and renamed into place after. Dropped unfinished, it
/// leaves nothing behind.
pub struct PendingFile {
    file: Option<std::fs::File>,
    tmp: PathBuf,
    path: PathBuf,
}

impl PendingFile {
    pub fn create(path: &Path) -> std::io::Result<PendingFile> {
        let mut tmp = PathBuf::from(path);
        tmp.as_mut_os_string().push(".tmp");
        let file = std::fs::File::create(&tmp)?;
        Ok(PendingFile { file: Some(file), tmp, path: path.to_owned() })
    }

    pub fn finish(mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;
        let mut file = self.file.take().ok_or_else(|| std::io::Error::other("the file was already finished"))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path)
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        // Unfinished (the work failed, or finishing did): take the temporary file away.
        let _ = std::fs::remove_file(&self.tmp);
    }
}
