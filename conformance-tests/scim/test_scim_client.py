"""A directory's life cycle of one user, driven by scim2-client (PyPI, python-scim):
create → patch → deactivate → delete, each effect checked where Mamori shows it (the
admin API, the audit trail, the certificate's status); then filters, ETags, errors in
SCIM's format, and tenant isolation between two tenants' tokens.
"""

import uuid

import pytest
from scim2_client import SCIMClientException
from scim2_models import PatchOp, PatchOperation, SCIMException

SCIM_JSON = "application/scim+json"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def is_scim_error(response, status, scim_type=None):
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith(SCIM_JSON), response.headers
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status) and body["detail"], body
    if scim_type:
        assert body.get("scimType") == scim_type, body
    return body


def admin_user(server, login_id):
    return server.call("GET", f"/tenants/acme/users/{login_id}", token=server.acme_admin)


def new_user(client, login_id, email, display_name=None):
    User = client.get_resource_model("User")
    data = {"userName": login_id, "emails": [{"value": email}]}
    if display_name:
        data["displayName"] = display_name
    return client.create(User.model_validate(data))


def test_create_patch_deactivate_delete_with_their_effects(server):
    client = server.scim_client("acme", server.acme_scim)
    User = client.get_resource_model("User")
    login_id = f"scim-{uuid.uuid4().hex[:8]}"

    created = new_user(client, login_id, f"{login_id}@acme.test", "Scim Person")
    assert created.id and created.user_name == login_id and created.active is True
    seen = admin_user(server, login_id).json()
    assert seen["id"] == created.id and seen["display_name"] == "Scim Person" and seen["status"] == "active"
    devices = server.call("GET", f"/tenants/acme/users/{login_id}/devices", token=server.acme_admin).json()
    assert [d["email"] for d in devices] == [f"{login_id}@acme.test"]

    # PATCH: a new display name and address, as Entra ID sends them.
    patched = client.modify(User, created.id, PatchOp[User](operations=[
        PatchOperation(op=PatchOperation.Op.replace_, path="displayName", value="Renamed Person"),
        PatchOperation(op=PatchOperation.Op.replace_, path='emails[type eq "work"].value', value=f"new-{login_id}@acme.test"),
    ]))
    assert patched.display_name == "Renamed Person" and patched.emails[0].value == f"new-{login_id}@acme.test"
    assert admin_user(server, login_id).json()["display_name"] == "Renamed Person"
    devices = server.call("GET", f"/tenants/acme/users/{login_id}/devices", token=server.acme_admin).json()
    assert [d["email"] for d in devices] == [f"new-{login_id}@acme.test"]

    # A certificate, so that the deletion has something to revoke.
    pw = server.data / f"{login_id}.pw"
    pw.write_text("p12-password")
    server.cli("admin", "user", "issue-cert", "--tenant", "acme", "--login-id", login_id, "--p12", str(server.data / f"{login_id}.p12"), "--password-file", str(pw))
    certs = server.call("GET", f"/tenants/acme/users/{login_id}/certificates", token=server.acme_admin).json()
    assert len(certs) == 1 and certs[0]["status"] == "active"
    serial = certs[0]["serial"]

    # Deactivate: the account is disabled (its sessions and tokens ended by the same call
    # the admin API's disable makes).
    deactivated = client.modify(User, created.id, PatchOp[User](operations=[PatchOperation(op=PatchOperation.Op.replace_, path="active", value=False)]))
    assert deactivated.active is False
    assert admin_user(server, login_id).json()["status"] == "disabled"
    # An enrollment ticket, the way in for a new user, is refused for a disabled account.
    refused = server.call("POST", f"/tenants/acme/users/{login_id}/enrollment-ticket", token=server.acme_admin, json={})
    assert refused.status_code == 409, refused.text

    # Delete: the user is gone and their certificate revoked.
    client.delete(User, created.id)
    assert admin_user(server, login_id).status_code == 404
    with pytest.raises((SCIMClientException, SCIMException)):
        client.query(User, created.id)
    cert = server.call("GET", f"/tenants/acme/certificates/{serial}", token=server.acme_admin)
    assert cert.status_code == 404 or cert.json()["status"] == "revoked", cert.text

    # Every change is in the audit trail, with the SCIM token as the actor.
    trail = server.call("GET", "/tenants/acme/audit-events", token=server.acme_admin, params={"limit": 200}).json()["items"]
    mine = [e for e in trail if e["target"] == f"tenant:acme/user:{login_id}"]
    actions = {e["action"] for e in mine if e["actor"].startswith("token:")}
    assert {"user.create", "user.update", "user.device-email", "user.disable", "user.delete"} <= actions, actions
    assert len({e["actor"] for e in mine if e["action"] != "user.issue-certificate"}) == 1, "one actor: the SCIM token"


