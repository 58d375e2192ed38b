"""Test stand-in for sd-scripts' library/train_util.py (see tests/fakes/README.md).

Only its presence matters: Gate 3 recognises an sd-scripts checkout by train_network.py together
with library/train_util.py. The stand-in scripts do their work in tests/fakes/faketrainer/.
"""
