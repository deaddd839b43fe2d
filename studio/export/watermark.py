"""Invisible image watermark: a tiled spread-spectrum mark in luma with a CRC and a resync search.

How it works (numpy + Pillow only, no Qt, no torch):

* The payload (16-bit owner id + 32-bit image id) gets a CRC-24 and a rate-1/2 K=7 convolutional code
  (soft Viterbi); 48 known sync bits follow: ``CODED_BITS`` (204) coded bits.
* A square tile of ``GRID × GRID`` chips carries every coded bit many times: each chip belongs to one
  bit (a keyed permutation) and has a keyed ±1 sign. The tile is rendered smoothly (bilinear) and
  minus its own local mean (``EMBED_HP``): detection discards what a local mean holds, so none of the
  PSNR budget goes there. It is repeated with a period proportional to the image size (at least
  ``MIN_CHIP`` pixels a chip; ``SMALL_CHIP`` under 256 px), so any crop still holds many copies of
  every bit. Images of 64 px or more a side hold a whole tile and are detectable.
* The mark is added to luma only (the same offset on R, G and B), scaled by local texture so flat
  areas get less, with the strength set so the PSNR against the original is ``target_psnr`` dB.
  Embedding is informed: bits the image's own texture pushes the wrong way get more amplitude.
* Detection whitens the luma (image minus its local mean, clipped), weights quiet areas up, finds the
  tile period from the autocorrelation (the repeated tiles make peaks at the period: this
  resynchronises after a rescale), resamples to the canonical period, folds every tile onto one, and
  finds the crop offset by correlating with the sync bits' chip pattern through FFTs. Soft bits are
  the correlations at that offset; the payload counts as found only when its CRC-24 matches and the
  decoded codeword agrees with the soft values (``RHO_THRESHOLD``), which keeps unmarked images from
  reading as marked.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

GRID = 32  # chips per tile side
MIN_CHIP = 4.0  # pixels per chip at the least (images of two tiles or more a side)
SMALL_CHIP = 2.0  # smaller images get half-size chips, so a 64 px picture still holds a whole tile
CHIPS_PER_SIDE = 128.0  # chip size grows with the image: min(h, w) / CHIPS_PER_SIDE
CANON_CHIP = 4  # chip size of the canonical tile used by detection
CANON = GRID * CANON_CHIP  # canonical tile side in pixels
OWNER_BITS = 16
IMAGE_BITS = 32
PAYLOAD_BITS = OWNER_BITS + IMAGE_BITS
CRC_BITS = 24
SYNC_BITS = 48  # known bits: their coherent correlation finds the tile offset after a crop
CONV_K = 7  # convolutional code, rate 1/2, constraint length 7 (the NASA/CCSDS code), soft Viterbi
CONV_G = (0o133, 0o171)
DATA_BITS = 2 * (PAYLOAD_BITS + CRC_BITS + CONV_K - 1)  # coded payload+CRC with the zero tail
CODED_BITS = DATA_BITS + SYNC_BITS
KEY = 0x5354_5544_494F  # "STUDIO": the key of the chip layout; change it and old marks read as absent
DEFAULT_PSNR = 39.0
RHO_THRESHOLD = 0.62  # decoded codeword vs soft values: below this a CRC match is treated as chance
# (Viterbi on pure noise agrees 0.41 ± 0.055; unmarked photos reached 0.594, true finds 0.71 or more)
MAX_FOLD = 1024  # canonical pixels a side used by one fold: 64 tiles, plenty
MAX_ROTATION = 12.0  # degrees of rotation the detector looks for
CANCEL_SHARE = 0.6  # at most this share of the PSNR budget goes to cancelling the image's own push
CLOSED_LOOP = 3  # embedding rounds that check the detector's reading of the marked image
WHITEN_RADIUS = 2  # detection keeps the luma minus its (2r+1)² local mean (canonical pixels)
EMBED_HP = 2  # the mark is rendered minus its own (2r+1)² local mean: no budget where detection can't see
CLIP = 2.0  # whitened luma is clipped at CLIP × its median magnitude (edges would swamp the mark)
WEIGHT_POW = 1.5  # detection weights pixels by 1 / (local residual level + median) ** WEIGHT_POW
OFFSET_TRIES = 6  # sync peaks tried per period; the CRC-24 tells the true one


@dataclass(frozen=True)
class Payload:
    """What the mark carries: who exported the image and which image it is."""

    owner: int = 0
    image: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.owner < 2**OWNER_BITS:
            raise ValueError(f"owner id must be between 0 and {2**OWNER_BITS - 1}")
        if not 0 <= self.image < 2**IMAGE_BITS:
            raise ValueError(f"image id must be between 0 and {2**IMAGE_BITS - 1}")

    def bits(self) -> np.ndarray:
        """The 48 payload bits, most significant first."""
        value = (self.owner << IMAGE_BITS) | self.image
        return np.array([(value >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], dtype=np.uint8)

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> Payload:
        value = 0
        for bit in bits[:PAYLOAD_BITS]:
            value = (value << 1) | int(bit)
        return cls(owner=value >> IMAGE_BITS, image=value & (2**IMAGE_BITS - 1))

    def to_dict(self) -> dict[str, int | str]:
        return {"owner": self.owner, "image": self.image, "hex": f"{self.owner:04x}-{self.image:08x}"}


@dataclass(frozen=True)
class Detection:
    """The result of looking for a mark; ``bits`` are the raw decoded payload bits (for benchmarks)."""

    detected: bool
    payload: Payload | None
    confidence: float
    z_score: float = 0.0
    period: float = 0.0
    offset: tuple[int, int] = (0, 0)
    bits: tuple[int, ...] = field(default=(), repr=False)
    rotation: float = 0.0
    agreement: float = 0.0  # codeword agreement (rho) of this reading, found or not
    crc: bool = False  # whether its CRC-24 matched

    def to_dict(self) -> dict[str, object]:
        return {
            "detected": self.detected,
            "payload": self.payload.to_dict() if self.payload else None,
            "confidence": round(self.confidence, 4),
        }


# -- code -------------------------------------------------------------------------------------------
def crc24(bits: np.ndarray) -> np.ndarray:
    """CRC-24/OPENPGP (poly 0x864CFB, init 0xB704CE) of a bit array, as 24 bits."""
    reg = 0xB704CE
    for bit in bits:
        top = ((reg >> 23) & 1) ^ int(bit)
        reg = (reg << 1) & 0xFFFFFF
        if top:
            reg ^= 0x864CFB
    return np.array([(reg >> (23 - i)) & 1 for i in range(24)], dtype=np.uint8)


SYNC = np.random.default_rng(KEY + 1).integers(0, 2, SYNC_BITS).astype(np.uint8)
_REGS = np.arange(2**CONV_K)
_OUT = np.array([[bin(r & g).count("1") & 1 for g in CONV_G] for r in _REGS], dtype=np.float64)


def conv_encode(bits: np.ndarray) -> np.ndarray:
    """Rate-1/2 convolutional code with a zero tail (so the decoder ends in state 0)."""
    reg, out = 0, []
    for bit in [*bits, *([0] * (CONV_K - 1))]:
        reg = ((reg << 1) | int(bit)) & (2**CONV_K - 1)
        out.extend(int(v) for v in _OUT[reg])
    return np.array(out, dtype=np.uint8)


def viterbi(soft: np.ndarray) -> np.ndarray:
    """Soft-decision Viterbi decoding of :func:`conv_encode` (positive soft value = bit 1)."""
    n_states = 2 ** (CONV_K - 1)
    steps = len(soft) // 2
    metric = np.full(n_states, -np.inf)
    metric[0] = 0.0
    signs = 2 * _OUT - 1
    choices = np.zeros((steps, n_states), dtype=np.int64)
    for t in range(steps):
        branch = metric[_REGS >> 1] + signs[:, 0] * soft[2 * t] + signs[:, 1] * soft[2 * t + 1]
        pair = branch.reshape(2, n_states)  # reg = hi * 64 + next_state
        pick = np.argmax(pair, axis=0)
        metric = pair[pick, np.arange(n_states)]
        choices[t] = pick * n_states + np.arange(n_states)
    state, bits = 0, []
    for t in range(steps - 1, -1, -1):
        reg = choices[t, state]
        bits.append(reg & 1)
        state = reg >> 1
    return np.array(bits[::-1][: steps - (CONV_K - 1)], dtype=np.uint8)


def encode(payload: Payload) -> np.ndarray:
    """The coded bits: payload + CRC-24, convolutionally coded, then the fixed sync bits."""
    bits = payload.bits()
    return np.concatenate([conv_encode(np.concatenate([bits, crc24(bits)])), SYNC])


def decode_soft(soft: np.ndarray) -> tuple[np.ndarray, bool]:
    """(payload bits, whether the CRC matches) from the soft values of the coded data bits."""
    scale = float(np.std(soft[:DATA_BITS])) or 1.0
    bits = viterbi(soft[:DATA_BITS] / scale)
    return bits[:PAYLOAD_BITS], bool(np.array_equal(crc24(bits[:PAYLOAD_BITS]), bits[PAYLOAD_BITS:]))


def _layout() -> tuple[np.ndarray, np.ndarray]:
    """Which coded bit each chip carries, and its ±1 sign (fixed by ``KEY``)."""
    rng = np.random.default_rng(KEY)
    n = GRID * GRID
    owner = np.tile(np.arange(CODED_BITS), n // CODED_BITS + 1)[:n]
    owner = rng.permutation(owner).reshape(GRID, GRID)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(GRID, GRID))
    return owner, signs


_OWNER, _SIGNS = _layout()


def chip_pattern(coded: np.ndarray) -> np.ndarray:
    """The ±1 value of every chip of the tile for these coded bits."""
    return _SIGNS * (2.0 * coded[_OWNER] - 1.0)


def render_tile(chips: np.ndarray, height: int, width: int, period: float, dy: float = 0, dx: float = 0) -> np.ndarray:
    """Repeat the chip tile over ``height × width`` pixels with bilinear smoothing at ``period``."""
    size = chips.shape[0]
    scale = size / period

    def axis(n: int, shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u = (np.arange(n) + 0.5 + shift) * scale - 0.5
        i0 = np.floor(u).astype(np.int64)
        frac = (u - i0).astype(np.float32)
        return i0 % size, (i0 + 1) % size, frac

    y0, y1, fy = axis(height, dy)
    x0, x1, fx = axis(width, dx)
    rows0 = chips[y0].astype(np.float32)
    rows1 = chips[y1].astype(np.float32)
    rows = rows0 * (1 - fy)[:, None] + rows1 * fy[:, None]
    return rows[:, x0] * (1 - fx)[None, :] + rows[:, x1] * fx[None, :]


def shaped_tile(chips: np.ndarray) -> np.ndarray:
    """The mark's tile at the canonical period: the chips rendered smoothly, minus their local mean
    (the detector discards what a local mean would hold, so no budget is spent there)."""
    t = render_tile(chips, CANON, CANON, CANON)
    if EMBED_HP:
        t = t - _circular_box(t, EMBED_HP)
    return t


# -- image helpers ----------------------------------------------------------------------------------
def luma(image: Image.Image) -> np.ndarray:
    """Luma (ITU-R 601) as float32, 0–255."""
    if image.mode in ("L", "I;16", "I", "F"):
        return np.asarray(image.convert("F"), dtype=np.float32)
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def box_blur(a: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)² window, edges replicated (separable running sums, float32)."""
    k = 2 * radius + 1
    p = np.pad(a.astype(np.float32, copy=False), radius, mode="edge")
    h, w = a.shape
    rows = p[0:h].copy()
    for i in range(1, k):
        rows += p[i : i + h]
    out = rows[:, 0:w].copy()
    for i in range(1, k):
        out += rows[:, i : i + w]
    return out / np.float32(k * k)