def test_filters_and_paging(server):
    client = server.scim_client("acme", server.acme_scim)
    http = server.http("acme", server.acme_scim)
    tag = uuid.uuid4().hex[:6]
    for n in range(3):
        new_user(client, f"page-{tag}-{n}", f"page-{tag}-{n}@acme.test")
    found = http.get("/Users", params={"filter": f'userName eq "PAGE-{tag}-1"'}).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["userName"] == f"page-{tag}-1"
    by_mail = http.get("/Users", params={"filter": f'emails.value eq "page-{tag}-2@acme.test"'}).json()
    assert [r["userName"] for r in by_mail["Resources"]] == [f"page-{tag}-2"]
    by_mail = http.get("/Users", params={"filter": f'emails eq "page-{tag}-2@acme.test"'}).json()
    assert by_mail["totalResults"] == 1
    pages = http.get("/Users", params={"filter": f'userName sw "page-{tag}"', "startIndex": 2, "count": 1, "attributes": "userName"}).json()
    assert pages["totalResults"] == 3 and pages["startIndex"] == 2 and pages["itemsPerPage"] == 1
    assert set(pages["Resources"][0]) == {"schemas", "id", "userName"}
    none = http.get("/Users", params={"filter": 'userName eq "nobody-at-all"'}).json()
    assert none["totalResults"] == 0 and none["Resources"] == []
    # Filters Mamori cannot evaluate are refused, never answered as if empty.
    for bad in ['password eq "x"', 'userName eq', 'userName eq "a" or', "(" * 40 + 'userName eq "a"' + ")" * 40, 'userName eq "a" ' + 'or userName eq "a" ' * 40]:
        is_scim_error(http.get("/Users", params={"filter": bad}), 400, "invalidFilter")
    searched = http.post("/Users/.search", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": f'userName eq "page-{tag}-0"'})
    assert searched.status_code == 200 and searched.json()["totalResults"] == 1, searched.text


def test_external_id_is_kept_as_entra_id_uses_it(server):
    http = server.http("acme", server.acme_scim)
    login_id = f"entra-{uuid.uuid4().hex[:8]}"
    external = str(uuid.uuid4())
    created = http.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": login_id,
                                        "externalId": external, "emails": [{"value": f"{login_id}@acme.test", "type": "work", "primary": True}]})
    assert created.status_code == 201, created.text
    assert created.json()["externalId"] == external and created.headers["location"].endswith(created.json()["id"])
    found = http.get("/Users", params={"filter": f'externalId eq "{external}"'}).json()
    assert [r["userName"] for r in found["Resources"]] == [login_id]
    uid = created.json()["id"]
    cleared = http.patch(f"/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "remove", "path": "externalId"}]})
    assert cleared.status_code == 200 and "externalId" not in cleared.json()
    too_long = http.patch(f"/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "add", "path": "externalId", "value": "x" * 256}]})
    is_scim_error(too_long, 400, "invalidValue")
    refused = http.post("/Users", json={"schemas": [CORE], "userName": f"{login_id}-2", "externalId": "x" * 256, "emails": [{"value": "b@acme.test"}]})
    is_scim_error(refused, 400, "invalidValue")
    assert admin_user(server, f"{login_id}-2").status_code == 404, "a refused creation leaves no user behind"
    control = http.patch(f"/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "add", "path": "externalId", "value": "a\u0000b"}]})
    is_scim_error(control, 400, "invalidValue")


def test_etags_guard_concurrent_changes(server):
    client = server.scim_client("acme", server.acme_scim)
    http = server.http("acme", server.acme_scim)
    user = new_user(client, f"etag-{uuid.uuid4().hex[:8]}", "etag@acme.test")
    got = http.get(f"/Users/{user.id}")
    etag = got.headers["etag"]
    assert etag == got.json()["meta"]["version"]
    assert http.get(f"/Users/{user.id}", headers={"If-None-Match": etag}).status_code == 304
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "First"}]}
    first = http.patch(f"/Users/{user.id}", json=patch, headers={"If-Match": etag})
    assert first.status_code == 200 and first.headers["etag"] != etag
    # A second writer holding the old version is refused, and nothing changes.
    patch["Operations"][0]["value"] = "Second"
    is_scim_error(http.patch(f"/Users/{user.id}", json=patch, headers={"If-Match": etag}), 412)
    is_scim_error(http.delete(f"/Users/{user.id}", headers={"If-Match": etag}), 412)
    assert http.get(f"/Users/{user.id}").json()["displayName"] == "First"


