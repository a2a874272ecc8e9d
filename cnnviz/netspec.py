"""Public name of network descriptions (`parse`, `build`): see cnnviz.nets.netspec and cnnviz.nets.builder."""
from cnnviz.nets.builder import build  # noqa: F401
from cnnviz.nets.netspec import *  # noqa: F403
