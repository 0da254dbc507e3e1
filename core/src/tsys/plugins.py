"""The plugin manager: entry-point discovery, built-ins, escape hatches and registries.

Plugins are Python packages that declare an entry point in the ``tsys`` group; the hooks they
implement say what they provide. Built-in parts register through the same manager.

Environment:
``TSYS_LOAD_PLUGINS``
    Comma-separated allow-list of entry-point names to load (empty: load no external plugin).
``TSYS_DISABLE_PLUGINS``
    Comma-separated entry-point or module names never to load.
``TSYS_TRACE_PLUGINS``
    ``1``: trace every hook call on stderr (pluggy's hook-call monitoring): the hook, its
    arguments and what the plugins returned.

Every hook is called through :func:`call_hook`: one plugin at a time, by pluggy (which matches
the arguments and gives the order), each call under :func:`plugin_safe`.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from functools import partial, wraps
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

import attrs
import pluggy

from tsys import hookspecs
from tsys.errors import PluginError

GROUP = "tsys"

#: Built-in modules, registered through the same manager as external plugins.
BUILTINS: tuple[str, ...] = (
    "tsys.data.builtin",
    "tsys.brokers.builtin",
    "tsys.notifiers.builtin",
)

T = TypeVar("T")

_pm: pluggy.PluginManager | None = None
_strict = False
#: (entry-point name, message) for every plugin that failed to load.
load_failures: list[tuple[str, str]] = []


def set_strict(strict: bool) -> None:
    """Make a broken plugin fatal (``--strict-plugins``) instead of reported and skipped."""
    global _strict
    _strict = strict


def _split_env(name: str) -> list[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [p.strip() for p in raw.split(",") if p.strip()]


def build_plugin_manager(*, load_entrypoints: bool = True) -> pluggy.PluginManager:
    """Create a manager with the hook specs, the built-ins and (optionally) entry points."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    disabled = set(_split_env("TSYS_DISABLE_PLUGINS") or [])
    for name in disabled:
        pm.set_blocked(name)
    for modname in BUILTINS:
        if modname in disabled:
            continue
        pm.register(importlib.import_module(modname), name=modname)
    if load_entrypoints:
        _load_entrypoints(pm, disabled)
    pm.check_pending()
    if os.environ.get("TSYS_TRACE_PLUGINS", "").strip() == "1":
        pm.trace.root.setwriter(lambda text: print(text, end="", file=sys.stderr))
        pm.enable_tracing()
    return pm


def _load_entrypoints(pm: pluggy.PluginManager, disabled: set[str]) -> None:
    allow = _split_env("TSYS_LOAD_PLUGINS")
    load_failures.clear()
    for ep in entry_points(group=GROUP):
        if ep.name in disabled or ep.value in disabled:
            continue
        if allow is not None and ep.name not in allow:
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            # One entry point at a time, through pluggy's own loader, so its dist-info
            # bookkeeping (``list_plugin_distinfo``) stays right and one broken plugin
            # cannot take the others down with it.
            pm.load_setuptools_entrypoints(GROUP, name=ep.name)
            pm.check_pending()
        except Exception as exc:
            msg = f"plugin {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
            if _strict:
                raise PluginError(msg, hint="uninstall it or set TSYS_DISABLE_PLUGINS") from exc
            if pm.get_plugin(ep.name) is not None:
                pm.unregister(name=ep.name)
            load_failures.append((ep.name, msg))
            print(f"warning: {msg}; skipped (set TSYS_DISABLE_PLUGINS to silence)", file=sys.stderr)


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide manager, building it on first use."""
    global _pm
    if _pm is None:
        _pm = build_plugin_manager()
    return _pm


def reset_plugin_manager(pm: pluggy.PluginManager | None = None) -> None:
    """Replace (or drop) the process-wide manager; used by tests and ``tsys.testing``."""
    global _pm
    _pm = pm
    _registries.clear()


def list_plugins(pm: pluggy.PluginManager | None = None) -> list[dict[str, Any]]:
    """Describe every registered plugin: name, version, hooks, and whether it is built in."""
    pm = pm or get_plugin_manager()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    provided = _provided() if pm is get_plugin_manager() else {}
    out = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        dist = dists.get(id(plugin))
        if dist is not None:
            version, package = dist.version, dist.project_name
        else:
            from tsys import __version__

            version, package = __version__, "tsys"
        out.append(
            {
                "name": name,
                "package": package,
                "version": version,
                "builtin": name in BUILTINS,
                "hooks": hooks,
                "provides": provided.get(name, {}),
            }
        )
    out.sort(key=lambda p: (not p["builtin"], p["name"]))
    return out


def _provided() -> dict[str, dict[str, list[str]]]:
    """Plugin name -> {"buckets": [...], "data_sources": [...], ...}: what each registered."""
    out: dict[str, dict[str, list[str]]] = {}
    for key, kind in (
        ("buckets", "bucket"),
        ("data_sources", "data source"),
        ("brokers", "broker"),
        ("notifiers", "notifier"),
    ):
        reg = registry(kind)
        for name in reg.names():
            out.setdefault(reg.owner(name), {}).setdefault(key, []).append(name)
    return out


# --------------------------------------------------------------------------------- registries
class Registry(Generic[T]):
    """Named providers of one kind (buckets, data sources, brokers, notifiers).

    Duplicate names are rejected; an unknown name is answered with the known ones and a
    "did you mean" suggestion.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._owners: dict[str, str] = {}

    def register(self, item: T, *, owner: str = "?") -> None:
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{owner} registered a {self.kind} without a 'name': {item!r}")
        if name in self._items:
            raise PluginError(
                f"two plugins register the {self.kind} {name!r}: {self._owners[name]} and {owner}",
                hint="uninstall or disable one of them (TSYS_DISABLE_PLUGINS)",
            )
        self._items[name] = item
        self._owners[name] = owner

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = sorted(self._items)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
            raise PluginError(
                f"unknown {self.kind} {name!r}; known: {', '.join(known) or '(none installed)'}",
                hint=hint,
            ) from None

    def owner(self, name: str) -> str:
        return self._owners[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items[n] for n in sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)


