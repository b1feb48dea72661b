"""MAVLink ground-control layer: connections, mission/param/command clients, vehicle state.

Other stages use :class:`GroundLink` (one vehicle) and, for tests, :class:`ScriptedTransport`.
"""

from __future__ import annotations

from .action import ActionClient
from .connection import MavConnection, Subscription, TlogWriter
from .mission import MissionClient, TransferPolicy, VerifyResult, mission_result_text
from .params import ParamClient, ParamDiff, diff_params, format_parm, read_parm_file
from .pymavlink_ import PymavlinkTransport, parse_connection
from .state import StatusText, VehicleState, mode_name, mode_number
from .system import GroundLink
from .transport import MavlinkTransport, ScriptedTransport, message_factory

__all__ = [
    "GroundLink", "MavConnection", "Subscription", "TlogWriter", "MavlinkTransport", "ScriptedTransport",
    "PymavlinkTransport", "parse_connection", "message_factory", "MissionClient", "TransferPolicy",
    "VerifyResult", "mission_result_text", "ParamClient", "ParamDiff", "diff_params", "format_parm",
    "read_parm_file", "ActionClient", "VehicleState", "StatusText", "mode_name", "mode_number",
]
