"""Atomic outputs: nothing partial at the final name, stale temporaries swept."""

import os
import stat

import pytest

from genorisk.io import atomic_output, write_json


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text('{"half": ')
        raise RuntimeError("crash mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_success_renames_with_umask_mode_or_given_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        write_json(tmp_path / "b.json", {"x": 1}, mode=0o600)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o600
    assert (tmp_path / "a.json").read_text() == '{\n  "x": 1\n}\n'


def test_temporary_name_keeps_suffixes_and_stale_ones_are_swept(tmp_path):
    target = tmp_path / "cohort.vcf.gz"
    stale = tmp_path / ".cohort.vcf.gz.abc123.tmp.vcf.gz"  # left by a SIGKILLed writer
    stale.write_text("partial")
    other = tmp_path / ".other.vcf.gz.abc123.tmp.vcf.gz"
    other.write_text("someone else's")
    with atomic_output(target) as tmp:
        assert tmp.name.endswith(".vcf.gz") and tmp.parent == tmp_path
        assert not stale.exists()
        tmp.write_text("done")
    assert target.read_text() == "done" and other.exists()
