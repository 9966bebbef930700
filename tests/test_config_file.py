"""TOML configuration: loading, the default location, and one test per kind of error."""

from __future__ import annotations

from pathlib import Path

import pytest

from balloon_audit.config import Config
from balloon_audit.config_file import (
    ENV_VAR,
    default_config_path,
    describe_thresholds,
    load_config,
)
from balloon_audit.errors import ConfigError
from balloon_audit.model import Severity, Waiver

FULL = """
[rules]
disabled = ["BA104"]

[rules.BA503]
info_ratio = 1.25
warning_ratio = 3
severity = "critical"

[rules.BA602]
name_patterns = ["k8s", "ocp-*"]
match_annotation = false

[rules.BA601]
enabled = false

[[waivers]]
rule = "BA201"
entity = "sql-*"
server = "vc01.example.com"
reason = "SQL Server with LPIM; approved CHG0042"
owner = "dba-team"
expires = 2027-03-31

[[waivers]]
rule = "BA301"
entity = "vm-123"
reason = "batch host, ballooning accepted"
owner = "ops"
expires = "2026-12-31"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert info.value.hint  # every configuration error says where to look
    return str(info.value)


def test_full_example_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config.disabled == frozenset({"BA104", "BA601"})
    assert config.params["BA503"] == {"info_ratio": 1.25, "warning_ratio": 3}
    assert config.params["BA602"] == {"name_patterns": ("k8s", "ocp-*"), "match_annotation": False}
    assert config.severity_overrides == {"BA503": Severity.CRITICAL}
    assert config.waivers == (
        Waiver(
            rule="BA201",
            entity="sql-*",
            reason="SQL Server with LPIM; approved CHG0042",
            owner="dba-team",
            expires="2027-03-31",
            server="vc01.example.com",
        ),
        Waiver(
            rule="BA301",
            entity="vm-123",
            reason="batch host, ballooning accepted",
            owner="ops",
            expires="2026-12-31",
        ),
    )


def test_none_and_empty_file_give_defaults(tmp_path: Path) -> None:
    assert load_config(None) == Config()
    assert load_config(write(tmp_path, "")) == Config()


def test_describe_thresholds_shows_merged_params(tmp_path: Path) -> None:
    settings = {s.rule: s for s in describe_thresholds(load_config(write(tmp_path, FULL)))}
    ba503 = settings["BA503"]
    assert ba503.name == "overcommit"
    assert ba503.params == {"info_ratio": 1.25, "warning_ratio": 3, "ha_headroom": True}
    assert ba503.severity is Severity.CRITICAL and ba503.enabled
    assert ba503.overridden == {"info_ratio", "warning_ratio"}
    assert settings["BA501"].params == {"min_free_pct": 0.0, "report_clear_state": True}
    assert settings["BA501"].overridden == frozenset()
    assert not settings["BA104"].enabled and not settings["BA601"].enabled
    rule_id, name, params = settings["BA502"][:3]
    assert (rule_id, name, params["evidence_top_vms"]) == ("BA502", "host-reclaiming", 5)


# --- default location --------------------------------------------------------------


def test_default_path_from_environment_variable(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    # Named explicitly: returned even if missing, so load_config reports the mistake.
    assert default_config_path({ENV_VAR: str(missing)}) == missing
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(default_config_path({ENV_VAR: str(missing)}))


def test_default_path_xdg_only_when_the_file_exists(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path / "home")}
    assert default_config_path(env) is None
    target = tmp_path / "balloon-audit" / "config.toml"
    target.parent.mkdir()
    target.write_text("", encoding="utf-8")
    assert default_config_path(env) == target


def test_default_path_falls_back_to_home_dot_config(tmp_path: Path) -> None:
    target = tmp_path / ".config" / "balloon-audit" / "config.toml"
    target.parent.mkdir(parents=True)
    target.write_text("", encoding="utf-8")
    assert default_config_path({"HOME": str(tmp_path)}) == target


# --- errors: each names the key and the problem ---------------------------------------


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[rules]\n\n[rules.BA301]\nwarning_pct = = 5\n")
    assert "invalid TOML at line 4, column 15:" in message


def test_toml_error_at_end_of_document_has_a_position(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[rules]\ndisabled = ["BA104"\n')
    assert "invalid TOML at line 3, column 1: Unclosed array" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[rule]\ndisabled = []\n")
    assert "rule: unknown top-level key (did you mean 'rules'?)" in message


def test_unknown_rule_id_table(tmp_path: Path) -> None:
    assert "rules.BA999: unknown rule ID" in error_for(tmp_path, "[rules.BA999]\nx = 1\n")


def test_rule_id_case_is_suggested(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[rules.ba301]\nwarning_pct = 5\n")
    assert "rules.ba301: unknown rule ID (did you mean 'BA301'?)" in message


def test_unknown_rule_id_in_disabled(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[rules]\ndisabled = ["BA104", "BA777"]\n')
    assert "rules.disabled: unknown rule ID 'BA777'" in message


def test_disabled_must_be_a_list(tmp_path: Path) -> None:
    assert "rules.disabled: must be an array" in error_for(
        tmp_path, '[rules]\ndisabled = "BA104"\n'
    )


def test_unknown_key_under_rules(tmp_path: Path) -> None:
    assert "rules.colour: unknown key" in error_for(tmp_path, '[rules]\ncolour = "red"\n')


def test_unknown_parameter_names_the_valid_ones(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[rules.BA503]\nwarn_ratio = 2.5\n")
    assert "rules.BA503.warn_ratio: unknown parameter (did you mean 'warning_ratio'?)" in message
    assert "info_ratio, warning_ratio" in message


def test_parameter_for_rule_without_parameters(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[rules.BA101]\nthreshold = 3\n")
    assert "rules.BA101.threshold: unknown parameter" in message
    assert "BA101 has no parameters" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('info_ratio = "1.5"', "rules.BA503.info_ratio: must be a number, not a string"),
        ("info_ratio = true", "rules.BA503.info_ratio: must be a number, not a boolean"),
        ("info_ratio = nan", "rules.BA503.info_ratio: must be a finite number"),
    ],
)
def test_wrong_type_for_number(tmp_path: Path, body: str, expected: str) -> None:
    assert expected in error_for(tmp_path, f"[rules.BA503]\n{body}\n")


def test_wrong_type_for_boolean(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[rules.BA501]\nreport_clear_state = 1\n")
    assert "rules.BA501.report_clear_state: must be true or false, not an integer" in message


def test_wrong_type_for_string_list(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[rules.BA602]\nname_patterns = "k8s"\n')
    assert "rules.BA602.name_patterns: must be an array, not a string" in message
    message = error_for(tmp_path, '[rules.BA602]\nname_patterns = ["k8s", 3]\n')
    assert "rules.BA602.name_patterns: must be an array of non-empty strings" in message


def test_whole_number_required_for_counts(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[rules.BA502]\nevidence_top_vms = 2.5\n")
    assert "rules.BA502.evidence_top_vms: must be a whole number" in message
    assert load_config(write(tmp_path, "[rules.BA502]\nevidence_top_vms = 3.0\n")).params[
        "BA502"
    ] == {"evidence_top_vms": 3}


def test_negative_value(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[rules.BA503]\ninfo_ratio = -1\n")
    assert "rules.BA503.info_ratio: must not be negative" in message


def test_percentage_out_of_range(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[rules.BA501]\nmin_free_pct = 150\n")
    assert "rules.BA501.min_free_pct: is a percentage: must be between 0 and 100" in message


def test_inverted_thresholds(tmp_path: Path) -> None:
    # Overriding one side is compared with the other side's default (2.0).
    message = error_for(tmp_path, "[rules.BA503]\ninfo_ratio = 2.5\n")
    assert "rules.BA503.info_ratio: info_ratio = 2.5 must be below warning_ratio = 2.0" in message
    message = error_for(tmp_path, "[rules.BA503]\ninfo_ratio = 2.0\nwarning_ratio = 2.0\n")
    assert "must be below warning_ratio" in message


def test_inverted_thresholds_of_a_core_rule(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[rules.BA301]\nwarning_pct = 60\n")
    assert "rules.BA301.warning_pct: warning_pct = 60 must be below critical_pct = 50" in message


def test_enabled_contradicting_disabled(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[rules]\ndisabled = ["BA301"]\n[rules.BA301]\nenabled = true\n')
    assert "rules.BA301.enabled: true contradicts rules.disabled" in message


def test_bad_severity(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[rules.BA301]\nseverity = "urgent"\n')
    assert "rules.BA301.severity: must be one of info, warning, critical" in message


def test_enabled_must_be_boolean(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[rules.BA301]\nenabled = "no"\n')
    assert "rules.BA301.enabled: must be true or false" in message


WAIVER = """
[[waivers]]
rule = "BA201"
entity = "sql-*"
reason = "approved"
owner = "dba-team"
"""


@pytest.mark.parametrize("missing", ["reason", "owner", "rule", "entity"])
def test_waiver_missing_required_key(tmp_path: Path, missing: str) -> None:
    text = "\n".join(line for line in WAIVER.splitlines() if not line.startswith(missing))
    message = error_for(tmp_path, text)
    assert "waivers[0]" in message and f".{missing}: missing" in message


def test_waiver_empty_reason(tmp_path: Path) -> None:
    message = error_for(tmp_path, WAIVER.replace('"approved"', '"  "'))
    assert "waivers[0] (rule BA201, entity 'sql-*').reason: must be a non-empty string" in message


def test_waiver_unknown_rule(tmp_path: Path) -> None:
    message = error_for(tmp_path, WAIVER.replace('"BA201"', '"BA209"'))
    assert ".rule: unknown rule ID" in message


def test_waiver_unknown_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, WAIVER + 'expiry = "2027-01-01"\n')
    assert ".expiry: unknown waiver key (did you mean 'expires'?)" in message


@pytest.mark.parametrize(
    "value", ['"31/03/2027"', '"2027-02-30"', "2027-03-31T10:00:00", "20270331", '"soon"']
)
def test_waiver_bad_date(tmp_path: Path, value: str) -> None:
    message = error_for(tmp_path, WAIVER + f"expires = {value}\n")
    assert ".expires: must be a date" in message


def test_waiver_second_entry_is_named(tmp_path: Path) -> None:
    message = error_for(tmp_path, WAIVER + WAIVER.replace('owner = "dba-team"', ""))
    assert "waivers[1] (rule BA201, entity 'sql-*').owner: missing" in message


def test_waivers_must_be_array_of_tables(tmp_path: Path) -> None:
    assert "waivers: must be an array of tables" in error_for(tmp_path, '[waivers]\nrule = "x"\n')


def test_error_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[nope]\n")
    with pytest.raises(ConfigError, match=str(path).replace("\\", "\\\\")):
        load_config(path)


# --- shapes and several problems at once ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules = 3\n", "rules: must be a table ([rules]), not an integer"),
        ("[rules]\nBA301 = 3\n", "rules.BA301: must be a table ([rules.BA301])"),
        ("waivers = [3]\n", "waivers[0]: each waiver must be a table ([[waivers]])"),
        ('[rules]\ndisabled = ["BA104", 3]\n', "rules.disabled: must be an array of rule IDs"),
        ("[rules.BA503]\nseverity = 2\n", "rules.BA503.severity: must be one of info, warning"),
        ("[rules.BA602]\nname_patterns = []\nmatch_annotation = 0\n", "must be true or false"),
        (WAIVER + 'server = " "\n', ".server: must be a non-empty string (the vCenter's name)"),
        (WAIVER + "expires = 2027-03-31T10:00:00\n", "must be a date (2027-03-31), not a date"),
    ],
)
def test_wrong_shapes_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_for(tmp_path, text)


def test_every_problem_is_listed_with_its_key(tmp_path: Path) -> None:
    message = error_for(
        tmp_path,
        'colour = 1\n[rules]\ndisabled = ["BA77"]\n[rules.BA301]\nwrning = 3\n'
        '[[waivers]]\nrule = "BA201"\nentity = "x"\nreason = ""\n',
    )
    lines = message.splitlines()
    assert lines[0].endswith("config.toml: 5 problems:")
    assert sorted(line.strip().split(":")[0] for line in lines[1:]) == [
        "colour",
        "rules.BA301.wrning",
        "rules.disabled",
        "waivers[0] (rule BA201, entity 'x').owner",
        "waivers[0] (rule BA201, entity 'x').reason",
    ]
    assert "every waiver needs an owner" in message


def test_fractional_percentages_and_whole_floats(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "[rules.BA301]\nwarning_pct = 12.5\ncritical_pct = 40.0\n")
    )
    assert config.params["BA301"] == {"warning_pct": 12.5, "critical_pct": 40}
    assert isinstance(config.params["BA301"]["critical_pct"], int)


def test_falling_thresholds_keep_their_order() -> None:
    from balloon_audit.rule_params import ThresholdPair, threshold_pairs

    pairs = threshold_pairs({"warning_free_pct": 100, "critical_free_pct": 64, "info_x": "a"})
    assert pairs == (ThresholdPair("warning_free_pct", "critical_free_pct", rising=False),)
