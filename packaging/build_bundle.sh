#!/usr/bin/env bash
# Build the one-folder Linux bundle dist/studio/ (run by `make bundle`, which makes .venv first).
# PyInstaller's cache in build/pyinstaller is kept between builds: a rebuild after a code change
# re-analyses only what changed. Then the desktop entry, metainfo and icon go into dist/studio/share.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
APP_ID=io.github.creativestudio.Studio
"$PY" -m pip install -q --disable-pip-version-check -c packaging/constraints.txt -r packaging/requirements-bundle.txt
# Freeze a snapshot of the sources, so that files saved while PyInstaller works (minutes) cannot mix
# two versions of the code in one bundle.
SRC=build/bundle-src
rm -rf "$SRC" && mkdir -p "$SRC"
tar --exclude=__pycache__ --exclude='*.egg-info' -cf - studio plugins resources packaging | tar -xf - -C "$SRC"
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller "$SRC/packaging/studio.spec"
SHARE=dist/studio/share
install -D -m 644 "resources/linux/$APP_ID.desktop" "$SHARE/applications/$APP_ID.desktop"
install -D -m 644 "resources/linux/$APP_ID.metainfo.xml" "$SHARE/metainfo/$APP_ID.metainfo.xml"
install -D -m 644 "resources/icons/$APP_ID.png" "$SHARE/icons/hicolor/256x256/apps/$APP_ID.png"
install -D -m 644 "resources/icons/$APP_ID-512.png" "$SHARE/icons/hicolor/512x512/apps/$APP_ID.png"
install -m 755 packaging/install_linux.sh dist/studio/install.sh
echo "built dist/studio ($(du -sh dist/studio | cut -f1))"
