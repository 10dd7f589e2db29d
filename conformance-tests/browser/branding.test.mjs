// Issue 19: a tenant's branding (display name, logo, accent colour) on its pages and in its
// mails; the login page names the relying site and the tenant; the download page and the
// download-guidance mail carry an install guide per platform. In Japanese and English.

import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { enrollAndDownload, openBrowser, screenshots, startServer, tempDir, text } from './harness.mjs';

// A 1×1 PNG of the accent colour (signature, IHDR, IDAT, IEND with their CRCs).
const TINY_PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6390f2effe0f00036f01f4165a5d690000000049454e44ae426082', 'hex');

/** A request to the main listener (TLS checked against the dev root): {status, headers, body}. */
function request(server, method, path, { token, json } = {}) {
  const target = new URL(`${server.main}${path}`);
  const payload = json === undefined ? null : Buffer.from(JSON.stringify(json));
  return new Promise((res, rej) => {
    const req = https.request(
      {
        method, host: '127.0.0.1', port: Number(target.port), path: target.pathname + target.search, servername: target.hostname,
        ca: readFileSync(server.devRoot),
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      },
      (resp) => {
        const chunks = [];
        resp.on('data', (d) => chunks.push(d));
        resp.on('end', () => res({ status: resp.statusCode, headers: resp.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.once('error', rej);
    if (payload) req.write(payload);
    req.end();
  });
}

test('the admin API and the CLI refuse hostile branding and save honest branding', { timeout: 120_000 }, async (t) => {
  const server = await startServer(t);
  const dir = tempDir(t, 'mamori-logo-');
  const svg = join(dir, 'logo.svg');
  writeFileSync(svg, '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
  const png = join(dir, 'logo.png');
  writeFileSync(png, TINY_PNG);

  // CLI: a colour that would close a CSS declaration, a light colour, an SVG, a PNG's name on a GIF.
  assert.throws(() => server.cli('admin', 'tenant', 'branding', '--tenant', 'demo', '--accent-colour', 'red;}body{display:none'), /accent_colour/);
  assert.throws(() => server.cli('admin', 'tenant', 'branding', '--tenant', 'demo', '--accent-colour', '#ffff00'), /contrast/);
  assert.throws(() => server.cli('admin', 'tenant', 'branding', '--tenant', 'demo', '--logo', svg), /SVG/);
  const gif = join(dir, 'fake.png');
  writeFileSync(gif, Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00', 'latin1'));
  assert.throws(() => server.cli('admin', 'tenant', 'branding', '--tenant', 'demo', '--logo', gif), /not a PNG/);
  const unchanged = server.cliJson('admin', 'tenant', 'branding', '--tenant', 'demo');
  assert.equal(unchanged.accent_colour, null, 'nothing was saved');
  assert.equal(unchanged.logo_url, null);

  // Admin API: the same rules; a refused PUT changes nothing.
  const token = server.cliJson('admin', 'api-token', 'create', '--tenant', 'demo', '--scope', 'read,write').token;
  const path = '/admin/api/v1/tenants/demo/branding';
  for (const hostile of [
    { accent_colour: 'red;}body{display:none' },
    { accent_colour: '#fff' },
    { accent_colour: '#eeeeee' },
    { logo_png_base64: Buffer.from('<svg onload="alert(1)"/>').toString('base64') },
    { logo_png_base64: Buffer.alloc(49 * 1024, 1).toString('base64') },
    { logo_png_base64: 'not base64 at all!' },
    { display_name: 'Acme\u202eevil' },
  ]) {
    const r = await request(server, 'PUT', path, { token, json: { accent_colour: '#1a4f8b', ...hostile } });
    assert.ok(r.status === 400 || r.status === 422, `${JSON.stringify(hostile).slice(0, 60)}: ${r.status} ${r.body}`);
    assert.match(r.headers['content-type'], /problem\+json/);
  }
  assert.equal(JSON.parse((await request(server, 'GET', path, { token })).body).accent_colour, null, 'refused PUTs saved nothing');

  const put = await request(server, 'PUT', path, {
    token, json: { display_name: 'Acme 商事', accent_colour: '#1A4F8B', logo_png_base64: TINY_PNG.toString('base64') },
  });
  assert.equal(put.status, 200, put.body.toString());
  const saved = JSON.parse(put.body);
  assert.equal(saved.accent_colour, '#1a4f8b');
  assert.equal(saved.display_name, 'Acme 商事');
  assert.match(saved.logo_url, /^\/branding\/demo\/logo\.png\?v=[0-9a-f]{16}$/);

  // The logo is served as the PNG it is, inert: nosniff and a sandbox CSP.
  const logo = await request(server, 'GET', saved.logo_url);
  assert.equal(logo.status, 200);
  assert.equal(logo.headers['content-type'], 'image/png');
  assert.equal(logo.headers['x-content-type-options'], 'nosniff');
  assert.match(logo.headers['content-security-policy'], /sandbox/);
  assert.deepEqual(logo.body, TINY_PNG);
  const css = await request(server, 'GET', '/branding/demo/accent.css');
  assert.equal(css.body.toString(), ':root { --accent: #1a4f8b; }\n');
  assert.equal((await request(server, 'GET', '/branding/no-such/logo.png')).status, 404);

  // The CLI reads back what the API saved, and removes the logo.
  assert.equal(server.cliJson('admin', 'tenant', 'branding', '--tenant', 'demo').accent_colour, '#1a4f8b');
  assert.equal(server.cliJson('admin', 'tenant', 'branding', '--tenant', 'demo', '--no-logo').logo_url, null);
  assert.match(server.cliJson('admin', 'tenant', 'branding', '--tenant', 'demo', '--logo', png).logo_url, /logo\.png/);
});

test('the tenant branding and the relying site are on the login page and in the mails, in both languages', { timeout: 300_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('branding');
  const png = join(tempDir(t, 'mamori-logo-'), 'logo.png');
  writeFileSync(png, TINY_PNG);
  server.cli('admin', 'tenant', 'branding', '--tenant', 'demo', '--name', 'Acme 商事', '--accent-colour', '#1a4f8b', '--logo', png);
  const { client_id: clientId } = server.cliJson('admin', 'oidc-client', 'create', '--tenant', 'demo', '--name', 'Shop',
    '--redirect-uri', 'https://shop.example.test/cb');

  for (const [locale, heading, tenantLine, signOff, firefoxGuide] of [
    ['en-US', 'Log in to Shop', 'With your account at Acme 商事', 'Sent by Mamori for your account at Acme 商事.', 'Privacy & Security → Certificates → View Certificates'],
    ['ja-JP', 'Shop にログイン', 'Acme 商事 のアカウントでログインします', 'Acme 商事 のアカウントについて、Mamori からお送りしています。', '「プライバシーとセキュリティ」→「証明書」→「証明書を表示...」'],
  ]) {
    const lang = locale.slice(0, 2);
    const loginId = `brand-${lang}`;
    // The user's language decides the mails' (set before the enrollment sends the first).
    const ticket = server.createUser(loginId);
    server.cli('admin', 'user', 'update', '--tenant', 'demo', '--login-id', loginId, '--locale', lang);
    const enroller = await openBrowser(t, server, { locale });
    const password = 'Tsubame-2026!';
    const got = await enrollAndDownload(t, enroller.page, { url: ticket.url, otp: ticket.one_time_password, password });
    const user = { loginId, password, ...got };

    // The download-guidance mail (sent at enrollment) names the tenant and carries the guides.
    const guidance = server.mails().find((m) => m.includes(`${loginId}@example.test`) && /証明書取得用ID:|acquisition ID:/.test(m));
    assert.ok(guidance, `a download-guidance mail to ${loginId}`);
    assert.ok(guidance.includes(signOff), `the mail ends with the tenant's sign-off in ${lang}:\n${guidance}`);
    assert.ok(guidance.includes(firefoxGuide), `the Firefox guide in ${lang}:\n${guidance}`);
    for (const system of ['Windows 11', 'macOS 15', 'iOS', 'Android 14', 'Firefox']) {
      assert.ok(guidance.includes(system), `the mail has the ${system} guide:\n${guidance}`);
    }

    // The mail's download link shows the tenant's brand, fills the ID in, and keeps the
    // brand through a wrong password; a format Mamori does not make is refused and spends
    // nothing.
    const link = guidance.match(/(?:Download URL|ダウンロード URL): (\S+)/)?.[1];
    assert.ok(link && new URL(link).searchParams.get('tenant') === 'demo', `the mail's link names the tenant: ${link}`);
    await enroller.page.goto(link);
    assert.equal(await text(enroller.page, '#tenant-name'), 'Acme 商事');
    assert.equal(await enroller.page.inputValue('#acquisition_id'), got.acquisitionId);
    await enroller.page.fill('#download_password', 'not-the-password');
    await Promise.all([enroller.page.waitForNavigation(), enroller.page.click('#download-submit')]);
    assert.equal(await text(enroller.page, '#tenant-name'), 'Acme 商事', 'the brand stays after a wrong password');
    assert.match(await enroller.page.getAttribute('#back-to-download', 'href'), /tenant=demo/);
    await enroller.page.goto(link);
    await enroller.page.fill('#download_password', got.passphrase);
    await enroller.page.$eval('#download-form', (f) => {
      const format = Object.assign(document.createElement('input'), { type: 'hidden', name: 'format', value: 'pkcs7' });
      f.append(format);
    });
    const [refused] = await Promise.all([enroller.page.waitForNavigation(), enroller.page.click('#download-submit')]);
    assert.equal(refused.status(), 400, 'an unknown format is a form error, not a .p12');
    assert.ok((await text(enroller.page, '#problems')).length > 10, 'the page says which formats there are');
    await enroller.page.fill('#download_password', got.passphrase);
    const [file] = await Promise.all([enroller.page.waitForEvent('download'), enroller.page.click('#download-submit')]);
    assert.match(file.suggestedFilename(), /\.p12$/, 'the refused request spent nothing: the .p12 still downloads');

    // A relying site sends the user to log in: the page names the site, the tenant, its logo.
    const { page } = await openBrowser(t, server, { certificate: user, locale });
    const query = new URLSearchParams({
      response_type: 'code', client_id: clientId, redirect_uri: 'https://shop.example.test/cb', scope: 'openid', state: 's1',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSKEa6Wy', code_challenge_method: 'S256', ui_locales: lang,
    });
    await page.goto(`${server.main}/t/demo/authorize?${query}`);
    await page.waitForSelector('#login-form');
    await snap(page, `login-${lang}`);
    assert.equal(await text(page, '#login-heading'), heading);
    assert.equal(await text(page, '#login-tenant'), tenantLine);
    assert.equal(await text(page, '#tenant-name'), 'Acme 商事');
    const logoWidth = await page.$eval('#tenant-logo', (img) => img.complete && img.naturalWidth);
    assert.equal(logoWidth, 1, 'the logo loaded from Mamori itself');
    const accent = await page.$eval('#login-submit', (b) => getComputedStyle(b).backgroundColor);
    assert.equal(accent, 'rgb(26, 79, 139)', 'the accent colour reached the button');

    // Any mail to this user now ends with the tenant's sign-off in its language: a
    // password reissue mail is asked for on the reissue page.
    const before = server.mails().length;
    await page.goto(`${server.main}/reissue/password?tenant=demo&lang=${lang}`);
    await page.fill('#login_id', loginId);
    await page.fill('#email', `${loginId}@example.test`);
    await Promise.all([page.waitForNavigation(), page.click('#password-reissue-submit')]);
    const deadline = Date.now() + 15_000;
    let mail;
    while (!mail && Date.now() < deadline) {
      mail = server.mails().slice(before).find((m) => m.includes(`${loginId}@example.test`));
      if (!mail) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(mail, 'a reissue mail');
    assert.ok(mail.includes(signOff), `the sign-off in ${lang}:\n${mail}`);
  }
});

test('the download page has an install guide per platform, the one for the browser open, in both languages', { timeout: 120_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('install-guides');
  const agents = {
    windows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
    firefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    ios: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
    macos: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  };
  for (const [locale, firefoxPath] of [['en-US', /Privacy & Security.*Certificates.*View Certificates/], ['ja-JP', /プライバシーとセキュリティ.*証明書を表示/]]) {
    for (const [platform, userAgent] of Object.entries(agents)) {
      const { page, context } = await openBrowser(t, server, { locale, userAgent });
      await page.goto(`${server.main}/download`);
      const open = await page.$$eval('#install-guides details[open]', (ds) => ds.map((d) => d.id));
      assert.deepEqual(open, [`guide-${platform}`], `${locale} ${platform}: only its guide is open`);
      for (const id of Object.keys(agents)) {
        const steps = await page.$$eval(`#guide-${id} ol li`, (lis) => lis.map((li) => li.textContent.trim()));
        assert.ok(steps.length >= 4 && steps.every((s) => s.length > 10), `${locale} ${id}: numbered steps`);
      }
      assert.match(await page.textContent('#guide-firefox'), firefoxPath);
      assert.ok((await text(page, '#guide-legacy')).includes('PKCS#12'));
      if (platform === 'ios') await snap(page, `download-${locale}`);
      await context.close();
    }
  }
});
