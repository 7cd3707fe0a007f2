import doctest

import mnistlab.scratch


def test_the_documented_examples_run():
    assert doctest.testmod(mnistlab.scratch).failed == 0


def test_importing_the_engine_stays_light():
    import subprocess
    import sys

    code = "import sys, mnistlab.scratch; print(any(m.split('.')[0] in ('torch', 'matplotlib') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
