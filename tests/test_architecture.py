"""The shape of the code, checked: strategies are policies (no Lightning, datamodule or
LightningModule in xlt/strategies/), no import cycle among xlt modules at any level (imports
inside functions and type-checking imports included), function-local imports only where they
defer a heavy library, no function over 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "xlt"
FORBIDDEN_IN_STRATEGIES = ("lightning", "pytorch_lightning", "xlt.data.datamodule",
                           "xlt.training.module", "xlt.training.stages")  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# Third-party packages slow enough to import that xlt defers them into the function that needs
# them; an xlt module may be imported inside a function only if it loads one of these.
HEAVY = {"torch", "lightning", "transformers", "mlflow", "datasets", "peft", "sklearn",
         "scipy", "matplotlib", "pandas", "numpy", "hydra", "safetensors",
         "sentence_transformers"}  # fmt: skip


def imports(path: Path, level: str) -> set[str]:
    """Modules imported by `path`: at module level (type-checking imports included) when
    `level` is "module", the same without type-checking imports (what importing it runs) when
    "runtime", inside functions when it is "function"."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    local = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
             for n in ast.walk(f) if isinstance(n, ast.Import | ast.ImportFrom)}  # fmt: skip
    typing_only = {id(n) for block in ast.walk(tree)
                   if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
                   for n in ast.walk(block)}  # fmt: skip
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or (id(node) in local) != (
            level == "function"
        ):
            continue
        if level == "runtime" and id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def module_level_imports(path: Path) -> set[str]:
    return imports(path, "module")


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def graph(levels: tuple[str, ...] = ("module", "function")) -> dict[str, set[str]]:
    """xlt module -> the xlt modules it imports, at every level by default."""
    known = modules()
    return {name: {m for level in levels for m in imports(path, level)
                   if m in known and m != name} for name, path in known.items()}  # fmt: skip


def heavy_dependencies(name: str, edges: dict[str, set[str]], seen: set[str]) -> set[str]:
    """The HEAVY packages importing module `name` loads (`edges`: the runtime import graph)."""
    if name in seen:
        return set()
    seen.add(name)
    own = {m.split(".")[0] for m in imports(modules()[name], "runtime")} & HEAVY
    return own.union(*(heavy_dependencies(m, edges, seen) for m in edges[name]))


def test_strategies_import_no_training_machinery():
    for path in (PACKAGE / "strategies").glob("*.py"):
        bad = {m for m in module_level_imports(path)
               if m.startswith(FORBIDDEN_IN_STRATEGIES)}  # fmt: skip
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_strategies_get_neither_the_config_nor_the_tracker():
    """A strategy sees typed parts (RunContext, TrainingData, the network), never the DictConfig
    or the run's tracker: no such import, and no parameter named for them."""
    for path in (PACKAGE / "strategies").glob("*.py"):
        found = imports(path, "module") | imports(path, "function")
        assert not {m for m in found if m.startswith(("omegaconf", "xlt.tracking"))}, path.name
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = {a.arg for a in node.args.args + node.args.kwonlyargs}
                assert not names & {"cfg", "config", "tracker"}, f"{path.name}:{node.lineno}"


TRACKER_CALLS = {"set_tags", "log_metrics", "log_text", "log_table", "log_model",
                 "log_inputs", "log_folder", "log_file", "log_params", "start", "fail",
                 "finish", "requeued"}  # fmt: skip
# Who may call the tracker during an xlt-train run: the Recorder and the entry points. The
# tracking package implements it; xlt-align's tasks are that command's own phases.
MAY_TRACK = ("recorder.py", "pipeline.py", "train.py", "tracking/", "align/")


def test_only_the_recorder_and_the_entry_points_call_the_tracker():
    calls = []
    for path in PACKAGE.rglob("*.py"):
        if str(path.relative_to(PACKAGE)).startswith(MAY_TRACK):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                name = getattr(owner, "id", None) or getattr(owner, "attr", None)
                if name == "tracker" and node.func.attr in TRACKER_CALLS:
                    calls.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.func.attr}")
    assert not calls, "record through xlt/recorder.py: " + "; ".join(calls)


# The door (issue 34): the only modules besides the config package (xlt/config/, which composes
# and checks configs) that read the composed DictConfig: the entry points (xlt-train, its run
# flow, xlt-align, the sweep callback Hydra calls) and `build`. Everything below them takes
# typed values: a schema dataclass (xlt/config/schema.py), AlignJob, or plain arguments.
DOOR = {"train.py", "pipeline.py", "components.py", "align/cli.py", "tracking/sweep.py"}


def test_the_config_stops_at_the_door():
    takes_config, touches = set(), set()
    for path in PACKAGE.rglob("*.py"):
        where = str(path.relative_to(PACKAGE))
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                takes_a_config(a) for a in node.args.args + node.args.kwonlyargs
            ):
                takes_config.add(where)
            if isinstance(node, ast.Name | ast.alias) and "DictConfig" in (
                getattr(node, "id", None) or getattr(node, "name", "")
            ):
                touches.add(where)
    below = {w for w in takes_config | touches if w not in DOOR and not w.startswith("config/")}
    assert not below, f"pass typed values (schema dataclasses), not the config: {sorted(below)}"
    assert len(DOOR) <= 5 and touches - {w for w in touches if w.startswith("config/")} <= DOOR


def takes_a_config(arg: ast.arg) -> bool:
    annotation = ast.unparse(arg.annotation) if arg.annotation else ""
    return arg.arg == "cfg" or "DictConfig" in annotation


def test_lazy_imports_only_defer_heavy_dependencies():
    """A function-local import of an xlt module is a hidden edge; it is allowed only when
    importing that module loads a declared heavy third-party package that the importing module
    does not load already (otherwise deferring it saves nothing)."""
    edges, known = graph(("runtime",)), modules()
    pointless = sorted(f"{name} -> {m}" for name, path in known.items()
                       for m in imports(path, "function") if m in known and m != name
                       and not heavy_dependencies(m, edges, set())
                       - heavy_dependencies(name, edges, set()))  # fmt: skip
    assert not pointless, "import these at module level: " + "; ".join(pointless)


def test_no_import_cycles():
    """No cycle between xlt modules, counting imports inside functions too."""
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name)


def test_no_function_over_60_lines():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if function and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert not long


def test_the_config_follows_straight_corridors_from_run():
    """tests/corridors.py follows the composed config from pipeline.run through every call
    that hands it (or a section of it) on: no climb back up a layer, no file entered more
    than twice (issue 34's measure)."""
    from tests.corridors import climbs, entries, walk_from

    walk = walk_from()
    assert walk.stops[0] == ("pipeline.py", "run", 0) and len(walk.stops) > 10  # it follows
    assert not climbs(walk)
    assert max(entries(walk).values()) <= 2, entries(walk).most_common(3)
