"""The evaluator and what it is made of: batches, many points per pass, BN folding."""

import warnings

# vmap over ops without a batching rule (attention, a transformer layer) warns of slowness on
# every call; the multi-point probe measures the speed and decides, so the warning says nothing
warnings.filterwarnings("ignore", message="There is a performance drop because we have not "
                        "yet implemented the batching rule")
