// Token-endpoint benchmark: Mamori (release build) and oidc-provider side by side in one
// run, on this machine, over HTTPS keep-alive, driven by wrk. Prints a Markdown table for
// docs/benchmarks.md. Usage (from the repository root):
//
//   cargo build --release --bin mamori
//   (cd conformance-tests/oidc/bench && npm ci)
//   node conformance-tests/oidc/bench/run.mjs [--duration 15] [--connections 32] [--threads 2]

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
process.env.MAMORI_BIN ||= resolve(here, '../../../target/release/mamori');
// Request logs off: the benchmark measures the token endpoint, not the terminal.
process.env.MAMORI_LOG__LEVEL ||= 'warn';
const { startServer } = await import('../../browser/harness.mjs');
const { startProvider } = await import('./provider.mjs');

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    connections: { type: 'string', default: '32' },
    threads: { type: 'string', default: '2' },
  },
});
const REDIRECT = 'https://localhost:9/cb';
const cleanups = [];
const t = { after: (fn) => cleanups.push(fn) };

function get(url, { pfx, passphrase, ca, cookie } = {}) {
  return new Promise((res, rej) => {
    const headers = cookie ? { cookie } : {};
    const req = https.request(url, { ca, pfx, passphrase, headers }, (r) => {
      r.resume();
      r.on('end', () => res(r));
    });
    req.on('error', rej);
    req.end();
  });
}

function post(url, body, { basic, ca }) {
  return new Promise((res, rej) => {
    const req = https.request(url, { method: 'POST', ca, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic } }, (r) => {
      let data = '';
      r.on('data', (c) => (data += c));
      r.on('end', () => res({ status: r.statusCode, body: data }));
    });
    req.on('error', rej);
    req.end(body);
  });
}

/** Refresh tokens from Mamori through real code flows of a certificate-only user. */
async function mamoriRefreshTokens(server, clientId, basic, n) {
  server.cli('admin', 'user', 'create', '--tenant', 'demo', '--login-id', 'bench-user', '--email', 'bench@example.test', '--method', 'cert');
  const pwFile = join(server.dataDir, 'bench.pw');
  writeFileSync(pwFile, 'Bench-p12-1\n');
  const p12 = join(server.dataDir, 'bench.p12');
  server.cli('admin', 'user', 'issue-cert', '--tenant', 'demo', '--login-id', 'bench-user', '--p12', p12, '--password-file', pwFile);
  const tls = { pfx: readFileSync(p12), passphrase: 'Bench-p12-1', ca: readFileSync(server.devRoot) };
  let cookie;
  const tokens = [];
  for (let i = 0; i < n; i += 1) {
    let url = `${server.main}/t/demo/authorize?response_type=code&client_id=${clientId}&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=openid&state=s${i}`;
    for (let hop = 0; hop < 10 && !url.startsWith(REDIRECT); hop += 1) {
      const r = await get(url, { ...tls, cookie });
      const set = [r.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('__Host-mamori_session='));
      if (set) cookie = set.split(';')[0];
      if (!r.headers.location) throw new Error(`${url} answered ${r.statusCode}`);
      url = new URL(r.headers.location, url).href;
    }
    const code = new URL(url).searchParams.get('code');
    const res = await post(`${server.main}/t/demo/token`, `grant_type=authorization_code&code=${code}&redirect_uri=${encodeURIComponent(REDIRECT)}`, { basic, ca: tls.ca });
    tokens.push(JSON.parse(res.body).refresh_token);
  }
  return tokens;
}

/** Runs wrk without blocking this process, which must keep draining the server's output. */
async function wrk(url, script, env) {
  const { stdout: out } = await promisify(execFile)('wrk', ['-t', opts.threads, '-c', opts.connections, '-d', `${opts.duration}s`, '--latency', '-s', join(here, script), url], {
    env: { ...process.env, ...env, BENCH_THREADS: opts.threads },
    encoding: 'utf8',
  });
  const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
  const p99 = out.match(/^\s+99%\s+(\S+)/m)?.[1];
  const p50 = out.match(/^\s+50%\s+(\S+)/m)?.[1];
  const errors = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0) + Number(out.match(/Socket errors: .*?timeout (\d+)/)?.[1] ?? 0);
  return { rps, p50, p99, errors, raw: out };
}

try {
  const server = await startServer(t);
  const cert = readFileSync(join(server.dataDir, 'tls/server.pem'));
  const key = readFileSync(join(server.dataDir, 'tls/server.key'));
  const reg = JSON.parse(server.cli('admin', 'oidc-client', 'create', '--tenant', 'demo', '--client-id', 'bench', '--name', 'Bench',
    '--redirect-uri', REDIRECT, '--grant-type', 'client_credentials', '--grant-type', 'authorization_code', '--grant-type', 'refresh_token',
    '--scope', 'openid', '--scope', 'api.read', '--first-party', '--output', 'json'));
  const mamoriBasic = `Basic ${Buffer.from(`bench:${reg.client_secret}`).toString('base64')}`;
  const provider = await startProvider({ cert, key, clientId: 'bench', clientSecret: reg.client_secret, redirectUri: REDIRECT });
  cleanups.push(() => provider.close());

  const perThread = Number(opts.connections) / Number(opts.threads);
  const n = Number(opts.threads) * (perThread + 8);
  const mamoriTokens = join(server.dataDir, 'mamori-rt.txt');
  writeFileSync(mamoriTokens, (await mamoriRefreshTokens(server, 'bench', mamoriBasic, n)).join('\n'));
  const providerTokens = join(server.dataDir, 'provider-rt.txt');
  writeFileSync(providerTokens, (await provider.mintRefreshTokens(n)).join('\n'));

  // One warm-up request each (first-use key generation, secret verification).
  const ca = readFileSync(server.devRoot);
  for (const url of [`${server.main}/t/demo/token`, provider.tokenEndpoint]) {
    const r = await post(url, 'grant_type=client_credentials&scope=api.read', { basic: mamoriBasic, ca });
    if (r.status !== 200) throw new Error(`${url}: ${r.status} ${r.body}`);
  }

  const rows = [];
  for (const [grant, script] of [['client_credentials', 'client_credentials.lua'], ['refresh_token', 'refresh_token.lua']]) {
    const m = await wrk(`${server.main}/t/demo/token`, script, { BENCH_BASIC: mamoriBasic, BENCH_TOKENS: mamoriTokens });
    const p = await wrk(provider.tokenEndpoint, script, { BENCH_BASIC: mamoriBasic, BENCH_TOKENS: providerTokens });
    rows.push({ grant, m, p });
  }
  console.log(`\n${opts.threads} wrk threads, ${opts.connections} keep-alive connections, ${opts.duration} s per run\n`);
  console.log('| grant | Mamori req/s | Mamori p50 / p99 | oidc-provider req/s | oidc-provider p50 / p99 | ratio | errors (M / op) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const { grant, m, p } of rows) {
    console.log(`| ${grant} | ${m.rps.toFixed(0)} | ${m.p50} / ${m.p99} | ${p.rps.toFixed(0)} | ${p.p50} / ${p.p99} | ${(m.rps / p.rps).toFixed(1)}× | ${m.errors} / ${p.errors} |`);
  }
  if (process.env.BENCH_VERBOSE) for (const { m, p } of rows) console.log(m.raw, p.raw);
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
