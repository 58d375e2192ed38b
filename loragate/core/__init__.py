"""The plan model, findings, next steps, errors and vocabulary: a leaf that imports nothing else from loragate."""
