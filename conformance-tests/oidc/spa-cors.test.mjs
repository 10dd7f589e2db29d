// A single-page app in Chromium: a static page on its own origin, registered as a public
// client, does code + PKCE from its own JavaScript (discovery, token, userinfo, JWKS and
// revocation with fetch()) after the real certificate login. CORS lets it read those
// answers; a page on an unregistered origin, and one on another client's registered
// origin, cannot read the SPA's tokens or its user's claims (fetch rejects).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';

import { enrolledUser, openBrowser, screenshots, startServer, submitPassword } from '../browser/harness.mjs';
import { issuerUrl, registerClient } from './rp.mjs';

/** The app: one static page that logs in on click and finishes at /cb. No server logic. */
const SPA_HTML = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>SPA</title>
<button id="login">Log in</button>
<p id="status">idle</p>
<pre id="result"></pre>
<script type="module">
const cfg = JSON.parse(document.getElementById('cfg').textContent);
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const show = (status, result) => {
  document.getElementById('result').textContent = JSON.stringify(result ?? null);
  document.getElementById('status').textContent = status;
};
const discovery = async () => (await fetch(cfg.issuer + '/.well-known/openid-configuration')).json();

document.getElementById('login').addEventListener('click', async () => {
  try {
    const meta = await discovery();
    const verifier = random(32);
    const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    const state = random(16);
    sessionStorage.setItem('pending', JSON.stringify({ verifier, state }));
    location.assign(meta.authorization_endpoint + '?' + new URLSearchParams({
      response_type: 'code', client_id: cfg.clientId, redirect_uri: cfg.redirectUri, scope: 'openid profile',
      state, code_challenge: challenge, code_challenge_method: 'S256',
    }));
  } catch (e) {
    show('failed', String(e));
  }
});

const pending = JSON.parse(sessionStorage.getItem('pending') ?? 'null');
const query = new URLSearchParams(location.search);
if (location.pathname === '/cb' && pending && query.get('code')) {
  sessionStorage.removeItem('pending');
  try {
    if (query.get('state') !== pending.state) throw new Error('state mismatch');
    const meta = await discovery();
    const tokenResponse = await fetch(meta.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code: query.get('code'), redirect_uri: cfg.redirectUri,
        client_id: cfg.clientId, code_verifier: pending.verifier,
      }),
    });
    const tokens = await tokenResponse.json();
    if (!tokenResponse.ok) throw new Error('token: ' + JSON.stringify(tokens));
    const userinfo = await (await fetch(meta.userinfo_endpoint, { headers: { Authorization: 'Bearer ' + tokens.access_token } })).json();
    const jwks = await (await fetch(meta.jwks_uri)).json();
    const idTokenSub = JSON.parse(atob(tokens.id_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub;
    show('logged-in', { userinfo, idTokenSub, keys: jwks.keys.length, access_token: tokens.access_token, refresh_token: tokens.refresh_token ?? null });
    // Logging out of the app: the page revokes its own access token.
    const revoked = await fetch(meta.revocation_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: cfg.clientId, token: tokens.access_token }),
    });
    const after = await fetch(meta.userinfo_endpoint, { headers: { Authorization: 'Bearer ' + tokens.access_token } });
    show('done', { userinfo, idTokenSub, keys: jwks.keys.length, revokeStatus: revoked.status, userinfoAfterRevoke: after.status, access_token: tokens.access_token });
  } catch (e) {
    show('failed', String(e));
  }
}
</script>`;

/**
 * HTTPS servers on 127.0.0.1 (with the quickstart's localhost certificate: Chromium
 * interrupts a login form whose redirects end on plain HTTP), one per origin, each
 * serving the app's page configured for its own origin.
 */
async function appOrigins(t, server, count, clientIdFor) {
  const tlsFiles = { cert: readFileSync(join(server.dataDir, 'tls/server.pem')), key: readFileSync(join(server.dataDir, 'tls/server.key')) };
  const origins = [];
  for (let i = 0; i < count; i += 1) {
    const srv = https.createServer(tlsFiles, (req, res) => {
      const origin = `https://localhost:${srv.address().port}`;
      const path = new URL(req.url, origin).pathname;
      if (path !== '/' && path !== '/cb') {
        res.writeHead(404);
        res.end();
        return;
      }
      const cfg = JSON.stringify({ issuer: issuerUrl(server), clientId: clientIdFor(origin), redirectUri: `${origin}/cb` }).replace(/</g, '\\u003c');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(SPA_HTML.replace('<script type="module">', `<script type="application/json" id="cfg">${cfg}</script>\n<script type="module">`));
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    t.after(() => new Promise((r) => srv.close(r)));
    origins.push(`https://localhost:${srv.address().port}`);
  }
  return origins;
}

