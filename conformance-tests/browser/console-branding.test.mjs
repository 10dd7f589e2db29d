// The branding group of the console's policy page: the operator sets the display name,
// accent colour and logo (a file upload), sees a preview, and the admin API reads back
// what was saved; refused values (a CSS-closing colour, a light colour, an SVG with a
// script, a GIF named .png) save nothing and name the field; without a CSRF token nothing
// changes. In English and Japanese.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { screenshots, startServer, submit, text } from './harness.mjs';
import { apiJson, openConsole, operator, problems, readToken } from './console-helpers.mjs';

const TINY_PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6390f2effe0f00036f01f4165a5d690000000049454e44ae426082',
  'hex',
);

test('an operator sets the tenant branding in the console; hostile values save nothing', { timeout: 300_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console-branding');
  const admin = await operator(t, server, 'op-brand');
  const token = readToken(server);
  const { page } = await openConsole(t, server, admin);
  const policy = `${server.mtls}/console/t/demo/policy`;
  await page.goto(policy);
  assert.ok(await page.isVisible('#group-branding'));
  assert.ok(await page.isVisible('#branding-preview'));

  // Refused: each names its field, and nothing is saved.
  for (const [fill, field, pattern] of [
    [{ accent_colour: 'red;}body{display:none' }, 'accent_colour', /# and six hexadecimal digits/],
    [{ accent_colour: '#ffcc00' }, 'accent_colour', /too light/],
    [{ logo: { name: 'logo.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>') } },
      'logo', /SVG/],
    [{ logo: { name: 'logo.png', mimeType: 'image/png', buffer: Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00', 'latin1') } }, 'logo', /must be a PNG/],
    [{ logo: { name: 'big.png', mimeType: 'image/png', buffer: Buffer.concat([TINY_PNG, Buffer.alloc(49 * 1024)]) } }, 'logo', /at most 48 KiB/],
    // Beyond a page form's 64 KiB: still the rule's message beside the field, not a bare 413.
    [{ logo: { name: 'photo.png', mimeType: 'image/png', buffer: Buffer.concat([TINY_PNG, Buffer.alloc(73 * 1024)]) } }, 'logo', /at most 48 KiB/],
    [{ display_name: ' ' }, 'display_name', /name/i],
  ]) {
    await page.goto(policy);
    if (fill.accent_colour) await page.fill('#accent_colour', fill.accent_colour);
    if (fill.display_name) await page.fill('#display_name', fill.display_name);
    if (fill.logo) await page.setInputFiles('#logo', fill.logo);
    await submit(page, '#branding-save');
    assert.match(await problems(page), pattern, `${field}: ${await problems(page)}`);
    assert.equal(await page.getAttribute(`#${field}`, 'aria-invalid'), 'true', field);
    const stored = await apiJson(server, token, '/tenants/demo/branding');
    assert.equal(stored.accent_colour, null, `${field}: nothing saved`);
    assert.equal(stored.logo_url, null, `${field}: nothing saved`);
  }
  await snap(page, 'refused');

  // Without the CSRF token: refused before anything is read.
  const forged = await page.evaluate(async (url) => {
    const body = new FormData();
    body.append('display_name', 'Forged');
    body.append('accent_colour', '#000000');
    return (await fetch(url, { method: 'POST', body, credentials: 'same-origin' })).status;
  }, `${server.mtls}/console/t/demo/branding`);
  assert.equal(forged, 403);
  assert.notEqual((await apiJson(server, token, '/tenants/demo/branding')).display_name, 'Forged');

  // A short field sent long by hand (past the input's maxlength): the page names it and
  // nothing is saved; it is not dropped and the rest saved.
  const long = await page.evaluate(async () => {
    const body = new FormData(document.querySelector('#branding-form'));
    body.set('display_name', 'Long-name');
    body.set('accent_colour', 'a'.repeat(300));
    const r = await fetch(document.querySelector('#branding-form').action, { method: 'POST', body, credentials: 'same-origin' });
    return { status: r.status, text: await r.text() };
  });
  assert.equal(long.status, 400, long.text);
  assert.match(long.text, /Accent colour/);
  const afterLong = await apiJson(server, token, '/tenants/demo/branding');
  assert.notEqual(afterLong.display_name, 'Long-name', 'nothing saved');

  // Saved: name, colour and logo, read back through the API, shown in the preview.
  await page.goto(policy);
  await page.fill('#display_name', 'Acme 商事');
  await page.fill('#accent_colour', '#1A4F8B');
  await page.setInputFiles('#logo', { name: 'logo.png', mimeType: 'image/png', buffer: TINY_PNG });
  await submit(page, '#branding-save');
  await snap(page, 'saved');
  assert.equal(await text(page, '#notice'), 'The branding has been saved.');
  const saved = await apiJson(server, token, '/tenants/demo/branding');
  assert.equal(saved.display_name, 'Acme 商事');
  assert.equal(saved.accent_colour, '#1a4f8b');
  assert.equal(saved.logo_png_base64, TINY_PNG.toString('base64'));
  assert.equal(await page.inputValue('#accent_colour'), '#1a4f8b');
  assert.match(await text(page, '#branding-preview'), /Acme 商事/);
  const previewButton = await page.$eval('#branding-preview .button', (b) => getComputedStyle(b).backgroundColor);
  assert.equal(previewButton, 'rgb(26, 79, 139)', 'the preview wears the colour');
  assert.equal(await page.$eval('#branding-preview img', (img) => img.naturalWidth), 1);
  // The operator's own pages (the same tenant) wear it too.
  assert.equal(await text(page, '#tenant-name'), 'Acme 商事');

  // An empty file field keeps the logo; "remove" removes it and the colour.
  await page.goto(`${policy}?lang=ja`);
  assert.match(await text(page, '#group-branding legend'), /ブランド表示/);
  await submit(page, '#branding-save');
  assert.equal(await text(page, '#notice'), 'ブランド表示を保存しました。');
  assert.notEqual((await apiJson(server, token, '/tenants/demo/branding')).logo_url, null, 'an empty file field keeps the logo');
  await page.check('#remove_logo');
  await page.check('#remove_accent_colour');
  await submit(page, '#branding-save');
  const removed = await apiJson(server, token, '/tenants/demo/branding');
  assert.deepEqual([removed.logo_url, removed.accent_colour, removed.display_name], [null, null, 'Acme 商事']);
  const trail = (await apiJson(server, token, '/tenants/demo/audit-events?action=tenant.branding.update')).items;
  assert.equal(trail.length, 3, 'each saved change is audited once, refused ones never');
});
