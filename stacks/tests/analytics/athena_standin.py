"""Runs the county's Athena named queries with DuckDB standing in for Athena.

Usage: athena_standin.py SPEC.json
SPEC: {"data": dir of county=<id>/dt=<day>/*.json files (EventBridge envelopes,
one per line, as Firehose writes them), "database": Glue database name,
"table": table name, "columns": [[name, hive type], ...] (the Glue table's),
"mapping": {column: json key} (the SerDe's mapping.* properties),
"queries": [[name, sql], ...]}.
Prints {name: {"columns": [[name, duckdb type], ...], "rows": [[...], ...]}}.

Where DuckDB is not Trino, and what this does about it:
- The OpenX JSON SerDe's `mapping.<field>=<key>` applies to a field of that
  name at every level of nesting; DuckDB has no SerDe, so the table is a view
  that applies the mapping the same way, nested structs included.
- Trino functions DuckDB lacks (`from_iso8601_timestamp`, `date_format`) are
  macros over DuckDB's equivalents; the session time zone is UTC, as Athena's.
- Decimal division: Trino keeps the operands' larger scale (`x / 100.0` has one
  decimal place), DuckDB returns DOUBLE. The queries must not divide money; the
  Rust test asserts that, and that money columns come back DECIMAL(18,2).
"""
import json
import sys

import duckdb

SCALARS = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "double": "DOUBLE", "boolean": "BOOLEAN"}


def parse(t):
    """Hive type string -> ("scalar", name) | ("array", t) | ("struct", [(name, t)])."""
    t = t.strip()
    if t.startswith("array<") and t.endswith(">"):
        return ("array", parse(t[6:-1]))
    if t.startswith("struct<") and t.endswith(">"):
        fields, depth, start, body = [], 0, 0, t[7:-1]
        for i, c in enumerate(body + ","):
            if c == "<":
                depth += 1
            elif c == ">":
                depth -= 1
            elif c == "," and depth == 0:
                name, _, ft = body[start:i].partition(":")
                fields.append((name.strip(), parse(ft)))
                start = i + 1
        return ("struct", fields)
    if t not in SCALARS:
        raise SystemExit(f"unsupported Hive type {t!r}")
    return ("scalar", SCALARS[t])


def q(name):
    return '"' + name.replace('"', '""') + '"'


def json_type(t, mapping):
    """The DuckDB type to read, with struct fields named by their JSON keys."""
    kind, inner = t
    if kind == "scalar":
        return inner
    if kind == "array":
        return json_type(inner, mapping) + "[]"
    return "STRUCT(" + ", ".join(f"{q(mapping.get(n, n))} {json_type(ft, mapping)}" for n, ft in inner) + ")"


def remap(expr, t, mapping):
    """Renames struct fields back from JSON keys to column names."""
    kind, inner = t
    if kind != "struct":
        return expr
    parts = ", ".join(f"{q(n)} := {remap(f'{expr}.{q(mapping.get(n, n))}', ft, mapping)}" for n, ft in inner)
    return f"CASE WHEN {expr} IS NULL THEN NULL ELSE struct_pack({parts}) END"


def plain(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def main():
    spec = json.load(open(sys.argv[1]))
    mapping = spec["mapping"]
    cols = [(n, parse(t)) for n, t in spec["columns"]]
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.execute("CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)")
    db.execute("CREATE MACRO date_format(ts, f) AS strftime(ts, f)")
    read_cols = "{" + ", ".join(f"{json.dumps(mapping.get(n, n))}: '{json_type(t, mapping)}'" for n, t in cols) + "}"
    select = ", ".join(f"{remap(q(mapping.get(n, n)), t, mapping)} AS {q(n)}" for n, t in cols)
    path = spec["data"].rstrip("/") + "/*/*/*.json"
    db.execute(f"CREATE SCHEMA {q(spec['database'])}")
    db.execute(
        f"CREATE VIEW {q(spec['database'])}.{q(spec['table'])} AS SELECT {select}, county, dt "
        f"FROM read_json('{path}', format = 'newline_delimited', columns = {read_cols}, "
        f"hive_partitioning = true, hive_types_autocast = false)"
    )
    out = {}
    for name, sql in spec["queries"]:
        try:
            rel = db.sql(sql)
        except duckdb.Error as e:
            raise SystemExit(f"query {name!r} failed: {e}\n{sql}")
        types = [[c, str(t)] for c, t in zip(rel.columns, rel.types)]
        # Instants as ISO 8601 text: fetching TIMESTAMPTZ would need pytz.
        shown = ", ".join(
            f"strftime({q(c)}, '%Y-%m-%dT%H:%M:%S+00:00') AS {q(c)}" if t == "TIMESTAMP WITH TIME ZONE" else q(c)
            for c, t in types
        )
        out[name] = {"columns": types, "rows": [plain(list(r)) for r in rel.project(shown).fetchall()]}
    json.dump(out, sys.stdout, indent=1)


main()
