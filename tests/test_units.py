"""Pure helpers that reproduce Docker's formats: durations, sizes, timestamps, options."""
from __future__ import annotations

import pytest

from dockyard.engine.containers import options
from dockyard.timeutil import parse_rfc3339, parse_timestamp, rfc3339nano
from dockyard.errors import InvalidParameter
from dockyard.units import human_duration, human_size, parse_bytes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("seconds,text", [
    (0.2, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (150, "2 minutes"), (3600, "About an hour"), (3 * 3600, "3 hours"),
    (3 * 86400, "3 days"), (15 * 86400, "2 weeks"), (70 * 86400, "2 months"),
    (800 * 86400, "2 years")])
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize("size,text", [(0, "0B"), (999, "999B"), (4_260_000, "4.26MB"),
                                       (1_000_000, "1MB"), (123_456_789, "123MB")])
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_parse_bytes() -> None:
    assert parse_bytes("64m") == 64 * 1024 ** 2
    assert parse_bytes("1g") == 1024 ** 3
    assert parse_bytes("100k") == 102400
    assert parse_bytes("2048") == 2048
    with pytest.raises(ValueError):
        parse_bytes("lots")


def test_rfc3339nano_round_trip() -> None:
    assert rfc3339nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert rfc3339nano(1_700_000_000_500_000_000) == "2023-11-14T22:13:20.5Z"
    assert parse_rfc3339("2023-11-14T22:13:20.5Z") == 1_700_000_000.5
    assert parse_rfc3339("0001-01-01T00:00:00Z") == 0
    assert parse_timestamp("1700000000.25") == 1_700_000_000.25
    assert parse_timestamp("10m", now=1000.0) == 400.0
    assert parse_timestamp("1h30m", now=10000.0) == 4600.0


def test_signals() -> None:
    assert options.parse_signal("SIGTERM") == 15
    assert options.parse_signal("kill") == 9
    assert options.parse_signal("10") == 10
    with pytest.raises(InvalidParameter, match="Invalid signal: SIGNOPE"):
        options.parse_signal("SIGNOPE")


def test_merge_config_follows_docker() -> None:
    image = {"config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "Entrypoint": None,
                        "WorkingDir": "/w", "Labels": {"x": "1"}}}
    merged = options.merge_config({"Env": ["A=2"], "Labels": {"y": "2"}}, image)
    assert merged["Env"] == ["PATH=/bin", "A=2"]
    assert merged["Cmd"] == ["sh"] and merged["WorkingDir"] == "/w"
    assert merged["Labels"] == {"x": "1", "y": "2"}
    # a new entrypoint drops the image's Cmd
    merged = options.merge_config({"Entrypoint": ["echo"]}, image)
    assert options.command_of(merged) == ("echo", [])
    merged = options.merge_config({"Cmd": ["ls", "-l"]}, image)
    assert options.command_of(merged) == ("ls", ["-l"])


def test_host_config_validation() -> None:
    runtimes = {"dockyard"}
    with pytest.raises(InvalidParameter, match="Minimum memory limit allowed is 6MB"):
        options.normalise_host_config({"Memory": 1024}, runtimes)
    with pytest.raises(InvalidParameter, match="no log driver named 'asdf'"):
        options.normalise_host_config({"LogConfig": {"Type": "asdf"}}, runtimes)
    with pytest.raises(InvalidParameter, match="unknown or invalid runtime name: crun"):
        options.normalise_host_config({"Runtime": "crun"}, runtimes)
    with pytest.raises(InvalidParameter, match="AutoRemove"):
        options.normalise_host_config({"AutoRemove": True,
                                       "RestartPolicy": {"Name": "always"}}, runtimes)
    hc = options.normalise_host_config({"NetworkMode": "none"}, runtimes)
    assert hc["NetworkMode"] == "none" and hc["LogConfig"]["Type"] == "json-file"


@pytest.mark.parametrize("text,message", [
    # each checked against the docker CLI's `--security-opt seccomp=<file>` (Go's decoder)
    ("{not json", "invalid character 'n' looking for beginning of object key string"),
    ("[1 2]", "invalid character '2' after array element"),
    ('{"a":NaN}', "invalid character 'N' looking for beginning of value"),
    # Go's scanner texts for the other positions
    ('{"a" 1}', "invalid character '1' after object key"),
    ('{"a":1 "b":2}', "invalid character '\"' after object key:value pair"),
    ('["a]", 1 2]', "invalid character '2' after array element"),
    ('{"a":1}x', "invalid character 'x' after top-level value"),
    ("[-Infinity]", "invalid character 'I' in numeric literal"),
    ("1e999", "json: cannot unmarshal number 1e999 into Go value of type float64"),
    ("\x00", "invalid character '\\x00' looking for beginning of value"),
    ('{"a": "x\ny"}', "invalid character '\\n' in string literal"),
    ('"abc', "unexpected end of JSON input"), ("", "unexpected end of JSON input"),
    ("[" * 5000, "exceeded max depth")])
def test_go_json_errors(text: str, message: str) -> None:
    from dockyard import gojson
    with pytest.raises(gojson.GoJSONError) as caught:
        gojson.loads(text)
    assert str(caught.value) == message


def test_go_json_reads_bytes_as_utf8_with_replacement() -> None:
    from dockyard import gojson
    assert gojson.loads(b'{"a": "\xff", "b": [1.5, 2]}') == {"a": "\ufffd", "b": [1.5, 2]}
