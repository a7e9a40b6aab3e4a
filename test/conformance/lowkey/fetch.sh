#!/usr/bin/env bash
# Puts the Lowkey Vault app jar in .cache/lowkey/ for the conformance lane (vitest.lowkey.config.ts).
#
#   test/conformance/lowkey/fetch.sh                    from Maven Central, with Maven
#   test/conformance/lowkey/fetch.sh --from-source DIR  built with Maven from a Lowkey Vault checkout
#                                                       (DIR/lowkey-vault-app; needs Java 25)
#
# The lane finds the jar there, in LOWKEY_VAULT_JAR, or in ~/.cache/rollover-lowkey/; without one
# it is skipped and says so. Never fails the build by itself.
set -uo pipefail
cd "$(dirname "$0")/../../.."
VERSION="${LOWKEY_VERSION:-7.1.13}"
DEST=.cache/lowkey
mkdir -p "$DEST"

if [[ "${1:-}" == "--from-source" ]]; then
  SRC="$(cd "${2:?usage: fetch.sh --from-source DIR}" && pwd)"
  JAVA_HOME="${LOWKEY_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}" \
    mvn -B -q -f test/conformance/lowkey/pom.xml -Dlowkey.src="$SRC" -DskipTests package &&
    cp test/conformance/lowkey/target/lowkey-vault-app.jar "$DEST/lowkey-vault-app-source.jar" &&
    echo "lowkey: built $DEST/lowkey-vault-app-source.jar from $SRC"
  exit 0
fi

if ls "$DEST"/lowkey-vault-app*.jar >/dev/null 2>&1; then
  echo "lowkey: using $(ls "$DEST"/lowkey-vault-app*.jar | tail -1)"
  exit 0
fi
if command -v mvn >/dev/null 2>&1 &&
  mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
    -Dartifact="com.github.nagyesta.lowkey-vault:lowkey-vault-app:${VERSION}:jar" \
    -DoutputDirectory="$DEST" -Dmdep.stripVersion=false >/dev/null 2>&1; then
  echo "lowkey: fetched lowkey-vault-app ${VERSION} from Maven Central"
  exit 0
fi
if [[ -f "$HOME/.cache/rollover-lowkey/lowkey-vault-app.jar" ]]; then
  echo "lowkey: Maven Central did not serve lowkey-vault-app ${VERSION}; using ~/.cache/rollover-lowkey/lowkey-vault-app.jar"
  exit 0
fi
echo "lowkey: Maven Central did not serve com.github.nagyesta.lowkey-vault:lowkey-vault-app:${VERSION}; the lane will be skipped (set LOWKEY_VAULT_JAR or use --from-source)"
exit 0
