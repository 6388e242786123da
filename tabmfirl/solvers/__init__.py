"""Layer 3, the solvers: the game evaluated at a flow, mean field and soft Bellman passes, exploitability and equilibria."""
