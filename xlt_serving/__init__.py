"""Inference for trained xlt models, without xlt: the code an MLflow-logged model carries.

It imports torch, transformers, safetensors, numpy and pandas (and MLflow in the pyfunc
wrapper), never xlt, Lightning or Hydra. xlt's own tasks use the same functions, so a logged
model reads text exactly as the run evaluated it.
"""
