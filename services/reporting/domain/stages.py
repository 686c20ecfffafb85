"""Case stages as reporting counts them: which are open, which are confirmed dropouts."""

SUSPECTED_STAGE = "suspected"
OPEN_SUSPECTED_STATUSES = (SUSPECTED_STAGE,)
CONFIRMED_STATUSES = ("confirmed", "legal")
OPEN_STATUSES = ("suspected", "confirmed", "legal", "returned")
