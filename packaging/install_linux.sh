#!/usr/bin/env bash
# Install this bundle for the current user (or system-wide with PREFIX=/usr/local as root): the folder
# under PREFIX/lib/studio, a `studio` link in PREFIX/bin, the desktop entry, metainfo and icons.
#     ./install.sh            # PREFIX defaults to ~/.local
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-$HOME/.local}
mkdir -p "$PREFIX/lib" "$PREFIX/bin"
rm -rf "$PREFIX/lib/studio"
cp -a "$HERE" "$PREFIX/lib/studio"
ln -sf "$PREFIX/lib/studio/studio" "$PREFIX/bin/studio"
mkdir -p "$PREFIX/share"
cp -r "$HERE/share/." "$PREFIX/share/"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$PREFIX/share/applications" || true
echo "installed: $PREFIX/bin/studio (make sure $PREFIX/bin is on PATH)"
