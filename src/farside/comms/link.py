"""Radio link budgets held to Queqiao's published rate steps (docs/references.md section 5).

The chain, in decibels::

    EIRP      = 10 log10(P_tx / 1 W) + G_tx                           [dBW]
    L_fs      = 20 log10(4 pi d f / c)                                 [dB]
    G/T       = G_rx - 10 log10(T_sys / 1 K)                           [dB/K]
    C/N0      = EIRP - L_fs - L_other + G/T - 10 log10(k_B)            [dB-Hz]
    R_max     = 10 ** ((C/N0 - (Eb/N0)_req - margin) / 10)             [bit/s]

and the link runs at the largest published rate step not above ``R_max`` (none: link closed).

Hardware numbers other than the published ones (Queqiao's 4.2 m dish, the rate steps) are
**assumptions**, chosen to be typical of small deep-space X/S-band terminals and written in each
default below; change them through :class:`LinkConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from farside.errors import invalid

__all__ = [
    "SPEED_OF_LIGHT_M_S",
    "BOLTZMANN_DBW_K_HZ",
    "LinkConfig",
    "LinkBudget",
    "free_space_loss_db",
    "dish_gain_dbi",
    "link_budget",
    "hold_to_steps",
    "LANDER_LINK",
    "ROVER_LINK",
    "GROUND_LINK",
    "QUEQIAO_DISH_M",
    "LANDER_RATES_BPS",
    "ROVER_RATES_BPS",
    "GROUND_RATES_BPS",
]

SPEED_OF_LIGHT_M_S = 299_792_458.0
#: 10 log10(k_B), k_B = 1.380649e-23 J/K (SI 2019 exact).
BOLTZMANN_DBW_K_HZ = 10.0 * math.log10(1.380649e-23)

#: Queqiao's parabolic antenna toward the Moon (Zhang 2021 Table 1; docs/references.md 5).
QUEQIAO_DISH_M = 4.2
#: Published rate steps (Zhang 2021 Table 1; docs/references.md 5), bit/s.
LANDER_RATES_BPS = (1_400.0, 50_000.0, 280_000.0, 555_000.0)
ROVER_RATES_BPS = (700.0, 140_000.0, 285_000.0)
GROUND_RATES_BPS = (1e6, 2e6, 4e6, 10e6)


def free_space_loss_db(distance_m, frequency_hz) -> np.ndarray | float:
    """Free-space path loss ``20 log10(4 pi d f / c)`` in dB; broadcasts."""
    d = np.asarray(distance_m, dtype=float)
    f = np.asarray(frequency_hz, dtype=float)
    if not (np.all(np.isfinite(d)) and np.all(d > 0)):
        raise invalid("distance_m", distance_m, "finite distances > 0 m")
    if not (np.all(np.isfinite(f)) and np.all(f > 0)):
        raise invalid("frequency_hz", frequency_hz, "finite frequencies > 0 Hz")
    out = 20.0 * np.log10(4.0 * np.pi * d * f / SPEED_OF_LIGHT_M_S)
    return float(out) if out.ndim == 0 else out


def dish_gain_dbi(diameter_m: float, frequency_hz: float, *, efficiency: float = 0.55) -> float:
    """Gain of a parabolic dish, ``10 log10(eta (pi D f / c)^2)`` dBi (aperture efficiency eta)."""
    for name, v in (("diameter_m", diameter_m), ("frequency_hz", frequency_hz)):
        if not (math.isfinite(v) and v > 0):
            raise invalid(name, v, "a finite number > 0")
    if not (0.0 < efficiency <= 1.0):
        raise invalid("efficiency", efficiency, "an aperture efficiency in (0, 1]")
    return 10.0 * math.log10(efficiency * (math.pi * diameter_m * frequency_hz / SPEED_OF_LIGHT_M_S) ** 2)


@dataclass(frozen=True)
class LinkConfig:
    """One link's hardware and coding. All gains in dBi, losses and margins in dB."""

    name: str
    frequency_hz: float
    tx_power_w: float
    tx_gain_dbi: float
    rx_gain_dbi: float
    system_noise_temp_k: float
    other_losses_db: float
    required_ebn0_db: float
    margin_db: float
    rate_steps_bps: tuple[float, ...]

    def __post_init__(self) -> None:
        for name in ("frequency_hz", "tx_power_w", "system_noise_temp_k"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise invalid(name, v, "a finite number > 0")
        for name in ("tx_gain_dbi", "rx_gain_dbi", "other_losses_db", "required_ebn0_db", "margin_db"):
            v = getattr(self, name)
            if not math.isfinite(v):
                raise invalid(name, v, "a finite number of dB")
        steps = tuple(float(s) for s in self.rate_steps_bps)
        if not steps or any(not (math.isfinite(s) and s > 0) for s in steps) or list(steps) != sorted(steps):
            raise invalid("rate_steps_bps", self.rate_steps_bps, "increasing positive rates")
        object.__setattr__(self, "rate_steps_bps", steps)

    def with_(self, **changes) -> "LinkConfig":
        return replace(self, **changes)


@dataclass(frozen=True)
class LinkBudget:
    """Budget terms (arrays over the distances given)."""

    config: LinkConfig
    distance_m: np.ndarray
    eirp_dbw: float
    free_space_loss_db: np.ndarray
    g_over_t_db_k: float
    cn0_db_hz: np.ndarray
    max_rate_bps: np.ndarray
    rate_bps: np.ndarray
    margin_at_rate_db: np.ndarray

    def table(self):
        """The budget as a pandas DataFrame (one row per distance)."""
        import pandas as pd

        c = self.config
        n = self.distance_m.size
        return pd.DataFrame({
            "link": [c.name] * n,
            "frequency_GHz": [c.frequency_hz / 1e9] * n,
            "distance_km": self.distance_m / 1e3,
            "tx_power_dBW": [10 * math.log10(c.tx_power_w)] * n,
            "tx_gain_dBi": [c.tx_gain_dbi] * n,
            "eirp_dBW": [self.eirp_dbw] * n,
            "free_space_loss_dB": self.free_space_loss_db,
            "other_losses_dB": [c.other_losses_db] * n,
            "rx_gain_dBi": [c.rx_gain_dbi] * n,
            "system_noise_temp_K": [c.system_noise_temp_k] * n,
            "g_over_t_dB_K": [self.g_over_t_db_k] * n,
            "cn0_dBHz": self.cn0_db_hz,
            "required_ebn0_dB": [c.required_ebn0_db] * n,
            "margin_dB": [c.margin_db] * n,
            "max_rate_kbps": self.max_rate_bps / 1e3,
            "rate_kbps": self.rate_bps / 1e3,
            "margin_at_rate_dB": self.margin_at_rate_db,
        })


def hold_to_steps(max_rate_bps, steps) -> np.ndarray:
    """Largest step <= each achievable rate (0 where even the lowest step does not close)."""
    r = np.atleast_1d(np.asarray(max_rate_bps, dtype=float))
    s = np.asarray(steps, dtype=float)
    idx = np.searchsorted(s, r, side="right") - 1
    return np.where(idx >= 0, s[np.clip(idx, 0, None)], 0.0)


def link_budget(config: LinkConfig, distance_m, *, extra_loss_db=0.0) -> LinkBudget:
    """Evaluate the budget of ``config`` at ``distance_m`` (scalar or array; broadcasts with
    ``extra_loss_db``, e.g. an elevation-dependent atmospheric loss)."""
    if not isinstance(config, LinkConfig):
        raise invalid("config", type(config).__name__, "a LinkConfig")
    d = np.atleast_1d(np.asarray(distance_m, dtype=float))
    fsl = np.atleast_1d(free_space_loss_db(d, config.frequency_hz))
    extra = np.asarray(extra_loss_db, dtype=float)
    if not np.all(np.isfinite(extra)):
        raise invalid("extra_loss_db", extra_loss_db, "finite losses in dB")
    eirp = 10.0 * math.log10(config.tx_power_w) + config.tx_gain_dbi
    gt = config.rx_gain_dbi - 10.0 * math.log10(config.system_noise_temp_k)
    cn0 = eirp - fsl - config.other_losses_db - extra + gt - BOLTZMANN_DBW_K_HZ
    rmax = 10.0 ** ((cn0 - config.required_ebn0_db - config.margin_db) / 10.0)
    rate = hold_to_steps(rmax, config.rate_steps_bps)
    with np.errstate(divide="ignore"):
        margin = np.where(rate > 0, cn0 - config.required_ebn0_db - 10.0 * np.log10(np.where(rate > 0, rate, 1.0)), -np.inf)
    return LinkBudget(config, d, eirp, fsl, gt, np.atleast_1d(cn0), np.atleast_1d(rmax), rate, margin)


_X_BAND_HZ = 8.45e9  # ASSUMED proximity-link carrier (X band; the exact channel is unpublished)
_QQ_DISH_DBI = dish_gain_dbi(QUEQIAO_DISH_M, _X_BAND_HZ, efficiency=0.55)  # 48.8 dBi (55 % ASSUMED)

#: Lander -> Queqiao (X band). ASSUMED: 10 W RF, a 12 dBi medium-gain horn,
#: relay receiver T_sys = 400 K (the Moon fills the beam, ~250 K, plus LNA), 2 dB pointing and
#: polarisation losses, Eb/N0 = 2.5 dB (concatenated RS + convolutional code at BER 1e-6) plus a
#: 3 dB margin. Rate steps published.
LANDER_LINK = LinkConfig(
    name="lander->relay", frequency_hz=_X_BAND_HZ, tx_power_w=10.0,
    tx_gain_dbi=12.0, rx_gain_dbi=round(_QQ_DISH_DBI, 2),
    system_noise_temp_k=400.0, other_losses_db=2.0, required_ebn0_db=2.5, margin_db=3.0,
    rate_steps_bps=LANDER_RATES_BPS,
)
#: Rover -> Queqiao (X band). ASSUMED: 5 W RF, a 12 dBi medium-gain antenna on the mast,
#: otherwise as the lander link. With these numbers both links sit at their top step near
#: the relay's closest approach (~50,000 km) and one step lower near its farthest (~80,000 km).
ROVER_LINK = LinkConfig(
    name="rover->relay", frequency_hz=_X_BAND_HZ, tx_power_w=5.0,
    tx_gain_dbi=12.0, rx_gain_dbi=round(_QQ_DISH_DBI, 2),
    system_noise_temp_k=400.0, other_losses_db=2.0, required_ebn0_db=2.5, margin_db=3.0,
    rate_steps_bps=ROVER_RATES_BPS,
)
#: Queqiao -> ground (S band). ASSUMED: 2.25 GHz, 20 W RF into the spiral antenna (10 dBi),
#: a 35 m station dish (55.7 dBi at 55 %), T_sys = 60 K, 1 dB losses (+ atmosphere by
#: elevation, see farside.comms.contact), Eb/N0 = 2.5 dB + 3 dB margin. Rate steps published.
GROUND_LINK = LinkConfig(
    name="relay->ground", frequency_hz=2.25e9, tx_power_w=20.0, tx_gain_dbi=10.0,
    rx_gain_dbi=round(dish_gain_dbi(35.0, 2.25e9), 2), system_noise_temp_k=60.0,
    other_losses_db=1.0, required_ebn0_db=2.5, margin_db=3.0, rate_steps_bps=GROUND_RATES_BPS,
)
