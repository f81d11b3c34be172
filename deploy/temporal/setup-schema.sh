#!/bin/sh
# One-shot (temporalio/admin-tools): creates Temporal's two databases on its Postgres and brings their
# schemas to the version the server image expects. Safe to run on every `docker compose up`:
# setup-schema and update-schema are idempotent, so an existing database is simply checked and upgraded.
set -eu
sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"; }  # password: $SQL_PASSWORD
schemas=/etc/temporal/schema/postgresql/v12

for db in temporal:temporal temporal_visibility:visibility; do
  name=${db%%:*}
  dir=${db#*:}
  # "create" fails when the database exists (every start after the first); setup-schema below fails
  # loudly if the database is really missing or unreachable.
  sql --db "$name" create || echo "database $name exists"
  sql --db "$name" setup-schema -v 0.0
  sql --db "$name" update-schema -d "$schemas/$dir/versioned"
done
echo "Temporal schemas are up to date"
