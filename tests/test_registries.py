"""Every registry takes a name once: a second definition under a taken name is refused, naming both places, so
which one wins never depends on import order; the same definition registered again (a reloaded module) is not."""
import importlib

import pytest

import mnistlab.experiments.softmax as softmax
from mnistlab.data.formats import FORMATS, register
from mnistlab.experiments.registry import EXPERIMENTS, experiment
from mnistlab.models.layers import TOKENS, Token, token
from mnistlab.robustness.corruptions import CORRUPTIONS, corruption
from mnistlab.sweep.executors import EXECUTORS, executor


def test_each_registry_refuses_a_second_definition_of_a_name():
    dense = next(iter(TOKENS))
    taken = [
        lambda: experiment("softmax", "another softmax", cpu_seconds=1)(lambda ctx: None),
        lambda: token(r"q(\d+)", dense)(type("Other", (Token,), {})),
        lambda: register(type(FORMATS["csv"])(**{**vars(FORMATS["csv"]), "read": lambda path, options: None})),
        lambda: corruption(next(iter(CORRUPTIONS)), "noise", "a second one")(lambda x, severity, g: x),
        lambda: executor("local", object)(type("Other", (), {})),
    ]
    before = [dict(r) for r in (EXPERIMENTS, TOKENS, FORMATS, CORRUPTIONS, EXECUTORS)]
    for register_again in taken:
        with pytest.raises(ValueError, match=r"registered twice: by mnistlab\..* and by .*test_registries"):
            register_again()
    assert [dict(r) for r in (EXPERIMENTS, TOKENS, FORMATS, CORRUPTIONS, EXECUTORS)] == before  # nothing replaced


def test_a_reloaded_module_registers_its_own_names_again():
    old = EXPERIMENTS["softmax"]
    importlib.reload(softmax)
    assert EXPERIMENTS["softmax"] is not old and EXPERIMENTS["softmax"].run is softmax.run
