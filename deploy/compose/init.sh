#!/usr/bin/env sh
# Prepares ./data for the compose file: a config, a master key and a TLS certificate.
# Uses the quickstart to make a development TLS certificate; use your own in production.
set -eu
cd "$(dirname "$0")"
[ -d data ] && { echo "data/ exists; remove it to start over"; exit 1; }
tmp=$(mktemp -d)
(cd "$tmp" && mamori quickstart --no-serve >/dev/null)
mkdir -p data/tls data/secrets
cp "$tmp/mamori-data/tls/server.pem" "$tmp/mamori-data/tls/server.key" "$tmp/mamori-data/tls/dev-root.pem" data/tls/
cp "$tmp/mamori-data/master.key" data/secrets/master.key
cat > data/mamori.toml <<'TOML'
[server]
listen = "0.0.0.0:8443"
mtls_listen = "0.0.0.0:8444"
public_url = "https://localhost:8443"
mtls_public_url = "https://localhost:8444"
tls_certificate = "tls/server.pem"
tls_private_key = "tls/server.key"
[secrets]
master_key_file = "secrets/master.key"
[mail]
transport = "outbox"
outbox_dir = "/tmp/outbox"
TOML
rm -rf "$tmp"
echo "data/ ready: podman compose up (or docker compose up)"
