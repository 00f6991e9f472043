#!/bin/sh
# One-shot job (temporalio/admin-tools): create Temporal's databases and bring their schemas
# to the version this server image expects. Safe to run again: existing databases are kept
# and update-schema only applies what is missing.
set -eu
SQL="temporal-sql-tool --plugin postgres12 --ep ${POSTGRES_SEEDS} -p ${DB_PORT} -u ${POSTGRES_USER} --pw ${POSTGRES_PWD}"
SCHEMA=/etc/temporal/schema/postgresql/v12

until nc -z "${POSTGRES_SEEDS}" "${DB_PORT}"; do echo "waiting for PostgreSQL"; sleep 1; done

for db in temporal temporal_visibility; do
  $SQL --db "$db" create-database || echo "database $db exists"
done
# setup-schema -v 0.0 creates the version table only when it is missing.
$SQL --db temporal setup-schema -v 0.0 || echo "temporal schema already versioned"
$SQL --db temporal update-schema -d "$SCHEMA/temporal/versioned"
$SQL --db temporal_visibility setup-schema -v 0.0 || echo "visibility schema already versioned"
$SQL --db temporal_visibility update-schema -d "$SCHEMA/visibility/versioned"
echo "Temporal schemas are up to date"
