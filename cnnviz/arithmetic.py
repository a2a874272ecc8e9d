"""Public name of conv arithmetic (`conv_output_size`, `layer_table`): cnnviz.lessons.arithmetic, cnnviz.nets.tables."""
from cnnviz.lessons.arithmetic import *  # noqa: F403
from cnnviz.nets.tables import LayerTable, layer_table, spec_table  # noqa: F401
