"""Image-level pieces of the rover localisation (private): contrast normalisation, SIFT matching,
ground-plane map views, stereo depth at given pixels, tracking through a resampled view, PnP,
lander segmentation and the lander-model ICP.

Camera frame: x right, y down, z forward (farside.render.camera). Parallel stereo pair: the right
camera sits ``baseline_m`` along the left camera's +x; disparity d = u_left - u_right > 0.
"""

from __future__ import annotations

import cv2
import math

import numpy as np
from scipy.spatial import cKDTree

_CLAHE = None


def normalise(dn: np.ndarray) -> np.ndarray:
    """8-bit, locally contrast-stretched copy of a DN image (CLAHE, 8x8 tiles, clip 3)."""
    global _CLAHE
    a = np.asarray(dn)
    if a.dtype != np.uint8:
        hi = float(np.percentile(a, 99.5)) or 1.0
        a = np.clip(a.astype(np.float32) * (255.0 / hi), 0, 255).astype(np.uint8)
    if _CLAHE is None:
        _CLAHE = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    return _CLAHE.apply(a)


def sift_features(img8: np.ndarray, n_features: int, mask=None):
    """SIFT keypoints (N, 2) float32 (col, row) and descriptors (N, 128) float32."""
    sift = cv2.SIFT_create(nfeatures=int(n_features), contrastThreshold=0.01)
    kp, des = sift.detectAndCompute(img8, mask)
    if des is None or len(kp) == 0:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
    return np.array([k.pt for k in kp], np.float32), des


def ratio_matches(des_a: np.ndarray, des_b: np.ndarray, ratio: float = 0.9) -> np.ndarray:
    """Mutual-consistent Lowe-ratio matches, (M, 2) int index pairs (a, b)."""
    if len(des_a) < 2 or len(des_b) < 2:
        return np.zeros((0, 2), int)
    bf = cv2.BFMatcher(cv2.NORM_L2)
    knn = bf.knnMatch(des_a, des_b, k=2)
    back = bf.match(des_b, des_a)
    back_of = np.full(len(des_b), -1)
    for m in back:
        back_of[m.queryIdx] = m.trainIdx
    out = [(m[0].queryIdx, m[0].trainIdx) for m in knn
           if len(m) == 2 and m[0].distance < ratio * m[1].distance and back_of[m[0].trainIdx] == m[0].queryIdx]
    return np.array(out, int).reshape(-1, 2)


def refine_lk(img_a: np.ndarray, img_b: np.ndarray, pts_a: np.ndarray, guess_b: np.ndarray, win: int = 21):
    """Sub-pixel positions in ``img_b`` of ``pts_a`` (pyramidal Lucas-Kanade started at ``guess_b``,
    forward-backward checked to 0.5 px). Returns (pts_b, ok)."""
    if len(pts_a) == 0:
        return guess_b.copy(), np.zeros(0, bool)
    a = pts_a.reshape(-1, 1, 2).astype(np.float32)
    g = guess_b.reshape(-1, 1, 2).astype(np.float32).copy()
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
    b, st, _ = cv2.calcOpticalFlowPyrLK(img_a, img_b, a, g, winSize=(win, win), maxLevel=1, criteria=crit,
                                        flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(img_b, img_a, b, a.copy(), winSize=(win, win), maxLevel=1, criteria=crit,
                                            flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    fb = np.linalg.norm((back - a).reshape(-1, 2), axis=1)
    ok = (st.ravel() == 1) & (st2.ravel() == 1) & (fb < 0.5)
    # LK must not wander far from the descriptor match
    ok &= np.linalg.norm((b - g).reshape(-1, 2), axis=1) < 2.0
    return b.reshape(-1, 2), ok


def pnp(points_c0: np.ndarray, pix_c1: np.ndarray, k_px: np.ndarray, *, seed: int, reproj_px: float = 1.5,
        iterations: int = 500, minimal: bool = False):
    """RANSAC PnP + Levenberg-Marquardt refinement on the inliers. Returns (R_c1_from_c0, t_c1,
    inlier mask) with X_c1 = R X_c0 + t, or None."""
    if len(points_c0) < 6:
        return None
    cv2.setRNGSeed(int(seed))
    ok, rvec, tvec, inl = cv2.solvePnPRansac(points_c0.astype(np.float64), pix_c1.astype(np.float64),
                                             k_px.astype(np.float64), None, iterationsCount=int(iterations),
                                             reprojectionError=float(reproj_px), confidence=0.9999,
                                             flags=cv2.SOLVEPNP_AP3P if minimal else cv2.SOLVEPNP_EPNP)
    if not ok or inl is None or len(inl) < 6:
        return None
    idx = inl.ravel()
    rvec, tvec = cv2.solvePnPRefineLM(points_c0[idx].astype(np.float64), pix_c1[idx].astype(np.float64),
                                      k_px.astype(np.float64), None, rvec, tvec)
    rot, _ = cv2.Rodrigues(rvec)
    # re-score every correspondence with the refined pose
    pc = points_c0 @ rot.T + tvec.ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        proj = (pc[:, :2] / pc[:, 2:3]) * np.array([k_px[0, 0], k_px[1, 1]]) + k_px[:2, 2]
    err = np.linalg.norm(proj - pix_c1, axis=1)
    mask = (pc[:, 2] > 0) & (err < reproj_px)
    return rot, tvec.ravel(), mask, err


def segment_bright(dn: np.ndarray, *, min_area_px: int, grow_px: int = 6) -> np.ndarray:
    """Mask of the large bright objects of a DN image: pixels above both 2x the median DN and
    97 % of the brightest DN (foil in sunlight saturates when the exposure is set for the
    regolith), opened 3x3, components of at least ``min_area_px``, then grown by ``grow_px`` so
    that the objects' edges (where stereo finds texture) are inside."""
    a = np.asarray(dn).astype(np.float32)
    thr = max(2.0 * float(np.median(a)), 0.97 * float(a.max()))
    m = (a >= thr).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area_px
    m = keep[lab].astype(np.uint8)
    if grow_px > 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow_px + 1, 2 * grow_px + 1)))
    return m.astype(bool)


