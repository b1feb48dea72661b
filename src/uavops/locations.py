"""Named training sites in Central Asia, shared by the simulator, scenarios and scenes.

Coordinates are city-centre points on open ground; ``ground_amsl_m`` is the terrain
elevation there (SRTM, rounded), which SITL's home altitude and the scene generator use.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError

__all__ = ["Location", "LOCATIONS", "get_location", "parse_home"]


@dataclass(frozen=True)
class Location:
    name: str
    country_iso2: str
    lat_deg: float
    lon_deg: float
    ground_amsl_m: float
    heading_deg: float = 0.0

    def sitl_home(self) -> str:
        """``LAT,LON,ALT,HDG`` as ArduPilot SITL's ``--home`` takes it."""
        return f"{self.lat_deg:.7f},{self.lon_deg:.7f},{self.ground_amsl_m:.1f},{self.heading_deg:.0f}"


LOCATIONS: dict[str, Location] = {
    loc.name.lower(): loc
    for loc in (
        Location("Almaty", "KZ", 43.2380, 76.8829, 800.0),
        Location("Bishkek", "KG", 42.8746, 74.5698, 790.0),
        Location("Osh", "KG", 40.5140, 72.8161, 1000.0),
        Location("Dushanbe", "TJ", 38.5598, 68.7870, 800.0),
        Location("Khujand", "TJ", 40.2826, 69.6222, 330.0),
        Location("Tashkent", "UZ", 41.2995, 69.2401, 455.0),
        Location("Ashgabat", "TM", 37.9601, 58.3261, 220.0),
    )
}


def get_location(name: str) -> Location:
    """Look up a named site (case-insensitive)."""
    try:
        return LOCATIONS[name.strip().lower()]
    except KeyError:
        raise InputError(f"Unknown location '{name}'; use one of {', '.join(l.name for l in LOCATIONS.values())} "
                         "or give LAT,LON[,ALT[,HDG]].") from None


def parse_home(text: str) -> Location:
    """A named site, or ``LAT,LON[,ALT[,HDG]]`` as SITL's ``--home`` accepts it."""
    if "," not in text:
        return get_location(text)
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"Cannot read home '{text}'; give LAT,LON[,ALT[,HDG]] in degrees and metres.") from None
    if len(values) < 2 or len(values) > 4:
        raise InputError(f"Cannot read home '{text}'; give LAT,LON[,ALT[,HDG]].")
    lat, lon = values[0], values[1]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"Home '{text}' is outside valid latitude/longitude ranges; is it LAT,LON (not LON,LAT)?")
    alt = values[2] if len(values) > 2 else 0.0
    hdg = values[3] if len(values) > 3 else 0.0
    return Location("custom", "", lat, lon, alt, hdg)
