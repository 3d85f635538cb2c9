"""Generated bad input (issue 36): hypothesis writes command-line overrides (wrong types,
numbers out of range, NaN, inf and 1e308, unknown keys at every depth, unknown group options,
lists where scalars belong and the reverse, empty strings, unicode, very long values) and each
goes through what `xlt-train` does before anything loads: the one-line composition check, the
composition, and the config checks. Each is accepted (and then valid) or refused in one line;
any other exception fails the test. The counts of each outcome are printed."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import DictConfig, ListConfig, OmegaConf

from tests.conftest import compose_train
from xlt.config.cli_errors import composition_problem
from xlt.config.options import group_options
from xlt.config.validate import check_required
from xlt.errors import XltError
from xlt.training.precision import check_accelerator

GROUPS = ("strategy", "dataset", "model", "augmentation", "trainer", "callbacks", "evaluation")
CASES = 500


def config_keys() -> tuple[list[str], list[str]]:
    """(leaf keys, section keys) of the default config: where overrides go."""
    cfg = compose_train([])
    leaves, sections = [], []

    def walk(node, prefix: str) -> None:
        for key in node:
            path = f"{prefix}{key}"
            child = node._get_node(key)
            if isinstance(child, DictConfig):
                sections.append(path)
                walk(child, path + ".")
            elif not isinstance(child, ListConfig):
                leaves.append(path)

    walk(cfg, "")
    return leaves, sections


LEAVES, SECTIONS = config_keys()
WEIRD_NUMBERS = ["nan", "inf", "-inf", "1e308", "-1e308", "1e-320", "0", "-1", "2147483648",
                 "99999999999999999999", "0.5", "-0.0"]  # fmt: skip
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
values = st.one_of(
    st.sampled_from(WEIRD_NUMBERS),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "''", "null", "true", "False", "[]", "{}", "[1,2]", "[a,b]", "{a: 1}",
                     "{zh: [1]}", "'日本語'", "ß", "\u200b", "x" * 5000, "${oc.env:NOPE}"]),
    texts,
    texts.map(lambda t: f"'{t}'"),
)  # fmt: skip
keys = st.one_of(
    st.sampled_from(LEAVES),
    st.sampled_from(LEAVES + SECTIONS).map(lambda k: f"{k}.no_such_key"),
    st.sampled_from(["no_such_key", "trainer.no_such_key", "model.source.no_such_key"]),
    st.sampled_from(SECTIONS),  # a scalar where a section belongs
)
group_choices = st.tuples(
    st.sampled_from(GROUPS),
    st.one_of(st.sampled_from(sorted({o for g in GROUPS for o in group_options(g)})), texts),
)
overrides = st.one_of(
    st.tuples(keys, values).map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.tuples(keys, values).map(lambda kv: f"+{kv[0]}={kv[1]}"),
    group_choices.map(lambda gv: f"{gv[0]}={gv[1]}"),
)


def outcome(argv: list[str], tmp_path) -> str:
    """What xlt-train does with `argv` before anything loads, as one of three outcomes."""
    problem = composition_problem(argv)
    if problem is not None:
        assert "\n" not in problem and problem.strip(), (argv, problem)
        return "refused at composition"
    try:
        cfg = compose_train(argv, root=tmp_path)
        check_required(cfg)
        check_accelerator(str(cfg.trainer.accelerator))
        OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    except XltError as err:
        assert "\n" not in str(err).strip() and str(err).strip(), (argv, str(err))
        return "refused by a check"
    return "accepted"


@pytest.mark.slow  # 50 s: in `make test`, not in the inner loop
@pytest.mark.filterwarnings("ignore")
def test_generated_overrides_are_accepted_or_refused_in_one_line(tmp_path):
    seen: Counter = Counter()

    @settings(max_examples=CASES, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.lists(overrides, min_size=1, max_size=3))
    def check(argv: list[str]) -> None:
        seen[outcome(argv, tmp_path)] += 1

    check()
    print(f"\n{sum(seen.values())} generated command lines: {dict(seen)}")
    assert sum(seen.values()) >= CASES and seen["accepted"] and len(seen) == 3
