"""Consultations (D9–D18, D25, D29–D30): research on an approved topic, the meeting with its
invitations, RSVPs, check-in and minutes, and the opinion list with its routing."""
