"""Fixtures of the Python client's tests (tests/python/run.sh runs them).

The suite runs twice: against a live isletd (ISLET_TEST_MODE=server,
ISLET_URL and ISLET_API_KEY set) and on the local islet CLI
(ISLET_TEST_MODE=cli, ISLET_STATE_DIR set, no ISLET_URL).  `islet` is
imported from where run.sh pip-installed it (ISLET_TEST_SITE), never from
the source tree.
"""
import json
import os
import subprocess

import pytest

import islet as islet_pkg

MODE = os.environ.get("ISLET_TEST_MODE", "server")


def pytest_configure(config):
    for var in ("ISLET_TEST_SITE", "ISLET_BIN", "ISLET_TEST_STATE"):
        if not os.environ.get(var):
            raise pytest.UsageError("tests/python needs %s: run it with tests/python/run.sh" % var)


@pytest.fixture(scope="session")
def mode():
    return MODE


@pytest.fixture(scope="session")
def client():
    c = islet_pkg.Islet()
    assert c.mode == MODE
    return c


@pytest.fixture
def sb(client):
    with client.create_sandbox(language="python", labels={"suite": "python"}) as s:
        yield s


def islet_ls():
    """The ids `islet ls` shows on the state directory of the test's sandboxes."""
    p = subprocess.run([os.environ["ISLET_BIN"], "--state-dir", os.environ["ISLET_TEST_STATE"],
                        "ls", "--json"], capture_output=True, timeout=60, check=True)
    return {s["id"] for s in json.loads(p.stdout)["sandboxes"]}
