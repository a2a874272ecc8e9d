"""Public name of layer outputs (`cnnviz.features.extract`): see cnnviz.inside.features."""
from cnnviz.inside.features import *  # noqa: F403
