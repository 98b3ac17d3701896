#!/usr/bin/env bash
# Validates the deployment files without a Docker engine (CI has none):
#   docker-compose config         compose/docker-compose.yml parses and resolves (Debian's docker-compose)
#   check-deploy.mjs              Grafana dashboard by JSON schema, compose/Dockerfile structure
#   promtool check config|rules   the Prometheus config, and every dashboard query's PromQL
#   dockerfile-utils, dockerfilelint   two Dockerfile linters from npm
# Installs what is missing (apt-get for docker-compose and promtool, npm exec for the linters).
# Exit code 0 only when everything passes. Called by test/integration/deploy.test.ts.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v docker-compose >/dev/null || need_apt+=(docker-compose)
command -v promtool >/dev/null || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "validate-deploy: installing ${need_apt[*]} from Debian" >&2
  if [ "$(id -u)" -eq 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
  ($apt_get update -qq && DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq --no-install-recommends "${need_apt[@]}") >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== docker-compose config"
docker-compose -f compose/docker-compose.yml config -q
echo "ok"

echo "== structure (dashboard schema, compose, Dockerfile)"
node scripts/check-deploy.mjs --rules "$tmp/dashboard-rules.yml"

echo "== promtool"
promtool check config compose/prometheus/prometheus.yml
promtool check rules "$tmp/dashboard-rules.yml"

echo "== Dockerfile lint"
# Pinned versions, fetched into npm's cache on first use; run outside the project so that they
# never touch package.json.
(cd "$tmp" && npm exec --yes --package=dockerfile-utils@0.16.3 -- dockerfile-utils lint "$OLDPWD/Dockerfile")
(cd "$tmp" && npm exec --yes --package=dockerfilelint@1.8.0 -- dockerfilelint "$OLDPWD/Dockerfile")
echo "validate-deploy: all deployment files are valid"
