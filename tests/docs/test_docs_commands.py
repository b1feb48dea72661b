"""The documentation cannot drift from the CLI.

Every ``uavops …`` command line in README.md and docs/*.md (indented code blocks, fenced blocks
tagged sh/bash/console/ini, and inline code spans) must name a command that exists, and every
``--flag`` on it must appear in that command's ``--help``. Settings files shown as ```toml blocks
must pass ``uavops config validate``. Output blocks (untagged fences) are not commands and are
left alone.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND_FENCES = {"sh", "bash", "console", "shell", "ini"}
ROOT_OPTIONS_WITH_VALUE = {"--config"}
ROOT_FLAGS = {"--debug", "-v", "-vv", "--verbose", "--version"}
SHELL_STOPS = {"&&", "||", "|", ";", ">", ">>", "2>", "2>&1", "&"}


@dataclass
class DocCommand:
    """One ``uavops`` invocation found in the docs: the words after ``uavops`` and where it was."""

    words: list[str]
    where: str


@dataclass
class Usage:
    """Everything the docs use of one command path, e.g. ('hub', 'token', 'create')."""

    flags: dict[str, list[str]] = field(default_factory=dict)


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of every command-like line: indented blocks, command fences, inline code."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[tuple[int, str]] = []
    fence: str | None = None
    prev_blank = True
    in_indented = False
    pending = ""
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith("```"):
                fence = None
            elif fence in COMMAND_FENCES:
                # join shell continuation lines (systemd ExecStart, long shell commands)
                if stripped.endswith("\\"):
                    pending += stripped[:-1] + " "
                    continue
                out.append((n, pending + stripped))
                pending = ""
            continue
        if stripped.startswith("```"):
            fence = stripped[3:].strip().lower()
            in_indented = False
            continue
        if line.startswith("    ") and (prev_blank or in_indented) and not line.lstrip().startswith(("-", "*", "|")):
            in_indented = True
            out.append((n, stripped))
        else:
            in_indented = False
            spans = re.findall(r"`([^`\n]+)`", line)
            if stripped.startswith("|") and len(spans) >= 2 and spans[0].startswith("uavops") \
                    and all(sp.startswith("--") for sp in spans[1:]):
                # a settings table row: | `uavops plan` | `--alt 80 --camera "X"` |
                spans = [" ".join(spans)]
            out.extend((n, span) for span in spans)
        prev_blank = not stripped
    return out


def _lines_of(text: str) -> list[tuple[int, str]]:
    """_code_lines for a piece of Markdown (used by the self-test)."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False, encoding="utf-8") as f:
        f.write(text + "\n")
    try:
        return _code_lines(Path(f.name))
    finally:
        Path(f.name).unlink()


def _words_after_uavops(text: str) -> list[str] | None:
    """Words of the first ``uavops`` invocation in ``text`` up to a shell operator, or None."""
    text = text.replace("…", " ")
    try:
        tokens = shlex.split(text, comments=True)
    except ValueError:
        tokens = text.split()
    for i, tok in enumerate(tokens):
        # `uavops` as the program: first word (after VAR=value assignments) or a path to it;
        # not an argument of another program (`createdb --owner uavops`).
        program = tok.endswith("/uavops") or (tok == "uavops" and all("=" in t for t in tokens[:i]))
        if program:
            words: list[str] = []
            for w in tokens[i + 1:]:
                if w in SHELL_STOPS or w.startswith((">", "2>")):
                    break
                words.append(w)
            return words
    return None


def collect_commands() -> list[DocCommand]:
    found: list[DocCommand] = []
    for path in DOC_FILES:
        for n, text in _code_lines(path):
            if "uavops" not in text:
                continue
            words = _words_after_uavops(text)
            if words is None:
                continue
            found.append(DocCommand(words, f"{path.relative_to(ROOT)}:{n}"))
    return found


def _strip_root_options(words: list[str]) -> list[str]:
    i = 0
    while i < len(words):
        if words[i] in ROOT_FLAGS:
            i += 1
        elif words[i] in ROOT_OPTIONS_WITH_VALUE:
            i += 2
        else:
            break
    return words[i:]


def _toml_blocks(path: Path) -> list[tuple[int, str]]:
    blocks: list[tuple[int, str]] = []
    current: list[str] | None = None
    start = 0
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if current is None and line.strip().lower() == "```toml":
            current, start = [], n
        elif current is not None and line.strip().startswith("```"):
            blocks.append((start, "\n".join(current) + "\n"))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


COMMANDS = collect_commands()
STAGE_COMMANDS = [c for c in COMMANDS if _strip_root_options(c.words)
                  and not _strip_root_options(c.words)[0].startswith(("<", "-"))]


def _help_commands(help_text: str) -> set[str]:
    """Subcommand names listed under 'Commands:' in a click help page."""
    names: set[str] = set()
    in_section = False
    for line in help_text.splitlines():
        if line.strip() == "Commands:":
            in_section = True
            continue
        if in_section:
            m = re.match(r"^  (\S+)", line)
            if m:
                names.add(m.group(1))
            elif line.strip() and not line.startswith("   "):
                in_section = False
    return names


def _has_flag(help_text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text) is not None


def _choices(help_text: str, flag: str) -> set[str]:
    """The values of a click Choice option as its help shows them: ``--event [a|b|c]``."""
    m = re.search(rf"(?<![\w-]){re.escape(flag)} \[([^\]\s]+)\]", help_text)
    return {c.lower() for c in m.group(1).split("|")} if m and "|" in m.group(1) else set()


