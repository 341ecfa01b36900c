"""World families for measuring the linker on worlds it was not built on.

Family (b), :mod:`benchmarks.families.retext`: the generator's worlds with every prompt
re-texted from the real corpora in ``../shared/corpora`` (read at run time); measured by
:mod:`benchmarks.families.family_b`.
"""
