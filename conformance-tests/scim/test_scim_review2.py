"""What the second outside review of the SCIM server found, each with the honest request
next to the hostile one: `add` of a second address keeps the primary (where the
certificate mails go); many writers at once all get through; the base without a tenant
and an unreadable query answer SCIM JSON; long URNs are quoted whole; a document must
name its schema; a name part's refusal names the part, and clearing one is audited.
"""

import threading
import uuid

from test_scim_client import SCIM_JSON, is_scim_error
from test_scim_consistency import CORE, create, patch_body

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def first_device_email(server, login_id):
    devices = server.call("GET", f"/tenants/acme/users/{login_id}/devices", token=server.acme_admin).json()
    return min((d for d in devices if not d.get("deleted_at")), key=lambda d: d["device_no"])["email"]


def test_adding_a_second_address_keeps_the_primary(server):
    http = server.http("acme", server.acme_scim)
    login_id = unique("f1")
    user = create(http, login_id)
    url = f"/Users/{user['id']}"
    primary = f"{login_id}@acme.test"
    # RFC 7644 §3.5.2.1: add to a multi-valued attribute adds a value; Mamori keeps one
    # address, so the added, non-primary one is ignored (docs/scim.md, "E-mail types").
    for operation in [
        {"op": "add", "path": "emails", "value": [{"value": "second@acme.test", "type": "work"}]},
        {"op": "add", "path": "emails", "value": [{"value": "second@acme.test", "type": "work", "primary": False}]},
        {"op": "add", "value": {"emails": [{"value": "second@acme.test"}]}},
    ]:
        answer = http.patch(url, json=patch_body(operation))
        assert answer.status_code == 200, answer.text
        assert [e["value"] for e in answer.json()["emails"]] == [primary], operation
        assert first_device_email(server, login_id) == primary, "the certificate mails still go to the primary"
    # A home address is still refused, not kept or ignored in silence.
    is_scim_error(http.patch(url, json=patch_body({"op": "add", "path": "emails", "value": [{"value": "h@x.test", "type": "home"}]})),
                  400, "invalidValue")
    # An added address marked primary is the new primary (RFC 7643 §2.4).
    answer = http.patch(url, json=patch_body({"op": "add", "path": "emails", "value": [{"value": "new@acme.test", "type": "work", "primary": True}]}))
    assert answer.status_code == 200 and answer.json()["emails"][0]["value"] == "new@acme.test", answer.text
    assert first_device_email(server, login_id) == "new@acme.test"
    # replace sets the list: its address is kept.
    answer = http.patch(url, json=patch_body({"op": "replace", "path": "emails", "value": [{"value": primary, "type": "work"}]}))
    assert answer.status_code == 200 and answer.json()["emails"][0]["value"] == primary, answer.text


