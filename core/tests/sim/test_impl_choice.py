import builtins

import numpy as np
import pytest

import tsys.sim as sim
from tsys.errors import TsysError
from tsys.sim import reference


def test_default_is_cython(monkeypatch):
    monkeypatch.delenv("TSYS_SIM", raising=False)
    assert sim.current_impl() == "cython"
    assert sim.get_kernel().__module__ == "tsys.sim._fill"


def test_env_selects_python(monkeypatch):
    monkeypatch.setenv("TSYS_SIM", "python")
    assert sim.current_impl() == "python"
    assert sim.get_kernel() is reference.run_kernel
    o = np.full((3, 1), 10.0)
    res = sim.simulate(o, o, o, o, o * 100, target_weights=np.full((3, 1), np.nan))
    assert res.impl == "python"


def test_unknown_impl_is_refused(monkeypatch):
    monkeypatch.setenv("TSYS_SIM", "numba")
    with pytest.raises(TsysError, match="TSYS_SIM must be"):
        sim.current_impl()


def test_missing_extension_raises_instead_of_falling_back(monkeypatch):
    monkeypatch.delenv("TSYS_SIM", raising=False)
    real_import = builtins.__import__
    monkeypatch.delitem(__import__("sys").modules, "tsys.sim._fill", raising=False)

    def fake_import(name, *args, **kwargs):
        if name == "tsys.sim._fill":
            raise ImportError("simulated missing build")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(
        sim.importlib,
        "import_module",
        lambda name: fake_import(name) if name == "tsys.sim._fill" else real_import(name),
    )
    with pytest.raises(TsysError, match="not available") as ei:
        sim.get_kernel()
    assert "TSYS_SIM=python" in str(ei.value)


@pytest.mark.parametrize(
    ("fn", "name"),
    [(sim.simulate, "stops_per_set"), (sim.simulate, "target_weight"), (sim.simulate_grid, "x")],
)
def test_unknown_keyword_is_refused(fn, name):
    o = np.full((3, 1), 10.0)
    with pytest.raises(TypeError, match=f"{fn.__name__}\\(\\) got an unexpected keyword .*{name}"):
        fn(o, o, o, o, o * 100, target_weights=np.full((3, 1), 0.5), **{name: None})