def _whiten(y: np.ndarray, radius: int | None = None) -> np.ndarray:
    r = y - box_blur(y, WHITEN_RADIUS if radius is None else radius)
    limit = CLIP * float(np.median(np.abs(r))) + 1.0
    return np.clip(r, -limit, limit)


def chip_size_for(height: int, width: int) -> float:
    """Pixels a chip for an image of this size: below two ``MIN_CHIP`` tiles a side (256 px), half-size
    chips (a 64–255 px image then holds one to four whole tiles, and its mark is found again)."""
    side = min(height, width)
    if side < 2 * GRID * MIN_CHIP:
        return SMALL_CHIP
    return max(MIN_CHIP, side / CHIPS_PER_SIDE)


SMALL_SIDE = int(2 * GRID * MIN_CHIP)  # below this the mark uses small chips and is read back
SMALL_EXTRA_DB = 3.0  # how much stronger than asked a small image's mark may get to be readable


def readable(image: Image.Image, payload: Payload) -> bool:
    """Whether the mark carrying ``payload`` is found again in ``image`` (e.g. the exported file)."""
    found = detect(image)
    return found.detected and found.payload == payload


def psnr(a: Image.Image, b: Image.Image) -> float:
    """PSNR in dB between two images of the same size (RGB)."""
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


