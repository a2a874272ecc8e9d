"""Public name of Grad-CAM (`cnnviz.cam.grad_cam`): see cnnviz.inside.cam."""
from cnnviz.inside.cam import *  # noqa: F403
