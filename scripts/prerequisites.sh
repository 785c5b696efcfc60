#!/usr/bin/env bash
# What the test suite needs on a Debian machine beyond `npm install`, installed when missing
# (as root) or named with the command to run (otherwise). Runs before every `npm test`; a warm
# run only checks. Then finds or builds the Temporal CLI once, as its own visible step.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
if ! have initdb && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then missing+=(postgresql); fi
have psql || missing+=(postgresql-client)
{ have runuser && have setpriv; } || missing+=(util-linux)
have docker-compose || missing+=(docker-compose)          # static check of docker-compose.yml
[ -x /usr/bin/chromium ] || missing+=(chromium)           # the Temporal UI browser test
have pgcopydb || missing+=(pgcopydb)                      # the benchmark's smoke run
have openssl || missing+=(openssl)                        # the throwaway CA of the Temporal mTLS test
have haproxy || missing+=(haproxy)                        # the mTLS endpoint in front of the dev server

if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    echo "pgferry: installing test prerequisites: ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "pgferry: the tests need these Debian packages: ${missing[*]}" >&2
    echo "         sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

node --import tsx src/dev/provision.ts >/dev/null
