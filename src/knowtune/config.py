"""Typed configs: YAML files plus `a.b=value` overrides, validated by pydantic at the boundary.

Every stage defines its own pydantic model next to the code that uses it; this module only loads,
merges, validates and explains, and holds what those models share (`Strict`, path lists). Errors are `UserError`s that name the key and, for a misspelt key,
the closest valid one.
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from knowtune.errors import UserError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """The base of every knowtune config: an unknown (misspelt) key is an error, and so is a bad assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def one_path_is_a_list(value):
    """For a `field_validator(..., mode="before")` of a list of paths: one path given alone is a list of one."""
    return [value] if isinstance(value, str) else value


def deep_merge(base: dict, override: dict) -> dict:
    """`base` with `override` laid over it, nested mappings merged key by key (neither is changed)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def flatten(tree: dict[str, Any], prefix: str = "", keep_empty: bool = False) -> dict[str, Any]:
    """Nested mappings as dotted keys: {"a": {"b": 1}} -> {"a.b": 1}; `keep_empty` keeps {} as a value."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and (value or not keep_empty):
            flat.update(flatten(value, f"{prefix}{key}.", keep_empty))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def split_config_and_overrides(items: list[str], required: str | None = None) -> tuple[str | None, list[str]]:
    """(the config file, the key=value overrides); `required` names the file a command cannot do without."""
    config, overrides = None, []
    for item in items:
        if "=" in item:
            overrides.append(item)
        elif config is None:
            config = item
        else:
            raise UserError(f"unexpected argument '{item}': give one config file, then key=value overrides")
    if config is None and required:
        raise UserError(f"give {required}")
    return config, overrides


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UserError(f"{where}: invalid YAML: {getattr(e, 'problem', e)}") from e
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: a config must be a mapping of keys to values, got {type(data).__name__}")
    return data


def parse_override(item: str) -> tuple[list[str], Any]:
    """`training.learning_rate=1e-3` -> (["training", "learning_rate"], "1e-3" parsed as YAML)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"override '{item}' must look like key=value (e.g. training.learning_rate=1e-4)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def set_path(data: dict, keys: list[str], value: Any) -> None:
    node = data
    for k in keys[:-1]:
        child = node.get(k)
        if not isinstance(child, dict):
            child = node[k] = {}
        node = child
    node[keys[-1]] = value


def all_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every dotted key a model accepts, nested models included."""
    keys = []
    for name, field in model.model_fields.items():
        keys.append(prefix + name)
        sub = _submodel(field.annotation)
        if sub is not None:
            keys.extend(all_keys(sub, prefix + name + "."))
    return keys


def _submodel(annotation) -> type[BaseModel] | None:
    candidates = [annotation, *typing.get_args(annotation)]
    for c in candidates:
        if isinstance(c, type) and issubclass(c, BaseModel):
            return c
    return None


def _explain(err: ValidationError, model: type[BaseModel], source: str) -> str:
    valid = all_keys(model)
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            lines.append(f"unknown key '{key}'{hint}")
        elif e["type"] == "missing":
            lines.append(f"missing required key '{key}'")
        else:
            got = e.get("input")
            shown = f" (got {got!r})" if not isinstance(got, dict) else ""
            msg = e["msg"].removeprefix("Value error, ")
            lines.append(f"{key}: {msg}{shown}" if key else msg)
    return f"{source}: " + "; ".join(lines)


def validate(model: type[M], data: dict, source: str = "config") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise UserError(_explain(e, model, source)) from None


def load_config(model: type[M], path: str | Path | None = None, overrides: list[str] = (), base: dict | None = None) -> M:
    """Defaults <- `base` <- YAML file <- `a.b=value` overrides, then validated."""
    data: dict = dict(base or {})
    if path is not None:
        data.update(read_yaml(path))
    for item in overrides:
        keys, value = parse_override(item)
        set_path(data, keys, value)
    source = str(path) if path else "config"
    if overrides:
        source += " (with overrides)"
    return validate(model, data, source)


def to_yaml(cfg: BaseModel) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def describe(model: type[BaseModel], prefix: str = "") -> list[str]:
    """`key (default): description` lines for --help, straight from the field definitions."""
    lines = []
    for name, field in model.model_fields.items():
        sub = _submodel(field.annotation)
        if sub is not None:
            lines.extend(describe(sub, prefix + name + "."))
            continue
        shown = "(required)" if field.is_required() else f"= {field.get_default(call_default_factory=True)!r}"
        lines.append(f"  {prefix}{name} {shown}\n      {field.description or ''}")
    return lines


def add_config_command(sub, name: str, model: type[BaseModel], func, help: str, *, required: bool = False,
                       description: str | None = None, keys: str = "config keys (set in the YAML or as key=value)"):
    """A `knowtune NAME [CONFIG.yaml] [key=value ...]` subcommand whose --help lists every key of `model`."""
    import argparse

    config = "CONFIG.yaml" if required else "[CONFIG.yaml]"
    parser = sub.add_parser(
        name, help=help, usage=f"knowtune {name} {config} [key=value ...] [flags]", description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=f"{keys}:\n" + "\n".join(describe(model)),
    )
    parser.add_argument("items", nargs="+" if required else "*", metavar="CONFIG|key=value",
                        help="a YAML config, then overrides")
    parser.set_defaults(func=func)
    return parser
