"""FOCUS cost exports: the clouds' billed model spend (columns, services, loading)."""
