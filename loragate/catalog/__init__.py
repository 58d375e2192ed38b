"""Facts as data: model families, presets, optimizers. Loaded from loragate/data/*.toml."""
