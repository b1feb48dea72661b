"""uavops: UAV operations for emergency authorities.

The chain is plan -> fly -> mosaic -> damage -> hub; each stage lives in its own
subpackage and exchanges open-format files with the next, so each can be used alone.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