def test_errors_are_scim_errors(server):
    http = server.http("acme", server.acme_scim)
    is_scim_error(http.post("/Users", content=b"{not json", headers={"content-type": SCIM_JSON}), 400, "invalidSyntax")
    is_scim_error(http.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "no-mail"}), 400, "invalidValue")
    # RFC 7643 §3: a resource names its schemas; a body without them is not a User.
    is_scim_error(http.post("/Users", json={"userName": "no-schemas", "emails": [{"value": "a@acme.test"}]}), 400, "invalidSyntax")
    is_scim_error(http.put(f"/Users/{admin_user(server, 'acme-user').json()['id']}", json={"userName": "acme-user"}), 400, "invalidSyntax")
    is_scim_error(http.post("/Users", json={"schemas": [CORE], "userName": "bad user", "emails": [{"value": "a@acme.test"}]}), 400, "invalidValue")
    is_scim_error(http.post("/Users", json={"schemas": [CORE], "userName": "acme-user", "emails": [{"value": "a@acme.test"}]}), 409, "uniqueness")
    is_scim_error(http.post("/Users", json={"schemas": [CORE], "userName": "x" * 65, "emails": [{"value": "a@acme.test"}]}), 400, "invalidValue")
    is_scim_error(http.post("/Users", json={"schemas": [CORE], "userName": "pw", "password": "hunter2", "emails": [{"value": "a@acme.test"}]}), 400, "invalidValue")
    uid = admin_user(server, "acme-user").json()["id"]
    is_scim_error(http.patch(f"/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": "userName", "value": "other"}]}), 400, "mutability")
    is_scim_error(http.patch(f"/Users/{uid}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": "nickNameX", "value": "x"}]}), 400, "invalidPath")
    is_scim_error(http.get("/Users/not-a-uuid"), 404)
    is_scim_error(http.get(f"/Users/{uuid.uuid4()}"), 404)
    is_scim_error(http.get("/Groups"), 404)
    is_scim_error(http.post("/Bulk", json={}), 501)
    is_scim_error(http.delete("/Users"), 405)
    is_scim_error(http.post("/Users", content=b"x" * (300 * 1024), headers={"content-type": SCIM_JSON}), 413)


