"""Hydra's grid sweep plus arms: extra configurations crossed with the grid's other axes."""
