"""Public name of what a channel learned (`featurevis.top_images`, `.visualize`): see cnnviz.inside.featurevis."""
from cnnviz.inside.featurevis import *  # noqa: F403
