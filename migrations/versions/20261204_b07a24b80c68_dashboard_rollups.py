"""dashboard rollups: counts kept current by triggers, so the overview never scans a table

Revision ID: b07a24b80c68
Revises: 5c1e7a9b2d40
Create Date: 2026-12-04 13:50:00.000000

Every write to ``clients``, ``emails`` and ``engagement_scores`` appends what it changes in
the dashboard's counts to ``rollup_deltas``, from a trigger, in the writer's transaction:

- ``tier``: clients per tier ('' for not yet scored); ``segment``: per segment;
  ``score_band``: per 10-point score band ('0' .. '9', 100 in '9'); ``email_status``:
  emails per status;
- ``at_risk_day``: per UTC day, clients who entered the at-risk tier that day minus those
  who left it, from the score history (a score row counts +1 when it is at risk and the
  client's previous one was not, -1 the other way round; histories written out of order or
  deleted are handled, the triggers look at both neighbours).

SQLite runs its row triggers one row at a time, each seeing the rows before it; PostgreSQL
runs one trigger per statement over its transition tables (set-based, so a bulk import
costs one aggregate, and a conflicting ``ON CONFLICT DO NOTHING`` row is never counted).
Appending instead of updating one counter row keeps concurrent writers from queueing (or
deadlocking) on a hot row; ``core.store.rollups.compact`` folds the deltas in.

The SQL is spelled out here, not imported: a migration is a record of what it did.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b07a24b80c68"
down_revision: str | None = "5c1e7a9b2d40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AT_RISK = "'at_risk'"


def _from(rows: str) -> str:
    """SQLite's row triggers name the row (NEW, OLD) without a FROM; everything else is a table."""
    return "" if rows in ("NEW", "OLD") else f" FROM {rows}"


def _client_keys(rows: str, sign: str, dialect: str) -> str:
    """The (dimension, key, delta) rows that ``rows`` (clients) contribute, times ``sign``."""
    if dialect == "sqlite":
        band = f"CAST(min(9, max(0, CAST({rows}.score / 10 AS INTEGER))) AS TEXT)"
    else:
        band = f"least(9, greatest(0, floor({rows}.score / 10)))::int::text"
    source = _from(rows)
    return (
        f"SELECT 'tier' AS dimension, coalesce({rows}.tier, '') AS key, {sign} AS delta{source}\n"
        f"    UNION ALL SELECT 'segment', {rows}.segment, {sign}{source} WHERE {rows}.segment IS NOT NULL\n"
        f"    UNION ALL SELECT 'score_band', {band}, {sign}{source} WHERE {rows}.score IS NOT NULL\n"
    )


def _email_keys(rows: str, sign: str) -> str:
    return f"SELECT 'email_status' AS dimension, {rows}.status AS key, {sign} AS delta{_from(rows)}\n"


def _net(changes: str) -> str:
    return (
        "INSERT INTO rollup_deltas (dimension, key, delta)\n"
        f"  SELECT dimension, key, sum(delta) FROM (\n    {changes}\n  ) AS changes\n"
        "  GROUP BY dimension, key HAVING sum(delta) <> 0"
    )


def _day_contributions(rows: str, dialect: str) -> str:
    """Per score row of ``rows`` (client_id, scored_at, tier): its day and its +1/-1/0 to the
    at-risk count, against the client's previous row in ``rows``."""
    day = "date(scored_at)" if dialect == "sqlite" else "to_char(scored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    entered = f"(tier = {AT_RISK})" if dialect == "sqlite" else f"(tier = {AT_RISK})::int"
    before = f"(lag(tier) OVER (PARTITION BY client_id ORDER BY scored_at) = {AT_RISK})"
    before = before if dialect == "sqlite" else f"{before}::int"
    return f"SELECT {day} AS day, {entered} - coalesce({before}, 0) AS delta FROM ({rows}) AS history"


# ---- SQLite: row triggers, each sees the table as earlier rows of its statement left it ----


def _sqlite_previous_at_risk(row: str) -> str:
    return (
        f"coalesce((SELECT p.tier = {AT_RISK} FROM engagement_scores AS p"
        f" WHERE p.client_id = {row}.client_id AND p.scored_at < {row}.scored_at"
        " ORDER BY p.scored_at DESC LIMIT 1), 0)"
    )


