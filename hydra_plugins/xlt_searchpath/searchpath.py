"""Lets `xlt-align` (primary configs in conf/align/) compose the model, dataset, paths and logger
groups of conf/, so both entry points share one definition of every encoder and dataset."""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class XltSharedConfigs(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        for element in search_path.get_path():
            if element.provider == "main" and element.path.rstrip("/").endswith("conf/align"):
                parent = element.path.rstrip("/").removesuffix("/align")
                search_path.append(provider="xlt-shared", path=parent)
                return
