"""The layout's three rules, checked by reading every module's imports.

- Only `store/` knows a storage technology: no other module imports its client libraries.
- Only `ws/` knows WebSocket message bytes: no other module imports its message builders or
  writes a message's opening bytes.
- Features never import each other, and the core never imports a feature: features meet
  through the feed, the store worker and the app's keys; `app.py` alone plugs them in.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from eventd.app import FEATURES

SRC = Path(__file__).resolve().parents[1] / "src"
STORAGE_LIBRARIES = frozenset({"redis", "hiredis", "motor", "pymongo", "bson"})
# Modules that plug the features in.
ASSEMBLY = frozenset({"eventd.app"})
# Modules that speak the protocol from the subscriber's side (they write requests).
PROTOCOL_CLIENTS = frozenset({"eventd.client"})
WIRE_PREFIXES = (b'{"type"', '{"type"')


Breaches = dict[tuple[str, int, str], str]  # (module, line, rule) -> the breach


@dataclass(frozen=True)
class Module:
    name: str  # eventd.stats.service
    package: str  # eventd.stats
    tree: ast.Module

    @property
    def top(self) -> str:
        """Return the first package under `eventd` (`stats`), or the module's own name."""
        return self.name.split(".")[1] if "." in self.name else self.name

    def imports(self) -> Iterator[tuple[int, str]]:
        """Yield (line, absolute module name) for every import, relative ones resolved."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = self.package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                yield node.lineno, base
                for alias in node.names:  # `from eventd import stats` imports a package
                    yield node.lineno, f"{base}.{alias.name}"


def load(path: Path, root: Path = SRC) -> Module:
    relative = path.relative_to(root).with_suffix("")
    parts = list(relative.parts)
    package = ".".join(parts[:-1])
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return Module(".".join(parts), package, ast.parse(path.read_text(), str(path)))


def modules(root: Path = SRC) -> list[Module]:
    return [load(path, root) for path in sorted((root / "eventd").rglob("*.py"))]


def feature_names() -> frozenset[str]:
    return frozenset(feature.__name__.split(".")[1] for feature in FEATURES)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _registry(name: str) -> bool:
    """Tell whether `name` is what a feature may take from ws/: the channel registry."""
    return name == "eventd.ws" or _within(name, "eventd.ws.channels")


def violations(found: list[Module], features: frozenset[str]) -> list[str]:
    """Return each import or literal that breaks one of the three rules, once per line."""
    out: dict[tuple[str, int, str], str] = {}
    for module in found:
        _check_imports(module, features, out)
    kinds = message_types(found)
    for module in found:
        if module.top != "ws" and module.name not in PROTOCOL_CLIENTS:
            _check_messages(module, kinds, out)
    return list(out.values())


def _check_imports(module: Module, features: frozenset[str], out: Breaches) -> None:
    for line, name in module.imports():
        where = (module.name, line)
        if name.split(".")[0] in STORAGE_LIBRARIES and module.top != "store":
            _add(out, where, name, "only store/ knows a storage technology")
        if not _within(name, "eventd"):
            continue
        target = name.split(".")[1] if "." in name else ""
        if target == "ws" and module.top in features and not _registry(name):
            _add(out, where, name, "a feature takes only the channel registry from ws/")
        if target in features and target != module.top and module.name not in ASSEMBLY:
            kind = "feature" if module.top in features else "core module"
            _add(out, where, name, f"a {kind} never imports a feature")


def _check_messages(module: Module, kinds: set[str], out: Breaches) -> None:
    for node in ast.walk(module.tree):
        value = node.value if isinstance(node, ast.Constant) else None
        if isinstance(value, bytes | str) and value.startswith(
            WIRE_PREFIXES[isinstance(value, str)]
        ):
            _add(out, (module.name, node.lineno), "", "only ws/ writes messages")
        if _type_of(node) in kinds:
            _add(out, (module.name, node.lineno), "", "only ws/ shapes messages")


def _type_of(node: ast.AST) -> object:
    """Return the constant under the key "type" of a dict literal, if it is one."""
    if not isinstance(node, ast.Dict):
        return None
    for key, value in zip(node.keys, node.values, strict=True):
        if isinstance(key, ast.Constant) and key.value == "type":
            return value.value if isinstance(value, ast.Constant) else None
    return None


def message_types(found: list[Module]) -> set[str]:
    """Return the types of the messages ws/ writes, read from its dicts and byte literals."""
    kinds = set()
    for module in found:
        if module.top != "ws":
            continue
        for node in ast.walk(module.tree):
            kind = _type_of(node)
            if isinstance(kind, str):
                kinds.add(kind)
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, bytes):
                kinds.update(k.decode() for k in re.findall(rb'"type":"(\w+)"', value))
    return kinds


def _add(out: Breaches, where: tuple[str, int], name: str, rule: str) -> None:
    """Record a breach once per line and rule (`from a.b import c` reads as two names)."""
    module, line = where
    out.setdefault((module, line, rule), f"{module}:{line} {name}: {rule}")


def test_the_tree_keeps_the_three_rules() -> None:
    found = modules()
    assert {module.top for module in found} >= feature_names() | {"store", "feed", "ws"}
    assert violations(found, feature_names()) == []


def test_every_feature_plugs_itself_in() -> None:
    for feature in FEATURES:
        assert callable(getattr(feature, "setup", None)), feature.__name__


def _tree(tmp_path: Path, files: dict[str, str]) -> list[Module]:
    for name, text in files.items():
        path = tmp_path / "eventd" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return modules(tmp_path)


@pytest.mark.parametrize(
    ("path", "text", "rule"),
    [
        ("http/health.py", "import redis.asyncio\n", "storage technology"),
        ("feed/hub.py", "from motor import motor_asyncio\n", "storage technology"),
        ("stats/service.py", "from eventd.events.service import EventService\n", "feature"),
        ("stats/service.py", "from eventd import events\n", "feature"),
        ("stats/service.py", "from ..events import keys\n", "feature"),
        ("keys.py", "from eventd.stats.service import StatsService\n", "core module"),
        ("ws/handler.py", "from eventd.stats.keys import STATS\n", "core module"),
        ("stats/channel.py", "from eventd.ws.protocol import encode\n", "channel registry"),
        ("feed/hub.py", 'HEAD = b\'{"type":"change","sub":\'\n', "only ws/ writes"),
        ("stats/channel.py", "M = {'type': 'stats', 'sub': 's'}\n", "only ws/ shapes"),
        ("events/channel.py", "M = {'id': 's', 'type': 'change'}\n", "only ws/ shapes"),
    ],
)
def test_each_rule_catches_a_breach(tmp_path: Path, path: str, text: str, rule: str) -> None:
    found = _tree(tmp_path, {"__init__.py": "", "ws/protocol.py": WS_PROTOCOL, path: text})
    [breach] = violations(found, frozenset({"events", "stats"}))
    assert rule in breach, breach


# A protocol module whose messages are `change` (as bytes) and `stats` (as a dict).
WS_PROTOCOL = "HEAD = b'{\"type\":\"change\",'\nSTATS = {'type': 'stats'}\n"


def test_allowed_imports_pass(tmp_path: Path) -> None:
    files = {
        "__init__.py": "",
        "ws/protocol.py": WS_PROTOCOL,
        "model.py": "DEFAULTS = {'type': 'event'}\n",
        "client.py": "SUBSCRIBE = {'type': 'subscribe', 'id': 'feed'}\n",
        "app.py": "from eventd import events, stats\n",
        "store/redis/engine.py": "import redis.asyncio\n",
        "stats/service.py": "from eventd.feed.hub import Hub\nfrom . import windows\n",
        "stats/channel.py": "from eventd.ws.channels import add_channel\n",
        "ws/frames.py": 'HEAD = b\'{"type":"change"\'\n',
    }
    assert violations(_tree(tmp_path, files), frozenset({"events", "stats"})) == []