def _sqlite_score_change(row: str, sign: int) -> str:
    """A score row ``row`` appearing (sign 1) or disappearing (-1) between its neighbours P
    and N: its own day moves by [row] - [P]; N's day by [P] - [row] (N now follows it)."""
    mine = f"(({row}.tier = {AT_RISK}) - {_sqlite_previous_at_risk(row)})"
    return (
        "INSERT INTO rollup_deltas (dimension, key, delta)\n"
        "  SELECT 'at_risk_day', day, delta FROM (\n"
        f"    SELECT date({row}.scored_at) AS day, ({sign}) * {mine} AS delta\n"
        f"    UNION ALL SELECT date(n.scored_at), ({-sign}) * {mine} FROM (\n"
        "      SELECT scored_at FROM engagement_scores\n"
        f"      WHERE client_id = {row}.client_id AND scored_at > {row}.scored_at\n"
        "      ORDER BY scored_at LIMIT 1\n"
        "    ) AS n\n"
        "  ) WHERE delta <> 0"
    )


def _sqlite_upgrade() -> list[str]:
    changed = (
        "OLD.tier IS NOT NEW.tier OR OLD.segment IS NOT NEW.segment"
        " OR CAST(OLD.score / 10 AS INTEGER) IS NOT CAST(NEW.score / 10 AS INTEGER)"
    )
    return [
        f"CREATE TRIGGER rollup_clients_insert AFTER INSERT ON clients BEGIN\n"
        f"  {_net(_client_keys('NEW', '1', 'sqlite'))};\nEND",
        f"CREATE TRIGGER rollup_clients_update AFTER UPDATE OF tier, segment, score ON clients\n"
        f"WHEN {changed} BEGIN\n"
        f"  {_net(_client_keys('OLD', '-1', 'sqlite') + ' UNION ALL ' + _client_keys('NEW', '1', 'sqlite'))};\n"
        "END",
        f"CREATE TRIGGER rollup_clients_delete AFTER DELETE ON clients BEGIN\n"
        f"  {_net(_client_keys('OLD', '-1', 'sqlite'))};\nEND",
        f"CREATE TRIGGER rollup_emails_insert AFTER INSERT ON emails BEGIN\n  {_net(_email_keys('NEW', '1'))};\nEND",
        "CREATE TRIGGER rollup_emails_update AFTER UPDATE OF status ON emails WHEN OLD.status IS NOT NEW.status BEGIN\n"
        f"  {_net(_email_keys('OLD', '-1') + ' UNION ALL ' + _email_keys('NEW', '1'))};\nEND",
        f"CREATE TRIGGER rollup_emails_delete AFTER DELETE ON emails BEGIN\n  {_net(_email_keys('OLD', '-1'))};\nEND",
        "CREATE TRIGGER rollup_scores_insert AFTER INSERT ON engagement_scores BEGIN\n"
        f"  {_sqlite_score_change('NEW', 1)};\nEND",
        "CREATE TRIGGER rollup_scores_delete AFTER DELETE ON engagement_scores BEGIN\n"
        f"  {_sqlite_score_change('OLD', -1)};\nEND",
        "CREATE TRIGGER rollup_scores_immutable BEFORE UPDATE OF client_id, scored_at, tier ON engagement_scores\n"
        "BEGIN SELECT RAISE(ABORT, 'engagement_scores is append-only: insert a new score instead'); END",
    ]


SQLITE_TRIGGERS = [
    "rollup_clients_insert",
    "rollup_clients_update",
    "rollup_clients_delete",
    "rollup_emails_insert",
    "rollup_emails_update",
    "rollup_emails_delete",
    "rollup_scores_insert",
    "rollup_scores_delete",
    "rollup_scores_immutable",
]


# ---- PostgreSQL: statement triggers over transition tables (added, removed) -----------------


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n  {body};\n  RETURN NULL;\nEND\n$$"
    )


def _pg_trigger(table: str, event: str, function: str) -> str:
    tables = {
        "INSERT": "NEW TABLE AS added",
        "UPDATE": "OLD TABLE AS removed NEW TABLE AS added",
        "DELETE": "OLD TABLE AS removed",
    }[event]
    return (
        f"CREATE TRIGGER {function} AFTER {event} ON {table} REFERENCING {tables}\n"
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    )


