#!/usr/bin/env python3
"""Drives Debian's Chromium (headless, DevTools protocol) through LiveGate's dashboard.

    dashboard-check.py BASE_URL TOKEN_ID TOKEN_SECRET CHANNEL_ID SECOND_RTMP_URL CLIP SCREENSHOT_DIR

With a publisher live on CHANNEL_ID (its name an XSS probe), checks, as an operator would see it:
a wrong token gets a clear message; after signing in the live table lists the channel with a
bit rate above 0 and a picture that loaded (naturalWidth > 0); the channel's name is text (no
element made from it, no script run); the event feed shows `channel.live` of a second publish
(SECOND_RTMP_URL, started here once the feed is open) within 2 s of the event; the channel page's
charts have points. Screenshots go to SCREENSHOT_DIR. Prints what it found as JSON; exit 1 on
any failure. Nothing is downloaded: the browser is the system's.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # websocket-client (PyPI)

base, token_id, token_secret, channel_id, second_url, clip, shots = sys.argv[1:8]
os.makedirs(shots, exist_ok=True)
browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
if not browser_path:
    print(json.dumps({"error": "chromium is not installed (apt-get install chromium)"}))
    sys.exit(2)

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
profile = tempfile.mkdtemp(prefix="lg-chromium-")
browser = subprocess.Popen([browser_path, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                            f"--remote-debugging-port={port}", f"--user-data-dir={profile}", "--window-size=1400,1000", "about:blank"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
results = {"failures": []}
publisher = None


def fail(what):
    results["failures"].append(what)


try:
    target = None
    for _ in range(100):
        try:
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2).read())
            target = next((t for t in targets if t.get("type") == "page"), None)
            if target:
                break
        except OSError:
            pass
        time.sleep(0.1)
    if not target:
        raise RuntimeError("Chromium's DevTools endpoint did not answer")
    ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30)
    counter = [0]
    dialogs = []

    def call(method, **params):
        counter[0] += 1
        mine = counter[0]
        ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            message = json.loads(ws.recv())
            if message.get("method") == "Page.javascriptDialogOpening":
                dialogs.append(message["params"].get("message"))
                ws.send(json.dumps({"id": 10_000 + mine, "method": "Page.handleJavaScriptDialog", "params": {"accept": True}}))
            if message.get("id") == mine:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def js(expression):
        r = call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page error in {expression[:80]}: {r['exceptionDetails'].get('text')}")
        return r.get("result", {}).get("value")

    def wait(expression, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if js(expression):
                return True
            time.sleep(0.2)
        return False

    def screenshot(name):
        data = call("Page.captureScreenshot", format="png")["data"]
        path = os.path.join(shots, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        results.setdefault("screenshots", []).append(path)

    call("Page.enable")
    call("Runtime.enable")
    # Any script a channel name might smuggle in would call alert(): recorded, never shown.
    call("Page.addScriptToEvaluateOnNewDocument", source="window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));")
    call("Page.navigate", url=base + "/ui/")
    if not wait("document.readyState === 'complete' && !document.getElementById('signin').hidden", 15):
        fail("the sign-in form did not show")
    results["csp"] = urllib.request.urlopen(base + "/ui/", timeout=5).headers.get("Content-Security-Policy", "")
    if "default-src 'self'" not in results["csp"]:
        fail("the page has no Content-Security-Policy of default-src 'self'")
    # A wrong token: a clear message.
    js("document.getElementById('token-id').value = 'tok_wrong'; document.getElementById('token-secret').value = 'nope';"
       "document.getElementById('signin-form').requestSubmit(); true")
    if not wait("document.getElementById('signin-error').textContent.includes('Wrong token')", 10):
        fail("a wrong token showed no clear message: " + str(js("document.getElementById('signin-error').textContent")))
    screenshot("1-wrong-token.png")
    # The right one.
    js(f"document.getElementById('token-id').value = {json.dumps(token_id)}; document.getElementById('token-secret').value = {json.dumps(token_secret)};"
       "document.getElementById('signin-form').requestSubmit(); true")
    row = f"document.querySelector('#channel-rows tr[data-id={json.dumps(channel_id)}]')"
    if not wait(f"{row} !== null", 20):
        fail("the live channel is not in the table")
    kbps = f"(() => {{ const r = {row}; return r ? parseFloat(r.children[7].textContent) : 0 }})()"
    if not wait(f"{kbps} > 0", 20):
        fail("the table shows no bit rate for the live channel")
    picture = f"(() => {{ const r = {row}; const i = r && r.querySelector('img'); return i && i.complete && i.naturalWidth > 0 }})()"
    if not wait(picture, 30):
        fail("the channel's picture did not load")
    results["rowPictureWidth"] = js(f"{row}.querySelector('img').naturalWidth")
    results["rowKbps"] = js(kbps)
    # The channel's name is text: no element was made from it, no script ran.
    results["nameCell"] = js(f"{row}.children[1].textContent")
    results["injectedImages"] = js("document.querySelectorAll('img[src=\"x\"]').length")
    results["alerts"] = js("window.__alerts")
    if results["injectedImages"] != 0 or results["alerts"] or dialogs:
        fail("the channel name was run as markup")
    screenshot("2-live-channels.png")

    # The event feed, live over the stream: a second publish's channel.live within 2 s.
    js("location.hash = '#events'; true")
    if not wait("document.getElementById('stream-state').textContent.includes('live')", 10):
        fail("the event stream did not open")
    time.sleep(1.5)
    publisher = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy", "-t", "20",
                                  "-f", "flv", second_url], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    found = "(() => [...document.querySelectorAll('#event-feed li')].find(li => li.dataset.type === 'channel.live' && Number(li.dataset.shownAt) > Number(li.dataset.createdMs)))()"
    if not wait(f"{found} !== undefined", 20):
        fail("the event feed did not show the second channel.live")
    else:
        delay = js(f"(() => {{ const li = {found}; return Number(li.dataset.shownAt) - Number(li.dataset.createdMs) }})()")
        results["eventDelayMs"] = delay
        if delay > 2000:
            fail(f"channel.live appeared {delay} ms after the event")
    screenshot("3-events.png")

    # The channel page: its charts have points.
    js(f"location.hash = '#channel/' + encodeURIComponent({json.dumps(channel_id)}); true")
    if not wait("Number(document.getElementById('chart-bitrate').dataset.points || 0) > 0", 40):
        fail("the channel page's chart has no points")
    results["chartPoints"] = js("Number(document.getElementById('chart-bitrate').dataset.points || 0)")
    wait("document.getElementById('channel-picture').naturalWidth > 0", 15)
    results["pagePictureWidth"] = js("document.getElementById('channel-picture').naturalWidth")
    screenshot("4-channel.png")
    ws.close()
except Exception as e:  # noqa: BLE001 - reported as a failure with what happened
    fail(f"{type(e).__name__}: {e}")
finally:
    if publisher:
        publisher.kill()
    browser.kill()
    browser.wait()
    shutil.rmtree(profile, ignore_errors=True)

print(json.dumps(results))
sys.exit(1 if results["failures"] else 0)
