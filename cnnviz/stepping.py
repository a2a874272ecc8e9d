"""Public name of the stepped convolution and pooling (`cnnviz.stepping.convolve2d`): see cnnviz.lessons.stepping."""
from cnnviz.lessons.backward import *  # noqa: F403
from cnnviz.lessons.stepping import *  # noqa: F403
