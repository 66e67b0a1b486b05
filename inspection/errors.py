"""The root of the inspection science error tree, so that callers can catch every one of ours at once.

Owns: ``InspectionError`` only. Must not: hold any other code; each module defines its own branch beside the
code that raises it.

    InspectionError
     ├── SamplingError      (sampling.py)   └── DiscontinuedError
     ├── ChartError         (spc.py)        bad baseline or points for a control chart, bad subgroup size
     │    └── RuleError     (rules.py)      an unknown or badly configured run rule
     └── CapabilityError    (capability.py) bad specification limits or data for capability indices
"""


class InspectionError(Exception):
    """Something given to the inspection science was unusable; the message names the thing at fault."""
