"""The SCIM 2.0 server against the real binary: one quickstart server for the whole
directory, started by the admin API suite's own `Server` (imported, not copied), with two
tenants, a `scim` token each, and tokens without the scope to show what they cannot do.
"""

import ssl
import sys
from pathlib import Path

import pytest
from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "admin"))
from test_admin_api import Server  # noqa: E402


class ScimServer(Server):
    def scim_url(self, slug):
        return f"{self.main}/scim/v2/t/{slug}"

    def http(self, slug, token):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return Client(base_url=self.scim_url(slug), headers=headers, verify=ssl.create_default_context(cafile=self.dev_root), timeout=30)

    def scim_client(self, slug, token):
        """A scim2-client that learnt the server from its discovery endpoints."""
        client = SyncSCIMClient(self.http(slug, token))
        client.discover()
        return client


@pytest.fixture(scope="session")
def server():
    s = ScimServer()
    for slug in ("acme", "beta"):
        s.cli("admin", "tenant", "create", "--slug", slug, "--name", slug.title())
        s.cli("admin", "user", "create", "--tenant", slug, "--login-id", f"{slug}-user", "--email", f"user@{slug}.test")
    s.super_token = s.token("--super-admin")
    s.acme_admin = s.token("--tenant", "acme")
    s.acme_scim = s.token("--tenant", "acme", scopes="scim")
    s.beta_scim = s.token("--tenant", "beta", scopes="scim")
    yield s
    s.stop()
