"""Validation of lab files and inventories: every bad input is one precise line."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.config.labfile import load_lab
from orchestrator.errors import ConfigError
from tests.support.labfiles import REPOSITORY, default_lab, write_lab

NO_ROUTES: Callable[[], list[Any]] = list


def experiment(**changes: Any) -> dict[str, Any]:
    base = yaml.safe_load((REPOSITORY / "lab.yml").read_text())["experiment"]
    base.update(changes)
    return {"experiment": base}


def problems(
    directory: Path, routes: Callable[[], list[Any]] = NO_ROUTES, **kwargs: Any
) -> list[str]:
    path = write_lab(directory, **kwargs)
    with pytest.raises(ConfigError) as caught:
        load_lab(path, routes=routes)
    assert caught.value.exit_code == 2
    return caught.value.problems


def inventory_with(edit: Callable[[str], str]) -> str:
    return edit((REPOSITORY / "inventory" / "emulated.yml").read_text())


# -- the defaults --------------------------------------------------------------------------


def test_default_lab_loads_with_the_papers_topology() -> None:
    lab = default_lab(routes=NO_ROUTES)
    assert lab.emulate and lab.name == "emulated"
    assert len(lab.clients) == 8
    assert [c.subnet for c in lab.clients] == ["a"] * 4 + ["b"] * 4
    assert {str(lab.server_address_for(c)) for c in lab.clients[:4]} == {"198.18.1.1"}
    assert {str(lab.server_address_for(c)) for c in lab.clients[4:]} == {"198.18.2.1"}
    assert lab.server.cpus == (0,) and all(c.cpus == (1,) for c in lab.clients)
    assert str(lab.orchestrator_address) == "198.18.0.1"
    assert all(ipaddress.IPv4Network("198.18.0.0/15").supernet_of(n) for n in lab.subnets.values())
    # the paper's mechanisms on the paper's idle-connection effect, up to the clients' limit
    assert set(lab.experiment.mechanisms) >= {"select", "poll", "epoll-lt", "epoll-et", "epoll2"}
    assert lab.experiment.idle_connections == (0, 10000)
    assert lab.experiment.knee and lab.experiment.repetitions >= 2


def test_example_physical_inventory_loads(tmp_path: Path) -> None:
    text = (REPOSITORY / "inventory" / "example-physical.yml").read_text()
    path = write_lab(tmp_path, inventory_text=text, lab_changes={"emulate": False})
    lab = load_lab(path, routes=NO_ROUTES)
    assert lab.server.name == "sut1.lab.example.org"
    assert lab.server.cpus == (0,) and lab.clients[0].cpus == (0, 1, 2, 3)
    assert lab.server.ssh_user == "bench" and lab.server.directory == "/opt/testbed"


def test_rate_range_expands_and_inf_accept_limit(tmp_path: Path) -> None:
    path = write_lab(
        tmp_path,
        lab_changes=experiment(
            rates={"from": 1000, "to": 3000, "step": 500}, accept_limits=["inf", 10]
        ),
    )
    lab = load_lab(path, routes=NO_ROUTES)
    assert lab.experiment.rates == (1000, 1500, 2000, 2500, 3000)
    assert lab.experiment.accept_limits == (None, 10)


def test_syscall_timing_defaults_to_wall_and_takes_cpu(tmp_path: Path) -> None:
    default = load_lab(write_lab(tmp_path), routes=NO_ROUTES)
    assert default.experiment.syscall_timing == "wall"
    profiling = load_lab(
        write_lab(tmp_path, lab_changes=experiment(syscall_timing="cpu")), routes=NO_ROUTES
    )
    assert profiling.experiment.syscall_timing == "cpu"


def test_an_unknown_syscall_timing_is_one_line(tmp_path: Path) -> None:
    [line] = problems(tmp_path, lab_changes=experiment(syscall_timing="gprof"))
    assert "experiment.syscall_timing" in line and "'gprof'" in line


# -- bad input: the issue's list ---------------------------------------------------------------


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "lab.yml"
    path.write_text("version: 1\nname: x\nexperiment: {mechanisms: [select\n")
    with pytest.raises(ConfigError) as caught:
        load_lab(path, routes=NO_ROUTES)
    [line] = caught.value.problems
    assert line.startswith(f"{path}:4: YAML syntax error")


def test_misspelt_key_gets_a_suggestion(tmp_path: Path) -> None:
    changes = experiment()
    changes["experiment"]["durration"] = changes["experiment"].pop("duration")
    [unknown, missing] = problems(tmp_path, lab_changes=changes)
    assert "experiment.durration: unknown key (did you mean 'duration'?)" in unknown
    assert "experiment.duration: missing (required)" in missing


def test_unknown_top_level_key(tmp_path: Path) -> None:
    [line] = problems(tmp_path, lab_changes={"resutls": {"directory": "x"}})
    assert "resutls: unknown key (did you mean 'results'?)" in line


def test_unsupported_version(tmp_path: Path) -> None:
    [line] = problems(tmp_path, lab_changes={"version": 2})
    assert line.endswith("version: 2: unsupported version, expected 1")
    assert line.startswith(f"{tmp_path / 'lab.yml'}:1: ")


def test_unknown_mechanism_and_workload(tmp_path: Path) -> None:
    lines = problems(
        tmp_path,
        lab_changes=experiment(mechanisms=["select", "epol-lt"], workloads=["one-byte", "specweb"]),
    )
    assert any(
        "experiment.mechanisms[1]: 'epol-lt': expected one of select, poll, epoll-lt" in line
        and "(did you mean 'epoll-lt'?)" in line
        for line in lines
    )
    assert any(
        "experiment.workloads[1]: 'specweb': expected one of one-byte, specweb99" in line
        for line in lines
    )


def test_a_knee_search_climbs_a_bounded_ladder(tmp_path: Path) -> None:
    auto = {"from": 1000, "to": "auto", "step": 500, "max": 3000}
    lab = load_lab(write_lab(tmp_path, lab_changes=experiment(rates=auto)), routes=NO_ROUTES)
    assert lab.experiment.knee
    assert lab.experiment.rates == (1000, 1500, 2000, 2500, 3000)
    del auto["max"]  # without a bound of its own, a fixed number of steps
    lab = load_lab(write_lab(tmp_path, lab_changes=experiment(rates=auto)), routes=NO_ROUTES)
    assert lab.experiment.knee and len(lab.experiment.rates) == 20
    assert lab.experiment.repeat_top is None
    auto["repeat_top"] = 2
    lab = load_lab(write_lab(tmp_path, lab_changes=experiment(rates=auto)), routes=NO_ROUTES)
    assert lab.experiment.repeat_top == 2
    assert lab.experiment.rates[-1] == 1000 + 19 * 500
    fixed = {"from": 1000, "to": 3000, "step": 500}
    lab = load_lab(write_lab(tmp_path, lab_changes=experiment(rates=fixed)), routes=NO_ROUTES)
    assert not lab.experiment.knee


@pytest.mark.parametrize(
    ("rates", "where"),
    [
        ([1000, 0], "experiment.rates[1]: 0: expected a positive number"),
        ([-5], "experiment.rates[0]: -5: expected a positive number"),
        ({"from": 100, "to": 50, "step": 10}, "experiment.rates.to: 50: expected a rate >= from"),
        ({"from": 100, "to": 500, "step": 0}, "experiment.rates.step: 0: expected a positive"),
        (
            {"from": 100, "to": "automatic", "step": 10},
            "experiment.rates.to: 'automatic': expected a positive number or 'auto'",
        ),
        ({"from": 100, "to": "auto", "step": -10}, "experiment.rates.step: -10: expected a pos"),
        (
            {"from": 100, "to": "auto", "step": 10, "max": 50},
            "experiment.rates.max: 50: expected a rate >= from (100)",
        ),
        ({"from": 100, "to": 500, "step": 10, "max": 900}, "experiment.rates.max: only with to"),
        (
            {"from": 100, "to": 500, "step": 10, "repeat_top": 2},
            "experiment.rates.repeat_top: only with to",
        ),
        (
            {"from": 100, "to": "auto", "step": 10, "repeat_top": 0},
            "experiment.rates.repeat_top: 0: expected an integer > 0",
        ),
    ],
)
def test_non_positive_rates(tmp_path: Path, rates: Any, where: str) -> None:
    [line] = problems(tmp_path, lab_changes=experiment(rates=rates))
    assert where in line


@pytest.mark.parametrize("value", ["5", "5 sec", "fast", 5, "-1s"])
def test_durations_that_do_not_parse(tmp_path: Path, value: Any) -> None:
    [line] = problems(tmp_path, lab_changes=experiment(duration=value))
    assert f"experiment.duration: {value!r}: expected a duration" in line


def test_negative_idle_count(tmp_path: Path) -> None:
    [line] = problems(tmp_path, lab_changes=experiment(idle_connections=[0, -10]))
    assert "experiment.idle_connections[1]: -10: expected an integer from 0 to 1000000" in line


def test_missing_inventory_file(tmp_path: Path) -> None:
    [line] = problems(tmp_path, lab_changes={"inventory": "inventory/nope.yml"})
    assert "inventory: 'inventory/nope.yml': inventory file not found" in line


def test_no_server(tmp_path: Path) -> None:
    text = inventory_with(
        lambda t: t.replace("    server:\n      hosts:", "    spare:\n      hosts:")
    )
    [line] = problems(tmp_path, inventory_text=text)
    assert "all.children.server: expected exactly one host in group 'server', found none" in line


def test_two_servers(tmp_path: Path) -> None:
    extra = (
        "        server2:\n          ansible_host: 198.18.0.20\n"
        "          testbed_nics: [{name: exp-a, subnet: a, address: 198.18.1.2}]\n"
    )
    text = inventory_with(lambda t: t.replace("    clients:\n", extra + "    clients:\n", 1))
    [line] = problems(tmp_path, inventory_text=text)
    assert "expected exactly one host in group 'server', found server, server2" in line


def test_client_on_a_subnet_where_the_server_has_no_address(tmp_path: Path) -> None:
    def edit(text: str) -> str:
        text = text.replace(
            "      b: 198.18.2.0/24\n", "      b: 198.18.2.0/24\n      c: 198.18.3.0/24\n"
        )
        return text.replace(
            "{name: exp0, subnet: b, address: 198.18.2.18}",
            "{name: exp0, subnet: c, address: 198.18.3.18}",
        )

    [line] = problems(tmp_path, inventory_text=inventory_with(edit))
    assert "client8.testbed_nics[0].subnet: 'c': the server has no address on subnet 'c'" in line
    assert line.startswith(f"{tmp_path / 'inventory' / 'lab.yml'}:")


def test_duplicate_addresses(tmp_path: Path) -> None:
    text = inventory_with(lambda t: t.replace("address: 198.18.1.12}", "address: 198.18.1.11}"))
    [line] = problems(tmp_path, inventory_text=text)
    assert (
        "client2.testbed_nics[0].address: '198.18.1.11': duplicate address, already used by client1"
        in line
    )


def test_duplicate_management_address(tmp_path: Path) -> None:
    text = inventory_with(
        lambda t: t.replace("ansible_host: 198.18.0.13", "ansible_host: 198.18.0.1")
    )
    [line] = problems(tmp_path, inventory_text=text)
    assert (
        "client3.ansible_host: '198.18.0.1': duplicate address, already used by the orchestrator"
        in line
    )


def test_address_outside_its_subnet(tmp_path: Path) -> None:
    text = inventory_with(
        lambda t: t.replace("subnet: a, address: 198.18.1.13", "subnet: a, address: 198.18.2.13")
    )
    [line] = problems(tmp_path, inventory_text=text)
    assert (
        "client3.testbed_nics[0].address: '198.18.2.13': expected a host address in subnet 'a'"
        in line
    )


def test_subnet_overlapping_a_route_of_this_machine(tmp_path: Path) -> None:
    uplink = [(ipaddress.IPv4Network("198.18.2.0/23"), "eth0")]
    [line] = problems(tmp_path, routes=lambda: uplink)
    assert "all.vars.testbed_subnets.b: '198.18.2.0/24': overlaps this machine's route" in line
    assert line.endswith("to 198.18.2.0/23 (dev eth0); choose a free range in 198.18.0.0/15")


def test_routes_of_the_labs_own_bridges_are_not_an_overlap(tmp_path: Path) -> None:
    from orchestrator.naming import lab_bridges

    own = lab_bridges("unit", ["a", "b"])["mgmt"]
    path = write_lab(tmp_path)
    load_lab(path, routes=lambda: [(ipaddress.IPv4Network("198.18.0.0/24"), own)])


def test_physical_lab_is_not_checked_against_routes(tmp_path: Path) -> None:
    path = write_lab(tmp_path, lab_changes={"emulate": False})
    load_lab(path, routes=lambda: [(ipaddress.IPv4Network("198.18.0.0/16"), "eth0")])


def test_unknown_testbed_variable(tmp_path: Path) -> None:
    text = inventory_with(lambda t: t.replace("testbed_cpus: [0]", "testbed_cpu: [0]"))
    [line] = problems(tmp_path, inventory_text=text)
    assert "server.testbed_cpu: unknown testbed variable (did you mean 'testbed_cpus'?)" in line


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    lines = problems(
        tmp_path,
        lab_changes=experiment(mechanisms=["nope"], rates=[0], duration="x", repetitions=0),
    )
    assert len(lines) == 4
    assert all(line.startswith(str(tmp_path / "lab.yml") + ":") for line in lines)


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = tmp_path / "lab.yml"
    path.write_text("version: 1\nname: a\nname: b\n")
    with pytest.raises(ConfigError) as caught:
        load_lab(path, routes=NO_ROUTES)
    assert caught.value.problems == [f"{path}:3: name: duplicate key"]


def test_nightly_settings(tmp_path: Path) -> None:
    path = write_lab(
        tmp_path,
        lab_changes={
            "nightly": {
                "keep": 3,
                "webhook": "http://127.0.0.1:9/hook",
                "command": "logger x",
                "threshold": "7.5%",
            }
        },
    )
    nightly = load_lab(path, routes=NO_ROUTES).nightly
    assert (nightly.keep, nightly.webhook, nightly.command) == (
        3,
        "http://127.0.0.1:9/hook",
        "logger x",
    )
    assert nightly.threshold == pytest.approx(0.075)
    lines = problems(tmp_path, lab_changes={"nightly": {"keep": 0, "threshold": "150%", "hook": 1}})
    assert any("nightly.keep: 0: expected an integer > 0" in line for line in lines)
    assert any("nightly.threshold: '150%': expected a percentage" in line for line in lines)
    assert any("nightly.hook: unknown key (did you mean 'webhook'?)" in line for line in lines)


# -- a lab of machines -------------------------------------------------------------------------


def test_machines_lab_loads_as_real_hosts_built_here(tmp_path: Path) -> None:
    lab = load_lab(REPOSITORY / "labs" / "machines.yml", routes=NO_ROUTES)
    assert lab.machines and not lab.emulate and lab.built_here and lab.kind == "machines"
    assert len(lab.clients) == 8 and lab.server.directory == "/opt/testbed"
    assert lab.server.ssh_user == "root" and str(lab.orchestrator_address) == "198.18.16.1"
    default = default_lab(routes=NO_ROUTES)  # both labs can be up at once
    mine = [lab.management_network, *lab.subnets.values()]
    theirs = [default.management_network, *default.subnets.values()]
    assert not any(a.overlaps(b) for a in mine for b in theirs if a and b)


def test_machines_lab_is_checked_against_routes(tmp_path: Path) -> None:
    uplink = [(ipaddress.IPv4Network("198.18.0.0/16"), "eth0")]
    lines = problems(tmp_path, routes=lambda: uplink, lab_changes={"emulate": "machines"})
    assert len(lines) == 3 and all("overlaps this machine's route" in line for line in lines)


def test_unknown_kind_of_lab(tmp_path: Path) -> None:
    [line] = problems(tmp_path, lab_changes={"emulate": "machine"})
    assert line.startswith(f"{tmp_path / 'lab.yml'}:")
    assert line.endswith(
        "emulate: 'machine': expected true (namespaces), false (real hosts)"
        " or machines (booted containers)"
    )


# -- idle connections: max, and accept-limits for some curves (issue 23) --------------------------


def test_max_is_an_idle_count_known_after_preflight(tmp_path: Path) -> None:
    lab = load_lab(
        write_lab(tmp_path, lab_changes=experiment(idle_connections=[0, 10000, "max"])),
        routes=NO_ROUTES,
    )
    plan = lab.experiment
    assert plan.idle_max and plan.idle_connections == (0, 10000)
    assert plan.idle_counts == (0, 10000)  # not known yet: expanding would be a bug
    known = plan.with_idle_max(19000, "the server's limit")
    assert known.idle_counts == (0, 10000, 19000) and known.idle_max_why


@pytest.mark.parametrize(
    ("idle", "where"),
    [
        ([0, "most"], "experiment.idle_connections[1]: 'most': expected a number of connections"),
        ([0, "max", "max"], "experiment.idle_connections[2]: 'max': listed twice"),
        ([0, 10, 10], "experiment.idle_connections[2]: 10: listed twice"),
    ],
)
def test_bad_idle_counts_are_one_line_each(tmp_path: Path, idle: Any, where: str) -> None:
    # without the default's profiling pass, whose idle counts would be refused too
    [line] = problems(tmp_path, lab_changes=experiment(idle_connections=idle, profile=False))
    assert where in line


def test_an_accept_limit_for_some_curves_only(tmp_path: Path) -> None:
    limits = ["inf", {"limit": 10, "mechanisms": ["epoll-lt"], "idle_connections": [0]}]
    lab = load_lab(write_lab(tmp_path, lab_changes=experiment(accept_limits=limits)), NO_ROUTES)
    plan = lab.experiment
    assert plan.accept_limits == (None, 10)
    scope = plan.scope(10)
    assert scope is not None and scope.mechanisms == ("epoll-lt",)
    assert scope.idle_connections == (0,) and plan.scope(None) is None


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        (
            {"limit": 10, "mechanisms": ["epoll-ctlv"]},
            "experiment.accept_limits[1].mechanisms[0]: 'epoll-ctlv': expected one of the plan's"
            " mechanisms",
        ),
        (
            {"limit": 10, "idle_connections": [5000]},
            "experiment.accept_limits[1].idle_connections[0]: 5000: expected one of the plan's"
            " idle counts",
        ),
        ({"limit": 0}, "experiment.accept_limits[1].limit: 0: expected an integer"),
        ({"mechanisms": ["select"]}, "experiment.accept_limits[1].limit: missing (required)"),
        ({"limit": "inf"}, "experiment.accept_limits[1]: 'inf': listed twice"),
        (
            {"limit": 10, "mechanism": ["select"]},
            "experiment.accept_limits[1].mechanism: unknown key (did you mean 'mechanisms'?)",
        ),
    ],
)
def test_bad_accept_limit_scopes_are_one_line_each(tmp_path: Path, entry: Any, where: str) -> None:
    found = problems(tmp_path, lab_changes=experiment(accept_limits=["inf", entry]))
    assert len(found) == 1 and where in found[0], found


# -- experiment.profile: Table 1's profiling pass ----------------------------------------------


def test_a_profile_section_takes_the_plans_groups_by_default(tmp_path: Path) -> None:
    path = write_lab(tmp_path, lab_changes=experiment(profile={}))
    profile = load_lab(path, routes=NO_ROUTES).experiment.profile
    assert profile is not None and profile.rate is None  # auto
    assert profile.idle_connections == (0, 10000) and profile.workloads == ("one-byte",)
    chosen = experiment(profile={"idle_connections": [0], "rate": 9000, "duration": "2s"})
    profile = load_lab(write_lab(tmp_path, lab_changes=chosen), routes=NO_ROUTES).experiment.profile
    assert profile is not None
    assert (profile.idle_connections, profile.rate, profile.duration) == ((0,), 9000.0, 2.0)
    off = experiment(profile=False)
    assert (
        load_lab(write_lab(tmp_path, lab_changes=off), routes=NO_ROUTES).experiment.profile is None
    )


@pytest.mark.parametrize(
    ("profile", "field", "shown"),
    [
        ({"idle_connections": [5000]}, "experiment.profile.idle_connections[0]", "5000"),
        ({"workloads": ["specweb99"]}, "experiment.profile.workloads[0]", "'specweb99'"),
        ({"rate": "fast"}, "experiment.profile.rate", "'fast'"),
        ({"rate": -3}, "experiment.profile.rate", "-3"),
        ({"duration": "soon"}, "experiment.profile.duration", "'soon'"),
        ({"idle": [0]}, "experiment.profile.idle", ""),
        ("yes", "experiment.profile", "'yes'"),
    ],
)
def test_a_bad_profile_section_is_one_line_naming_the_field(
    tmp_path: Path, profile: Any, field: str, shown: str
) -> None:
    [line] = problems(tmp_path, lab_changes=experiment(profile=profile))
    assert field in line and shown in line and "lab.yml" in line


def test_a_plan_without_userver_has_no_pass_to_run(tmp_path: Path) -> None:
    from orchestrator.config.plan import profile_size

    nginx = {"name": "nginx", "command": "nginx -g 'daemon off;'", "ready": {"path": "/"}}
    lab_file = write_lab(tmp_path, lab_changes={"servers": [nginx], **experiment(profile={})})
    only_nginx = load_lab(lab_file, routes=NO_ROUTES).experiment
    assert only_nginx.profile is not None and profile_size(only_nginx) == 0


def test_adding_or_changing_the_pass_changes_the_plans_digest(tmp_path: Path) -> None:
    from orchestrator.config.plan import plan_digest

    def digest(**changes: Any) -> str:
        lab_file = write_lab(tmp_path, lab_changes=experiment(**changes))
        return plan_digest(load_lab(lab_file, routes=NO_ROUTES))

    assert len({digest(profile=False), digest(profile={}), digest(profile={"rate": 9000})}) == 3
