"""Numbered schema migrations; applied ones are recorded in `schema_migrations`.

Never edit a released migration: add the next number. Each entry yields statements for
SQLite (`pg=False`) or PostgreSQL (`pg=True`); only the key type differs.
"""

from __future__ import annotations

from collections.abc import Callable

Statements = Callable[[bool], list[str]]


def _pk(pg: bool) -> str:
    return "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" if pg else "INTEGER PRIMARY KEY AUTOINCREMENT"


def _v1(pg: bool) -> list[str]:
    # Released: these statements, in this order, must never change (split in two for reading only).
    return [*_v1_log(_pk(pg)), *_v1_console(_pk(pg)),
            "CREATE INDEX ix_findings_event ON event_findings (event_id)",
            "CREATE INDEX ix_reviews_event ON reviews (event_id)",
            "CREATE INDEX ix_audit_event ON audit (event_uid)"]


def _v1_log(pk: str) -> list[str]:
    return [
        # One row per intercepted action. `seq`/`prev_hash`/`hash` form a chain per device;
        # `review_status` is review metadata and deliberately outside the chain.
        f"""CREATE TABLE events (
            id {pk},
            uid TEXT NOT NULL UNIQUE,
            ts TEXT NOT NULL,
            device TEXT NOT NULL,
            seq BIGINT NOT NULL,
            employee TEXT,
            source TEXT NOT NULL,
            site TEXT,
            url TEXT,
            account TEXT,
            target TEXT,
            kind TEXT,
            action TEXT NOT NULL,
            rules TEXT NOT NULL DEFAULT '',
            findings TEXT NOT NULL DEFAULT '[]',
            justification TEXT,
            content_mode TEXT NOT NULL,
            content TEXT,
            content_hash TEXT,
            policy_digest TEXT,
            error TEXT,
            request_id TEXT,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            review_status TEXT NOT NULL DEFAULT 'open',
            UNIQUE (device, seq)
        )""",
        """CREATE TABLE event_findings (
            event_id BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            rule TEXT NOT NULL,
            clause TEXT NOT NULL
        )""",
        "CREATE TABLE chain_heads (device TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL)",
        # Where a device's chain restarts after retention purged its oldest events.
        """CREATE TABLE chain_anchors (device TEXT PRIMARY KEY, seq BIGINT NOT NULL,
            hash TEXT NOT NULL, purged_at TEXT NOT NULL)""",
        f"""CREATE TABLE reviews (
            id {pk},
            event_id BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            ts TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            status TEXT NOT NULL,
            note TEXT
        )""",
    ]


def _v1_console(pk: str) -> list[str]:
    return [
        # Who did what in the console (views, reviews, exports, logins) and purges.
        f"""CREATE TABLE audit (
            id {pk},
            ts TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            event_uid TEXT,
            detail TEXT
        )""",
        """CREATE TABLE users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            pw_hash TEXT NOT NULL,
            created TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            csrf TEXT NOT NULL,
            created TEXT NOT NULL,
            expires TEXT NOT NULL
        )""",
    ]


def _v2(pg: bool) -> list[str]:
    # Indexes for the console's event list (newest first, filtered); see bench/store.
    return [
        "CREATE INDEX ix_events_ts ON events (ts)",
        "CREATE INDEX ix_events_action ON events (action, id)",
        "CREATE INDEX ix_events_site ON events (site, id)",
        "CREATE INDEX ix_events_employee ON events (employee, id)",
        "CREATE INDEX ix_events_device ON events (device, id)",
        "CREATE INDEX ix_events_review ON events (review_status, id)",
        "CREATE INDEX ix_findings_rule ON event_findings (rule, event_id)",
        "CREATE INDEX ix_findings_clause ON event_findings (clause, event_id)",
    ]


