"""What a relying site registers, refused alike by the admin API, the CLI and dynamic
registration (RFC 7591 `invalid_client_metadata`), the honest value next to each hostile
one. The rules are the service layer's (`fields::site_rules`); the console's browser test
is conformance-tests/browser/console-site-rules.test.mjs.

- Certificates (an OIDC client's `self_signed_tls_client_auth` certificate, a SAML SP's
  signing and encryption certificates): one whole X.509 certificate, within its validity
  period, with a key usable for the purpose (self-signed is fine). Garbage in PEM armour
  was once kept as a fingerprint no handshake could match.
- A client's inline JWK Set holds public asymmetric signing keys: no symmetric (`oct`)
  key, no private parts (`d`), no encryption-only key; a set holding a secret is refused
  without the secret appearing in the answer or the audit trail.
- Scopes are those Mamori offers (openid, profile, email, offline_access) or an API's own,
  namespaced (`api.read`); `application_type` is web or native.

Run by scripts/test with conformance-tests/.venv/bin/pytest.
"""

import base64
import json
import subprocess
import uuid

import pytest
import requests

from test_admin_api import Server, is_problem

# Fixed certificates whose validity period never changes: expired in 2021, valid from 2099.
EXPIRED_PEM = """-----BEGIN CERTIFICATE-----
MIIBMzCB2qADAgECAhRLjRw4y9OqXch6sq85t7V8wZ6FozAKBggqhkjOPQQDAjAa
MRgwFgYDVQQDDA9leHBpcmVkLmV4YW1wbGUwHhcNMjAwMTAxMDAwMDAwWhcNMjEw
MTAxMDAwMDAwWjAaMRgwFgYDVQQDDA9leHBpcmVkLmV4YW1wbGUwWTATBgcqhkjO
PQIBBggqhkjOPQMBBwNCAARmC96v9wh2DWcKMFJZK50cv8YN9a21aZZEB6LtEKoc
wXACfVqvX4ETijoMV0Zk3kf6i+tlhi5UKJoDWbSmKvp+MAoGCCqGSM49BAMCA0gA
MEUCIF7VK40T/ZhAp40u8FPxDnOhnt3khWrFfnSlc4QfrTRkAiEAjpNAdNMxtv8D
XC2auiJyeMzQXqaqoLtUAciSaFEes0g=
-----END CERTIFICATE-----
"""
FUTURE_PEM = """-----BEGIN CERTIFICATE-----
MIIBNTCB3KADAgECAhQHlCAo/mMCRydB2+mATtKMUDMsPzAKBggqhkjOPQQDAjAZ
MRcwFQYDVQQDDA5mdXR1cmUuZXhhbXBsZTAiGA8yMDk5MDEwMTAwMDAwMFoYDzIx
MDAwMTAxMDAwMDAwWjAZMRcwFQYDVQQDDA5mdXR1cmUuZXhhbXBsZTBZMBMGByqG
SM49AgEGCCqGSM49AwEHA0IABCtjLFw5dypibOzuayH43UmeAoQGdbqMAUWla433
CSuFJccQm9CNydsZi9NtjGjdXKftJWG8sTwSbQg/k7uWx0EwCgYIKoZIzj0EAwID
SAAwRQIhAO2gfemGKeDxK3zn83bjGhBov4NTny1U0fb7tSwexfN5AiB8PDe2Q26H
NvgAsFAKd4PSV24iUZfhmCbbyKoYbNLrDg==
-----END CERTIFICATE-----
"""
GARBAGE_PEM = "-----BEGIN CERTIFICATE-----\n" + base64.b64encode(b"not a certificate, just random bytes " * 4).decode() + "\n-----END CERTIFICATE-----\n"
# RFC 7515 Appendix A.3's P-256 key: the public half, and with its private scalar.
PUBLIC_EC = {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
PRIVATE_SCALAR = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
SHARED_SECRET = "c2hhcmVkLXNlY3JldC1zaGFyZWQtc2VjcmV0LXNoYXJlZA"


@pytest.fixture(scope="module")
def server():
    s = Server()
    s.cli("admin", "tenant", "create", "--slug", "acme", "--name", "Acme")
    s.acme_token = s.token("--tenant", "acme")
    yield s
    s.stop()


def pem_certificate(workdir, key="ec", days="30"):
    """A fresh self-signed certificate (PEM) made by openssl."""
    name = uuid.uuid4().hex[:8]
    key_args = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key == "ec" else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509", *key_args, "-nodes", "-keyout", str(workdir / f"{name}.key"), "-subj", f"/CN={name}.example",
                    "-days", days, "-out", str(workdir / f"{name}.pem")], check=True, capture_output=True)
    return (workdir / f"{name}.pem").read_text()


def der_b64(pem):
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


def sha256_hex(pem):
    import hashlib
    return hashlib.sha256(base64.b64decode(der_b64(pem))).hexdigest()


