"""Link budgets (docs/references.md 5 for the rate steps and Queqiao's 4.2 m dish)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from farside.comms import GROUND_LINK, LANDER_LINK, ROVER_LINK, LinkConfig, dish_gain_dbi, free_space_loss_db, hold_to_steps, link_budget
from farside.errors import ScenarioError


def test_hand_checkable_budget_matches_closed_form():
    """Documented case: 10 W into 12 dBi at 8.45 GHz over 70,000 km to a 48.81 dBi dish, T_sys
    400 K, 2 dB losses. Closed form in linear units: C/N0 = P Gt Gr (c / 4 pi d f)^2 / (L k T);
    the decibel chain must match it to 0.01 dB."""
    P, gt_db, gr_db, f, d, T, L_db = 10.0, 12.0, 48.81, 8.45e9, 7.0e7, 400.0, 2.0
    k = 1.380649e-23
    c = 299_792_458.0
    cn0_lin = P * 10 ** (gt_db / 10) * 10 ** (gr_db / 10) * (c / (4 * math.pi * d * f)) ** 2 / (10 ** (L_db / 10) * k * T)
    cfg = LinkConfig("hand", f, P, gt_db, gr_db, T, L_db, 2.5, 3.0, (1e3, 1e4, 1e5, 1e6))
    b = link_budget(cfg, d)
    assert b.cn0_db_hz[0] == pytest.approx(10 * math.log10(cn0_lin), abs=0.01)
    # free-space loss by hand: 20 log10(4 pi d f / c) = 207.88 dB
    assert free_space_loss_db(d, f) == pytest.approx(20 * math.log10(4 * math.pi * d * f / c), abs=1e-9)
    assert free_space_loss_db(d, f) == pytest.approx(207.88, abs=0.01)
    rmax = cn0_lin / 10 ** ((2.5 + 3.0) / 10)
    assert b.max_rate_bps[0] == pytest.approx(rmax, rel=1e-6)
    # the link runs at the largest published step its C/N0 supports
    assert b.rate_bps[0] == max(r for r in cfg.rate_steps_bps if r <= rmax)


def test_queqiao_dish_gain():
    """4.2 m dish (Zhang 2021 Table 1) at 8.45 GHz and 55 % efficiency: 10 log10(0.55 (pi D f / c)^2) = 48.8 dBi."""
    assert dish_gain_dbi(4.2, 8.45e9, efficiency=0.55) == pytest.approx(48.81, abs=0.01)


def test_rates_are_published_steps():
    """Every rate a link runs at is one of the published steps (Zhang 2021 Table 1; docs/references.md 5)
    or zero; the rate falls with range."""
    d = np.linspace(3e7, 1.5e8, 200)
    for cfg, steps in ((LANDER_LINK, {1.4e3, 50e3, 280e3, 555e3}), (ROVER_LINK, {0.7e3, 140e3, 285e3})):
        r = link_budget(cfg, d).rate_bps
        assert set(np.unique(r)) <= steps | {0.0}
        assert np.all(np.diff(r) <= 0)
    r = link_budget(GROUND_LINK, np.linspace(3.5e8, 5e8, 50)).rate_bps
    assert set(np.unique(r)) <= {1e6, 2e6, 4e6, 10e6, 0.0}


def test_hold_to_steps():
    out = hold_to_steps([0.0, 699.9, 700.0, 139_999.0, 1e9], (700.0, 140e3, 285e3))
    assert out.tolist() == [0.0, 0.0, 700.0, 700.0, 285e3]


def test_bad_inputs():
    with pytest.raises(ScenarioError, match="distance_m"):
        free_space_loss_db(-1.0, 8e9)
    with pytest.raises(ScenarioError, match="tx_power_w"):
        LANDER_LINK.with_(tx_power_w=float("nan"))
    with pytest.raises(ScenarioError, match="rate_steps_bps"):
        LANDER_LINK.with_(rate_steps_bps=(5.0, 1.0))
    with pytest.raises(ScenarioError, match="efficiency"):
        dish_gain_dbi(4.2, 8e9, efficiency=1.5)
