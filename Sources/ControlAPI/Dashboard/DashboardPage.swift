/// The operator dashboard's page and style (docs/contract.md §6, "The dashboard"): plain HTML
/// and CSS carried in the binary — no build step, no CDN, nothing fetched from elsewhere, so it
/// works offline and the single-file Docker image has it too. Its script is `DashboardScript`.
enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>LiveGate</title>
<link rel="stylesheet" href="/ui/app.css">
<script src="/ui/app.js" defer></script>
</head>
<body>
<header class="top">
  <h1>LiveGate</h1>
  <nav aria-label="Views" id="nav" hidden>
    <a href="#channels" id="nav-channels">Channels</a>
    <a href="#events" id="nav-events">Events</a>
    <a href="#nodes" id="nav-nodes">Nodes</a>
    <a href="#usage" id="nav-usage">Usage</a>
  </nav>
  <span id="who" class="who"></span>
  <button type="button" id="signout" hidden>Sign out</button>
</header>
<main>
  <section id="signin" aria-labelledby="signin-title">
    <h2 id="signin-title">Sign in with an API token</h2>
    <p>A token with the <code>stats:read</code> scope is enough. It is kept in this tab only.</p>
    <form id="signin-form">
      <label for="token-id">Token id</label>
      <input id="token-id" name="token-id" autocomplete="username" required>
      <label for="token-secret">Token secret</label>
      <input id="token-secret" name="token-secret" type="password" autocomplete="current-password" required>
      <button type="submit">Sign in</button>
      <p id="signin-error" class="error" role="alert"></p>
    </form>
  </section>

  <section id="channels" class="view" hidden aria-labelledby="channels-title">
    <h2 id="channels-title">Live channels <span id="live-count" class="muted"></span></h2>
    <label for="filter">Filter</label>
    <input id="filter" type="search" placeholder="name, user, id, node, codec">
    <div class="scroll">
    <table id="channel-table">
      <caption class="muted">Refreshed every 5 s. Select a column heading to sort.</caption>
      <thead><tr>
        <th scope="col">Picture</th>
        <th scope="col"><button type="button" data-sort="name">Name</button></th>
        <th scope="col"><button type="button" data-sort="userId">User</button></th>
        <th scope="col"><button type="button" data-sort="node">Node</button></th>
        <th scope="col"><button type="button" data-sort="status">Status</button></th>
        <th scope="col"><button type="button" data-sort="uptime">Uptime</button></th>
        <th scope="col"><button type="button" data-sort="health">Health</button></th>
        <th scope="col"><button type="button" data-sort="kbps">kbit/s</button></th>
        <th scope="col"><button type="button" data-sort="fps">fps</button></th>
        <th scope="col"><button type="button" data-sort="size">Size</button></th>
        <th scope="col"><button type="button" data-sort="codec">Codec</button></th>
        <th scope="col"><button type="button" data-sort="tracks">Tracks</button></th>
        <th scope="col">Outputs</th>
      </tr></thead>
      <tbody id="channel-rows"></tbody>
    </table>
    </div>
  </section>

  <section id="channel" class="view" hidden aria-labelledby="channel-title">
    <p><a href="#channels">← Live channels</a></p>
    <h2 id="channel-title"></h2>
    <div class="grid">
      <figure><img id="channel-picture" alt="Latest picture of the channel" width="480"><figcaption id="channel-picture-note" class="muted"></figcaption></figure>
      <dl id="channel-facts"></dl>
    </div>
    <p><label for="hls-url">HLS URL</label> <input id="hls-url" readonly size="60"> <button type="button" id="copy-hls">Copy</button></p>
    <h3>Last hour</h3>
    <div class="charts">
      <figure><figcaption>Bit rate (kbit/s)</figcaption><svg id="chart-bitrate" class="chart" role="img" aria-label="Bit rate over the last hour"></svg></figure>
      <figure><figcaption>Frames per second</figcaption><svg id="chart-fps" class="chart" role="img" aria-label="Frames per second over the last hour"></svg></figure>
      <figure><figcaption>Health</figcaption><svg id="chart-health" class="chart strip" role="img" aria-label="Health over the last hour"></svg></figure>
    </div>
    <h3>Sessions</h3>
    <ul id="channel-sessions"></ul>
    <h3>Recent events</h3>
    <ul id="channel-events" class="events"></ul>
  </section>

  <section id="events" class="view" hidden aria-labelledby="events-title">
    <h2 id="events-title">Events <span id="stream-state" class="muted"></span></h2>
    <ul id="event-feed" class="events" aria-live="polite"></ul>
  </section>

  <section id="nodes" class="view" hidden aria-labelledby="nodes-title">
    <h2 id="nodes-title">Nodes</h2>
    <table><thead><tr><th scope="col">Node</th><th scope="col">Health</th><th scope="col">Version</th><th scope="col">Started</th><th scope="col">Channels carried</th><th scope="col">Drain</th></tr></thead>
    <tbody id="node-rows"></tbody></table>
    <p id="node-note" class="muted" role="status"></p>
  </section>

  <section id="usage" class="view" hidden aria-labelledby="usage-title">
    <h2 id="usage-title">Usage, last 30 days</h2>
    <figure><figcaption>Minutes streamed per day</figcaption><svg id="chart-usage" class="chart wide" role="img" aria-label="Minutes streamed per day"></svg></figure>
    <dl id="usage-totals"></dl>
  </section>