def _v3(pg: bool) -> list[str]:
    # The event list is ordered by event time. Rules and clauses move to their own tables (one
    # row per event and value, with the event's time) so that every console filter has an index
    # that yields rows already in time order: a page stops after 51 rows instead of sorting.
    tail = "" if pg else " WITHOUT ROWID"
    stmts = [f"DROP INDEX {ix}" for ix in ("ix_events_ts", "ix_events_action", "ix_events_site",
                                             "ix_events_employee", "ix_events_device", "ix_events_review",
                                             "ix_findings_rule", "ix_findings_clause")]
    for name, col in (("event_rules", "rule"), ("event_clauses", "clause")):
        stmts += [
            f"""CREATE TABLE {name} (event_id BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
                {col} TEXT NOT NULL, ts TEXT NOT NULL, PRIMARY KEY (event_id, {col})){tail}""",
            f"INSERT INTO {name} (event_id, {col}, ts) SELECT DISTINCT f.event_id, f.{col}, e.ts "
            f"FROM event_findings f JOIN events e ON e.id = f.event_id WHERE f.{col} <> ''",
            f"CREATE INDEX ix_{name}_{col} ON {name} ({col}, ts, event_id)",
        ]
    stmts.append("DROP TABLE event_findings")
    stmts.append("CREATE INDEX ix_events_ts ON events (ts, id)")
    for col in ("action", "site", "employee", "device", "review_status"):
        stmts.append(f"CREATE INDEX ix_events_{col}_ts ON events ({col}, ts, id)")
    return stmts


def _v4(pg: bool) -> list[str]:
    # (rule, clause) pairs as found together in one finding: "conduct findings citing P9" is
    # then one index range, even when the answer is empty (a rule/clause join would scan).
    if pg:
        fill = ("INSERT INTO event_pairs (event_id, rule, clause, ts) SELECT DISTINCT e.id, j->>'rule', "
                "j->>'clause', e.ts FROM events e, jsonb_array_elements(e.findings::jsonb) j "
                "WHERE j->>'rule' IS NOT NULL AND j->>'clause' IS NOT NULL")
    else:
        fill = ("INSERT INTO event_pairs (event_id, rule, clause, ts) SELECT DISTINCT e.id, "
                "json_extract(j.value, '$.rule'), json_extract(j.value, '$.clause'), e.ts "
                "FROM events e, json_each(e.findings) j "
                "WHERE json_extract(j.value, '$.rule') IS NOT NULL AND json_extract(j.value, '$.clause') IS NOT NULL")
    return [
        """CREATE TABLE event_pairs (event_id BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            rule TEXT NOT NULL, clause TEXT NOT NULL, ts TEXT NOT NULL, PRIMARY KEY (event_id, rule, clause))"""
        + ("" if pg else " WITHOUT ROWID"),
        fill,
        "CREATE INDEX ix_event_pairs ON event_pairs (rule, clause, ts, event_id)",
    ]


LEAD_TABLES = (("event_rules", "rule", "ix_event_rules_rule"), ("event_clauses", "clause", "ix_event_clauses_clause"),
               ("event_pairs", "rule, clause", "ix_event_pairs"))


def _v5(pg: bool) -> list[str]:
    # Copies of the low-selectivity event columns (site, action, review status) beside each rule
    # and clause, inside the index that leads the query: "conduct on facebook, warned, open" is
    # filtered in the index, and only the events shown are read (PostgreSQL otherwise paid one
    # heap visit per rule row, ~0.4 s for an empty answer at 1,000,000 events).
    stmts = []
    for table, cols, ix in LEAD_TABLES:
        stmts += [
            f"ALTER TABLE {table} ADD COLUMN site TEXT",
            f"ALTER TABLE {table} ADD COLUMN action TEXT NOT NULL DEFAULT ''",
            f"ALTER TABLE {table} ADD COLUMN review_status TEXT NOT NULL DEFAULT 'open'",
            f"UPDATE {table} SET site = (SELECT e.site FROM events e WHERE e.id = {table}.event_id), "
            f"action = (SELECT e.action FROM events e WHERE e.id = {table}.event_id), "
            f"review_status = (SELECT e.review_status FROM events e WHERE e.id = {table}.event_id)",
            f"DROP INDEX {ix}",
            (f"CREATE INDEX {ix} ON {table} ({cols}, ts, event_id) INCLUDE (site, action, review_status)" if pg
             else f"CREATE INDEX {ix} ON {table} ({cols}, ts, event_id, site, action, review_status)"),
        ]
    return stmts


