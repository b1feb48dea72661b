"""The one exception tree of uavops.

Every error a user can cause is a :class:`UavopsError`; its message is one sentence that
says what is wrong and what to do. The CLI prints that sentence and exits with code 2;
the hub maps :class:`HubError` subclasses to their ``http_status``. Anything that is not a
``UavopsError`` is a bug in uavops and is reported as such.

Hierarchy::

    UavopsError
    ├── ConfigError                 bad settings file or environment variable
    ├── InputError                  a file the user named is missing, unreadable or malformed
    ├── PlanError                   the survey cannot be planned as asked (bad polygon, altitude...)
    ├── LinkError                   MAVLink communication with a vehicle
    │   ├── LinkTimeout             the vehicle did not answer in time
    │   ├── ConnectionLost          the link dropped and did not come back
    │   ├── CommandDenied           COMMAND_ACK with a result other than ACCEPTED
    │   ├── MissionTransferError    a mission/fence/rally upload or download failed
    │   ├── ParameterError          a parameter could not be read or set
    │   └── PreflightError          a preflight check failed (includes arming refusals)
    ├── SimError                    the simulated vehicle or the SITL launcher
    ├── ImageryError                photos, scenes, virtual camera
    │   ├── SceneError
    │   ├── MosaicError
    │   └── DetectionError
    └── HubError                    hub service and upload client (carries http_status)
        ├── HubValidationError      422
        ├── AuthenticationError     401
        ├── PermissionDeniedError   403
        ├── NotFoundError           404
        ├── ConflictError           409
        ├── PayloadTooLargeError    413
        └── UploadError             client side: the hub could not be reached or refused
"""

from __future__ import annotations

__all__ = [
    "UavopsError",
    "ConfigError",
    "InputError",
    "PlanError",
    "LinkError",
    "LinkTimeout",
    "ConnectionLost",
    "CommandDenied",
    "MissionTransferError",
    "ParameterError",
    "PreflightError",
    "SimError",
    "ImageryError",
    "SceneError",
    "MosaicError",
    "DetectionError",
    "HubError",
    "HubValidationError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "PayloadTooLargeError",
    "UploadError",
]


class UavopsError(Exception):
    """Root of every error a user can cause; ``str(err)`` is the sentence shown to them."""

    exit_code: int = 2


class ConfigError(UavopsError):
    """A settings file or ``UAVOPS_*`` variable is invalid."""


class InputError(UavopsError):
    """A file or value the user gave cannot be used."""


class PlanError(UavopsError):
    """The survey cannot be planned as asked."""


class LinkError(UavopsError):
    """Communication with a vehicle failed."""


class LinkTimeout(LinkError):
    """The vehicle did not answer within the allowed time."""


class ConnectionLost(LinkError):
    """The link to the vehicle dropped and could not be re-established."""


class CommandDenied(LinkError):
    """The vehicle answered a COMMAND_LONG/INT with a non-ACCEPTED result.

    ``command`` is the MAV_CMD number (or name) and ``mav_result`` the MAV_RESULT code, so callers
    can react to, e.g., TEMPORARILY_REJECTED differently from UNSUPPORTED.
    """

    def __init__(self, message: str, *, command: int | str | None = None, mav_result: int | None = None):
        super().__init__(message)
        self.command = command
        self.mav_result = mav_result


class MissionTransferError(LinkError):
    """A mission, fence or rally transfer failed or did not verify."""


class ParameterError(LinkError):
    """A parameter could not be read, set or verified."""


class PreflightError(LinkError):
    """A preflight check failed; the message names the check and the vehicle's reason."""


class SimError(UavopsError):
    """The simulated vehicle or the ArduPilot SITL launcher could not do what was asked."""


class ImageryError(UavopsError):
    """Photos, scenes or the virtual camera."""


class SceneError(ImageryError):
    """A scene could not be made or read."""


class MosaicError(ImageryError):
    """The photos could not be mosaicked."""


class DetectionError(ImageryError):
    """Damage detection could not run on the given images."""


class HubError(UavopsError):
    """Hub service or upload client; ``http_status`` is what the hub answers with."""

    http_status: int = 400
    code: str = "bad_request"


class HubValidationError(HubError):
    http_status = 422
    code = "validation_failed"


class AuthenticationError(HubError):
    http_status = 401
    code = "unauthenticated"


class PermissionDeniedError(HubError):
    http_status = 403
    code = "forbidden"


class NotFoundError(HubError):
    http_status = 404
    code = "not_found"


class ConflictError(HubError):
    http_status = 409
    code = "conflict"


class PayloadTooLargeError(HubError):
    http_status = 413
    code = "payload_too_large"


class UploadError(HubError):
    """Client side: the package could not be delivered (the hub refused it or stayed unreachable)."""

    http_status = 502
    code = "upload_failed"