_KINDS = {
    "bucket": "register_buckets",
    "data source": "register_data_sources",
    "broker": "register_brokers",
    "notifier": "register_notifiers",
}
_registries: dict[str, Registry[Any]] = {}


def registry(kind: str) -> Registry[Any]:
    """Return the registry of ``kind`` ("bucket", "data source", "broker", "notifier")."""
    if kind not in _KINDS:
        raise ValueError(f"unknown registry kind {kind!r}")
    reg = _registries.get(kind)
    if reg is None:
        reg = Registry(kind)
        call_hook(
            _KINDS[kind],
            contain=False,
            per_plugin=lambda owner: {"register": partial(reg.register, owner=owner)},
        )
        _registries[kind] = reg
    return reg


def buckets() -> Registry[Any]:
    return registry("bucket")


def data_sources() -> Registry[Any]:
    return registry("data source")


def brokers() -> Registry[Any]:
    return registry("broker")


def notifiers() -> Registry[Any]:
    return registry("notifier")


def plugin_safe(
    owner: str,
    fn: Callable[..., T],
    *,
    what: str | None = None,
    keep: type[Exception] = PluginError,
) -> Callable[..., T]:
    """Wrap a call into plugin code so its exception becomes a :class:`PluginError` naming it.

    ``what`` names the call in the message (default: the function's qualified name). An
    exception of class ``keep`` passes unchanged (``keep=TsysError``: an error the plugin
    raised on purpose keeps its own class and message).
    """
    label = what or str(getattr(fn, "__qualname__", fn))

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (PluginError, keep):
            raise
        except Exception as exc:
            raise PluginError(
                f"plugin {owner!r} failed in {label}: {type(exc).__name__}: {exc}"
            ) from exc

    return wrapper


# ------------------------------------------------------------------------------- hook calls
@attrs.frozen
class HookCall:
    """One plugin's answer to one hook call: its return value, or the error it raised."""

    plugin: str
    result: Any = None
    error: PluginError | None = None


def call_hook(
    name: str,
    *,
    contain: bool = True,
    per_plugin: Callable[[str], dict[str, Any]] | None = None,
    **kwargs: Any,
) -> list[HookCall]:
    """Call the hook ``name`` for every plugin that implements it, one plugin at a time.

    Each call goes through pluggy (a subset hook caller holding that one plugin), so pluggy
    matches the arguments (an implementation may take fewer than the spec), keeps its order
    (last registered first; ``tryfirst``/``trylast`` honoured), runs hook wrappers and reports
    to hook-call monitoring (``TSYS_TRACE_PLUGINS=1``). One plugin's failure never costs
    another plugin its call.

    Parameters
    ----------
    name
        The hook's name, as in :mod:`tsys.hookspecs`.
    contain
        True: a plugin's failure is kept in its :class:`HookCall` (``error``; the message is
        the warning to show, see :func:`hook_warnings`). False: it is raised.
    per_plugin
        Extra keyword arguments for one plugin, from its name (the ``register`` callback of
        contribution hooks, which must know who registers).
    **kwargs
        The hook's arguments (keyword only, as pluggy wants them).
    """
    pm = get_plugin_manager()
    impls = [i for i in reversed(getattr(pm.hook, name).get_hookimpls()) if not _wraps(i)]
    calls = []
    for impl in impls:
        others = [other.plugin for other in impls if other is not impl]
        one = pm.subset_hook_caller(name, remove_plugins=others)
        args = {**kwargs, **(per_plugin(impl.plugin_name) if per_plugin else {})}
        try:
            results = plugin_safe(impl.plugin_name, one, what=name)(**args)
        except PluginError as exc:
            if not contain:
                raise
            calls.append(HookCall(impl.plugin_name, error=exc))
            continue
        calls.append(HookCall(impl.plugin_name, result=results[0] if results else None))
    return calls


def _wraps(impl: Any) -> bool:
    return bool(getattr(impl, "hookwrapper", False) or getattr(impl, "wrapper", False))


def hook_warnings(calls: Iterable[HookCall]) -> list[str]:
    """The warning of every failed call, in call order."""
    return [c.error.message for c in calls if c.error is not None]
