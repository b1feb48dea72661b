"""The ``uavops`` root command.

Each stage's subcommand lives in its own module (``uavops.cli.<stage>``) exposing a click
command named ``cli``; it is imported only when used, so ``uavops --help`` stays fast and a
broken optional stage cannot break the others. The root catches :class:`UavopsError` once and
turns it into one sentence on stderr and exit code 2 (a traceback only with ``--debug``).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from .. import __version__
from ..config import load_settings
from ..errors import UavopsError

__all__ = ["cli", "main", "STAGES"]

# name -> (module, one-line help). A module that does not exist yet is simply not listed.
STAGES: dict[str, tuple[str, str]] = {
    "plan": ("uavops.cli.plan", "Plan a survey mission over an area."),
    "cameras": ("uavops.cli.cameras", "List the camera presets the planner knows."),
    "sim": ("uavops.cli.sim", "Run a simulated ArduCopter (built-in or ArduPilot SITL)."),
    "fly": ("uavops.cli.fly", "Fly a planned survey over MAVLink."),
    "params": ("uavops.cli.params", "Read, compare and apply vehicle parameters."),
    "scene": ("uavops.cli.scene", "Make synthetic disaster scenes with known truth."),
    "camera": ("uavops.cli.camera", "Attach the virtual camera to a running vehicle."),
    "mosaic": ("uavops.cli.mosaic", "Build a georeferenced orthomosaic from survey photos."),
    "damage": ("uavops.cli.damage", "Flag damage on a mosaic for the coordination mechanism."),
    "hub": ("uavops.cli.hub", "Run and administer the regional coordination hub."),
    "upload": ("uavops.cli.upload", "Upload a damage package to the coordination hub."),
    "demo": ("uavops.cli.demo", "Run the whole chain on a training scenario."),
    "config": ("uavops.cli.config", "Check the settings file."),
}


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, (module, _) in STAGES.items() if _available(module))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = STAGES.get(cmd_name)
        if entry is None or not _available(entry[0]):
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, "cli")
        if not command.help and not command.short_help:
            command.short_help = entry[1]
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # List with the static one-liners so --help does not import every stage.
        rows = [(name, STAGES[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="uavops")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Settings file (TOML). Default: $UAVOPS_CONFIG if set.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int, debug: bool) -> None:
    """uavops: drone survey operations for emergency authorities.

    plan -> fly -> mosaic -> damage -> upload. Every command has --help.
    """
    settings = load_settings(config_path)
    level = logging.WARNING - 10 * verbose if verbose else getattr(logging, settings.log_level, logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = {"settings": settings, "debug": debug}


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: runs the CLI and maps errors to exit codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(args)
    try:
        return cli.main(args=args, prog_name="uavops", standalone_mode=False)
    except UavopsError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted; finished outputs were kept, unfinished ones were not written.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug in uavops, not the user's fault
        if debug:
            traceback.print_exc()
        click.echo(f"Internal error: {type(exc).__name__}: {exc} (this is a bug in uavops; "
                   "run again with --debug and report the traceback).", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
