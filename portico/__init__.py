"""The composition root: wires the kernel and the domains into processes and the CLI."""
