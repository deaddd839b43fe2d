"""``studio export`` and ``studio watermark detect`` (DESIGN.md §6)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from studio.core.requests import ExportRequest


def add_parser(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser("export", help="export images with watermarks and provenance metadata")
    export.add_argument("images", nargs="+", metavar="IMAGE")
    export.add_argument("--out", required=True, metavar="DIR", help="an existing folder")
    export.add_argument("--format", choices=("png", "jpeg", "webp"), default="png")
    export.add_argument("--quality", type=int, default=92, help="JPEG/WebP quality 1–100 (default 92)")
    export.add_argument("--lossless", action="store_true", help="lossless WebP")
    export.add_argument("--no-watermark", action="store_true", help="do not embed the invisible watermark")
    visible = export.add_mutually_exclusive_group()
    visible.add_argument("--visible-text", metavar="T", default=None)
    visible.add_argument("--visible-image", metavar="F", default=None, help="a logo image")
    export.add_argument("--anchor", default="bottom-right", help="visible mark position: top-left … bottom-right")
    export.add_argument("--opacity", type=float, default=0.5)
    export.add_argument("--scale", type=float, default=0.25, help="visible mark width / image width")
    export.add_argument("--margin", type=float, default=0.03, help="fraction of the shorter side")
    export.add_argument("--tile", action="store_true", help="repeat the visible mark over the image")
    export.add_argument("--strip-metadata", action="store_true", help="write no metadata at all")
    export.add_argument("--name", default="{stem}", metavar="TEMPLATE",
                        help="file-name template: {n} {date} {time} {seed} {prompt} {stem} (default {stem}, "
                             "the source's name)")
    export.add_argument("--resize", type=int, default=0, metavar="PX", help="long side in pixels")
    conflict = export.add_mutually_exclusive_group()
    conflict.add_argument("--overwrite", action="store_true", help="replace files that exist")
    conflict.add_argument("--rename", action="store_true", help="add -2, -3… to names that exist (the default)")
    export.add_argument("--source-type", choices=("auto", "generated", "composite", "none"), default="auto",
                        help="IPTC digital source type to state (auto: from the image's own metadata)")
    export.add_argument("--owner", type=int, default=0, help="studio/user id in the invisible mark (0–65535)")
    export.add_argument("--c2pa-cert", default=None, metavar="PEM", help="certificate chain (leaf first)")
    export.add_argument("--c2pa-key", default=None, metavar="PEM", help="private key for --c2pa-cert")
    export.add_argument("--json", action="store_true", help="print the written files as JSON")
    export.set_defaults(func=run_export)

    watermark = commands.add_parser("watermark", help="invisible watermark tools")
    sub = watermark.add_subparsers(dest="watermark_command", metavar="COMMAND", parser_class=type(watermark))
    sub.required = True
    detect = sub.add_parser("detect", help='look for the invisible mark: JSON {"detected", "payload", "confidence"}')
    detect.add_argument("image", metavar="IMAGE")
    detect.add_argument("--provenance", action="store_true", help="also list the provenance metadata found")
    detect.set_defaults(func=run_detect)


def request_from_args(args: argparse.Namespace) -> ExportRequest:
    return ExportRequest(
        images=tuple(args.images),
        out_dir=args.out,
        format=args.format,
        quality=args.quality,
        lossless=args.lossless,
        watermark=not args.no_watermark,
        visible_text=args.visible_text,
        visible_image=args.visible_image,
        visible_anchor=args.anchor,
        visible_opacity=args.opacity,
        visible_scale=args.scale,
        visible_margin=args.margin,
        visible_tile=args.tile,
        strip_metadata=args.strip_metadata,
        name_template=args.name,
        resize=args.resize,
        conflict="overwrite" if args.overwrite else "rename",
        source_type=args.source_type,
        watermark_owner=args.owner,
        c2pa_cert=args.c2pa_cert,
        c2pa_key=args.c2pa_key,
    )


def run_export(args: argparse.Namespace) -> int:
    from studio.export.batch import export_images

    request = request_from_args(args)
    request.validate()
    tty = sys.stderr.isatty()

    def report(step: int, total: int, preview: Any = None, message: str = "") -> None:
        if tty and total:
            sys.stderr.write(f"\r{step}/{total} {message[:60]:<60}")
            sys.stderr.flush()

    result = export_images(request, report, lambda: False)
    if tty:
        sys.stderr.write("\r" + " " * 72 + "\r")
    paths = [a.path for a in result.artifacts]
    print(json.dumps({"written": paths}) if args.json else "\n".join(paths))
    return 0


def run_detect(args: argparse.Namespace) -> int:
    from studio.export.batch import load_source
    from studio.export.watermark import detect

    image = load_source(args.image)
    out = detect(image).to_dict()
    if args.provenance:
        from studio.export.provenance import read_provenance

        out["provenance"] = read_provenance(args.image)
    print(json.dumps(out))
    return 0
