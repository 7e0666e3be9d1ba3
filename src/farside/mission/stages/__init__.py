"""Pipeline stages of ``farside run`` (one module per stage)."""