def _v6(pg: bool) -> list[str]:
    # The district server: enrolled devices and their health, one-time enrolment codes (their
    # SHA-256 only), device problems, signed chain-head checkpoints (append-only), policy digests
    # the server has served, and on each event the server's receive time and the device's skew.
    pk, real = _pk(pg), ("DOUBLE PRECISION" if pg else "REAL")
    return [
        "ALTER TABLE events ADD COLUMN received_at TEXT",
        f"ALTER TABLE events ADD COLUMN skew_seconds {real}",
        "CREATE INDEX ix_events_device_received ON events (device, received_at)",
        *_v6_devices(pk, real),
        f"""CREATE TABLE device_problems (
            id {pk},
            device TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL,
            seq BIGINT,
            opened TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            times INTEGER NOT NULL DEFAULT 1,
            resolved TEXT
        )""",
        "CREATE INDEX ix_device_problems_open ON device_problems (resolved, device, kind)",
        f"""CREATE TABLE checkpoints (
            id {pk},
            ts TEXT NOT NULL,
            key_id TEXT NOT NULL,
            payload TEXT NOT NULL,
            signature TEXT NOT NULL,
            reason TEXT NOT NULL
        )""",
        "CREATE TABLE policy_digests (digest TEXT PRIMARY KEY, first_served TEXT NOT NULL)",
        *_v6_append_only(pg),
    ]


def _v6_devices(pk: str, real: str) -> list[str]:
    return [
        f"""CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            public_key TEXT NOT NULL,
            hostname TEXT NOT NULL,
            name TEXT,
            enrolled_at TEXT NOT NULL,
            revoked_at TEXT,
            last_seen TEXT,
            heartbeat_at TEXT,
            heartbeat_interval INTEGER NOT NULL,
            agent_version TEXT,
            policy_digest TEXT,
            last_seq BIGINT,
            head_hash TEXT,
            proxy_up INTEGER,
            backend_up INTEGER,
            extension_seen TEXT,
            queue_depth BIGINT,
            queue_limit BIGINT,
            clock TEXT,
            skew_seconds {real},
            started_at TEXT
        )""",
        f"""CREATE TABLE enrol_codes (
            id {pk},
            code_hash TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL,
            expires TEXT NOT NULL,
            created_by TEXT NOT NULL,
            used_at TEXT,
            device TEXT
        )""",
    ]


def _v6_append_only(pg: bool) -> list[str]:
    # Checkpoints are never changed or removed by postguard; the database refuses it too (someone
    # with database access can drop the trigger, which is why checkpoints are exported and signed).
    if pg:
        return [
            """CREATE FUNCTION postguard_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'checkpoints are append-only'; END $$""",
            """CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
            FOR EACH ROW EXECUTE FUNCTION postguard_append_only()""",
        ]
    return [
        f"""CREATE TRIGGER checkpoints_no_{op.lower()} BEFORE {op} ON checkpoints
        BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END"""
        for op in ("UPDATE", "DELETE")
    ]


