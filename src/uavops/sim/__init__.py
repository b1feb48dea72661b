"""The built-in simulated ArduCopter and the ArduPilot SITL launcher.

``start_sim(SimConfig(...))`` runs a vehicle that speaks MAVLink 2 like ArduCopter 4.7 SITL
over TCP and UDP; ``uavops sim`` is its command line. See :mod:`uavops.sim.sitl` for real SITL.
"""

from __future__ import annotations

from .camera import CameraTrigger
from .config import SimConfig
from .runner import RunningSim, SimFaults, start_sim
from .transport import SimTransport
from .vehicle import SimVehicle, VehicleState

__all__ = ["SimVehicle", "SimConfig", "start_sim", "RunningSim", "SimFaults", "CameraTrigger", "VehicleState",
           "SimTransport"]
