"""Every numeric config value has a declared range, and every out-of-range value, misspelt key or
key added with `+` that no schema knows is refused in one line naming the key (generated from
the declarations, over every option of every group and every experiment)."""

from __future__ import annotations

import pytest

from tests.conftest import compose_train
from xlt.config.bounds import Range
from xlt.config.options import group_options
from xlt.config.ranges import check_config, numeric_leaves
from xlt.errors import ConfigError

GROUPS = ["strategy", "augmentation", "dataset", "model", "trainer"]
VARIANTS = [[f"{group}={option}"] for group in GROUPS for option in group_options(group)]
VARIANTS += [["augmentation=translate_train", f"augmentation/translator={option}"]
             for option in group_options("augmentation/translator")]  # fmt: skip
VARIANTS += [[f"experiment={option}"] for option in group_options("experiment")]
VARIANTS += [[f"experiment=xtreme/{option}"] for option in group_options("experiment/xtreme")]


def leaves_of_every_option() -> dict[str, tuple[list[str], object, Range | None]]:
    """key -> (overrides that compose it, its value, its range), over all variants."""
    found = {}
    for overrides in VARIANTS:
        for key, value, declared in numeric_leaves(compose_train(overrides)):
            found.setdefault(key, (overrides, value, declared))
    return found


LEAVES = leaves_of_every_option()


def test_every_numeric_value_of_every_option_declares_its_range():
    assert not sorted(k for k, (_, _, declared) in LEAVES.items() if declared is None)


def out_of_range(value, declared: Range) -> list:
    """Values just outside each bound (kept the type of the default)."""
    bad = []
    if declared.ge is not None:
        bad.append(declared.ge - 1)
    if declared.gt is not None:
        bad.append(declared.gt - (1 if isinstance(value, int) else 0.5))
    if declared.le is not None:
        bad.append(declared.le + 1)
    if declared.lt is not None:
        bad.append(declared.lt)
    return [type(value)(b) if isinstance(value, int) else b for b in bad
            if b not in declared.also]  # fmt: skip


CASES = [(key, bad) for key, (_, value, declared) in LEAVES.items()
         for bad in out_of_range(value, declared)]  # fmt: skip


@pytest.mark.parametrize("key,bad", CASES)
def test_out_of_range_values_are_refused_in_one_line(key, bad):
    overrides, _, declared = LEAVES[key]
    with pytest.raises(ConfigError) as err:
        check_config(compose_train([*overrides, f"{key}={bad}"]))
    message = str(err.value)
    assert len(message.splitlines()) == 1 and key in message and declared.describe() in message


def test_values_inside_the_range_pass_and_unknown_keys_do_not():
    check_config(compose_train(["strategy=few_shot", "strategy.k=0", "trainer.max_steps=-1"]))
    unknown = [("+dataset.limt=3", "dataset.limt"), ("+strategy.kk=3", "strategy.kk"),
               ("+lr=1", "lr"), ("+strategy.optimizer.lrr=1", "optimizer.lrr"),
               ("+callbacks.lr_monitor.intervl=step", "callbacks.lr_monitor.intervl")]  # fmt: skip
    for override, key in unknown:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            check_config(compose_train([override]))
