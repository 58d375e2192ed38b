"""loragate: refuses to spend GPU hours on a LoRA run until four gates pass."""

__version__ = "0.1.0"
