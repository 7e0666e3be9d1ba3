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
from farside.imaging._panorama_kernels import ba_normal_equations

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
    small = gray if scale == 1.0 else cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                 interpolation=cv2.INTER_AREA)
    sx = small.shape[1] / w
    sy = small.shape[0] / h
    if kind == "orb":
        det = cv2.ORB_create(nfeatures=nfeatures, fastThreshold=10)
        width = 32
    else:
        det = cv2.SIFT_create(nfeatures=nfeatures, contrastThreshold=0.03)
        width = 128
    m8 = None
    if mask is not None:         # keypoints only where the mask is True (resized like the frame)
        m8 = mask.astype(np.uint8) * 255
        if m8.shape != small.shape:
            m8 = cv2.resize(m8, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    kps, desc = det.detectAndCompute(small, m8)
    if desc is None or len(kps) == 0:
        dt = np.uint8 if kind == "orb" else np.float32
        return Features(np.zeros((0, 2)), np.zeros((0, width), dt), np.zeros(0, np.float32), kind == "orb")
    pts = np.array([k.pt for k in kps], np.float64)
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


def plane_corrected(p: np.ndarray, f: float, R: np.ndarray, c: np.ndarray, ground_z: float) -> np.ndarray:
    """Centred pixel points ``p`` of a camera at ``c`` (its projection centre relative to the
    rotation centre, world frame) with rotation ``R``, moved to where the rotation centre itself
    would see them, assuming the points lie on the level plane ``z = ground_z`` (relative to the
    rotation centre): each ray meets the plane at X, and X is projected from the rotation centre
    with the same rotation. Rays that do not descend to the plane (the horizon and the sky: far
    away, no parallax to speak of) are kept. Makes the frames of a pan-tilt head whose optical
    centre is off its axes obey the pure-rotation model for the ground (the head's mast height
    and the offset are known to the mission)."""
    ray = np.column_stack([p[:, 0], p[:, 1], np.full(len(p), f)])
    d = ray @ R.T
    out = p.copy()
    down = d[:, 2] < -1e-6
    if down.any():
        t = (ground_z - c[2]) / d[down, 2]
        X = c + t[:, None] * d[down]
        v = X @ R                   # camera frame of the same rotation, seen from the rotation centre
        ok = v[:, 2] > 1e-9
        q = out[down]
        q[ok] = f * v[ok, :2] / v[ok, 2:3]
        out[down] = q
    return out


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


def bundle_adjust(R0: np.ndarray, focal0: np.ndarray, fidx: np.ndarray, p_i: np.ndarray, p_j: np.ndarray,
                  idx_i: np.ndarray, idx_j: np.ndarray, *, refine_focal: bool, fixed: int = 0,
                  max_iter: int = 60) -> BAResult:
    """Levenberg-Marquardt of the symmetric reprojection error over rotations (and focal lengths).

    Minimises the Huber loss of the image-plane transfer residuals of every match in both
    directions (see :mod:`farside.imaging._panorama_kernels`), with rotation ``fixed`` held (gauge),
    then drops matches whose residual exceeds ``max(PRUNE_PX, 3 rms)`` and re-solves.
    ``fidx[k]`` is the focal parameter of frame k (all 0: one shared focal length).
    """
    n = R0.shape[0]
    nf = len(focal0)
    free = np.ones(3 * n + nf, bool)
    free[3 * fixed:3 * fixed + 3] = False
    if not refine_focal:
        free[3 * n:] = False
    fidx = np.asarray(fidx, np.int64)
    keep = np.ones(len(p_i), bool)
    R, focal = R0.copy(), np.asarray(focal0, float).copy()
    for _round in range(3):
        R, focal = _lm(R, focal, fidx, p_i[keep], p_j[keep], idx_i[keep], idx_j[keep], free, max_iter)
        _, _, _, err = ba_normal_equations(p_i, p_j, idx_i, idx_j, R, focal, fidx, nf, HUBER_PX, False)
        e = err.max(axis=1)
        rms = math.sqrt(float(np.mean(err[keep] ** 2)))
        new_keep = e <= max(PRUNE_PX, 3.0 * rms)
        if np.array_equal(new_keep, keep) or not new_keep.any():
            break
        keep = new_keep
    rms = math.sqrt(float(np.mean(err[keep] ** 2))) if keep.any() else math.inf
    return BAResult(R, focal, rms, keep, err)


def _lm(R, focal, fidx, p_i, p_j, idx_i, idx_j, free, max_iter):
    n, nf = R.shape[0], len(focal)
    lam = 1e-4
    rel = 1.0
    JtJ, Jtr, cost, _ = ba_normal_equations(p_i, p_j, idx_i, idx_j, R, focal, fidx, nf, HUBER_PX, True)
    for _ in range(max_iter):
        A = JtJ[np.ix_(free, free)]
        g = Jtr[free]
        improved = False
        for _try in range(10):
            Ad = A + lam * np.diag(np.diag(A) + 1e-9)
            try:
                step = -np.linalg.solve(Ad, g)
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            full = np.zeros(3 * n + nf)
            full[free] = step
            Rn = R @ Rotation.from_rotvec(full[:3 * n].reshape(n, 3)).as_matrix()
            fn = focal * np.exp(full[3 * n:])
            _, _, cn, _ = ba_normal_equations(p_i, p_j, idx_i, idx_j, Rn, fn, fidx, nf, HUBER_PX, False)
            if cn < cost:
                improved = True
                rel = (cost - cn) / max(cost, 1e-300)
                R, focal, cost = Rn, fn, cn
                lam = max(lam / 5.0, 1e-12)
                break
            lam *= 10.0
        if not improved or rel < 1e-8:
            break
        JtJ, Jtr, cost, _ = ba_normal_equations(p_i, p_j, idx_i, idx_j, R, focal, fidx, nf, HUBER_PX, True)
    return R, focal


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
