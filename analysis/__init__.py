"""Statistical analysis and report for a seed-divergence results folder."""
