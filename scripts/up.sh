#!/usr/bin/env bash
# Builds mnigs and runs mnigsd in the foreground on the default config, with
# its JSON-RPC and web UI on http://127.0.0.1:65533. Ctrl-C stops it.
# State goes to build/run/ so nothing outside the tree is touched.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/scripts/deps.sh"

install_deps build
build="${MNIGS_RUN_BUILD_DIR:-$top/build-run}"  # apart from the test build
build_tree "$build" -DMNIGS_BUILD_TESTS=OFF

run="$build/run"
mkdir -p "$run"
conf="$run/mnigs.yaml"
cp "$top/conf/mnigs.yaml" "$conf"
# The default config, pointed at this build instead of an installed one.
"$build/cli/mnigs-cli" -f "$conf" \
  --set "plugins.dir=$build/plugins" \
  --set "daemon.dataDir=$run/data" \
  --set "daemon.webuiDir=$top/webui" >/dev/null

echo "== mnigsd on http://127.0.0.1:65533 (config $conf); try in another shell:"
echo "   $build/cli/mnigs-cli -f $conf --status"
exec "$build/daemon/mnigsd" -f "$conf"
