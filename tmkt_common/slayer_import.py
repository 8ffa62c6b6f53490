"""Import lava-dl's SLAYER without its object-detection subpackage, until someone uses that subpackage.

`lava.lib.dl.slayer/__init__.py` imports `object_detection`, which imports torchvision, which imports
`torch._dynamo`: seconds on every start (18 s measured on a GPU box with torch 2.11), for code tmkt never
calls. `defer_slayer_detection()` registers an import finder that, when SLAYER imports that subpackage, gives
it a stand-in module instead; the first attribute anyone reads from the stand-in imports the real subpackage
and hands it over, so nothing is lost. Nothing of lava is imported until SLAYER itself is. Our own code
because neither lava-dl nor importlib offers a lazy submodule that survives a package's `from . import`.
The tmkt_train and tmkt_deploy packages call it on import.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types

SLAYER = "lava.lib.dl.slayer"
DEFERRED = f"{SLAYER}.object_detection"
# dunder names a plain module may lack, asked by tools scanning sys.modules: answered without a load
_NOT_LOADING = frozenset({"__file__", "__cached__", "__loader__", "__builtins__", "__warningregistry__"})


class _Deferred(types.ModuleType):
    """Stands in for `DEFERRED`; any attribute read imports the real module and answers from it."""

    def __getattr__(self, attr: str) -> object:
        if attr in _NOT_LOADING:
            raise AttributeError(attr)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        parent, _, child = self.__name__.rpartition(".")
        setattr(sys.modules[parent], child, real)
        return getattr(real, attr)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers the first import of `DEFERRED` with a `_Deferred` module, then steps aside."""

    def find_spec(self, name: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name != DEFERRED:
            return None
        sys.meta_path.remove(self)  # the real import, later, goes the usual way
        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _Deferred(spec.name, "lava-dl's object detection, imported on first use")
        # the real folder (SLAYER, its parent, is being imported): import machinery reads it, and submodules
        # imported by name still load from there
        module.__path__ = [os.path.join(path, "object_detection") for path in sys.modules[SLAYER].__path__]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def defer_slayer_detection() -> None:
    """Register the finder, unless SLAYER (or the subpackage) is already imported or it is registered."""
    if SLAYER in sys.modules or DEFERRED in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