def register_dynamically(server, **metadata):
    token = server.cli_json("admin", "oidc-client", "initial-access-token", "--tenant", "acme")["initial_access_token"]
    body = {"client_name": "Dynamic", "redirect_uris": ["https://rp.acme.test/cb"], **metadata}
    return requests.post(f"{server.main}/t/acme/register", json=body, headers={"Authorization": f"Bearer {token}"}, verify=server.dev_root, timeout=30)


def client_ids(server):
    return {c["client_id"] for c in server.call("GET", "/tenants/acme/oidc-clients", token=server.acme_token).json()}


CERTIFICATE_CASES = {
    "garbage in PEM armour": (GARBAGE_PEM, "not an X.509 certificate"),
    "not PEM": ("MIIBMzCB2qADAgECAhRLjRw4", "not one PEM certificate"),
    "expired": (EXPIRED_PEM, "expired"),
    "not yet valid": (FUTURE_PEM, "not valid before"),
}


@pytest.mark.parametrize("label", list(CERTIFICATE_CASES))
def test_a_self_signed_tls_client_certificate_must_be_a_whole_current_certificate(server, label):
    bad, said = CERTIFICATE_CASES[label]
    body = {"name": "Mutual TLS", "grant_types": ["client_credentials"], "scopes": ["api.read"], "token_endpoint_auth_method": "self_signed_tls_client_auth"}
    before = client_ids(server)
    problem = is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=server.acme_token, json={**body, "tls_client_certificate": bad}), 422)
    assert problem["detail"].startswith("tls_client_certificate:") and said in problem["detail"], problem
    path = server.data / f"cert-{uuid.uuid4().hex[:8]}.pem"
    path.write_text(bad)
    out = server.cli("admin", "oidc-client", "create", "--tenant", "acme", "--name", "Mutual TLS", "--grant-type", "client_credentials", "--scope", "api.read",
                     "--auth-method", "self_signed_tls_client_auth", "--tls-certificate", str(path), check=False)
    assert out.returncode != 0 and said in out.stderr, out.stdout + out.stderr
    assert client_ids(server) == before, "nothing registered"
    # The honest twin: a current self-signed certificate is kept, and its fingerprint shown.
    good = pem_certificate(server.data)
    created = server.call("POST", "/tenants/acme/oidc-clients", token=server.acme_token, json={**body, "tls_client_certificate": good})
    assert created.status_code == 201, created.text
    assert created.json()["client"]["tls_client_certificate_sha256"] == [sha256_hex(good)], created.json()


def sp_metadata(entity, signing=None, encryption=None):
    def key(use, pem):
        return (f'<md:KeyDescriptor use="{use}"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>'
                f'<ds:X509Certificate>{der_b64(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>') if pem else ""
    return (f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://{entity}/metadata">'
            f'<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key("signing", signing)}{key("encryption", encryption)}'
            f'<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://{entity}/acs" index="0"/>'
            '</md:SPSSODescriptor></md:EntityDescriptor>')


def sp_entities(server):
    return {sp["entity_id"] for sp in server.call("GET", "/tenants/acme/saml-sps", token=server.acme_token).json()}


def test_saml_sp_certificates_are_whole_current_and_usable(server):
    ec, rsa = pem_certificate(server.data), pem_certificate(server.data, key="rsa")
    cases = [
        ({"signing": GARBAGE_PEM}, False, "does not parse"),
        ({"signing": EXPIRED_PEM}, False, "expired"),
        ({"signing": FUTURE_PEM}, False, "not valid before"),
        # RSA-OAEP encrypts to RSA keys only.
        ({"encryption": ec}, True, "encryption needs RSA"),
    ]
    for keys, encrypt, said in cases:
        entity = f"sp-{uuid.uuid4().hex[:8]}.acme.test"
        xml = sp_metadata(entity, **keys)
        problem = is_problem(server.call("POST", "/tenants/acme/saml-sps", token=server.acme_token, json={"metadata": xml, "encrypt_assertion": encrypt}), 422)
        assert problem["detail"].startswith("metadata:") and said in problem["detail"], (keys.keys(), problem)
        path = server.data / f"{entity}.xml"
        path.write_text(xml)
        args = ["admin", "saml-sp", "add", "--tenant", "acme", "--metadata", str(path)] + (["--encrypt"] if encrypt else [])
        out = server.cli(*args, check=False)
        assert out.returncode != 0 and said in out.stderr, out.stdout + out.stderr
        assert f"https://{entity}/metadata" not in sp_entities(server)
    # The honest twins: self-signed and current; an EC signing key, an RSA encryption key.
    entity = f"sp-{uuid.uuid4().hex[:8]}.acme.test"
    created = server.call("POST", "/tenants/acme/saml-sps", token=server.acme_token, json={"metadata": sp_metadata(entity, signing=ec, encryption=rsa), "encrypt_assertion": True})
    assert created.status_code == 201, created.text
    sp = created.json()
    assert sp["encrypt_assertion"] is True
    # An SP signing with EC and nothing to encrypt for: encryption cannot be switched on.
    entity = f"sp-{uuid.uuid4().hex[:8]}.acme.test"
    ec_only = server.call("POST", "/tenants/acme/saml-sps", token=server.acme_token, json={"metadata": sp_metadata(entity, signing=ec)}).json()
    is_problem(server.call("PATCH", f"/tenants/acme/saml-sps/{ec_only['id']}", token=server.acme_token, json={"encrypt_assertion": True}), 422)


