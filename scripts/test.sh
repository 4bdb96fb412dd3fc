#!/usr/bin/env bash
# The project's one test command (`npm test`): brings up what the tests need, then runs lint, type
# check and every test. A missing dependency is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
die() { printf 'test setup failed: %s\n' "$*" >&2; exit 1; }

# Debian packages the integration tests drive for real (Prometheus, promtool, blackbox_exporter,
# Alertmanager's amtool, nftables, the NFQUEUE delay program's library, ping, openssl, psql).
APT_PACKAGES=(prometheus prometheus-blackbox-exporter prometheus-alertmanager nftables iproute2 iputils-ping
  libnetfilter-queue-dev gcc openssl postgresql-client)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}: run as root or install them with apt-get"
  apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

# PostgreSQL on 127.0.0.1:5432 with trust auth (the machine's cluster).
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  say "starting PostgreSQL"
  command -v pg_ctlcluster >/dev/null || die "PostgreSQL server is not installed (pg_ctlcluster not found)"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || die "cannot start PostgreSQL"
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432 -q || die "PostgreSQL did not come up on 127.0.0.1:5432"
fi

[ -x node_modules/.bin/vitest ] || { say "installing npm packages"; npm ci --no-audit --no-fund; }
[ "$(node_modules/.bin/node --version | cut -d. -f1)" = v22 ] || die "node_modules/.bin/node is not Node 22: run npm ci"

# Tests run the TypeScript sources (test/cli builds its own copy of the CLI); rebuilding dist/ here
# keeps the `observatory` command as fresh as the code that was just tested.
say "build the CLI (dist/cli)"
npm run --silent build
say "lint and format (biome)"
npx biome check .
say "type check (tsc)"
npx tsc --noEmit
say "tests (vitest)"
mkdir -p .tmp
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json "$@"
# vitest exits 0 with skipped or todo tests; this project counts them as failures.
node -e '
  const r = require("./.tmp/vitest.json");
  const line = `${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`;
  if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1); }
  if (r.numPendingTests + r.numTodoTests > 0) { console.error(`skipped or todo tests are not allowed: ${line}`); process.exit(1); }
  console.log(`vitest: ${line}`);
'
