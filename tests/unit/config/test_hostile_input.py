"""Lab files and inventories written by someone hostile or careless: every value that can reach a
shell, a path or a loop is refused at load, in one line naming file, line, field and value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.config import plan
from orchestrator.config.labfile import load_lab
from orchestrator.errors import ConfigError
from tests.support.labfiles import REPOSITORY, write_lab

HOSTILE = [
    "client1;touch /tmp/x",
    "$(id)",
    "`id`",
    "a\nb",
    "it's",
    'say "hi"',
    "a b",
    "../../etc",
    "a|b",
    "a&b",
    "a>b",
]


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_lab(path, routes=list)
    assert caught.value.exit_code == 2
    return caught.value.problems


def _inventory(source: str, edit: Callable[[dict[str, Any]], None]) -> str:
    data = yaml.safe_load((REPOSITORY / "inventory" / source).read_text())
    edit(data)
    return yaml.safe_dump(data, sort_keys=False)


def _client1(data: dict[str, Any]) -> dict[str, Any]:
    hosts = data["all"]["children"]["clients"]["hosts"]
    return hosts[next(iter(hosts))]


@pytest.mark.parametrize("name", HOSTILE)
def test_host_names_follow_ansibles_rules(tmp_path: Path, name: str) -> None:
    def edit(data: dict[str, Any]) -> None:
        hosts = data["all"]["children"]["clients"]["hosts"]
        hosts[name] = hosts.pop("client1")

    path = write_lab(tmp_path, inventory_text=_inventory("emulated.yml", edit))
    [line] = _problems(path)
    assert f"{name!r}: expected a host name" in line.replace(repr(name)[:57], repr(name))
    assert line.startswith(f"{tmp_path / 'inventory' / 'lab.yml'}:")


@pytest.mark.parametrize("value", [*HOSTILE, "python3", "/usr/bin/python3 -c 'x'", "auto"])
def test_python_interpreter_is_an_absolute_plain_path(tmp_path: Path, value: str) -> None:
    path = write_lab(
        tmp_path,
        inventory_text=_inventory(
            "emulated.yml", lambda d: _client1(d).update(ansible_python_interpreter=value)
        ),
    )
    [line] = _problems(path)
    assert "client1.ansible_python_interpreter:" in line
    assert "expected an absolute path" in line


@pytest.mark.parametrize("value", [*HOSTILE, "-oProxyCommand=x", "host_name.example"])
def test_ansible_host_of_a_physical_lab_is_an_address_or_dns_name(
    tmp_path: Path, value: str
) -> None:
    def edit(data: dict[str, Any]) -> None:
        _client1(data)["ansible_host"] = value

    text = _inventory("example-physical.yml", edit)
    path = write_lab(tmp_path, inventory_text=text, lab_changes={"emulate": False})
    [line] = _problems(path)
    assert ".ansible_host:" in line and "expected an IP address or a DNS name" in line


@pytest.mark.parametrize("value", ["10.10.0.11", "load1.lab.example.org", "fe80::1", "h-1.x."])
def test_good_management_names_of_a_physical_lab_load(tmp_path: Path, value: str) -> None:
    text = _inventory("example-physical.yml", lambda d: _client1(d).update(ansible_host=value))
    path = write_lab(tmp_path, inventory_text=text, lab_changes={"emulate": False})
    assert load_lab(path, routes=list).clients[0].management == value


@pytest.mark.parametrize("value", [*HOSTILE, "relative/dir", "/opt/../etc", "/opt/my dir"])
def test_testbed_dir_is_absolute_with_safe_characters(tmp_path: Path, value: str) -> None:
    path = write_lab(
        tmp_path,
        inventory_text=_inventory("emulated.yml", lambda d: _client1(d).update(testbed_dir=value)),
    )
    [line] = _problems(path)
    assert "client1.testbed_dir:" in line and "expected" in line


def test_ansible_user_is_a_user_name(tmp_path: Path) -> None:
    path = write_lab(
        tmp_path,
        inventory_text=_inventory(
            "emulated.yml", lambda d: _client1(d).update(ansible_user="root;id")
        ),
    )
    [line] = _problems(path)
    assert "client1.ansible_user: 'root;id': expected a user name" in line


def test_a_cpulist_that_would_expand_forever_is_refused(tmp_path: Path) -> None:
    path = write_lab(
        tmp_path,
        inventory_text=_inventory(
            "emulated.yml", lambda d: _client1(d).update(testbed_cpus="0-99999999999999")
        ),
    )
    [line] = _problems(path)
    assert "client1.testbed_cpus" in line


# -- files that are not what they claim ------------------------------------------------------


def test_lab_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = write_lab(tmp_path)
    path.write_bytes(path.read_bytes() + b"# caf\xe9\n")
    [line] = _problems(path)
    assert line.startswith(f"{path}:") and "not UTF-8" in line


def test_inventory_that_is_not_utf8(tmp_path: Path) -> None:
    path = write_lab(tmp_path)
    inventory = tmp_path / "inventory" / "lab.yml"
    inventory.write_bytes(b"\xff\xfe" + inventory.read_bytes())
    [line] = _problems(path)
    assert line.startswith(f"{inventory}:1:") and "not UTF-8" in line


def test_yaml_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = tmp_path / "lab.yml"
    path.write_text("\n".join(lines) + "\n")  # 10^10 values once expanded
    [line] = _problems(path)
    assert "expands to more than 200000 values" in line


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lab.yml"
    path.write_text("a: &a [*a]\n")
    with pytest.raises(ConfigError):
        load_lab(path, routes=list)


def test_deep_nesting_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "lab.yml"
    path.write_text("[" * 3_000 + "]" * 3_000 + "\n")
    [line] = _problems(path)
    assert line.startswith(f"{path}")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"repetitions": 10**22}, "experiment.repetitions: 10000000000000000000000"),
        ({"idle_connections": [10**22]}, "experiment.idle_connections[0]"),
        ({"seed": 10**22}, "experiment.seed"),
        ({"duration": "99999999999h"}, "experiment.duration"),
        ({"rates": [float("inf")]}, "experiment.rates[0]"),
        ({"rates": {"from": 1, "to": 1e8, "step": 1}}, "experiment.rates.step"),
    ],
)
def test_absurd_sizes_are_refused_at_load(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    base = yaml.safe_load((REPOSITORY / "lab.yml").read_text())["experiment"]
    path = write_lab(tmp_path, lab_changes={"experiment": {**base, **changes}})
    [line] = _problems(path)
    assert expected in line


def test_a_plan_of_more_than_a_million_points_is_never_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: Any) -> Any:
        raise AssertionError("the plan was expanded")

    monkeypatch.setattr(plan, "expand", never)
    base = yaml.safe_load((REPOSITORY / "lab.yml").read_text())["experiment"]
    changes = {"rates": {"from": 1, "to": 1000, "step": 1}, "repetitions": 1000}
    path = write_lab(tmp_path, lab_changes={"experiment": {**base, **changes}})
    [line] = _problems(path)
    assert "points; at most 1000000 accepted" in line
