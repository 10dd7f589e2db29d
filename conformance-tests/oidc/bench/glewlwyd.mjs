// Glewlwyd (Debian package `glewlwyd`, 2.7.5 in bookworm) configured like the Mamori side
// of the issue-22 benchmark: SQLite, its OpenID Connect plugin with ES256-signed JWT access
// tokens and one-time-use (rotating) refresh tokens, one confidential client using
// client_secret_basic, HTTPS with the certificate and key it is given. It runs as a child
// process from a temporary folder with a config file and a database of its own; nothing
// under /etc, no system service.
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { request, stopChild } from './bench-lib.mjs';

// The package's own SQLite schema (it also creates user `admin` with password `password`,
// which only this throwaway database ever sees).
const SCHEMAS = ['/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3', '/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz'];
const MODULES = '/usr/lib/glewlwyd';
const PLUGIN = 'oidc';
const USER = { username: 'bench-user', password: 'Bench-password-1' };

/** Why Glewlwyd cannot run here, or null. The benchmark installs nothing itself. */
export function glewlwydMissing() {
  const has = (cmd) => {
    try {
      execFileSync(cmd, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!has('glewlwyd')) return 'the glewlwyd binary is missing (DEBIAN_FRONTEND=noninteractive apt-get install -y glewlwyd)';
  if (!has('sqlite3')) return 'the sqlite3 command is missing (apt-get install -y sqlite3)';
  if (!SCHEMAS.some(existsSync)) return `no Glewlwyd SQLite schema in ${SCHEMAS.join(' or ')}`;
  return null;
}

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer().once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/**
 * Starts Glewlwyd in `workdir` and configures it through its admin REST API, as an
 * administrator would with its web UI. certFile/keyFile: the TLS chain and key; ca: the
 * root that signed them, for this process's own requests. pbkdf2Iterations: for the
 * client secret's hash, if not as shipped.
 */
export async function startGlewlwyd({ workdir, certFile, keyFile, ca, clientId, clientSecret, redirectUri, pbkdf2Iterations }) {
  const schema = SCHEMAS.find(existsSync);
  const db = join(workdir, 'glewlwyd.db');
  const sql = schema.endsWith('.gz') ? gunzipSync(readFileSync(schema)) : readFileSync(schema);
  execFileSync('sqlite3', [db], { input: sql, stdio: ['pipe', 'ignore', 'pipe'] });
  if (pbkdf2Iterations !== undefined) {
    // The client module hashes client secrets with PBKDF2-SHA256 (150000 iterations as
    // shipped) and checks the hash on every token request, with no cache.
    execFileSync('sqlite3', [db, `UPDATE g_client_module_instance SET gcmi_parameters = json_set(gcmi_parameters, '$."pbkdf2-iterations"', ${Number(pbkdf2Iterations)}) WHERE gcmi_name = 'database'`]);
  }

  const port = await freePort();
  const base = `https://localhost:${port}`;
  const conf = join(workdir, 'glewlwyd.conf');
  const q = JSON.stringify; // libconfig strings take JSON's escapes
  writeFileSync(conf, `# Written by the issue-22 benchmark (glewlwyd.mjs) for one run.
port=${port}
bind_address="127.0.0.1"
external_url=${q(base)}
login_url="login.html"
api_prefix="api"
log_mode="console"
log_level="ERROR"
cookie_domain="localhost"
cookie_secure=1
admin_session_authentication="cookie"
profile_session_authentication="cookie"
login_api_enabled=true
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path=${q(`${MODULES}/user`)}
client_module_path=${q(`${MODULES}/client`)}
user_auth_scheme_module_path=${q(`${MODULES}/scheme`)}
plugin_module_path=${q(`${MODULES}/plugin`)}
use_secure_connection=true
secure_connection_key_file=${q(keyFile)}
secure_connection_pem_file=${q(certFile)}
hash_algorithm="SHA512"
database = { type = "sqlite3"; path = ${q(db)}; };
`);
  const child = spawn('glewlwyd', ['--config-file', conf], { cwd: workdir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const close = () => stopChild(child);

  try {
    // Up when it answers at all (there is no readiness line on its console at level ERROR).
    for (let i = 0; ; i += 1) {
      if (child.exitCode !== null) throw new Error(`glewlwyd exited (${child.exitCode}):\n${log}`);
      try {
        await request(`${base}/api/auth/scheme/`, { ca });
        break;
      } catch (e) {
        if (i > 100) throw new Error(`glewlwyd not answering on ${base}: ${e.message}\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const api = session(base, ca);
    await api.call('POST', '/api/auth/', { username: 'admin', password: 'password' });

    // A fresh ES256 signing key, like Mamori's quickstart and provider.mjs.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await api.call('POST', '/api/mod/plugin/', {
      module: 'oidc', name: PLUGIN, display_name: 'OpenID Connect (bench)', enabled: true,
      parameters: {
        iss: base, 'jwt-type': 'ecdsa', 'jwt-key-size': '256',
        key: privateKey.export({ type: 'pkcs8', format: 'pem' }), cert: publicKey.export({ type: 'spki', format: 'pem' }),
        'access-token-duration': 600, 'refresh-token-duration': 86400, 'code-duration': 600,
        // One-time use: each refresh answers a new refresh token and disables the old one.
        'refresh-token-rolling': true, 'refresh-token-one-use': 'always',
        // client_credentials is OAuth 2, not OIDC: Glewlwyd's OIDC plugin wants this to allow it.
        'allow-non-oidc': true,
        'auth-type-code-enabled': true, 'auth-type-token-enabled': false, 'auth-type-id-token-enabled': true, 'auth-type-none-enabled': false,
        'auth-type-password-enabled': false, 'auth-type-client-enabled': true, 'auth-type-device-enabled': false, 'auth-type-refresh-enabled': true,
        'allowed-scope': ['openid', 'api.read'], scope: [], 'additional-parameters': [], claims: [],
        'secret-type': 'public', 'jwks-show': true, 'jwks-x5c': [],
        'request-parameter-allow': false, 'pkce-allowed': false, 'introspection-revocation-allowed': false,
        'register-client-allowed': false, 'session-management-allowed': false,
      },
    });
    await api.call('POST', '/api/scope/', { name: 'api.read', display_name: 'API read', description: 'bench', password_required: true, password_max_age: 0, scheme: {} });
    await api.call('POST', '/api/client/', {
      client_id: clientId, name: 'Bench', enabled: true, confidential: true, password: clientSecret,
      redirect_uri: [redirectUri], authorization_type: ['code', 'client_credentials', 'refresh_token'],
      token_endpoint_auth_method: ['client_secret_basic'], scope: ['api.read'],
    });
    await api.call('POST', '/api/user/', { username: USER.username, name: 'Bench', email: 'bench@example.test', enabled: true, password: USER.password, scope: ['openid', 'api.read'] });
  } catch (e) {
    await close();
    throw e;
  }

  /** Writes n refresh tokens to `file`, one a line, from real authorization-code flows:
   * the user signs in with the password scheme over the REST API (as login.html does),
   * grants the client, and each code goes through the token endpoint. */
  async function mintRefreshTokens(n, file) {
    const user = session(base, ca);
    await user.call('POST', '/api/auth/', USER);
    await user.call('PUT', `/api/auth/grant/${encodeURIComponent(clientId)}`, { scope: 'openid api.read' });
    const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
    const out = [];
    for (let i = 0; i < n; i += 1) {
      // g_continue: what login.html adds once the user is signed in and has consented.
      const qs = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'openid api.read', state: `s${i}`, nonce: `n${i}`, g_continue: '' });
      const r = await user.raw('GET', `/api/${PLUGIN}/auth?${qs}`);
      const code = r.headers.location && new URL(r.headers.location).searchParams.get('code');
      if (!code) throw new Error(`glewlwyd authorize answered ${r.status} ${r.headers.location ?? r.body}`);
      const t = await request(`${base}/api/${PLUGIN}/token`, {
        method: 'POST', ca, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri }).toString(),
      });
      const rt = t.status === 200 && JSON.parse(t.body).refresh_token;
      if (!rt) throw new Error(`glewlwyd code redemption answered ${t.status} ${t.body}`);
      out.push(rt);
    }
    writeFileSync(file, out.join('\n'));
  }

  return { child, base, tokenEndpoint: `${base}/api/${PLUGIN}/token`, mintRefreshTokens, close, log: () => log };
}

/** JSON calls with the session cookie Glewlwyd sets at sign-in. */
function session(base, ca) {
  let cookie;
  const raw = async (method, path, json) => {
    const headers = cookie ? { cookie } : {};
    let body;
    if (json !== undefined) {
      body = JSON.stringify(json);
      headers['content-type'] = 'application/json';
    }
    const r = await request(`${base}${path}`, { method, body, headers, ca });
    const set = [r.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('GLEWLWYD2_SESSION_ID='));
    if (set) cookie = set.split(';')[0];
    return r;
  };
  const call = async (method, path, json) => {
    const r = await raw(method, path, json);
    if (r.status !== 200) throw new Error(`glewlwyd ${method} ${path}: ${r.status} ${r.body}`);
    return r.body ? JSON.parse(r.body) : null;
  };
  return { raw, call };
}
