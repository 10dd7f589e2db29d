// Passkeys in headless Chromium: a virtual authenticator through the Chrome DevTools
// Protocol (WebAuthn domain), and assertions made here with a credential's own private
// key, for the hostile tests (any origin, flags or counter, which no browser would send).

import { createHash, createPrivateKey, sign } from 'node:crypto';

/** Adds a CTAP2 platform authenticator with user verification to `page`'s browser. */
export async function virtualAuthenticator(context, page, options = {}) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      ...options,
    },
  });
  return {
    cdp,
    authenticatorId,
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
    async remove() {
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    },
  };
}

/** The options the page's passkey form carries (WebAuthn JSON). */
export async function pageOptions(page) {
  return JSON.parse(await page.textContent('#passkey-options'));
}

/** An assertion for `challenge` signed with `credential` (from WebAuthn.getCredentials).
 * flags: 0x01 user present, 0x04 user verified. */
export function craftAssertion({ credential, challenge, origin, rpId = 'localhost', flags = 0x05, signCount = 1000, userHandle }) {
  const count = Buffer.alloc(4);
  count.writeUInt32BE(signCount);
  const authData = Buffer.concat([createHash('sha256').update(rpId).digest(), Buffer.from([flags]), count]);
  const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin, crossOrigin: false }));
  const key = createPrivateKey({ key: Buffer.from(credential.privateKey, 'base64'), format: 'der', type: 'pkcs8' });
  const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientData).digest()]), key);
  const id = Buffer.from(credential.credentialId, 'base64').toString('base64url');
  const handle = userHandle ?? (credential.userHandle ? Buffer.from(credential.userHandle, 'base64').toString('base64url') : null);
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: {
      authenticatorData: authData.toString('base64url'),
      clientDataJSON: clientData.toString('base64url'),
      signature: signature.toString('base64url'),
      userHandle: handle,
    },
    extensions: {},
  };
}

/** Posts the page's passkey form with `answer` as the browser's answer (and, when given,
 * another ceremony), as a hand-made request would, and waits for the page it returns. */
export async function postAnswer(page, answer, { ceremony } = {}) {
  await Promise.all([
    page.waitForNavigation(),
    page.evaluate(([json, other]) => {
      const form = document.getElementById('passkey-form');
      form.elements.credential.value = json;
      if (other) form.elements.ceremony.value = other;
      HTMLFormElement.prototype.submit.call(form);
    }, [JSON.stringify(answer), ceremony ?? null]),
  ]);
}

/** A user of `method` (a certificate + passkey one), enrolled with a password method and
 * then moved to it by the operator: the enrollment form of the harness sets a password. */
export async function enrolledPasskeyUser(t, server, loginId, method, { snap } = {}) {
  const { enrolledUser } = await import('./harness.mjs');
  const user = await enrolledUser(t, server, loginId, { method: 'cert+password', snap });
  server.cli('admin', 'user', 'update', '--tenant', 'demo', '--login-id', loginId, '--method', method);
  return user;
}

/** On a page offering the passkey login: logs in with it. The browser may already have
 * done so through the ID field's autofill (conditional mediation, which a virtual
 * authenticator answers at once); otherwise the button starts the modal ceremony. */
export async function loginWithOfferedPasskey(page) {
  await page.waitForSelector('#logged-in, #passkey-submit');
  if (await page.isVisible('#logged-in')) return 'conditional';
  await Promise.all([page.waitForSelector('#logged-in, .problems, .error-message'), page.click('#passkey-submit')]);
  return 'button';
}
