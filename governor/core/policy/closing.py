"""Working hours as the gate applies them: the time left before closing, or `outside-hours`."""

from __future__ import annotations

from datetime import datetime, timedelta

from governor.core.errors import Refusal
from governor.core.model import ProjectPolicy, utc_text
from governor.core.policy import schedule as hours


def until_closing(policy: ProjectPolicy, now: datetime) -> timedelta | None:
    """Time left in the current opening (None: the project has no working hours); refuses
    `outside-hours` with the next opening when closed or closing within the minute."""
    if policy.schedule is None:
        return None
    opening = hours.opening(policy.schedule, now)
    left = opening.until_closing(now)
    if left is not None and left >= timedelta(minutes=1):
        return left
    opens_at = opening.opens_at
    zone_name = policy.schedule.time_zone
    when = (
        "no opening is scheduled" if opens_at is None else f"it opens at {hours.local_text(policy.schedule, opens_at)}"
    )
    raise Refusal(
        "outside-hours",
        f"the project is outside its working hours ({zone_name}); {when}",
        {
            "opensAt": utc_text(opens_at),
            "opensAtLocal": hours.local_text(policy.schedule, opens_at),
            "timeZone": zone_name,
        },
    )
