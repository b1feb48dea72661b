"""Find the ArduPilot parameter profiles (``.parm``) uavops ships.

``firmware_params/`` at the top of the repository is the source ArduPilot SITL and real
vehicles are given; the installed package carries identical copies in ``uavops/sim/params/``
(a test checks they match), so ``uavops sim`` works from a wheel too.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

__all__ = ["SURVEY_PROFILE", "find_profile", "profile_dirs", "write_profile_with"]

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


def write_profile_with(target: Path, overrides: dict[str, float], name: str = SURVEY_PROFILE,
                       comment: str | None = None) -> Path:
    """Write profile ``name`` to ``target`` with some parameters replaced (added when absent).

    Used where the same vehicle must run with a deliberate difference, e.g. a GCS-failsafe timeout
    widened for a sped-up simulator; the rest of the profile stays byte for byte what the
    aircraft gets. Written to a temporary name and renamed.
    """
    from ..files import atomic_write

    replaced = set(overrides)
    lines = [ln for ln in find_profile(name).read_text().splitlines()
             if (ln.replace(",", " ").split() or [""])[0] not in replaced]
    if comment:
        lines.append(f"# {comment}")
    lines += [f"{key} {value:g}" for key, value in overrides.items()]
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target) as fh:
        fh.write("\n".join(lines) + "\n")
    return target
