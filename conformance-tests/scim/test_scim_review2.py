"""What the second outside review of the SCIM server found, each with the honest request
next to the hostile one: `add` of a second address keeps the primary (where the
certificate mails go); many writers at once all get through; the base without a tenant
and an unreadable query answer SCIM JSON; long URNs are quoted whole; a document must
name its schema; a name part's refusal names the part, and clearing one is audited.
"""

import threading
import uuid

from conftest import ScimServer
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
    # A second home address is ignored as a second work one is; as the primary it is refused.
    answer = http.patch(url, json=patch_body({"op": "add", "path": "emails", "value": [{"value": "h@x.test", "type": "home"}]}))
    assert answer.status_code == 200 and [e["value"] for e in answer.json()["emails"]] == [primary], answer.text
    refused = http.patch(url, json=patch_body({"op": "add", "path": "emails", "value": [{"value": "h@x.test", "type": "home", "primary": True}]}))
    is_scim_error(refused, 400, "invalidValue")
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
    # (The enterprise extension's attributes are accepted and ignored in a PATCH; a schema
    # Mamori does not know is refused, and named whole.)
    unknown = "urn:example:params:scim:schemas:extension:acme-corporation:2.0:User:costCenter"
    refused = http.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": unknown, "value": "x"}))
    is_scim_error(refused, 400)
    assert unknown in refused.json()["detail"], refused.text


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


# The third outside review ---------------------------------------------------------------

def test_user_names_beyond_ascii_are_found_as_directories_look_them_up(server):
    http = server.http("acme", server.acme_scim)
    tag = uuid.uuid4().hex[:6]
    for n, name in enumerate([f"Øyvind-{tag}", f"Élodie.Dupré-{tag}"]):
        create(http, name, emails=[{"value": f"u{n}-{tag}@acme.test", "type": "work"}])
        for asked in [name, name.lower(), name.upper()]:
            found = http.get("/Users", params={"filter": f'userName eq "{asked}"'}).json()
            assert [r["userName"] for r in found["Resources"]] == [name], (asked, found)
        found = http.get("/Users", params={"filter": f'displayName eq "{name.lower()}"'}).json()
        assert found["totalResults"] == 1, (name, found)
        found = http.get("/Users", params={"filter": f'userName sw "{name[:3]}" and userName ew "{tag}"'}).json()
        assert found["totalResults"] == 1, (name, found)
        # The uniqueness check and the filter agree: the other case is the same user.
        is_scim_error(http.post("/Users", json={"schemas": [CORE], "userName": name.lower(), "emails": [{"value": "x@acme.test"}]}),
                      409, "uniqueness")


def test_value_filters_apply_to_multi_valued_attributes_only(server):
    http = server.http("acme", server.acme_scim)
    user = create(http, unique("vf"), externalId="ext-kept")
    url = f"/Users/{user['id']}"
    for path in ['externalId[value eq "nomatch"]', 'displayName[value eq "x"]', 'displayName[bogus pr]', 'emails[bogusattr eq "x"]']:
        op = "remove" if path.startswith("externalId") else "replace"
        is_scim_error(http.patch(url, json=patch_body({"op": op, "path": path, "value": "y"})), 400, "invalidPath")
    assert http.get(url).json()["externalId"] == "ext-kept", "nothing removed"


def test_primary_flags_and_second_addresses_are_checked(server):
    http = server.http("acme", server.acme_scim)
    login_id = unique("pr")
    user = create(http, login_id)
    url = f"/Users/{user['id']}"
    for primary in ["true", 1, "no", {}]:
        emails = [{"value": f"first-{login_id}@acme.test", "primary": primary}, {"value": f"second-{login_id}@acme.test", "primary": True}]
        is_scim_error(http.patch(url, json=patch_body({"op": "replace", "path": "emails", "value": emails})), 400, "invalidValue")
    for bad in ["bad", "x y@example.com", ""]:
        is_scim_error(http.patch(url, json=patch_body({"op": "add", "path": "emails", "value": [{"value": bad}]})), 400, "invalidValue")
    assert [e["value"] for e in http.get(url).json()["emails"]] == [f"{login_id}@acme.test"], "nothing changed"
    refused = http.post("/Users", json={"schemas": [CORE], "userName": unique("pr2"),
                                        "emails": [{"value": "ok@acme.test", "primary": True}, {"value": "not-an-address"}]})
    is_scim_error(refused, 400, "invalidValue")


