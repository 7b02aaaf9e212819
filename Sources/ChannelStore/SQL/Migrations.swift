import LiveGateModel
import SQLKit

/// Versioned schema migrations. Each runs once, in order, inside a transaction, recorded in
/// `schema_migrations`. Never edit a released migration: add the next version.
enum Migrations {
    struct Migration: Sendable {
        var version: Int
        var name: String
        var statements: @Sendable (SQLBackend) -> [String]
    }

    static let all: [Migration] = [
        Migration(version: 1, name: "initial schema") { b in
            let pk = b.autoIncrementPrimaryKey
            return [
                "CREATE TABLE api_tokens (id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, created_at TEXT NOT NULL)",
                """
                CREATE TABLE channels (seq \(pk), id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL, name TEXT NOT NULL,
                  description TEXT NOT NULL, tags TEXT NOT NULL, stream_key TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
                  enabled INTEGER NOT NULL, hls INTEGER NOT NULL, record INTEGER NOT NULL, reconnect_window_sec INTEGER NOT NULL,
                  duplicate_policy TEXT NOT NULL, metadata TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
                  last_live_at TEXT, session_id TEXT)
                """,
                "CREATE INDEX channels_user_id ON channels (user_id, seq)",
                "CREATE INDEX channels_status ON channels (status, seq)",
                """
                CREATE TABLE user_limits (user_id TEXT PRIMARY KEY, max_channels INTEGER, max_concurrent_live INTEGER,
                  max_bitrate_kbps INTEGER, max_width INTEGER, max_height INTEGER, max_fps \(b.doubleType), max_session_sec INTEGER,
                  allowed_video_codecs TEXT, updated_at TEXT NOT NULL)
                """,
                """
                CREATE TABLE webhooks (seq \(pk), id TEXT NOT NULL UNIQUE, url TEXT NOT NULL, secret TEXT NOT NULL,
                  events TEXT NOT NULL, channel_ids TEXT NOT NULL, user_ids TEXT NOT NULL, enabled INTEGER NOT NULL,
                  created_at TEXT NOT NULL, updated_at TEXT NOT NULL)
                """,
                """
                CREATE TABLE sessions (id TEXT PRIMARY KEY, channel_id TEXT NOT NULL, node_id TEXT NOT NULL, started_at TEXT NOT NULL,
                  ended_at TEXT, remote_addr TEXT NOT NULL, encoder TEXT NOT NULL, video_codec TEXT, audio_codec TEXT,
                  bytes_in BIGINT NOT NULL DEFAULT 0, video_frames BIGINT NOT NULL DEFAULT 0, audio_frames BIGINT NOT NULL DEFAULT 0,
                  end_reason TEXT)
                """,
                "CREATE INDEX sessions_channel ON sessions (channel_id, started_at)",
                """
                CREATE TABLE videos (seq \(pk), id TEXT NOT NULL UNIQUE, channel_id TEXT NOT NULL, user_id TEXT NOT NULL,
                  session_id TEXT, name TEXT NOT NULL, path TEXT NOT NULL, duration_sec \(b.doubleType) NOT NULL,
                  size_bytes BIGINT NOT NULL, video_codec TEXT, audio_codec TEXT, width INTEGER, height INTEGER, created_at TEXT NOT NULL)
                """,
                "CREATE INDEX videos_channel ON videos (channel_id, seq)",
                """
                CREATE TABLE events (seq \(pk), id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, channel_id TEXT, user_id TEXT,
                  payload TEXT NOT NULL, created_at TEXT NOT NULL)
                """,
                """
                CREATE TABLE webhook_deliveries (seq \(pk), id TEXT NOT NULL UNIQUE, webhook_id TEXT NOT NULL, event_seq BIGINT NOT NULL,
                  attempt INTEGER NOT NULL, state TEXT NOT NULL, next_attempt_at TEXT NOT NULL, status_code INTEGER,
                  latency_ms INTEGER, response_excerpt TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)
                """,
                "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at)",
                "CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, seq)",
            ]
        },
        Migration(version: 2, name: "per-channel delivery order, session codecs") { _ in
            [
                // Deliveries are ordered per (webhook, channel); '' groups events with no channel.
                "ALTER TABLE webhook_deliveries ADD COLUMN channel_key TEXT NOT NULL DEFAULT ''",
                "CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook_id, channel_key, state, event_seq)",
                "CREATE INDEX sessions_open ON sessions (node_id, ended_at)",
            ]
        },
        Migration(version: 3, name: "forwards, video file paths") { b in
            let pk = b.autoIncrementPrimaryKey
            return [
                """
                CREATE TABLE forwards (seq \(pk), id TEXT NOT NULL UNIQUE, channel_id TEXT NOT NULL, url TEXT NOT NULL,
                  enabled INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)
                """,
                "CREATE INDEX forwards_channel ON forwards (channel_id, seq)",
                "CREATE INDEX videos_session ON videos (session_id)",
            ]
        },
        Migration(version: 4, name: "session connections") { _ in
            // A session spans connections (reconnects, replaces): each one, as JSON.
            ["ALTER TABLE sessions ADD COLUMN connections TEXT NOT NULL DEFAULT '[]'"]
        },
        Migration(version: 5, name: "gapless event log, pings out of it, webhook health") { b in
            var statements: [String] = []
            // `seq` is assigned by the writer under the event lock at MAX+1 (gapless, in commit
            // order), no longer by an identity column at insert.
            if b == .postgres { statements.append("ALTER TABLE events ALTER COLUMN seq DROP IDENTITY IF EXISTS") }
            statements += [
                // A ping is no event of the log: its delivery carries its own id, type and body.
                "ALTER TABLE webhook_deliveries ADD COLUMN event_id TEXT",
                "ALTER TABLE webhook_deliveries ADD COLUMN event_type TEXT",
                "ALTER TABLE webhook_deliveries ADD COLUMN payload TEXT",
                "ALTER TABLE webhook_deliveries ADD COLUMN retry_window_start TEXT",
                """
                UPDATE webhook_deliveries SET event_id = (SELECT e.id FROM events e WHERE e.seq = webhook_deliveries.event_seq),
                  event_type = 'webhook.ping', payload = (SELECT e.payload FROM events e WHERE e.seq = webhook_deliveries.event_seq),
                  channel_key = '#ping', event_seq = 0
                WHERE event_seq IN (SELECT seq FROM events WHERE type = 'webhook.ping')
                """,
                "DELETE FROM events WHERE type = 'webhook.ping'",
                "CREATE INDEX events_type ON events (type, seq)",
                "CREATE INDEX events_channel ON events (channel_id, seq)",
                "CREATE INDEX events_user ON events (user_id, seq)",
                "ALTER TABLE webhooks ADD COLUMN failing_since TEXT",
                "ALTER TABLE webhooks ADD COLUMN disabled_at TEXT",
                "ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT",
                "ALTER TABLE webhooks ADD COLUMN disabled_by TEXT",
                // The last event `seq` when the failures disabled it: re-enabling queues what came after.
                "ALTER TABLE webhooks ADD COLUMN disabled_seq BIGINT",
            ]
            return statements
        },
        Migration(version: 6, name: "scoped API tokens") { _ in
            [
                // Tokens stored before scopes existed keep doing everything (admin).
                "ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '[\"admin\"]'",
                "ALTER TABLE api_tokens ADD COLUMN user_id TEXT",
                "ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT",
                "ALTER TABLE api_tokens ADD COLUMN origin TEXT NOT NULL DEFAULT 'legacy'",
            ]
        },
        Migration(version: 7, name: "idempotency keys") { _ in
            [
                """
                CREATE TABLE idempotency_keys (token_id TEXT NOT NULL, idem_key TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
                  body_hash TEXT NOT NULL, status INTEGER, response TEXT, created_at TEXT NOT NULL, PRIMARY KEY (token_id, idem_key))
                """,
                "CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)",
            ]
        },
        Migration(version: 8, name: "nodes") { _ in
            [
                """
                CREATE TABLE nodes (id TEXT PRIMARY KEY, addresses TEXT NOT NULL, version TEXT NOT NULL, started_at TEXT NOT NULL,
                  heartbeat_at TEXT NOT NULL)
                """,
            ]
        },
        Migration(version: 9, name: "channel leases and delivery claims") { _ in
            [
                """
                CREATE TABLE channel_leases (channel_id TEXT PRIMARY KEY, session_id TEXT NOT NULL UNIQUE, node_id TEXT NOT NULL,
                  state TEXT NOT NULL, window_ends_at TEXT, end_reason TEXT, expires_at TEXT NOT NULL, stats TEXT, updated_at TEXT NOT NULL)
                """,
                "CREATE INDEX channel_leases_node ON channel_leases (node_id)",
                "CREATE INDEX channel_leases_expires ON channel_leases (expires_at)",
                "ALTER TABLE webhook_deliveries ADD COLUMN claimed_by TEXT",
                "ALTER TABLE webhook_deliveries ADD COLUMN claim_expires_at TEXT",
            ]
        },
        Migration(version: 10, name: "webhook secret rotation, session owners") { _ in
            [
                // The secret a rotation replaced keeps signing (beside the new one) until then.
                "ALTER TABLE webhooks ADD COLUMN previous_secret TEXT",
                "ALTER TABLE webhooks ADD COLUMN previous_secret_until TEXT",
                // Whose session it was, kept with it: events after the channel is deleted still say.
                "ALTER TABLE sessions ADD COLUMN user_id TEXT",
                "UPDATE sessions SET user_id = (SELECT user_id FROM channels WHERE channels.id = sessions.channel_id)",
            ]
        },
        Migration(version: 11, name: "token names and expiry") { _ in
            [
                "ALTER TABLE api_tokens ADD COLUMN name TEXT",
                "ALTER TABLE api_tokens ADD COLUMN expires_at TEXT",
            ]
        },
        Migration(version: 12, name: "signed playback") { _ in
            [
                "ALTER TABLE channels ADD COLUMN playback_policy TEXT NOT NULL DEFAULT 'public'",
                "CREATE TABLE signing_keys (id TEXT PRIMARY KEY, secret TEXT NOT NULL, created_at TEXT NOT NULL)",
            ]
        },
        Migration(version: 13, name: "recording retention per user") { _ in
            [
                "ALTER TABLE user_limits ADD COLUMN retention_days INTEGER",
                "CREATE INDEX videos_created ON videos (created_at)",
            ]
        },
        Migration(version: 14, name: "lifecycle: when publishers left, cooldowns with the channel, retired keys") { _ in
            [
                // When a reconnecting session's last publisher left: its end time if nobody comes back.
                "ALTER TABLE channel_leases ADD COLUMN left_at TEXT",
                // A limit's cooldown, shown and enforced by every node (docs/contract.md §2, "Limits").
                "ALTER TABLE channels ADD COLUMN cooldown_until TEXT",
                "ALTER TABLE channels ADD COLUMN cooldown_limit TEXT",
                // Keys `reset-key` retired, for 24 h: a publish with one is `key_rotated`, channel named.
                "CREATE TABLE retired_keys (stream_key TEXT PRIMARY KEY, channel_id TEXT NOT NULL, retired_at TEXT NOT NULL)",
                "CREATE INDEX retired_keys_at ON retired_keys (retired_at)",
            ]
        },
        Migration(version: 15, name: "session media") { _ in
            // What `channel.media` reported (codec, size, rates of each track): the session carries it.
            ["ALTER TABLE sessions ADD COLUMN media TEXT"]
        },
        Migration(version: 16, name: "nodes taken for lost") { _ in
            // When a node was taken for lost (`node.lost` sent once; cleared when it is back).
            ["ALTER TABLE nodes ADD COLUMN lost_at TEXT"]
        },
        Migration(version: 17, name: "files any node serves: node addresses, video owners, file deletions, the cluster secret") { b in
            [
                // Where the other nodes reach this one's internal endpoints (`cluster.advertiseUrl`).
                "ALTER TABLE nodes ADD COLUMN advertise_url TEXT",
                // The node whose disk holds the file (null: recorded before this, on the one node there was).
                "ALTER TABLE videos ADD COLUMN node_id TEXT",
                // A file to remove on the node that holds it: its owner applies and deletes the row
                // (docs/contract.md §7, "Files on several nodes").
                """
                CREATE TABLE file_deletions (seq \(b.autoIncrementPrimaryKey), node_id TEXT NOT NULL, path TEXT NOT NULL,
                  requested_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)
                """,
                "CREATE INDEX file_deletions_node ON file_deletions (node_id, seq)",
                // The key node-to-node requests are signed with when `cluster.secret` is not set:
                // made once, here, so every node on this database shares it with no configuration.
                "CREATE TABLE cluster_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
                // Nodes that left the `nodes` list: when (a clean stop), and whether the operator
                // removed them for good — their recordings' files are then unavailable.
                "CREATE TABLE departed_nodes (id TEXT PRIMARY KEY, departed_at TEXT NOT NULL, removed INTEGER NOT NULL DEFAULT 0)",
                b == .sqlite ? "INSERT INTO cluster_settings (name, value) VALUES ('secret', lower(hex(randomblob(32))))"
                    : "INSERT INTO cluster_settings (name, value) VALUES ('secret', md5(random()::text || clock_timestamp()::text) || md5(random()::text || clock_timestamp()::text))",
            ]
        },
        Migration(version: 18, name: "enhanced forwards, channel renditions") { _ in
            // A forward whose target speaks Enhanced RTMP gets every track (docs/contract.md §3).
            ["ALTER TABLE forwards ADD COLUMN enhanced INTEGER NOT NULL DEFAULT 0",
             // The renditions OBS is asked to encode (JSON; null: the automatic ladder).
             "ALTER TABLE channels ADD COLUMN renditions TEXT"]
        },
        Migration(version: 19, name: "session health seconds") { b in
            // Seconds the stream spent in each health state, added by each connection as it ends
            // (docs/contract.md §4, "Stream health"); Insights sums them.
            let real = b == .sqlite ? "REAL" : "DOUBLE PRECISION"
            return ["ALTER TABLE sessions ADD COLUMN healthy_sec \(real) NOT NULL DEFAULT 0",
                    "ALTER TABLE sessions ADD COLUMN degraded_sec \(real) NOT NULL DEFAULT 0",
                    "ALTER TABLE sessions ADD COLUMN starving_sec \(real) NOT NULL DEFAULT 0"]
        },
        Migration(version: 20, name: "insights: session times as numbers, peaks of live channels") { b in
            // Insights (docs/api.md, "Insights") sums sessions by UTC hour or day in SQL: their
            // times as epoch milliseconds, indexed by user and by channel.
            let epoch: (String) -> String = { column in
                b == .sqlite ? "CAST(ROUND((julianday(\(column)) - 2440587.5) * 86400000) AS INTEGER)"
                    : "(EXTRACT(EPOCH FROM \(column)::timestamptz) * 1000)::BIGINT"
            }
            return [
                "ALTER TABLE sessions ADD COLUMN started_ms BIGINT",
                "ALTER TABLE sessions ADD COLUMN ended_ms BIGINT",
                "UPDATE sessions SET started_ms = \(epoch("started_at")), ended_ms = CASE WHEN ended_at IS NULL THEN NULL ELSE \(epoch("ended_at")) END",
                "CREATE INDEX sessions_user_time ON sessions (user_id, started_ms)",
                "CREATE INDEX sessions_channel_time ON sessions (channel_id, started_ms)",
                "CREATE INDEX sessions_live ON sessions (user_id) WHERE ended_ms IS NULL",
                // The most channels live at once, per user (and '*': everyone) and UTC hour,
                // counted as each session starts.
                "CREATE TABLE live_peaks (user_id TEXT NOT NULL, hour_ms BIGINT NOT NULL, peak INTEGER NOT NULL, PRIMARY KEY (user_id, hour_ms))",
                // The longest session so far, per user and '*': how far before a range a session
                // that overlaps it can have started.
                "CREATE TABLE session_bounds (user_id TEXT PRIMARY KEY, longest_ms BIGINT NOT NULL)",
                "INSERT INTO session_bounds (user_id, longest_ms) SELECT COALESCE(user_id, ''), MAX(ended_ms - started_ms) FROM sessions WHERE ended_ms IS NOT NULL GROUP BY COALESCE(user_id, '')",
                "INSERT INTO session_bounds (user_id, longest_ms) SELECT '*', COALESCE(MAX(ended_ms - started_ms), 0) FROM sessions WHERE ended_ms IS NOT NULL",
                "CREATE INDEX events_type_time ON events (type, created_at)",
            ]
        },
        Migration(version: 21, name: "insights: hourly usage roll-up") { b in
            // Each ended session's time, bytes and health seconds by UTC hour, for its user
            // ('u:' + id), its channel ('c:' + id) and everyone ('*'); `live_at_start`: sessions
            // already live when the hour began. Written as sessions end; this fills it from the
            // sessions ended before (split hour by hour with a series of offsets).
            let real = b.doubleType
            var statements = ["""
                CREATE TABLE usage_hourly (scope TEXT NOT NULL, hour_ms BIGINT NOT NULL, streamed_ms BIGINT NOT NULL DEFAULT 0,
                  sessions INTEGER NOT NULL DEFAULT 0, bytes_in \(real) NOT NULL DEFAULT 0, degraded_sec \(real) NOT NULL DEFAULT 0,
                  starving_sec \(real) NOT NULL DEFAULT 0, live_at_start INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (scope, hour_ms))
                """, "CREATE INDEX sessions_live_channel ON sessions (channel_id) WHERE ended_ms IS NULL"]
            for scope in ["'u:' || s.user_id", "'c:' || s.channel_id", "'*'"] {
                statements.append("""
                    WITH RECURSIVE o(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM o
                        WHERE k < (SELECT COALESCE(MAX(ended_ms - started_ms), 0) / 3600000 + 1 FROM sessions WHERE ended_ms IS NOT NULL)),
                      parts AS (SELECT \(scope) AS scope, (s.started_ms / 3600000 + o.k) * 3600000 AS h, o.k AS k, s.started_ms AS st, s.ended_ms AS en,
                          CAST(s.bytes_in AS \(real)) AS bytes, s.degraded_sec AS deg, s.starving_sec AS stv
                        FROM sessions s JOIN o ON (s.started_ms / 3600000 + o.k) * 3600000 < s.ended_ms
                        WHERE s.ended_ms IS NOT NULL AND s.user_id IS NOT NULL)
                    INSERT INTO usage_hourly (scope, hour_ms, streamed_ms, sessions, bytes_in, degraded_sec, starving_sec, live_at_start)
                    SELECT scope, h, SUM((CASE WHEN en < h + 3600000 THEN en ELSE h + 3600000 END) - (CASE WHEN st > h THEN st ELSE h END)),
                      SUM(CASE WHEN k = 0 THEN 1 ELSE 0 END),
                      SUM(bytes * ((CASE WHEN en < h + 3600000 THEN en ELSE h + 3600000 END) - (CASE WHEN st > h THEN st ELSE h END)) / (CASE WHEN en > st THEN en - st ELSE 1 END)),
                      SUM(deg * ((CASE WHEN en < h + 3600000 THEN en ELSE h + 3600000 END) - (CASE WHEN st > h THEN st ELSE h END)) / (CASE WHEN en > st THEN en - st ELSE 1 END)),
                      SUM(stv * ((CASE WHEN en < h + 3600000 THEN en ELSE h + 3600000 END) - (CASE WHEN st > h THEN st ELSE h END)) / (CASE WHEN en > st THEN en - st ELSE 1 END)),
                      SUM(CASE WHEN k > 0 THEN 1 ELSE 0 END)
                    FROM parts GROUP BY scope, h
                    """)
            }
            return statements
        },
        Migration(version: 22, name: "index the sessions channels and leases are found by") { _ in
            // Every session end finds its channel and lease by session id (`UPDATE channels …
            // WHERE session_id = ?`): unindexed, that read all 100,000 channels of the accept
            // benchmark — 15 ms holding SQLite's one writer while publishers waited behind it
            // (BENCHMARKS.md, "Publish accept"). Partial: only channels with a session are in it.
            ["CREATE INDEX channels_session ON channels (session_id) WHERE session_id IS NOT NULL",
             "CREATE INDEX channel_leases_session ON channel_leases (session_id)"]
        },
        Migration(version: 23, name: "PostgreSQL: an event appended in one round trip") { b in
            // The event log's append (SQLChannelStore+Outbox.swift) as one function call: the lock,
            // MAX(seq) + 1, the event row and a delivery per matching webhook — 4 + 2 × webhooks
            // round trips before, each one holding the event-log lock longer (BENCHMARKS.md,
            // "PostgreSQL accept"). Each statement of a PL/pgSQL function takes a fresh snapshot
            // (READ COMMITTED), so MAX(seq) is read after the lock is held, as the statements
            // sent one by one did. The body arrives as the text around its `seq` (`parts`,
            // joined with the number); the filters are the ones `matches` applies in Swift.
            guard b == .postgres else { return [] }
            return ["""
                CREATE FUNCTION livegate_append_event(p_lock BIGINT, p_id TEXT, p_type TEXT, p_channel TEXT, p_user TEXT,
                  p_parts TEXT[], p_ts TEXT, p_lane TEXT) RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $fn$
                DECLARE
                  next_seq BIGINT;
                  hook RECORD;
                  busy BOOLEAN;
                BEGIN
                  PERFORM pg_advisory_xact_lock(p_lock);
                  SELECT COALESCE(MAX(seq), 0) + 1 INTO next_seq FROM events;
                  INSERT INTO events (seq, id, type, channel_id, user_id, payload, created_at)
                    VALUES (next_seq, p_id, p_type, p_channel, p_user, array_to_string(p_parts, next_seq::text), p_ts);
                  FOR hook IN SELECT w.id FROM webhooks w WHERE w.enabled = 1
                      AND (w.events = '[]' OR jsonb_exists(w.events::jsonb, p_type))
                      AND (w.channel_ids = '[]' OR (p_channel IS NOT NULL AND jsonb_exists(w.channel_ids::jsonb, p_channel)))
                      AND (w.user_ids = '[]' OR (p_user IS NOT NULL AND jsonb_exists(w.user_ids::jsonb, p_user)))
                      ORDER BY w.seq LOOP
                    -- Behind an undelivered event of the same lane it is queued; the head row is
                    -- locked so a head whose outcome another transaction records is seen done.
                    PERFORM 1 FROM webhook_deliveries d WHERE d.webhook_id = hook.id AND d.channel_key = p_lane
                      AND d.state IN ('pending', 'sending', 'queued') LIMIT 1 FOR UPDATE;
                    busy := FOUND;
                    INSERT INTO webhook_deliveries (id, webhook_id, event_seq, attempt, state, next_attempt_at, created_at, updated_at, channel_key)
                      VALUES ('dlv_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 20), hook.id, next_seq, 0,
                              CASE WHEN busy THEN 'queued' ELSE 'pending' END, p_ts, p_ts, p_ts, p_lane);
                  END LOOP;
                  RETURN next_seq;
                END
                $fn$
                """]
        },
    ]
}

/// The SQL differences between the two backends, kept in one place.
public enum SQLBackend: String, Sendable {
    case sqlite, postgres

    var autoIncrementPrimaryKey: String {
        self == .sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    }

    var doubleType: String { self == .sqlite ? "REAL" : "DOUBLE PRECISION" }

    /// Starts a write transaction. SQLite takes the write lock at once (no upgrade deadlocks).
    var beginWrite: String { self == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN" }
}
