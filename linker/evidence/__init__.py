"""Evidence: from account-identifier memberships to a weighted account-account projection.

Each shared identifier contributes an evidence probability to the pair of accounts that
share it: kind weight x IP category factor x specificity (how many accounts share it)
x time factor; a pair's weight combines its identifiers as a noisy-OR, so independent
kinds reinforce each other while one weak link stays below the edge threshold
(``identifiers``: the identifier table; ``pairs``: capped pair expansion and time
evidence; ``projection``: corroboration and edges). See docs/linkage.md."""
