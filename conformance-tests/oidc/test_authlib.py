"""authlib as a second relying site: authorization code + PKCE through the certificate
login (a certificate-only user, so the HTTP client itself completes the login over mutual
TLS), ID token validation against the JWKS, userinfo, and client_credentials.

Run by scripts/test with conformance-tests/.venv/bin/pytest.
"""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.common.security import generate_token

ROOT = Path(__file__).resolve().parents[2]
MAMORI = os.environ.get("MAMORI_BIN", str(ROOT / "target" / "debug" / "mamori"))
REDIRECT_URI = "https://localhost:9/cb"


class Server:
    def __init__(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="mamori-authlib-"))
        env = {k: v for k, v in os.environ.items() if k != "MAMORI_CONFIG"}
        env.update(MAMORI_SERVER__LISTEN="127.0.0.1:0", MAMORI_SERVER__MTLS_LISTEN="127.0.0.1:0", MAMORI_HASHING__ARGON2_MEMORY_KIB="8192")
        self.env = env
        self.proc = subprocess.Popen([MAMORI, "quickstart"], cwd=self.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        banner = []
        for line in self.proc.stdout:
            banner.append(line)
            if line.startswith("mamori: listening on"):
                urls = [w for w in line.split() if w.startswith("https://")]
                self.main, self.mtls = urls[0], urls[1]
            if line.startswith("Press Ctrl-C"):
                break
        else:
            raise RuntimeError("quickstart did not start:\n" + "".join(banner))
        self.data = self.workdir / "mamori-data"
        self.config = self.data / "mamori.toml"
        self.dev_root = str(self.data / "tls" / "dev-root.pem")
        self.issuer = f"{self.main}/t/demo"
        # authlib's token requests pass verify=True explicitly; requests then takes the
        # CA bundle from the environment: trust exactly the quickstart's dev root.
        os.environ["REQUESTS_CA_BUNDLE"] = self.dev_root

    def cli(self, *args):
        out = subprocess.run([MAMORI, "--config", str(self.config), *args], cwd=self.workdir, env=self.env, capture_output=True, text=True)
        assert out.returncode == 0, f"mamori {' '.join(args)}: {out.stdout}{out.stderr}"
        return out.stdout

    def cli_json(self, *args):
        return json.loads(self.cli(*args, "--output", "json"))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def user_cert(server):
    """A certificate-only user and its certificate and key as PEM files."""
    server.cli("admin", "user", "create", "--tenant", "demo", "--login-id", "authlib-user", "--email", "authlib@example.test", "--method", "cert")
    pw = server.data / "authlib.pw"
    pw.write_text("Authlib-p12-1\n")
    p12 = server.data / "authlib.p12"
    server.cli("admin", "user", "issue-cert", "--tenant", "demo", "--login-id", "authlib-user", "--p12", str(p12), "--password-file", str(pw))
    cert, key = server.data / "authlib-cert.pem", server.data / "authlib-key.pem"
    for args, out in ((["-clcerts", "-nokeys"], cert), (["-nocerts", "-nodes"], key)):
        subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-passin", "pass:Authlib-p12-1", "-out", str(out), *args], check=True, capture_output=True)
    return str(cert), str(key)


def metadata(server):
    r = requests.get(f"{server.issuer}/.well-known/openid-configuration", verify=server.dev_root, timeout=20)
    r.raise_for_status()
    return r.json()


def browser_login(server, url, cert):
    """Follows redirects like a browser presenting the certificate, until the client's
    redirect URI; returns that URL."""
    browser = requests.Session()
    browser.verify = server.dev_root
    browser.cert = cert
    for _ in range(10):
        r = browser.get(url, allow_redirects=False, timeout=20)
        assert r.status_code in (302, 303, 307), f"{url} answered {r.status_code}: {r.text[:500]}"
        url = urljoin(url, r.headers["location"])
        if url.startswith(REDIRECT_URI):
            return url
    raise AssertionError("too many redirects")


def test_code_flow_with_pkce(server, user_cert):
    meta = metadata(server)
    reg = server.cli_json("admin", "oidc-client", "create", "--tenant", "demo", "--name", "authlib RP", "--redirect-uri", REDIRECT_URI,
                          "--first-party", "--id-token-alg", "RS256")
    session = OAuth2Session(reg["client_id"], reg["client_secret"], scope="openid profile email", redirect_uri=REDIRECT_URI,
                            code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
    session.verify = server.dev_root
    verifier = generate_token(64)
    nonce = generate_token(20)
    url, state = session.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    back = browser_login(server, url, user_cert)
    query = parse_qs(urlparse(back).query)
    assert query["state"] == [state]
    assert query["iss"] == [server.issuer]
    token = session.fetch_token(meta["token_endpoint"], authorization_response=back, code_verifier=verifier)

    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], verify=server.dev_root, timeout=20).json())
    claims = jwt.decode(token["id_token"], jwks, claims_options={
        "iss": {"essential": True, "value": server.issuer},
        "aud": {"essential": True, "value": reg["client_id"]},
        "nonce": {"essential": True, "value": nonce},
    })
    claims.validate()
    assert claims["amr"] == ["swk"], "a certificate-only login"
    assert claims["acr"] == "urn:mamori:acr:cert"

    info = session.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"]
    assert info["preferred_username"] == "authlib-user"

    # The code is single use: redeeming it again fails and revokes what it issued.
    again = requests.post(meta["token_endpoint"], verify=server.dev_root, auth=(reg["client_id"], reg["client_secret"]), timeout=20,
                          data={"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": REDIRECT_URI, "code_verifier": verifier})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert session.get(meta["userinfo_endpoint"]).status_code == 401


def test_client_credentials(server):
    meta = metadata(server)
    reg = server.cli_json("admin", "oidc-client", "create", "--tenant", "demo", "--name", "backend", "--grant-type", "client_credentials",
                          "--scope", "api.read", "--scope", "api.write", "--auth-method", "client_secret_post")
    session = OAuth2Session(reg["client_id"], reg["client_secret"], scope="api.read", token_endpoint_auth_method="client_secret_post")
    session.verify = server.dev_root
    token = session.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "api.read"
    assert "refresh_token" not in token and "id_token" not in token
    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], verify=server.dev_root, timeout=20).json())
    at = jwt.decode(token["access_token"], jwks)
    assert at["sub"] == reg["client_id"] and at["client_id"] == reg["client_id"]
    # A scope it was not registered for, and a wrong secret.
    bad = OAuth2Session(reg["client_id"], reg["client_secret"], scope="admin", token_endpoint_auth_method="client_secret_post")
    bad.verify = server.dev_root
    with pytest.raises(Exception, match="invalid_scope"):
        bad.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    wrong = OAuth2Session(reg["client_id"], "not-the-secret", token_endpoint_auth_method="client_secret_post")
    wrong.verify = server.dev_root
    with pytest.raises(Exception, match="invalid_client"):
        wrong.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
