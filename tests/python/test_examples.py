"""The examples of docs/INTEGRATIONS.md, run as written."""
import json
import os
import re
import sys
import types

import pytest

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "INTEGRATIONS.md")


def example(first_line):
    """The ```python block of the document that starts with first_line."""
    with open(DOC, encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    found = [b for b in blocks if b.startswith(first_line + "\n")]
    assert len(found) == 1, "no example starting %r in %s" % (first_line, DOC)
    return found[0]


class FakeJsonResponse:
    def __init__(self, data, status=200):
        self.data, self.status_code = data, status


class FakeRequest:
    def __init__(self, method, body):
        self.method, self.body = method, json.dumps(body).encode()


@pytest.fixture
def django_view(monkeypatch):
    """The Django view of the Python section, as a module.  django.http is
    a stand-in with JsonResponse, unless Django itself is installed."""
    try:
        import django.http  # noqa: F401
        real = True
    except ImportError:
        real = False
        http = types.ModuleType("django.http")
        http.JsonResponse = FakeJsonResponse
        monkeypatch.setitem(sys.modules, "django", types.ModuleType("django"))
        monkeypatch.setitem(sys.modules, "django.http", http)
    if real:
        pytest.skip("Django is installed: this test knows only its stand-in")
    mod = types.ModuleType("views")
    exec(compile(example("# views.py"), DOC + ":views.py", "exec"), mod.__dict__)
    return mod


def answer(view, body, method="POST"):
    r = view.run_code(FakeRequest(method, body))
    return r.status_code, r.data


def test_django_view_runs_code(django_view):
    code = "import data\nprint(sum(data.N))"
    status, data = answer(django_view, {"code": code, "files": {"data.py": "N = [1, 2, 39]"}})
    assert (status, data) == (200, {"exit_code": 0, "output": "42\n"})


def test_django_view_reports_exit_code(django_view):
    status, data = answer(django_view, {"code": "print('partial')\nraise SystemExit(3)"})
    assert (status, data) == (200, {"exit_code": 3, "output": "partial\n"})


def test_django_view_leaves_no_sandbox(django_view):
    from conftest import islet_ls

    before = islet_ls()
    answer(django_view, {"code": "print(1)"})
    assert islet_ls() == before


def test_django_view_errors(django_view):
    assert answer(django_view, {}, method="GET")[0] == 405
    status, data = answer(django_view, {"code": "1", "language": "cobol"})
    assert status == 502 and "language" in data["error"]


@pytest.fixture
def reasoning(mode):
    """The reasoning service's helper of INTEGRATIONS.md, as a module."""
    if mode != "server":
        pytest.skip("/v1/execute is isletd's")
    mod = types.ModuleType("reasoning")
    exec(compile(example("# reasoning.py"), DOC + ":reasoning.py", "exec"), mod.__dict__)
    return mod


def test_reasoning_service_runs_a_program(reasoning):
    a = reasoning.run_program("import random\nrandom.seed(1)\nprint(sum(random.random() < 0.5 for _ in range(1000)))")
    assert a["status"] == "completed" and a["exit_code"] == 0
    assert 400 < int(a["stdout"]) < 600
    assert a["metadata"]["sandbox_type"] == "islet" and a["execution_time"] > 0


def test_reasoning_service_policy_refuses(reasoning):
    a = reasoning.run_program("import os\nprint(os.listdir('/'))", allowed_imports=["random", "math"])
    assert a["status"] == "error" and "line 1: import of os" in a["stderr"] and a["stdout"] == ""


def test_reasoning_service_timeout(reasoning):
    a = reasoning.run_program("while True:\n    pass", timeout=1)
    assert a["status"] == "timeout"


# The engine's SandboxConfig as it sends it: every field honoured or refused
# with a 400 that names it.
ENGINE_CONFIG = {"cpu_limit": 0.5, "memory_limit_mb": 256, "execution_timeout": 1,
                 "temp_storage_mb": 64, "python_version": "3", "enable_networking": False,
                 "enable_ast_validation": True, "allowed_imports": ["math", "random", "time"]}


def test_reasoning_service_engine_config(reasoning):
    a = reasoning.run_program("import time\ntime.sleep(10)\nprint('late')", config=ENGINE_CONFIG)
    assert a["status"] == "timeout" and "late" not in a["stdout"]
    a = reasoning.run_program("import os\nprint(1)", config=ENGINE_CONFIG)
    assert a["status"] == "error" and "line 1: import of os" in a["stderr"]
    a = reasoning.run_program("import math\nprint(math.factorial(5))", config=ENGINE_CONFIG)
    assert a["status"] == "completed" and a["stdout"] == "120\n"


def test_reasoning_service_engine_config_refused(reasoning):
    for field, value, words in (("network_allow_list", ["fd00::/8"], "IPv6"),
                                ("python_version", "2.7", "2.7 is not available"),
                                ("sandbox_type", "docker", "sandbox_type"),
                                ("execution_timeout", 3600, "execution_timeout")):
        a = reasoning.run_program("print(1)", config=dict(ENGINE_CONFIG, **{field: value}))
        assert a.get("statusCode") == 400 and words in a["message"], (field, a)


def test_reasoning_service_policy_holds_at_run_time(reasoning):
    code = "import random\nos = random._os\nos.system('true')\nprint('ran')"
    a = reasoning.run_program(code, config=ENGINE_CONFIG)
    assert "islet policy: os.system is not allowed" in a["stderr"] and "ran" not in a["stdout"]


def test_reasoning_service_status(reasoning):
    s = reasoning.service_status()
    assert s["service_status"] == "running" and isinstance(s["sandbox_active"], bool)
    assert s["config"]["execution_timeout"] > 0 and s["config"]["python_version"].startswith("3.")
    assert s["config"]["enable_networking"] is False
