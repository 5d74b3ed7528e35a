"""Mode connectivity: curves between two solutions and their trained bends (Garipov et al.).

:mod:`.curves` (the Bezier curve and the polygonal chain), :mod:`.bn` (BatchNorm statistics
re-estimated at a point), :mod:`.path` (planes that follow a curve), :mod:`.bend` (training
the bend to minimize the loss averaged over the curve), :mod:`.method` (the ``curve``
direction method: ``lossviz connect A B``).
"""
