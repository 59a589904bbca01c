"""Topics: suggestions, votes, comments and the D8 approval chain."""
