#!/usr/bin/env bash
# Runs javic's tests (unit, scenario, architecture) with a JDK >= 21, the same way everywhere.
set -euo pipefail
cd "$(dirname "$0")"
for cand in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*; do
  [ -n "$cand" ] && [ -x "$cand/bin/javac" ] || continue
  v=$("$cand/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1)
  if [ -n "$v" ] && [ "${v%%.*}" -ge 21 ] 2>/dev/null; then export JAVA_HOME="$cand"; break; fi
done
exec mvn -B -ntp verify "$@"
