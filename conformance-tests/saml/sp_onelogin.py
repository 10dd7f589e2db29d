#!/usr/bin/python3
"""A service provider on python3-saml (OneLogin), strict mode: signed AuthnRequests over
HTTP-Redirect, wantAssertionsSigned and wantMessagesSigned, schema validation, signed
logout in both directions.

  /usr/bin/python3 sp_onelogin.py --idp-metadata IDP.xml --tls-cert server.pem \
      --tls-key server.key --sp-cert sp.pem --sp-key sp.key --out DIR [--encrypted]

Routes: /metadata, /login?force=1&passive=1&ctx=CLASS&cmp=exact&nameid=FORMAT&relay=X,
/acs, /logout, /slo. Prints `ready https://localhost:PORT` once listening.
"""

import argparse
import copy
import re
import sys

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings

import common


def schema_errors(xml):
    """Why a message does not match the SAML protocol schema (for failure reports)."""
    import os

    from lxml import etree

    import onelogin.saml2

    path = os.path.join(os.path.dirname(onelogin.saml2.__file__), "schemas", "saml-schema-protocol-2.0.xsd")
    schema = etree.XMLSchema(etree.parse(path))
    schema.validate(etree.fromstring(xml.encode() if isinstance(xml, str) else xml))
    return [e.message for e in schema.error_log]