def test_doubled_parameters_and_members_are_refused_everywhere(server):
    http = server.http("acme", server.acme_scim)
    user = create(http, unique("dup"), displayName="Before")
    url = f"/Users/{user['id']}"
    is_scim_error(http.get(f"{url}?attributes=userName&attributes=id"), 400, "invalidValue")
    refused = http.patch(f"{url}?attributes=userName&attributes=id", json=patch_body({"op": "replace", "path": "displayName", "value": "After"}))
    is_scim_error(refused, 400, "invalidValue")
    assert http.get(url).json()["displayName"] == "Before", "the refused PATCH wrote nothing"
    # Attribute names ignore case (RFC 7643 §2.1): a member named twice has no one meaning.
    twice = b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "dup-a", "UserName": "dup-b", "emails": [{"value": "d@acme.test"}]}'
    is_scim_error(http.post("/Users", content=twice, headers={"content-type": SCIM_JSON}), 400, "invalidSyntax")
    body = b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": true, "ACTIVE": false}}]}'
    is_scim_error(http.patch(url, content=body, headers={"content-type": SCIM_JSON}), 400, "invalidSyntax")
    assert http.get(url).json()["active"] is True


def test_names_are_refused_by_the_name_that_was_sent(server):
    http = server.http("acme", server.acme_scim)
    long_pair = {"givenName": "g" * 150, "familyName": "f" * 100}
    refused = http.post("/Users", json={"schemas": [CORE], "userName": unique("nm"), "name": long_pair, "emails": [{"value": "n@acme.test"}]})
    is_scim_error(refused, 400, "invalidValue")
    assert "displayName is missing" in refused.json()["detail"], refused.text
    # With a displayName the same parts are kept as sent.
    kept = create(http, unique("nm2"), displayName="Short", name=long_pair)
    assert kept["name"] == long_pair
    refused = http.post("/Users", json={"schemas": [CORE], "userName": unique("nm3"), "name": {"familyName": "a\u200bb"},
                                        "emails": [{"value": "n@acme.test"}]})
    is_scim_error(refused, 400, "invalidValue")
    assert "name.familyName" in refused.json()["detail"] and "display_name" not in refused.json()["detail"], refused.text


def test_a_throttled_source_is_told_when_to_retry_and_valid_tokens_keep_working():
    # An installation of its own: the shared one's other tests send bad tokens on purpose.
    server = ScimServer()
    try:
        server.cli("admin", "tenant", "create", "--slug", "acme", "--name", "Acme")
        good = server.http("acme", server.token("--tenant", "acme", scopes="scim"))
        bad = server.http("acme", "mamori_at_" + "x" * 43)
        # 20 failures a minute from one address (fixed windows: a window may end midway).
        answers = []
        while len(answers) < 100 and (not answers or answers[-1].status_code != 429):
            answers.append(bad.get("/Users"))
        assert sum(a.status_code == 401 for a in answers) >= 20, [a.status_code for a in answers]
        throttled = answers[-1]
        is_scim_error(throttled, 429)
        assert int(throttled.headers["retry-after"]) > 0, throttled.headers
        # A connector with a valid token behind the same address is not stopped.
        assert good.get("/Users").status_code == 200
    finally:
        server.stop()


def test_a_user_is_read_under_its_id_as_served_only(server):
    http = server.http("acme", server.acme_scim)
    user = create(http, unique("idf"))
    uid = user["id"]
    assert http.get(f"/Users/{uid}").status_code == 200
    # id is caseExact: other spellings name no user, as `filter=id eq` agrees.
    for other in [uid.upper(), "{" + uid + "}", uid.replace("-", ""), f"urn:uuid:{uid}"]:
        is_scim_error(http.get(f"/Users/{other}"), 404)
        assert http.get("/Users", params={"filter": f'id eq "{other}"'}).json()["totalResults"] == 0


def test_discovery_takes_no_filter(server):
    http = server.http("acme", server.acme_scim)
    for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"]:
        assert http.get(path).status_code == 200
        is_scim_error(http.get(path, params={"filter": 'id eq "User"'}), 403)


# The fourth outside review --------------------------------------------------------------

