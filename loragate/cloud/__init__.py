"""Renting a GPU: offers with their cost, a spend gate, instances that never stay billing.

One module per concern: `prices` (the dated table and card speeds), `offers` (live offers filtered
to the plan, with time and cost), `spend` (the spend gate), `up` / `down` / `status`, `ssh` /
`sync` / `remote` (work on the pod), `watchdog` (ends the pod), `modal_app` (Modal). Providers sit
behind one small interface in `providers/`, spoken over plain HTTPS so no SDK is installed.
"""
