// SAML Web Browser SSO for a user whose login method needs no certificate: the browser
// presents none, Mamori's ID/password form opens the login, and the SAML request resumes
// afterwards. python3-saml (strict) checks the signed response; its AuthnContextClassRef
// and `amr` attribute say "password", never "certificate".

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { openBrowser, screenshots, setPolicy, startServer, submit, text } from '../browser/harness.mjs';
import { NS, idpMetadata, sso, startSp, xmlsecVerify } from './sp.mjs';

test('SAML SSO through the login without a certificate (password method)', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t);
  const snap = screenshots('saml-password-login');
  setPolicy(server, { allowed_login_methods: ['cert+password', 'password'] });
  const user = { loginId: 'saml-pw-user', password: 'Hibari-2026!' };
  const ticket = server.createUser(user.loginId, { method: 'password' });
  const { page } = await openBrowser(t, server, { locale: 'en-US' });
  await page.goto(ticket.url);
  await page.fill('#one_time_password', ticket.one_time_password);
  await submit(page, '#enroll-otp-submit');
  await page.fill('#password', user.password);
  await page.fill('#password_confirmation', user.password);
  await page.selectOption('#secret_question', { index: 1 });
  await page.fill('#secret_answer', 'Kyoto ramen');
  await submit(page, '#enroll-register-submit');
  assert.ok(await page.isVisible('#enroll-complete'), await text(page, 'main'));

  const idp = await idpMetadata(t, server);
  const onelogin = await startSp(t, server, idp, 'onelogin', { register: ['--attribute', 'login_id,email,amr'] });
  const { result, loggedIn } = await sso(page, `${onelogin.base}/login?relay=%2Fpw`, user, snap, 'onelogin-password');
  assert.ok(loggedIn, 'the ID/password form was shown');
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.equal(result.relay_state, '/pw');
  assert.deepEqual(result.friendly_attributes.uid, [user.loginId]);
  assert.deepEqual(result.friendly_attributes.amr, ['pwd'], 'no swk without a certificate');
  assert.deepEqual(result.authn_contexts, [NS.ppt]);
  const checked = xmlsecVerify(result.file, idp.signingCert, 'Response');
  assert.ok(checked.ok, checked.output);

  // Asking for more than the method can give: no certificate context is ever asserted.
  const { result: x509 } = await sso(page, `${onelogin.base}/login?ctx=${encodeURIComponent(NS.x509)}`, user, snap, 'onelogin-x509');
  assert.equal(x509.ok, false, JSON.stringify(x509));
});