</main>
</body>
</html>
"""#

    static let css = #"""
:root { color-scheme: light dark; --fg: #111; --bg: #fff; --muted: #555; --line: #ccc; --ok: #0b6e2e; --warn: #8a5300; --bad: #b00020; --accent: #0b57d0; }
@media (prefers-color-scheme: dark) { :root { --fg: #eee; --bg: #121212; --muted: #b0b0b0; --line: #444; --ok: #5fd38a; --warn: #ffb74d; --bad: #ff6b81; --accent: #8ab4f8; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
.top { display: flex; flex-wrap: wrap; gap: .75rem 1.25rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); }
.top h1 { font-size: 1.15rem; margin: 0; }
nav a { color: var(--accent); margin-right: .8rem; }
nav a[aria-current="page"] { font-weight: 700; text-decoration: none; }
.who { color: var(--muted); margin-left: auto; }
main { padding: 1rem; max-width: 1400px; }
label { display: block; font-weight: 600; margin-top: .6rem; }
input { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); max-width: 100%; }
button { font: inherit; padding: .3rem .7rem; border: 1px solid var(--accent); color: var(--accent); background: transparent; border-radius: 4px; cursor: pointer; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
form button[type=submit] { margin-top: .8rem; display: block; }
.error { color: var(--bad); font-weight: 600; min-height: 1.4em; }
.muted { color: var(--muted); font-weight: normal; font-size: .9em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin-top: .6rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
th button { border: 0; padding: 0; color: var(--fg); font-weight: 700; }
td img { width: 96px; height: auto; display: block; background: var(--line); }
.state-healthy { color: var(--ok); font-weight: 700; }
.state-degraded { color: var(--warn); font-weight: 700; }
.state-starving { color: var(--bad); font-weight: 700; }
.reasons { display: block; color: var(--muted); font-size: .85em; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; }
#channel-picture { max-width: 100%; height: auto; background: var(--line); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.chart { width: 420px; max-width: 100%; height: 120px; border: 1px solid var(--line); }
.chart.strip { height: 24px; }
.chart.wide { width: 900px; height: 160px; }
.chart polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.chart rect.bar { fill: var(--accent); }
.events { list-style: none; padding: 0; margin: 0; max-height: 70vh; overflow-y: auto; }
.events li { padding: .3rem 0; border-bottom: 1px solid var(--line); }
.events time { color: var(--muted); margin-right: .5rem; font-variant-numeric: tabular-nums; }
.events .type { font-weight: 700; margin-right: .5rem; }
@media (max-width: 700px) { td img { width: 64px; } .chart, .chart.wide { width: 100%; } }
"""#
}