def main():
    p = argparse.ArgumentParser()
    for name in ["idp-metadata", "tls-cert", "tls-key", "sp-cert", "sp-key", "out"]:
        p.add_argument("--" + name, required=True)
    p.add_argument("--encrypted", action="store_true", help="want encrypted assertions; encrypt the NameID of logout requests")
    args = p.parse_args()
    idp = OneLogin_Saml2_IdPMetadataParser.parse(open(args.idp_metadata).read())["idp"]
    sp_cert = open(args.sp_cert).read()
    sp_key = open(args.sp_key).read()
    rec = common.Recorder(args.out)
    state = {"requests": set(), "logout_requests": set(), "session": None}

    def routes(base):
        def settings(overrides=None):
            s = {
                "strict": True,
                "debug": True,
                "sp": {
                    "entityId": f"{base}/metadata",
                    "assertionConsumerService": {"url": f"{base}/acs", "binding": C.BINDING_HTTP_POST},
                    "singleLogoutService": {"url": f"{base}/slo", "binding": C.BINDING_HTTP_REDIRECT},
                    "NameIDFormat": C.NAMEID_PERSISTENT,
                    "x509cert": sp_cert,
                    "privateKey": sp_key,
                    "attributeConsumingService": {
                        "serviceName": "OneLogin test SP",
                        "requestedAttributes": [
                            {"name": "urn:oid:0.9.2342.19200300.100.1.1", "friendlyName": "uid", "isRequired": True},
                            {"name": "urn:oid:0.9.2342.19200300.100.1.3", "friendlyName": "mail", "isRequired": True},
                        ],
                    },
                },
                "idp": copy.deepcopy(idp),
                "security": {
                    "authnRequestsSigned": True,
                    "logoutRequestSigned": True,
                    "logoutResponseSigned": True,
                    "wantMessagesSigned": True,
                    "wantAssertionsSigned": True,
                    "wantAssertionsEncrypted": args.encrypted,
                    "nameIdEncrypted": args.encrypted,
                    "wantNameId": True,
                    "wantXMLValidation": True,
                    "requestedAuthnContext": False,
                    "signatureAlgorithm": C.RSA_SHA256,
                    "digestAlgorithm": C.SHA256,
                    "rejectDeprecatedAlgorithm": True,
                },
            }
            for k, v in (overrides or {}).items():
                s["security"][k] = v
            return s

        def request_data(req):
            return {
                "https": "on",
                "http_host": req.host,
                "script_name": req.path,
                "get_data": req.query,
                "post_data": req.form,
                "query_string": req.query_string,
                "validate_signature_from_qs": True,
            }

        def metadata(req):
            s = OneLogin_Saml2_Settings(settings(), sp_validation_only=True)
            return common.Response(200, s.get_sp_metadata(), "application/samlmetadata+xml")

        def login(req):
            overrides = {}
            if req.query.get("ctx"):
                overrides["requestedAuthnContext"] = req.query["ctx"].split(",")
                overrides["requestedAuthnContextComparison"] = req.query.get("cmp", "exact")
            s = settings(overrides)
            if req.query.get("nameid"):
                s["sp"]["NameIDFormat"] = req.query["nameid"]
            auth = OneLogin_Saml2_Auth(request_data(req), s)
            url = auth.login(
                return_to=req.query.get("relay") or None,
                force_authn=req.query.get("force") == "1",
                is_passive=req.query.get("passive") == "1",
            )
            state["requests"].add(auth.get_last_request_id())
            return common.redirect(url)

        def acs(req):
            xml_file = rec.message("response", req.form.get("SAMLResponse", ""))
            raw = open(xml_file).read()
            m = re.search(r'InResponseTo="([^"]+)"', raw[:2000])
            request_id = m.group(1) if m and m.group(1) in state["requests"] else None
            auth = OneLogin_Saml2_Auth(request_data(req), settings())
            auth.process_response(request_id=request_id)
            errors = auth.get_errors()
            record = {
                "event": "acs",
                "ok": not errors and auth.is_authenticated(),
                "errors": errors,
                "reason": auth.get_last_error_reason(),
                "file": xml_file,
                "in_response_to": request_id,
                "relay_state": req.form.get("RelayState"),
            }
            if "schema" in (record["reason"] or ""):
                record["schema_errors"] = schema_errors(raw)
                last = auth.get_last_response_xml()
                if last and last != raw:
                    record["decrypted_schema_errors"] = schema_errors(last if isinstance(last, str) else last.decode())
            if record["ok"]:
                record.update(
                    nameid=auth.get_nameid(),
                    nameid_format=auth.get_nameid_format(),
                    session_index=auth.get_session_index(),
                    attributes=auth.get_attributes(),
                    friendly_attributes=auth.get_friendlyname_attributes(),
                    authn_contexts=auth.get_last_authn_contexts(),
                )
                state["session"] = {
                    "name_id": auth.get_nameid(),
                    "session_index": auth.get_session_index(),
                    "nq": auth.get_nameid_nq(),
                    "name_id_format": auth.get_nameid_format(),
                    "spnq": auth.get_nameid_spnq(),
                }
            rec.outcome(record)
            return common.result_page(record)

        def logout(req):
            sess = state["session"] or {}
            auth = OneLogin_Saml2_Auth(request_data(req), settings())
            url = auth.logout(
                name_id=sess.get("name_id"),
                session_index=sess.get("session_index"),
                nq=sess.get("nq"),
                name_id_format=sess.get("name_id_format"),
                spnq=sess.get("spnq"),
            )
            state["logout_requests"].add(auth.get_last_request_id())
            rec.outcome({"event": "sent-logout-request", "file": rec.message("sent-logout-request", auth.get_last_request_xml())})
            return common.redirect(url)

        def slo(req):
            kind = "logout-request" if "SAMLRequest" in req.query else "logout-response"
            xml_file = rec.message(kind, req.query.get("SAMLRequest") or req.query.get("SAMLResponse") or "", deflated=True)
            raw = open(xml_file).read()
            m = re.search(r'InResponseTo="([^"]+)"', raw[:2000])
            request_id = m.group(1) if m and m.group(1) in state["logout_requests"] else None
            auth = OneLogin_Saml2_Auth(request_data(req), settings())
            cleared = []
            url = auth.process_slo(request_id=request_id, delete_session_cb=lambda: cleared.append(True))
            errors = auth.get_errors()
            if not errors:
                state["session"] = None
            record = {
                "event": kind,
                "ok": not errors,
                "errors": errors,
                "reason": auth.get_last_error_reason(),
                "file": xml_file,
                "status": re.findall(r'StatusCode Value="([^"]+)"', raw),
                "session_cleared": bool(cleared),
            }
            rec.outcome(record)
            if url:
                return common.redirect(url)
            return common.result_page(record)

        return {"/metadata": metadata, "/login": login, "/acs": acs, "/logout": logout, "/slo": slo}

    common.serve(routes, args.tls_cert, args.tls_key)


if __name__ == "__main__":
    sys.exit(main())
