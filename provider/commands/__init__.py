"""Command-line commands, one module per area, registered by ``provider.cli``."""
