#!/usr/bin/env bash
# Runs javic's JMH benchmarks (src/test/java/dev/javic/bench; never run by `mvn verify`):
#   bash bench.sh                      # TracingOverhead: tracing off vs a sink attached
#   bash bench.sh REGEX [JMH OPTIONS]  # e.g. bash bench.sh TracingOverheadScenario -p sink=none,ftrace -prof gc
# Builds the test classes with Maven (JMH's annotation processor generates the benchmarks), then runs
# org.openjdk.jmh.Main on a copy of the test class path with a JDK >= 25.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/jdk.sh
use_jdk bench.sh
mvn -q -B -ntp test-compile dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile=target/bench.classpath >&2
[ $# -gt 0 ] || set -- TracingOverhead
# Run from a private copy of the classes, so that a build started meanwhile (mvn clean, another test run)
# cannot pull them from under the benchmark's forked JVMs.
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp -r target/classes "$copy/classes"
cp -r target/test-classes "$copy/test-classes"
cp target/bench.classpath "$copy/bench.classpath"
"$JAVA_HOME/bin/java" -cp "$copy/test-classes:$copy/classes:$(cat "$copy/bench.classpath")" org.openjdk.jmh.Main "$@"
