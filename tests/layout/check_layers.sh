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
# reverse; inside the platform, a module that must call back into one above it does so
# through handlers that one registered (the cross-shard transport's struct xshard_handlers),
# and main wires what the platform cannot name (routing's route_forwarded). Any circle is a
# violation.
edges=$(for file in engine/*.[ch]; do
  module=$(basename "$file" | sed 's/\.[ch]$//')
  grep -oE '#include "engine/[a-z_]+\.h"' "$file" | sed -E 's|.*engine/([a-z_]+)\.h"|\1|' |
    while read -r dep; do
      [ "$dep" != "$module" ] && echo "$module $dep"
    done
done | sort -u)
# Strongly connected components of more than one module (Tarjan's, iteratively).
circles=$(python3 -c '
import sys
graph = {}
for line in sys.stdin:
    a, b = line.split()
    graph.setdefault(a, []).append(b)
    graph.setdefault(b, [])
index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
for root in sorted(graph):
    if root in index:
        continue
    work = [(root, 0)]
    while work:
        node, i = work.pop()
        if i == 0:
            index[node] = low[node] = counter[0]; counter[0] += 1
            stack.append(node); on_stack.add(node)
        if i < len(graph[node]):
            work.append((node, i + 1))
            nxt = graph[node][i]
            if nxt not in index:
                work.append((nxt, 0))
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
            continue
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop(); on_stack.discard(top); component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(" ".join(sorted(component)))
        if work:
            parent = work[-1][0]
            low[parent] = min(low[parent], low[node])
for component in found:
    print(component)
' <<< "$edges")
while IFS= read -r circle; do
  [ -z "$circle" ] && continue
  echo "layering: a circle between engine files: $circle"
  violations=$((violations + 1))
done <<< "$circles"
echo "layering: $violations violation(s)"
[ "$violations" -eq 0 ]
