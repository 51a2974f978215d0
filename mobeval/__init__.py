"""mobeval: how good is this model, on this runtime, on this device, and what does it cost."""

__version__ = "0.1.0"
