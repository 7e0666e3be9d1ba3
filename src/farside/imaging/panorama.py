"""Panorama stitching of frames from a rotating camera (docs/imaging.md, "Panorama stitching").

Camera model: pinhole, principal point at the image centre (``((W - 1) / 2, (H - 1) / 2)`` in the
pixel-centre convention of :mod:`farside.render.camera`), square pixels, no distortion. Camera
frame x right, y down, z forward; a rotation is *camera-to-world* (its columns are the camera
axes in the world frame), exactly :attr:`farside.render.Camera.rotation_enu_from_cam`.

Pipeline (Brown & Lowe 2007, "Automatic panoramic image stitching using invariant features",
IJCV 74:59; the pieces are ours, OpenCV supplies SIFT, the matcher, RANSAC, remap and pyramids):

1. ORB features on a grey copy scaled to ``registration_mpx`` megapixels; SIFT for all frames
   when ORB's verified matches do not join every frame (``features="auto"``).
2. Candidate pairs: with ``pointing``, each frame's nearest neighbours by prior optical axis;
   without, all pairs (<= 10 frames) or the best-voted pairs of one approximate
   nearest-neighbour search over every frame's descriptors.
3. Ratio-test matches, RANSAC homography, Brown & Lowe's acceptance test
   (inliers > 8 + 0.3 matches), then each inlier refined to sub-pixel accuracy on the
   full-resolution frames (Lucas-Kanade on patches warped by the pair's homography). With
   ``pointing``, only the keypoints the prior puts in a neighbour's view are looked up, and
   pairs whose rotation disagrees with the prior by more than ``prior_tolerance_deg`` are
   rejected (repetitive texture). With ``centres`` (a mast head whose optical centre is off its
   axes) the matches are moved to where the turning point would see them (ground plane).
4. Focal length (when ``focal_px`` is None): median of the homography estimates
   (Szeliski & Shum 1997), refined by a golden-section search of the rotation fit.
5. Initial rotations: the prior, or chained along the maximum spanning tree of the match graph.
6. Bundle adjustment (Levenberg-Marquardt, Huber loss, analytic Jacobian): rotations (and focal
   length) minimising the symmetric image-plane reprojection error of every inlier match.
   With ``pointing`` each rotation is held near its prior (``pointing_sigma_deg``) and, with
   ``centres``, the ground plane is adjusted too; without, frame 0 is held (gauge). Then the set
   is rotated back onto the prior (least squares) or levelled.
7. Exposure compensation: one gain per frame from the mean grey levels of the overlaps.
8. Equirectangular mosaic, multi-band blending across Voronoi-like seams.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from farside.errors import DataError, ScenarioError, invalid
from farside.imaging import _panorama_compose as _comp
from farside.imaging import _panorama_register as _reg

__all__ = ["Panorama", "stitch_panorama"]

#: focal_model="auto" tries per-frame focal lengths when one shared focal leaves more RMS than this
AUTO_PER_FRAME_RMS_PX = 1.0
#: largest mosaic stitch_panorama composes (blending holds ~25 bytes per mosaic pixel, colour)
MAX_MOSAIC_MPX = 150.0


@dataclass(frozen=True, eq=False)
class Panorama:
    """A stitched mosaic and the camera rotations that made it.

    Attributes
    ----------
    image : (H, W) or (H, W, 3) uint8
        Equirectangular mosaic: column ``c`` at azimuth ``azimuth0_rad + c / px_per_rad``
        (azimuth 0 = world +y, clockwise toward +x: north -> east in site ENU), row ``r`` at
        elevation ``elevation0_rad - r / px_per_rad``. Uncovered pixels are 0.
    rotations : (N, 3, 3) float64
        Estimated camera-to-world rotation of each input frame. With ``pointing`` the world frame
        is the prior's; without it, world z is 'up' (levelled) and frame 0 looks toward azimuth 0.
    rms_reprojection_px : float
        Root mean square of the 2-D reprojection residuals of the kept inlier matches, both
        directions of every match, in input-frame pixels.
    focal_px : float
        Focal length used (given or estimated), px; the geometric mean when frames have their own.
    focals_px : (N,) float64
        Focal length of each frame, px (all equal unless ``focal_model`` gave each its own).
    projection : str
        ``"equirectangular"``.
    px_per_rad : float
        Mosaic scale on both axes (px per rad).
    azimuth0_rad, elevation0_rad : float
        Direction of the centre of pixel [0, 0].
    full_circle : bool
        The mosaic covers 360 deg of azimuth (column ``W`` wraps onto column 0).
    mask : (H, W) bool
        Pixels covered by at least one frame.
    gains : (N,) float64
        Exposure-compensation gain applied to each frame.
    pairs : tuple of (i, j, inliers)
        Frame pairs that entered the bundle adjustment and their kept inlier counts.
    features : str
        Keypoint detector that registered the frames (``"orb"`` or ``"sift"``).
    prior_only : tuple of int
        Frames that no verified match joined to the others, placed by their ``pointing`` prior
        alone (only with ``pointing``; empty when every frame is matched). With several matched
        groups, each is adjusted alone and rotated onto its priors.
    """

    image: np.ndarray
    rotations: np.ndarray
    rms_reprojection_px: float
    focal_px: float
    focals_px: np.ndarray
    projection: str
    px_per_rad: float
    azimuth0_rad: float
    elevation0_rad: float
    full_circle: bool
    mask: np.ndarray
    gains: np.ndarray
    pairs: tuple[tuple[int, int, int], ...]
    features: str
    prior_only: tuple[int, ...] = ()


def _check_images(images) -> list[np.ndarray]:
    if isinstance(images, np.ndarray) and (images.ndim == 2 or (images.ndim == 3 and images.shape[2] == 3)):
        raise invalid("images", f"<one array of shape {images.shape}>",
                      "a sequence of at least 2 frames from a rotating camera", ScenarioError)
    try:
        frames = [np.asarray(im) for im in images]
    except TypeError:
        raise invalid("images", type(images).__name__, "a sequence of (H, W) or (H, W, 3) uint8 arrays") from None
    if len(frames) < 2:
        raise invalid("images", f"<{len(frames)} frame(s)>", "at least 2 overlapping frames")
    for k, im in enumerate(frames):
        if im.dtype != np.uint8:
            raise invalid(f"images[{k}].dtype", str(im.dtype), "uint8")
        if not (im.ndim == 2 or (im.ndim == 3 and im.shape[2] == 3)):
            raise invalid(f"images[{k}].shape", im.shape, "(H, W) or (H, W, 3)")
        if min(im.shape[:2]) < 32:
            raise invalid(f"images[{k}].shape", im.shape, "frames of at least 32 x 32 pixels")
    s0 = frames[0].shape
    for k, im in enumerate(frames[1:], start=1):
        if im.shape != s0:
            raise invalid(f"images[{k}].shape", im.shape,
                          f"the shape of images[0], {s0} (all frames from one camera, same size and channels)")
    return frames


def _check_pointing(pointing, n: int) -> np.ndarray:
    try:
        P = np.asarray(pointing, dtype=float)
    except (TypeError, ValueError):
        raise invalid("pointing", type(pointing).__name__, f"a sequence of {n} 3x3 rotation matrices") from None
    if P.ndim != 3 or P.shape[1:] != (3, 3):
        raise invalid("pointing", f"<array of shape {P.shape}>", f"{n} 3x3 camera-to-world rotation matrices")
    if P.shape[0] != n:
        raise invalid("pointing", f"<{P.shape[0]} rotations>", f"one rotation per frame: {n}")
    if not np.all(np.isfinite(P)):
        raise invalid("pointing", "<non-finite values>", "finite rotation matrices")
    for k in range(n):
        if np.abs(P[k].T @ P[k] - np.eye(3)).max() > 1e-3 or np.linalg.det(P[k]) < 0:
            raise invalid(f"pointing[{k}]", P[k].round(4).tolist(),
                          "a proper rotation matrix (orthonormal to 1e-3, det +1)")
    U, _, Vt = np.linalg.svd(P)
    return U @ Vt


def _positive(name: str, x, lo: float = 0.0, hi: float = math.inf) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise invalid(name, x, "a finite number > 0") from None
    if not math.isfinite(v) or v <= lo or v > hi:
        raise invalid(name, x, f"a finite number in ({lo}, {hi}]")
    return v


#: pointing priors enter the bundle adjustment with the weight (PRIOR_MATCH_SIGMA_PX / sigma)^2 per
#: rad^2, sigma the prior's standard deviation (``pointing_sigma_deg``): the matches' effective noise,
#: their systematic part (parallax the correction leaves) included, taken as 1 px
PRIOR_MATCH_SIGMA_PX = 1.0


def _adjust(n: int, pairs: list, R0: np.ndarray, focal0: np.ndarray, fidx: np.ndarray, *, refine: bool,
            prior: np.ndarray | None = None, mast: _reg.Mast | None = None, prior_sigma_deg: float = 0.5):
    """Bundle adjustment; a pair the adjusted rotations cannot explain (median residual above
    4 x PRUNE_PX) was a false match: it is dropped and the rest re-solved (3 rounds at most).
    With ``prior`` the rotations are held near it (``prior_sigma_deg``, see
    :func:`_reg.bundle_adjust`); with ``mast`` (one shared, known focal length) the ground plane
    of its offset correction is adjusted with the rotations (:class:`_reg.GroundModel`)."""
    weight = (PRIOR_MATCH_SIGMA_PX / math.radians(prior_sigma_deg)) ** 2
    for _round in range(3):
        p_i = np.concatenate([pm.p_i for pm in pairs])
        p_j = np.concatenate([pm.p_j for pm in pairs])
        idx_i = np.concatenate([np.full(pm.n_inliers, pm.i) for pm in pairs]).astype(np.int64)
        idx_j = np.concatenate([np.full(pm.n_inliers, pm.j) for pm in pairs]).astype(np.int64)
        ground = None
        if mast is not None:
            raw_i = np.concatenate([pm.p_i if pm.raw_i is None else pm.raw_i for pm in pairs])
            raw_j = np.concatenate([pm.p_j if pm.raw_j is None else pm.raw_j for pm in pairs])
            ground = _reg.GroundModel(raw_i, raw_j, idx_i, idx_j, float(focal0[0]), R0, mast)
        ba = _reg.bundle_adjust(R0, focal0, fidx, p_i, p_j, idx_i, idx_j, refine_focal=refine, prior=prior,
                                prior_weight=weight, ground=ground)
        if ground is not None:          # the pairs' points as the adjusted plane puts them
            mast = mast.with_plane(ba.theta)
            pairs = [_reg.mast_corrected(pm, float(focal0[0]), R0, mast) for pm in pairs]
        bounds = np.cumsum([0] + [pm.n_inliers for pm in pairs])
        kept, bad = [], 0
        for k, pm in enumerate(pairs):
            sel = ba.keep[bounds[k]:bounds[k + 1]]
            if np.median(ba.err[bounds[k]:bounds[k + 1]].max(axis=1)) > 4.0 * _reg.PRUNE_PX:
                bad += 1
            elif sel.sum() >= _reg.MIN_INLIERS // 2:
                kept.append(_reg.subset(pm, sel))
        pairs = kept
        _reg.require_connected(n, pairs)
        if bad == 0:
            break
        R0, focal0 = ba.R, ba.focal
    return ba, pairs


#: with pointing priors, the largest matched group must hold at least this fraction of the frames (0:
#: any verified match will do; the rest are placed by their priors)
MIN_MATCHED_FRACTION = 0.0


def _solve_by_parts(n: int, pairs: list, f: float, *, prior: np.ndarray, f_given: float | None,
                    focal_model: str, mast: _reg.Mast | None = None, prior_sigma_deg: float = 0.5
                    ) -> tuple[np.ndarray, np.ndarray, float, list, tuple[int, ...]]:
    """Rotations of a match graph in several pieces, with pointing priors: each connected group
    is bundle-adjusted alone and rotated onto its priors (:func:`_reg.align_to_prior`); single
    frames (and a group whose adjustment fails) keep their prior. Raises DataError, naming the
    frames, when the largest group holds less than MIN_MATCHED_FRACTION of them."""
    comps = _reg.components(n, [(p.i, p.j) for p in pairs])
    if len(comps[0]) < MIN_MATCHED_FRACTION * n:
        _reg.require_connected(n, pairs)
    R = prior.copy()
    f0 = f_given if f_given is not None else f
    focals = np.full(n, f0)
    kept, prior_only, sq, cnt = [], [], 0.0, 0
    for comp in comps:
        if len(comp) < 2:
            prior_only += comp
            continue
        loc = {g: k for k, g in enumerate(comp)}
        sub = [_reg.subset(p, slice(None), loc[p.i], loc[p.j]) for p in pairs if p.i in loc]
        try:
            ba, sub = _solve(len(comp), sub, f, prior=prior[comp], f_given=f_given, focal_model=focal_model,
                             mast=None if mast is None else mast.part(comp), prior_sigma_deg=prior_sigma_deg)
        except DataError:
            prior_only += comp
            continue
        R[comp] = _reg.align_to_prior(ba.R, prior[comp])
        focals[comp] = ba.focal[np.zeros(len(comp), np.int64)] if len(ba.focal) == 1 else ba.focal
        m = sum(p.n_inliers for p in sub)
        sq += ba.rms_px ** 2 * m
        cnt += m
        kept += [_reg.subset(p, slice(None), comp[p.i], comp[p.j]) for p in sub]
    rms = math.sqrt(sq / cnt) if cnt else math.nan
    return R, focals, rms, kept, tuple(sorted(prior_only))


def _solve(n: int, pairs: list, f: float, *, prior: np.ndarray | None, f_given: float | None, focal_model: str,
           mast: _reg.Mast | None = None, prior_sigma_deg: float = 0.5):
    """Steps 5-6: initial rotations and the bundle adjustment (focal model chosen here)."""
    R0 = prior.copy() if prior is not None else _reg.spanning_tree_rotations(n, pairs, f)
    pk = dict(prior=prior, prior_sigma_deg=prior_sigma_deg)
    shared = np.zeros(n, np.int64)
    if f_given is not None or focal_model == "shared":
        ba, pairs = _adjust(n, pairs, R0, np.array([f]), shared, refine=f_given is None, mast=mast, **pk)
    elif focal_model == "per_frame":
        ba, pairs = _adjust(n, pairs, R0, np.full(n, f), np.arange(n), refine=True, **pk)
    else:   # auto: one focal length unless it cannot explain the matches (zoomed photos)
        try:
            res = _adjust(n, pairs, R0, np.array([f]), shared, refine=True, **pk)
        except DataError:
            res = None
        if res is None or res[0].rms_px > AUTO_PER_FRAME_RMS_PX:
            per = _adjust(n, pairs, R0, np.full(n, f), np.arange(n), refine=True, **pk)
            if res is None or per[0].rms_px < 0.8 * res[0].rms_px:
                res = per
        ba, pairs = res
    if not math.isfinite(ba.rms_px):
        raise invalid("images", f"<{n} frames>", "frames whose matches a rotating camera can explain", DataError)
    return ba, pairs


def _register(grays: list[np.ndarray], *, kind: str, scale: float, max_features: int, f_given: float | None,
              prior: np.ndarray | None, refine: bool, prior_tolerance_deg: float,
              fgray: dict[int, np.ndarray], det_grays: list[np.ndarray] | None = None,
              masks: list[np.ndarray] | None = None, centres: np.ndarray | None = None,
              ground_z: float | None = None) -> tuple[list, float]:
    """Steps 1-4: features (on ``det_grays`` when given: contrast-equalised copies), candidate
    pairs, verified (and refined, on ``grays``) pairs, focal length, prior check. Returns the
    verified pairs and the focal length (px)."""
    n = len(grays)
    h, w = grays[0].shape
    diag = math.hypot(w, h)
    # 1. features; OpenCV releases the GIL: two threads overlap the serial parts of the work
    with ThreadPoolExecutor(max_workers=2) as pool:
        dg = grays if det_grays is None else det_grays
        feats = list(pool.map(lambda k: _reg.detect(dg[k], scale=scale, nfeatures=max_features, kind=kind,
                                                    mask=None if masks is None else masks[k]), range(n)))

    # 2. candidate pairs
    if prior is not None:
        axes = prior[:, :, 2]
        ang = np.degrees(np.arccos(np.clip(axes @ axes.T, -1.0, 1.0)))
        k_nn = min(n - 1, 8)
        cand = set()
        for i in range(n):
            order = [j for j in np.argsort(ang[i]) if j != i][:k_nn]
            for j in order:
                if f_given is None or ang[i, j] < 2.0 * math.degrees(math.atan(diag / 2.0 / f_given)) + 10.0:
                    cand.add((min(i, int(j)), max(i, int(j))))
    elif n <= 10:
        cand = {(i, j) for i in range(n) for j in range(i + 1, n)}
    else:
        cand = _reg.candidate_pairs_by_votes(feats, per_frame=8)

    # 3. verified pairs
    ransac_px = _reg.RANSAC_PX / scale
    def match(ij):
        i, j = ij
        fa, fb = feats[i], feats[j]
        if prior is not None and f_given is not None:
            # only frame i's keypoints that the prior puts in the overlap are looked up (the ratio test
            # still compares with all of frame j's: as many look-alikes as without the prior)
            margin = f_given * math.tan(math.radians(min(prior_tolerance_deg, 30.0)))
            fa = _reg.in_view(fa, prior[j].T @ prior[i], f_given, w, h, margin)
        return _reg.match_pair(fa, fb, i, j, ransac_px=ransac_px)

    with ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(match, sorted(cand)))
    pairs = [pm for pm in found if pm is not None]
    if refine:      # sub-pixel correspondences on the full-resolution frames
        for k in {pm.i for pm in pairs} | {pm.j for pm in pairs}:
            if k not in fgray:
                fgray[k] = grays[k].astype(np.float32)
        shift = max(4.0, 2.0 * _reg.RANSAC_PX / scale)
        pairs = [pr for pm in pairs
                 if (pr := _reg.refine_pair(fgray[pm.i], fgray[pm.j], pm, max_shift_px=shift)) is not None]
    if not pairs:
        return pairs, math.nan
    if centres is not None:         # known off-axis projection centres: matches as the rotation centre sees them
        mast = _reg.Mast(centres, ground_z)
        pairs = [_reg.mast_corrected(pm, f_given, prior, mast) for pm in pairs]

    # 4. focal length
    f = f_given if f_given is not None else _reg.estimate_focal(pairs, diag)
    if prior is not None:
        pairs = [pm for pm in pairs if _reg.rotation_angle_deg(_reg.relative_rotation(pm, f),
                                                                prior[pm.j].T @ prior[pm.i]) <= prior_tolerance_deg]
    return pairs, f


def stitch_panorama(images: Sequence[np.ndarray], *, focal_px: float | None = None,
                    pointing: Sequence[np.ndarray] | None = None, output_scale: float = 1.0,
                    registration_mpx: float = 0.6, max_features: int = 1000, blend_bands: int = 5,
                    prior_tolerance_deg: float = 5.0, focal_model: str = "auto",
                    features: str = "auto", refine: bool = True, contrast: str = "auto",
                    masks: Sequence[np.ndarray] | None = None, centres=None,
                    ground_z: float | None = None, pointing_sigma_deg: float = 0.5) -> Panorama:
    """Stitch frames from a camera rotating about its projection centre into a mosaic.

    Parameters
    ----------
    images : sequence of (H, W) or (H, W, 3) uint8 arrays
        At least two frames of one size (RGB when 3 channels), each overlapping another.
    focal_px : float, optional
        Focal length in pixels; estimated from the matches when None (needs some perspective:
        frames of a wide field or a rotation large against the field).
    pointing : sequence of (3, 3) arrays, optional
        Prior camera-to-world rotation of each frame (e.g. from image sidecars); refined by the
        bundle adjustment, and the result is expressed in its world frame.
    output_scale : float
        Mosaic resolution relative to the input (1 = ``focal_px`` pixels per radian).
    registration_mpx : float
        Size at which features are detected, megapixels (frames are never upsampled).
    max_features : int
        Features kept per frame.
    features : "auto" | "sift" | "orb"
        Keypoint detector. ORB (Rublee et al. 2011) is ~6x faster to detect; SIFT
        (Lowe 2004) survives the larger perspective and scale changes between the frames of a
        wide-angle sweep. ``"auto"``: ORB, and SIFT for all frames when ORB's verified matches
        do not join every frame. Accuracy does not depend on the choice when ``refine`` is on.
    centres : (N, 3) array, optional
        With ``pointing`` and ``focal_px``: each frame's projection centre relative to the point
        the camera turns about (world frame of ``pointing``, metres): a pan-tilt head whose optical
        centre is off its axes. Matched points are moved to where that point would see them,
        assuming they lie on a ground plane through ``z = ground_z`` (relative to it; rays above
        the horizon are kept), so the ground obeys the pure-rotation model the adjustment fits;
        the plane's tilt and a small height correction are adjusted with the rotations
        (:class:`_panorama_register.GroundModel`). The mosaic is composited as usual.
    ground_z : float, optional
        Height of the ground below the turning point (e.g. minus the mast height), the plane's
        prior height.
    masks : sequence of (H, W) bool arrays, optional
        Where each frame's features may be detected (False: ignore, e.g. the lander's own deck and
        panels in its mast camera's frames, whose parallax a rotation cannot explain).
    contrast : "auto" | "clahe" | "none"
        Features are detected on contrast-equalised copies of the frames (CLAHE; refinement and
        blending use the frames themselves): ``"auto"`` when the set is low in contrast (median grey
        standard deviation of the unsaturated pixels below 16 DN: regolith under a high Sun),
        ``"clahe"`` always (lunar sets whose saturated vehicles hide how flat the ground is),
        ``"none"`` never.
    refine : bool
        Refine every inlier match to sub-pixel accuracy on the full-resolution frames
        (Lucas-Kanade on homography-warped patches) before the bundle adjustment.
    blend_bands : int
        Multi-band blending levels (0 = hard seams).
    prior_tolerance_deg : float
        With ``pointing``: largest disagreement between a pair's matched rotation and the prior.
        Only the keypoints the prior puts within this angle of a frame's neighbour are matched.
    pointing_sigma_deg : float
        With ``pointing``: its standard deviation per axis. The bundle adjustment holds each
        rotation near its prior with that weight (against a match noise of 1 px), so that what the
        matches leave free (a group hanging on one weak pair, a ring left open by frames that
        match nothing) follows the priors rather than the drift of the chain.
    focal_model : "auto" | "shared" | "per_frame"
        When ``focal_px`` is None: one focal length for all frames, one per frame (zooming
        photographer), or ``"auto"``: shared unless its RMS exceeds 1 px and per-frame focal
        lengths reduce it by more than 20 %.

    Returns
    -------
    Panorama

    Raises
    ------
    ScenarioError
        Malformed input: fewer than 2 frames, wrong dtype or shape, frames of different sizes,
        ``pointing`` of the wrong length or not rotations, bad options.
    DataError
        Frames that no verified feature matches connect (named in the message). With
        ``pointing``, only when no pair of frames matches: unmatched frames are otherwise placed by
        their priors (``Panorama.prior_only``).

    Examples
    --------
    >>> import numpy as np
    >>> stitch_panorama([np.zeros((64, 64), np.uint8)])
    Traceback (most recent call last):
    ...
    farside.errors.ScenarioError: images = '<1 frame(s)>' is invalid: at least 2 overlapping frames
    """
    frames = _check_images(images)
    n = len(frames)
    h, w = frames[0].shape[:2]
    f_given = None if focal_px is None else _positive("focal_px", focal_px)
    prior = None if pointing is None else _check_pointing(pointing, n)
    output_scale = _positive("output_scale", output_scale, 0.0, 4.0)
    registration_mpx = _positive("registration_mpx", registration_mpx)
    if not isinstance(max_features, (int, np.integer)) or max_features < 50:
        raise invalid("max_features", max_features, "an integer >= 50")
    if not isinstance(blend_bands, (int, np.integer)) or not 0 <= blend_bands <= 8:
        raise invalid("blend_bands", blend_bands, "an integer in [0, 8]")
    prior_tolerance_deg = _positive("prior_tolerance_deg", prior_tolerance_deg, 0.0, 180.0)
    pointing_sigma_deg = _positive("pointing_sigma_deg", pointing_sigma_deg, 0.0, 180.0)
    if features not in ("auto", "sift", "orb"):
        raise invalid("features", features, '"auto", "sift" or "orb"')
    if focal_model not in ("auto", "shared", "per_frame"):
        raise invalid("focal_model", focal_model, '"auto", "shared" or "per_frame"')
    if contrast not in ("auto", "clahe", "none"):
        raise invalid("contrast", contrast, '"auto", "clahe" or "none"')
    ctr = None
    if centres is not None:
        try:
            ctr = np.asarray(centres, float).reshape(n, 3)
        except (TypeError, ValueError):
            raise invalid("centres", type(centres).__name__, f"({n}, 3) projection centres in metres") from None
        if not np.all(np.isfinite(ctr)) or prior is None or f_given is None:
            raise invalid("centres", "given without pointing and focal_px or not finite",
                          "finite (N, 3) centres, with pointing and focal_px")
        gz = float(ground_z) if ground_z is not None else math.nan
        if not (math.isfinite(gz) and gz < 0.0):
            raise invalid("ground_z", ground_z, "the ground's height below the turning point (< 0 m)")
    mask_list = None
    if masks is not None:
        try:
            mask_list = [np.asarray(m, bool) for m in masks]
        except (TypeError, ValueError):
            raise invalid("masks", type(masks).__name__, "one (H, W) bool array per frame") from None
        if len(mask_list) != n or any(m.shape != (h, w) for m in mask_list):
            raise invalid("masks", f"<{len(mask_list)} masks>", f"one ({h}, {w}) bool array per frame ({n})")

    mast = None if ctr is None else _reg.Mast(ctr, float(ground_z))
    grays = [_reg.to_gray(im) for im in frames]
    scale = min(1.0, math.sqrt(registration_mpx * 1e6 / (w * h)))
    fgray: dict[int, np.ndarray] = {}
    opts = dict(scale=scale, max_features=int(max_features), f_given=f_given, prior=prior, refine=refine,
                prior_tolerance_deg=prior_tolerance_deg, fgray=fgray, det_grays=_reg.equalised(grays, contrast),
                masks=mask_list, centres=ctr, ground_z=None if ctr is None else float(ground_z))
    # 1-6. registration and bundle adjustment
    kinds = ["orb", "sift"] if features == "auto" else [features]
    prior_only: tuple[int, ...] = ()
    for attempt, used in enumerate(kinds):      # "auto": SIFT when ORB cannot join every frame
        pairs, f = _register(grays, kind=used, **opts)
        try:
            _reg.require_connected(n, pairs)
            ba, pairs = _solve(n, pairs, f, prior=prior, f_given=f_given, focal_model=focal_model, mast=mast,
                               prior_sigma_deg=pointing_sigma_deg)
            R = _reg.align_to_prior(ba.R, prior) if prior is not None else _reg.level(ba.R)
            focals = ba.focal[np.zeros(n, np.int64)] if len(ba.focal) == 1 else ba.focal.copy()
            rms = float(ba.rms_px)
            break
        except DataError:
            if attempt < len(kinds) - 1:
                continue
            if prior is None or not pairs:
                raise
            # known pointing: each group of matched frames is adjusted on its own and placed by its
            # prior; a frame no match joins keeps its prior (listed in Panorama.prior_only)
            R, focals, rms, pairs, prior_only = _solve_by_parts(n, pairs, f, prior=prior, f_given=f_given, mast=mast,
                                                                 prior_sigma_deg=pointing_sigma_deg,
                                                                 focal_model=focal_model)

    # 7-8. compositing; the registration's float copies of the frames (4 bytes a pixel: 0.3 GB for
    # the 80 TCAM frames) and contrast-equalised copies are not needed any more
    fgray.clear()
    del opts
    f_mean = float(np.exp(np.mean(np.log(focals))))
    lay = _comp.layout(R, focals, w, h, s=f_mean * output_scale, bands=int(blend_bands))
    mpx = lay.pad_w * lay.pad_h / 1e6
    if mpx > MAX_MOSAIC_MPX:    # the blending pyramids hold ~25 bytes per mosaic pixel
        raise invalid("output_scale", output_scale,
                      f"a scale giving a mosaic of at most {MAX_MOSAIC_MPX:.0f} megapixels (this one: "
                      f"{lay.width} x {lay.height} px); try {output_scale * math.sqrt(MAX_MOSAIC_MPX / mpx):.3g}")
    gains = _comp.exposure_gains(grays, R, focals, lay)
    mosaic, covered = _comp.blend(frames, R, focals, lay, gains, bands=int(blend_bands))
    return Panorama(image=mosaic, rotations=R, rms_reprojection_px=rms, focal_px=f_mean, focals_px=focals,
                    projection="equirectangular", px_per_rad=float(lay.s), azimuth0_rad=float(lay.az0),
                    elevation0_rad=float(lay.el0), full_circle=bool(lay.full_circle), mask=covered, gains=gains,
                    pairs=tuple((pm.i, pm.j, pm.n_inliers) for pm in pairs), features=used,
                    prior_only=tuple(prior_only))
