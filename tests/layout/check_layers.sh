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
echo "layering: $violations violation(s)"
[ "$violations" -eq 0 ]
