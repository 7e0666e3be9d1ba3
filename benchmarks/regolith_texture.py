"""Fine-scale contrast of near-ground frames: farside against the real Chang'e-4 previews.

    python benchmarks/regolith_texture.py --run runs/change4

The two regolith previews in ../shared/data/ce4_image_previews (TCAM-I-065, Yutu-2's tracks; PCAML-C-000,
a close-up of cloddy regolith on lunar day 9) are whole frames downscaled (~0.21x of 2352 px) and
contrast-stretched (their SOURCES.md). farside's frames (the run's raw TCAM panorama frames
of the -30 and -18 deg tiers that see only the ground: no vehicle pixel by their sidecar's
``vehicle_pixel_fraction``, which leaves out the lander's deck and solar panels, and no saturated
foil or black shadow; 2 x 2 binned, 4 x 4 in a quick run; and the TCAM frame of the rover) are
brought to the same sampling (resized to the preview's width: the same field of view over the same number of
pixels) and through the same stretch (grey, linear 1-99 percentile stretch to 0-255), then each
image's band-pass contrast is measured at 1, 2, 4 and 8 px: the standard deviation of a
difference of Gaussians (sigma s and 2 s) over the local mean (Gaussian, sigma 16 px), on the
ground only (no saturated or black pixels, eroded by 2 s px). The table prints each real
preview, farside's median over its frames, and farside's range.

At the previews' sampling a band of s px holds ground wavelengths of about 6.5 s preview pixels:
in the -30 deg tier (ground at ~5 m) ~3 cm across and ~6 cm along the line of sight at 1 px, and
25-50 cm at 8 px; in the -18 deg tier (~8 m) 1.6 and 2.6 times that.

Measured (docs/imaging.md, "Regolith texture", has the variants tried), medians:

| run | frames | 1 px | 2 px | 4 px | 8 px |
|---|---|---|---|---|---|
| real range (the two previews) | | 0.111-0.142 | 0.084-0.116 | 0.070-0.091 | 0.047-0.063 |
| full run at 8f15a9e (before; panel frames not left out) | 27 | 0.071 | 0.080 | 0.086 | 0.090 |
| quick run at 05f8e45 (before), panel frames not left out | 27 | 0.069 | 0.084 | 0.092 | 0.098 |
| quick run at 05f8e45 (before), the same 18 ground-only frames | 18 | 0.075 | 0.086 | 0.092 | 0.098 |
| quick run at 74ed312 (H = 0.17, the fragments' albedo), ground only | 18 | 0.125 | 0.115 | 0.085 | 0.067 |
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

PREVIEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ce4_image_previews"
SCALES = (1, 2, 4, 8)


def stretch(grey: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(grey, (1, 99))
    return np.clip((grey.astype(np.float64) - lo) / max(hi - lo, 1e-9) * 255.0, 0, 255)


def band_contrast(img: np.ndarray, mask: np.ndarray) -> list[float]:
    mean = cv2.GaussianBlur(img, (0, 0), 16.0) + 1.0
    out = []
    for s in SCALES:
        dog = cv2.GaussianBlur(img, (0, 0), s) - cv2.GaussianBlur(img, (0, 0), 2 * s)
        m = cv2.erode(mask.astype(np.uint8), np.ones((4 * s + 1, 4 * s + 1), np.uint8)).astype(bool)
        out.append(float(np.std((dog / mean)[m])) if m.sum() > 200 else float("nan"))
    return out


def prepare(bgr: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    if grey.shape[1] != width:
        h = int(round(grey.shape[0] * width / grey.shape[1]))
        grey = cv2.resize(grey, (width, h), interpolation=cv2.INTER_AREA)
    mask = (grey > 2) & (grey < 253)
    return stretch(grey), mask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="a farside run directory (products/imaging)")
    args = ap.parse_args()
    real = {}
    # the two previews of bare regolith (the other two are of the lander, against black sky)
    for stem in ("ce4_tcam_I-065_20190111190315_preview", "ce4_pcaml_C-000_20190806113452_preview"):
        img, mask = prepare(cv2.imread(str(PREVIEWS / f"{stem}.png")), 505)
        real[stem] = band_contrast(img, mask)
    d = Path(args.run) / "products" / "imaging"
    frames, vehicle = [], 0
    for k in range(20, 60):      # tiers -30 and -18: the ground at 2-10 m
        p = d / "panorama" / f"tcam_{k:02d}.png"
        side = p.with_suffix(".json")
        meta = json.loads(side.read_text()) if side.exists() else {}
        if meta.get("vehicle_pixel_fraction", 0.0) > 0.0:    # the lander's deck or panels in view
            vehicle += 1
            continue
        bgr = cv2.imread(str(p))
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        if np.mean((grey > 250) | (grey < 5)) > 0.01:     # the lander's foil or its shadow: not ground
            continue
        img, mask = prepare(bgr, 505)
        frames.append(band_contrast(img, mask))
    f = np.array(frames)
    print(f"farside: {len(frames)} ground-only TCAM panorama frames of {args.run} "
          f"({vehicle} with vehicle pixels left out)")
    head = "image".ljust(48) + "".join(f"{s} px".rjust(14) for s in SCALES)
    print(head)
    print("-" * len(head))
    for k, v in real.items():
        print(k.ljust(48) + "".join(f"{x:14.4f}" for x in v))
    if len(f):
        print("farside TCAM frames, median".ljust(48) + "".join(f"{x:14.4f}" for x in np.nanmedian(f, axis=0)))
        print("farside TCAM frames, min".ljust(48) + "".join(f"{x:14.4f}" for x in np.nanmin(f, axis=0)))
        print("farside TCAM frames, max".ljust(48) + "".join(f"{x:14.4f}" for x in np.nanmax(f, axis=0)))
    rp = d / "portrait_rover_tcam_raw.png"
    if rp.exists():
        img, mask = prepare(cv2.imread(str(rp)), 505)
        print("farside TCAM rover portrait (raw)".ljust(48) + "".join(f"{x:14.4f}" for x in band_contrast(img, mask)))
    lo = np.nanmin(np.array(list(real.values())), axis=0)
    hi = np.nanmax(np.array(list(real.values())), axis=0)
    print("real range".ljust(48) + "".join(f"{a:.3f}-{b:.3f}".rjust(14) for a, b in zip(lo, hi)))
    if len(f):
        med = np.nanmedian(f, axis=0)
        inside = [(a <= m <= b) for a, m, b in zip(lo, med, hi)]
        print("farside median inside the real range: " + ", ".join(f"{s} px {'yes' if i else 'no'}"
                                                                  for s, i in zip(SCALES, inside)))


if __name__ == "__main__":
    main()
