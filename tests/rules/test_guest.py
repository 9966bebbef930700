"""BA601 (macOS guests without a balloon driver) and BA602 (Kubernetes nodes reclaimed)."""

from __future__ import annotations

import re

import pytest

from balloon_audit.rules.guest import decode_tools_version, pattern_matches
from tests.factories import make_vm, only_severity, powered_off, run, template

# --- Tools version encoding ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11264", (11, 0, 0)),  # 11 << 10
        ("12352", (12, 2, 0)),  # 12 << 10 | 2 << 5
        ("10346", (10, 3, 10)),  # 10.3.10
        (" 11333 ", (11, 2, 5)),
        ("9354", (9, 4, 10)),
        (None, None),
        ("", None),
        ("abc", None),
        ("0", None),  # no Tools
        ("-1", None),  # not available
        ("2147483647", None),  # unmanaged Tools: version unknown
    ],
)
def test_decode_tools_version(raw: str | None, expected: tuple[int, int, int] | None) -> None:
    assert decode_tools_version(raw) == expected


# --- BA601 --------------------------------------------------------------------------------


def mac(**overrides):
    values = dict(guest_id="darwin21_64Guest", tools_version="11264", memory_mb=8192)
    values.update(overrides)
    return make_vm(**values)


def test_ba601_macos_with_tools_11_is_info() -> None:
    vm = mac(memory_reservation_mb=4096)
    outcome = run("BA601", vm, make_vm())  # the Linux VM is not a macOS guest
    assert outcome.checked == 1
    [finding] = outcome.findings
    assert finding.severity.value == "info"
    assert finding.evidence["guest.toolsVersion"] == "11264"
    assert finding.evidence["tools_version_decoded"] == "11.0.0"
    assert finding.evidence["config.guestId"] == "darwin21_64Guest"
    assert "4,096 MB of 8,192 MB reserved" in finding.message
    # the same "Reserve all guest memory" lock in PowerCLI, govc and the UI step
    assert "MemoryReservationLockedToMax = $true" in finding.remediation.powercli
    assert "MemReservationGB" not in finding.remediation.powercli
    assert finding.remediation.govc.endswith("-memory-pin=true")


@pytest.mark.parametrize(
    ("tools_version", "severity"),
    [("11263", None), ("11264", "info"), ("10346", None), ("12352", "info")],
)
def test_ba601_tools_version_edge(tools_version: str, severity: str | None) -> None:
    assert only_severity("BA601", mac(tools_version=tools_version)) == severity


def test_ba601_fully_reserved_is_protected() -> None:
    assert only_severity("BA601", mac(memory_reservation_mb=8192)) is None
    assert only_severity("BA601", mac(memory_reservation_mb=8191)) == "info"
    assert only_severity("BA601", mac(reservation_locked_to_max=True)) is None


def test_ba601_unknown_version_is_checked_not_flagged() -> None:
    outcome = run("BA601", mac(tools_version=None), mac(tools_version="2147483647"))
    assert outcome.checked == 2 and outcome.findings == ()


def test_ba601_looks_at_templates_and_powered_off_vms() -> None:
    outcome = run(
        "BA601",
        template(guest_id="darwin64Guest", tools_version="11264"),
        powered_off(guest_id="DARWIN20_64Guest", tools_version="11264"),
    )
    assert outcome.checked == 2 and len(outcome.findings) == 2
    tmpl = next(f for f in outcome.findings if f.evidence.get("config.template"))
    assert "Convert to Virtual Machine" in tmpl.remediation.steps[0]
    # a template cannot be reconfigured: the commands convert it to a VM and back
    assert tmpl.remediation.powercli.startswith("Get-Template ")
    assert "Set-Template -ToVM" in tmpl.remediation.powercli
    assert tmpl.remediation.powercli.endswith("Set-VM -ToTemplate -Confirm:$false }")
    assert " vm.markasvm " in tmpl.remediation.govc
    assert "vm.markastemplate" in tmpl.remediation.govc


# --- BA602 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("prod-K8S-worker-01", "k8s", True),  # a whole word, case-insensitive
        ("prod-k8s-01", "PROD-K8S-*", True),  # glob over the whole name
        ("x-prod-k8s-01", "prod-k8s-*", False),  # a glob is anchored
        ("ocp4-infra-2", "ocp?-*", True),
        ("ocp4-infra-2", "ocp", True),  # a word followed by digits
        ("db01", "k8s", False),
        ("jenkins-worker-01", "worker", True),  # only if the user asks for it
        ("kubeadm-host", "kube", False),  # not a whole word
        ("okd-control-plane-0", "control-plane", True),
        ("mycontrol-plane", "control-plane", False),
    ],
)
def test_pattern_matching(text: str, pattern: str, expected: bool) -> None:
    assert pattern_matches(text, pattern) is expected


