"""Commands this modality adds to `mobeval` (registered through its catalog's COMMANDS)."""
