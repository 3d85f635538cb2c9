"""Follow the composed config through the code, statically: from `xlt/pipeline.py::run`, every
call that hands on the config or one of its sections (a node, not a value read from it) is
followed into the function it reaches, with the parameter that receives it. Prints the path,
the stops per file and the climbs (a call from a lower layer back into a higher one).

    python -m tests.corridors          # the path from xlt-train's run
    python -m tests.corridors --quiet  # the summary only

Used by tests/test_architecture.py (issue 34: at most 5 climbs, no file entered more than
twice). Only calls it can resolve statically are followed: names imported from xlt modules,
functions of the same module, and `partial(f, cfg, ...)`.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
import typing
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlt.config.schema import TrainConfig

PACKAGE = Path(__file__).resolve().parents[1] / "xlt"
# Layers, top (0) to bottom: a call from a file into a file of a smaller layer is a climb.
LAYERS = {"train.py": 0, "align/cli.py": 0, "pipeline.py": 1, "components.py": 2,
          "recorder.py": 2}  # fmt: skip
LOWER = {"strategies/": 3, "augment/": 3, "tracking/": 3, "evaluation/": 3, "reporting/": 3,
         "training/": 4, "data/": 4, "models/": 4, "tasks/": 4, "align/": 4,
         "config/": 5}  # fmt: skip


def layer(where: str) -> int:
    if where in LAYERS:
        return LAYERS[where]
    return next((rank for prefix, rank in LOWER.items() if where.startswith(prefix)), 4)


def section_type(kind: type | None, chain: list[str]) -> type | None | bool:
    """The schema type at `chain` below `kind`: a dataclass or `Any` (a node: followed), False
    for a scalar value (not followed)."""
    for name in chain:
        if kind is None:  # an Any node (a `_target_` spec): its children are nodes or values
            return None
        if name in ("get", "items", "keys", "values") or not dataclasses.is_dataclass(kind):
            return False
        hints = typing.get_type_hints(kind)
        if name not in hints:
            return False
        hint = hints[name]
        kind = hint if dataclasses.is_dataclass(hint) else None if hint is typing.Any else False
        if kind is False:
            return False
    return kind


@dataclass(frozen=True)
class Carrier:
    """An object whose attribute `attr` is the composed config (Components.cfg once)."""

    attr: str


@dataclass
class Module:
    where: str
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)  # "f" or "Class.m"
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    imported: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (file, name)


def file_of(module: str) -> str | None:
    if not module.startswith("xlt."):
        return None
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    return str(path.relative_to(PACKAGE)) if path.is_file() else None


def load(where: str, cache: dict[str, Module]) -> Module:
    if where not in cache:
        tree = ast.parse((PACKAGE / where).read_text())
        module = Module(where)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                module.functions[node.name] = node
            elif isinstance(node, ast.ClassDef):
                module.classes[node.name] = node
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        module.functions[f"{node.name}.{item.name}"] = item
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and (src := file_of(node.module)):
                for alias in node.names:
                    module.imported[alias.asname or alias.name] = (src, alias.name)
        cache[where] = module
    return cache[where]


def carries_config(cls: ast.ClassDef) -> str | None:
    """The attribute of `cls` that holds the composed config (a field annotated DictConfig)."""
    for item in cls.body:
        if isinstance(item, ast.AnnAssign) and "DictConfig" in ast.unparse(item.annotation):
            return ast.unparse(item.target)
    return None


def config_argument(expr: ast.expr, tracked: dict[str, Any]) -> Any:
    """The schema type of the config node `expr` passes, a Carrier, or False (none)."""
    chain: list[str] = []
    while isinstance(expr, ast.Attribute):
        chain.insert(0, expr.attr)
        expr = expr.value
    if not (isinstance(expr, ast.Name) and expr.id in tracked):
        return False
    root = tracked[expr.id]
    if isinstance(root, Carrier):
        if not chain:
            return root
        if chain[0] != root.attr:
            return False
        return section_type(TrainConfig, chain[1:])
    return section_type(root, chain)


@dataclass
class Walk:
    stops: list[tuple[str, str, int]] = field(default_factory=list)  # (file, function, depth)
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    cache: dict[str, Module] = field(default_factory=dict)

    def enter(self, where: str, name: str, params: dict[str, Any], depth: int) -> None:
        key = (where, name, ",".join(sorted(params)))
        module = load(where, self.cache)
        if key in self.seen or name not in module.functions:
            return
        self.seen.add(key)
        self.stops.append((where, name, depth))
        function = module.functions[name]
        types = self.local_types(module, function, name)
        tracked = {**self.carriers(types), **params}
        for call in calls_in(function):
            self.follow(module, call, tracked, types, depth)

    def carriers(self, types: dict) -> dict[str, Carrier]:
        """Local names of a class that holds the config (parts: Components, until issue 34)."""
        found = {}
        for local, (where, cls) in types.items():
            if attr := carries_config(load(where, self.cache).classes[cls]):
                found[local] = Carrier(attr)
        return found

    def resolve_class(self, module: Module, name: str) -> tuple[str, str] | None:
        if name in module.classes:
            return module.where, name
        target = module.imported.get(name)
        if target and target[1] in load(target[0], self.cache).classes:
            return target
        return None

    def local_types(self, module: Module, function: ast.FunctionDef, name: str) -> dict:
        """Names whose class is known: annotated parameters, `x = Class(...)`, and `self`."""
        types = {}
        if "." in name:
            types["self"] = (module.where, name.split(".")[0])
        for arg in function.args.args + function.args.kwonlyargs:
            annotation = arg.annotation
            if isinstance(annotation, ast.Name) and (
                found := self.resolve_class(module, annotation.id)
            ):
                types[arg.arg] = found
        for node in ast.walk(function):
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.Call)):  # fmt: skip
                continue
            if found := self.returned_class(module, node.value, types):
                types[node.targets[0].id] = found
        return types

    def returned_class(self, module: Module, call: ast.Call, types: dict):
        """The class a call returns: a constructor, or a function annotated to return one."""
        if isinstance(call.func, ast.Name) and (cls := self.resolve_class(module, call.func.id)):
            return cls
        target = self.callee(module, call.func, types)
        if target is None:
            return None
        function = load(target[0], self.cache).functions.get(target[1])
        returns = function.returns if function is not None else None
        if isinstance(returns, ast.Name):
            return self.resolve_class(load(target[0], self.cache), returns.id)
        return None

    def callee(self, module: Module, func: ast.expr, types: dict) -> tuple[str, str] | None:
        """(file, "function" or "Class.method") a call reaches, when it can be told statically."""
        if isinstance(func, ast.Name):
            if cls := self.resolve_class(module, func.id):
                return cls[0], f"{cls[1]}.__init__"
            if func.id in module.functions:
                return module.where, func.id
            return module.imported.get(func.id)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = types.get(func.value.id)
            return (owner[0], f"{owner[1]}.{func.attr}") if owner else None
        return None

    def implementations(self, method: str) -> list[tuple[str, str]]:
        """Every xlt class method named `method`: where a call on an object of unknown class
        (a strategy built from its spec) may go, all followed."""
        found = []
        for path in sorted(PACKAGE.rglob("*.py")):
            module = load(str(path.relative_to(PACKAGE)), self.cache)
            found += [(module.where, q) for q in module.functions if q.endswith(f".{method}")]
        return found

    def follow(self, module: Module, call: ast.Call, tracked: dict, types: dict, depth: int):
        func, args = call.func, list(call.args)
        if isinstance(func, ast.Name) and func.id == "partial" and args:
            func, args = args[0], args[1:]
        target = self.callee(module, func, types)
        if target is None and isinstance(func, ast.Attribute) and not func.attr.startswith("_"):
            for found in self.implementations(func.attr):
                self.follow_into(found, args, call.keywords, tracked, depth)
            return
        if target is not None:
            self.follow_into(target, args, call.keywords, tracked, depth)

    def follow_into(self, target, args, keywords, tracked: dict, depth: int) -> None:
        callee = load(target[0], self.cache).functions.get(target[1])
        if callee is None:
            return
        names = [a.arg for a in callee.args.args if a.arg != "self"]
        passed: dict[str, Any] = {}
        for i, arg in enumerate(args):
            kind = config_argument(arg, tracked)
            if kind is not False and i < len(names):
                passed[names[i]] = kind
        for keyword in keywords:
            kind = config_argument(keyword.value, tracked)
            if kind is not False and keyword.arg:
                passed[keyword.arg] = kind
        if passed:
            self.enter(target[0], target[1], passed, depth + 1)


def calls_in(function: ast.FunctionDef) -> list[ast.Call]:
    """The calls in `function`'s own body, in source order."""
    found = [n for n in ast.walk(function) if isinstance(n, ast.Call)]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def walk_from(where: str = "pipeline.py", name: str = "run") -> Walk:
    walk = Walk()
    walk.enter(where, name, {"cfg": TrainConfig}, 0)
    return walk


def climbs(walk: Walk) -> list[str]:
    """Each call that goes from a file back up into a higher layer."""
    found, stack = [], []
    for where, name, depth in walk.stops:
        del stack[depth:]
        if stack and layer(where) < layer(stack[-1][0]):
            found.append(f"{stack[-1][0]}::{stack[-1][1]} -> {where}::{name}")
        stack.append((where, name))
    return found


def entries(walk: Walk) -> Counter:
    """How often the path enters each file from another file."""
    counts, stack = Counter(), []
    for where, _, depth in walk.stops:
        del stack[depth:]
        if not stack or stack[-1] != where:
            counts[where] += 1
        stack.append(where)
    return counts


def main(argv: list[str]) -> None:
    walk = walk_from()
    if "--quiet" not in argv:
        for where, name, depth in walk.stops:
            print(f"{'  ' * depth}{where}::{name}")
    counts = entries(walk)
    print(f"{len(walk.stops)} stops in {len(counts)} files; most entered: "
          f"{counts.most_common(3)}; climbs: {len(climbs(walk))}")  # fmt: skip
    for climb in climbs(walk):
        print("  climb:", climb)


if __name__ == "__main__":
    main(sys.argv[1:])
