"""The `servers:` section: parsing, one-line errors, the template renderer, the plan's axis."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.config.labfile import load_lab
from orchestrator.config.plan import expand, plan_digest
from orchestrator.config.servers import (
    DEFAULT_SERVERS,
    ServerSpec,
    placeholders,
    render,
    unknown_placeholders,
)
from orchestrator.errors import ConfigError
from tests.support.labfiles import REPOSITORY, resolved, write_lab

NGINX = {
    "name": "nginx",
    "command": "python3 -m agents.nginx --address {address} --port {port} --docroot {docroot}",
    "packages": ["nginx-light"],
    "ready": {"path": "/index.html"},
}


def lab_with(directory: Path, section: Any = None, **experiment: Any) -> Path:
    base = yaml.safe_load((REPOSITORY / "lab.yml").read_text())["experiment"]
    base.update(experiment)
    changes: dict[str, Any] = {"experiment": base}
    if section is not None:
        changes["servers"] = section
    return write_lab(directory, lab_changes=changes)


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_lab(path, routes=list)
    assert caught.value.exit_code == 2
    return caught.value.problems


# -- parsing -------------------------------------------------------------------------------


def test_without_a_servers_section_the_sweep_runs_userver_as_before(tmp_path: Path) -> None:
    lab = load_lab(lab_with(tmp_path), routes=list)
    assert lab.experiment.servers == DEFAULT_SERVERS
    assert lab.experiment.servers[0].builtin == "userver"


def test_a_servers_section_is_parsed_in_its_order(tmp_path: Path) -> None:
    path = lab_with(tmp_path, [{"name": "userver", "builtin": "userver"}, NGINX])
    servers = load_lab(path, routes=list).experiment.servers
    assert [s.name for s in servers] == ["userver", "nginx"]
    nginx = servers[1]
    assert nginx.builtin is None and nginx.packages == ("nginx-light",)
    assert nginx.ready_path == "/index.html" and (nginx.stop_signal, nginx.stop_group) == (
        "TERM",
        True,
    )
    assert not nginx.has_mechanism and not nginx.has_metrics


def test_experiment_servers_chooses_and_orders(tmp_path: Path) -> None:
    path = lab_with(tmp_path, [{"name": "userver", "builtin": "userver"}, NGINX], servers=["nginx"])
    assert [s.name for s in load_lab(path, routes=list).experiment.servers] == ["nginx"]


def test_an_unknown_placeholder_is_one_line_naming_file_field_and_value(tmp_path: Path) -> None:
    bad = {**NGINX, "command": "nginx -p {prefix} --port {port}"}
    found = problems(lab_with(tmp_path, [bad]))
    assert len(found) == 1
    line = found[0]
    assert "lab.yml" in line and "servers[0].command" in line and "{prefix}" in line
    assert "\n" not in line


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"name": "x"}, "exactly one of builtin or command"),
        ({"name": "x", "builtin": "userver", "command": "a {port}"}, "exactly one of"),
        ({"name": "x", "builtin": "nginx"}, "servers[0].builtin"),
        ({"name": "X y", "command": "a"}, "servers[0].name"),
        ({"name": "x", "command": "a {port!r}"}, "malformed placeholder"),
        ({"name": "x", "command": "a {"}, "servers[0].command"),
        ({"name": "x", "command": "a", "ready": {"path": "index"}}, "ready.path"),
        ({"name": "x", "command": "a", "stop": {"signal": "KILL"}}, "stop.signal"),
        ({"name": "x", "command": "a", "packages": ["rm -rf /"]}, "packages[0]"),
        ({"name": "x", "command": "a", "bogus": 1}, "unknown key"),
    ],
)
def test_bad_entries_are_one_line_each(tmp_path: Path, entry: dict[str, Any], words: str) -> None:
    found = problems(lab_with(tmp_path, [entry]))
    assert len(found) == 1 and words in found[0], found


def test_a_server_named_twice_or_not_defined_is_refused(tmp_path: Path) -> None:
    twice = problems(lab_with(tmp_path, [NGINX, NGINX]))
    assert any("listed twice" in line for line in twice)
    unknown = problems(lab_with(tmp_path, [NGINX], servers=["apache"]))
    assert len(unknown) == 1 and "experiment.servers[0]" in unknown[0]


# -- the renderer --------------------------------------------------------------------------


def test_values_are_quoted_and_literal_braces_kept() -> None:
    template = "sh -c 'echo {{}}' x {docroot} {port}"
    rendered = render(template, {"docroot": "/a b/$(id);rm", "port": 8080})
    assert rendered == "sh -c 'echo {}' x '/a b/$(id);rm' 8080"
    assert shlex.split(rendered)[4] == "/a b/$(id);rm"


def test_placeholders_are_listed_and_unknown_ones_found() -> None:
    assert placeholders("a {port} {{x}} {cpus}") == ("port", "cpus")
    assert unknown_placeholders("a {port} {home}") == ["home"]
    with pytest.raises(ValueError):
        placeholders("a {0}")


# -- the plan's server axis ----------------------------------------------------------------


def test_a_server_without_mechanisms_is_one_point_per_rate(tmp_path: Path) -> None:
    path = lab_with(
        tmp_path,
        [{"name": "userver", "builtin": "userver"}, NGINX],
        mechanisms=["select", "epoll-et"],
        workloads=["one-byte"],
        idle_connections=[0],
        accept_limits=["inf", 10],
        rates=[100, 200],
        repetitions=1,  # the default lab.yml repeats its top rates
        profile=False,  # nor the default's profiling pass, whose idle counts it names
    )
    points = expand(load_lab(path, routes=list).experiment, seed=7)
    userver = [p for p in points if p.server == "userver"]
    nginx = [p for p in points if p.server == "nginx"]
    assert len(userver) == 2 * 2 * 2  # mechanisms × accept-limits × rates
    assert len(nginx) == 2  # one per rate: no mechanism, no accept-limit of its own
    assert {p.mechanism for p in nginx} == {""} and {p.accept_limit for p in nginx} == {None}
    assert len({p.key for p in points}) == len(points)
    assert {p.series for p in nginx} == {"nginx"} and "nginx" in nginx[0].key
    # both servers are measured at every rate they share, rates ascending inside a group
    assert {p.rate for p in nginx} == {p.rate for p in userver}


def test_a_server_with_mechanisms_gets_the_axis() -> None:
    spec = ServerSpec("mine", builtin=None, command="mine --mode {mechanism} {accept_limit}")
    assert spec.has_mechanism and spec.has_accept_limit and not spec.has_metrics


def test_the_default_keeps_the_plans_digest_and_keys(tmp_path: Path) -> None:
    plain = resolved(load_lab(lab_with(tmp_path), routes=list))
    section = [{"name": "userver", "builtin": "userver"}]
    listed = resolved(load_lab(lab_with(tmp_path, section), routes=list))
    assert plan_digest(plain) == plan_digest(listed)
    point = expand(plain.experiment, seed=1)[0]
    assert point.key.count("/") == 5 and f"/{point.mechanism}/" in point.key
