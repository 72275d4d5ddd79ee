#!/bin/bash
# Every C file of the tree is as clang-format writes it with the tree's
# .clang-format (Debian's clang-format, which scripts/install-deps
# installs).  `make format` rewrites the files that are not.
set -euo pipefail
cd "${ISLET_SRC:-$(dirname "$0")/../..}"
if ! command -v clang-format >/dev/null; then
  echo "format: clang-format is not installed (scripts/install-deps installs it)" >&2
  exit 1
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.c' '*.h')
else
  mapfile -t files < <(find src include tests bench -name '*.[ch]' | sort)
fi
(( ${#files[@]} > 50 )) || { echo "format: only ${#files[@]} C files found" >&2; exit 1; }
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if (( ${#bad[@]} )); then
  echo "format: ${#bad[@]} of ${#files[@]} files are not formatted (make format rewrites them):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "format: ${#files[@]} files formatted"
