"""The experiments of ``imagelosses experiments``: one module per claim of the literature, a registry, the
runner and the report writer. Nothing below imports from here; the CLI imports it lazily."""
