"""Config schemas, resolvers and checks. Importing this registers them with Hydra."""

import os

from omegaconf import OmegaConf

from xlt.config.schema import register_configs

if not OmegaConf.has_resolver("xlt.cwd"):
    OmegaConf.register_new_resolver("xlt.cwd", lambda: os.getcwd())
register_configs()
