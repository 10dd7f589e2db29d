// oidc-provider (npm), configured like the Mamori side of the benchmark: one
// confidential client (client_secret_basic), client_credentials with ES256 JWT access
// tokens, refresh tokens that rotate, HTTPS with the same localhost certificate.

import https from 'node:https';

import * as jose from 'jose';
import Provider from 'oidc-provider';

export async function startProvider({ cert, key, clientId, clientSecret, redirectUri }) {
  const es = await jose.exportJWK((await jose.generateKeyPair('ES256', { extractable: true })).privateKey);
  const rs = await jose.exportJWK((await jose.generateKeyPair('RS256', { extractable: true })).privateKey);
  const resource = 'urn:bench:api';
  const server = https.createServer({ cert, key });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `https://localhost:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials', 'refresh_token', 'authorization_code'],
      redirect_uris: [redirectUri],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: 'openid offline_access api.read',
    }],
    jwks: { keys: [{ ...es, alg: 'ES256', use: 'sig', kid: 'es' }, { ...rs, alg: 'RS256', use: 'sig', kid: 'rs' }] },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'api.read', audience: resource, accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
      },
    },
    scopes: ['openid', 'offline_access', 'api.read'],
    rotateRefreshToken: true,
    issueRefreshToken: () => true,
    ttl: { ClientCredentials: 600, AccessToken: 600, RefreshToken: 86400, Grant: 86400, IdToken: 3600 },
    findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  });
  provider.proxy = false;
  server.on('request', provider.callback());

  /** Refresh tokens as an authorization code exchange would have left them. */
  async function mintRefreshTokens(n) {
    const client = await provider.Client.find(clientId);
    const out = [];
    for (let i = 0; i < n; i += 1) {
      const accountId = `bench-user-${i}`;
      const grant = new provider.Grant({ accountId, clientId });
      grant.addOIDCScope('openid offline_access');
      grant.addResourceScope(resource, 'api.read');
      const grantId = await grant.save();
      const rt = new provider.RefreshToken({
        client, accountId, grantId, gty: 'authorization_code', scope: 'openid offline_access api.read',
        authTime: Math.floor(Date.now() / 1000), resource,
      });
      out.push(await rt.save());
    }
    return out;
  }

  return { issuer, tokenEndpoint: `${issuer}/token`, mintRefreshTokens, close: () => server.close() };
}
