// Importing users from a CSV file in the operators' console: the preview shows every row
// and each bad row's reason before anything is saved; a file with a bad row saves
// nothing; the confirmation imports exactly the file previewed (a changed file, a replay
// after the users exist, a POST without the CSRF token and another tenant's import save
// nothing). What was created is read back through the admin API. In Japanese too, and at
// a phone's width.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { screenshots, startServer, submit, text } from './harness.mjs';
import { api, apiJson, fitsPhone, openConsole, operator, problems, readToken } from './console-helpers.mjs';

const GOOD = 'login_id,email,display_name,login_method,locale,time_zone\n'
  + 'imp-one,imp-one@example.test,山田 太郎,cert+password,ja,Asia/Tokyo\n'
  + 'imp-two,imp-two@example.test,Jane Two,,en,\n';

const BAD = 'login_id,email,display_name\n'
  + 'imp-fine,imp-fine@example.test,Fine\n'
  + 'imp-mail,not an address,Bad Mail\n'
  + 'op-import,taken@example.test,Taken\n'
  + 'imp-fine,again@example.test,Twice\n'
  + 'imp-short,imp-short@example.test\n';

/** Chooses `csv` as the file and asks for the preview; the answer's status. */
async function preview(page, csv, name = 'users.csv') {
  await page.setInputFiles('#file', { name, mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') });
  const [response] = await Promise.all([page.waitForNavigation(), page.click('#import-preview-submit')]);
  return response.status();
}

/** The preview's rows: [line, ok, problem]. */
function rows(page) {
  return page.$$eval('.import-row', (trs) => trs.map((tr) => [Number(tr.dataset.line), tr.classList.contains('import-ok'),
    tr.querySelector('.import-problem').textContent.trim()]));
}

/** POSTs a multipart form from inside the page (its cookies and origin): {status, text}. */
function postMultipart(page, url, fields) {
  return page.evaluate(async ([target, entries]) => {
    const body = new FormData();
    for (const [k, v] of Object.entries(entries)) body.append(k, v);
    const r = await fetch(target, { method: 'POST', body, credentials: 'same-origin' });
    return { status: r.status, text: await r.text() };
  }, [url, fields]);
}

async function userStatus(server, token, loginId) {
  return (await api(server, token, `/tenants/demo/users/${loginId}`)).status;
}

test('an operator previews a CSV, sees the bad rows, and imports only the file previewed', { timeout: 300_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('console-import');
  const admin = await operator(t, server, 'op-import');
  server.cli('admin', 'tenant', 'create', '--slug', 'other', '--name', 'Other Co');
  const token = readToken(server);
  const otherToken = readToken(server, 'other');
  const total = async () => (await apiJson(server, token, '/tenants/demo/users?limit=500')).page.total;
  const before = await total();
  const { page } = await openConsole(t, server, admin);

  // From the user search to the import page.
  await page.goto(`${server.mtls}/console/t/demo/users`);
  await Promise.all([page.waitForURL(/\/users-import$/), page.click('#user-import')]);
  assert.match(page.url(), /\/console\/t\/demo\/users-import$/);
  await snap(page, 'form');
  await fitsPhone(page, 'import form');

  // A file with bad rows: each is named with its line and reason, and nothing is saved.
  assert.equal(await preview(page, BAD), 422);
  await snap(page, 'bad-preview');
  await fitsPhone(page, 'bad preview');
  const bad = await rows(page);
  assert.deepEqual(bad.map(([line, ok]) => [line, ok]), [[2, true], [3, false], [4, false], [5, false], [6, false]], JSON.stringify(bad));
  assert.match(bad[1][2], /e-mail address/, 'the bad address');
  assert.match(bad[2][2], /already in use/, 'a user ID already taken');
  assert.match(bad[3][2], /already in use/, 'a user ID an earlier row takes');
  assert.match(bad[4][2], /as many fields/, 'a short row');
  assert.match(await text(page, '#import-failed-count'), /^4 rows/);
  // The same ID in other letters' case is the same ID, in the file and in the tenant.
  const existing = (await apiJson(server, token, '/tenants/demo/users?limit=1')).items[0].login_id;
  assert.equal(await preview(page, `login_id,email\ncaseA,c1@example.test\nCASEA,c2@example.test\n${existing.toUpperCase()},c3@example.test\n`), 422);
  const cased = await rows(page);
  assert.deepEqual(cased.map(([line, ok]) => [line, ok]), [[2, true], [3, false], [4, false]], JSON.stringify(cased));
  assert.match(cased[1][2], /already in use/, 'CASEA after caseA');
  assert.match(cased[2][2], /already in use/, `${existing.toUpperCase()} beside ${existing}`);
  assert.ok(!(await page.$('#import-confirm-form')), 'no way to import a file with a bad row');
  assert.ok(await page.isVisible('#import-fix'));
  assert.equal(await total(), before, 'a preview saves nothing');
  assert.equal(await userStatus(server, token, 'imp-fine'), 404);

  // A file refused as a whole: unknown columns.
  assert.equal(await preview(page, 'user,mail\nx,x@example.test\n'), 422);
  assert.match(await problems(page), /must name the columns/);

  // A good file: every row ready; the confirmation form carries the file.
  assert.equal(await preview(page, GOOD), 200);
  await snap(page, 'good-preview');
  await fitsPhone(page, 'good preview');
  assert.deepEqual((await rows(page)).map(([line, ok]) => [line, ok]), [[2, true], [3, true]]);
  assert.equal(await text(page, '.import-row[data-line="2"] .import-name'), '山田 太郎');
  const csv = await page.getAttribute('#import-confirm-form input[name="csv"]', 'value');
  const seal = await page.getAttribute('#import-confirm-form input[name="seal"]', 'value');
  const confirmUrl = `${server.mtls}/console/t/demo/users-import/confirm`;

  // Hostile: the previewed file swapped for another in the confirmation form.
  const evil = Buffer.from('login_id,email\nimp-evil,evil@example.test\n').toString('base64');
  await page.$eval('#import-confirm-form input[name="csv"]', (input, value) => { input.value = value; }, evil);
  const [tampered] = await Promise.all([page.waitForNavigation(), page.click('#import-confirm-submit')]);
  assert.equal(tampered.status(), 400);
  assert.match(await problems(page), /not the one that was checked/);
  assert.equal(await userStatus(server, token, 'imp-evil'), 404);
  assert.equal(await total(), before, 'a tampered confirmation saves nothing');
  // Hostile: the time of the preview moved (to make an old confirmation look fresh, or
  // the other way): the seal covers it.
  await page.goto(`${server.mtls}/console/t/demo/users-import`);
  assert.equal(await preview(page, GOOD), 200);
  await page.$eval('#import-confirm-form input[name="previewed_at"]', (input) => { input.value = String(Number(input.value) + 3600); });
  const [moved] = await Promise.all([page.waitForNavigation(), page.click('#import-confirm-submit')]);
  assert.equal(moved.status(), 400);
  assert.equal(await total(), before, 'a confirmation with another time saves nothing');
  await page.goto(`${server.mtls}/console/t/demo/users-import`);
  assert.equal(await preview(page, GOOD), 200);
  // Hostile: no CSRF token; another tenant (its preview or this one's file).
  const csrf = await page.getAttribute('input[name="csrf_token"]', 'value');
  const noCsrf = await postMultipart(page, confirmUrl, { csv, seal });
  assert.equal(noCsrf.status, 403);
  const noCsrfPreview = await postMultipart(page, `${server.mtls}/console/t/demo/users-import`, { file: 'x' });
  assert.equal(noCsrfPreview.status, 403);
  const foreign = await postMultipart(page, `${server.mtls}/console/t/other/users-import/confirm`, { csrf_token: csrf, csv, seal });
  assert.equal(foreign.status, 404);
  assert.equal((await page.goto(`${server.mtls}/console/t/other/users-import`)).status(), 404);
  assert.equal((await apiJson(server, otherToken, '/tenants/other/users?limit=500')).page.total, 0, 'nothing in the other tenant');
  assert.equal(await total(), before, 'nothing saved by the refused posts');

  // The honest confirmation: the users are created as the file says.
  await page.goto(`${server.mtls}/console/t/demo/users-import`);
  assert.equal(await preview(page, GOOD), 200);
  const kept = await page.$eval('#import-confirm-form', (f) => Object.fromEntries(new FormData(f)));
  await submit(page, '#import-confirm-submit');
  await snap(page, 'imported');
  await fitsPhone(page, 'imported');
  assert.match(await text(page, '#import-created-count'), /^2 users have been created/);
  const created = await page.$$eval('.import-created-user a', (as) => as.map((a) => [a.textContent.trim(), new URL(a.href).pathname]));
  assert.deepEqual(created, [['imp-one', '/console/t/demo/users/imp-one'], ['imp-two', '/console/t/demo/users/imp-two']]);
  const one = await apiJson(server, token, '/tenants/demo/users/imp-one');
  assert.equal(one.display_name, '山田 太郎');
  assert.equal(one.login_method, 'cert+password');
  assert.equal(one.locale, 'ja');
  const two = await apiJson(server, token, '/tenants/demo/users/imp-two');
  assert.equal(two.locale, 'en');
  const devices = await apiJson(server, token, '/tenants/demo/users/imp-two/devices');
  assert.deepEqual(devices.map((d) => [d.device_no, d.email]), [[1, 'imp-two@example.test']]);
  assert.equal(await total(), before + 2);
  // The import is in the audit trail as the API's is.
  const audit = await apiJson(server, token, '/tenants/demo/audit-events?limit=500');
  assert.ok(audit.items.some((e) => e.action === 'user.import' && e.actor === 'user:demo/op-import'), 'audited');
  // Replaying the confirmation once the users exist: checked again, nothing saved twice.
  const replay = await postMultipart(page, confirmUrl, kept);
  assert.equal(replay.status, 409);
  assert.match(replay.text, /Nothing has been saved/);
  assert.equal(await total(), before + 2);

  // In Japanese: the same page, the row's reason in Japanese.
  const ja = await openConsole(t, server, admin, { locale: 'ja-JP', acceptLanguage: 'ja' });
  await ja.page.goto(`${server.mtls}/console/t/demo/users-import`);
  assert.equal(await text(ja.page, '#console-import-title'), 'CSVから利用者を一括登録');
  assert.equal(await preview(ja.page, BAD), 422);
  await snap(ja.page, 'bad-preview-ja');
  await fitsPhone(ja.page, 'bad preview ja');
  const jaRows = await rows(ja.page);
  assert.match(jaRows.find(([line]) => line === 4)[2], /すでに使われています/);
  assert.match(jaRows.find(([line]) => line === 3)[2], /メールアドレス/);
});

