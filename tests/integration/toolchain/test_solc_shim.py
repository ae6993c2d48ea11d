"""tools/solc: the native-solc command line over the pinned solcjs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
SHIM = REPO / "tools" / "solc"

if shutil.which("node") is None or not (REPO / "node_modules" / "solc").is_dir():
    pytest.skip("node and npm `solc` are installed by `make install`", allow_module_level=True)


def run(*args: str, stdin: str | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SHIM), *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=120
    )


def standard_json(sources: dict[str, str], outputs: list[str]) -> str:
    return json.dumps(
        {
            "language": "Solidity",
            "sources": {name: {"content": text} for name, text in sources.items()},
            "settings": {"outputSelection": {"*": {"*": outputs}}},
        }
    )


def test_version_is_reported_like_native_solc() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.splitlines()[1].startswith("Version: 0.8.30+commit.")


def test_imports_resolve_against_base_and_include_paths(tmp_path: Path) -> None:
    (tmp_path / "base" / "lib").mkdir(parents=True)
    (tmp_path / "extra" / "pkg").mkdir(parents=True)
    (tmp_path / "base" / "lib" / "A.sol").write_text(
        "pragma solidity ^0.8.0; library A { function one() internal pure returns (uint) { return 1; } }"
    )
    (tmp_path / "extra" / "pkg" / "B.sol").write_text(
        "pragma solidity ^0.8.0; library B { function two() internal pure returns (uint) { return 2; } }"
    )
    main = (
        'pragma solidity ^0.8.0; import "lib/A.sol"; import "pkg/B.sol"; '
        "contract C { function f() external pure returns (uint) { return A.one() + B.two(); } }"
    )
    request = standard_json({"C.sol": main}, ["abi"])
    done = run(
        "--standard-json",
        "--base-path",
        str(tmp_path / "base"),
        "--include-path",
        str(tmp_path / "extra"),
        stdin=request,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert not [e for e in out.get("errors", []) if e["severity"] == "error"], out
    assert out["contracts"]["C.sol"]["C"]["abi"][0]["name"] == "f"


def test_missing_import_is_reported_by_the_compiler(tmp_path: Path) -> None:
    request = standard_json({"C.sol": 'pragma solidity ^0.8.0; import "nope/X.sol"; contract C {}'}, ["abi"])
    done = run("--standard-json", "--base-path", str(tmp_path), stdin=request)
    errors = json.loads(done.stdout)["errors"]
    assert any("File not found: nope/X.sol" in e["message"] for e in errors)


def test_output_larger_than_a_pipe_buffer_arrives_whole() -> None:
    # Many functions make an ABI + bytecode far above 64 KiB.
    body = " ".join(
        f"function f{i}(uint a) external pure returns (uint) {{ return a + {i}; }}" for i in range(400)
    )
    request = standard_json(
        {"Big.sol": f"pragma solidity ^0.8.0; contract Big {{ {body} }}"}, ["abi", "evm.bytecode.object"]
    )
    done = run("--standard-json", stdin=request)
    assert done.returncode == 0
    assert len(done.stdout) > 65536
    assert len(json.loads(done.stdout)["contracts"]["Big.sol"]["Big"]["abi"]) == 400


def test_unsupported_options_fail_with_one_line() -> None:
    done = run("--bin", "x.sol")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "unsupported option --bin" in done.stderr
