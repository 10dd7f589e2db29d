#!/usr/bin/python3
"""Writes the seed corpus of the sp_metadata fuzz target from real service-provider
libraries: the SP metadata python3-saml (OneLogin) and pysaml2 publish, as an
administrator would upload it (mamori_saml_wire::metadata).

  /usr/bin/python3 idp/fuzz/make_metadata_seeds.py   # needs python3-onelogin-saml2, python3-pysaml2

Keys are generated on each run, so the files differ between runs; commit them once.
"""

import os
import subprocess
import tempfile

from onelogin.saml2.settings import OneLogin_Saml2_Settings
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "sp_metadata")
SP = "https://sp.example"


def keypair(tmp, name):
    key, cert = os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "3650", "-subj", "/CN=" + name], check=True, capture_output=True)
    return key, cert


def body(path):
    return "".join(l for l in open(path).read().splitlines() if "-----" not in l)


def onelogin(key, cert, acs):
    settings = OneLogin_Saml2_Settings({
        "strict": True,
        "sp": {"entityId": f"{SP}/onelogin/metadata",
               "assertionConsumerService": {"url": acs, "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
               "singleLogoutService": {"url": f"{SP}/onelogin/sls", "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
               "NameIDFormat": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
               "x509cert": body(cert), "privateKey": body(key),
               "attributeConsumingService": {"serviceName": "App", "requestedAttributes": [
                   {"name": "urn:oid:0.9.2342.19200300.100.1.3", "friendlyName": "mail", "isRequired": True}]}},
        "idp": {"entityId": "https://idp.example/t/demo/saml/metadata",
                "singleSignOnService": {"url": "https://idp.example/t/demo/saml/sso"},
                "x509cert": body(cert)},
        "security": {"authnRequestsSigned": True, "wantAssertionsSigned": True, "signMetadata": False},
    }, sp_validation_only=True)
    return settings.get_sp_metadata()


def pysaml2(tmp, key, cert, enc_key, enc_cert):
    conf = SPConfig()
    conf.load({
        "entityid": f"{SP}/pysaml2/metadata",
        "key_file": key, "cert_file": cert,
        "encryption_keypairs": [{"key_file": enc_key, "cert_file": enc_cert}],
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(f"{SP}/pysaml2/acs/post", BINDING_HTTP_POST),
                                                         (f"http://127.0.0.1:8087/acs/redirect", BINDING_HTTP_REDIRECT)],
                          "single_logout_service": [(f"{SP}/pysaml2/slo", BINDING_HTTP_REDIRECT)]},
            "authn_requests_signed": True, "want_assertions_signed": True,
            "required_attributes": ["mail"], "name_id_format": ["urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"]}},
        "xmlsec_binary": "/usr/bin/xmlsec1",
    })
    return create_metadata_string(None, config=conf, valid=24).decode()


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        key, cert = keypair(tmp, "sp")
        enc_key, enc_cert = keypair(tmp, "sp-enc")
        seeds = {
            "onelogin-sp": onelogin(key, cert, f"{SP}/onelogin/acs"),
            "onelogin-sp-loopback": onelogin(key, cert, "http://localhost:8000/acs"),
            "pysaml2-sp": pysaml2(tmp, key, cert, enc_key, enc_cert),
        }
    for name, text in seeds.items():
        open(os.path.join(OUT, name), "w").write(text if isinstance(text, str) else text.decode())


if __name__ == "__main__":
    main()
