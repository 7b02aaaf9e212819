"""Schemathesis hooks for the contract run (scripts/api-contract.sh).

An Idempotency-Key the fuzzer generates ("0", "A" ...) repeats across requests with other
bodies, and LiveGate then answers 422 as SPEC section 4 says it must (same key, other body). The
fuzzer would report that as "a valid request rejected", so every well-formed key it sends is
replaced by a fresh one; malformed keys (the negative cases) go out as generated and must be
refused. Idempotency itself is tested in IdempotencyTests.

A list's cursor is valid only for the query that made it (another query's is 400, by design);
a cursor the fuzzer makes up is dropped, so its list requests stay valid.

A token's `expiresAt` must be in the future (a past one is 422), which a schema cannot say: a
well-formed date-time the fuzzer picks is moved a day ahead; malformed ones go out as generated.
"""
import datetime
import re
import uuid

import schemathesis

WELL_FORMED = re.compile(r"[!-~]{1,255}")


def _positive(case, location):
    """Whether this part of the case was generated valid (a negative case keeps its invalid parts)."""
    meta = getattr(case, "meta", None)
    if meta is None:
        return True
    for loc, info in (getattr(meta, "components", None) or {}).items():
        if str(getattr(loc, "value", loc)) == location:
            return str(getattr(info.mode, "value", info.mode)) == "positive"
    return str(getattr(meta.generation.mode, "value", meta.generation.mode)) == "positive"


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and WELL_FORMED.fullmatch(key):
        headers["Idempotency-Key"] = "st-" + uuid.uuid4().hex
        case.headers = headers

    query = case.query or {}
    if _positive(case, "query") and isinstance(query.get("cursor"), str) and re.fullmatch(r"c[0-9]{1,18}(\.[0-9a-f]{8})?", query["cursor"]):
        del query["cursor"]
        case.query = query

    body = case.body
    if _positive(case, "body") and isinstance(body, dict) and isinstance(body.get("expiresAt"), str):
        try:
            datetime.datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
        except ValueError:
            return
        future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
        body["expiresAt"] = future.strftime("%Y-%m-%dT%H:%M:%SZ")
