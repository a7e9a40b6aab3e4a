#!/usr/bin/env bash
# Finds the Lowkey Vault app jar for the conformance lane (vitest.lowkey.config.ts, npm run test:lowkey).
#
#   test/conformance/lowkey/fetch.sh                    check and name the jar the lane will use
#   test/conformance/lowkey/fetch.sh --from-source DIR  build one with Maven from a Lowkey Vault checkout
#                                                       (DIR/lowkey-vault-app; needs Java 25) into .cache/lowkey/
#
# The jar is looked up as the lane looks it up (test/conformance/lowkey/lowkey.ts): LOWKEY_VAULT_JAR,
# then ../shared/tools/lowkey-vault/lowkey-vault-app.jar beside the project root (for a git worktree,
# beside its main checkout; CI runs from a fresh clone with shared/ as a read-only sibling), then
# .cache/lowkey/. The shared jar is checked against the sha256 in the README beside it: a mismatch
# exits 1. Without a jar the lane is skipped and says why; with Java 25 and a jar, a lane that does
# not run fails (LOWKEY_REQUIRED, set by .ci/run).
set -uo pipefail
cd "$(dirname "$0")/../../.."
DEST=.cache/lowkey

if [[ "${1:-}" == "--from-source" ]]; then
  SRC="$(cd "${2:?usage: fetch.sh --from-source DIR}" && pwd)"
  mkdir -p "$DEST"
  JAVA_HOME="${LOWKEY_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}" \
    mvn -B -q -f test/conformance/lowkey/pom.xml -Dlowkey.src="$SRC" -DskipTests package &&
    cp test/conformance/lowkey/target/lowkey-vault-app.jar "$DEST/lowkey-vault-app-source.jar" &&
    echo "lowkey: built $DEST/lowkey-vault-app-source.jar from $SRC"
  exit $?
fi

if [[ -n "${LOWKEY_VAULT_JAR:-}" ]]; then
  if [[ -f "$LOWKEY_VAULT_JAR" ]]; then echo "lowkey: using $LOWKEY_VAULT_JAR (LOWKEY_VAULT_JAR)"; exit 0; fi
  echo "lowkey: LOWKEY_VAULT_JAR=$LOWKEY_VAULT_JAR does not exist" >&2
  exit 1
fi

roots=("$PWD")
common="$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)"
if [[ "$(basename "${common:-x}")" == ".git" ]]; then roots+=("$(dirname "$common")"); fi
for root in "${roots[@]}"; do
  dir="$root/../shared/tools/lowkey-vault"
  jar="$dir/lowkey-vault-app.jar"
  [[ -f "$jar" ]] || continue
  want="$(grep -o 'sha256: [0-9a-f]\{64\}' "$dir/README.md" 2>/dev/null | head -1 | cut -d' ' -f2)"
  have="$(sha256sum "$jar" | cut -d' ' -f1)"
  if [[ -n "$want" && "$want" != "$have" ]]; then
    echo "lowkey: $jar has sha256 $have, its README says $want: the jar is damaged or not the one described" >&2
    exit 1
  fi
  echo "lowkey: using $(cd "$dir" && pwd)/lowkey-vault-app.jar${want:+ (sha256 checked)}"
  exit 0
done

if ls "$DEST"/lowkey-vault-app*.jar >/dev/null 2>&1; then
  echo "lowkey: using $(ls "$DEST"/lowkey-vault-app*.jar | tail -1)"
  exit 0
fi
echo "lowkey: no Lowkey Vault app jar (LOWKEY_VAULT_JAR, ../shared/tools/lowkey-vault/, .cache/lowkey/); the lane will be skipped"
exit 0
