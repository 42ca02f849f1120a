"""One module per layer family, each registering its lowerings; importing this package
imports them all (so the registry is complete whichever module is imported first)."""

import importlib
import pkgutil

for _m in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_m}")
