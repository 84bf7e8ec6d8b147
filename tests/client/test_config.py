"""Client settings from configuration files, the environment and the command line.

The files are real files in the places the client looks (the system file through
``TORC_SYSTEM_CONFIG``, the user file through ``XDG_CONFIG_HOME``, ``./torc.toml`` in the working
directory, ``TORC_CONFIG``); the CLI runs in-process with click's runner.
"""

import json
import warnings

import pytest
from click.testing import CliRunner

from tests.client.fake_servers import FakeTorcServer
from torc.cli.main import cli
from torc.client import ClientSettings, ConfigWarning, TorcConfigError, load_client_settings, make_api

ENV_NAMES = (
    "TORC_API_URL", "TORC_SKIP_VERSION_CHECK", "TORC_RETRY_SECONDS", "TORC_CONFIG", "TORC_PASSWORD",
    *(f"TORC_CLIENT__{key.upper()}" for key in ("api_url", "username", "format", "log_level", "skip_version_check", "retry_seconds")),
)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Paths of the system, user and project files (not yet written), with the working directory set."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    system, xdg, project = tmp_path / "etc" / "config.toml", tmp_path / "xdg", tmp_path / "project"
    monkeypatch.setenv("TORC_SYSTEM_CONFIG", str(system))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    project.mkdir()
    monkeypatch.chdir(project)
    return {"system": system, "user": xdg / "torc" / "config.toml", "project": project / "torc.toml", "explicit": tmp_path / "explicit.toml"}


def write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_without_files_or_environment_the_defaults_apply(places):
    assert load_client_settings() == ClientSettings()
    assert load_client_settings().api_url == "http://localhost:8080/torc-service/v1"


def test_each_layer_overrides_the_one_before_key_by_key(places, monkeypatch):
    write(places["system"], '[client]\napi_url = "http://site:1/torc-service/v1"\nusername = "site-user"\nformat = "json"\nretry_seconds = 5\n')
    write(places["user"], '[client]\nusername = "me"\nlog_level = "info"\n')
    write(places["project"], '[client]\nformat = "table"\nskip_version_check = true\n')
    assert load_client_settings() == ClientSettings(
        api_url="http://site:1/torc-service/v1", username="me", format="table", log_level="info",
        skip_version_check=True, retry_seconds=5.0,
    )
    monkeypatch.setenv("TORC_CONFIG", str(write(places["explicit"], '[client]\nlog_level = "error"\n')))
    assert load_client_settings().log_level == "error"
    monkeypatch.setenv("TORC_CLIENT__API_URL", "http://long-env:2/torc-service/v1")
    monkeypatch.setenv("TORC_CLIENT__LOG_LEVEL", "debug")
    assert load_client_settings().api_url == "http://long-env:2/torc-service/v1"
    monkeypatch.setenv("TORC_API_URL", "http://short-env:3/torc-service/v1/")
    monkeypatch.setenv("TORC_SKIP_VERSION_CHECK", "0")
    monkeypatch.setenv("TORC_RETRY_SECONDS", "7.5")
    settings = load_client_settings()
    assert (settings.api_url, settings.skip_version_check, settings.retry_seconds, settings.log_level) == (
        "http://short-env:3/torc-service/v1", False, 7.5, "debug"
    )
    explicit = load_client_settings({"api_url": "http://arg:4/torc-service/v1", "retry_seconds": 0.0, "format": None})
    assert (explicit.api_url, explicit.retry_seconds, explicit.format) == ("http://arg:4/torc-service/v1", 0.0, "table")


def test_an_upstream_config_file_is_read_without_complaint(places):
    """Upstream torc's file layout: [client] plus tables for other tools; 'warn' is its spelling."""
    write(places["user"], """
[client]
api_url = "http://login1:8080/torc-service/v1"
format = "json"
log_level = "warn"

[client.run]
poll_interval = 5.0

[client.slurm]
poll_interval = 30

[server]
port = 8080

[dash]
port = 8090
""")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings = load_client_settings()
    assert (settings.api_url, settings.format, settings.log_level) == ("http://login1:8080/torc-service/v1", "json", "warning")


def test_unknown_keys_and_passwords_in_files_are_warned_about_by_file_and_key(places):
    write(places["project"], '[client]\napi_ulr = "http://typo"\npassword = "secret"\n')
    with pytest.warns(ConfigWarning) as caught:
        assert load_client_settings() == ClientSettings()
    messages = [str(w.message) for w in caught]
    assert any(str(places["project"]) in m and "api_ulr" in m for m in messages)
    assert any("client.password" in m and "TORC_PASSWORD" in m for m in messages)


