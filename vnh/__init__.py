"""The `vnh` command line and tooling: the composition root, demo, bench, broker config."""
