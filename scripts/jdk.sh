# Sourced by ./javic, test.sh and bench.sh: find_jdk prints the first JDK >= 25 (JAVA_HOME first, then
# /usr/lib/jvm), the language level javic is built at (the /dev/kvm backend uses the final FFM API).
JAVIC_MIN_JDK=25

java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1
}

find_jdk() {
  local cand v
  for cand in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*; do
    [ -n "$cand" ] && [ -x "$cand/bin/java" ] && [ -x "$cand/bin/javac" ] || continue
    v=$(java_major "$cand")
    if [ -n "$v" ] && [ "${v%%.*}" -ge "$JAVIC_MIN_JDK" ] 2>/dev/null; then
      echo "$cand"
      return 0
    fi
  done
  return 1
}

# use_jdk NAME: exports JAVA_HOME or exits 2 with one line naming the caller.
use_jdk() {
  local jdk
  jdk=$(find_jdk) || { echo "$1: no JDK $JAVIC_MIN_JDK or newer found (set JAVA_HOME or install one under /usr/lib/jvm)" >&2; exit 2; }
  export JAVA_HOME="$jdk"
}