/** What a script on the current page's origin gets from fetch(url, init): the body, or the error. */
function fetchFromPage(page, url, init = {}) {
  return page.evaluate(
    async ({ url, init }) => {
      try {
        const res = await fetch(url, init);
        return { ok: true, status: res.status, body: await res.text() };
      } catch (e) {
        return { ok: false, error: `${e.name}: ${e.message}` };
      }
    },
    { url, init },
  );
}

const form = (fields) => ({ method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });

test('a single-page app logs in with code + PKCE from its own origin; other origins cannot read its tokens', async (t) => {
  const server = await startServer(t);
  const snap = screenshots('oidc-spa-cors');
  const user = await enrolledUser(t, server, 'spa-user-1');
  const clients = new Map();
  // [the app, another client's site, a site nobody registered]
  const [app, otherSite, stranger] = await appOrigins(t, server, 3, (origin) => clients.get(origin) ?? 'spa');
  const spa = registerClient(server, { name: 'SPA', redirectUris: [`${app}/cb`], auth: 'none', grants: ['authorization_code', 'refresh_token'], scopes: ['openid', 'profile'] });
  clients.set(app, spa.client_id);
  const other = registerClient(server, { name: 'Other site', redirectUris: [`${otherSite}/cb`], auth: 'none', grants: ['authorization_code'] });
  clients.set(otherSite, other.client_id);
  assert.equal(spa.client_secret ?? null, null, 'a public client has no secret');
  const { page } = await openBrowser(t, server, { certificate: { pfxPath: user.pfxPath, passphrase: user.passphrase }, locale: 'en-US' });
  const issuer = issuerUrl(server);

  await t.test('the app logs in and reads its tokens, the userinfo and the JWKS with fetch()', async () => {
    await page.goto(`${app}/`);
    await snap(page, 'spa-home');
    await page.click('#login');
    await page.waitForSelector('#login-form');
    await snap(page, 'spa-login');
    await submitPassword(page, user.loginId, user.password);
    await page.waitForFunction(() => ['done', 'failed'].includes(document.getElementById('status')?.textContent), null, { timeout: 30_000 });
    await snap(page, 'spa-done');
    const status = await page.textContent('#status');
    const result = JSON.parse(await page.textContent('#result'));
    assert.equal(status, 'done', `the app failed: ${JSON.stringify(result)}`);
    assert.equal(new URL(page.url()).origin, app, 'back on the app');
    assert.match(result.userinfo.sub, /^[0-9a-f-]{36}$/);
    assert.equal(result.userinfo.sub, result.idTokenSub, 'userinfo is about the user of the ID token');
    assert.equal(result.userinfo.preferred_username, user.loginId);
    assert.ok(result.keys >= 1, 'the page read the JWKS');
    assert.equal(result.revokeStatus, 200, 'the page read the revocation answer');
    assert.equal(result.userinfoAfterRevoke, 401, 'the revoked token is refused (and the page can read that)');
  });

  /** A fresh code for the app, with its verifier, through the browser's session (the app's
   * page at /cb has no pending login of its own, so it leaves the code unused). */
  async function appCode() {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const url = `${issuer}/authorize?${new URLSearchParams({
      response_type: 'code', client_id: spa.client_id, redirect_uri: `${app}/cb`, scope: 'openid profile', state: 's',
      code_challenge: challenge, code_challenge_method: 'S256',
    })}`;
    await page.goto(url);
    await page.waitForURL((u) => u.origin === app && u.searchParams.has('code'));
    return { code: new URL(page.url()).searchParams.get('code'), verifier };
  }

  /** Fresh tokens for the app, exchanged by a script on the app's own page. */
  async function appTokens() {
    const { code, verifier } = await appCode();
    const got = await fetchFromPage(page, `${issuer}/token`, form({ grant_type: 'authorization_code', code, redirect_uri: `${app}/cb`, client_id: spa.client_id, code_verifier: verifier }));
    assert.equal(got.ok, true, got.error);
    assert.equal(got.status, 200, got.body);
    return JSON.parse(got.body);
  }

  await t.test('the app itself can exchange a code from a script (the control for the hostile pages)', async () => {
    const tokens = await appTokens();
    assert.ok(tokens.access_token && tokens.refresh_token);
    const info = await fetchFromPage(page, `${issuer}/userinfo`, { headers: { Authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(info.ok, true, info.error);
    assert.equal(JSON.parse(info.body).preferred_username, user.loginId);
  });

  for (const [label, origin] of [
    ['a site nobody registered', () => stranger],
    ["another client's registered site", () => otherSite],
  ]) {
    await t.test(`a page on ${label} cannot read the app's token response or its user's claims`, async () => {
      // Each page attacks live tokens of its own: its requests are still processed (a
      // form POST needs no preflight), only their answers stay unreadable.
      const honest = await appTokens();
      const { code, verifier } = await appCode();
      await page.goto(`${origin()}/`);
      await snap(page, `hostile-${origin().split(':').pop()}`);
      const token = await fetchFromPage(page, `${issuer}/token`, form({ grant_type: 'authorization_code', code, redirect_uri: `${app}/cb`, client_id: spa.client_id, code_verifier: verifier }));
      assert.equal(token.ok, false, `the token response was readable: ${token.body}`);
      assert.match(token.error, /TypeError/);
      const info = await fetchFromPage(page, `${issuer}/userinfo`, { headers: { Authorization: `Bearer ${honest.access_token}` } });
      assert.equal(info.ok, false, `the app's userinfo was readable: ${info.body}`);
      const refresh = await fetchFromPage(page, `${issuer}/token`, form({ grant_type: 'refresh_token', refresh_token: honest.refresh_token, client_id: spa.client_id }));
      assert.equal(refresh.ok, false, `the refresh answer was readable: ${refresh.body}`);
      const revoke = await fetchFromPage(page, `${issuer}/revoke`, form({ client_id: spa.client_id, token: honest.access_token }));
      assert.equal(revoke.ok, false, 'the revocation answer was readable');
      // The tenant's public documents: readable by any client's site, by nobody else's.
      const meta = await fetchFromPage(page, `${issuer}/.well-known/openid-configuration`);
      const jwks = await fetchFromPage(page, `${issuer}/jwks`);
      const registered = origin() === otherSite;
      assert.equal(meta.ok, registered, `discovery from ${label}: ${meta.error ?? meta.status}`);
      assert.equal(jwks.ok, registered, `JWKS from ${label}: ${jwks.error ?? jwks.status}`);
    });
  }

  await t.test('another client on its own site reads its own answers (not the app\'s)', async () => {
    await page.goto(`${otherSite}/`);
    // A code that was never issued: the answer is an error, but the other client's own page may read it.
    const own = await fetchFromPage(page, `${issuer}/token`, form({ grant_type: 'authorization_code', code: 'never-issued', redirect_uri: `${otherSite}/cb`, client_id: other.client_id, code_verifier: randomBytes(32).toString('base64url') }));
    assert.equal(own.ok, true, own.error);
    assert.equal(JSON.parse(own.body).error, 'invalid_grant');
  });
});
