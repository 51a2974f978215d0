"""An example mobeval plugin: the `callable` runner (see catalog.py for how it registers)."""
