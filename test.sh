#!/usr/bin/env bash
# Runs javic's tests (unit, scenario, architecture) with a JDK >= 25, the same way everywhere.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/jdk.sh
use_jdk test.sh
exec mvn -B -ntp verify "$@"