@pytest.mark.parametrize(
    "text,problem",
    [
        ('[client]\nretry_seconds = "soon"\n', "client.retry_seconds: expected a number of seconds >= 0, got 'soon'"),
        ("[client]\nretry_seconds = -1\n", "client.retry_seconds: expected a number of seconds >= 0, got -1"),
        ('[client]\nskip_version_check = "yes"\n', "client.skip_version_check: expected true or false"),
        ('[client]\nformat = "yaml"\n', "client.format: expected one of table, json, got 'yaml'"),
        ('[client]\napi_url = "login1:8080"\n', "client.api_url: expected an http:// or https:// URL"),
        ("[client]\nusername = 7\n", "client.username: expected a string, got 7"),
        ('client = "x"\n', "'client' must be a table"),
        ("[client\napi_url = 1\n", "not a readable TOML file"),
    ],
)
def test_bad_files_are_errors_naming_the_file_and_the_key(places, text, problem):
    write(places["user"], text)
    with pytest.raises(TorcConfigError) as caught:
        load_client_settings()
    assert str(caught.value).startswith(str(places["user"])) and problem in str(caught.value)


def test_bad_environment_values_and_a_missing_torc_config_file_are_errors(places, monkeypatch):
    monkeypatch.setenv("TORC_SKIP_VERSION_CHECK", "maybe")
    with pytest.raises(TorcConfigError, match="environment variable TORC_SKIP_VERSION_CHECK: expected one of"):
        load_client_settings()
    monkeypatch.delenv("TORC_SKIP_VERSION_CHECK")
    monkeypatch.setenv("TORC_CLIENT__RETRY_SECONDS", "a while")
    with pytest.raises(TorcConfigError, match="TORC_CLIENT__RETRY_SECONDS: expected a number of seconds"):
        load_client_settings()
    monkeypatch.delenv("TORC_CLIENT__RETRY_SECONDS")
    monkeypatch.setenv("TORC_CONFIG", str(places["explicit"]))
    with pytest.raises(TorcConfigError, match="no such configuration file"):
        load_client_settings()


def test_make_api_takes_url_username_and_retries_from_the_settings(places, monkeypatch):
    write(places["user"], '[client]\napi_url = "http://cluster:9000/torc-service/v1"\nusername = "alice"\nretry_seconds = 3\n')
    monkeypatch.setenv("TORC_PASSWORD", "secret")
    api = make_api()
    assert api.url == "http://cluster:9000/torc-service/v1"
    assert api.api_client.default_headers["Authorization"] == "Basic YWxpY2U6c2VjcmV0"  # alice:secret
    assert api.api_client.retry.total_seconds == 3
    assert make_api("http://other:1/torc-service/v1", username="bob").url == "http://other:1/torc-service/v1"


def torc(*args):
    return CliRunner().invoke(cli, [*map(str, args)])


def test_the_cli_reaches_the_server_named_in_torc_toml_and_flags_win(places):
    with FakeTorcServer() as server:
        write(places["project"], f'[client]\napi_url = "{server.url}"\nformat = "json"\n')
        result = torc("workflows", "list")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == []  # format json came from the file
        assert ("GET", "/torc-service/v1/version") in server.requests
        table = torc("-f", "table", "workflows", "list")
        assert table.exit_code == 0 and not table.stdout.lstrip().startswith("[")
    with FakeTorcServer() as other:
        server.requests.clear()
        result = torc("--url", other.url, "workflows", "list")
        assert result.exit_code == 0, result.output
        assert server.requests == [] and other.requests


def test_the_cli_names_the_file_of_a_bad_setting(places):
    write(places["project"], "[client]\nretry_seconds = -5\n")
    result = torc("workflows", "list")
    assert result.exit_code == 1
    assert f"Error: {places['project']}: client.retry_seconds: expected a number of seconds >= 0, got -5" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("how", ["flag", "environment", "config file"])
def test_the_cli_version_check_can_be_skipped(places, monkeypatch, how):
    with FakeTorcServer(version="99.0.0") as server:
        refused = torc("--url", server.url, "workflows", "list")
        assert refused.exit_code == 1 and "99.0.0" in refused.stderr and "different major versions" in refused.stderr
        server.requests.clear()
        args = ["--url", server.url]
        if how == "flag":
            args.append("--skip-version-check")
        elif how == "environment":
            monkeypatch.setenv("TORC_SKIP_VERSION_CHECK", "1")
        else:
            write(places["project"], "[client]\nskip_version_check = true\n")
        result = torc(*args, "-f", "json", "workflows", "list")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == []
        assert all(path.partition("?")[0] == "/torc-service/v1/workflows" for _, path in server.requests), server.requests
