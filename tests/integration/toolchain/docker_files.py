"""Read the docker files the way docker reads them (docker cannot run here): Dockerfile
instructions, ``--env-file`` lines and ``.dockerignore`` patterns."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DOCKER = REPO / "docker"
ROLES = ("hoster", "validator")


@dataclass(frozen=True)
class Instruction:
    name: str  # upper case: FROM, ENV, ENTRYPOINT...
    args: str


def dockerfile(role: str) -> list[Instruction]:
    """The instructions of ``docker/<role>/Dockerfile`` (continuation lines joined, comments dropped)."""
    out: list[Instruction] = []
    pending = ""
    for raw in (DOCKER / role / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        name, _, args = line.partition(" ")
        out.append(Instruction(name.upper(), args.strip()))
    return out


def stage(instructions: list[Instruction], index: int) -> list[Instruction]:
    """The instructions of build stage ``index`` (-1: the final image)."""
    stages: list[list[Instruction]] = []
    for ins in instructions:
        if ins.name == "FROM":
            stages.append([])
        stages[-1].append(ins)
    return stages[index]


def exec_form(instructions: list[Instruction], name: str) -> list[str]:
    """An ENTRYPOINT or CMD in exec form (a JSON array); shell form fails the caller."""
    found = [i for i in instructions if i.name == name]
    return list(json.loads(found[-1].args)) if found else []


def image_env(instructions: list[Instruction]) -> dict[str, str]:
    """ENV of the final image (``ENV A=1 B=2`` form)."""
    env: dict[str, str] = {}
    for ins in instructions:
        if ins.name == "ENV":
            env.update(dict(pair.split("=", 1) for pair in ins.args.split()))
    return env


def env_file(path: Path) -> dict[str, str]:
    """``docker run --env-file``: a line is ``NAME=value`` taken verbatim after the first ``=``
    (no quotes removed, nothing after a ``#`` dropped); blank and ``#`` lines are skipped; a
    name with white space is an error; a bare ``NAME`` would copy the host's variable."""
    env: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.lstrip()
        if re.search(r"\s", name):
            raise ValueError(f"{path.name}:{number}: variable {name!r} contains white space")
        if not sep:
            raise ValueError(f"{path.name}:{number}: {name} has no value (docker would copy the host's)")
        env[name] = value
    return env


def commented_settings(path: Path) -> dict[str, str]:
    """Settings shown commented out (``# NAME=value``): an operator uncomments them as they are."""
    found = (re.match(r"^#\s*(SCATTER_[A-Z0-9_]+)=(.*)$", line) for line in path.read_text().splitlines())
    return {m.group(1): m.group(2) for m in found if m}


def _pattern(glob: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return re.compile(out)


def dockerignored(path: str, patterns: list[str] | None = None) -> bool:
    """Whether ``.dockerignore`` keeps ``path`` (relative to the repository) out of the build context:
    the last pattern matching the path or one of its parent directories decides; ``!`` re-includes."""
    if patterns is None:
        lines = (REPO / ".dockerignore").read_text().splitlines()
        patterns = [p.strip() for p in lines if p.strip() and not p.strip().startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(p) for p in prefixes):
            ignored = not negate
    return ignored