def _pg_scores(affected: str, before: str) -> str:
    """The at-risk days of the affected clients' histories now, minus as they were ``before``."""
    now = f"SELECT client_id, scored_at, tier FROM engagement_scores WHERE client_id IN ({affected})"
    return (
        "INSERT INTO rollup_deltas (dimension, key, delta)\n"
        "  SELECT 'at_risk_day', day, sum(delta) FROM (\n"
        f"    SELECT day, delta FROM ({_day_contributions(now, 'postgresql')}) AS after_change\n"
        f"    UNION ALL SELECT day, -delta FROM ({_day_contributions(before, 'postgresql')}) AS before_change\n"
        "  ) AS changes GROUP BY day HAVING sum(delta) <> 0"
    )


def _pg_upgrade() -> list[str]:
    current = "SELECT client_id, scored_at, tier FROM engagement_scores WHERE client_id IN ({})"
    functions = {
        ("clients", "INSERT", "rollup_clients_insert"): _net(_client_keys("added", "1", "pg")),
        ("clients", "UPDATE", "rollup_clients_update"): _net(
            _client_keys("removed", "-1", "pg") + "\n    UNION ALL " + _client_keys("added", "1", "pg")
        ),
        ("clients", "DELETE", "rollup_clients_delete"): _net(_client_keys("removed", "-1", "pg")),
        ("emails", "INSERT", "rollup_emails_insert"): _net(_email_keys("added", "1")),
        ("emails", "UPDATE", "rollup_emails_update"): _net(
            _email_keys("removed", "-1") + " UNION ALL " + _email_keys("added", "1")
        ),
        ("emails", "DELETE", "rollup_emails_delete"): _net(_email_keys("removed", "-1")),
        ("engagement_scores", "INSERT", "rollup_scores_insert"): _pg_scores(
            "SELECT client_id FROM added",
            current.format("SELECT client_id FROM added") + " AND id NOT IN (SELECT id FROM added)",
        ),
        ("engagement_scores", "DELETE", "rollup_scores_delete"): _pg_scores(
            "SELECT client_id FROM removed",
            current.format("SELECT client_id FROM removed")
            + " UNION ALL SELECT client_id, scored_at, tier FROM removed",
        ),
    }
    statements = []
    for (table, event, name), body in functions.items():
        statements += [_pg_function(name, body), _pg_trigger(table, event, name)]
    statements += [
        _pg_function(
            "rollup_scores_immutable",
            "RAISE EXCEPTION 'engagement_scores is append-only: insert a new score instead'",
        ),
        "CREATE TRIGGER rollup_scores_immutable BEFORE UPDATE OF client_id, scored_at, tier ON engagement_scores\n"
        "FOR EACH ROW EXECUTE FUNCTION rollup_scores_immutable()",
    ]
    return statements


PG_TRIGGERS = {
    "rollup_clients_insert": "clients",
    "rollup_clients_update": "clients",
    "rollup_clients_delete": "clients",
    "rollup_emails_insert": "emails",
    "rollup_emails_update": "emails",
    "rollup_emails_delete": "emails",
    "rollup_scores_insert": "engagement_scores",
    "rollup_scores_delete": "engagement_scores",
    "rollup_scores_immutable": "engagement_scores",
}


def _backfill(dialect: str) -> str:
    """The counts of the rows already there (their deltas were never written)."""
    history = "SELECT client_id, scored_at, tier FROM engagement_scores"
    return (
        "INSERT INTO rollups (dimension, key, count)\n"
        "  SELECT dimension, key, sum(delta) FROM (\n"
        f"    {_client_keys('clients', '1', dialect)}\n"
        f"    UNION ALL {_email_keys('emails', '1')}\n"
        f"    UNION ALL SELECT 'at_risk_day', day, delta FROM ({_day_contributions(history, dialect)}) AS days\n"
        "  ) AS everything GROUP BY dimension, key HAVING sum(delta) <> 0"
    )


def upgrade() -> None:
    op.create_table(
        "rollups",
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "key", name=op.f("pk_rollups")),
    )
    op.create_table(
        "rollup_deltas",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_deltas")),
    )
    dialect = op.get_bind().dialect.name
    op.execute(_backfill(dialect))
    for statement in _sqlite_upgrade() if dialect == "sqlite" else _pg_upgrade():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name, table in PG_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("rollup_deltas")
    op.drop_table("rollups")
