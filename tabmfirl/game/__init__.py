"""Layer 1, the game: :class:`~tabmfirl.MFGSpec`, the validated problem specification."""