def mesh_surface_points(tri: np.ndarray, spacing_m: float) -> np.ndarray:
    """About one point per ``spacing_m``^2 of every triangle (``tri`` rows: v0, v1 - v0, v2 - v0),
    at least its centroid, placed by the deterministic R2 low-discrepancy sequence folded into
    the triangle."""
    v0, e1, e2 = tri[:, 0:3], tri[:, 3:6], tri[:, 6:9]
    area = 0.5 * np.linalg.norm(np.cross(e1, e2), axis=1)
    n = np.maximum(np.ceil(area / spacing_m ** 2).astype(int), 1)
    owner = np.repeat(np.arange(len(tri)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    g = 1.32471795724474602596                      # plastic number: R2 sequence
    u = (0.5 + k / g) % 1.0
    v = (0.5 + k / (g * g)) % 1.0
    flip = u + v > 1.0
    u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
    return v0[owner] + u[:, None] * e1[owner] + v[:, None] * e2[owner]


def icp_translation(obs_rel: np.ndarray, tree: cKDTree, start: np.ndarray, *, iters: int = 40, trim: float = 0.8,
                    eps: float = 0.0):
    """Translation-only trimmed ICP: the ``t`` that puts ``obs_rel + t`` on the model (``tree``).
    Returns (t, rms_m of the kept fraction)."""
    t = np.asarray(start, float).copy()
    for _ in range(iters):
        d, idx = tree.query(obs_rel + t, k=1, eps=eps)
        cut = np.quantile(d, trim)
        k = d <= cut
        step = np.mean(tree.data[idx[k]] - (obs_rel[k] + t), axis=0)
        t = t + step
        if np.linalg.norm(step) < 1e-4:
            break
    d, _ = tree.query(obs_rel + t, k=1)
    k = d <= np.quantile(d, trim)
    return t, float(np.sqrt(np.mean(d[k] ** 2)))


# ---------------------------------------------------------------------------------------------
# ground-plane guided matching between stops (large scale and perspective change)
# ---------------------------------------------------------------------------------------------
def disparity(left8: np.ndarray, right8: np.ndarray, *, max_disp_px: float) -> np.ndarray:
    """Dense disparity (OpenCV SGBM, block 5, left-right checked), px; invalid < 0."""
    nd = int(min(left8.shape[1] // 2, max(32, 16 * int(np.ceil(max_disp_px / 16.0)))))
    blk = 5
    sg = cv2.StereoSGBM_create(minDisparity=0, numDisparities=nd, blockSize=blk, P1=8 * blk * blk, P2=32 * blk * blk,
                               uniquenessRatio=10, disp12MaxDiff=1, speckleWindowSize=100, speckleRange=2,
                               mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    return sg.compute(left8, right8).astype(np.float32) / 16.0


def ground_plane(disp: np.ndarray, k_px: np.ndarray, baseline_m: float, *, max_range_m: float, seed: int):
    """The dominant plane of the stereo points (RANSAC, 5 cm, then least squares on the inliers):
    (n, d) with n . X = d > 0 in the camera frame (n points from the camera to the ground), or None."""
    v, u = np.nonzero(disp > 1.0)
    if v.size < 200:
        return None
    step = max(1, v.size // 20000)
    v, u = v[::step], u[::step]
    fx, fy, cx, cy = k_px[0, 0], k_px[1, 1], k_px[0, 2], k_px[1, 2]
    z = fx * baseline_m / disp[v, u]
    x = np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=1)[z < max_range_m]
    if len(x) < 200:
        return None
    rng = np.random.default_rng(seed)
    best = (0, None, 0.0)
    for _ in range(150):
        s = x[rng.choice(len(x), 3, replace=False)]
        n = np.cross(s[1] - s[0], s[2] - s[0])
        nn = np.linalg.norm(n)
        if nn < 1e-9:
            continue
        n = n / nn
        c = int(np.count_nonzero(np.abs(x @ n - n @ s[0]) < 0.05))
        if c > best[0]:
            best = (c, n, float(n @ s[0]))
    if best[1] is None:
        return None
    inl = x[np.abs(x @ best[1] - best[2]) < 0.05]
    c = inl.mean(axis=0)
    n = np.linalg.svd(inl - c, full_matrices=False)[2][2]
    d = float(n @ c)
    if d < 0:
        n, d = -n, -d
    if n[1] < 0.3 or d < 0.1:          # not a floor below the camera
        return None
    return n, d


def ortho_homography(k_px: np.ndarray, plane, *, res_m: float, near_m: float, far_m: float, half_width_m: float):
    """Homography image <- ortho (a map of the plane, ``res_m`` per pixel, rows from ``far_m`` ahead
    down to ``near_m``, columns ``half_width_m`` either side) and the ortho image size (w, h)."""
    n, d = plane
    foot = n * d
    ef = np.array([0.0, 0.0, 1.0]) - n[2] * n
    ef /= np.linalg.norm(ef)
    er = np.cross(n, ef)
    if er[0] < 0:
        er = -er
    w, h = int(2 * half_width_m / res_m), int((far_m - near_m) / res_m)
    m = np.column_stack([res_m * er, -res_m * ef, foot - half_width_m * er + far_m * ef])
    return k_px @ m, (w, h)


def apply_h(h: np.ndarray, p: np.ndarray) -> np.ndarray:
    q = np.c_[p, np.ones(len(p))] @ h.T
    return (q[:, :2] / q[:, 2:3]).astype(np.float32)


def ortho_matches(img_a, img_b, k_px, plane_a, plane_b, *, res_m, near_m, far_m, half_width_m, n_features):
    """SIFT matches between the two images rectified onto their ground planes (the scale and
    perspective change between stops is then gone up to the relief): image pixel pairs (pa, pb)."""
    outs = []
    for img, pl in ((img_a, plane_a), (img_b, plane_b)):
        h, size = ortho_homography(k_px, pl, res_m=res_m, near_m=near_m, far_m=far_m, half_width_m=half_width_m)
        o = cv2.warpPerspective(img, h, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0)
        valid = cv2.warpPerspective(np.full(img.shape, 255, np.uint8), h, size,
                                    flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0)
        valid = cv2.erode(valid, np.ones((9, 9), np.uint8))
        p, des = sift_features(o, n_features, mask=valid)
        outs.append((h, p, des))
    m = ratio_matches(outs[0][2], outs[1][2])
    if len(m) == 0:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    return apply_h(outs[0][0], outs[0][1][m[:, 0]]), apply_h(outs[1][0], outs[1][1][m[:, 1]])


def points_at(pix, left8, right8, disp, k_px, baseline_m, *, max_range_m, refine: bool = True):
    """Stereo 3-D points (left-camera frame) of given left pixels: the SGBM disparity, refined by
    Lucas-Kanade along the row when ``refine``. Returns (ok mask, (N, 3))."""
    h, w = disp.shape
    u = np.clip(np.round(pix[:, 0]).astype(int), 0, w - 1)
    v = np.clip(np.round(pix[:, 1]).astype(int), 0, h - 1)
    d0 = disp[v, u]
    ok = d0 > 1.0
    if refine:
        guess = pix.astype(np.float32).copy()
        guess[:, 0] -= np.where(ok, d0, 0.0)
        pr, okl = refine_lk(left8, right8, pix.astype(np.float32), guess)
        d = pix[:, 0] - pr[:, 0]
        ok &= okl & (np.abs(pix[:, 1] - pr[:, 1]) < 1.0) & (d > 1.0)
    else:
        d = d0
    fx, fy, cx, cy = k_px[0, 0], k_px[1, 1], k_px[0, 2], k_px[1, 2]
    z = fx * baseline_m / np.where(ok, d, 1.0)
    ok &= z < max_range_m
    xyz = np.stack([(pix[:, 0] - cx) * z / fx, (pix[:, 1] - cy) * z / fy, z], axis=1)
    return ok, xyz


def plane_homography(k_px, rot, t, plane):
    """Pixel map src -> dst induced by the src-frame plane n . X = d, for X_dst = R X_src + t."""
    n, d = plane
    return k_px @ (rot + np.outer(t, n) / d) @ np.linalg.inv(k_px)


def guided_track(src8, dst8, pix_src, xyz_src, k_px, rot, t, plane_src, *, oversample: int = 4, win: int = 15):
    """Positions in ``dst8`` of the ``src8`` pixels ``pix_src`` (3-D points ``xyz_src`` in the src
    camera) given an approximate motion X_dst = R X_src + t: the src image is warped into the dst
    view through the ground plane (supersampled and box-filtered, so a shrinking warp does not
    alias), and each point is tracked by Lucas-Kanade from its warped position to the dst image,
    started at its projection. Returns (pts_dst, ok)."""
    hmap = plane_homography(k_px, rot, t, plane_src)            # src -> dst
    hh, ww = dst8.shape
    s = np.diag([1.0 / oversample, 1.0 / oversample, 1.0])
    s[0, 2] = s[1, 2] = 0.5 / oversample - 0.5                  # pixel centres of the supersampled grid
    big = cv2.warpPerspective(src8, np.linalg.inv(hmap) @ s, (ww * oversample, hh * oversample),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0)
    warped = cv2.resize(big, (ww, hh), interpolation=cv2.INTER_AREA)
    at_w = apply_h(hmap, pix_src)
    pc = xyz_src @ rot.T + t
    front = pc[:, 2] > 0.1
    fxy = np.array([k_px[0, 0], k_px[1, 1]])
    proj = np.where(front[:, None], (pc[:, :2] / np.where(front, pc[:, 2], 1.0)[:, None]) * fxy + k_px[:2, 2],
                    -1e6).astype(np.float32)
    inside = front & np.all((at_w > win) & (at_w < np.array([ww, hh]) - win), axis=1) \
        & np.all((proj > win) & (proj < np.array([ww, hh]) - win), axis=1)
    out = proj.copy()
    ok = np.zeros(len(pix_src), bool)
    if inside.any():
        a = at_w[inside].reshape(-1, 1, 2)
        g = proj[inside].reshape(-1, 1, 2).copy()
        crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
        b, st, _ = cv2.calcOpticalFlowPyrLK(warped, dst8, a, g, winSize=(win, win), maxLevel=2, criteria=crit,
                                            flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(dst8, warped, b, a.copy(), winSize=(win, win), maxLevel=2,
                                                criteria=crit, flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
        fb = np.linalg.norm((back - a).reshape(-1, 2), axis=1)
        good = (st.ravel() == 1) & (st2.ravel() == 1) & (fb < 0.5)
        good &= np.linalg.norm((b - g).reshape(-1, 2), axis=1) < 12.0
        out[inside] = b.reshape(-1, 2)
        ok[inside] = good
    return out, ok


def plane_coords(points: np.ndarray, plane) -> np.ndarray:
    """(N, 2) coordinates (right, forward) of 3-D camera-frame points projected onto the plane."""
    return points @ plane_basis(plane)[:, :2]


def rays_on_plane(pix: np.ndarray, k_px: np.ndarray, plane) -> np.ndarray:
    """Camera-frame points where the pixels' rays meet the plane (NaN where they do not)."""
    n, d = plane
    r = np.c_[pix, np.ones(len(pix))] @ np.linalg.inv(k_px).T
    s = r @ n
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(s > 1e-6, d / s, np.nan)
    return r * lam[:, None]


def rigid2d_ransac(a: np.ndarray, b: np.ndarray, *, tol_m: float, seed: int, iterations: int = 2000) -> np.ndarray:
    """Inlier mask of the largest set of pairs with b = Rot(theta) a + t (two-point RANSAC)."""
    n = len(a)
    if n < 3:
        return np.zeros(n, bool)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, iterations)
    j = rng.integers(0, n, iterations)
    va, vb = a[j] - a[i], b[j] - b[i]
    la, lb = np.hypot(*va.T), np.hypot(*vb.T)
    good = (i != j) & (la > 0.3) & (np.abs(la - lb) < 2 * tol_m)
    th = np.arctan2(vb[:, 1], vb[:, 0]) - np.arctan2(va[:, 1], va[:, 0])
    c, s = np.cos(th), np.sin(th)
    t = b[i] - np.stack([c * a[i, 0] - s * a[i, 1], s * a[i, 0] + c * a[i, 1]], axis=1)
    best, best_count = np.zeros(n, bool), 0
    for k in np.nonzero(good)[0]:
        pa = np.stack([c[k] * a[:, 0] - s[k] * a[:, 1], s[k] * a[:, 0] + c[k] * a[:, 1]], axis=1) + t[k]
        m = np.hypot(*(pa - b).T) < tol_m
        cnt = int(m.sum())
        if cnt > best_count:
            best, best_count = m, cnt
    return best


def overlap_corners(left8, right8, disp, k_px, baseline_m, rot, t, plane, *, max_range_m, n_corners,
                    margin_px: int = 16):
    """Shi-Tomasi corners of the left image where the ground plane, moved by X' = R X + t, stays in
    view (with a margin), triangulated by :func:`points_at`. Returns (pixels, points)."""
    h, w = left8.shape
    hmap = plane_homography(k_px, rot, t, plane)
    vv, uu = np.mgrid[0:h:4, 0:w:4]
    grid = np.stack([uu.ravel(), vv.ravel()], axis=1).astype(np.float64)
    q = np.c_[grid, np.ones(len(grid))] @ hmap.T
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = q[:, :2] / q[:, 2:3]
    inside = (q[:, 2] > 0) & np.all((uv > margin_px) & (uv < np.array([w, h]) - margin_px), axis=1)
    mask = cv2.resize(inside.reshape(vv.shape).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    mask &= (disp > 1.0).astype(np.uint8)
    if mask.sum() < 100:
        return np.zeros((0, 2), np.float32), np.zeros((0, 3))
    c = cv2.goodFeaturesToTrack(left8, maxCorners=int(n_corners), qualityLevel=0.002, minDistance=5, mask=mask,
                                blockSize=7)
    if c is None:
        return np.zeros((0, 2), np.float32), np.zeros((0, 3))
    pix = c.reshape(-1, 2).astype(np.float32)
    ok, xyz = points_at(pix, left8, right8, disp, k_px, baseline_m, max_range_m=max_range_m)
    return pix[ok], xyz[ok]


def plane_basis(plane) -> np.ndarray:
    """Columns: the plane's right and forward directions and its normal (camera frame)."""
    n, _ = plane
    ef = np.array([0.0, 0.0, 1.0]) - n[2] * n
    ef /= np.linalg.norm(ef)
    er = np.cross(n, ef)
    if er[0] < 0:
        er = -er
    return np.column_stack([er, ef, n])


def motion_from_ground(a: np.ndarray, b: np.ndarray, plane_a, plane_b):
    """Least-squares 2-D rigid motion b = Rot a + t of plane coordinates (Kabsch), lifted to the
    camera motion X_b = R X_a + t (the ground planes coincide)."""
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    h = (a - ca).T @ (b - cb)
    th = math.atan2(h[0, 1] - h[1, 0], h[0, 0] + h[1, 1])
    c, s = math.cos(th), math.sin(th)
    m = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    tt = np.r_[cb - m[:2, :2] @ ca, 0.0]
    ea, eb = plane_basis(plane_a), plane_basis(plane_b)
    oa, ob = plane_a[0] * plane_a[1], plane_b[0] * plane_b[1]
    rot = eb @ m @ ea.T
    return rot, eb @ (tt - m @ ea.T @ oa) + ob


def depth_track(src8, dst8, disp_src, k_px, baseline_m, rot, t, plane_src, pix_src, *, win: int = 15,
                max_shift_px: float = 10.0):
    """Positions in ``dst8`` of the ``src8`` pixels ``pix_src`` given an approximate motion
    X_dst = R X_src + t: the dst image is resampled into the src view through the src stereo depth
    (disparity median- and Gaussian-smoothed, holes filled from the ground plane), each point is
    tracked by Lucas-Kanade from the src image into that synthetic view (offset d, forward-backward
    checked), and its dst position is the resampling map at pix_src + d. Returns (pts_dst, ok)."""
    h, w = src8.shape
    fx, fy, cx, cy = k_px[0, 0], k_px[1, 1], k_px[0, 2], k_px[1, 2]
    vv, uu = np.mgrid[0:h, 0:w].astype(np.float32)
    n, d = plane_src
    ray = np.stack([(uu - cx) / fx, (vv - cy) / fy, np.ones_like(uu)], axis=-1)
    s = ray @ n
    plane_disp = np.where(s > 1e-6, fx * baseline_m * s / d, 0.0).astype(np.float32)
    dd = np.where(disp_src > 1.0, disp_src, plane_disp).astype(np.float32)
    dd = cv2.GaussianBlur(cv2.medianBlur(dd, 5), (0, 0), 2.0)
    z = fx * baseline_m / np.maximum(dd, 0.1)
    x = ray * z[..., None]
    xd = x @ rot.T + t
    zd = xd[..., 2]
    good = (dd > 0.5) & (zd > 0.1)
    zz = np.where(good, zd, 1.0)
    mx = np.where(good, xd[..., 0] / zz * fx + cx, -1e4).astype(np.float32)
    my = np.where(good, xd[..., 1] / zz * fy + cy, -1e4).astype(np.float32)
    synth = cv2.remap(dst8, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out = np.full((len(pix_src), 2), np.nan, np.float32)
    if len(pix_src) == 0:
        return out, np.zeros(0, bool)
    a = pix_src.reshape(-1, 1, 2).astype(np.float32)
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
    b, st, _ = cv2.calcOpticalFlowPyrLK(src8, synth, a, a.copy(), winSize=(win, win), maxLevel=2, criteria=crit,
                                        flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(synth, src8, b, a.copy(), winSize=(win, win), maxLevel=2, criteria=crit,
                                            flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    b = b.reshape(-1, 2)
    fb = np.linalg.norm(back.reshape(-1, 2) - pix_src, axis=1)
    ok = (st.ravel() == 1) & (st2.ravel() == 1) & (fb < 0.5) & (np.linalg.norm(b - pix_src, axis=1) < max_shift_px)
    ok &= np.all((b > win) & (b < np.array([w, h]) - win), axis=1)
    bq = np.clip(b, 0, np.array([w - 1, h - 1], np.float32)).reshape(-1, 1, 2)
    px = cv2.remap(mx, bq[..., 0], bq[..., 1], interpolation=cv2.INTER_LINEAR).ravel()
    py = cv2.remap(my, bq[..., 0], bq[..., 1], interpolation=cv2.INTER_LINEAR).ravel()
    out = np.stack([px, py], axis=1)
    ok &= np.all((out > 2) & (out < np.array([dst8.shape[1], dst8.shape[0]]) - 2), axis=1)
    # the whole LK window must have been resampled from inside the dst image
    inside = cv2.remap((synth > 0).astype(np.uint8) * 255, bq[..., 0], bq[..., 1], interpolation=cv2.INTER_NEAREST)
    ok &= inside.ravel() > 0
    return out, ok


def local_contrast(img8: np.ndarray, sigma_px: float = 6.0) -> np.ndarray:
    """8-bit image with its local mean removed and divided by its local standard deviation
    (Gaussian windows of ``sigma_px``): what the tracker compares, so that two stops exposed
    differently (one exposure per pair, set on the scene's brightest part) still match."""
    f = img8.astype(np.float32)
    d = f - cv2.GaussianBlur(f, (0, 0), sigma_px)
    sd = np.sqrt(cv2.GaussianBlur(d * d, (0, 0), sigma_px)) + 2.0
    return np.clip(128.0 + 40.0 * d / sd, 0, 255).astype(np.uint8)