JWKS_CASES = {
    "private EC key": ({**PUBLIC_EC, "d": PRIVATE_SCALAR}, "private key material", PRIVATE_SCALAR),
    "symmetric key": ({"kty": "oct", "k": SHARED_SECRET}, "symmetric", SHARED_SECRET),
    "encryption key": ({**PUBLIC_EC, "use": "enc"}, "encryption key", None),
    "unsupported type": ({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, "EC P-256 or RSA", None),
}


@pytest.mark.parametrize("label", list(JWKS_CASES))
def test_private_key_jwt_takes_public_signing_keys_only(server, label):
    bad_key, said, secret = JWKS_CASES[label]
    bad, good = {"keys": [PUBLIC_EC, bad_key]}, {"keys": [{**PUBLIC_EC, "use": "sig", "alg": "ES256"}]}
    body = {"name": "Keyed", "grant_types": ["client_credentials"], "scopes": ["api.read"], "token_endpoint_auth_method": "private_key_jwt"}
    before = client_ids(server)
    problem = is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=server.acme_token, json={**body, "jwks": bad}), 422)
    assert problem["detail"].startswith("jwks: key 2:") and said in problem["detail"], problem
    path = server.data / f"jwks-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(bad))
    out = server.cli("admin", "oidc-client", "create", "--tenant", "acme", "--name", "Keyed", "--grant-type", "client_credentials", "--scope", "api.read",
                     "--auth-method", "private_key_jwt", "--jwks-file", str(path), check=False)
    assert out.returncode != 0 and "jwks: key 2:" in out.stderr, out.stdout + out.stderr
    refused = register_dynamically(server, grant_types=["client_credentials"], token_endpoint_auth_method="private_key_jwt", jwks=bad)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client_metadata", refused.text
    assert client_ids(server) == before, "nothing registered"
    created = server.call("POST", "/tenants/acme/oidc-clients", token=server.acme_token, json={**body, "jwks": good})
    assert created.status_code == 201, created.text
    cid = created.json()["client"]["client_id"]
    problem = is_problem(server.call("PATCH", f"/tenants/acme/oidc-clients/{cid}", token=server.acme_token, json={"jwks": bad}), 422)
    if secret:
        # The secret is in no answer and in no audit record.
        for said_back in (problem["detail"], json.dumps(problem), out.stdout, out.stderr, refused.text):
            assert secret not in said_back
        trail = server.call("GET", "/tenants/acme/audit-events", token=server.acme_token, params={"limit": 500}).text
        assert secret not in trail
    assert register_dynamically(server, grant_types=["client_credentials"], token_endpoint_auth_method="private_key_jwt", jwks=good).status_code == 201


@pytest.mark.parametrize("scope", ["bogus", "admin", "OpenID", "phone", "api read"])
def test_scopes_are_offered_or_namespaced_on_every_surface(server, scope):
    body = {"name": "Scoped", "redirect_uris": ["https://rp.acme.test/cb"], "scopes": ["openid", scope]}
    before = client_ids(server)
    problem = is_problem(server.call("POST", "/tenants/acme/oidc-clients", token=server.acme_token, json=body), 422)
    assert problem["detail"].startswith("scopes:") and f"`{scope}`" in problem["detail"], problem
    out = server.cli("admin", "oidc-client", "create", "--tenant", "acme", "--name", "Scoped", "--redirect-uri", "https://rp.acme.test/cb",
                     "--scope", "openid", "--scope", scope, check=False)
    assert out.returncode != 0 and "scope" in out.stderr, out.stdout + out.stderr
    if " " not in scope:
        refused = register_dynamically(server, scope=f"openid {scope}")
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_client_metadata" and scope in refused.json()["error_description"], refused.text
    assert client_ids(server) == before
    honest = {**body, "scopes": ["openid", "offline_access", "api.read", "orders:write"]}
    created = server.call("POST", "/tenants/acme/oidc-clients", token=server.acme_token, json=honest)
    assert created.status_code == 201, created.text
    cid = created.json()["client"]["client_id"]
    is_problem(server.call("PATCH", f"/tenants/acme/oidc-clients/{cid}", token=server.acme_token, json={"scopes": ["openid", scope]}), 422)
    assert server.call("GET", f"/tenants/acme/oidc-clients/{cid}", token=server.acme_token).json()["scopes"] == honest["scopes"]


def test_application_type_is_web_or_native(server):
    for bogus in ("bogus", "Web", ""):
        refused = register_dynamically(server, application_type=bogus)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_client_metadata", refused.text
        assert "application_type" in refused.json()["error_description"], refused.text
    for honest in ("web", "native"):
        uri = "https://rp.acme.test/cb" if honest == "web" else "http://127.0.0.1/cb"
        assert register_dynamically(server, application_type=honest, redirect_uris=[uri]).status_code == 201