# -- embedding --------------------------------------------------------------------------------------
def embed(image: Image.Image, payload: Payload, *, target_psnr: float = DEFAULT_PSNR) -> Image.Image:
    """Return a copy of ``image`` carrying ``payload`` invisibly (same size and mode family).

    A small image (under ``SMALL_SIDE`` px a side: few chips a bit) is read back after embedding; if
    the detector cannot find the mark, it is embedded again up to ``SMALL_EXTRA_DB`` dB stronger."""
    result = _embed_at(image, payload, target_psnr)
    if min(image.size) < SMALL_SIDE:
        strength = target_psnr
        while not readable(result, payload) and strength > target_psnr - SMALL_EXTRA_DB:
            strength -= 1.0
            result = _embed_at(image, payload, strength)
    return result


def _embed_at(image: Image.Image, payload: Payload, target_psnr: float) -> Image.Image:
    mode = image.mode
    alpha = image.getchannel("A") if mode in ("RGBA", "LA") else None
    base = image.convert("L" if mode in ("L", "LA", "1", "I", "I;16", "F") else "RGB")
    h, w = base.height, base.width
    coded = encode(payload)
    period = GRID * chip_size_for(h, w)
    y = luma(base)
    # texture masking: more strength where the image is busy, less in flat areas
    activity = np.sqrt(np.maximum(box_blur(y * y, 3) - box_blur(y, 3) ** 2, 0))
    mask = np.clip(activity / (float(np.median(activity)) + 1e-3), 0.5, 1.6)
    mask = box_blur(mask, 2)
    target_mse = 255.0**2 / 10 ** (target_psnr / 10)
    mark = _informed_chips(y, mask, coded, period, target_mse)
    data = np.asarray(base, dtype=np.float32)
    out = data + (mark[:, :, None] if data.ndim == 3 else mark)
    result = Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), base.mode)
    if alpha is not None:
        result = result.convert("RGBA" if mode == "RGBA" else "LA")
        result.putalpha(alpha)
    return result


