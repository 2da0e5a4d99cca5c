"""The floor every room of the package may use: one validation vocabulary (:mod:`.checks`), one reduction
helper (:mod:`.reduction`), one precision rule (:mod:`.dtypes`) and the module shell (:mod:`.module`).
Nothing here imports from any other part of ``imagelosses``."""
