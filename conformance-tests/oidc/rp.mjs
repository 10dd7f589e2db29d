// Relying-site plumbing for the OIDC tests: openid-client talking to the quickstart over
// HTTPS that trusts only its dev root (optionally presenting a client certificate), a
// local callback server that records what the browser brings back, and clients
// registered through `mamori admin oidc-client create`.

import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';

import * as client from 'openid-client';

export { client };

/**
 * A fetch for openid-client that verifies the server against `ca` (PEM) and, with
 * `pfx`/`passphrase`, presents a client certificate.
 */
export function tlsFetch({ ca, pfx, passphrase } = {}) {
  const agent = new https.Agent({ ca, pfx, passphrase, keepAlive: false });
  return (url, options = {}) =>
    new Promise((resolve, reject) => {
      const headers = {};
      new Headers(options.headers ?? {}).forEach((v, k) => {
        headers[k] = v;
      });
      let body = options.body;
      if (body instanceof URLSearchParams) body = body.toString();
      const req = https.request(new URL(url), { method: options.method ?? 'GET', headers, agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (Array.isArray(v)) v.forEach((x) => h.append(k, x));
            else if (v !== undefined) h.set(k, v);
          }
          const status = res.statusCode ?? 0;
          const payload = [204, 304].includes(status) ? null : Buffer.concat(chunks);
          const response = new Response(payload, { status, headers: h });
          Object.defineProperty(response, 'url', { value: String(url) });
          resolve(response);
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (options.signal) options.signal.addEventListener('abort', () => req.destroy(new Error('aborted')));
      if (body) req.write(typeof body === 'string' || Buffer.isBuffer(body) ? body : String(body));
      req.end();
    });
}

/** A raw HTTPS request (no redirect following) against the dev root; returns {status, headers, body}. */
export function request(server, url, { method = 'GET', headers = {}, body, pfx, passphrase, key, cert } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(url), { method, headers, ca: readFileSync(server.devRoot), pfx, passphrase, key, cert }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/**
 * An HTTPS server on 127.0.0.1 (with the quickstart's own localhost certificate, as a
 * real relying site would have one) that records every request (GET query or POST form).
 * HTTPS matters: Chromium interrupts a form submission that redirects to plain HTTP.
 */
export async function callbackServer(t, server) {
  const hits = [];
  const waiters = [];
  const tlsFiles = { cert: readFileSync(join(server.dataDir, 'tls/server.pem')), key: readFileSync(join(server.dataDir, 'tls/server.key')) };
  const srv = https.createServer(tlsFiles, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url, `https://${req.headers.host}`);
      // Only the redirect URIs count: a browser also asks for /favicon.ico, sometimes late
      // enough to be taken for the next callback.
      if (!['/cb', '/logged-out'].includes(url.pathname)) {
        res.writeHead(404);
        res.end();
        return;
      }
      const hit = { method: req.method, url: url.href, path: url.pathname, query: url.searchParams, form: new URLSearchParams(body) };
      hits.push(hit);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>callback</title><p id="callback">callback received</p>');
      while (waiters.length) waiters.shift()(hit);
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => srv.close(r)));
  const base = `https://localhost:${srv.address().port}`;
  return {
    base,
    hits,
    redirectUri: `${base}/cb`,
    logoutUri: `${base}/logged-out`,
    next: () => new Promise((r) => waiters.push(r)),
  };
}

/** Registers a client in the demo tenant; returns the CLI's JSON (client_id, client_secret). */
export function registerClient(server, { name = 'Test RP', redirectUris = [], postLogout = [], grants = [], auth, jwks, scopes = [], format, firstParty = true, idTokenAlg, extra = [] } = {}) {
  const args = ['admin', 'oidc-client', 'create', '--tenant', 'demo', '--name', name];
  for (const u of redirectUris) args.push('--redirect-uri', u);
  for (const u of postLogout) args.push('--post-logout-redirect-uri', u);
  for (const g of grants) args.push('--grant-type', g);
  for (const s of scopes) args.push('--scope', s);
  if (auth) args.push('--auth-method', auth);
  if (format) args.push('--access-token-format', format);
  if (firstParty) args.push('--first-party');
  if (idTokenAlg) args.push('--id-token-alg', idTokenAlg);
  if (jwks) {
    const file = join(server.dataDir, `jwks-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(jwks));
    args.push('--jwks-file', file);
  }
  args.push(...extra);
  return server.cliJson(...args);
}

export function issuerUrl(server) {
  return `${server.main}/t/demo`;
}

/** openid-client's Configuration by discovery, trusting the dev root. */
export async function discover(server, clientId, metadata = {}, auth = undefined, fetchOptions = {}) {
  const customFetch = tlsFetch({ ca: readFileSync(server.devRoot), ...fetchOptions });
  const config = await client.discovery(new URL(issuerUrl(server)), clientId, metadata, auth, { [client.customFetch]: customFetch });
  config[client.customFetch] = customFetch;
  return config;
}

/** Decodes a JWT's payload without verifying it (for looking at claims). */
export function jwtPayload(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

export function jwtHeader(token) {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
}

/** An authorization URL with fresh PKCE, state and nonce. */
export async function authorizationRequest(config, redirectUri, params = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}
