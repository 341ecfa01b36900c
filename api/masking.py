"""Masking of identifier values for callers without the ``identifiers:read`` scope.

A masked value keeps just enough to tell values apart in a review (the e-mail domain,
the network part of an address, the last digits of a card or phone) and hides the rest.
The rule is the linker's (:func:`linker.masking.mask_value`); the API masks template
family ids too.
"""

from __future__ import annotations

from linker.masking import MASK, mask_value

#: the API's masking: every kind, template family ids included
mask_identifier = mask_value

__all__ = ["MASK", "mask_identifier"]
