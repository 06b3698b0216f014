#!/usr/bin/env bash
# Runs javic's tests (unit, scenario, architecture) with a JDK >= 25, the same way everywhere.
set -euo pipefail
cd "$(dirname "$0")"
found=
for cand in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*; do
  [ -n "$cand" ] && [ -x "$cand/bin/javac" ] || continue
  v=$("$cand/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1)
  if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null; then export JAVA_HOME="$cand"; found=1; break; fi
done
[ -n "$found" ] || { echo "test.sh: no JDK 25 or newer found (set JAVA_HOME or install one under /usr/lib/jvm)" >&2; exit 2; }
exec mvn -B -ntp verify "$@"