def _word_by_word(text: str, pattern: str) -> bool:
    """The word rule spelt out: some word of the text is the pattern, maybe followed by digits."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return any(
        w == pattern or (w.startswith(pattern) and w[len(pattern) :].isdigit()) for w in words
    )


def test_word_patterns_match_exactly_the_words_they_name() -> None:
    texts = ["k8s", "k8s1", "k8s-1", "xk8s", "k8sx", "k8s12a", "a.k8s99.b", "K8S_2", "ük8s3ü", ""]
    for text in texts:
        for pattern in ("k8s", "ocp", "8", "k"):
            assert pattern_matches(text, pattern) is _word_by_word(text, pattern), (text, pattern)


def node(**overrides):
    values = dict(name="k8s-worker-01", memory_mb=8192, memory_reservation_mb=0)
    values.update(overrides)
    return make_vm(**values)


@pytest.mark.parametrize(
    ("overrides", "severity"),
    [
        ({}, None),  # not reclaimed: no finding, whatever the reservation
        ({"ballooned_mb": 1}, "warning"),
        ({"swapped_mb": 1}, "warning"),
        ({"memory_reservation_mb": 8192}, None),
        ({"memory_reservation_mb": None}, None),
    ],
)
def test_ba602_only_reclaimed_nodes(overrides: dict, severity: str | None) -> None:
    assert only_severity("BA602", node(**overrides)) == severity


@pytest.mark.parametrize(
    "name", ["jenkins-worker-01", "sql-master-02", "build-node-3", "control-room-01"]
)
def test_ba602_weak_words_alone_do_not_match(name: str) -> None:
    """'worker' and 'master' also name Jenkins agents and database primaries."""
    assert only_severity("BA602", node(name=name, ballooned_mb=100, swapped_mb=10)) is None


def test_ba602_finding_content() -> None:
    vm = node(name="ocp-master-0", ballooned_mb=512)
    [finding] = run("BA602", vm).findings
    assert "control-plane node" in finding.message
    assert "512 MB ballooned" in finding.message and "0 MB of 8,192 MB reserved" in finding.message
    assert finding.evidence["matched_pattern"] == "ocp"
    assert finding.evidence["matched_in"] == "name"
    assert finding.evidence["summary.quickStats.balloonedMemory"] == 512
    assert "Reserve all guest memory of control-plane node" in finding.remediation.summary
    assert "guaranteed VM classes" in finding.remediation.summary
    assert "MemoryReservationLockedToMax = $true" in finding.remediation.powercli
    assert any("sched.mem.maxmemctl" in step for step in finding.remediation.steps)


def test_ba602_worker_advice() -> None:
    [finding] = run("BA602", node(swapped_mb=10)).findings
    assert finding.remediation.summary.startswith("Give worker node")
    assert "pods' memory requests" in finding.remediation.summary
    assert "never disable its balloon driver" in finding.remediation.summary
    # the size of a worker's reservation is the owner's call: the commands only read
    assert (
        "Set-" not in finding.remediation.powercli
        and "ReconfigVM" not in finding.remediation.powercli
    )


def test_ba602_annotation_match_and_switch() -> None:
    vm = node(name="node-17", annotation="OpenShift OCP 4.14 compute", ballooned_mb=5)
    [finding] = run("BA602", vm).findings
    assert finding.evidence["matched_in"] == "config.annotation"
    assert only_severity("BA602", vm, match_annotation=False) is None


def test_ba602_scope_and_checked_count() -> None:
    outcome = run(
        "BA602",
        node(ballooned_mb=5),
        make_vm(name="db01", ballooned_mb=5),  # not a Kubernetes node
        powered_off(name="k8s-worker-02"),  # not running
        node(name="k8s-worker-03", quickstats_available=False),  # BA901's
    )
    assert outcome.checked == 1 and len(outcome.findings) == 1


def test_ba602_parameters() -> None:
    vm = node(name="rancher-node-1", ballooned_mb=64)
    assert only_severity("BA602", vm) is None  # no default pattern matches
    assert only_severity("BA602", vm, name_patterns=["rancher-*"]) == "warning"
    assert only_severity("BA602", vm, name_patterns=["rancher"]) == "warning"