def _informed_chips(y: np.ndarray, mask: np.ndarray, coded: np.ndarray, period: float, target_mse: float) -> np.ndarray:
    """Per-bit amplitudes chosen so the image's own texture cannot flip a bit (improved spread spectrum):
    the detector's response to the unmarked image is measured, and bits it pushes the wrong way get extra
    amplitude, all within the PSNR budget. Returns the mark in pixels."""
    h, w = y.shape
    b = 2.0 * coded - 1.0
    unit = render_tile(shaped_tile(chip_pattern(coded)), h, w, period) * mask
    host = _soft_at(_fold(y, period), (0, 0))
    gain = np.maximum(b * _soft_at(_fold(y, period, mark=unit), (0, 0)), 1e-9)
    need = np.maximum(0.0, -b * host / gain) * 1.25  # amplitude that outweighs the host's push, with margin
    budget = target_mse * h * w
    base_energy = float(np.sum(unit * unit))
    # energy of each bit's share of the mark, at amplitude 1
    share = np.bincount(_OWNER.ravel(), minlength=CODED_BITS).astype(np.float64)
    e_j = base_energy * share / share.sum()
    cancel = float(np.sum(need**2 * e_j))
    lam = min(1.0, math.sqrt(CANCEL_SHARE * budget / cancel)) if cancel > 0 else 1.0
    lo, hi = 0.0, math.sqrt(budget / max(base_energy, 1e-12))
    for _ in range(40):  # the base amplitude that spends the budget
        mid = (lo + hi) / 2
        if float(np.sum((mid + lam * need) ** 2 * e_j)) > budget:
            hi = mid
        else:
            lo = mid
    amp = lo + lam * need

    def render(amp: np.ndarray) -> np.ndarray:
        mark = render_tile(shaped_tile(chip_pattern(coded) * amp[_OWNER]), h, w, period) * mask
        return mark * math.sqrt(budget / max(float(np.sum(mark * mark)), 1e-12))

    mark = render(amp)
    for _ in range(CLOSED_LOOP):  # the detector is not linear: check what it really reads, top up weak bits
        got = b * _soft_at(_fold(y + mark, period), (0, 0)) / gain
        weak = np.maximum(0.0, 0.8 * lo - got)
        if not weak.any():
            break
        amp = amp + weak
        mark = render(amp)
    return mark


