// Helpers shared by the console-*.test.mjs files: an operator's console in Chromium, the
// admin API to read back what a page saved, POSTs from inside the page (for the hostile
// variants: no CSRF token, another tenant's object, oversized fields), and the phone-width
// check.

import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';

import { enrolledUser, loginTo, openBrowser } from './harness.mjs';

/** Logs `user` in through Mamori's login and lands on the console. */
export async function openConsole(t, server, user, options = { locale: 'en-US' }) {
  const { context, page } = await openBrowser(t, server, { certificate: user, ...options });
  await loginTo(page, server, user.loginId, user.password, { returnTo: '/console' });
  assert.match(page.url(), /\/console\/t\//, `${user.loginId} reached the console`);
  return { context, page };
}

/** An enrolled operator of `tenant` (`demo`) holding `role`. */
export async function operator(t, server, loginId, role = 'tenant-admin') {
  const user = await enrolledUser(t, server, loginId);
  server.cli('admin', 'operator', 'grant', '--tenant', 'demo', '--login-id', loginId, '--role', role);
  return user;
}

/** A read-only admin API token of the demo tenant. */
export function readToken(server, tenant = 'demo') {
  return server.cliJson('admin', 'api-token', 'create', '--tenant', tenant, '--scope', 'read').token;
}

/** GET on the admin API (TLS checked against the dev root): {status, json, body}. */
export function api(server, token, path) {
  const target = new URL(`${server.main}/admin/api/v1${path}`);
  return new Promise((res, rej) => {
    const req = https.get(
      {
        host: '127.0.0.1', port: Number(target.port), path: target.pathname + target.search, servername: target.hostname,
        ca: readFileSync(server.devRoot), headers: { authorization: `Bearer ${token}` },
      },
      (resp) => {
        let data = '';
        resp.setEncoding('utf8');
        resp.on('data', (d) => { data += d; });
        resp.on('end', () => {
          let json = null;
          try { json = JSON.parse(data); } catch { /* CSV or empty */ }
          res({ status: resp.statusCode, json, body: data });
        });
      },
    );
    req.once('error', rej);
  });
}

/** The JSON of a GET that must succeed. */
export async function apiJson(server, token, path) {
  const r = await api(server, token, path);
  assert.equal(r.status, 200, `${path}: ${r.body}`);
  return r.json;
}

/**
 * POSTs `fields` to `path` on the certificate listener from inside `page` (its cookies,
 * its origin), with the CSRF token of the page's first form unless `csrf: false`.
 * Returns {status, text} of the answer (redirects followed).
 */
export async function postFromPage(page, server, path, fields, { csrf = true } = {}) {
  return page.evaluate(async ([url, body, withToken]) => {
    const token = document.querySelector('input[name="csrf_token"]')?.value ?? '';
    const form = new URLSearchParams(withToken ? { csrf_token: token, ...body } : body);
    const r = await fetch(url, { method: 'POST', body: form, credentials: 'same-origin' });
    return { status: r.status, text: await r.text() };
  }, [`${server.mtls}${path}`, fields, csrf]);
}

/** At a phone's width (390 px) the page does not scroll sideways. */
export async function fitsPhone(page, label) {
  const before = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  await page.setViewportSize(before);
  assert.ok(scroll <= inner, `${label}: ${scroll} px wide at ${inner} px`);
}

/** The problems listed on the page, joined. */
export async function problems(page) {
  return (await page.$$eval('.problems li', (items) => items.map((li) => li.textContent.trim()))).join(' | ');
}
