"""Record checks: pass 2 of the file loaders, one module per record type."""
