"""Registration half of :func:`farside.imaging.stitch_panorama`: features, pair matching, focal
length, spanning tree, bundle adjustment of the rotations and levelling.

Image points are kept in *centred* pixel coordinates of the full-resolution frame (principal point
at the origin, pixel-centre convention), so a point ``(x, y)`` has the camera ray ``(x, y, f)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree
from scipy.spatial.transform import Rotation

from farside.errors import DataError, invalid
from farside.imaging._panorama_kernels import ba_normal_equations, solve_spd

#: Lowe's ratio test threshold (Lowe 2004, IJCV 60:91, section 7.1: 0.8; a little stricter here).
RATIO = 0.75
#: Brown & Lowe (2007, IJCV 74:59, eq. 9) pair-acceptance model: inliers > ALPHA + BETA * matches.
ALPHA, BETA = 8.0, 0.3
MIN_INLIERS = 15
#: RANSAC threshold on the homography transfer error, in registration-resolution pixels.
RANSAC_PX = 2.5
#: Huber threshold of the bundle adjustment (full-resolution px) and the outlier cut after it.
HUBER_PX = 1.5
PRUNE_PX = 3.0


@dataclass
class Features:
    """Keypoints of one frame: centred full-resolution coordinates, descriptors, response."""

    xy: np.ndarray          # (K, 2) float64
    desc: np.ndarray        # (K, 128) float32 (SIFT) or (K, 32) uint8 (ORB)
    response: np.ndarray    # (K,) float32
    binary: bool = False    # Hamming-distance descriptors (ORB)


@dataclass
class PairMatch:
    """RANSAC inliers between frames ``i < j`` (centred full-resolution coordinates)."""

    i: int
    j: int
    p_i: np.ndarray         # (m, 2)
    p_j: np.ndarray         # (m, 2)
    n_matches: int          # ratio-test matches before RANSAC
    H: np.ndarray           # (3, 3) homography p_j ~ H p_i (centred coordinates)
    raw_i: np.ndarray | None = None  # (m, 2) measured points before the mast-offset correction (None: p_i)
    raw_j: np.ndarray | None = None

    @property
    def n_inliers(self) -> int:
        return int(self.p_i.shape[0])


# ---------------------------------------------------------------------------------------------
# features and matching
# ---------------------------------------------------------------------------------------------
def to_gray(img: np.ndarray) -> np.ndarray:
    """Grey uint8 copy of an (H, W) or (H, W, 3) RGB image."""
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


#: frames whose median grey standard deviation is below this (DN) get contrast-equalised copies for
#: feature detection (lunar regolith under a high Sun: a few DN of texture; ordinary photos: 40-70)
LOW_CONTRAST_DN = 16.0


def equalised(grays: list[np.ndarray], mode: str = "auto") -> list[np.ndarray] | None:
    """Contrast-limited adaptive histogram equalisation (CLAHE: clip limit 3, 8 x 8 tiles; Zuiderveld
    1994, OpenCV's implementation) of every frame, for feature detection only, when the set is low
    in contrast (median grey std of the unsaturated pixels < LOW_CONTRAST_DN); None otherwise (detect on the frames as
    they are); ``mode="clahe"`` always, ``"none"`` never. One decision for the whole set, so that
    descriptors compare like with like. On a
    TCAM set with 8 DN of texture it raises SIFT's verified pairs from 2 of 10 neighbours to 10 of 10."""
    def spread(g):     # grey std of the unsaturated pixels (a saturated object would hide a flat surface)
        v = g[(g > 4) & (g < 251)]
        return float(v.std()) if v.size > 0.1 * g.size else 0.0

    if mode == "none" or (mode == "auto" and np.median([spread(g) for g in grays]) >= LOW_CONTRAST_DN):
        return None
    clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    return [clahe.apply(g) for g in grays]


def detect(gray: np.ndarray, *, scale: float, nfeatures: int, kind: str = "sift",
           mask: np.ndarray | None = None) -> Features:
    """Keypoints of a grey frame detected at ``scale`` times its size.

    ``kind="sift"`` (default; Lowe 2004): sub-pixel refined, scale-invariant keypoints, what the
    0.05 deg / sub-pixel target of the bundle adjustment needs. ``kind="orb"`` (Rublee et al.
    2011) is several times faster, but its FAST corners sit on the integer grid of each pyramid
    level (quantisation up to 0.5 px x 1.2^level) and repeat less under large perspective change.
    """
    h, w = gray.shape
    orb = kind == "orb"
    empty = Features(np.zeros((0, 2)), np.zeros((0, 32), np.uint8) if orb else np.zeros((0, 128), np.float32),
                     np.zeros(0, np.float32), orb)
    if mask is not None and np.count_nonzero(mask) < 0.002 * mask.size:
        return empty                   # nothing to detect (e.g. a frame of the lander's own deck)
    small = gray if scale == 1.0 else cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                 interpolation=cv2.INTER_AREA)
    sx = small.shape[1] / w
    sy = small.shape[0] / h
    if kind == "orb":
        det = cv2.ORB_create(nfeatures=nfeatures, fastThreshold=10)
    else:
        det = cv2.SIFT_create(nfeatures=nfeatures, contrastThreshold=0.03)
    m8 = None
    if mask is not None:         # keypoints only where the mask is True (resized like the frame)
        m8 = mask.astype(np.uint8) * 255
        if m8.shape != small.shape:
            m8 = cv2.resize(m8, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    # only the mask's bounding box (plus SIFT's reach) is searched: a frame half filled by the lander
    # costs half as much
    r0, c0 = 0, 0
    if m8 is not None:
        rows = np.flatnonzero(m8.any(axis=1))
        cols = np.flatnonzero(m8.any(axis=0))
        pad = 16
        r0, r1 = max(0, rows[0] - pad), min(small.shape[0], rows[-1] + 1 + pad)
        c0, c1 = max(0, cols[0] - pad), min(small.shape[1], cols[-1] + 1 + pad)
        small, m8 = small[r0:r1, c0:c1], m8[r0:r1, c0:c1]
    kps, desc = det.detectAndCompute(small, m8)
    if desc is None or len(kps) == 0:
        return empty
    pts = np.array([k.pt for k in kps], np.float64) + np.array([c0, r0], np.float64)
    resp = np.array([k.response for k in kps], np.float32)
    # resize-centre convention: small pixel x <-> full (x + 0.5) / s - 0.5; then centre
    xy = np.empty_like(pts)
    xy[:, 0] = (pts[:, 0] + 0.5) / sx - 0.5 - (w - 1) / 2.0
    xy[:, 1] = (pts[:, 1] + 0.5) / sy - 0.5 - (h - 1) / 2.0
    return Features(xy, desc, resp, kind == "orb")


def candidate_pairs_by_votes(feats: list[Features], *, per_frame: int, n_query: int = 400) -> set[tuple[int, int]]:
    """Likely-overlapping frame pairs from one approximate nearest-neighbour search over all
    frames' strongest descriptors (vote counting, as in Brown & Lowe 2007, section 3)."""
    n = len(feats)
    descs, owner = [], []
    for k, ft in enumerate(feats):
        order = np.argsort(-ft.response)[:n_query]
        descs.append(ft.desc[order])
        owner.append(np.full(len(order), k))
    d = np.ascontiguousarray(np.concatenate(descs))
    own = np.concatenate(owner)
    if feats[0].binary:     # LSH index for Hamming descriptors
        flann = cv2.FlannBasedMatcher(dict(algorithm=6, table_number=6, key_size=12, multi_probe_level=1),
                                      dict(checks=32))
    else:
        flann = cv2.FlannBasedMatcher(dict(algorithm=1, trees=4), dict(checks=32))
    knn = flann.knnMatch(d, d, k=min(6, len(d)))
    votes = np.zeros((n, n))
    for q, nbrs in enumerate(knn):
        if q >= len(own):
            break
        a = own[q]
        for m in nbrs:
            b = own[m.trainIdx]
            if b != a:
                votes[a, b] += 1.0
    votes = votes + votes.T
    out = set()
    for a in range(n):
        for b in np.argsort(-votes[a])[:per_frame]:
            if votes[a, b] > 0:
                out.add((min(a, int(b)), max(a, int(b))))
    return out


def in_view(ft: Features, M: np.ndarray, f: float, w: int, h: int, margin_px: float) -> Features:
    """The keypoints of ``ft`` that the rotation ``M`` (frame rays to the other frame's rays) puts
    inside the other frame (w x h, focal ``f``) or within ``margin_px`` of its edges: with a
    pointing prior, the only ones a match can come from (fewer descriptors to compare, fewer
    look-alikes for the ratio test)."""
    if len(ft.xy) == 0:
        return ft
    v = np.column_stack([ft.xy, np.full(len(ft.xy), f)]) @ M.T
    z = np.maximum(v[:, 2], 1e-9)
    ok = ((v[:, 2] > 0.1 * f) & (np.abs(f * v[:, 0] / z) <= w / 2.0 + margin_px)
          & (np.abs(f * v[:, 1] / z) <= h / 2.0 + margin_px))
    return Features(ft.xy[ok], ft.desc[ok], ft.response[ok], ft.binary)


def match_pair(fa: Features, fb: Features, i: int, j: int, *, ransac_px: float) -> PairMatch | None:
    """Ratio-test SIFT matches of frames i, j, verified by a RANSAC homography; ``None`` when the
    pair fails the Brown & Lowe acceptance test."""
    if len(fa.xy) < 2 or len(fb.xy) < 2:
        return None
    bf = cv2.BFMatcher(cv2.NORM_HAMMING if fa.binary else cv2.NORM_L2)
    knn = bf.knnMatch(fa.desc, fb.desc, k=2)
    qi, ti = [], []
    for m in knn:
        if len(m) == 2 and m[0].distance < RATIO * m[1].distance:
            qi.append(m[0].queryIdx)
            ti.append(m[0].trainIdx)
    if len(qi) < MIN_INLIERS:
        return None
    # one-to-one: keep the best query for each train index
    qi = np.asarray(qi)
    ti = np.asarray(ti)
    _, first = np.unique(ti, return_index=True)
    qi, ti = qi[first], ti[first]
    if len(qi) < MIN_INLIERS:          # many matches onto few keypoints (repetitive texture)
        return None
    pa = fa.xy[qi]
    pb = fb.xy[ti]
    H, mask = cv2.findHomography(pa.astype(np.float32), pb.astype(np.float32), cv2.RANSAC, ransac_px,
                                 maxIters=2000, confidence=0.995)
    if H is None or mask is None:
        return None
    inl = mask.ravel().astype(bool)
    n_in = int(inl.sum())
    if n_in < MIN_INLIERS or n_in <= ALPHA + BETA * len(qi) or abs(np.linalg.det(H)) < 1e-8:
        return None
    return PairMatch(i, j, pa[inl], pb[inl], len(qi), H)


def _inside(col, row, reach, w: int, h: int) -> np.ndarray:
    """Points whose square of half-width ``reach`` (px) lies inside a w x h frame."""
    return (col - reach >= 0) & (col + reach <= w - 1) & (row - reach >= 0) & (row + reach <= h - 1)


def refine_pair(gray_i: np.ndarray, gray_j: np.ndarray, pm: PairMatch, *, half: int = 6, iters: int = 10,
                max_shift_px: float = 4.0, min_ncc: float = 0.8) -> PairMatch | None:
    """Sub-pixel refinement of a pair's inliers on the full-resolution frames.

    For each match the neighbourhood of ``p_i`` is resampled into frame j's geometry with the
    local affine approximation of the pair's homography (so perspective, roll and zoom differences
    are undone), and its position in frame j is found by inverse-compositional Lucas-Kanade
    (Baker & Matthews 2004, IJCV 56:221) on zero-mean, unit-variance patches. Registration can
    then run on a small copy of each frame while the bundle adjustment sees full-resolution,
    sub-pixel correspondences. Matches that drift more than ``max_shift_px`` from the detected
    keypoint, end with a normalised cross-correlation below ``min_ncc``, or whose patch leaves a
    frame are dropped. ``gray_i``, ``gray_j``: float32 full-resolution grey frames.
    """
    h, w = gray_i.shape
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    H = pm.H / pm.H[2, 2]
    p = pm.p_i
    x, y = p[:, 0], p[:, 1]
    D = H[2, 0] * x + H[2, 1] * y + H[2, 2]
    xq = (H[0, 0] * x + H[0, 1] * y + H[0, 2]) / D
    yq = (H[1, 0] * x + H[1, 1] * y + H[1, 2]) / D
    # local Jacobian of the homography at p_i (frame i -> frame j), and its inverse
    a = (H[0, 0] - xq * H[2, 0]) / D
    b = (H[0, 1] - xq * H[2, 1]) / D
    c = (H[1, 0] - yq * H[2, 0]) / D
    d = (H[1, 1] - yq * H[2, 1]) / D
    det = a * d - b * c
    ok = np.abs(det) > 1e-6
    det = np.where(ok, det, 1.0)
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    g = np.arange(-half, half + 1, dtype=np.float64)
    uu, vv = np.meshgrid(g, g)
    uu, vv = uu.ravel(), vv.ravel()
    # template: frame i sampled on frame j's pixel grid around the match
    tx = x[:, None] + ia[:, None] * uu + ib[:, None] * vv + cx
    ty = y[:, None] + ic[:, None] * uu + id_[:, None] * vv + cy
    reach_i = half * np.sqrt(np.maximum(ia ** 2 + ib ** 2, ic ** 2 + id_ ** 2)) * 1.5 + 2
    inside_i = _inside(x + cx, y + cy, reach_i, w, h)
    T = cv2.remap(gray_i, tx.astype(np.float32), ty.astype(np.float32), cv2.INTER_LINEAR,
                  borderMode=cv2.BORDER_REFLECT)
    n = 2 * half + 1
    T = T - T.mean(axis=1, keepdims=True)
    sd = T.std(axis=1, keepdims=True)
    ok &= inside_i & (sd[:, 0] > 1e-3)
    T = T / np.where(sd > 1e-3, sd, 1.0)
    Tg = T.reshape(-1, n, n)
    gy, gx = np.gradient(Tg, axis=(1, 2))
    gx, gy = gx.reshape(len(p), -1), gy.reshape(len(p), -1)
    A11, A12, A22 = (gx * gx).sum(1), (gx * gy).sum(1), (gy * gy).sum(1)
    dA = A11 * A22 - A12 * A12
    ok &= dA > 1e-6 * (A11 + A22) ** 2
    dA = np.where(ok, dA, 1.0)
    q = pm.p_j.copy()
    for _ in range(iters):
        sx = (q[:, 0] + cx)[:, None] + uu
        sy = (q[:, 1] + cy)[:, None] + vv
        S = cv2.remap(gray_j, sx.astype(np.float32), sy.astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REFLECT)
        S = S - S.mean(axis=1, keepdims=True)
        S = S / np.maximum(S.std(axis=1, keepdims=True), 1e-3)
        e = S - T
        b1, b2 = (gx * e).sum(1), (gy * e).sum(1)
        du = (A22 * b1 - A12 * b2) / dA
        dv = (A11 * b2 - A12 * b1) / dA
        q[:, 0] -= np.where(ok, du, 0.0)
        q[:, 1] -= np.where(ok, dv, 0.0)
        if np.max(np.abs(np.where(ok, du, 0.0)) + np.abs(np.where(ok, dv, 0.0))) < 0.01:
            break
    ncc = 1.0 - 0.5 * np.mean(e * e, axis=1)
    shift = np.hypot(*(q - pm.p_j).T)
    ok &= (shift <= max_shift_px) & (ncc >= min_ncc)
    ok &= _inside(q[:, 0] + cx, q[:, 1] + cy, half, w, h)
    if ok.sum() < MIN_INLIERS:
        return None
    return PairMatch(pm.i, pm.j, pm.p_i[ok], q[ok], pm.n_matches, pm.H)


# ---------------------------------------------------------------------------------------------
# rotations and focal length
# ---------------------------------------------------------------------------------------------
def rays(p: np.ndarray, f: float) -> np.ndarray:
    """Unit camera rays of centred pixel points."""
    r = np.column_stack([p, np.full(len(p), f)])
    return r / np.linalg.norm(r, axis=1, keepdims=True)


def subset(pm: PairMatch, sel, i: int | None = None, j: int | None = None) -> PairMatch:
    """The matches ``sel`` of a pair (optionally renumbered frames), raw points kept."""
    def cut(a):
        return None if a is None else a[sel]

    return PairMatch(pm.i if i is None else i, pm.j if j is None else j, pm.p_i[sel], pm.p_j[sel], pm.n_matches,
                     pm.H, cut(pm.raw_i), cut(pm.raw_j))


@dataclass
class Mast:
    """What the mission knows of a pan-tilt head whose optical centre is off its axes: each frame's
    projection centre relative to the turning point (world frame of the priors, m), and the ground
    around it as a plane ``z = ground_z + slope_x x + slope_y y`` (relative to the turning point);
    the slopes (and a small height correction) are estimated from the matches (:class:`GroundModel`)."""

    centres: np.ndarray
    ground_z: float
    slope_x: float = 0.0
    slope_y: float = 0.0
    dz: float = 0.0         # estimated correction of ground_z, m

    def part(self, frames) -> "Mast":
        return Mast(self.centres[np.asarray(frames, int)], self.ground_z, self.slope_x, self.slope_y, self.dz)

    def with_plane(self, t) -> "Mast":
        return Mast(self.centres, self.ground_z, float(t[1]), float(t[2]), float(t[0]))


def mast_corrected(pm: PairMatch, f: float, R: np.ndarray, mast: Mast) -> PairMatch:
    """A pair's measured matches (``raw_i``, ``raw_j``, else ``p_i``, ``p_j``) moved to where the
    turning point would see them, with the rotations ``R`` of all frames (see :class:`GroundModel`)."""
    ri = pm.p_i if pm.raw_i is None else pm.raw_i
    rj = pm.p_j if pm.raw_j is None else pm.raw_j
    g = GroundModel(ri, rj, np.full(len(ri), pm.i), np.full(len(rj), pm.j), f, R, mast)
    a, b = g.points(g.theta0)
    return PairMatch(pm.i, pm.j, a, b, pm.n_matches, pm.H, ri, rj)


#: ground plane of the mast-offset correction: prior standard deviations of the height correction (m)
#: and of the two slopes, against which the matches' parallax is weighed
GROUND_SIGMA_M = 0.1
SLOPE_SIGMA = 0.03
#: match noise (px) that scales those priors into the adjustment's cost
GROUND_PRIOR_PX = 0.5


class GroundModel:
    """The matched points of a bundle adjustment as the turning point sees them, as a function of
    the ground plane ``theta`` = (height correction, slope x, slope y) of :class:`Mast`.

    A pixel's ray from its frame's projection centre ``c`` meets the plane at inverse distance
    ``rho`` (0 for rays that do not descend to it: the horizon and the sky, far away), the point
    ``X = c + d / rho``, which the turning point sees with the same rotation: the pixel
    ``f (R^T (rho c + d))_xy / (R^T (rho c + d))_z``. That makes the frames of a pan-tilt head whose
    optical centre is off its axes obey the pure-rotation model for the ground. The adjustment
    (:func:`bundle_adjust`) estimates ``theta`` with the rotations, each parameter held near its
    prior (the given height, level) with GROUND_SIGMA_M and SLOPE_SIGMA: the parallax of the ground
    between frames (millimetres of baseline, pixels within a few metres) carries the plane's tilt
    only weakly against a rotation, hence the tight priors. Rays are taken into the world with
    ``R_ref`` (the rotations when the model is built: the correction moves points by pixels, so
    its dependence on a rotation's last hundredth of a degree is negligible)."""

    def __init__(self, raw_i, raw_j, idx_i, idx_j, f: float, R_ref: np.ndarray, mast: Mast):
        self.f = float(f)
        self.idx_i, self.idx_j = idx_i, idx_j
        self.mast = mast
        self.theta0 = np.array([mast.dz, mast.slope_x, mast.slope_y])
        self.sigma = np.array([GROUND_SIGMA_M, SLOPE_SIGMA, SLOPE_SIGMA])
        self.Ri, self.Rj = R_ref[idx_i], R_ref[idx_j]
        self.ci, self.cj = mast.centres[idx_i], mast.centres[idx_j]

        def dirs(p, Rk):
            d = np.einsum("kab,kb->ka", Rk, np.column_stack([p, np.full(len(p), self.f)]))
            return d / np.linalg.norm(d, axis=1, keepdims=True)

        self.di, self.dj = dirs(raw_i, self.Ri), dirs(raw_j, self.Rj)

    def take(self, sel) -> "GroundModel":
        out = object.__new__(GroundModel)
        out.__dict__.update(self.__dict__)
        for k in ("idx_i", "idx_j", "Ri", "Rj", "ci", "cj", "di", "dj"):
            setattr(out, k, getattr(self, k)[sel])
        return out

    def _seen(self, d, c, Rk, theta):
        dz, sx, sy = theta
        den = d[:, 2] - sx * d[:, 0] - sy * d[:, 1]
        h = self.mast.ground_z + dz + sx * c[:, 0] + sy * c[:, 1] - c[:, 2]
        rho = np.where(den < -1e-6, den / h, 0.0)
        v = np.einsum("kba,kb->ka", Rk, rho[:, None] * c + d)
        v[:, 2] = np.maximum(v[:, 2], 1e-9)
        return self.f * v[:, :2] / v[:, 2:3]

    def points(self, theta) -> tuple[np.ndarray, np.ndarray]:
        return self._seen(self.di, self.ci, self.Ri, theta), self._seen(self.dj, self.cj, self.Rj, theta)

    def residuals(self, theta, R: np.ndarray, focal: float) -> np.ndarray:
        """(M, 2, 2) transfer residuals (directions i -> j, j -> i) under rotations ``R``, as the
        kernel of :func:`ba_normal_equations` computes them (one shared focal length)."""
        a, b = self.points(theta)
        M = np.einsum("kba,kbc->kac", R[self.idx_j], R[self.idx_i])      # R_j^T R_i
        out = np.empty((len(a), 2, 2))
        for d, (p, q, T) in enumerate(((a, b, M), (b, a, M.transpose(0, 2, 1)))):
            v = np.einsum("kab,kb->ka", T, np.column_stack([p, np.full(len(p), focal)]))
            v[:, 2] = np.maximum(v[:, 2], 1e-9)
            out[:, d] = focal * v[:, :2] / v[:, 2:3] - q
        return out

    def jacobian(self, theta, R: np.ndarray, focal: float) -> np.ndarray:
        """(M, 2, 2, 3) derivatives of :meth:`residuals` by ``theta`` (forward differences)."""
        r0 = self.residuals(theta, R, focal)
        steps = (1e-3, 1e-4, 1e-4)
        return np.stack([(self.residuals(theta + h * np.eye(3)[k], R, focal) - r0) / h
                         for k, h in enumerate(steps)], axis=-1)

    def prior_cost(self, theta, JtJ=None, Jtr=None) -> float:
        w = (GROUND_PRIOR_PX / self.sigma) ** 2
        if JtJ is not None:
            i = np.arange(JtJ.shape[0] - 3, JtJ.shape[0])
            JtJ[i, i] += w
            Jtr[-3:] += w * theta
        return float(np.sum(w * theta * theta))


def kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation M minimising sum |b - M a|^2 over unit vectors (Kabsch / Wahba)."""
    C = b.T @ a
    U, _, Vt = np.linalg.svd(C)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    return U @ D @ Vt


def relative_rotation(pm: PairMatch, f: float) -> np.ndarray:
    """``M = R_j^T R_i`` (frame i rays to frame j rays) of a verified pair."""
    return kabsch(rays(pm.p_i, f), rays(pm.p_j, f))


def focals_from_homography(H: np.ndarray) -> tuple[float | None, float | None]:
    """Focal lengths of the two frames of a rotation homography ``p_j ~ H p_i`` (centred px).

    Szeliski & Shum (1997, SIGGRAPH, "Creating full view panoramic image mosaics", section 4.2);
    the same equations as OpenCV's ``detail::focalsFromHomography``: with ``R ~ K_j^-1 H K_i``,
    orthogonal, equal-norm columns give ``f_j`` and rows give ``f_i``.
    """
    h = (H / H[2, 2]).ravel()
    out: list[float | None] = []
    # f_i from the rows
    d1 = h[0] * h[3] + h[1] * h[4]
    d2 = h[0] ** 2 + h[1] ** 2 - h[3] ** 2 - h[4] ** 2
    v1 = -h[2] * h[5] / d1 if d1 != 0 else -1.0
    v2 = (h[5] ** 2 - h[2] ** 2) / d2 if d2 != 0 else -1.0
    out.append(_pick_focal(v1, v2, d1, d2))
    # f_j from the columns
    d1 = h[6] * h[7]
    d2 = (h[7] - h[6]) * (h[7] + h[6])
    v1 = -(h[0] * h[1] + h[3] * h[4]) / d1 if d1 != 0 else -1.0
    v2 = (h[0] ** 2 + h[3] ** 2 - h[1] ** 2 - h[4] ** 2) / d2 if d2 != 0 else -1.0
    out.append(_pick_focal(v1, v2, d1, d2))
    return out[0], out[1]


def _pick_focal(v1: float, v2: float, d1: float, d2: float) -> float | None:
    if not (math.isfinite(v1) and math.isfinite(v2)):
        return None
    if v1 > 0 and v2 > 0:
        return math.sqrt(v1 if abs(d1) > abs(d2) else v2)
    if v1 > 0:
        return math.sqrt(v1)
    if v2 > 0:
        return math.sqrt(v2)
    return None


def estimate_focal(pairs: list[PairMatch], diag_px: float) -> float:
    """Focal length (px) from the verified pairs: the median homography estimate, refined by a
    golden-section search of the rotation-fit transfer error of the best-supported pairs."""
    ests = []
    for pm in pairs:
        fi, fj = focals_from_homography(pm.H)
        if fi is not None and fj is not None:
            ests.append(math.sqrt(fi * fj))
    ests = [e for e in ests if 0.05 * diag_px < e < 50.0 * diag_px]
    best = sorted(pairs, key=lambda p: -p.n_inliers)[:12]
    sub = []
    for pm in best:
        k = np.linspace(0, pm.n_inliers - 1, min(pm.n_inliers, 150)).astype(int)
        sub.append((pm.p_i[k], pm.p_j[k]))

    def cost(logf: float) -> float:
        f = math.exp(logf)
        c = 0.0
        for pa, pb in sub:
            a, b = rays(pa, f), rays(pb, f)
            M = kabsch(a, b)
            c += float(np.mean(np.sum((b - a @ M.T) ** 2, axis=1)))
        return c * f * f

    if ests:
        f0 = float(np.median(ests))
        lo, hi = math.log(f0 / 1.6), math.log(f0 * 1.6)
    else:
        grid = np.linspace(math.log(0.1 * diag_px), math.log(10.0 * diag_px), 41)
        k = int(np.argmin([cost(g) for g in grid]))
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = cost(c), cost(d)
    for _ in range(30):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = cost(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = cost(d)
    return math.exp((a + b) / 2.0)


def components(n: int, edges: list[tuple[int, int]]) -> list[list[int]]:
    """Connected components (sorted lists of frame indices) of the match graph."""
    if not edges:
        return [[k] for k in range(n)]
    e = np.asarray(edges)
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    comps: dict[int, list[int]] = {}
    for k, c in enumerate(lab):
        comps.setdefault(int(c), []).append(k)
    return sorted(comps.values(), key=lambda c: (-len(c), c[0]))


def require_connected(n: int, pairs: list[PairMatch]) -> None:
    """Raise :class:`DataError` naming the frames not joined to the rest by verified matches."""
    comps = components(n, [(p.i, p.j) for p in pairs])
    if len(comps) > 1:
        main, rest = comps[0], [k for c in comps[1:] for k in c]
        raise invalid("images", f"<{n} frames>",
                      f"frames {sorted(rest)} share no verified feature matches (>= {MIN_INLIERS} RANSAC "
                      f"inliers) with frames {main}; every frame must overlap the others", DataError)


def spanning_tree_rotations(n: int, pairs: list[PairMatch], f: float, root: int = 0) -> np.ndarray:
    """Initial camera-to-world rotations chained along the maximum spanning tree of the match
    graph (edge weight = inlier count), root frame = identity."""
    rel = {(p.i, p.j): relative_rotation(p, f) for p in pairs}
    w = np.array([1.0 / (1.0 + p.n_inliers) for p in pairs])
    e = np.array([(p.i, p.j) for p in pairs])
    g = coo_matrix((w, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    tree = minimum_spanning_tree(g)
    tree = tree + tree.T
    order, pred = breadth_first_order(tree, root, directed=False)
    R = np.tile(np.eye(3), (n, 1, 1))
    for k in order[1:]:
        p = pred[k]
        if (p, k) in rel:           # M = R_k^T R_p  ->  R_k = R_p M^T
            R[k] = R[p] @ rel[(p, k)].T
        else:                       # M = R_p^T R_k  ->  R_k = R_p M
            R[k] = R[p] @ rel[(k, p)]
    return R


def rotation_angle_deg(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Angle (deg) of ``A^T B`` for stacks of rotations."""
    Mt = np.einsum("...ji,...jk->...ik", A, B)
    tr = np.clip((np.trace(Mt, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    return np.degrees(np.arccos(tr))


# ---------------------------------------------------------------------------------------------
# bundle adjustment
# ---------------------------------------------------------------------------------------------
@dataclass
class BAResult:
    R: np.ndarray
    focal: np.ndarray       # (nf,) focal lengths, px
    rms_px: float
    keep: np.ndarray        # (M,) bool: matches kept after the outlier cut
    err: np.ndarray         # (M, 2) residual norms (px)
    theta: np.ndarray | None = None     # ground plane of the GroundModel (None without one)


_NO_EXTRA = np.zeros((0, 2, 2, 0))


def bundle_adjust(R0: np.ndarray, focal0: np.ndarray, fidx: np.ndarray, p_i: np.ndarray, p_j: np.ndarray,
                  idx_i: np.ndarray, idx_j: np.ndarray, *, refine_focal: bool, fixed: int = 0,
                  max_iter: int = 60, prior: np.ndarray | None = None, prior_weight: float = 0.0,
                  ground: GroundModel | None = None) -> BAResult:
    """Levenberg-Marquardt of the symmetric reprojection error over rotations (and focal lengths).

    Minimises the Huber loss of the image-plane transfer residuals of every match in both
    directions (see :mod:`farside.imaging._panorama_kernels`), then drops matches whose residual
    exceeds ``max(PRUNE_PX, 3 rms)`` and re-solves. ``fidx[k]`` is the focal parameter of frame k
    (all 0: one shared focal length). Gauge: rotation ``fixed`` held; with ``prior`` (camera-to-
    world rotations) and ``prior_weight`` > 0 instead each rotation is held near its prior by the
    cost ``prior_weight * |log(P_k^T R_k)|^2`` (px^2 per rad^2): where the matches leave a rotation
    free (a group hanging on one weak pair, an open ring) the priors decide, elsewhere the matches.
    With ``ground`` (one shared focal length, not refined) the matched points are the model's
    (``p_i``, ``p_j`` are ignored) and its ground plane is adjusted with the rotations.
    """
    n = R0.shape[0]
    nf = len(focal0)
    ne = 0 if ground is None else 3
    free = np.ones(3 * n + nf + ne, bool)
    if prior is None or prior_weight <= 0.0:
        prior, prior_weight = None, 0.0
        free[3 * fixed:3 * fixed + 3] = False
    if not refine_focal:
        free[3 * n:3 * n + nf] = False
    fidx = np.asarray(fidx, np.int64)
    theta = None if ground is None else ground.theta0.copy()
    if ground is not None:
        p_i, p_j = ground.points(theta)
    keep = np.ones(len(p_i), bool)
    R, focal = R0.copy(), np.asarray(focal0, float).copy()
    for _round in range(3):
        gk = None if ground is None else ground.take(keep)
        R, focal, theta = _lm(R, focal, fidx, p_i[keep], p_j[keep], idx_i[keep], idx_j[keep], free, max_iter,
                              prior, prior_weight, gk, theta)
        if ground is not None:
            p_i, p_j = ground.points(theta)
        _, _, _, err = ba_normal_equations(p_i, p_j, idx_i, idx_j, R, focal, fidx, nf, HUBER_PX, False, _NO_EXTRA)
        e = err.max(axis=1)
        rms = math.sqrt(float(np.mean(err[keep] ** 2)))
        new_keep = e <= max(PRUNE_PX, 3.0 * rms)
        if np.array_equal(new_keep, keep) or not new_keep.any():
            break
        keep = new_keep
    rms = math.sqrt(float(np.mean(err[keep] ** 2))) if keep.any() else math.inf
    return BAResult(R, focal, rms, keep, err, theta)


def _prior_terms(R, prior, weight, JtJ=None, Jtr=None) -> float:
    """Cost ``weight * sum |log(P_k^T R_k)|^2`` of the pointing priors; adds its Gauss-Newton terms
    to ``JtJ``, ``Jtr`` when given (local updates ``R_k exp([d_k]x)``: d theta / d d ~ I)."""
    if prior is None:
        return 0.0
    th = Rotation.from_matrix(np.einsum("kji,kjl->kil", prior, R)).as_rotvec()
    if JtJ is not None:
        n = R.shape[0]
        i = np.arange(3 * n)
        JtJ[i, i] += weight
        Jtr[:3 * n] += weight * th.ravel()
    return weight * float(np.sum(th * th))


def _normal(p_i, p_j, idx_i, idx_j, R, focal, fidx, want, prior, weight, ground, theta):
    """Normal equations (``want``) and cost of the adjustment: matches, pointing priors, ground."""
    nf = len(focal)
    extra = _NO_EXTRA
    if ground is not None:
        p_i, p_j = ground.points(theta)
        if want:
            extra = np.ascontiguousarray(ground.jacobian(theta, R, float(focal[0])))
    JtJ, Jtr, cost, err = ba_normal_equations(p_i, p_j, idx_i, idx_j, R, focal, fidx, nf, HUBER_PX, want, extra)
    cost += _prior_terms(R, prior, weight, JtJ if want else None, Jtr if want else None)
    if ground is not None:
        cost += ground.prior_cost(theta, JtJ if want else None, Jtr if want else None)
    return JtJ, Jtr, cost, err


def _lm(R, focal, fidx, p_i, p_j, idx_i, idx_j, free, max_iter, prior=None, weight=0.0, ground=None, theta=None):
    n, nf = R.shape[0], len(focal)
    ne = 0 if ground is None else 3
    lam = 1e-4
    rel = 1.0
    JtJ, Jtr, cost, _ = _normal(p_i, p_j, idx_i, idx_j, R, focal, fidx, True, prior, weight, ground, theta)
    for _ in range(max_iter):
        A = JtJ[np.ix_(free, free)]
        g = Jtr[free]
        improved = False
        for _try in range(10):
            Ad = A + lam * np.diag(np.diag(A) + 1e-9)
            step, ok = solve_spd(Ad, g)
            if not ok:
                try:
                    step = np.linalg.solve(Ad, g)
                except np.linalg.LinAlgError:
                    lam *= 10.0
                    continue
            step = -step
            full = np.zeros(3 * n + nf + ne)
            full[free] = step
            Rn = R @ Rotation.from_rotvec(full[:3 * n].reshape(n, 3)).as_matrix()
            fn = focal * np.exp(full[3 * n:3 * n + nf])
            tn = None if ground is None else theta + full[3 * n + nf:]
            _, _, cn, _ = _normal(p_i, p_j, idx_i, idx_j, Rn, fn, fidx, False, prior, weight, ground, tn)
            if cn < cost:
                improved = True
                rel = (cost - cn) / max(cost, 1e-300)
                R, focal, theta, cost = Rn, fn, tn, cn
                lam = max(lam / 5.0, 1e-12)
                break
            lam *= 10.0
        if not improved or rel < 1e-8:
            break
        JtJ, Jtr, cost, _ = _normal(p_i, p_j, idx_i, idx_j, R, focal, fidx, True, prior, weight, ground, theta)
    return R, focal, theta


# ---------------------------------------------------------------------------------------------
# world frame
# ---------------------------------------------------------------------------------------------
def level(R: np.ndarray) -> np.ndarray:
    """Rotate the whole set so that the world z axis is 'up' and frame 0 looks toward azimuth 0.

    Up is the direction most perpendicular to every camera's x (row) axis: a camera panned about
    a vertical axis keeps its rows level (the same idea as OpenCV's horizontal wave correction,
    Brown & Lowe 2007, section 5); its sign follows the cameras' mean image-up (-y) axis. When the
    x axes do not constrain it (nearly parallel), the mean image-up axis is used.
    """
    xs = R[:, :, 0]
    C = xs.T @ xs
    evals, evecs = np.linalg.eigh(C)
    up_cam = -R[:, :, 1].sum(axis=0)
    if evals[1] > 1e-4 * evals[2]:
        up = evecs[:, 0]
        if up @ up_cam < 0:
            up = -up
    else:
        up = up_cam / np.linalg.norm(up_cam)
    fwd = R[0][:, 2] - (R[0][:, 2] @ up) * up
    if np.linalg.norm(fwd) < 1e-6:      # frame 0 looks straight up/down: use its image-up instead
        fwd = -R[0][:, 1] - (-R[0][:, 1] @ up) * up
    north = fwd / np.linalg.norm(fwd)
    east = np.cross(north, up)
    G = np.vstack([east, north, up])    # rows: world axes in the old frame
    return G @ R


def align_to_prior(R: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Rotate the whole set by the global rotation G minimising sum |G R_k - P_k|_F^2."""
    C = np.einsum("kij,klj->il", prior, R)          # sum P_k R_k^T
    U, _, Vt = np.linalg.svd(C)
    G = U @ np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))]) @ Vt
    return G @ R
