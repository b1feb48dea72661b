"""ArduCopter flight-mode numbers (the HEARTBEAT ``custom_mode``) and their properties."""

from __future__ import annotations

__all__ = ["MODE_NAMES", "MODE_NUMBERS", "SUPPORTED_MODES", "GPS_MODES", "GUIDED_FLAG_MODES", "mode_number"]

MODE_NAMES: dict[int, str] = {
    0: "STABILIZE", 1: "ACRO", 2: "ALT_HOLD", 3: "AUTO", 4: "GUIDED", 5: "LOITER", 6: "RTL", 7: "CIRCLE",
    9: "LAND", 11: "DRIFT", 13: "SPORT", 14: "FLIP", 15: "AUTOTUNE", 16: "POSHOLD", 17: "BRAKE", 18: "THROW",
    19: "AVOID_ADSB", 20: "GUIDED_NOGPS", 21: "SMART_RTL", 22: "FLOWHOLD", 23: "FOLLOW", 24: "ZIGZAG",
    25: "SYSTEMID", 26: "AUTOROTATE", 27: "AUTO_RTL", 28: "TURTLE",
}
MODE_NUMBERS: dict[str, int] = {name: num for num, name in MODE_NAMES.items()}

# modes the simulator flies; others are refused like a firmware built without them
SUPPORTED_MODES = {0, 2, 3, 4, 5, 6, 9, 16, 17, 21}
# modes that need a position estimate to be entered while armed (Mode::requires_GPS)
GPS_MODES = {3, 4, 5, 6, 7, 16, 17, 21, 23, 27}
# modes ArduCopter flags with MAV_MODE_FLAG_GUIDED_ENABLED in HEARTBEAT.base_mode
GUIDED_FLAG_MODES = {3, 27, 6, 5, 19, 23, 4, 7, 16, 17, 21}


def mode_number(name_or_number: str | int) -> int:
    if isinstance(name_or_number, int):
        return name_or_number
    text = name_or_number.strip().upper()
    if text.isdigit():
        return int(text)
    return MODE_NUMBERS[text]