def test_tokens_and_tenant_isolation(server):
    acme_id = admin_user(server, "acme-user").json()["id"]
    # No token, a wrong one, one without the scim scope: refused in SCIM's format.
    is_scim_error(server.http("acme", None).get("/Users"), 401)
    is_scim_error(server.http("acme", "mamori_at_" + "x" * 43).get("/ServiceProviderConfig"), 401)
    is_scim_error(server.http("acme", server.acme_admin).get("/Users"), 403)
    # A scim-only token cannot use the admin API.
    assert server.call("GET", "/tenants/acme/users", token=server.acme_scim).status_code == 403
    # Tenant beta's token sees nothing of acme: not its endpoints, not its users by id.
    beta_on_acme = server.http("acme", server.beta_scim)
    for path in ("/Users", f"/Users/{acme_id}", "/ServiceProviderConfig", "/Schemas"):
        is_scim_error(beta_on_acme.get(path), 404)
    is_scim_error(beta_on_acme.delete(f"/Users/{acme_id}"), 404)
    beta = server.http("beta", server.beta_scim)
    is_scim_error(beta.get(f"/Users/{acme_id}"), 404)
    is_scim_error(beta.patch(f"/Users/{acme_id}", json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}), 404)
    listed = beta.get("/Users", params={"filter": 'userName eq "acme-user"'}).json()
    assert listed["totalResults"] == 0
    everyone = beta.get("/Users").json()
    assert [r["userName"] for r in everyone["Resources"]] == ["beta-user"]
    assert admin_user(server, "acme-user").json()["status"] == "active"
    # Each refusal of a known token is on the trail, as the admin API's are.
    trail = server.call("GET", "/tenants/beta/audit-events?action=api.refused&limit=500", token=server.super_token).json()["items"]
    tried = {e["target"] for e in trail}
    assert f"DELETE /scim/v2/t/acme/Users/{acme_id}" in tried and f"PATCH /scim/v2/t/beta/Users/{acme_id}" in tried, trail


def test_a_directory_cannot_touch_a_super_admin_living_in_its_tenant(server):
    """The admin API's rule holds over SCIM too: a tenant's token may not disable,
    change or delete a user whose operator role reaches wider than the tenant."""
    login_id = f"root-{uuid.uuid4().hex[:8]}"
    server.cli("admin", "user", "create", "--tenant", "acme", "--login-id", login_id, "--email", f"{login_id}@acme.test")
    server.cli("admin", "operator", "grant", "--tenant", "acme", "--login-id", login_id, "--role", "super-admin")
    uid = admin_user(server, login_id).json()["id"]
    http = server.http("acme", server.acme_scim)
    assert http.get(f"/Users/{uid}").status_code == 200, "reading is allowed"
    deactivate = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    is_scim_error(http.patch(f"/Users/{uid}", json=deactivate), 403)
    is_scim_error(http.delete(f"/Users/{uid}"), 403)
    assert admin_user(server, login_id).json()["status"] == "active"
    trail = server.call("GET", "/tenants/acme/audit-events", token=server.acme_admin, params={"limit": 50}).json()["items"]
    refused = [e for e in trail if e["target"] == f"tenant:acme/user:{login_id}" and e["outcome"] == "failure"]
    assert {e["action"] for e in refused} >= {"user.disable", "user.delete"}, refused


def test_a_replace_that_leaves_out_active_does_not_enable_a_disabled_account(server):
    http = server.http("acme", server.acme_scim)
    login_id = f"scim-{uuid.uuid4().hex[:8]}"
    core = "urn:ietf:params:scim:schemas:core:2.0:User"
    created = http.post("/Users", json={"schemas": [core], "userName": login_id, "emails": [{"value": f"{login_id}@acme.test"}], "active": False})
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    # A directory that does not map `active` replaces the user without it.
    replaced = http.put(f"/Users/{user_id}", json={"schemas": [core], "userName": login_id, "emails": [{"value": f"{login_id}@acme.test"}]})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["active"] is False, replaced.text
    assert admin_user(server, login_id).json()["status"] == "disabled"
    # Said out loud, it does.
    replaced = http.put(f"/Users/{user_id}", json={"schemas": [core], "userName": login_id, "emails": [{"value": f"{login_id}@acme.test"}], "active": True})
    assert replaced.status_code == 200 and replaced.json()["active"] is True, replaced.text
