"""Provenance metadata: IPTC/XMP DigitalSourceType, EXIF UserComment (A1111 infotext), optional C2PA.

Pure functions over bytes and PIL images; no Qt. C2PA signing uses ``c2pa-python`` when installed and
a certificate chain + private key the user provides (PEM); see :func:`sign_c2pa`.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from studio.core.errors import BadInput

IPTC_BASE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC_BASE + "trainedAlgorithmicMedia"
COMPOSITE = IPTC_BASE + "compositeWithTrainedAlgorithmicMedia"
SOURCE_TYPES = {"generated": TRAINED, "composite": COMPOSITE}
USER_COMMENT = 0x9286
EXIF_IFD = 0x8769
SOFTWARE = 0x0131
IMAGE_DESCRIPTION = 0x010E
XMP_KEY = "XML:com.adobe.xmp"


@dataclass(frozen=True)
class Provenance:
    """What an export states about the image's origin. ``source_type`` is an IPTC URI or ``None``."""

    parameters: str = ""  # A1111 infotext
    studio_record: str = ""  # our JSON record (PNG only)
    source_type: str | None = None
    software: str = "Studio"
    extra: dict[str, Any] = field(default_factory=dict)


def source_type_uri(kind: str) -> str | None:
    """``generated`` → trainedAlgorithmicMedia, ``composite`` → compositeWithTrainedAlgorithmicMedia."""
    if kind in ("", "none"):
        return None
    if kind not in SOURCE_TYPES:
        raise BadInput(f"Unknown source type '{kind}'.", "Use generated, composite or none.")
    return SOURCE_TYPES[kind]


def xmp_packet(prov: Provenance) -> bytes:
    """An XMP packet with ``Iptc4xmpExt:DigitalSourceType`` (and the creator tool)."""
    props = [f"<xmp:CreatorTool>{escape(prov.software)}</xmp:CreatorTool>"]
    if prov.source_type:
        props.append(f"<Iptc4xmpExt:DigitalSourceType>{escape(prov.source_type)}</Iptc4xmpExt:DigitalSourceType>")
    if prov.parameters:
        props.append(
            "<dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">"
            f"{escape(prov.parameters)}</rdf:li></rdf:Alt></dc:description>"
        )
    body = "\n    ".join(props)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">\n'
        f"    {body}\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()


def user_comment(text: str) -> bytes:
    """EXIF UserComment as A1111 writes it: the 8-byte ``UNICODE`` prefix, then UTF-16BE."""
    return b"UNICODE\x00" + text.encode("utf-16-be")


def decode_user_comment(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    prefix, body = raw[:8], raw[8:]
    if prefix.startswith(b"UNICODE"):
        # A1111 writes big-endian; some tools write little-endian: pick the one that decodes to text
        be = body.decode("utf-16-be", "replace")
        le = body.decode("utf-16-le", "replace")
        return be if sum(c.isprintable() for c in be) >= sum(c.isprintable() for c in le) else le
    if prefix.startswith(b"ASCII"):
        return body.decode("ascii", "replace")
    return raw.decode("utf-8", "replace")


def exif_bytes(prov: Provenance) -> bytes:
    """EXIF with Software and, when there are parameters, the A1111 UserComment."""
    from PIL import Image

    exif = Image.Exif()
    exif[SOFTWARE] = prov.software
    if prov.parameters:
        exif.get_ifd(EXIF_IFD)[USER_COMMENT] = user_comment(prov.parameters)
    return exif.tobytes()


def read_provenance(path: str | Path) -> dict[str, Any]:
    """What provenance an image file carries: parameters, DigitalSourceType, C2PA presence.

    Meant for the "Check provenance" panel and ``studio watermark detect``; never raises on a file that
    merely lacks metadata."""
    from PIL import Image, UnidentifiedImageError

    out: dict[str, Any] = {"parameters": None, "digital_source_type": None, "c2pa": False, "software": None}
    try:
        with Image.open(path) as image:
            info = dict(image.info)
            text = dict(getattr(image, "text", {}) or {})
            exif = image.getexif()
            xmp_raw = info.get("xmp") or text.get(XMP_KEY) or info.get(XMP_KEY)
            out["format"] = image.format
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise BadInput(f"The image '{path}' is damaged or not an image the studio can read ({exc}).") from None
    if "parameters" in text:
        out["parameters"] = text["parameters"]
    comment = exif.get_ifd(EXIF_IFD).get(USER_COMMENT)
    if comment and not out["parameters"]:
        out["parameters"] = decode_user_comment(comment)
    out["software"] = exif.get(SOFTWARE)
    if xmp_raw:
        xmp = xmp_raw.decode("utf-8", "replace") if isinstance(xmp_raw, bytes) else str(xmp_raw)
        start = xmp.find("DigitalSourceType")
        if start >= 0:
            value = xmp[start:].split(">", 1)[-1].split("<", 1)[0].strip()
            if not value:  # attribute form: DigitalSourceType="…"
                value = xmp[start:].split('"', 2)[1] if '"' in xmp[start:] else ""
            out["digital_source_type"] = value or None
    data = Path(path).read_bytes()
    out["c2pa"] = b"c2pa" in data and (b"jumb" in data or b"caBX" in data)
    if "studio" in text:
        try:
            out["studio"] = json.loads(text["studio"])
        except ValueError:
            pass
    return out


# -- C2PA -------------------------------------------------------------------------------------------
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def c2pa_available() -> bool:
    try:
        import c2pa  # noqa: F401
    except Exception:
        return False
    return True


def sign_c2pa(
    data: bytes,
    fmt: str,
    cert_chain_pem: bytes,
    private_key_pem: bytes,
    *,
    title: str = "image",
    source_type: str | None = TRAINED,
    alg: str = "es256",
    tsa_url: str | None = None,
) -> bytes:
    """Embed a C2PA manifest signed with the user's certificate chain (leaf first) and key.

    Works offline: no time-stamp authority is contacted unless ``tsa_url`` is given. The C2PA SDK
    refuses self-signed leaf certificates: the chain must be leaf → (intermediate →) CA."""
    try:
        import c2pa
    except ImportError:
        raise BadInput("C2PA signing needs the 'c2pa-python' package.", "Install it, or export without C2PA.") from None
    actions: list[dict[str, Any]] = [{"action": "c2pa.created"}]
    if source_type:
        actions[0]["digitalSourceType"] = source_type
    manifest = {
        "claim_generator_info": [{"name": "Studio", "version": "1"}],
        "title": title,
        "format": MIME[fmt],
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
    }
    info = c2pa.C2paSignerInfo(
        alg=alg.encode() if isinstance(alg, str) else alg,
        sign_cert=cert_chain_pem,
        private_key=private_key_pem,
        ta_url=tsa_url.encode() if tsa_url else None,
    )
    try:
        signer = c2pa.Signer.from_info(info)
        builder = c2pa.Builder(json.dumps(manifest))
        source, dest = io.BytesIO(data), io.BytesIO()
        builder.sign(signer, MIME[fmt], source, dest)
    except c2pa.C2paError as exc:
        raise BadInput(
            f"C2PA signing failed: {exc}.", "Check the certificate chain and key (PEM, leaf first, not self-signed)."
        ) from None
    return dest.getvalue()


def read_c2pa(data: bytes, fmt: str) -> dict[str, Any] | None:
    """The C2PA manifest store as JSON, or ``None`` when the SDK is missing or there is none."""
    try:
        import c2pa
    except ImportError:
        return None
    try:
        with c2pa.Reader(MIME[fmt], io.BytesIO(data)) as reader:
            return json.loads(reader.json())
    except Exception:
        return None
