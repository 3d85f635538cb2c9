"""Hydra sweeper on Optuna >= 3 (the official hydra-optuna-sweeper is stuck on Optuna 2.10)."""
