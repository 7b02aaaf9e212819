"""Schemathesis hooks for the contract run (scripts/api-contract.sh).

An Idempotency-Key the fuzzer generates ("0", "A" ...) repeats across requests with other
bodies, and LiveGate then answers 422 as SPEC section 4 says it must (same key, other body). The
fuzzer would report that as "a valid request rejected", so every well-formed key it sends is
replaced by a fresh one; malformed keys (the negative cases) go out as generated and must be
refused. Idempotency itself is tested in IdempotencyTests.
"""
import re
import uuid

import schemathesis

WELL_FORMED = re.compile(r"[!-~]{1,255}")


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and WELL_FORMED.fullmatch(key):
        headers["Idempotency-Key"] = "st-" + uuid.uuid4().hex
        case.headers = headers