# -- detection --------------------------------------------------------------------------------------
def _templates() -> np.ndarray:
    """Conjugate spectra of each coded bit's chip pattern (whitened) at the canonical period."""
    planes = np.zeros((CODED_BITS, GRID, GRID), dtype=np.float32)
    for j in range(CODED_BITS):
        planes[j][j == _OWNER] = _SIGNS[j == _OWNER]
    spectra = []
    for j in range(CODED_BITS):
        t = shaped_tile(planes[j])
        t = t - _circular_box(t, WHITEN_RADIUS)
        spectra.append(np.conj(np.fft.rfft2(t)))
    return np.stack(spectra)


def _circular_box(a: np.ndarray, radius: int) -> np.ndarray:
    out = np.zeros_like(a)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            out += np.roll(a, (dy, dx), axis=(0, 1))
    return out / (2 * radius + 1) ** 2


_TEMPLATES: np.ndarray | None = None


def _get_templates() -> np.ndarray:
    global _TEMPLATES
    if _TEMPLATES is None:
        _TEMPLATES = _templates()
    return _TEMPLATES


def _autocorrelation(y: np.ndarray) -> np.ndarray:
    r = _whiten(y)
    r = r - r.mean()
    ac = np.fft.irfft2(np.abs(np.fft.rfft2(r)) ** 2, s=r.shape)
    return ac / (ac[0, 0] + 1e-9)


def candidate_periods(y: np.ndarray, count: int = 4, ac: np.ndarray | None = None) -> list[float]:
    """Tile periods suggested by the autocorrelation of the whitened luma, strongest first."""
    h, w = y.shape
    ac = _autocorrelation(y) if ac is None else ac
    lo = int(GRID * 1.2)
    hi = min(h, w) // 2
    if hi <= lo + 2:
        return []
    lags = np.arange(lo, hi + 1)
    prof = ac[lags, 0] + ac[0, lags] + ac[-lags, 0] + ac[0, -lags]
    # the diagonal peak of a square tile adds evidence and ignores row/column structure
    diag_ok = lags < min(h, w) // 2
    prof = prof + np.where(diag_ok, ac[lags % h, lags % w] + ac[-lags % h, lags % w], 0.0)
    found: list[tuple[float, float]] = []
    for i in range(1, len(prof) - 1):
        if prof[i] >= prof[i - 1] and prof[i] > prof[i + 1]:
            a, b, c = prof[i - 1], prof[i], prof[i + 1]
            den = a - 2 * b + c
            shift = 0.5 * (a - c) / den if den else 0.0
            found.append((float(b), float(lags[i] + shift)))
    found.sort(reverse=True)
    return [p for _, p in found[:count]]


