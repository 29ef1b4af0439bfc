import json
import pathlib

import pytest

GOLDEN = pathlib.Path(__file__).resolve().parents[2] / "tests" / "golden"


def load(name):
    return json.loads((GOLDEN / name).read_text())["cases"]


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="torch is not installed: torch tests skipped")
