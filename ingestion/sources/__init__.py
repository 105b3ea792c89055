"""Sources: one module per input costline loads (see `base.py` and `registry.py`)."""