def _sample(ac: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Bilinear samples of a periodic 2-D array at float positions."""
    h, w = ac.shape
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    fy, fx = ys - y0, xs - x0
    a = ac[y0 % h, x0 % w] * (1 - fx) + ac[y0 % h, (x0 + 1) % w] * fx
    b = ac[(y0 + 1) % h, x0 % w] * (1 - fx) + ac[(y0 + 1) % h, (x0 + 1) % w] * fx
    return a * (1 - fy) + b * fy


def candidate_rotation(y: np.ndarray, ac: np.ndarray | None = None, max_angle: float = MAX_ROTATION) -> float:
    """Degrees by which the tile grid looks rotated (from where the autocorrelation's ridges moved);
    0 when under half a degree. The image is turned back with ``rotate(angle)``."""
    h, w = y.shape
    ac = _autocorrelation(y) if ac is None else ac
    lo, hi = int(GRID * 0.5), min(h, w) // 2
    if hi <= lo + 2:
        return 0.0
    radii = np.arange(lo, hi, 0.5)[:, None]
    theta = np.deg2rad(np.arange(-max_angle, max_angle + 1e-9, 0.25))[None, :]
    c, s_ = np.cos(theta), np.sin(theta)
    score = _sample(ac, radii * s_, radii * c) + _sample(ac, radii * c, -radii * s_)
    angle = float(np.rad2deg(theta[0, int(np.argmax(score.sum(axis=0)))]))
    return angle if abs(angle) >= 0.5 else 0.0


def _resample(y: np.ndarray, period: float) -> np.ndarray:
    h, w = y.shape
    s = CANON / period
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    if (nh, nw) == (h, w):
        return y
    resample = Image.Resampling.BILINEAR if s > 1 else Image.Resampling.BOX
    return np.asarray(Image.fromarray(y.astype(np.float32), "F").resize((nw, nh), resample), dtype=np.float32)


def _weights(r: np.ndarray) -> np.ndarray:
    """Trust flat areas more than busy ones: 1 / (local residual level + its median)."""
    local = np.sqrt(np.maximum(box_blur(r * r, 4), 0))
    return 1.0 / (local + float(np.median(local)) + 1e-3) ** WEIGHT_POW


def _fold(y: np.ndarray, period: float, *, mark: np.ndarray | None = None) -> np.ndarray:
    """Resample so the tile period is ``CANON``, whiten, weight, and fold every tile onto one (a mean).

    With ``mark``, fold the mark instead, weighted as the host ``y`` would be (for informed embedding).
    At most ``MAX_FOLD`` canonical pixels a side are used (cropped from the top left, keeping the phase)."""
    keep = math.ceil(MAX_FOLD * period / CANON)
    y = _resample(y[:keep, :keep], period)
    if mark is not None:
        mark = mark[:keep, :keep]
    nh, nw = y.shape
    r = _whiten(y)
    weight = _weights(r)
    if mark is None:
        r = r * weight
    else:
        m = _resample(mark, period)
        r = (m - box_blur(m, WHITEN_RADIUS)) * weight
    th, tw = (nh // CANON) * CANON, (nw // CANON) * CANON
    folded = np.zeros((CANON, CANON), dtype=np.float64)
    counts = np.zeros((CANON, CANON), dtype=np.float64)
    if th and tw:
        folded += r[:th, :tw].reshape(th // CANON, CANON, tw // CANON, CANON).sum(axis=(0, 2))
        counts += (th // CANON) * (tw // CANON)
    # the remainders (right strip, bottom strip) still hold signal: add them where they land
    for ys, xs in ((slice(0, th), slice(tw, nw)), (slice(th, nh), slice(0, nw))):
        part = r[ys, xs]
        if part.size == 0:
            continue
        yy = np.broadcast_to((np.arange(ys.start, ys.start + part.shape[0]) % CANON)[:, None], part.shape)
        xx = np.broadcast_to((np.arange(xs.start, xs.start + part.shape[1]) % CANON)[None, :], part.shape)
        np.add.at(folded, (yy, xx), part)
        np.add.at(counts, (yy, xx), 1.0)
    folded = np.where(counts > 0, folded / np.maximum(counts, 1), 0.0)
    return folded - folded.mean()


def _correlate(folded: np.ndarray) -> np.ndarray:
    """Circular correlation of the folded tile with every bit's pattern: (bits, CANON, CANON)."""
    return np.fft.irfft2(np.fft.rfft2(folded)[None] * _get_templates(), s=(CANON, CANON))


def _soft_at(folded: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    return _correlate(folded)[:, offset[0], offset[1]]


def _offset_candidates(corr: np.ndarray, count: int) -> list[tuple[float, tuple[int, int]]]:
    """The ``count`` strongest local peaks of the sync correlation, as (z-score, offset)."""
    sync = 2.0 * SYNC.astype(np.float64) - 1.0
    score = np.tensordot(sync, corr[DATA_BITS:], axes=1)
    med = float(np.median(score))
    mad = float(np.median(np.abs(score - med))) * 1.4826 + 1e-12
    z = (score - med) / mad
    out: list[tuple[float, tuple[int, int]]] = [(float(z[0, 0]), (0, 0))]  # an uncropped image: no shift
    work = z.copy()
    work[np.ix_(np.arange(-3, 4) % CANON, np.arange(-3, 4) % CANON)] = -np.inf
    for _ in range(count):
        k = int(np.argmax(work))
        oy, ox = divmod(k, CANON)
        out.append((float(z[oy, ox]), (oy, ox)))
        ys = np.arange(oy - 3, oy + 4) % CANON
        xs = np.arange(ox - 3, ox + 4) % CANON
        work[np.ix_(ys, xs)] = -np.inf
    return out


def _agreement(soft: np.ndarray, bits: np.ndarray) -> float:
    """Normalised correlation of the data soft values with the re-encoded decoded bits (0…1)."""
    code = 2.0 * conv_encode(np.concatenate([bits, crc24(bits)])) - 1.0
    data = soft[:DATA_BITS]
    return float(np.dot(code, data) / (np.linalg.norm(data) * math.sqrt(len(data)) + 1e-12))


def candidates(image: Image.Image, *, max_side: int = 1024, offsets: int = OFFSET_TRIES) -> Iterator[Detection]:
    """Every reading :func:`detect` weighs, in the order it tries them (geometry, then offset).

    Each carries its codeword agreement and whether its CRC matched, found or not, so a benchmark can
    see how close unmarked images come to the detection threshold."""
    y = luma(image)
    h, w = y.shape
    if max(h, w) > max_side:  # keep detection fast on huge images; the period search absorbs the scale
        f = max_side / max(h, w)
        y = np.asarray(Image.fromarray(y, "F").resize((round(w * f), round(h * f)), Image.Resampling.BOX))
        h, w = y.shape
    guess = GRID * chip_size_for(h, w)
    ac = _autocorrelation(y)
    geometry: list[tuple[float, float]] = []
    # the periods of an untouched or half-size image come first and exactly; then the autocorrelation's
    for p in [guess, GRID * MIN_CHIP, guess / 2, GRID * MIN_CHIP / 2, *candidate_periods(y, ac=ac)]:
        if p >= GRID * 1.2 and all(abs(p - q) > 0.3 for q, _ in geometry):
            geometry.append((p, 0.0))
    angle = candidate_rotation(y, ac)
    if angle:  # last: a rotated image, at the expected periods
        geometry += [(p, angle) for p in (guess, GRID * MIN_CHIP, guess / 2, GRID * MIN_CHIP / 2) if p >= GRID * 1.2]
    for period, angle in geometry:
        plane = y
        if angle:
            plane = np.asarray(Image.fromarray(y, "F").rotate(angle, Image.Resampling.BILINEAR), dtype=np.float32)
        corr = _correlate(_fold(plane, period))
        for z, offset in _offset_candidates(corr, offsets):
            soft = corr[:, offset[0], offset[1]]
            bits, ok = decode_soft(soft)
            rho = _agreement(soft, bits)
            found = ok and rho >= RHO_THRESHOLD
            yield Detection(
                found, Payload.from_bits(bits) if found else None, _confidence(rho, z) if found else 0.0, z,
                period, offset, tuple(int(b) for b in bits), angle, agreement=rho, crc=ok,
            )


def detect(image: Image.Image, *, max_side: int = 1024, offsets: int = OFFSET_TRIES) -> Detection:
    """Look for a mark in ``image``; robust to JPEG, rescaling, cropping and brightness changes."""
    best: Detection | None = None
    for candidate in candidates(image, max_side=max_side, offsets=offsets):
        key = (candidate.detected, candidate.confidence, candidate.z_score)
        if best is None or key > (best.detected, best.confidence, best.z_score):
            best = candidate
        if best.detected and best.confidence >= 0.75:
            break  # a clear find: the CRC-24 and the codeword agreement leave no doubt
    return best or Detection(False, None, 0.0)


def _confidence(rho: float, z: float) -> float:
    """0–1: how clearly the decoded codeword stands out (0.5 at the detection threshold)."""
    return float(np.clip(0.5 + (rho - RHO_THRESHOLD) / (2 * (1 - RHO_THRESHOLD)), 0.0, 1.0))
