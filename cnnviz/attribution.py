"""Public name of the attribution methods (`cnnviz.attribution.integrated_gradients`): see cnnviz.inside.attribution."""
from cnnviz.inside.attribution import *  # noqa: F403
