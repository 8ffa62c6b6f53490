"""Import lava-dl's SLAYER without its object-detection subpackage, until someone uses that subpackage.

`lava.lib.dl.slayer/__init__.py` imports `object_detection`, which imports torchvision, which imports
`torch._dynamo`: seconds on every start (18 s measured on a GPU box with torch 2.11), for code tmkt never
calls. `defer_slayer_detection()` registers an import finder that, when SLAYER imports that subpackage, gives
it a stand-in module instead; the first attribute anyone reads from the stand-in imports the real subpackage
and hands it over, so nothing is lost. Nothing of lava is imported until SLAYER itself is. Our own code
because neither lava-dl nor importlib offers a lazy submodule that survives a package's `from . import`.
The tmkt_train and tmkt_deploy packages call it on import.

`defer_slayer_helpers()` does the same, for the length of SLAYER's own import, for two modules SLAYER imports
at load time but uses only later or never: `torch.utils.cpp_extension` (it builds SLAYER's CUDA extensions on
first use; its stand-in hands out a `load` that imports the real module when called) and `matplotlib.pyplot`
(SLAYER's training-statistics plots). Together about a second of every start that imports SLAYER (0.84 s and
0.5 s here, measured with `-X importtime`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SLAYER = "lava.lib.dl.slayer"
DEFERRED = f"{SLAYER}.object_detection"
# imported by SLAYER at load time, used later if at all; the names it takes from them with `from … import`
HELPERS = {"torch.utils.cpp_extension": ("load",), "matplotlib.pyplot": ()}
# dunder names a plain module may lack, asked by tools scanning sys.modules: answered without a load
_NOT_LOADING = frozenset({"__file__", "__cached__", "__loader__", "__builtins__", "__warningregistry__",
                          "__path__"})


class _Deferred(types.ModuleType):
    """Stands in for `DEFERRED`; any attribute read imports the real module and answers from it."""

    def __getattr__(self, attr: str) -> object:
        if attr in _NOT_LOADING:
            raise AttributeError(attr)
        return getattr(self.real(), attr)

    def real(self) -> types.ModuleType:
        """The real module, imported now if it is not yet, in place of this one everywhere but in names
        already bound to it."""
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        parent, _, child = self.__name__.rpartition(".")
        setattr(sys.modules[parent], child, real)
        return real


def _forward(module: _Deferred, name: str) -> Callable:
    """A function standing for `module.name` that imports the real module when called."""
    def call(*args: object, **kwargs: object) -> object:
        return getattr(module.real(), name)(*args, **kwargs)
    return call


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers the first import of each name in `pending` with a `_Deferred` module that `build` completes,
    and steps aside once all are answered (the real imports, later, go the usual way)."""

    def __init__(self, pending: set[str], build: Callable[[_Deferred], None]) -> None:
        self.pending, self.build = pending, build

    def find_spec(self, name: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name not in self.pending:
            return None
        self.pending.discard(name)
        if not self.pending and self in sys.meta_path:
            sys.meta_path.remove(self)
        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _Deferred(spec.name, "imported on first use (tmkt_common.slayer_import)")
        self.build(module)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def _with_forwards(module: _Deferred) -> None:
    """A helper's stand-in: the names SLAYER takes from it with `from … import` (`HELPERS`)."""
    for name in HELPERS[module.__name__]:
        setattr(module, name, _forward(module, name))


def _with_real_folder(module: _Deferred) -> None:
    """The detection stand-in: the real folder (SLAYER, its parent, is being imported), which import
    machinery reads and from which submodules imported by name still load."""
    module.__path__ = [os.path.join(path, "object_detection") for path in sys.modules[SLAYER].__path__]


@contextmanager
def defer_slayer_helpers() -> Iterator[None]:
    """For the duration (SLAYER's import): `HELPERS` not yet imported are given stand-ins (see module)."""
    finder = _Finder({name for name in HELPERS if name not in sys.modules}, _with_forwards)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)


def defer_slayer_detection() -> None:
    """Register the finder, unless SLAYER (or the subpackage) is already imported or it is registered."""
    if SLAYER in sys.modules or DEFERRED in sys.modules or any(
            isinstance(f, _Finder) and DEFERRED in f.pending for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder({DEFERRED}, _with_real_folder))
