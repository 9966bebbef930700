"""Quoting of VM names in govc (bash) and PowerCLI (PowerShell) commands."""

from __future__ import annotations

import shlex

import pytest

from balloon_audit.rules.shell import (
    govc_name,
    govc_vm_change,
    posix_quote,
    powercli_server,
    powercli_vm,
    powershell_quote,
)
from tests.factories import make_vm
from tests.rules.quoting import HOSTILE_NAMES, decode_powershell_literal


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_posix_quote_round_trips(name):
    assert shlex.split(f"echo {posix_quote(name)} end") == ["echo", name, "end"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_powershell_quote_round_trips(name):
    literal = powershell_quote(name)
    assert decode_powershell_literal(literal) == (name, len(literal))


def test_powershell_quote_doubles_unicode_quotes():
    assert powershell_quote("a\u2019b") == "'a\u2019\u2019b'"
    assert powershell_quote("$x") == "'$x'"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("web01", "web01"),
        ("a*b?[c]", "a\\*b\\?\\[c\\]"),
        ("vm-42", "vm\\-42"),
        ("host-7 backup", "host\\-7 backup"),
        ("web-01", "web-01"),
        ("VirtualMachine:vm-42", "VirtualMachine\\:vm-42"),
        ("db: primary", "db\\: primary"),
        ("10.0.0.1:80", "10.0.0.1:80"),
        ("a/b", "a%2fb"),
        ("a%2fb", "a%2fb"),
    ],
)
def test_govc_name_escapes_what_govc_would_misread(name, expected):
    assert govc_name(name) == expected


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_govc_command_round_trips(name):
    vm = make_vm(name=name, datacenter="DC 'one'")
    command = govc_vm_change(vm, "-e", "sched.mem.maxmemctl=")
    words = shlex.split(command)
    assert words == [
        "govc",
        "vm.change",
        "-dc",
        "DC 'one'",
        "-vm",
        govc_name(name),
        "-e",
        "sched.mem.maxmemctl=",
    ]
    if not any(c in name for c in "*?[]\\/:-"):
        assert words[5] == name


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_powercli_vm_selects_by_id_and_checks_exact_name(name):
    vm = make_vm(name=name, moid="vm-77", server="vc.example.test:8443")
    command = powercli_vm(vm)
    prefix = (
        "Get-VM -Server 'vc.example.test' -Id 'VirtualMachine-vm-77' | Where-Object { $_.Name -ceq "
    )
    assert command.startswith(prefix)
    value, end = decode_powershell_literal(command, len(prefix))
    assert value == name
    assert command[end:] == " }"


@pytest.mark.parametrize(
    ("server", "expected"),
    [("vc1", "vc1"), ("vc1:443", "vc1"), ("[fe80::1]:8443", "fe80::1"), ("fe80::1", "fe80::1")],
)
def test_powercli_server(server, expected):
    assert powercli_server(server) == expected
