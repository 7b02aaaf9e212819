"""Schemathesis hooks for the contract run (scripts/api-contract.sh).

An Idempotency-Key the fuzzer generates ("0", "A" ...) repeats across requests with other
bodies, and LiveGate then answers 422 as docs/api.md ("Idempotency") says it must. The
fuzzer would report that as "a valid request rejected", so every well-formed key it sends is
replaced by a fresh one; malformed keys (the negative cases) go out as generated and must be
refused. Idempotency itself is tested in IdempotencyTests.

A list's cursor is valid only for the query that made it (another query's is 400, by design);
a cursor the fuzzer makes up is dropped, so its list requests stay valid.

A token's `expiresAt` must be in the future (a past one is 422), which a schema cannot say: a
well-formed date-time the fuzzer picks is moved a day ahead; malformed ones go out as generated.

schemathesis 4.32 sometimes reports ST201 ("schema-violating request accepted") for an unknown
query parameter on a list operation although the request it actually sent carries none (the
fuzzing phase re-checks a case whose extra parameter never reached the wire). `filter_failure`
drops exactly that report, judged by the request that was sent: an ST201 stays when the sent
URL holds any parameter the operation does not declare, or when the invalid part is anything
other than an unknown query parameter. LiveGate answers 400 to an unknown parameter (tested in
StrictInputTests).

In the stateful phase a negative case can lose its invalid parts before it is sent: the run's
own credentials (`-a`) are added to a case generated without Authorization, and a link fills a
body that was generated as random bytes with the fields it carries from an earlier answer (CI
met both at once: PATCH /v1/channels/{id} with `{"userId": "u-hls"}` and valid credentials,
answered 200, reported as ST201). `_sent_request_is_valid` judges such a report by the request on
the wire: when only headers and/or the body were generated invalid and, as sent, the declared
headers and the JSON body satisfy the operation's schemas, the report is dropped. Any other
invalid part (path, query, cookie), a body that is not JSON or breaks the schema as sent, or a
declared header that breaks its schema keeps it.

A live channel's thumbnail is 503 with Retry-After until its first keyframe is held (the first
ask starts holding them): `filter_failure` drops that one "server error" report, and only with
the header; ThumbnailTests checks the answer.

`ast.parse` is serialized. Hypothesis describes each filtered strategy by parsing its lambda's
source, and with `--workers 2` two threads may parse at once; CPython 3.11 keeps the AST
constructor's recursion counter per interpreter, not per thread, so a thread switch inside one
parse can make the other fail with "SystemError: AST constructor recursion depth mismatch"
(python/cpython#106905) — which schemathesis then reports as an error of the run, not of the API
(seen once in a clean-clone run, 2026-12-06). Nothing here parses Python for the API's sake.
"""
import ast
import datetime
import json
import re
import threading
import urllib.parse
import uuid

_ast_parse = ast.parse
_ast_lock = threading.RLock()


def _serialized_parse(*args, **kwargs):
    with _ast_lock:
        return _ast_parse(*args, **kwargs)


ast.parse = _serialized_parse

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


def _sent_request_is_valid(case, response):
    """Whether every part generated invalid (headers, body only) reached the wire valid."""
    meta = getattr(case, "meta", None)
    request = getattr(response, "request", None)
    if meta is None or request is None:
        return False
    negative = {str(getattr(loc, "value", loc)) for loc, info in (getattr(meta, "components", None) or {}).items()
                if getattr(info.mode, "is_negative", False)}
    if not negative or not negative <= {"header", "body"}:
        return False
    from schemathesis.core.jsonschema import make_validator
    from schemathesis.core.parameters import ParameterLocation

    operation = case.operation
    sent_headers = request.headers or {}
    if "header" in negative:
        container = operation.get_parameter_set(ParameterLocation.HEADER)
        if container:
            # The declared headers as sent (requests' headers are case-insensitive), values as
            # a server reads them (surrounding blanks dropped).
            sent = {p.name: str(sent_headers[p.name]).strip(" \t") for p in container if p.name in sent_headers}
            try:
                if not container.get_strict_validator().is_valid(sent):
                    return False
            except Exception:
                return False
    if "body" in negative:
        media_type = (sent_headers.get("Content-Type") or "").split(";")[0].strip()
        declared = operation.get_body_for_media_type(media_type) if media_type else None
        raw = request.body
        if declared is None or raw is None or media_type != "application/json":
            return False
        try:
            body = json.loads(raw if isinstance(raw, (str, bytes)) else bytes(raw))
            validator = make_validator(declared.optimized_schema, operation.schema.adapter.jsonschema_validator_cls)
            if not validator.is_valid(body):
                return False
        except Exception:
            return False
    return True


@schemathesis.hook
def filter_failure(context, failure, case, response):
    code = getattr(failure, "code", None)
    if code == "ST101":
        # A live channel's picture is 503 with Retry-After until a keyframe is held: the first
        # ask's documented answer (docs/contract.md §4, "Thumbnails"), not a server error.
        # Any other 5xx, or a 503 there without Retry-After, stays reported.
        headers = getattr(response, "headers", None) or {}
        retry = headers.get("retry-after") or headers.get("Retry-After")
        if isinstance(retry, list):
            retry = retry[0] if retry else None
        status = getattr(response, "status_code", None)
        return not (case.operation.label.endswith("/thumbnail.jpg") and status == 503 and retry)
    if code != "ST201":
        return True
    if _sent_request_is_valid(case, response):
        return False
    message = str(getattr(failure, "message", ""))
    if "additionalProperties" not in message or "query" not in message:
        return True
    declared = {parameter.name for parameter in case.operation.query}
    url = getattr(getattr(response, "request", None), "url", None) or ""
    sent = [name for name, _ in urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True)]
    # Keep the report unless the wire request had no undeclared parameter at all.
    return any(name not in declared for name in sent)
