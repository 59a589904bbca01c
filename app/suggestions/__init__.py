"""Suggestions (D6, D7): proposals, votes, comments, followers, the public trail."""
