#!/usr/bin/env bash
# Seeds N users, each with one device and one certificate record, into a migrated Mamori
# PostgreSQL database, inside PostgreSQL itself (INSERT … SELECT over generate_series, in
# batches of 100,000 rows, one transaction per batch), for the scale benchmark.
#
#   conformance-tests/bench/seed-users.sh DATABASE_URL TENANT_SLUG N
#
# The tenant must exist (`mamori admin tenant create`). Users are `seed-0000001`, … with
# the method cert+password and one fixed Argon2id-format hash string that no password
# matches (a locked door, not a credential). Their certificate rows
# are PLACEHOLDERS: distinct serials and SHA-256 fingerprints under the active CA, but no
# certificate or key exists for them, so these users cannot log in. They are there to
# make the tables (and their indexes) as large as a 1M-user site's. The benchmark logs in
# as users that login-load provisions on top with real certificates issued by the CA.
# Safe to rerun with a larger N: it continues after the highest seeded number.
set -euo pipefail
url=${1:?usage: seed-users.sh DATABASE_URL TENANT_SLUG N}
slug=${2:?tenant slug}
total=${3:?number of users}
batch=${SEED_BATCH:-100000}
# Well-formed Argon2id PHC string over a made-up digest: verifies against no password.
hash='$argon2id$v=19$m=19456,t=2,p=1$c2VlZGVkLXNhbHQtMDAx$Zb8mVqpQe3mQb2v7Qb8lI7j9nN0Oq3kz0yJm9m3dJpI'
psql_q() { psql "$url" -v ON_ERROR_STOP=1 -qtAX "$@"; }

tenant=$(psql_q -c "SELECT id FROM tenants WHERE slug = '$slug'")
[ -n "$tenant" ] || { echo "error: no tenant '$slug' (mamori admin tenant create --slug $slug)" >&2; exit 1; }
ca=$(psql_q -c "SELECT id FROM certificate_authorities WHERE is_active ORDER BY created_at DESC LIMIT 1")
[ -n "$ca" ] || { echo "error: no active CA (mamori ca init)" >&2; exit 1; }
done_so_far=$(psql_q -c "SELECT count(*) FROM users WHERE tenant_id = '$tenant' AND login_id LIKE 'seed-%'")
echo "tenant $slug: $done_so_far seeded users already; seeding up to $total"

start=$((done_so_far + 1))
began=$(date +%s)
while [ "$start" -le "$total" ]; do
  end=$((start + batch - 1)); [ "$end" -le "$total" ] || end=$total
  psql_q <<SQL
BEGIN;
CREATE TEMP TABLE seed ON COMMIT DROP AS
  SELECT n, gen_random_uuid() AS user_id, gen_random_uuid() AS device_id,
         (extract(epoch FROM now()) * 1000)::bigint AS now_ms
  FROM generate_series($start, $end) AS n;
INSERT INTO users (id, tenant_id, login_id, display_name, locale, time_zone, login_method, status,
                   locked_at, lock_reason, failed_password_count, failed_secret_answer_count,
                   password_hash, password_changed_at, password_must_change, secret_question,
                   secret_answer_hash, totp_secret_sealed, last_device_no, password_seq,
                   created_at, updated_at, totp_last_step)
  SELECT user_id, '$tenant', 'seed-' || lpad(n::text, 7, '0'), 'Seeded User ' || n, 'ja', 'Asia/Tokyo',
         'cert+password', 'active', NULL, NULL, 0, 0, '$hash', now_ms, false, NULL, NULL, NULL, 1, 0,
         now_ms, now_ms, NULL
  FROM seed;
INSERT INTO devices (id, user_id, device_no, device_type, email, created_at, deleted_at)
  SELECT device_id, user_id, 1, 'pc', 'seed-' || lpad(n::text, 7, '0') || '@example.test', now_ms, NULL FROM seed;
INSERT INTO certificates (id, ca_id, user_id, device_id, serial_hex, fingerprint_sha256, subject_cn,
                          not_before, not_after, status, revoked_at, revocation_reason, created_at)
  SELECT gen_random_uuid(), '$ca', user_id, device_id,
         '5eed' || lpad(to_hex(n), 12, '0') || substr(md5(user_id::text), 1, 16),
         encode(sha256(('seed-certificate-' || user_id::text)::bytea), 'hex'),
         'seed-' || lpad(n::text, 7, '0'), now_ms, now_ms + 365::bigint * 86400000, 'active', NULL, NULL, now_ms
  FROM seed;
COMMIT;
SQL
  elapsed=$(( $(date +%s) - began )); [ "$elapsed" -gt 0 ] || elapsed=1
  echo "seeded up to $end ($(( (end - done_so_far) / elapsed )) users/s)"
  start=$((end + 1))
done
psql_q -c "ANALYZE users; ANALYZE devices; ANALYZE certificates;"
