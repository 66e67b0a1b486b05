"""The core of Lineside: configuration, domain, store, audit trail, services, runtime and the CLI.

`edge` owns the truth. It may import the leaf libraries `drivers` and `inspection`; it never imports `ui`
or `sync`, except `edge.cli`, the composition root, which wires them together.
"""