def _v7(pg: bool) -> list[str]:
    # Incidents: the events of one post (its warning, the choice, the proxy's view of it) under
    # the first event's uid (`store.incidents`), with what the console's queue sorts and filters
    # on. Severity and the join gap come from the policy through `incident_settings`; existing
    # events start as one incident each, built when the console first configures the log.
    return [
        "ALTER TABLE events ADD COLUMN incident TEXT",
        "UPDATE events SET incident = uid",
        "CREATE INDEX ix_events_incident ON events (incident, ts, id)",
        """CREATE TABLE incidents (
            id TEXT PRIMARY KEY REFERENCES events(uid) ON DELETE CASCADE,
            device TEXT NOT NULL,
            site_key TEXT NOT NULL,
            site TEXT,
            account TEXT,
            target TEXT,
            target_source TEXT,
            employee TEXT,
            first_ts TEXT NOT NULL,
            last_ts TEXT NOT NULL,
            events INTEGER NOT NULL,
            sources TEXT NOT NULL,
            actions TEXT NOT NULL,
            outcome TEXT NOT NULL,
            rules TEXT NOT NULL DEFAULT '',
            rule TEXT,
            category TEXT,
            clause TEXT,
            severity TEXT,
            severity_rank INTEGER NOT NULL DEFAULT 0,
            flagged INTEGER NOT NULL DEFAULT 0,
            justification TEXT,
            lead_event TEXT NOT NULL,
            last_event TEXT NOT NULL,
            content_hash TEXT,
            review_status TEXT NOT NULL DEFAULT 'open',
            assignee TEXT
        )""",
        "CREATE INDEX ix_incidents_join ON incidents (device, site_key, last_ts)",
        "CREATE INDEX ix_incidents_last ON incidents (last_ts, id)",
        "CREATE INDEX ix_incidents_queue ON incidents (severity_rank, last_ts, id)",
        "CREATE INDEX ix_incidents_status ON incidents (review_status, flagged, severity_rank, last_ts)",
        "CREATE INDEX ix_incidents_assignee ON incidents (assignee, last_ts)",
        "ALTER TABLE reviews ADD COLUMN incident TEXT",
        "UPDATE reviews SET incident = (SELECT e.uid FROM events e WHERE e.id = reviews.event_id)",
        "CREATE INDEX ix_reviews_incident ON reviews (incident, id)",
        "CREATE TABLE incident_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ]


def _v8(pg: bool) -> list[str]:
    # Signed policy bundles (`postguard policy publish`): the tar.gz as base64 text (the same column
    # type on both backends), the exact manifest text that was signed, and its signature.
    return [
        """CREATE TABLE policy_bundles (
            version BIGINT PRIMARY KEY,
            created_at TEXT NOT NULL,
            policy_digest TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size BIGINT NOT NULL,
            manifest TEXT NOT NULL,
            signature TEXT NOT NULL,
            bundle TEXT NOT NULL,
            published_by TEXT NOT NULL
        )""",
    ]


def _v9(pg: bool) -> list[str]:
    # The alert outbox (server/alerts.py): one row per alert and recipient, written in the ingest
    # transaction, deleted never, marked sent once delivered. `payload` holds ids only (kind,
    # severity, rules, clauses, device, time, link): never a post, an excerpt or a name.
    return [
        f"""CREATE TABLE alert_outbox (
            id {_pk(pg)},
            created TEXT NOT NULL,
            event_uid TEXT NOT NULL,
            kind TEXT NOT NULL,
            route TEXT NOT NULL,
            channel TEXT NOT NULL,
            target TEXT NOT NULL,
            mode TEXT NOT NULL,
            payload TEXT NOT NULL,
            next_try TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at TEXT,
            UNIQUE (event_uid, kind, channel, target)
        )""",
        "CREATE INDEX ix_alert_outbox_due ON alert_outbox (next_try) WHERE sent_at IS NULL",
        "CREATE INDEX ix_alert_outbox_sent ON alert_outbox (sent_at) WHERE sent_at IS NOT NULL",
    ]


def _v10(pg: bool) -> list[str]:
    # The staff member of each event (an e-mail address or an OS account name) and how the writer
    # knew it (store.event.STAFF_SOURCES); chained when set. Incidents carry their first event's,
    # for the console's list and filter.
    return [
        "ALTER TABLE events ADD COLUMN staff TEXT",
        "ALTER TABLE events ADD COLUMN staff_source TEXT",
        "CREATE INDEX ix_events_staff ON events (staff, id)",
        "ALTER TABLE incidents ADD COLUMN staff TEXT",
        "ALTER TABLE incidents ADD COLUMN staff_source TEXT",
        "CREATE INDEX ix_incidents_staff ON incidents (staff, last_ts)",
    ]


def _v11(pg: bool) -> list[str]:
    # The review queue at 100,000 events and more (bench/incidents): each sort has an index in its
    # order (with id, so a page needs no sort) carrying the review status (and, for newest first,
    # the severity) as trailing key columns, checked inside the index while a page fills; "with
    # findings" is severity_rank > 0, a range of the first. Employee and assignee lead their own.
    # `tags` holds one token per rule, clause, rule+clause, site, action and staff member any of
    # the incident's events has (store.incidents.tag): an event filter that matches many events is
    # checked on the incident's row instead of by probing its events (on SQLite inside the two
    # order indexes, which carry it last; PostgreSQL limits an index entry to 2.7 kB, which a
    # long tag list could pass). It is filled when the console next configures the log
    # (store.incidents.configure builds every incident again).
    tags = "" if pg else ", tags"
    return [
        "ALTER TABLE incidents ADD COLUMN tags TEXT",
        *(f"DROP INDEX {ix}" for ix in ("ix_incidents_last", "ix_incidents_queue", "ix_incidents_status",
                                         "ix_incidents_assignee")),
        f"CREATE INDEX ix_incidents_queue ON incidents (severity_rank, last_ts, id, review_status{tags})",
        f"CREATE INDEX ix_incidents_last ON incidents (last_ts, id, severity_rank, review_status{tags})",
        "CREATE INDEX ix_incidents_assignee ON incidents (assignee, severity_rank, last_ts, id)",
        "CREATE INDEX ix_incidents_employee ON incidents (employee, last_ts, id)",
    ]


# An incident's tags as an array: the expression migration 12 indexes (released: never change it).
TAG_TOKENS = "string_to_array(btrim(tags), ' ')"


def _v12(pg: bool) -> list[str]:
    # PostgreSQL: a GIN index on the tokens of `incidents.tags` (store.incidents.tag: " tok tok "),
    # which store.queue reads when two or more event filters each match many events: how many
    # incidents have all their tags is then counted in the index (stopping at queue.RARE) instead
    # of by reading the queue to its end. The queue's SQL must spell the expression the same way
    # (TAG_TOKENS) for the planner to match it. fastupdate off: every search reads GIN's pending
    # list of new entries whole, which only a vacuum or its passing 4 MB empties (20,000 events
    # loaded as bench/incidents does, no vacuum: 27-31 ms per count instead of 0.4 ms; the load
    # took as long either way).
    # SQLite keeps the tags in its order indexes.
    return [f"CREATE INDEX ix_incidents_tags ON incidents USING gin ({TAG_TOKENS}) WITH (fastupdate = off)"] if pg else []


def _v13(pg: bool) -> list[str]:
    # The events a device's choice was logged as, by its request id: a batch the extension sends
    # again after the backend or the server restarted is stored once (extension.backend.decide.Recent).
    return ["CREATE INDEX ix_events_request ON events (request_id) WHERE request_id IS NOT NULL"]


MIGRATIONS: list[tuple[int, str, Statements]] = [
    (1, "events, chain, reviews, audit, users, sessions", _v1),
    (2, "event list indexes", _v2),
    (3, "time-ordered event list: event_rules, event_clauses, (filter, ts) indexes", _v3),
    (4, "event_pairs: rule and clause found together", _v4),
    (5, "site, action and review status beside rules and clauses, in their indexes", _v5),
    (6, "district server: devices, enrolment codes, device problems, checkpoints, received_at", _v6),
    (7, "incidents: the events of one post, severity, review and assignment per incident", _v7),
    (8, "policy_bundles: signed policy bundles devices fetch", _v8),
    (9, "alert_outbox: alerts waiting to be sent by e-mail or webhook", _v9),
    (10, "staff and staff_source on events and incidents", _v10),
    (11, "review queue indexes in each sort's order; incidents.tags for the event filters", _v11),
    (12, "PostgreSQL: GIN index on the tokens of incidents.tags", _v12),
    (13, "events by request id (a resent choice is stored once across restarts)", _v13),
]
