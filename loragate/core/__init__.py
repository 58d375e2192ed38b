"""The leaf every stage stands on: the plan, findings, next steps, errors and the shared words.

Nothing in this package imports from the rest of loragate (tests/test_core_leaf.py holds it to
that), so a stage may use these models without depending on another stage. mypy checks it
strictly (pyproject.toml).
"""
