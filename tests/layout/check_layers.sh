#!/usr/bin/env bash
# Keeps the dependency direction engine → proto, store → base: each layer may include only
# the layers below it, and only engine/ may include liburing. Prints every violation.
set -uo pipefail
root=${1:?source root}
cd "$root"
violations=0
check() {
  local dir=$1 allowed=$2
  [ -d "$dir" ] || return 0
  while IFS= read -r hit; do
    echo "layering: $hit"
    violations=$((violations + 1))
  done < <(grep -nE '#include "(base|proto|store|engine|bench|tests)/' "$dir"/*.[ch] 2>/dev/null |
           grep -vE "#include \"($allowed)/")
}
check base 'base'
check proto 'base|proto'
check store 'base|store'
check engine 'base|proto|store|engine'
while IFS= read -r hit; do
  echo "layering: liburing outside engine/: $hit"
  violations=$((violations + 1))
done < <(grep -nE '#include <liburing' base/*.[ch] proto/*.[ch] store/*.[ch] 2>/dev/null)
# No circles between engine files: module X depends on module Y when X.c or X.h includes
# engine/Y.h. Services (client, service, and what comes) depend on the platform, never the
# reverse. The edges below are the circle that is still open between the loop, routing and
# the cross-shard transport (they reach into struct shard and call each other); each one
# removed here is a circle broken for good. Any other circle fails.
known_back_edges='^(xshard route|xshard shard|route shard)$'
edges=$(mktemp)
for file in engine/*.[ch]; do
  module=$(basename "$file" | sed 's/\.[ch]$//')
  grep -oE '#include "engine/[a-z_]+\.h"' "$file" | sed -E 's|.*engine/([a-z_]+)\.h"|\1|' |
    while read -r dep; do
      [ "$dep" != "$module" ] && echo "$module $dep"
    done
done | sort -u | grep -vE "$known_back_edges" > "$edges"
if ! tsort "$edges" > /dev/null 2> "$edges.err"; then
  echo "layering: a circle between engine files:"
  sed 's/^/  /' "$edges.err"
  violations=$((violations + 1))
fi
rm -f "$edges" "$edges.err"
echo "layering: $violations violation(s)"
[ "$violations" -eq 0 ]
