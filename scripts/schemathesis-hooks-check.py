"""Checks scripts/schemathesis_hooks.py's `filter_failure` against the gateway's own document.

usage: schemathesis-hooks-check.py OPENAPI_URL

The hooks drop a few schemathesis reports that are not the API's fault; a hook that drops too
much would hide real findings from the contract run, so each rule is tried here both ways: a
report the rule is for is dropped, and the same report with the invalid part really on the wire
is kept. The operations come from the served document (schemathesis loads it as in the run);
only the case's generation record and the response are stand-ins. Prints one JSON object.
"""
import importlib.util
import json
import os
import sys
from types import SimpleNamespace

import requests
import schemathesis

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("hooks", os.path.join(HERE, "schemathesis_hooks.py"))
hooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hooks)

schema = schemathesis.openapi.from_url(sys.argv[1])
BASE = "http://127.0.0.1:1"


def mode(negative):
    return SimpleNamespace(mode=SimpleNamespace(is_negative=negative, value="negative" if negative else "positive"))


def case(path, method, negative, body=None, query=None):
    operation = schema[path][method]
    components = {location: mode(location in negative) for location in ("path", "query", "header", "body")}
    meta = SimpleNamespace(components=components, generation=SimpleNamespace(mode=SimpleNamespace(value="negative")))
    return SimpleNamespace(operation=operation, meta=meta, body=body, query=query or {}, headers={})


def response(method, url, headers=None, body=None, status=200):
    request = requests.Request(method, BASE + url, headers=headers or {}, data=body).prepare()
    return SimpleNamespace(request=request, status_code=status, headers={})


AUTH = {"Authorization": "Basic dG9rX2E6c2VjcmV0", "Content-Type": "application/json"}
JSON_ONLY = {"Content-Type": "application/json"}
ST201 = SimpleNamespace(code="ST201", message="Invalid data should have been rejected")
ST201_QUERY = SimpleNamespace(code="ST201", message="Invalid component: parameter `zz` in query - violates `additionalProperties`")

results = {}


def expect(name, dropped, failure, c, r):
    kept = hooks.filter_failure(None, failure, c, r)
    results[name] = {"expected": "dropped" if dropped else "kept", "got": "kept" if kept else "dropped"}


patch = ("/v1/channels/{id}", "PATCH")
url = "/v1/channels/ch_x"
# The CI finding: header and body generated invalid, both replaced before sending.
expect("header+body replaced, valid on the wire", True, ST201,
       case(*patch, {"header", "body"}), response("PATCH", url, AUTH, json.dumps({"userId": "u-hls"})))
expect("body still random bytes on the wire", False, ST201,
       case(*patch, {"header", "body"}), response("PATCH", url, AUTH, b"\x00\xff{not json"))
expect("Authorization really missing on the wire", False, ST201,
       case(*patch, {"header", "body"}), response("PATCH", url, JSON_ONLY, json.dumps({"userId": "u-hls"})))
expect("body JSON but against the schema", False, ST201,
       case(*patch, {"body"}), response("PATCH", url, AUTH, json.dumps({"name": 5})))
expect("body JSON with an undeclared field", False, ST201,
       case(*patch, {"body"}), response("PATCH", url, AUTH, json.dumps({"userId": "u", "nope": 1})))
expect("path generated invalid is never judged by the wire", False, ST201,
       case(*patch, {"path"}), response("PATCH", url, AUTH, json.dumps({"userId": "u"})))
expect("header only, valid on the wire", True, ST201,
       case("/v1/channels/{id}", "GET", {"header"}), response("GET", url, AUTH))
# The older rule: an unknown query parameter that the sent URL does not carry.
expect("unknown query parameter not on the wire", True, ST201_QUERY,
       case("/v1/channels", "GET", {"query"}), response("GET", "/v1/channels?limit=5", AUTH))
expect("unknown query parameter on the wire", False, ST201_QUERY,
       case("/v1/channels", "GET", {"query"}), response("GET", "/v1/channels?limit=5&zz=1", AUTH))

ok = all(r["expected"] == r["got"] for r in results.values())
print(json.dumps({"ok": ok, "results": results}, indent=1))
sys.exit(0 if ok else 1)
