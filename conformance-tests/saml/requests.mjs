// Hand-made SAML requests for the tests that talk to the real binary without a browser:
// AuthnRequests and signature templates, Redirect-binding signatures with node:crypto,
// POST-binding XML signatures with the xmlsec1 command line, and a reading of what
// Mamori answered (a page, a status response to the ACS, or a redirect).

import { sign as cryptoSign } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';

import { tempDir } from '../browser/harness.mjs';
import { NS, XMLSEC1, request } from './sp.mjs';

export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
export const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';

/** The base64 body of a PEM certificate file. */
export const b64cert = (pemPath) => readFileSync(pemPath, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

let counter = 0;
export const newId = () => `_req${Date.now()}${counter++}`;

/** An AuthnRequest from `issuer` to the demo tenant's SSO endpoint. */
/** `destination`: the Destination attribute (`null` leaves it out); `attrs`: more attributes of the root. */
export function authnRequest(server, { issuer, id = newId(), instant = new Date(), acsUrl, acsIndex, version = '2.0', signatureTemplate = false, inner = '', destination = `${server.main}/t/demo/saml/sso`, attrs: extra = '' } = {}) {
  const issueInstant = typeof instant === 'string' ? instant : instant.toISOString();
  const attrs = [`ID="${id}"`, `Version="${version}"`, `IssueInstant="${issueInstant}"`];
  if (destination !== null) attrs.push(`Destination="${destination}"`);
  if (extra) attrs.push(extra);
  if (acsUrl) attrs.push(`AssertionConsumerServiceURL="${acsUrl}"`);
  if (acsIndex !== undefined) attrs.push(`AssertionConsumerServiceIndex="${acsIndex}"`);
  const sig = signatureTemplate ? template(id) : '';
  return `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ${attrs.join(' ')}><saml:Issuer>${issuer}</saml:Issuer>${sig}${inner}<samlp:NameIDPolicy Format="${NS.persistent}" AllowCreate="true"/></samlp:AuthnRequest>`;
}

/** A LogoutRequest from `issuer` to the demo tenant's SLO endpoint. */
export function logoutRequest(server, { issuer, id = newId(), instant = new Date(), notOnOrAfter, nameId = 'x', signatureTemplate = false, destination = `${server.main}/t/demo/saml/slo` } = {}) {
  const issueInstant = typeof instant === 'string' ? instant : instant.toISOString();
  const limit = notOnOrAfter ? ` NotOnOrAfter="${notOnOrAfter}"` : '';
  const sig = signatureTemplate ? template(id) : '';
  const dest = destination === null ? '' : ` Destination="${destination}"`;
  return `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${issueInstant}"${dest}${limit}><saml:Issuer>${issuer}</saml:Issuer>${sig}<saml:NameID>${nameId}</saml:NameID></samlp:LogoutRequest>`;
}

export function template(id) {
  return `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="${RSA_SHA256}"/><ds:Reference URI="#${id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>`;
}

/** Signs a message carrying a signature template with xmlsec1. */
export function xmlsecSign(t, xml, keys, root = 'AuthnRequest') {
  const dir = tempDir(t, 'mamori-saml-sign-');
  const input = join(dir, 'in.xml');
  const output = join(dir, 'out.xml');
  writeFileSync(input, xml);
  execFileSync(XMLSEC1, ['--sign', '--privkey-pem', `${keys.key},${keys.cert}`, '--id-attr:ID', `urn:oasis:names:tc:SAML:2.0:protocol:${root}`, '--output', output, input], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return readFileSync(output, 'utf8').replace(/^<\?xml[^>]*\?>\s*/, '');
}

export const enc = encodeURIComponent;

/** The query of an HTTP-Redirect message, signed with `keyPem` when given. */
export function redirectQuery(xml, { keyPem, sigAlg = RSA_SHA256, relayState, param = 'SAMLRequest', hash = 'sha256' } = {}) {
  let q = `${param}=${enc(deflateRawSync(Buffer.from(xml)).toString('base64'))}`;
  if (relayState) q += `&RelayState=${enc(relayState)}`;
  if (!keyPem) return q;
  q += `&SigAlg=${enc(sigAlg)}`;
  const signature = cryptoSign(hash, Buffer.from(q), readFileSync(keyPem));
  return `${q}&Signature=${enc(signature.toString('base64'))}`;
}

export const get = (server, path, query, headers = {}) => request(server, `${server.main}${path}?${query}`, { headers });
export const post = (server, path, fields, headers = {}) =>
  request(server, `${server.main}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: Object.entries(fields).map(([k, v]) => `${k}=${enc(v)}`).join('&'),
  });

/** HTML attribute text back to plain text (minijinja escapes `/` too). */
export const unescapeHtml = (s) =>
  s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

const statusCodes = (xml) => [...xml.matchAll(/StatusCode Value="([^"]+)"/g)].map((m) => m[1].split(':').pop());

/**
 * What Mamori answered: a page with an error code, a status response POSTed to the ACS,
 * or a redirect (with the status codes of a SAMLResponse it carries, if any).
 */
export function outcome(res) {
  const page = res.body.match(/id="saml-error">([^<]*)</)?.[1];
  if (page) return { kind: 'page', code: page, status: res.status };
  const field = res.body.match(/name="SAMLResponse" value="([^"]*)"/)?.[1];
  if (field) {
    const xml = Buffer.from(unescapeHtml(field), 'base64').toString('utf8');
    const action = unescapeHtml(res.body.match(/action="([^"]*)"/)?.[1] ?? '');
    return { kind: 'status', xml, action, codes: statusCodes(xml) };
  }
  if (res.status === 303 || res.status === 302) {
    const location = res.headers.location;
    const carried = new URL(location, 'https://x.invalid').searchParams.get('SAMLResponse');
    const xml = carried ? inflateRawSync(Buffer.from(carried, 'base64')).toString('utf8') : undefined;
    return { kind: 'redirect', location, xml, codes: xml ? statusCodes(xml) : [] };
  }
  return { kind: 'other', status: res.status, body: res.body.slice(0, 300) };
}
