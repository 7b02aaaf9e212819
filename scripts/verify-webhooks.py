#!/usr/bin/env python3
"""Verifies captured webhook requests with the `standardwebhooks` package (PyPI), an
implementation of the Standard Webhooks specification that is not LiveGate's own.

Input (argv[1]): a JSON file {"secret": "whsec_…", "requests": [{"id", "timestamp", "signature", "body"}]}.
Prints one JSON line {"verified": n, "failures": [...]} and exits 1 if any request fails to verify.
"""
import json
import sys

from standardwebhooks.webhooks import Webhook

def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    hook = Webhook(spec["secret"])
    verified, failures = 0, []
    for r in spec["requests"]:
        headers = {"webhook-id": r["id"], "webhook-timestamp": r["timestamp"], "webhook-signature": r["signature"]}
        try:
            payload = hook.verify(r["body"], headers)
        except Exception as e:  # the library raises WebhookVerificationError
            failures.append({"id": r["id"], "error": str(e)})
            continue
        if payload.get("id") != r["id"]:
            failures.append({"id": r["id"], "error": "body id %r is not the webhook-id" % payload.get("id")})
            continue
        verified += 1
    print(json.dumps({"verified": verified, "failures": failures}))
    return 1 if failures else 0

if __name__ == "__main__":
    sys.exit(main())
