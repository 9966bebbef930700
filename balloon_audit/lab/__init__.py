"""The vcsim lab: a simulated vCenter loaded with a scenario, for tests and demos.

Public API (used by ``balloon-audit lab`` and the live tests)::

    load_scenario(name_or_path) -> Scenario      # validated; ScenarioError names the key
    list_scenarios() -> [(name, description)]
    start_lab(scenario, detach=False, log_path=None, workdir=None, progress=None) -> LabInstance
    stop_lab(instance)
    running_lab(scenario)                        # context manager
    lab_up(scenario_or_name, state_dir, progress=None) -> LabInstance   # detached
    lab_status(state_dir) -> LabInstance | None
    lab_down(state_dir) -> bool
    default_state_dir() -> Path                  # $XDG_STATE_HOME/balloon-audit/lab

The lab only ever talks to a vcsim it started itself on 127.0.0.1.
"""

from __future__ import annotations

from balloon_audit.lab.instance import (
    LabInstance,
    default_state_dir,
    lab_down,
    lab_status,
    lab_up,
    running_lab,
    start_lab,
    stop_lab,
)
from balloon_audit.lab.scenario import (
    ClusterSpec,
    Expectation,
    HostSpec,
    ModelSpec,
    Scenario,
    ScenarioError,
    VmSpec,
    api_name,
    list_scenarios,
    load_scenario,
    parse_scenario,
)

__all__ = [
    "ClusterSpec",
    "Expectation",
    "HostSpec",
    "LabInstance",
    "ModelSpec",
    "Scenario",
    "ScenarioError",
    "VmSpec",
    "api_name",
    "default_state_dir",
    "lab_down",
    "lab_status",
    "lab_up",
    "list_scenarios",
    "load_scenario",
    "parse_scenario",
    "running_lab",
    "start_lab",
    "stop_lab",
]
