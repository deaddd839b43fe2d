#!/usr/bin/env bash
# Smoke test of a built bundle as a user without the venv would run it: a clean environment (PATH of the
# system only, a fresh HOME and STUDIO_HOME), from another folder. Starts the window once (--smoke-test,
# offscreen), generates on the demo model, reads the picture's metadata back, and prints the figures.
#     packaging/smoke_bundle.sh [dist/studio]
set -euo pipefail
BUNDLE=$(cd "${1:-$(dirname "$0")/../dist/studio}" && pwd)
WORK=$(mktemp -d /tmp/studio-bundle-smoke.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
clean_env=(env -i "HOME=$WORK" "PATH=/usr/local/bin:/usr/bin:/bin" "LANG=C.UTF-8" "STUDIO_HOME=$WORK/home"
           "QT_QPA_PLATFORM=offscreen" "OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}")
ms() { date +%s%3N; }

start=$(ms); "${clean_env[@]}" "$BUNDLE/studio" --version; version_ms=$(($(ms) - start))
start=$(ms); smoke=$("${clean_env[@]}" "$BUNDLE/studio" --smoke-test | tail -n 1); smoke_ms=$(($(ms) - start))
echo "$smoke" | grep -q '"startup_ms"' || { echo "smoke test printed no startup_ms: $smoke" >&2; exit 1; }
# the window's device probe runs `sys.executable -m studio.backends.probe`: the bundle is sys.executable
"${clean_env[@]}" "$BUNDLE/studio" -m studio.backends.probe | grep -q '"device": "' \
  || { echo "the device probe does not run in the bundle" >&2; exit 1; }
"${clean_env[@]}" "$BUNDLE/studio" plugins list --json > plugins.json
for family in diffusers transformers; do
  grep -q "\"id\": \"$family\"" plugins.json || { echo "built-in family $family not found" >&2; cat plugins.json >&2; exit 1; }
done
start=$(ms)
"${clean_env[@]}" "$BUNDLE/studio" generate --model demo --prompt "a large red circle on the left on a white background" \
  --steps 8 --seed 7 --out "$WORK/x.png"
generate_ms=$(($(ms) - start))
test -s "$WORK/x.png" || { echo "generate wrote no picture" >&2; exit 1; }
"${clean_env[@]}" "$BUNDLE/studio" info "$WORK/x.png" | grep -q '"seed": 7' || { echo "no metadata in the picture" >&2; exit 1; }
"${clean_env[@]}" "$BUNDLE/studio" text --model demo-text --prompt "To be" --max-new-tokens 8 --seed 1 > text.txt
test -s text.txt || { echo "text wrote nothing" >&2; exit 1; }
size=$(du -sh "$BUNDLE" | cut -f1)
echo "bundle ok: size $size; --version ${version_ms} ms; --smoke-test ${smoke_ms} ms wall, $smoke; generate (demo, 8 steps) ${generate_ms} ms wall"
