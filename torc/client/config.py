"""Client settings: TOML configuration files, then environment variables, then explicit values.

Layers, lowest precedence first (each optional; a later one overrides an earlier one key by key):

1. built-in defaults;
2. ``/etc/torc/config.toml`` (system: what a site's admins set for everyone; ``$TORC_SYSTEM_CONFIG``
   names another file, e.g. in an HPC software module);
3. ``$XDG_CONFIG_HOME/torc/config.toml``, by default ``~/.config/torc/config.toml`` (user);
4. ``./torc.toml`` in the current directory (project);
5. the file named by ``$TORC_CONFIG``, which must exist;
6. environment variables: ``TORC_CLIENT__<KEY>`` (upstream torc's spelling, e.g.
   ``TORC_CLIENT__API_URL``), then the short names ``TORC_API_URL``, ``TORC_SKIP_VERSION_CHECK``
   and ``TORC_RETRY_SECONDS``, which win over the long ones;
7. explicit values: ``torc`` command-line options, ``make_api()`` arguments.

The files use upstream torc's layout, so one file serves both: the ``[client]`` table holds the
keys below; other tables (``[server]``, ``[dash]``, ``[client.run]``, ``[client.slurm]``, ...) are
left to the tools that read them. A ``[client]`` key this client does not know is most likely a
typo and gets a warning naming the file; a value of the wrong type is an error naming the file and
key. Passwords do not belong in files: ``TORC_PASSWORD`` is read from the environment only.
"""

import os
import tomllib
import warnings
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from torc.client.errors import TorcConfigError

DEFAULT_API_URL = "http://localhost:8080/torc-service/v1"
SYSTEM_CONFIG_PATH = Path("/etc/torc/config.toml")
PROJECT_CONFIG_NAME = "torc.toml"
FORMATS = ("table", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
#: Upstream's log level names that mean one of ours.
LOG_LEVEL_ALIASES = {"trace": "debug", "warn": "warning"}
#: Sub-tables of [client] that other upstream tools read; not ours to judge.
OTHER_CLIENT_TABLES = frozenset({"run", "slurm", "hpc", "watch"})
#: Short environment variables (they win over TORC_CLIENT__<KEY>).
SHORT_ENV = {"api_url": "TORC_API_URL", "skip_version_check": "TORC_SKIP_VERSION_CHECK", "retry_seconds": "TORC_RETRY_SECONDS"}
TRUE_WORDS, FALSE_WORDS = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class ConfigWarning(UserWarning):
    """A configuration file has a key this client does not use."""


@dataclass(frozen=True)
class ClientSettings:
    """How to reach and talk to the server; see the module docstring for where each value comes from."""

    api_url: str = DEFAULT_API_URL
    username: str | None = None
    format: str = "table"
    log_level: str = "warning"
    skip_version_check: bool = False
    retry_seconds: float = 60.0


KEYS = {field.name for field in fields(ClientSettings)}


def config_files(environ=None) -> list[tuple[Path, bool]]:
    """(path, must exist) of every configuration file in precedence order, lowest first."""
    environ = os.environ if environ is None else environ
    system = Path(environ.get("TORC_SYSTEM_CONFIG") or SYSTEM_CONFIG_PATH)
    user_dir = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    files = [(system, False), (user_dir / "torc" / "config.toml", False), (Path.cwd() / PROJECT_CONFIG_NAME, False)]
    if environ.get("TORC_CONFIG"):
        files.append((Path(environ["TORC_CONFIG"]), True))
    return files


def load_client_settings(explicit: dict[str, Any] | None = None, *, environ=None) -> ClientSettings:
    """Settings from every layer; ``explicit`` values that are None count as not given."""
    environ = os.environ if environ is None else environ
    settings = ClientSettings()
    for path, required in config_files(environ):
        settings = _apply(settings, _read_file(path, required), str(path))
    settings = _apply(settings, _from_environment(environ), "the environment")
    given = {key: value for key, value in (explicit or {}).items() if value is not None}
    return _apply(settings, given, "the arguments")


def _read_file(path: Path, required: bool) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        if required:
            raise TorcConfigError(f"{path}: no such configuration file (named by TORC_CONFIG)") from None
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TorcConfigError(f"{path}: not a readable TOML file: {exc}") from None
    client = document.get("client", {})
    if not isinstance(client, dict):
        raise TorcConfigError(f"{path}: 'client' must be a table ([client])")
    if "password" in client:
        warnings.warn(f"{path}: ignoring client.password: passwords are read from TORC_PASSWORD only", ConfigWarning, stacklevel=3)
    unknown = sorted(key for key in client if key not in KEYS | OTHER_CLIENT_TABLES | {"password"})
    if unknown:
        warnings.warn(f"{path}: ignoring unknown [client] key(s) {', '.join(unknown)}; known: {', '.join(sorted(KEYS))}", ConfigWarning, stacklevel=3)
    return {key: value for key, value in client.items() if key in KEYS}


def _from_environment(environ) -> dict[str, Any]:
    values = {}
    for key in sorted(KEYS):
        for name in (f"TORC_CLIENT__{key.upper()}", SHORT_ENV.get(key)):
            if name and name in environ:
                values[key] = _parse_text(key, environ[name], f"environment variable {name}")
    return values


def _parse_text(key: str, text: str, where: str):
    """An environment variable's text as the type ``key`` needs."""
    if key == "skip_version_check":
        word = text.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise TorcConfigError(f"{where}: expected one of 1/true/yes/on or 0/false/no/off, got {text!r}")
        return word in TRUE_WORDS
    if key == "retry_seconds":
        try:
            return float(text)
        except ValueError:
            raise TorcConfigError(f"{where}: expected a number of seconds, got {text!r}") from None
    return text


def _apply(settings: ClientSettings, values: dict[str, Any], source: str) -> ClientSettings:
    """``settings`` with ``values`` (from ``source``) checked and laid over it."""
    checked = {key: _check(key, value, f"{source}: client.{key}") for key, value in values.items()}
    return replace(settings, **checked)


def _check(key: str, value, where: str):
    if key == "skip_version_check":
        if not isinstance(value, bool):
            raise TorcConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if key == "retry_seconds":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise TorcConfigError(f"{where}: expected a number of seconds >= 0, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise TorcConfigError(f"{where}: expected a string, got {value!r}")
    if key == "api_url":
        if not value.startswith(("http://", "https://")):
            raise TorcConfigError(f"{where}: expected an http:// or https:// URL ending in /torc-service/v1, got {value!r}")
        return value.rstrip("/")
    if key == "format" and value not in FORMATS:
        raise TorcConfigError(f"{where}: expected one of {', '.join(FORMATS)}, got {value!r}")
    if key == "log_level":
        level = LOG_LEVEL_ALIASES.get(value.lower(), value.lower())
        if level not in LOG_LEVELS:
            raise TorcConfigError(f"{where}: expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return level
    return value
