#!/usr/bin/env python3
"""Checks LiveGate's OpenAPI document and real event bodies with independent tools:
openapi-spec-validator (the document is valid OpenAPI 3.1) and jsonschema (each body matches
its event type's schema in components/schemas, Draft 2020-12).

argv[1]: the OpenAPI document (JSON); argv[2]: a JSON array of event bodies.
Prints {"valid": n, "types": [...], "failures": [...]}; exits 1 on any failure.
"""
import json
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        events = json.load(f)
    failures = []
    try:
        validate(doc)
    except Exception as e:
        failures.append({"document": str(e)[:2000]})
    schemas = doc.get("components", {}).get("schemas", {})
    webhooks = doc.get("webhooks", {})
    valid, types = 0, set()
    for body in events:
        kind = body.get("type")
        hook = webhooks.get(kind, {}).get("post", {})
        ref = hook.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        if not ref:
            failures.append({"id": body.get("id"), "error": "no webhooks entry for type %r" % kind})
            continue
        schema = {"$ref": ref, "components": {"schemas": schemas}}
        errors = sorted(Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.path))
        # Also as any Event (the oneOf the event log's items use).
        any_errors = list(Draft202012Validator({"$ref": "#/components/schemas/Event", "components": {"schemas": schemas}}).iter_errors(body))
        if errors or any_errors:
            failures.append({"id": body.get("id"), "type": kind,
                             "errors": ["%s: %s" % ("/".join(map(str, e.path)), e.message[:300]) for e in (errors or any_errors)[:5]]})
            continue
        valid += 1
        types.add(kind)
    print(json.dumps({"valid": valid, "types": sorted(types), "failures": failures}))
    return 1 if failures else 0

if __name__ == "__main__":
    sys.exit(main())