def test_eight_writers_at_once_all_get_through(server):
    http = server.http("acme", server.acme_scim)
    user = create(http, unique("w8"))
    writers = [f"Writer-{n}" for n in range(8)]
    barrier = threading.Barrier(len(writers))
    answers = {}

    def write(name):
        client = server.http("acme", server.acme_scim)
        barrier.wait()
        answers[name] = client.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "displayName", "value": name}))

    threads = [threading.Thread(target=write, args=(n,)) for n in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, answer in answers.items():
        assert answer.status_code == 200, f"{name}: {answer.status_code} {answer.text}"
        assert answer.json()["displayName"] == name
    assert http.get(f"/Users/{user['id']}").json()["displayName"] in writers


def test_paths_outside_a_tenant_and_unreadable_queries_answer_scim_json(server):
    http = server.http("acme", server.acme_scim)
    base = server.scim_url("acme").rsplit("/t/", 1)[0]
    for path in ["", "/", "/Users", "/ServiceProviderConfig", "/t/", "/t"]:
        answer = http.get(base + path)
        is_scim_error(answer, 404)
        assert "/scim/v2/t/" in answer.json()["detail"], answer.text
    # %FF is no UTF-8: read lossily it would search for U+FFFD instead.
    is_scim_error(http.get("/Users?filter=userName%20eq%20%22%FF%22"), 400, "invalidSyntax")
    is_scim_error(http.get("/Users?attributes=%C3"), 400, "invalidSyntax")
    honest = http.get("/Users?filter=userName%20eq%20%22%E3%81%82%22")
    assert honest.status_code == 200 and honest.json()["totalResults"] == 0, honest.text


def test_long_urns_are_quoted_whole(server):
    http = server.http("acme", server.acme_scim)
    path = f"{ENTERPRISE}:manager.value"
    answer = http.get("/Users", params={"filter": f'{path} eq "x"'})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith(SCIM_JSON), answer.text
    assert ENTERPRISE in answer.json()["detail"], answer.text
    user = create(http, unique("urn"))
    refused = http.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": f"{ENTERPRISE}:costCenter", "value": "x"}))
    is_scim_error(refused, 400)
    assert f"{ENTERPRISE}:costCenter" in refused.json()["detail"], refused.text


def test_a_document_must_name_its_schema(server):
    http = server.http("acme", server.acme_scim)
    login_id = unique("sch")
    is_scim_error(http.post("/Users", json={"userName": login_id, "emails": [{"value": "a@acme.test"}]}), 400, "invalidSyntax")
    assert http.get("/Users", params={"filter": f'userName eq "{login_id}"'}).json()["totalResults"] == 0, "nothing created"
    user = create(http, login_id)
    is_scim_error(http.put(f"/Users/{user['id']}", json={"userName": login_id, "displayName": "X", "emails": user["emails"]}), 400,
                  "invalidSyntax")
    assert http.get(f"/Users/{user['id']}").json()["displayName"] != "X", "nothing replaced"


def test_name_parts_are_named_in_refusals_and_clearing_is_audited(server):
    http = server.http("acme", server.acme_scim)
    login_id = unique("np")
    user = create(http, login_id, name={"givenName": "Given", "familyName": "Family"})
    url = f"/Users/{user['id']}"
    refused = http.patch(url, json=patch_body({"op": "replace", "path": "name.givenName", "value": "x" * 201}))
    is_scim_error(refused, 400)
    assert "given_name" in refused.json()["detail"] and "display_name" not in refused.json()["detail"], refused.text
    refused = http.patch(url, json=patch_body({"op": "replace", "path": "name.familyName", "value": "a\u200bb"}))
    assert "family_name" in refused.json()["detail"], refused.text
    cleared = http.patch(url, json=patch_body({"op": "remove", "path": "name.givenName"}))
    assert cleared.status_code == 200 and cleared.json()["name"] == {"familyName": "Family"}, cleared.text
    trail = server.call("GET", "/tenants/acme/audit-events", token=server.acme_admin, params={"limit": 100}).json()["items"]
    updates = [e for e in trail if e["target"] == f"tenant:acme/user:{login_id}" and e["action"] == "user.update"]
    assert any(e["details"].get("cleared") == ["given_name"] for e in updates), updates


def test_a_directory_cannot_move_an_operators_address(server):
    http = server.http("acme", server.acme_scim)
    login_id = unique("op")
    user = create(http, login_id)
    server.cli("admin", "operator", "grant", "--tenant", "acme", "--login-id", login_id, "--role", "tenant-admin")
    url = f"/Users/{user['id']}"
    # The reissue mails follow the address: a connector's token must not redirect them.
    refused = http.patch(url, json=patch_body({"op": "replace", "path": "emails[type eq \"work\"].value", "value": "thief@evil.test"}))
    is_scim_error(refused, 403)
    assert first_device_email(server, login_id) == f"{login_id}@acme.test"
    refused = http.put(url, json={"schemas": [CORE], "userName": login_id, "displayName": "Kept?", "emails": [{"value": "thief@evil.test"}]})
    is_scim_error(refused, 403)
    assert http.get(url).json()["displayName"] != "Kept?", "all or nothing"
    # Other values, and deprovisioning, stay with the directory.
    answer = http.patch(url, json=patch_body({"op": "replace", "path": "displayName", "value": "Renamed Operator"}))
    assert answer.status_code == 200, answer.text
    answer = http.patch(url, json=patch_body({"op": "replace", "path": "active", "value": False}))
    assert answer.status_code == 200 and answer.json()["active"] is False, answer.text
    trail = server.call("GET", "/tenants/acme/audit-events", token=server.acme_admin, params={"limit": 100}).json()["items"]
    assert any(e["target"] == f"tenant:acme/user:{login_id}" and e["details"].get("reason") == "target-is-operator" for e in trail), trail
