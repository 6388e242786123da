"""Layer 5, evaluation: metrics of a learned reward against the truth, and the learned game."""
