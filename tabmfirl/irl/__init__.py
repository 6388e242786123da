"""Layer 4, the IRL methods: demonstrations, the networks and reward heads with hand-written gradients, the fit driver and each method's step, checkpoints."""
