#!/usr/bin/env python3
"""Run real ArduPilot SITL (arducopter) with uavops's survey-copter parameters.

Thin wrapper around ``uavops sim --backend ardupilot``; every flag of that command works here:

    UAVOPS_SITL_BIN=/path/to/arducopter python sim/run_sitl.py --home almaty --speedup 10
    python sim/run_sitl.py --sitl-bin /path/to/arducopter --home 43.24,76.88,800,0 --tcp 5770
"""

from __future__ import annotations

import sys

from uavops.cli.main import main

if __name__ == "__main__":
    main(["sim", "--backend", "ardupilot", *sys.argv[1:]])