def test_entra_default_mappings_patch_without_failing(server):
    http = server.http("acme", server.acme_scim)
    user = create(http, unique("entra"), displayName="Kept")
    url = f"/Users/{user['id']}"
    # What Entra ID's default attribute mappings send; Mamori keeps none of these.
    answer = http.patch(url, json=patch_body(
        {"op": "Replace", "path": "title", "value": "Engineer"},
        {"op": "Replace", "path": "name.formatted", "value": "Kept Person"},
        {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+81 3 0000 0000"},
        {"op": "Replace", "path": 'addresses[type eq "work"].locality', "value": "Tokyo"},
        {"op": "Replace", "path": "preferredLanguage", "value": "ja-JP"},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "R&D"},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "7"},
        {"op": "Replace", "path": "displayName", "value": "Changed"},
    ))
    assert answer.status_code == 200 and answer.json()["displayName"] == "Changed", answer.text
    assert "title" not in answer.json() and ENTERPRISE not in answer.json()


def test_typed_path_filters_and_one_spelling_per_attribute(server):
    http = server.http("acme", server.acme_scim)
    login_id = unique("typ")
    user = create(http, login_id)
    url = f"/Users/{user['id']}"
    for path in ["emails[value ne null].value", 'emails[primary ne "true"].value']:
        is_scim_error(http.patch(url, json=patch_body({"op": "replace", "path": path, "value": "x@acme.test"})), 400, "invalidFilter")
    twice = {"active": True, "urn:ietf:params:scim:schemas:core:2.0:User:active": False}
    is_scim_error(http.patch(url, json=patch_body({"op": "replace", "value": twice})), 400, "invalidSyntax")
    assert http.get(url).json()["active"] is True and http.get(url).json()["emails"][0]["value"] == f"{login_id}@acme.test"
    qualified = {"schemas": [CORE], "userName": unique("typ2"), "emails": [{"value": "q@acme.test"}],
                 "urn:ietf:params:scim:schemas:core:2.0:User:active": False}
    is_scim_error(http.post("/Users", json=qualified), 400, "invalidSyntax")


def test_parameters_are_read_as_named_and_once(server):
    http = server.http("acme", server.acme_scim)
    login_id = unique("prm")
    user = create(http, login_id)
    url = f"/Users/{user['id']}"
    # Parameter names ignore case: FILTER filters, it never lists the whole tenant.
    found = http.get(f'/Users?FILTER=userName%20eq%20%22{login_id}%22').json()
    assert [r["id"] for r in found["Resources"]] == [user["id"]], found
    is_scim_error(http.get(f'/Users?filter=userName%20eq%20%22{login_id}%22&Filter=active%20eq%20true'), 400, "invalidFilter")
    is_scim_error(http.get("/Users?filter="), 400, "invalidFilter")
    is_scim_error(http.delete(f"{url}?attributes=a&attributes=b"), 400, "invalidValue")
    assert http.get(url).status_code == 200, "the refused DELETE deleted nothing"
    is_scim_error(http.get("/Schemas?attributes=a&attributes=b"), 400, "invalidValue")
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": f'userName eq "{login_id}"'}
    is_scim_error(http.post("/Users/.search?filter=active%20eq%20true", json=search), 400, "invalidValue")
    for odd in [{"count": 2.0}, {"startIndex": 2.9}, {"count": "2"}]:
        is_scim_error(http.post("/Users/.search", json={**search, **odd}), 400, "invalidValue")
    assert http.post("/Users/.search", json={**search, "count": 2}).json()["totalResults"] == 1


def test_writes_take_no_filter_and_name_parts_are_named_once(server):
    http = server.http("acme", server.acme_scim)
    user = create(http, unique("wf"), displayName="Before")
    url = f"/Users/{user['id']}"
    refused = http.patch(f"{url}?filter=userName%20eq%20%22nobody%22", json=patch_body({"op": "replace", "path": "displayName", "value": "After"}))
    is_scim_error(refused, 400, "invalidFilter")
    is_scim_error(http.post("/Users?filter=x", json={"schemas": [CORE], "userName": unique("wf2"), "emails": [{"value": "w@acme.test"}]}),
                  400, "invalidFilter")
    assert http.get(url).json()["displayName"] == "Before"
    twice = {"name": {"givenName": "A"}, "name.givenName": "B"}
    is_scim_error(http.patch(url, json=patch_body({"op": "replace", "value": twice})), 400, "invalidSyntax")
