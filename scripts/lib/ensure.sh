# Shared install steps for scripts/quickstart and scripts/test (sourced, not run).
# Each step checks first and installs only what is missing, so a warm machine pays nothing.

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: '$*' needs root; run as root or install sudo" >&2; return 1; fi
}

apt_updated=""
# ensure_apt_packages PKG... — installs the Debian packages that are not installed yet.
ensure_apt_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "error: missing packages ${missing[*]} and no apt-get to install them" >&2; return 1
  fi
  echo "==> installing ${missing[*]}"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The packages the Rust build itself needs (samael's bindgen wants libclang, and it links
# the system libxmlsec1/libxml2/OpenSSL).
BUILD_PACKAGES=(build-essential pkg-config libssl-dev libxml2-dev libxmlsec1-dev libclang-dev cmake)

ensure_rust() {
  if ! command -v cargo >/dev/null; then
    for dir in "$HOME/.cargo/bin" /usr/local/cargo/bin; do
      [ -x "$dir/cargo" ] && export PATH="$dir:$PATH" && break
    done
  fi
  if ! command -v cargo >/dev/null; then
    echo "error: no Rust toolchain. Install one with rustup (https://rustup.rs), then rerun." >&2
    return 1
  fi
}

# ensure_postgres — a PostgreSQL on 127.0.0.1:5432 with a database `test` that the tests
# reach as the `postgres` user. Installs and starts it when missing or down.
ensure_postgres() {
  if ! command -v pg_lsclusters >/dev/null; then
    ensure_apt_packages postgresql postgresql-client
    local fresh=1
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -n "$version" ] || { echo "error: PostgreSQL is installed but has no cluster" >&2; return 1; }
    echo "==> starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  if [ -n "${fresh:-}" ]; then
    # A cluster we just installed uses password auth on TCP: give `postgres` the password
    # that the test URL carries (ignored where the machine trusts local connections).
    as_root su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\""
  fi
  if ! psql "postgres://postgres:postgres@127.0.0.1:5432/postgres" -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1; then
    psql "postgres://postgres:postgres@127.0.0.1:5432/postgres" -qc "CREATE DATABASE test"
  fi
}

# ensure_redis — a Redis on 127.0.0.1:6379, installed and started when missing or down.
ensure_redis() {
  command -v redis-server >/dev/null || ensure_apt_packages redis-server
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "==> starting Redis"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
  fi
}
