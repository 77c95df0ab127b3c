"""Tell the organisers about something only they can fix, such as a vanished schedules folder.

One message per organiser per incident: the reference names the incident (where and when it
began), never the state, so a folder that breaks, recovers and breaks again is told twice,
and a process looking again at the same incident tells nobody a second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.domain.deliveries import ORGANISER_ALERT, message_payload
from bot.domain.messages import Outgoing
from bot.domain.ports import Clock, UnitOfWorkFactory
from bot.texts import Catalogues, Texts

log = logging.getLogger(__name__)

SHOWN_PROBLEMS = 3
"""A message, not a report: the first few problems; `campaign-bot check` lists them all."""

CHANNEL_NAMES = {"line": "LINE", "telegram": "Telegram"}


class OrganiserAlerts:
    def __init__(
        self, units_of_work: UnitOfWorkFactory, catalogues: Catalogues, clock: Clock
    ) -> None:
        self._units_of_work = units_of_work
        self._catalogues = catalogues
        self._clock = clock

    def folder_broken(self, incident: str, folder: str, problems: Sequence[object]) -> int:
        """Queue the news that `folder` could not be read; returns how many were queued."""

        def text(texts: Texts) -> str:
            shown = [f"- {problem}" for problem in problems[:SHOWN_PROBLEMS]]
            if len(problems) > SHOWN_PROBLEMS:
                shown.append(texts("alert.more_problems", count=len(problems) - SHOWN_PROBLEMS))
            return texts("alert.folder_broken", folder=folder, problems="\n".join(shown))

        return self._tell(incident, text)

    def quota_exhausted(self, channel: str, month: str, resumes: datetime) -> int:
        """Queue the news that `channel`'s messages for `month` (`YYYY-MM`) are used up and
        that its outbox waits until `resumes` (in the campaign's timezone); returns how many
        were queued. Told once a month, whichever process or restart finds it again."""
        name = CHANNEL_NAMES.get(channel, channel)
        return self._tell(
            f"quota-exhausted:{channel}:{month}",
            lambda texts: texts(
                "alert.quota_exhausted",
                channel=name,
                resume=texts(
                    "date_format",
                    month=resumes.month,
                    day=resumes.day,
                    weekday=texts.words("weekdays")[resumes.weekday()],
                ),
            ),
        )

    def _tell(self, incident: str, text: Callable[[Texts], str]) -> int:
        now = self._clock.now()
        queued = 0
        with self._units_of_work() as uow:
            for organiser in uow.members.organisers():
                queued += uow.outbox.enqueue(
                    ORGANISER_ALERT,
                    f"alert:{incident}",
                    organiser,
                    message_payload(Outgoing(text(self._catalogues[organiser.language]))),
                    now,
                )
            uow.commit()
        log.info("organisers told about %s (%d message(s))", incident, queued)
        return queued
