"""``fakeqemu contracts validate|export|diff`` as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fakeqemu.cli import main
from fakeqemu.contracts.diff import diff
from fakeqemu.contracts.generate import expected_files
from fakeqemu.vocabulary import SHAPES
from tests.support.recordings import RECORDINGS


def test_validate_accepts_a_real_transcript(capsys: pytest.CaptureFixture[str]) -> None:
    path = RECORDINGS / "11.1" / "precopy.jsonl"
    assert main(["contracts", "validate", str(path), "--profile", "11.1", "--shape", "old"]) == 0
    received = sum(json.loads(line)["dir"] == "<" for line in path.read_text().splitlines())
    assert capsys.readouterr().out == (
        f"{received} messages checked against 11.1/old: 0 broke their contract\n"
    )


def test_a_real_destination_breaks_the_new_contract(capsys: pytest.CaptureFixture[str]) -> None:
    # QEMU 11.1 as built answers a completed destination without ram: not the patched shape.
    path = RECORDINGS / "11.1" / "precopy.jsonl"
    assert main(["contracts", "validate", str(path), "--profile", "11.1", "--shape", "new"]) == 1
    out = capsys.readouterr().out
    assert "query-migrate (destination): $.return: 'ram' is a required property" in out


def test_validate_pairs_logged_requests_and_replies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "client.log"
    log.write_text(
        "\n".join(
            [
                '{"execute": "query-status"}',
                '{"return": {"status": "running", "running": true}}',
                '{"return": {"status": "running", "running": true}}',
                '{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}',
                "not json",
            ]
        )
        + "\n"
    )
    args = ["contracts", "validate", str(log), "--profile", "10.0", "--shape", "old"]
    assert main(args) == 1
    *problems, summary = capsys.readouterr().out.splitlines()
    # Line 2 answers query-status; line 3 answers nothing logged, so query-migrate.
    assert {problem.split(": ")[0] for problem in problems} == {f"{log}:3", f"{log}:5"}
    assert f"{log}:3: query-migrate: $.return.status: 'running' is not one of" in "\n".join(
        problems
    )
    assert problems[-1].startswith(f"{log}:5: not JSON")
    assert summary == "4 messages checked against 10.0/old: 2 broke their contract"


def test_validate_takes_a_role_for_bare_replies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "replies.jsonl"
    log.write_text(json.dumps({"return": {"status": "completed"}}) + "\n")
    base = ["contracts", "validate", str(log), "--profile", "7.2", "--shape"]
    assert main([*base, "old", "--role", "destination"]) == 0
    assert main([*base, "new", "--role", "destination"]) == 1
    assert main([*base, "old", "--role", "source"]) == 1
    assert "'setup-time' is a required property" in capsys.readouterr().out


def test_export_writes_the_shipped_schemas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["contracts", "export", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out == f"fakeqemu: wrote 54 schemas to {tmp_path / 'out'}\n"
    written = {
        path.relative_to(tmp_path / "out").as_posix(): path.read_text()
        for path in (tmp_path / "out").glob("*/*/*.json")
    }
    assert written == expected_files()
    shutil.rmtree(tmp_path / "out")


def test_diff_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "diff", "11.1/old", "11.1/new"]) == 0
    assert capsys.readouterr().out.splitlines() == diff("11.1/old", "11.1/new")


def test_diff_rejects_a_bad_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "diff", "11.1", "12.0/old"]) == 2
    assert "PROFILE/SHAPE" in capsys.readouterr().err


def test_the_cli_choices_agree_with_the_contracts_package() -> None:
    from fakeqemu.cli import build_parser
    from fakeqemu.contracts.store import PROFILES, package_root

    # Every profile and shape the CLI offers has its schemas shipped, and no other does.
    folders = [folder for folder in package_root().iterdir() if folder.is_dir()]
    shipped = {(folder.name, shape.name) for folder in folders for shape in folder.iterdir()}
    assert shipped == {(profile, shape) for profile in PROFILES for shape in SHAPES}
    for profile, shape in sorted(shipped):
        argv = ["contracts", "validate", "f", "--profile", profile, "--shape", shape]
        assert build_parser().parse_args([*argv, "--role", "destination"]).profile == profile
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["contracts", "validate", "f", "--profile", "9.9", "--shape", "old"]
        )
