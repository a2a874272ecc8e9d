"""Public name of the adversarial attacks (`cnnviz.attack.fgsm`, `pgd`): see cnnviz.inside.attack."""
from cnnviz.inside.attack import *  # noqa: F403
