#!/usr/bin/env python3
"""A client generated from LiveGate's OpenAPI document, used against the real gateway.

    generated-client-check.py BASE_URL TOKEN_ID TOKEN_SECRET WORKDIR

Fetches BASE_URL/v1/openapi.json, generates a typed Python client with openapi-python-client
(no warning allowed: every operation, body and answer must be something a generator reads),
imports it and, through its typed calls only, creates a channel (with an Idempotency-Key, then
the same retry), reads it, lists it with a filter, changes it with a merge patch, reads a user's
usage and deletes it; then the read answers 404 as the document says. Prints one JSON line of
what it saw; exits non-zero on anything unexpected.
"""
import base64
import importlib
import json
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

base, token_id, secret, workdir = sys.argv[1:5]
work = Path(workdir)
work.mkdir(parents=True, exist_ok=True)
doc = work / "openapi.json"
doc.write_bytes(urllib.request.urlopen(base + "/v1/openapi.json", timeout=10).read())
config = work / "generator.yaml"
config.write_text(
    "post_hooks: []\n"
    "content_type_overrides:\n"
    "  application/vnd.apple.mpegurl: application/octet-stream\n"
    "  video/mp2t: application/octet-stream\n"
    "  video/mp4: application/octet-stream\n"
    "  image/jpeg: application/octet-stream\n"
)
out = work / "livegate_client"
generator = Path(sys.executable).with_name("openapi-python-client")
run = subprocess.run([str(generator), "generate", "--path", str(doc), "--meta", "none", "--output-path", str(out),
                      "--config", str(config), "--overwrite"], capture_output=True, text=True, timeout=120)
if run.returncode != 0 or "Warning" in run.stdout + run.stderr:
    print("generation failed or warned:\n" + run.stdout + run.stderr, file=sys.stderr)
    sys.exit(2)

sys.path.insert(0, str(work))
client_mod = importlib.import_module("livegate_client")
create_channel = importlib.import_module("livegate_client.api.channels.create_channel")
get_channel = importlib.import_module("livegate_client.api.channels.get_channel")
list_channels = importlib.import_module("livegate_client.api.channels.list_channels")
update_channel = importlib.import_module("livegate_client.api.channels.update_channel")
delete_channel = importlib.import_module("livegate_client.api.channels.delete_channel")
get_usage = importlib.import_module("livegate_client.api.users.get_user_usage")
models = importlib.import_module("livegate_client.models")

# The document's security scheme is HTTP Basic: the generated client's token with the Basic prefix.
client = client_mod.AuthenticatedClient(base_url=base, token=base64.b64encode(f"{token_id}:{secret}".encode()).decode(), prefix="Basic")

seen = {}


def expect(condition, what):
    if not condition:
        print("unexpected: " + what + " " + json.dumps(seen, default=str), file=sys.stderr)
        sys.exit(1)


user = "người-" + uuid.uuid4().hex[:6]
body = models.ChannelCreate(name="Generated client show", user_id=user, tags=["gen"], record=False)
key = "gen-" + uuid.uuid4().hex
first = create_channel.sync_detailed(client=client, body=body, idempotency_key=key)
seen["create"] = first.status_code
expect(first.status_code == 201 and isinstance(first.parsed, models.ChannelEnvelope), "create answered 201 with a ChannelEnvelope")
channel = first.parsed.data
expect(isinstance(channel, models.Channel) and channel.id.startswith("ch_") and channel.user_id == user, "a typed Channel")
expect(channel.stream_id and channel.stream_url.startswith("rtmp://"), "the stream key and URL")
retry = create_channel.sync_detailed(client=client, body=body, idempotency_key=key)
seen["retry"] = [retry.status_code, retry.headers.get("Idempotent-Replayed")]
expect(retry.status_code == 201 and retry.parsed.data.id == channel.id and retry.headers.get("Idempotent-Replayed") == "true",
       "the retry with the same key got the same channel")

read = get_channel.sync_detailed(channel.id, client=client)
seen["read"] = read.status_code
expect(read.status_code == 200 and read.parsed.data.name == "Generated client show" and read.parsed.data.tags == ["gen"], "read back")

listed = list_channels.sync_detailed(client=client, user_id=user, limit=10)
seen["list"] = [listed.status_code, [c.id for c in listed.parsed.data.items]]
expect(listed.status_code == 200 and [c.id for c in listed.parsed.data.items] == [channel.id], "listed by its user, alone")

patch = models.ChannelPatch(description="changed", metadata=models.ChannelPatchMetadataType0.from_dict({"k": "v"}))
patched = update_channel.sync_detailed(channel.id, client=client, body=patch)
seen["patch"] = patched.status_code
expect(patched.status_code == 200 and patched.parsed.data.description == "changed"
       and patched.parsed.data.metadata.to_dict() == {"k": "v"} and patched.parsed.data.name == "Generated client show", "merge patch")

usage = get_usage.sync_detailed(user, client=client)
seen["usage"] = [usage.status_code, usage.parsed.data.channels.used if usage.status_code == 200 else None]
expect(usage.status_code == 200 and usage.parsed.data.channels.used == 1, "the Unicode user's usage counts the channel")

invalid = create_channel.sync_detailed(client=client, body=models.ChannelCreate(name=" ", user_id=user))
seen["invalid"] = invalid.status_code
expect(invalid.status_code == 422 and isinstance(invalid.parsed, models.ValidationError)
       and "name" in invalid.parsed.data.fields.to_dict(), "a blank name is a typed ValidationError naming the field")

deleted = delete_channel.sync_detailed(channel.id, client=client)
seen["delete"] = deleted.status_code
expect(deleted.status_code == 204, "deleted")
gone = get_channel.sync_detailed(channel.id, client=client)
seen["gone"] = gone.status_code
expect(gone.status_code == 404 and isinstance(gone.parsed, models.NotFoundError) and gone.parsed.ec == 4040, "gone: a typed NotFoundError")

print(json.dumps({"ok": True, **seen}))