def test_docs_name_many_commands() -> None:
    """The parser really finds the documented commands (a broken parser would make the checks vacuous)."""
    stages = {_strip_root_options(c.words)[0] for c in STAGE_COMMANDS}
    assert {"plan", "sim", "fly", "scene", "camera", "mosaic", "damage", "hub", "upload", "params"} <= stages
    assert len(STAGE_COMMANDS) >= 40


def test_every_documented_command_and_flag_exists(run_cli) -> None:  # type: ignore[no-untyped-def]
    """Resolve each documented command path through --help and check each of its flags there."""
    help_cache: dict[tuple[str, ...], str] = {}

    def help_of(path: tuple[str, ...]) -> str:
        if path not in help_cache:
            r = run_cli(*path, "--help")
            assert r.exit_code == 0, f"`uavops {' '.join(path)} --help` failed: {r.stderr or r.stdout}"
            help_cache[path] = r.stdout
        return help_cache[path]

    problems: list[str] = []
    checked_flags = 0
    for cmd in STAGE_COMMANDS:
        words = _strip_root_options(cmd.words)
        stage = words[0]
        root_help = help_of(())
        if stage not in _help_commands(root_help):
            problems.append(f"{cmd.where}: `uavops {stage}` is not a uavops command")
            continue
        path: tuple[str, ...] = (stage,)
        rest = words[1:]
        # descend into groups (hub token create, params apply, scene make ...)
        while rest and not rest[0].startswith("-"):
            subs = _help_commands(help_of(path))
            if not subs:
                break
            if rest[0] not in subs:
                if not rest[0].isupper() and not rest[0].startswith("<"):
                    problems.append(f"{cmd.where}: `uavops {' '.join(path)} {rest[0]}` is not a command "
                                    f"(known: {', '.join(sorted(subs))})")
                break
            path = (*path, rest[0])
            rest = rest[1:]
        text = help_of(path)
        for i, w in enumerate(rest):
            if w.startswith("--") and len(w) > 2:
                flag = w.split("=", 1)[0]
                checked_flags += 1
                if not _has_flag(text, flag):
                    problems.append(f"{cmd.where}: `uavops {' '.join(path)}` has no option {flag}")
                    continue
                choices = _choices(text, flag)
                value = w.split("=", 1)[1] if "=" in w else (rest[i + 1] if i + 1 < len(rest) else "")
                if choices and value and not value.isupper() and value.lower() not in choices:
                    problems.append(f"{cmd.where}: `uavops {' '.join(path)} {flag} {value}`: "
                                    f"not one of {', '.join(sorted(choices))}")
    assert not problems, "Docs out of step with the CLI:\n" + "\n".join(problems)
    assert checked_flags >= 50


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: p.name)
def test_settings_examples_validate(doc: Path, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for line, block in _toml_blocks(doc):
        f = tmp_path / f"example_{line}.toml"
        f.write_text(block, encoding="utf-8")
        r = run_cli("config", "validate", str(f))
        assert r.exit_code == 0, f"{doc.name}:{line}: settings example is invalid: {r.stderr}"


def test_checker_catches_drift() -> None:
    """The parsing helpers flag an unknown flag and find commands in every kind of code block."""
    assert _words_after_uavops("uavops fly plan/ --connect tcp:1:2 --yes > log.txt") == [
        "fly", "plan/", "--connect", "tcp:1:2", "--yes"]
    assert _words_after_uavops("ExecStart=/opt/v/bin/uavops hub serve --workers 4") == ["hub", "serve", "--workers", "4"]
    assert _words_after_uavops("sudo -u postgres createdb --owner uavops uavops_hub") is None
    assert _words_after_uavops("UAVOPS_SITL_BIN=/x uavops sim --backend ardupilot") == ["sim", "--backend", "ardupilot"]
    row = "| `uavops scene make` | `--event flood --location dushanbe` |"
    assert any(t == "uavops scene make --event flood --location dushanbe" for _, t in _lines_of(row))
    assert _strip_root_options(["--debug", "mosaic", "photos/"]) == ["mosaic", "photos/"]
    help_text = "Options:\n  --alt FLOAT  Height.\n  --live / --no-live  Table.\n"
    assert _has_flag(help_text, "--alt") and _has_flag(help_text, "--no-live")
    assert not _has_flag(help_text, "--al") and not _has_flag(help_text, "--altitude")
    assert _choices("  --event [auto|earthquake|fire]  Event.", "--event") == {"auto", "earthquake", "fire"}
    assert _choices("  --alt FLOAT  Height.", "--alt") == set()
    assert _help_commands("Usage: x\n\nCommands:\n  add   Add.\n  list  List.\n") == {"add", "list"}


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: p.name)
def test_relative_links_point_to_files(doc: Path) -> None:
    """Links between the pages ([docs/sitl.md](docs/sitl.md), [sitl.md](sitl.md)) lead somewhere."""
    text = doc.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not re.match(r"^[a-z]+://", t) and not t.startswith("mailto:")]
    missing = [t for t in local if not (doc.parent / t).exists()]
    assert not missing, f"{doc.name} links to missing files: {missing}"


def test_scenarios_are_all_in_the_training_exercise() -> None:
    """Every scenario shipped in sim/scenarios has its section in docs/training.md."""
    training = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    names = sorted(p.stem for p in (ROOT / "sim" / "scenarios").glob("*.toml"))
    assert names, "no scenarios found"
    missing = [n for n in names if f"`{n}`" not in training]
    assert not missing, f"docs/training.md has no section for {missing}"
