# Sourced by .ci/run: start Debian's PostgreSQL cluster on 127.0.0.1 and export the URL the
# human-eval tests use (BENCH_TEST_POSTGRES_URL). Without it those tests run on SQLite only,
# except under CI=true, where a missing server is a failure.
PGVER=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$PGVER main"; then
  pg_createcluster "$PGVER" main >/dev/null
fi
pg_ctlcluster "$PGVER" main start 2>/dev/null || true
for _ in $(seq 30); do pg_isready -h 127.0.0.1 -q && break; sleep 1; done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='bench'\"" | grep -q 1 || \
  su postgres -c "psql -qc \"CREATE ROLE bench LOGIN PASSWORD 'bench' CREATEDB\""
export BENCH_TEST_POSTGRES_URL="postgresql+psycopg://bench:bench@127.0.0.1:5432/postgres"
