"""Find the ArduPilot parameter profiles (``.parm``) uavops ships.

``firmware_params/`` at the top of the repository is the source ArduPilot SITL and real
vehicles are given; the installed package carries identical copies in ``uavops/sim/params/``
(a test checks they match), so ``uavops sim`` works from a wheel too.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

__all__ = ["profile_dirs", "find_profile", "SURVEY_PROFILE"]

SURVEY_PROFILE = "survey_copter"

_PACKAGE_DIR = Path(__file__).resolve().parent / "params"
_REPO_DIR = Path(__file__).resolve().parents[3] / "firmware_params"


def profile_dirs() -> list[Path]:
    """Folders searched for ``NAME.parm``, repository folder first."""
    return [d for d in (_REPO_DIR, _PACKAGE_DIR) if d.is_dir()]


def find_profile(name: str = SURVEY_PROFILE) -> Path:
    """Path of the profile ``name`` (without ``.parm``).

    Raises
    ------
    InputError
        No folder holds that profile.
    """
    for folder in profile_dirs():
        candidate = folder / f"{name}.parm"
        if candidate.is_file():
            return candidate
    raise InputError(f"No parameter profile '{name}' was found in {', '.join(map(str, profile_dirs()))}; "
                     "reinstall uavops or pass --params FILE.")
